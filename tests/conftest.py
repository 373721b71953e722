"""Shared fixtures. `rnnctl` is imported first so its safe XLA flags apply before jax starts."""
import rnnctl  # noqa: F401

import pytest

from rnnctl.config import TrainConfig


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
