"""Deterministic episodes of an agent: θ, θ̇, x, h, u, r (the input of every analysis).

`rollout` runs `n_episodes` episodes of the mean-action policy from random reset states,
each from h = 0. It is a pure function of (params, key): jit it, or vmap it over a stacked
params pytree (checkpoints, agents):

    roll = jax.jit(jax.vmap(lambda p: rollout(p, obs="po", key=key)))(stacked_params)
    roll.h.shape  # [C, E, T, H]

The observability setting may be an array mask (`envs.obs_mask`) instead of "fo"/"po", so
FO and PO agents can share one vmapped axis: `jax.vmap(lambda p, m: rollout(p, obs=m, ...))`.
The pendulum's physics are gymnax's defaults unless given (`env_params`; a run's are
`physics(config)`), so that the analysis of a run trained with other physics
(`--task-param g=...`) simulates the same pendulum.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from rnnctl import envs, networks
from rnnctl.config import ConfigError, TrainConfig

__all__ = ["Rollout", "rollout", "physics", "Episodes", "episodes", "goal_input", "hanging_input", "constant_input",
           "fixed_point_inputs", "FP_INPUTS"]

#: The constant inputs at which fixed points are searched (docs/methods.md §4): the goal
#: observation (θ = 0, θ̇ = 0), the zero input, and the hanging observation (θ = π, θ̇ = 0).
FP_INPUTS = ("goal", "zero", "hanging")
_DEFAULT_ENCODING = TrainConfig.encoding


@struct.dataclass
class Rollout:
    """Deterministic episodes, batch-first: `E` episodes of `T` steps.

    At step t the agent sees the state (θ_t, θ̇_t) through x_t, updates its hidden state to
    h_t = F(h_{t-1}, x_t) (h_{-1} = 0), outputs the mean torque `action` u_t, and the env
    applies `torque` = clip(u_t, ±2) and pays `reward` r_t(θ_t, θ̇_t, torque_t).

    Attributes:
      theta: [E, T] angle of the observed state, wrapped to [-π, π) (0 = upright).
      theta_dot: [E, T] angular velocity of the observed state (rad/s, in ±max_speed).
      x: [E, T, I] network input (θ̇ entry exactly 0 for PO agents).
      h: [E, T, S] cell state after reading x_t (S = H; an LSTM's [c, h]: S = 2H).
      action: [E, T] policy mean (the deterministic action, before the env's clipping).
      torque: [E, T] torque applied by the env: `action` clipped to ±max_torque (the
        physics' own; `envs.MAX_TORQUE` = 2 by default).
      reward: [E, T] reward of step t.
    """

    theta: jax.Array
    theta_dot: jax.Array
    x: jax.Array
    h: jax.Array
    action: jax.Array
    torque: jax.Array
    reward: jax.Array

    @property
    def returns(self) -> jax.Array:
        """Episode returns [E] (sum of rewards over the T steps)."""
        return self.reward.sum(-1)


def constant_input(theta, obs="fo", encoding: str = _DEFAULT_ENCODING,
                   theta_dot_scale: float = 0.125, theta_dot=0.0) -> jax.Array:
    """The network input x at the state (θ, θ̇) (θ̇ = 0 by default): a constant x* for
    fixed points. Vmap over `theta` for a ring of inputs.

    Args:
      theta: [] angle (rad; wrapped by the observation, so π and −π give the same x).
      obs: "fo", "po" or a mask [I] from `envs.obs_mask`.
      encoding, theta_dot_scale: the run's input encoding and θ̇ scale.
    Returns:
      [I] input.
    """
    mask = _mask(obs, encoding)
    raw, _ = envs.state_from(theta, theta_dot)
    return envs.observe(raw, mask, encoding, theta_dot_scale)


def goal_input(obs="fo", encoding: str = _DEFAULT_ENCODING, theta_dot_scale: float = 0.125
               ) -> jax.Array:
    """The network input x at the goal state (θ = 0, θ̇ = 0): [I]; (0, 0) for "angle",
    (1, 0, 0) for "cos_sin"."""
    return constant_input(0.0, obs, encoding, theta_dot_scale)


def hanging_input(obs="fo", encoding: str = _DEFAULT_ENCODING, theta_dot_scale: float = 0.125
                  ) -> jax.Array:
    """The network input x hanging at rest (θ = π, θ̇ = 0): [I]."""
    return constant_input(jnp.pi, obs, encoding, theta_dot_scale)


def fixed_point_inputs(obs="fo", encoding: str = _DEFAULT_ENCODING,
                       theta_dot_scale: float = 0.125) -> jax.Array:
    """The inputs of `FP_INPUTS` stacked: [3, I] (goal, zero, hanging)."""
    goal = goal_input(obs, encoding, theta_dot_scale)
    return jnp.stack([goal, jnp.zeros_like(goal),
                      hanging_input(obs, encoding, theta_dot_scale)])


def _mask(obs, encoding: str) -> jax.Array:
    if isinstance(obs, str):
        return envs.obs_mask(obs, encoding)
    mask = jnp.asarray(obs, jnp.float32)
    if mask.shape != (envs.input_dim(encoding),):
        raise ConfigError(f"obs mask must have shape [{envs.input_dim(encoding)}] for "
                          f"encoding {encoding!r}, got {mask.shape}")
    return mask


def rollout(params: networks.Params, *, obs, key: jax.Array, n_episodes: int = 5,
            encoding: str | None = None, theta_dot_scale: float | None = None,
            steps: int = envs.EPISODE_LEN, config: TrainConfig | None = None,
            env_params: envs.EnvParams | None = None) -> Rollout:
    """Deterministic (mean-action) episodes from random start states, each from h = 0.

    Args:
      params: one agent's parameters (leaves unbatched; vmap this function for a stack).
      obs: "fo", "po", or an input mask [I] (`envs.obs_mask`), which may be a traced
        array so FO and PO agents can be vmapped together.
      key: PRNG key; the same key gives the same start states and the same episodes.
      n_episodes: E, the number of episodes.
      encoding: "angle" or "cos_sin"; default `config.encoding`, else `TrainConfig`'s.
      theta_dot_scale: input scale s of θ̇; default `config.theta_dot_scale`, else 0.125.
      steps: T ≤ `envs.EPISODE_LEN` (200) steps per episode.
      config: a `TrainConfig` to take `encoding`, `theta_dot_scale` and the physics from.
      env_params: the pendulum's physics (gymnax `EnvParams`: g, m, l, dt, max_speed,
        max_torque), e.g. `physics(config)`; may be traced (vmapped, or an argument of a
        jitted caller). Default: `config`'s, else gymnax's defaults (`envs.ENV_PARAMS`).
        None compiles the defaults in as constants, bitwise the program of before
        physics could be set; passing the defaults as an array argument differs from it
        by float rounding (~1e-7).
    Returns:
      `Rollout` with arrays [E, T, ...] (`jax.Array`s; under vmap, leading batch axes).
    """
    if encoding is None:
        encoding = config.encoding if config is not None else _DEFAULT_ENCODING
    if theta_dot_scale is None:
        theta_dot_scale = config.theta_dot_scale if config is not None else 0.125
    if not isinstance(steps, int) or not 0 < steps <= envs.EPISODE_LEN:
        # Past EPISODE_LEN gymnax would auto-reset the state while h carries on.
        raise ConfigError(f"steps must be an integer in [1, {envs.EPISODE_LEN}], got {steps!r}")
    if not isinstance(n_episodes, int) or n_episodes <= 0:
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    if env_params is None and config is not None:
        env_params = physics(config)
    mask = _mask(obs, encoding)
    return _rollout(params, mask, key, jnp.asarray(theta_dot_scale, jnp.float32), env_params,
                    n_episodes=n_episodes, steps=steps, encoding=encoding)


def physics(config: TrainConfig) -> envs.EnvParams | None:
    """The pendulum's physics of a run (its `task_params`: g, m, l, dt, max_speed,
    max_torque) as `rollout`'s `env_params`: None where they are gymnax's defaults, so
    that a default run is analysed with exactly the program it always was."""
    env_params = envs.get_task(config).env_params
    return None if env_params == envs.ENV_PARAMS else env_params


@partial(jax.jit, static_argnames=("n_episodes", "steps", "encoding"))
def _rollout(params, mask, key, theta_dot_scale, env_params, *, n_episodes, steps,
             encoding) -> Rollout:
    hidden = networks.state_size(params)  # H, or 2H for an LSTM's [c, h]
    dtype = params["rnn"]["W_h"].dtype
    # None: gymnax's defaults as constants, exactly the program of the default physics
    physics = envs.ENV_PARAMS if env_params is None else env_params

    def episode(key):
        k_reset, k_steps = jax.random.split(key)
        raw, state = envs.reset(k_reset, physics)

        def body(carry, inp):
            h, raw, state = carry
            k, t = inp
            x = envs.observe(raw, mask, encoding, theta_dot_scale)
            h, mean, _, _ = networks.step(params, h, x, t == 0)
            torque = jnp.clip(mean, -physics.max_torque, physics.max_torque)
            res = envs.step(k, state, torque, physics)
            out = Rollout(theta=envs.wrap_angle(state.theta), theta_dot=state.theta_dot,
                          x=x, h=h, action=mean, torque=torque, reward=res.reward)
            return (h, res.obs, res.state), out

        h0 = jnp.zeros((hidden,), dtype)
        inputs = (jax.random.split(k_steps, steps), jnp.arange(steps))
        _, out = jax.lax.scan(body, (h0, raw, state), inputs)
        return out

    return jax.vmap(episode)(jax.random.split(key, n_episodes))


# ----------------------------------------------------------------------------- any task

@struct.dataclass
class Episodes:
    """Deterministic episodes of any task (`episodes`), batch-first: E episodes of T steps.

    At step t the agent reads x_t, updates its cell state to h_t = F(h_{t−1}, x_t)
    (h_{−1} = 0), takes the deterministic action (`networks.mode`) and receives r_t.
    Each episode runs until it ends or T steps; `alive` marks the steps before its end.

    Attributes:
      x: [E, T, I] network input.
      h: [E, T, S] cell state after reading x_t.
      action: [E, T] (or [E, T, D]) deterministic action.
      reward: [E, T] reward of step t (0 after the episode's end).
      alive: [E, T] bool: step t belongs to the episode (not past its end).
      state_vars: [E, T, V] the task's declared state variables at step t
        (`envs.Task.state_vars`), observed before acting.
    """

    x: jax.Array
    h: jax.Array
    action: jax.Array
    reward: jax.Array
    alive: jax.Array
    state_vars: jax.Array

    @property
    def returns(self) -> jax.Array:
        """Episode returns [E]."""
        return self.reward.sum(-1)


def episodes(params: networks.Params, task, mask: jax.Array, key: jax.Array,
             n_episodes: int = 5, steps: int | None = None) -> Episodes:
    """Deterministic episodes of `task` (an `envs.Task`) from random starts, each from h = 0.

    Args:
      params: one agent's parameters (vmap for a stack).
      task: `envs.get_task(config)`.
      mask: [I] the agent's observation mask (`task.mask(variant)`; may be traced).
      key: PRNG key; the same key gives the same episodes.
      n_episodes: E.
      steps: T (default `task.horizon`).
    Returns:
      `Episodes` with arrays [E, T, ...].
    """
    steps = task.horizon if steps is None else steps
    if not isinstance(steps, int) or steps <= 0:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(n_episodes, int) or n_episodes <= 0:
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    return _episodes(params, jnp.asarray(mask, jnp.float32), key, task=task,
                     n_episodes=n_episodes, steps=steps)


@partial(jax.jit, static_argnames=("task", "n_episodes", "steps"))
def _episodes(params, mask, key, *, task, n_episodes, steps) -> Episodes:
    size = networks.state_size(params)

    def episode(key):
        k_reset, k_steps = jax.random.split(key)
        raw, state = task.reset(k_reset)

        def body(carry, k):
            h, raw, state, alive = carry
            x = task.observe(raw, mask)
            h = networks.cell(params, h, x)
            action = networks.mode(params, h)
            res = task.step(k, state, action)
            out = Episodes(x=x, h=h, action=action, reward=jnp.where(alive, res.reward, 0.0),
                           alive=alive, state_vars=task.state_values(state))
            ended = jnp.logical_or(res.terminated, res.truncated)
            return (h, res.obs, res.state, alive & ~ended), out

        h0 = jnp.zeros((size,), params["rnn"]["W_h"].dtype)
        _, out = jax.lax.scan(body, (h0, raw, state, jnp.bool_(True)),
                              jax.random.split(k_steps, steps))
        return out

    return jax.vmap(episode)(jax.random.split(key, n_episodes))
