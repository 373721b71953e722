"""The vanilla-RNN actor-critic. The only module that imports distrax.

Parameters are a plain nested dict (a flax params pytree), so every function here is pure
and works unchanged under `jit`, `vmap`, `grad` and `jacfwd`:

    params = {"rnn":    {"W_h": [H, H], "W_x": [H, I], "b": [H]},
              "actor":  {"hidden": {"kernel": [H, M], "bias": [M]},
                         "mean":   {"kernel": [M, 1], "bias": [1]},
                         "log_std": [1]},
              "critic": {"hidden": {"kernel": [H, M], "bias": [M]},
                         "out":    {"kernel": [M, 1], "bias": [1]}}}

`W_h` and `W_x` follow the paper's convention h' = tanh(W_h h + W_x x + b), so the
recurrence Jacobian is diag(1 - h'²) W_h.
"""
from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp

Params = dict

__all__ = ["init_params", "cell", "reset_hidden", "step", "policy", "value", "heads",
           "distribution", "hidden_size", "input_size"]


def init_params(key: jax.Array, input_dim: int, hidden: int = 64, head_hidden: int = 64,
                recurrent_gain: float = 1.0, init_log_std: float = 0.0) -> Params:
    """Random initial parameters.

    W_h ~ N(0, gain²/H) (a random recurrent matrix with spectral radius ≈ gain); input and
    head weights orthogonal (PPO's usual gains: √2 hidden, 0.01 policy mean, 1 value).
    """
    k = jax.random.split(key, 6)
    ortho = jax.nn.initializers.orthogonal

    def dense(key, n_in, n_out, scale):
        return {"kernel": ortho(scale)(key, (n_in, n_out), jnp.float32),
                "bias": jnp.zeros((n_out,), jnp.float32)}

    return {
        "rnn": {
            "W_h": recurrent_gain / jnp.sqrt(hidden) * jax.random.normal(k[0], (hidden, hidden)),
            "W_x": ortho(1.0)(k[1], (hidden, input_dim), jnp.float32),
            "b": jnp.zeros((hidden,), jnp.float32),
        },
        "actor": {
            "hidden": dense(k[2], hidden, head_hidden, jnp.sqrt(2.0)),
            "mean": dense(k[3], head_hidden, 1, 0.01),
            "log_std": jnp.full((1,), init_log_std, jnp.float32),
        },
        "critic": {
            "hidden": dense(k[4], hidden, head_hidden, jnp.sqrt(2.0)),
            "out": dense(k[5], head_hidden, 1, 1.0),
        },
    }


def hidden_size(params: Params) -> int:
    return params["rnn"]["W_h"].shape[-1]


def input_size(params: Params) -> int:
    return params["rnn"]["W_x"].shape[-1]


def cell(params: Params, h: jax.Array, x: jax.Array) -> jax.Array:
    """The RNN update F(params, h, x) = tanh(W_h h + W_x x + b).

    Args:
      params: full parameters (uses params["rnn"]).
      h: [..., H] previous hidden state.
      x: [..., I] input.
    Returns:
      [..., H] next hidden state.
    """
    p = params["rnn"]
    return jnp.tanh(h @ p["W_h"].T + x @ p["W_x"].T + p["b"])


def reset_hidden(h: jax.Array, start: jax.Array) -> jax.Array:
    """Zero h where `start` marks the first step of an episode. h [..., H], start [...]."""
    return jnp.where(start[..., None], jnp.zeros_like(h), h)


def _mlp(p: dict, h: jax.Array, out: str) -> jax.Array:
    z = jnp.tanh(h @ p["hidden"]["kernel"] + p["hidden"]["bias"])
    return z @ p[out]["kernel"] + p[out]["bias"]


def policy(params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Gaussian policy head. h [..., H] → (mean torque [...], log-std [])."""
    return _mlp(params["actor"], h, "mean")[..., 0], params["actor"]["log_std"][0]


def value(params: Params, h: jax.Array) -> jax.Array:
    """Value head. h [..., H] → V [...]."""
    return _mlp(params["critic"], h, "out")[..., 0]


def heads(params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(mean [...], log-std [], value [...]) at hidden state h [..., H]."""
    mean, log_std = policy(params, h)
    return mean, log_std, value(params, h)


def distribution(mean: jax.Array, log_std: jax.Array) -> distrax.Distribution:
    """The action distribution: a diagonal Gaussian with state-independent std."""
    return distrax.Normal(mean, jnp.exp(log_std) * jnp.ones_like(mean))


def step(params: Params, h: jax.Array, x: jax.Array, start: jax.Array
         ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """One agent step: reset h at episode start, update, read the heads.

    Args:
      h: [..., H] hidden state after the previous step.
      x: [..., I] input.
      start: [...] bool, True on the first step of an episode.
    Returns:
      (h' [..., H], mean [...], log_std [], value [...]).
    """
    h = cell(params, reset_hidden(h, start), x)
    mean, log_std, v = heads(params, h)
    return h, mean, log_std, v
