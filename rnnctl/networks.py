"""The recurrent actor-critic (vanilla RNN, GRU or LSTM cell). The only module that imports
distrax.

Parameters are a plain nested dict (a flax params pytree), so every function here is pure
and works unchanged under `jit`, `vmap`, `grad` and `jacfwd`:

    params = {"rnn":    {"W_h": [G·H, H], "W_x": [G·H, I], "b": [G·H]  (GRU: and "b_h" [3H])},
              "actor":  {"hidden": {"kernel": [H, M], "bias": [M]},
                         "mean":   {"kernel": [M, D], "bias": [D]},     Box actions, or
                         "logits": {"kernel": [M, N], "bias": [N]},     Discrete actions
                         "log_std": [D]},                               (Box only)
              "critic": {"hidden": {"kernel": [H, M], "bias": [M]},
                         "out":    {"kernel": [M, 1], "bias": [1]}}}

G is the number of gate blocks: 1 for the vanilla RNN, 3 for the GRU, 4 for the LSTM; the
cell is recognised from the (static) shapes of its parameters, so one set of functions
serves all three. The cell state s is one vector per agent: h (size H) for the RNN and the
GRU, [c, h] (size 2H) for the LSTM; the heads read h, the last H entries. The analysis
(fixed points, Jacobians, timescales) works on the whole state s.

The vanilla RNN follows the paper's convention h' = tanh(W_h h + W_x x + b), so its
recurrence Jacobian is diag(1 - h'²) W_h.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

Params = dict

__all__ = ["RNN_INITS", "CELLS", "GATES", "init_rnn", "init_params", "param_shapes", "cell",
           "cell_type", "input_term", "loop_weights", "loop_cell", "sequence",
           "state_jacobian", "readout", "reset_hidden", "step", "policy", "is_discrete",
           "value", "heads", "distribution", "action_distribution", "mode", "hidden_size",
           "state_size", "input_size"]


#: Initialisations of the recurrent cell (`TrainConfig.rnn_init`).
RNN_INITS = ("torch_uniform", "normal", "orthogonal")
#: Recurrent cells (`TrainConfig.cell`) and their number of gate blocks in W_h, W_x and b.
CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def init_rnn(key: jax.Array, input_dim: int, hidden: int = 64, rnn_init: str = "torch_uniform",
             recurrent_gain: float = 1.0, cell: str = "rnn") -> dict:
    """Initial cell parameters {"W_h": [G·H, H], "W_x": [G·H, I], "b": [G·H]} (G gate
    blocks, `GATES[cell]`; the GRU also has "b_h" [3H], the bias inside its reset gate).

    Args:
      rnn_init: "torch_uniform": every weight and bias ~ U(-1/√H, 1/√H), PyTorch's default
        for `nn.RNN`, `nn.GRU` and `nn.LSTM` (spectral radius of the RNN's W_h ≈ 0.58 at
        H = 64); "normal": each gate block of W_h ~ N(0, gain²/H) (ρ ≈ gain), W_x
        orthogonal, biases 0; "orthogonal": each gate block of W_h = gain · a random
        orthogonal matrix (every |λ| = gain), W_x orthogonal, biases 0.
      recurrent_gain: the gain of "normal" and "orthogonal" (ignored by "torch_uniform").
      cell: "rnn", "gru" or "lstm". For "rnn" the draws are those of earlier versions.
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    g = GATES[cell]
    k_h, k_x, k_b = jax.random.split(key, 3)
    ortho = jax.nn.initializers.orthogonal
    if rnn_init == "torch_uniform":
        bound = 1.0 / jnp.sqrt(hidden)
        u = lambda k, shape: jax.random.uniform(k, shape, jnp.float32, -bound, bound)
        p = {"W_h": u(k_h, (g * hidden, hidden)), "W_x": u(k_x, (g * hidden, input_dim)),
             "b": u(k_b, (g * hidden,))}
        if cell == "gru":
            p["b_h"] = u(jax.random.fold_in(k_b, 1), (g * hidden,))
        return p

    def blocks(init, k, shape):  # an independent draw per gate block (G = 1: one draw)
        if g == 1:
            return init(k, shape)
        return jnp.concatenate([init(kk, shape) for kk in jax.random.split(k, g)])

    if rnn_init == "normal":
        w_h = blocks(lambda k, s: recurrent_gain / jnp.sqrt(hidden) * jax.random.normal(k, s),
                     k_h, (hidden, hidden))
    elif rnn_init == "orthogonal":
        w_h = blocks(lambda k, s: ortho(recurrent_gain)(k, s, jnp.float32), k_h,
                     (hidden, hidden))
    else:
        raise ValueError(f"rnn_init must be one of {RNN_INITS}, got {rnn_init!r}")
    p = {"W_h": w_h,
         "W_x": blocks(lambda k, s: ortho(1.0)(k, s, jnp.float32), k_x, (hidden, input_dim)),
         "b": jnp.zeros((g * hidden,), jnp.float32)}
    if cell == "gru":
        p["b_h"] = jnp.zeros((g * hidden,), jnp.float32)
    return p


def param_shapes(config) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter leaf ("rnn/W_h" → (H, H)) of one agent of `config` (a
    `TrainConfig`), computed abstractly (nothing is allocated)."""
    from flax import traverse_util
    from rnnctl import envs
    task = envs.get_task(config)
    shapes = jax.eval_shape(lambda k: init_params(
        k, task.input_dim, config.hidden, config.head_hidden, rnn_init=config.rnn_init,
        cell=config.cell, action=task.action), jax.ShapeDtypeStruct((2,), jnp.uint32))
    return {k: tuple(v.shape) for k, v in traverse_util.flatten_dict(shapes, sep="/").items()}


def init_params(key: jax.Array, input_dim: int, hidden: int = 64, head_hidden: int = 64,
                recurrent_gain: float = 1.0, init_log_std: float = 0.0,
                rnn_init: str = "torch_uniform", cell: str = "rnn",
                action: tuple[str, int] = ("box", 1)) -> Params:
    """Random initial parameters.

    The cell as `init_rnn(rnn_init, cell)`; head weights orthogonal (PPO's usual gains: √2
    hidden, 0.01 policy output, 1 value), biases 0.

    Args:
      action: ("box", D): a Gaussian policy over D dimensions (a mean head and a
        state-independent log-std); ("discrete", N): a categorical policy (a logits head).
    """
    kind, n_out = action
    if kind not in ("box", "discrete") or n_out < 1:
        raise ValueError(f"action must be ('box', D) or ('discrete', N), got {action!r}")
    k = jax.random.split(key, 6)
    ortho = jax.nn.initializers.orthogonal

    def dense(key, n_in, n_out, scale):
        return {"kernel": ortho(scale)(key, (n_in, n_out), jnp.float32),
                "bias": jnp.zeros((n_out,), jnp.float32)}

    actor = {"hidden": dense(k[2], hidden, head_hidden, jnp.sqrt(2.0))}
    if kind == "box":
        actor["mean"] = dense(k[3], head_hidden, n_out, 0.01)
        actor["log_std"] = jnp.full((n_out,), init_log_std, jnp.float32)
    else:
        actor["logits"] = dense(k[3], head_hidden, n_out, 0.01)
    return {
        "rnn": init_rnn(k[0], input_dim, hidden, rnn_init, recurrent_gain, cell),
        "actor": actor,
        "critic": {
            "hidden": dense(k[4], hidden, head_hidden, jnp.sqrt(2.0)),
            "out": dense(k[5], head_hidden, 1, 1.0),
        },
    }


def cell_type(params: Params) -> str:
    """"rnn", "gru" or "lstm", from the static shapes of params["rnn"] (batch axes allowed)."""
    w_h = params["rnn"]["W_h"]
    g = w_h.shape[-2] // w_h.shape[-1]
    if "b_h" in params["rnn"]:
        return "gru"
    return "lstm" if g == 4 else "rnn"


def hidden_size(params: Params) -> int:
    """H, the number of units (the size of h)."""
    return params["rnn"]["W_h"].shape[-1]


def state_size(params: Params) -> int:
    """S, the size of the cell state: H (RNN, GRU) or 2H (LSTM, s = [c, h])."""
    return hidden_size(params) * (2 if cell_type(params) == "lstm" else 1)


def input_size(params: Params) -> int:
    return params["rnn"]["W_x"].shape[-1]


def cell(params: Params, h: jax.Array, x: jax.Array) -> jax.Array:
    """The cell update s' = F(params, s, x) of the RNN, the GRU or the LSTM.

    Vanilla RNN (the paper): h' = tanh(W_h h + W_x x + b).

    GRU (Cho et al. 2014, "Learning phrase representations using RNN encoder-decoder for
    statistical machine translation", in PyTorch's `nn.GRU` form: the reset gate multiplies
    the recurrent term after its matmul), gate blocks (r, z, n) of W_x, W_h, b, b_h:
      r = σ(W_xr x + b_r + W_hr h + b_hr),   z = σ(W_xz x + b_z + W_hz h + b_hz),
      n = tanh(W_xn x + b_n + r ⊙ (W_hn h + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h.

    LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber &
    Cummins 2000; PyTorch's `nn.LSTM` form with one bias), state s = [c, h], gate blocks
    (i, f, g, o) of a = W_x x + W_h h + b:
      i, f, o = σ(a_i), σ(a_f), σ(a_o),   g = tanh(a_g),   c' = f ⊙ c + i ⊙ g,
      h' = o ⊙ tanh(c').

    Args:
      params: full parameters (uses params["rnn"]).
      h: [..., S] previous cell state (S = `state_size`).
      x: [..., I] input.
    Returns:
      [..., S] next cell state.
    """
    kind, n = cell_type(params), hidden_size(params)
    return _gates(kind, n, h, input_term(params, x), _recurrent_term(params, kind, n, h))


# ---- the cell inside a loop ---------------------------------------------------------
#
# `cell` written as three parts, so that loops can move work out of their bodies:
#   input term   gx = W_x x + b                      (no recurrence: all steps at once)
#   recurrent    gh = W_h r(s) (+ b_h for the GRU)   (r(s): h, or the LSTM's h of [c, h])
#   gates        s' = G(s, gx, gh)                   (elementwise)
# `cell` is these three; the loops below use them apart.
#
# Why: XLA on CPU folds the transpose of `h @ W_h.T` into the dot, and the batched dot
# that contracts W_h's minor axis runs at about half the speed of one whose right operand
# is laid out [in, out]. `loop_weights` lays W_h out once, before the loop, behind an
# optimization_barrier that keeps XLA from folding it back. And autodiff of a scanned cell
# accumulates dW_h, dW_x and db inside the backward loop, one small matmul each per step;
# `sequence`'s backward pass carries only ∂/∂s through the loop and forms the weight
# gradients after it, in one matmul over all steps.

def input_term(params: Params, x: jax.Array) -> jax.Array:
    """gx = W_x x + b: x [..., I] → [..., G·H]."""
    p = params["rnn"]
    return x @ p["W_x"].T + p["b"]


def _recurrent_input(kind: str, n: int, s: jax.Array) -> jax.Array:
    return s[..., n:] if kind == "lstm" else s


def _recurrent_term(params: Params, kind: str, n: int, s: jax.Array,
                    w_hT: jax.Array | None = None) -> jax.Array:
    """gh = W_h r(s) (+ b_h), with W_hᵀ given (`loop_weights`) or transposed here."""
    p = params["rnn"]
    gh = _recurrent_input(kind, n, s) @ (p["W_h"].T if w_hT is None else w_hT)
    return gh + p["b_h"] if kind == "gru" else gh


def _gates(kind: str, n: int, s: jax.Array, gx: jax.Array, gh: jax.Array) -> jax.Array:
    if kind == "rnn":
        return jnp.tanh(gx + gh)
    if kind == "gru":
        r = jax.nn.sigmoid(gx[..., :n] + gh[..., :n])
        z = jax.nn.sigmoid(gx[..., n:2 * n] + gh[..., n:2 * n])
        cand = jnp.tanh(gx[..., 2 * n:] + r * gh[..., 2 * n:])
        return (1.0 - z) * cand + z * s
    a = gx + gh
    i, f = jax.nn.sigmoid(a[..., :n]), jax.nn.sigmoid(a[..., n:2 * n])
    g, o = jnp.tanh(a[..., 2 * n:3 * n]), jax.nn.sigmoid(a[..., 3 * n:])
    c = f * s[..., :n] + i * g
    return jnp.concatenate([c, o * jnp.tanh(c)], axis=-1)


def loop_weights(params: Params) -> jax.Array:
    """W_hᵀ [H, G·H], materialised once for the matmuls of a loop's body (see above)."""
    return jax.lax.optimization_barrier(jnp.swapaxes(params["rnn"]["W_h"], -1, -2))


def loop_cell(params: Params, w_hT: jax.Array, s: jax.Array, gx: jax.Array) -> jax.Array:
    """One cell update from the input term: `cell(params, s, x)` with gx = `input_term`(x)
    and w_hT = `loop_weights`(params) computed outside the loop."""
    kind, n = cell_type(params), hidden_size(params)
    return _gates(kind, n, s, gx, _recurrent_term(params, kind, n, s, w_hT))


def sequence(params: Params, s0: jax.Array, x: jax.Array, start: jax.Array,
             unroll: int = 1) -> jax.Array:
    """The cell run along a sequence, resetting the state where an episode starts:

        s_t = F(reset(s_{t-1}, start_t), x_t),   t = 0 … L-1,   s_{-1} = s0.

    Args:
      s0: [B..., S]; x: [L, B..., I]; start: [L, B...] bool.
      unroll: `lax.scan` unroll of both loops (speed only).
    Returns:
      [L, B..., S]: every s_t. Differentiable (a hand-written backward pass; see above).
    """
    kind, n = cell_type(params), hidden_size(params)
    p = params["rnn"]
    return _sequence(kind, n, unroll, p["W_h"], p.get("b_h"), input_term(params, x),
                     start, s0)


# `_sequence` takes W_h and b_h as arrays (what its backward pass differentiates);
# `_recurrent` wraps them back into the params layout the helpers above read.
_recurrent = lambda w_h, b_h: {"rnn": {"W_h": w_h, "b_h": b_h}}


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _sequence(kind, n, unroll, w_h, b_h, gx, start, s0):
    p = _recurrent(w_h, b_h)
    w_hT = loop_weights(p)

    def body(s, inp):
        gx_t, start_t = inp
        s = reset_hidden(s, start_t)
        s = _gates(kind, n, s, gx_t, _recurrent_term(p, kind, n, s, w_hT))
        return s, s

    return jax.lax.scan(body, s0, (gx, start), unroll=unroll)[1]


def _sequence_fwd(kind, n, unroll, w_h, b_h, gx, start, s0):
    ss = _sequence(kind, n, unroll, w_h, b_h, gx, start, s0)
    return ss, (w_h, b_h, gx, start, s0, ss)


def _sequence_bwd(kind, n, unroll, res, g):
    w_h, b_h, gx, start, s0, ss = res
    # The state each step read (after its reset), and its recurrent term, for all steps
    # at once: one matmul instead of one per step.
    prev = reset_hidden(jnp.concatenate([s0[None], ss[:-1]], axis=0), start)
    r = _recurrent_input(kind, n, prev)
    gh = _recurrent_term(_recurrent(w_h, b_h), kind, n, prev)

    def body(ds, inp):                     # ds: ∂loss/∂s_t from the steps after t
        g_t, prev_t, gx_t, gh_t, start_t = inp
        _, vjp = jax.vjp(lambda s, a, b: _gates(kind, n, s, a, b), prev_t, gx_t, gh_t)
        d_prev, d_gx, d_gh = vjp(g_t + ds)
        d_r = d_gh @ w_h                   # through the recurrent matmul, W_h as stored
        if kind == "lstm":
            d_prev = d_prev.at[..., n:].add(d_r)
        else:
            d_prev = d_prev + d_r
        return reset_hidden(d_prev, start_t), (d_gx, d_gh)

    d_s0, (d_gx, d_gh) = jax.lax.scan(body, jnp.zeros_like(s0), (g, prev, gx, gh, start),
                                      reverse=True, unroll=unroll)
    flat = lambda a: a.reshape(-1, a.shape[-1])
    d_w_h = flat(d_gh).T @ flat(r)
    d_b_h = None if b_h is None else flat(d_gh).sum(0)
    return d_w_h, d_b_h, d_gx, None, d_s0


_sequence.defvjp(_sequence_fwd, _sequence_bwd)


def state_jacobian(params: Params, h: jax.Array, x: jax.Array) -> jax.Array:
    """∂F(s, x)/∂s at one state, by `jax.jacfwd` (any cell): h [S], x [I] → [S, S].
    Vmap it for a batch."""
    return jax.jacfwd(lambda s: cell(params, s, x))(h)


def readout(params: Params, h: jax.Array) -> jax.Array:
    """The part of the cell state [..., S] the heads read: h itself, or h of the LSTM's
    [c, h]."""
    return h[..., -hidden_size(params):] if cell_type(params) == "lstm" else h


def reset_hidden(h: jax.Array, start: jax.Array) -> jax.Array:
    """Zero h where `start` marks the first step of an episode. h [..., S], start [...]."""
    return jnp.where(start[..., None], jnp.zeros_like(h), h)


def _mlp(p: dict, h: jax.Array, out: str) -> jax.Array:
    z = jnp.tanh(h @ p["hidden"]["kernel"] + p["hidden"]["bias"])
    return z @ p[out]["kernel"] + p[out]["bias"]


def is_discrete(params: Params) -> bool:
    """True for a categorical policy head (Discrete actions)."""
    return "logits" in params["actor"]


def policy(params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    """The policy head at cell state h [..., S].

    Returns:
      Gaussian (Box actions): (mean, log-std): mean [...] and log-std [] for one action
      dimension (scalar actions, as gymnax's Pendulum takes), [..., D] and [D] for D > 1.
      Categorical (Discrete actions): (logits [..., N], None).
    """
    h = readout(params, h)
    if is_discrete(params):
        return _mlp(params["actor"], h, "logits"), None
    mean = _mlp(params["actor"], h, "mean")
    log_std = params["actor"]["log_std"]
    if mean.shape[-1] == 1:
        return mean[..., 0], log_std[0]
    return mean, log_std


def value(params: Params, h: jax.Array) -> jax.Array:
    """Value head. h [..., S] → V [...]."""
    return _mlp(params["critic"], readout(params, h), "out")[..., 0]


def heads(params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array | None, jax.Array]:
    """(policy output, log-std or None, value [...]) at cell state h [..., S] (see `policy`)."""
    mean, log_std = policy(params, h)
    return mean, log_std, value(params, h)


def distribution(mean: jax.Array, log_std: jax.Array | None) -> distrax.Distribution:
    """The action distribution from `policy`'s output: a Gaussian with state-independent
    std (diagonal over D > 1 dimensions), or a categorical over logits (log_std None)."""
    # Imported here, not with this module: distrax (TensorFlow Probability's JAX
    # substrate) is slow to import, and a warm start that loads its exported
    # training programs (`rnnctl.aot`) never traces this function.
    import distrax
    if log_std is None:
        return distrax.Categorical(logits=mean)
    if jnp.ndim(log_std) == 0:
        return distrax.Normal(mean, jnp.exp(log_std) * jnp.ones_like(mean))
    return distrax.MultivariateNormalDiag(mean, jnp.exp(log_std) * jnp.ones_like(mean))


def action_distribution(params: Params, h: jax.Array) -> distrax.Distribution:
    """The policy's action distribution at cell state h [..., S]."""
    return distribution(*policy(params, h))


def mode(params: Params, h: jax.Array) -> jax.Array:
    """The deterministic action at h [..., S]: the Gaussian's mean, or the most likely
    category (int32)."""
    out, log_std = policy(params, h)
    return jnp.argmax(out, axis=-1).astype(jnp.int32) if log_std is None else out


def step(params: Params, h: jax.Array, x: jax.Array, start: jax.Array
         ) -> tuple[jax.Array, jax.Array, jax.Array | None, jax.Array]:
    """One agent step: reset h at episode start, update, read the heads.

    Args:
      h: [..., S] cell state after the previous step.
      x: [..., I] input.
      start: [...] bool, True on the first step of an episode.
    Returns:
      (h' [..., S], policy output (mean, or logits), log-std (None if categorical),
      value [...]).
    """
    h = cell(params, reset_hidden(h, start), x)
    mean, log_std, v = heads(params, h)
    return h, mean, log_std, v
