"""Nothing lost: chunked saving, SIGKILL + resume bitwise, Ctrl-C, diverging agents."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import rnnctl
from rnnctl.config import TrainConfig
from rnnctl.experiment import Interrupted, make_agents, train_to_dir
from rnnctl.runs import RunError, RunExists, state_from_arrays, state_to_arrays

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


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", *FLAGS, "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return out


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, reference, assert_same_run):
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
    assert_same_run(reference, out)
    assert not (out / "partial").exists()


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path, reference, assert_same_run):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_chunks(proc, out, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"python -m experiments.sweep --resume {out}" in err and "Traceback" not in err
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume", str(out),
                          "--quiet", "--no-analysis"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert_same_run(reference, out)


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
    (tmp_path / "run" / "config.json").write_text('{"status": "training"}')
    with pytest.raises(RunExists, match="already holds a run") as err:
        train_to_dir(TrainConfig(n_updates=1), make_agents([0]), tmp_path / "run")
    # the library says what and where, as data; the CLI words the advice
    assert err.value.path == tmp_path / "run" and err.value.status == "training"
    assert "python -m" not in str(err.value) and "--out" not in str(err.value)
    assert (tmp_path / "run" / "config.json").read_text() == '{"status": "training"}'


def test_interrupted_carries_data_and_a_neutral_message(tmp_path):
    e = Interrupted(tmp_path / "run", 4, 10)
    assert (e.path, e.updates_done, e.n_updates) == (tmp_path / "run", 4, 10)
    assert "4/10" in str(e) and "python -m" not in str(e) and "--resume" not in str(e)


# ---------------------------------------------------------------- the saved training state

@struct.dataclass
class _XY:
    x: jax.Array
    y: jax.Array
    key: jax.Array


@struct.dataclass
class _YX:                   # the same fields, two of the same shape swapped in order
    y: jax.Array
    x: jax.Array
    key: jax.Array


@struct.dataclass
class _XZ:                   # a field renamed
    x: jax.Array
    z: jax.Array
    key: jax.Array


def _saved_xy():
    state = _XY(x=jnp.ones((2, 3)), y=jnp.full((2, 3), 2.0),
                key=jax.random.split(jax.random.key(0), 2))
    return state, state_to_arrays(state)


def test_state_is_keyed_by_field_path():
    state, arrays = _saved_xy()
    assert {"state/x", "state/y", "state/key"} <= set(arrays)
    back = state_from_arrays(jax.eval_shape(lambda: state), arrays, "f.npz")
    np.testing.assert_array_equal(back.x, state.x)
    np.testing.assert_array_equal(back.y, state.y)
    np.testing.assert_array_equal(jax.random.key_data(back.key),
                                  jax.random.key_data(state.key))


def test_state_with_swapped_fields_loads_by_name_not_by_position():
    # keyed by leaf index, x and y (same shape) would have come back swapped, silently
    state, arrays = _saved_xy()
    template = _YX(y=jnp.zeros((2, 3)), x=jnp.zeros((2, 3)), key=state.key)
    back = state_from_arrays(jax.eval_shape(lambda: template), arrays, "f.npz")
    assert isinstance(back, _YX)
    np.testing.assert_array_equal(back.x, np.ones((2, 3)))
    np.testing.assert_array_equal(back.y, np.full((2, 3), 2.0))


def test_state_with_other_field_names_or_shapes_is_refused_by_name():
    state, arrays = _saved_xy()
    renamed = _XZ(x=state.x, z=state.y, key=state.key)
    with pytest.raises(RunError, match=r"f.npz: resume state has field\(s\) state/y"):
        state_from_arrays(jax.eval_shape(lambda: renamed), arrays, "f.npz")
    missing = {k: v for k, v in arrays.items() if k != "state/y"}
    with pytest.raises(RunError, match="missing field state/y"):
        state_from_arrays(jax.eval_shape(lambda: state), missing, "f.npz")
    wider = state.replace(y=jnp.zeros((2, 4)))
    with pytest.raises(RunError, match=r"field state/y is float32\[2, 3\], expected "
                                       r"float32\[2, 4\]"):
        state_from_arrays(jax.eval_shape(lambda: wider), arrays, "f.npz")
    as_int = state.replace(x=jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(RunError, match="field state/x is float32"):
        state_from_arrays(jax.eval_shape(lambda: as_int), arrays, "f.npz")
    by_index = {f"state/{i:04d}": v for i, v in enumerate(arrays.values())}
    with pytest.raises(RunError, match="keyed by leaf index"):
        state_from_arrays(jax.eval_shape(lambda: state), by_index, "f.npz")


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
