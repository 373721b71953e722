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

__all__ = ["RNN_INITS", "init_rnn", "init_params", "cell", "reset_hidden", "step", "policy", "value", "heads",
           "distribution", "hidden_size", "input_size"]


#: Initialisations of the recurrent cell (`TrainConfig.rnn_init`).
RNN_INITS = ("torch_uniform", "normal", "orthogonal")


def init_rnn(key: jax.Array, input_dim: int, hidden: int = 64, rnn_init: str = "torch_uniform",
             recurrent_gain: float = 1.0) -> dict:
    """Initial recurrent-cell parameters {"W_h": [H, H], "W_x": [H, I], "b": [H]}.

    Args:
      rnn_init: "torch_uniform": W_h, W_x and b ~ U(-1/√H, 1/√H), PyTorch's `nn.RNN` default
        (spectral radius of W_h ≈ 0.58 at H = 64); "normal": W_h ~ N(0, gain²/H)
        (ρ ≈ gain), W_x orthogonal, b = 0; "orthogonal": W_h = gain · a random orthogonal
        matrix (every |λ| = gain), W_x orthogonal, b = 0.
      recurrent_gain: the gain of "normal" and "orthogonal" (ignored by "torch_uniform").
    """
    k_h, k_x, k_b = jax.random.split(key, 3)
    ortho = jax.nn.initializers.orthogonal
    if rnn_init == "torch_uniform":
        bound = 1.0 / jnp.sqrt(hidden)
        u = lambda k, shape: jax.random.uniform(k, shape, jnp.float32, -bound, bound)
        return {"W_h": u(k_h, (hidden, hidden)), "W_x": u(k_x, (hidden, input_dim)),
                "b": u(k_b, (hidden,))}
    if rnn_init == "normal":
        w_h = recurrent_gain / jnp.sqrt(hidden) * jax.random.normal(k_h, (hidden, hidden))
    elif rnn_init == "orthogonal":
        w_h = ortho(recurrent_gain)(k_h, (hidden, hidden), jnp.float32)
    else:
        raise ValueError(f"rnn_init must be one of {RNN_INITS}, got {rnn_init!r}")
    return {"W_h": w_h, "W_x": ortho(1.0)(k_x, (hidden, input_dim), jnp.float32),
            "b": jnp.zeros((hidden,), jnp.float32)}


def param_shapes(config) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter leaf ("rnn/W_h" → (H, H)) of one agent of `config` (a
    `TrainConfig`), computed abstractly (nothing is allocated)."""
    from flax import traverse_util
    from rnnctl import envs
    shapes = jax.eval_shape(lambda k: init_params(
        k, envs.input_dim(config.encoding), config.hidden, config.head_hidden,
        rnn_init=config.rnn_init), jax.ShapeDtypeStruct((2,), jnp.uint32))
    return {k: tuple(v.shape) for k, v in traverse_util.flatten_dict(shapes, sep="/").items()}


def init_params(key: jax.Array, input_dim: int, hidden: int = 64, head_hidden: int = 64,
                recurrent_gain: float = 1.0, init_log_std: float = 0.0,
                rnn_init: str = "torch_uniform") -> Params:
    """Random initial parameters.

    The cell as `init_rnn(rnn_init)`; head weights orthogonal (PPO's usual gains: √2 hidden,
    0.01 policy mean, 1 value), biases 0.
    """
    k = jax.random.split(key, 6)
    ortho = jax.nn.initializers.orthogonal

    def dense(key, n_in, n_out, scale):
        return {"kernel": ortho(scale)(key, (n_in, n_out), jnp.float32),
                "bias": jnp.zeros((n_out,), jnp.float32)}

    return {
        "rnn": init_rnn(k[0], input_dim, hidden, rnn_init, recurrent_gain),
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
