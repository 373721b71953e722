"""Sharding the agent axis over devices: same results as one device, uneven counts padded."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, os
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=2")
    import rnnctl, jax, numpy as np
    from rnnctl.config import TrainConfig
    from rnnctl.experiment import make_agents, train_agents
    cfg = TrainConfig(n_updates=2, rollout_len=256, seq_len=32, n_minibatches=4,
                      n_epochs=2, eval_episodes=4)
    agents = make_agents([0, 1], ["fo", "po"])[:3]          # 3 agents on 2 devices: padded
    one = train_agents(cfg, agents, progress=False, devices=1)
    two = train_agents(cfg, agents, progress=False, devices=2)
    out = {"n_devices": len(jax.devices()), "shapes_equal": True, "param_diff": [], "metric_diff": {}}
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(two.params)):
        out["shapes_equal"] &= a.shape == b.shape
    for u in range(cfg.n_updates + 1):
        out["param_diff"].append(max(float(np.abs(a[:, u] - b[:, u]).max())
                                     for a, b in zip(jax.tree.leaves(one.params),
                                                     jax.tree.leaves(two.params))))
    for k in one.metrics:
        d = np.abs(one.metrics[k] - two.metrics[k])
        out["metric_diff"][k] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
    out["param_scale"] = max(float(np.abs(a).max()) for a in jax.tree.leaves(one.params))
    print(json.dumps(out))
""")


# 90 s of CI: CI keeps 1 vs 2 devices in test_multiprocess's CLI test, padding in the next
@pytest.mark.slow
def test_two_devices_match_one_device():
    res = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_devices"] == 2 and out["shapes_equal"]
    # initial weights are identical; after each update the two programs agree to float32
    # rounding (different per-device batch sizes change XLA's summation order, and RL
    # amplifies rounding a little per update): 1e-5 after one update, 1e-4 after two.
    assert out["param_diff"][0] == 0.0
    assert out["param_diff"][1] < 1e-5, out
    assert out["param_diff"][2] < 1e-4, out
    # returns are sums of 200 rewards of size ~10: agree to float32 relative tolerance
    assert out["metric_diff"]["eval_return"] < 0.5, out
    assert out["metric_diff"]["policy_loss"] < 1e-4, out


def test_hyperparameter_lists_are_one_program_on_four_devices(tmp_path, assert_same_run):
    # 3 lr × 2 ent_coef × 1 seed × PO = 6 agents in one compiled run on 4 forced host
    # devices: padded to 8, 2 per device. (pmap over forced host devices hung with jax
    # 0.10.2; the jit+sharding path must finish.) Run twice with a fresh compilation
    # cache: cold (every program compiled here, and logged), then warm (the exported
    # sharded programs loaded, nothing traced): the same numbers bitwise.
    def sweep(out):
        return subprocess.run(
            [sys.executable, "-m", "experiments.sweep", "--seeds", "1", "--obs", "po",
             "--updates", "2", "--steps-per-update", "256", "--lr", "3e-4,1e-3,3e-3",
             "--ent-coef", "0,0.01", "--devices", "4", "--no-analysis", "--quiet",
             "--compile-cache", str(tmp_path / "cache"), "--out", str(out)], cwd=ROOT,
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "JAX_LOG_COMPILES": "1"})

    res = sweep(tmp_path / "run")
    assert res.returncode == 0, res.stderr
    assert "× 6 hyperparameter sets" in res.stdout and "on 4 device(s)" in res.stdout
    import rnnctl
    run = rnnctl.load_run(tmp_path / "run")
    assert len(run.agents) == 6                    # the 2 padding copies are dropped
    assert {(a["hyper"]["lr"], a["hyper"]["ent_coef"]) for a in run.agents} == {
        (lr, ent) for lr in (3e-4, 1e-3, 3e-3) for ent in (0.0, 0.01)}
    # one compilation of the training chunk for all 6 agents
    compiled_runs = [l for l in res.stderr.splitlines()
                     if "Finished XLA compilation of jit(exported_run1)" in l]
    assert len(compiled_runs) == 1, res.stderr[-2000:]
    warm = sweep(tmp_path / "warm")
    assert warm.returncode == 0, warm.stderr
    # (`aot.compiled` traces the training programs as "flat" before exporting them)
    traced = lambda err: [l for l in err.splitlines()
                          if "Finished tracing" in l and " flat for " in l]
    assert traced(res.stderr) and not traced(warm.stderr), warm.stderr[-2000:]
    assert_same_run(tmp_path / "run", tmp_path / "warm")
    # each agent trained with its own learning rate: every 3e-3 agent moved its weights
    # clearly further than every 3e-4 agent (Adam's noisy small minibatches keep the
    # ratio well below 10)
    w = run.stacked_params()["rnn"]["W_h"]
    moved = {lr: [float(np.abs(w[i, -1] - w[i, 0]).mean())
                  for i, a in enumerate(run.agents) if a["hyper"]["lr"] == lr]
             for lr in (3e-4, 3e-3)}
    assert min(moved[3e-3]) > 1.3 * max(moved[3e-4]), moved


@pytest.mark.parametrize("agents,local,expected", [
    (10, 1, 1), (10, 2, 2), (10, 4, 4), (10, 8, 5), (10, 64, 10), (3, 2, 2), (1, 8, 1),
    (240, 2, 2)])
def test_the_default_device_count_is_the_fewest_for_the_fewest_agents_per_device(
        agents, local, expected):
    from rnnctl.distributed import auto_devices
    assert auto_devices(agents, local) == expected


def test_cpu_devices_are_not_asked_for_once_jax_has_started():
    import jax
    from rnnctl.distributed import request_cpu_devices, usable_cpus
    jax.devices()
    assert usable_cpus() >= 1
    assert request_cpu_devices(2) is False
