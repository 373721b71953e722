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
