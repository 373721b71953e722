"""Nothing lost: chunked saving, SIGKILL + resume bitwise, Ctrl-C, diverging agents."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import rnnctl
from rnnctl.config import TrainConfig
from rnnctl.experiment import Interrupted, make_agents, train_to_dir
from rnnctl.runs import RunError

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--seeds", "1", "--obs", "po", "--updates", "60", "--steps-per-update", "256",
         "--chunk", "2", "--no-analysis", "--quiet"]


def _start(out):
    return subprocess.Popen([sys.executable, "-m", "experiments.sweep", *FLAGS, "--out",
                             str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_chunks(proc, out, n, timeout=240):
    t0 = time.time()
    while time.time() - t0 < timeout:
        chunks = list((out / "partial").glob("chunk_*.npz"))
        if len(chunks) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before {n} chunks: {proc.stderr.read()}")
        time.sleep(0.005)
    pytest.fail("sweep made no progress")


def _assert_same_run(a, b):
    ra, rb = rnnctl.load_run(a), rnnctl.load_run(b)
    fa, fb = ra._flat(), rb._flat()
    assert fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)
    for k in ra.metrics:
        np.testing.assert_array_equal(ra.metrics[k], rb.metrics[k], err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", *FLAGS, "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return out


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, reference):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_chunks(proc, out, 3)
    proc.kill()                                  # SIGKILL: no chance to clean up
    proc.wait()
    with pytest.raises(RunError, match="incomplete"):
        rnnctl.load_run(out)
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume", str(out),
                          "--quiet", "--no-analysis"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "Resuming" in res.stdout
    _assert_same_run(reference, out)
    assert not (out / "partial").exists()


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path, reference):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_chunks(proc, out, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"--resume {out}" in err and "Traceback" not in err
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume", str(out),
                          "--quiet", "--no-analysis"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    _assert_same_run(reference, out)


def test_resume_refuses_a_different_config(tmp_path):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_chunks(proc, out, 2)
    proc.kill()
    proc.wait()
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume", str(out),
                          "--updates", "61"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    line, = res.stderr.strip().splitlines()
    assert "different config" in line and "n_updates: 60 → 61" in line
    cfg = rnnctl.runs.read_run_meta(out, allow_incomplete=True)["config"]
    with pytest.raises(RunError, match="different agents"):
        train_to_dir(TrainConfig.from_dict(cfg), make_agents([0, 1], ["po"]), out,
                     resume=True, progress=False)


def test_existing_run_is_not_overwritten(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(RunError, match="already holds a run"):
        train_to_dir(TrainConfig(n_updates=1), make_agents([0]), tmp_path / "run")


def test_diverging_agent_is_named_and_isolated(tmp_path, tiny_config):
    agents = make_agents([0], ["fo", "po"], {"reward_scale": [0.1, float("inf")]})
    path, result = train_to_dir(tiny_config, agents, tmp_path / "run", progress=False,
                                chunk=2)
    bad = {(d["obs"], d["hyper"]["reward_scale"]) for d in result.diverged}
    assert bad == {("fo", float("inf")), ("po", float("inf"))}
    assert all(d["update"] == 1 for d in result.diverged)
    run = rnnctl.load_run(path)
    assert run.info["diverged"] == result.diverged
    # the healthy agents trained normally; the diverged ones stayed finite, frozen
    for i, a in enumerate(agents):
        w = run.stacked_params()["rnn"]["W_h"][i]
        assert np.isfinite(w).all()
        if a["hyper"]["reward_scale"] == 0.1:
            assert not np.array_equal(w[0], w[-1])
            assert np.isfinite(run.metrics["policy_loss"][i, 1:]).all()
        else:
            np.testing.assert_array_equal(w[0], w[-1])
            assert (run.metrics["diverged"][i, 1:] == 1).all()
