"""Pendulum-v1 from gymnax and the agent's view of it. The only module that imports gymnax.

Observability is data, not structure: an observation *mask* (a pytree leaf per agent)
zeroes θ̇ for partially observable (PO) agents, so FO and PO agents share one input shape
and run as one vmapped axis of one compiled program.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments.classic_control.pendulum import EnvParams, EnvState, Pendulum

from rnnctl.config import ENCODINGS, OBS_SETTINGS, ConfigError

ENV = Pendulum()
ENV_PARAMS = ENV.default_params
#: Pendulum never terminates; it is truncated after this many steps.
EPISODE_LEN = int(ENV_PARAMS.max_steps_in_episode)
DT = float(ENV_PARAMS.dt)
MAX_SPEED = float(ENV_PARAMS.max_speed)
MAX_TORQUE = float(ENV_PARAMS.max_torque)

__all__ = ["ENV", "ENV_PARAMS", "EPISODE_LEN", "DT", "MAX_SPEED", "MAX_TORQUE", "EnvState",
           "EnvParams", "StepResult", "wrap_angle", "input_dim", "obs_mask", "observe",
           "reset", "step", "state_from"]


def wrap_angle(theta: jax.Array) -> jax.Array:
    """Wrap an angle to [-π, π)."""
    return (theta + jnp.pi) % (2 * jnp.pi) - jnp.pi


def input_dim(encoding: str) -> int:
    """Size of the RNN input x for an encoding (FO and PO share it; PO zeroes θ̇)."""
    if encoding not in ENCODINGS:
        raise ConfigError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    return 3 if encoding == "cos_sin" else 2


def obs_mask(obs: str, encoding: str = "cos_sin") -> jax.Array:
    """Input mask of an observability setting: ones, with θ̇ zeroed for "po". Shape [I]."""
    if obs not in OBS_SETTINGS:
        raise ConfigError(f"obs must be one of {OBS_SETTINGS}, got {obs!r}")
    mask = jnp.ones((input_dim(encoding),), jnp.float32)
    return mask.at[-1].set(0.0) if obs == "po" else mask


def observe(raw_obs: jax.Array, mask: jax.Array, encoding: str = "cos_sin",
            theta_dot_scale: float = 1.0) -> jax.Array:
    """Agent input x from gymnax's observation (cos θ, sin θ, θ̇).

    Args:
      raw_obs: [..., 3] gymnax observation.
      mask: [I] from `obs_mask` (θ̇ entry 0 for PO).
      encoding: "cos_sin" → (cos θ, sin θ, s·θ̇); "angle" → (wrap θ, s·θ̇).
      theta_dot_scale: s, the input scale of θ̇.
    Returns:
      x: [..., I]; for PO the θ̇ entry is exactly 0 whatever θ̇ is.
    """
    cos, sin, thdot = raw_obs[..., 0], raw_obs[..., 1], raw_obs[..., 2] * theta_dot_scale
    if encoding == "cos_sin":
        x = jnp.stack([cos, sin, thdot], axis=-1)
    elif encoding == "angle":
        x = jnp.stack([jnp.arctan2(sin, cos), thdot], axis=-1)
    else:
        raise ConfigError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    # `where`, not multiplication: a PO input must not depend on θ̇ even if θ̇ is inf/nan.
    return jnp.where(mask > 0, x, 0.0)


@struct.dataclass
class StepResult:
    """One environment transition (gymnax 1.x six-value step, named)."""

    obs: jax.Array              # [3] next observation (after auto-reset when done)
    state: EnvState
    reward: jax.Array           # []
    terminated: jax.Array       # [] bool: never true for Pendulum
    truncated: jax.Array        # [] bool: time limit reached
    final_obs: jax.Array        # [3] observation before auto-reset (for bootstrapping)


def reset(key: jax.Array, params: EnvParams = ENV_PARAMS) -> tuple[jax.Array, EnvState]:
    """Random start: θ ~ U(-π, π), θ̇ ~ U(-1, 1). Returns (obs [3], state)."""
    return ENV.reset(key, params)


def step(key: jax.Array, state: EnvState, action: jax.Array,
         params: EnvParams = ENV_PARAMS) -> StepResult:
    """Step with torque `action` ([] or [1]), auto-resetting at the time limit."""
    obs, state, reward, terminated, truncated, info = ENV.step(key, state, action, params)
    return StepResult(obs=obs, state=state, reward=reward,
                      terminated=jnp.asarray(terminated, bool),
                      truncated=jnp.asarray(truncated, bool),
                      final_obs=info["final_observation"])


def state_from(theta: jax.Array, theta_dot: jax.Array) -> tuple[jax.Array, EnvState]:
    """An environment state at a chosen (θ, θ̇), time 0. Returns (obs [3], state)."""
    theta = jnp.asarray(theta, jnp.float32)
    theta_dot = jnp.asarray(theta_dot, jnp.float32)
    state = EnvState(theta=theta, theta_dot=theta_dot, last_u=jnp.zeros_like(theta), time=0)
    return ENV.get_obs(state), state
