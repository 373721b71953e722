"""Shared fixtures. The safe XLA flags are set first, before jax starts (as the command-line
tools do; subprocesses inherit them)."""
from rnnctl import apply_safe_xla_flags

apply_safe_xla_flags()

import os

import pytest

import rnnctl
from rnnctl import compile_cache
from rnnctl.config import TrainConfig


# Sweeps started by the tests train on one device unless a test asks for more (with
# --devices, or by unsetting this): the programs are then shared with the in-process
# runs they are compared with (and through the compile cache), and the two test workers
# do not each start two-device programs on a 2-core machine. The sweep's default, one
# device per core, is tested on its own (test_sweep_cli's smoke run).
os.environ.setdefault("RNNCTL_DEVICES", "1")


@pytest.fixture(scope="session", autouse=True)
def shared_compile_cache(tmp_path_factory):
    """One persistent compilation cache for the whole test session: both xdist workers and
    every subprocess they start (through `RNNCTL_COMPILE_CACHE`). It starts empty, so each
    program is still compiled once per session, as on a user's first run; tests that
    compile the same program again load it. Tests that need a real compilation, or check
    the cache itself, pass their own `--compile-cache`."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                    # shared by the workers of one session
    where = root / "jax-cache"
    os.environ[compile_cache.ENV_VAR] = str(where)
    compile_cache.enable(where, min_compile_s=0.0)
    yield where


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    """A configuration that compiles and trains in seconds but exercises every loop:
    two episodes' worth of truncations per rollout (rollout 400 > 200), several sequences,
    minibatches and epochs. The cos/sin encoding: the trainer tests read x as
    (cos θ, sin θ, s·θ̇) to rebuild the pendulum state an agent saw."""
    return TrainConfig(n_updates=3, rollout_len=400, seq_len=40, n_epochs=2,
                       n_minibatches=5, n_envs=2, hidden=16, head_hidden=16,
                       eval_episodes=2, encoding="cos_sin")


@pytest.fixture(scope="session")
def assert_same_run():
    """`assert_same_run(a, b)`: two run directories hold bitwise-identical checkpoints and
    metrics."""
    import numpy as np

    def check(a, b):
        ra, rb = rnnctl.load_run(a), rnnctl.load_run(b)
        fa, fb = ra._flat(), rb._flat()
        assert fa.keys() == fb.keys()
        for k in fa:
            np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)
        assert ra.metrics.keys() == rb.metrics.keys()
        for k in ra.metrics:
            np.testing.assert_array_equal(ra.metrics[k], rb.metrics[k], err_msg=k)
    return check
