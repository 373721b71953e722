"""Performance machinery that must not change results: the persistent compilation cache,
the one-update-per-call driver, and the scaling benchmark at a tiny size."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnctl import compile_cache, runs

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--seeds", "1", "--updates", "2", "--steps-per-update", "256", "--no-analysis",
        "--quiet"]


def _sweep(out, cache):
    """A tiny sweep into `out` with the compilation cache in `cache` (or "off")."""
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", *TINY, "--out",
                          str(out), "--compile-cache", str(cache)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def test_compile_cache_cold_and_warm_give_identical_parameters(tmp_path, assert_same_run):
    cache = tmp_path / "cache"
    _sweep(tmp_path / "cold", cache)
    # the training program was stored, compiled (it holds no host callback) and exported
    # (`rnnctl.aot`), so the warm start below loads it without tracing
    assert sum(p.name.startswith("jit_") for p in cache.iterdir()) >= 3, \
        sorted(p.name for p in cache.iterdir())
    exported = sorted(p.name.split("-")[0] for p in (cache / "exported").iterdir())
    assert exported == ["init", "run1", "start"], exported
    _sweep(tmp_path / "warm", cache)
    assert len(list((cache / "exported").iterdir())) == 3      # found, not made again
    # (cache off compiles afresh exactly as the cold run did; `-m slow` also checks it)
    assert_same_run(tmp_path / "cold", tmp_path / "warm")


def test_cache_directory_rules(tmp_path, monkeypatch):
    monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.resolve() == tmp_path / "xdg" / "rnnctl" / "jax"
    monkeypatch.setenv(compile_cache.ENV_VAR, str(tmp_path / "env"))
    assert compile_cache.resolve() == tmp_path / "env"
    assert compile_cache.resolve(tmp_path / "flag") == tmp_path / "flag"
    for off in ("off", "OFF", False):
        assert compile_cache.resolve(off) is None
    monkeypatch.setenv(compile_cache.ENV_VAR, "off")
    assert compile_cache.resolve() is None
    assert compile_cache.enable() is None


DEFAULT_CHECK = """
import sys, jax, rnnctl
from rnnctl import compile_cache
if sys.argv[1] == "cli-off":
    compile_cache.enable("off")          # what `--compile-cache off` does
elif sys.argv[1] == "jax-dir":
    jax.config.update("jax_compilation_cache_dir", sys.argv[2] + "/own")
print(compile_cache.enable_default(), jax.config.jax_compilation_cache_dir)
"""


@pytest.mark.parametrize("case,expected", [("none", "{d}/env {d}/env"),
                                           ("cli-off", "None None"),
                                           ("jax-dir", "None {d}/own")])
def test_the_library_turns_the_cache_on_unless_chosen_otherwise(tmp_path, case, expected):
    # fresh processes: what `train_agents` / `train_to_dir` do on their first call
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env[compile_cache.ENV_VAR] = str(tmp_path / "env")
    res = subprocess.run([sys.executable, "-c", DEFAULT_CHECK, case, str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == expected.format(d=tmp_path).split()


def test_scaling_benchmark_runs_at_a_tiny_size(tmp_path):
    # the shapes of the other tests' tiny sweep (2 agents, 3 updates of 256 steps), so the
    # session's compilation cache usually holds its program
    out, png = tmp_path / "scaling.json", tmp_path / "scaling.png"
    res = subprocess.run([sys.executable, "-m", "experiments.bench_scaling", "--agents", "2",
                          "--updates", "3", "--steps-per-update", "256", "--out", str(out),
                          "--plot", str(png)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert [r["agents"] for r in data["rows"]] == [2]
    from rnnctl.provenance import MACHINE_KEYS, REQUIRED_KEYS
    assert set(REQUIRED_KEYS) <= set(data["provenance"])
    assert set(MACHINE_KEYS) <= set(data["provenance"]["machine"])
    for r in data["rows"]:
        assert r["env_steps"] == r["agents"] * 3 * 256 and r["env_steps_per_s"] > 0
        assert r["peak_rss_mb"] > 0
    assert png.stat().st_size > 0
    assert "agents" in res.stdout and "steps/s" in res.stdout


@pytest.mark.slow
def test_compile_cache_off_gives_the_same_parameters(tmp_path, assert_same_run):
    _sweep(tmp_path / "cold", tmp_path / "cache")
    _sweep(tmp_path / "off", "off")
    assert_same_run(tmp_path / "cold", tmp_path / "off")


@pytest.mark.slow   # three compilations; bench_train --unroll also reports the difference
def test_scan_unroll_matches_the_plain_scan():
    from rnnctl.config import TrainConfig
    from rnnctl.experiment import make_agents, train_agents
    agents = make_agents([0], ["fo", "po"])
    base = TrainConfig(n_updates=1, rollout_len=64, seq_len=16, n_minibatches=2,
                       n_epochs=2, eval_episodes=2)
    plain = train_agents(base, agents, progress=False)
    for unroll in (3,):            # 3 divides none of the scan lengths (64, 16, 200)
        other = train_agents(base.replace(scan_unroll=unroll), agents, progress=False)
        a, b = runs.flatten_params(plain.params), runs.flatten_params(other.params)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=f"{unroll} {k}")
        for k in ("eval_return", "policy_loss", "value_loss"):
            np.testing.assert_allclose(plain.metrics[k], other.metrics[k], rtol=1e-4,
                                       atol=1e-5, err_msg=f"{unroll} {k}")
