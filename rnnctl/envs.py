"""gymnax tasks and the agent's view of them. The only module that imports gymnax.

Pendulum-v1, the paper's task, keeps its module-level functions (`reset`, `step`,
`observe`, `obs_mask`, `state_from`, constants). Any other gymnax environment with a Box or
Discrete action space is a `Task` (`get_task`), which wraps the same calls behind one
interface; Pendulum is a `Task` too, through exactly these functions. A task's parameters
(gymnax `EnvParams` overrides: Pendulum's physics g, m, l, dt, max_speed, max_torque,
MemoryChain's memory_length, ...) are declared and checked in `rnnctl.task_params`.

Observability is data, not structure: an observation *mask* (a pytree leaf per agent)
zeroes parts of the input (θ̇ for partially observable (PO) Pendulum agents), so agents of
every observation variant share one input shape and run as one vmapped axis of one
compiled program. A task declares its variants by name (`Task.variants`).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

import gymnax
from gymnax.environments import spaces
from gymnax.environments.classic_control.pendulum import EnvParams, EnvState, Pendulum

from rnnctl import task_params
from rnnctl.config import ENCODINGS, ConfigError

ENV = Pendulum()
ENV_PARAMS = ENV.default_params
#: Pendulum never terminates; it is truncated after this many steps.
EPISODE_LEN = int(ENV_PARAMS.max_steps_in_episode)
DT = float(ENV_PARAMS.dt)
MAX_SPEED = float(ENV_PARAMS.max_speed)
MAX_TORQUE = float(ENV_PARAMS.max_torque)

__all__ = ["ENV", "ENV_PARAMS", "EPISODE_LEN", "DT", "MAX_SPEED", "MAX_TORQUE", "EnvState",
           "EnvParams", "StepResult", "wrap_angle", "input_dim", "obs_mask", "observe",
           "reset", "step", "state_from", "Task", "get_task", "TASK_SPECS", "PENDULUM",
           "task_names"]

PENDULUM = "Pendulum-v1"
#: Pendulum's observation variants: fo = (θ, θ̇), po = θ only, pv = θ̇ only (the POMDP
#: literature's "Pendulum-V").
PENDULUM_VARIANTS = ("fo", "po", "pv")


def wrap_angle(theta: jax.Array) -> jax.Array:
    """Wrap an angle to [-π, π)."""
    return (theta + jnp.pi) % (2 * jnp.pi) - jnp.pi


def input_dim(encoding: str) -> int:
    """Size of the RNN input x for an encoding (FO and PO share it; PO zeroes θ̇)."""
    if encoding not in ENCODINGS:
        raise ConfigError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    return 3 if encoding == "cos_sin" else 2


def obs_mask(obs: str, encoding: str = "cos_sin") -> jax.Array:
    """Input mask of a Pendulum observation variant: ones, with θ̇ zeroed for "po" and θ
    zeroed for "pv". Shape [I]."""
    if obs not in PENDULUM_VARIANTS:
        raise ConfigError(f"obs must be one of {PENDULUM_VARIANTS}, got {obs!r}")
    mask = jnp.ones((input_dim(encoding),), jnp.float32)
    if obs == "po":
        return mask.at[-1].set(0.0)
    if obs == "pv":
        return mask.at[:-1].set(0.0)
    return mask


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


# ----------------------------------------------------------------------------- any task

@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A gymnax environment as the trainer and the analysis see it (`get_task`).

    Attributes:
      name: gymnax id ("CartPole-v1").
      env, env_params: the gymnax environment and its parameters.
      action: ("box", D) for a Gaussian policy over D dimensions, ("discrete", N) for a
        categorical one.
      action_low, action_high: the Box's bounds (None for Discrete).
      input_dim: I, the size of the agent input x.
      variants: observation variant name → input mask [I] (tuple of 0/1).
      state_vars: names of the state variables the figures colour and bin by (may be ()).
      horizon: steps of a deterministic evaluation episode (episodes that end sooner are
        cut at their end).
      can_terminate: whether episodes can end before the time limit.
      dt: seconds per step, or None (timescales then stay in steps).
    """

    name: str
    env: Any
    env_params: Any
    action: tuple[str, int]
    action_low: float | None
    action_high: float | None
    input_dim: int
    variants: dict
    state_vars: tuple[str, ...]
    horizon: int
    can_terminate: bool
    dt: float | None
    _observe: Callable = dataclasses.field(repr=False, default=None)
    _state_values: Callable = dataclasses.field(repr=False, default=None)

    @property
    def is_pendulum(self) -> bool:
        return self.name == PENDULUM

    def mask(self, variant: str) -> jax.Array:
        """The input mask [I] of an observation variant."""
        if variant not in self.variants:
            raise ConfigError(f"{self.name} has observation variants "
                              f"{', '.join(self.variants)}; got {variant!r}")
        return jnp.asarray(self.variants[variant], jnp.float32)

    def reset(self, key: jax.Array):
        """(raw observation, env state) of a random start."""
        if self.is_pendulum:
            return reset(key, self.env_params)
        obs, state = self.env.reset(key, self.env_params)
        return jnp.asarray(obs, jnp.float32).reshape(-1), state

    def step(self, key: jax.Array, state, action: jax.Array) -> "StepResult":
        """One transition with auto-reset (`StepResult`)."""
        if self.is_pendulum:
            return step(key, state, action, self.env_params)
        obs, state, reward, terminated, truncated, info = self.env.step(
            key, state, action, self.env_params)
        flat = lambda o: jnp.asarray(o, jnp.float32).reshape(-1)
        return StepResult(obs=flat(obs), state=state, reward=jnp.asarray(reward, jnp.float32),
                          terminated=jnp.asarray(terminated, bool),
                          truncated=jnp.asarray(truncated, bool),
                          final_obs=flat(info["final_observation"]))

    def observe(self, raw_obs: jax.Array, mask: jax.Array) -> jax.Array:
        """Agent input x [..., I] from the raw observation, masked entries exactly 0."""
        return self._observe(raw_obs, mask)

    def state_values(self, state) -> jax.Array:
        """The declared state variables of an env state: [len(state_vars)] float32."""
        if not self.state_vars:
            return jnp.zeros((0,), jnp.float32)
        return jnp.stack([jnp.asarray(v, jnp.float32) for v in self._state_values(state)])


def _masked(raw, mask):
    # `where`, not multiplication: a hidden entry must not leak even if it is inf/nan.
    return jnp.where(mask > 0, raw, 0.0)


def _first(a):
    return jnp.reshape(a, (-1,))[0]


#: Per-task declarations beyond what gymnax says: observation variants (name → indices of
#: the raw observation kept), state variables (name, fn(env state)), and the evaluation
#: horizon (fn(env params) → steps). Tasks not listed get `fo` only and no state variables.
TASK_SPECS = {
    "CartPole-v1": dict(
        variants={"fo": (0, 1, 2, 3), "po": (0, 2)},     # po: positions only (x, θ)
        state_vars=(("pole angle", lambda s: s.theta),
                    ("pole angular velocity", lambda s: s.theta_dot))),
    "MemoryChain-bsuite": dict(
        state_vars=(("context", lambda s: _first(s.context)), ("time", lambda s: s.time)),
        horizon=lambda p: int(p.memory_length) + 1),
    "BernoulliBandit-misc": dict(
        state_vars=(("p(arm 0) − p(arm 1)", lambda s: s.reward_probs[0] - s.reward_probs[1]),
                    ("time", lambda s: s.time))),
}


def task_names() -> list[str]:
    """gymnax environments a `Task` can wrap (Box or Discrete actions)."""
    return list(gymnax.registered_envs)


def get_task(config=None, *, name: str | None = None, params: tuple = (),
             encoding: str | None = None, theta_dot_scale: float | None = None) -> Task:
    """The `Task` of a `TrainConfig` (its task, task_params, encoding, theta_dot_scale), or
    of the keywords. Cached: the same arguments give the same object."""
    if config is not None:
        name, params = config.task, config.task_params
        encoding, theta_dot_scale = config.encoding, config.theta_dot_scale
    from rnnctl.config import TrainConfig
    name = name or TrainConfig.task
    encoding = encoding or TrainConfig.encoding
    theta_dot_scale = (TrainConfig.theta_dot_scale if theta_dot_scale is None
                       else theta_dot_scale)
    return _get_task(name, tuple(tuple(p) for p in params), encoding, float(theta_dot_scale))


def _env_params(name: str, defaults, params: tuple):
    """gymnax's `defaults` with the task parameters `params` applied: each checked against
    the task's declaration (`rnnctl.task_params`), the fields that follow them recomputed,
    and each cast to gymnax's own type of the field. `defaults` itself when `params` is
    empty (so a default run compiles exactly as before)."""
    if not params:
        return defaults
    if task_params.declared(name) is None:
        raise ConfigError(f"{name} declares no task parameters in this version; got "
                          f"{', '.join(n for n, _ in params)}")
    values = task_params.resolve(name, params)
    values.update(task_params.derived(name, values, lambda f: getattr(defaults, f)))
    return defaults.replace(**{k: type(getattr(defaults, k))(v) for k, v in values.items()})


@functools.lru_cache(maxsize=64)
def _get_task(name: str, params: tuple, encoding: str, theta_dot_scale: float) -> Task:
    if name == PENDULUM:
        env_params = _env_params(name, ENV_PARAMS, params)   # the physics: g, m, l, dt, ...
        max_torque = float(env_params.max_torque)
        dim = input_dim(encoding)
        variants = {v: tuple(float(m) for m in obs_mask(v, encoding)) for v in PENDULUM_VARIANTS}
        return Task(name=name, env=ENV, env_params=env_params, action=("box", 1),
                    action_low=-max_torque, action_high=max_torque, input_dim=dim,
                    variants=variants, state_vars=("θ", "θ̇"), horizon=EPISODE_LEN,
                    can_terminate=False, dt=float(env_params.dt),
                    _observe=lambda raw, mask: observe(raw, mask, encoding, theta_dot_scale),
                    _state_values=lambda s: (wrap_angle(s.theta), s.theta_dot))
    if name not in gymnax.registered_envs:
        raise ConfigError(f"unknown task {name!r}; gymnax has: "
                          f"{', '.join(gymnax.registered_envs)}")
    if params and task_params.declared(name) is not None:
        task_params.resolve(name, params)     # a bad value: one line, before gymnax.make
    env, env_params = gymnax.make(name)
    env_params = _env_params(name, env_params, params)
    space = env.action_space(env_params)
    if isinstance(space, spaces.Discrete):
        action, low, high = ("discrete", int(space.n)), None, None
    elif isinstance(space, spaces.Box):
        dim = int(np.prod(space.shape)) if space.shape else 1
        if dim != 1 and len(space.shape) != 1:
            raise ConfigError(f"{name}: Box actions of shape {space.shape} are not supported")
        action = ("box", dim)
        low, high = float(np.min(space.low)), float(np.max(space.high))
    else:
        raise ConfigError(f"{name}: action space {type(space).__name__} is not supported "
                          f"(Box or Discrete only)")
    obs0, _ = env.reset(jax.random.key(0), env_params)
    raw_dim = int(np.prod(np.shape(obs0)))
    spec = TASK_SPECS.get(name, {})
    variants = {}
    for v, keep in spec.get("variants", {"fo": tuple(range(raw_dim))}).items():
        variants[v] = tuple(1.0 if i in keep else 0.0 for i in range(raw_dim))
    state_vars = spec.get("state_vars", ())
    horizon = spec.get("horizon", lambda p: int(p.max_steps_in_episode))(env_params)
    return Task(name=name, env=env, env_params=env_params, action=action, action_low=low,
                action_high=high, input_dim=raw_dim, variants=variants,
                state_vars=tuple(n for n, _ in state_vars), horizon=horizon,
                can_terminate=True, dt=None, _observe=_masked,
                _state_values=lambda s: tuple(f(s) for _, f in state_vars))
