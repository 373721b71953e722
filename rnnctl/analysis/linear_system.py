"""The cell's linear system around an expansion point: J_rec, J_inp, modes and input drive.

Around an expansion point (h_e, x_e) the cell F is, to first order,

    F(h_e + Δh, x_e + Δx) ≈ F(h_e, x_e) + J_rec Δh + J_inp Δx,

with J_rec = ∂F/∂h and J_inp = ∂F/∂x at (h_e, x_e) (both by `jax.jacfwd`, so any cell
works: RNN, GRU, LSTM, or any pure `cell(h, x) -> h'`). J_rec = R Λ R⁻¹ splits the
linear system into modes: the right eigenvector r_i (a column of R, unit norm) is the
direction the mode occupies, the left eigenvector l_i (the i-th row of R⁻¹, so that
l_iᵀ r_j = δ_ij) reads the mode's amplitude out of a state, and ‖l_iᵀ J_inp‖ is how
strongly a unit input moves the mode's amplitude (its input drive). A mode with
eigenvalue λ_i changes by a factor e every τ_i = |1 / ln|λ_i|| steps.

`linearize` handles one point; `jax.vmap` it over points. `linearize_agents` is the
batched form over agents × checkpoints × points, one compiled program. Eigen-
decompositions use `jnp.linalg.eig` inside the compiled program, as `find_fixed_points`
does for its eigenvalues (LAPACK on the CPU; jax's `eig` has no TPU lowering).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["Linearization", "linearize", "linearize_agents"]


@struct.dataclass
class Linearization:
    """The linear system of a cell at one expansion point (leading batch axes under vmap).

    Modes are sorted by |λ| descending (the slowest stable modes first, as
    `sort_eigvals`). For a point with a non-finite h_e, x_e or Jacobian, `valid` is False
    and every mode field is NaN; other points of a batch are unaffected.

    Attributes:
      h_e: [S] expansion state.
      x_e: [I] expansion input.
      F_e: [S] F(h_e, x_e).
      J_rec: [S, S] ∂F/∂h at (h_e, x_e).
      J_inp: [S, I] ∂F/∂x at (h_e, x_e).
      eigvals: [S] complex eigenvalues λ_i of J_rec, |λ| descending.
      right: [S, S] complex right eigenvectors r_i as columns, unit norm: J_rec r_i = λ_i r_i.
      left: [S, S] complex left eigenvectors l_i as columns, leftᵀ right = I (plain
        transpose, not conjugate): l_iᵀ J_rec = λ_i l_iᵀ and l_iᵀ r_i = 1.
      tau: [S] τ_i = |1 / ln|λ_i|| in steps (decay time of a stable mode, growth time of an
        unstable one; inf at |λ| = 1, 0 at λ = 0).
      input_drive: [S] ‖l_iᵀ J_inp‖ (Euclidean norm over the I inputs of the complex row).
        Every input entry counts, observed or not: for an agent whose observation masks an
        entry (PO's θ̇, always 0), drop that column of J_inp and recompute from `left`.
      valid: [] bool: every input and output above is finite.
    """

    h_e: jax.Array
    x_e: jax.Array
    F_e: jax.Array
    J_rec: jax.Array
    J_inp: jax.Array
    eigvals: jax.Array
    right: jax.Array
    left: jax.Array
    tau: jax.Array
    input_drive: jax.Array
    valid: jax.Array

    @property
    def stable(self) -> jax.Array:
        """[S] bool: modes with |λ| < 1 (decaying in discrete time)."""
        return jnp.abs(self.eigvals) < 1.0

    def predict(self, dh: jax.Array, dx: jax.Array) -> jax.Array:
        """The linear system's next state F_e + J_rec Δh + J_inp Δx: dh [S], dx [I] → [S]."""
        return self.F_e + self.J_rec @ dh + self.J_inp @ dx


def _check_vector(name: str, a: jax.Array) -> None:
    if a.ndim != 1:
        raise ValueError(f"{name} must be one vector [{'S' if name == 'h_e' else 'I'}] "
                         f"(vmap for batches), got shape {a.shape}")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise ValueError(f"{name} must be a float array, got dtype {a.dtype}")


def linearize(cell: Callable[[jax.Array, jax.Array], jax.Array], h_e: jax.typing.ArrayLike,
              x_e: jax.typing.ArrayLike) -> Linearization:
    """The linear system of `cell` at (h_e, x_e): Jacobians, modes, timescales, input drive.

    Pure and fixed-shape: works under `jit` and `vmap` (`cell` may close over traced
    parameters, e.g. `rnn_cell(params)`).

    Args:
      cell: pure `cell(h [S], x [I]) -> h' [S]`.
      h_e: [S] expansion state (e.g. a fixed point `FixedPoints.xstar[k]` or a visited state).
      x_e: [I] expansion input.
    Returns:
      `Linearization` (fields documented there).
    Raises:
      ValueError: h_e or x_e not one float vector, or `cell` does not map [S] to [S].
    """
    h_e = jnp.asarray(h_e)
    x_e = jnp.asarray(x_e)
    if jnp.issubdtype(x_e.dtype, jnp.integer):
        x_e = x_e.astype(h_e.dtype)
    _check_vector("h_e", h_e)
    _check_vector("x_e", x_e)
    try:
        out = jax.eval_shape(cell, h_e, x_e)
    except (TypeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"h_e {h_e.shape} or x_e {x_e.shape} does not fit the cell: "
                         f"{first}") from None
    if out.shape != h_e.shape:
        raise ValueError(f"h_e has shape {h_e.shape} but cell(h_e, x_e) returns shape "
                         f"{out.shape}: h_e must be the cell's whole state")
    f_e = cell(h_e, x_e)
    j_rec, j_inp = jax.jacfwd(cell, argnums=(0, 1))(h_e, x_e)
    valid = (jnp.all(jnp.isfinite(h_e)) & jnp.all(jnp.isfinite(x_e))
             & jnp.all(jnp.isfinite(j_rec)) & jnp.all(jnp.isfinite(j_inp)))
    # A non-finite matrix is swapped for the identity before LAPACK (which would return
    # NaN anyway, more slowly), and its modes reported as NaN below.
    lam, vl, right = jax.lax.linalg.eig(
        jnp.where(valid, j_rec, jnp.eye(h_e.shape[0], dtype=j_rec.dtype)),
        compute_left_eigenvectors=True, compute_right_eigenvectors=True)
    order = jnp.argsort(-jnp.abs(lam), stable=True)
    lam, vl, right = lam[order], vl[:, order], right[:, order]
    # LAPACK's left eigenvectors u_i satisfy u_iᴴ J = λ_i u_iᴴ, so l_i = conj(u_i), scaled
    # so that l_iᵀ r_i = 1: for distinct eigenvalues these are the rows of R⁻¹ (the dual
    # basis, l_iᵀ r_j = δ_ij), without a complex inverse (which costs more than geev).
    left = jnp.conj(vl)
    left = left / jnp.sum(left * right, axis=0, keepdims=True)
    drive = jnp.linalg.norm(left.T @ j_inp.astype(left.dtype), axis=-1)
    tau = 1.0 / jnp.abs(jnp.log(jnp.abs(lam)))
    nan = jnp.nan
    return Linearization(
        h_e=h_e, x_e=x_e, F_e=f_e, J_rec=j_rec, J_inp=j_inp,
        eigvals=jnp.where(valid, lam, nan), right=jnp.where(valid, right, nan),
        left=jnp.where(valid, left, nan), tau=jnp.where(valid, tau, nan),
        input_drive=jnp.where(valid, drive, nan), valid=valid)


def linearize_agents(params, h_e: jax.typing.ArrayLike, x_e: jax.typing.ArrayLike
                     ) -> Linearization:
    """`linearize` of the agents' own cells at many points, in one compiled program.

    The leading axes of `params` (e.g. agents × checkpoints, [A, C]) are vmapped together
    with the same leading axes of h_e and x_e, then the K points of each cell:
    `jit(vmap(vmap(vmap(linearize))))` for [A, C] parameters.

    Args:
      params: agents' parameters (`networks.init_params` structure) with leaves [*B, ...]
        (B: zero or more batch axes, e.g. [A, C]).
      h_e: [*B, K, S] expansion states (S = the cell's state size).
      x_e: [*B, K, I] expansion inputs, or [I] shared by every point.
    Returns:
      `Linearization` with fields [*B, K, ...].
    Raises:
      ValueError: h_e or x_e shapes do not match the parameters (message names the argument).
    """
    from rnnctl import networks  # lazy: keeps `from rnnctl import analysis` light

    h_e = jnp.asarray(h_e)
    x_e = jnp.asarray(x_e, h_e.dtype)
    n_batch = params["rnn"]["W_h"].ndim - 2
    batch = params["rnn"]["W_h"].shape[:n_batch]
    size, n_in = networks.state_size(params), networks.input_size(params)
    if h_e.ndim != n_batch + 2 or h_e.shape[:n_batch] != batch or h_e.shape[-1] != size:
        raise ValueError(f"h_e must be [*{list(batch)}, K, {size}] (parameters' batch axes, "
                         f"points, state size), got shape {h_e.shape}")
    if x_e.ndim == 1:
        x_e = jnp.broadcast_to(x_e, h_e.shape[:-1] + x_e.shape)
    if x_e.shape != h_e.shape[:-1] + (n_in,):
        raise ValueError(f"x_e must be [{n_in}] or {list(h_e.shape[:-1]) + [n_in]} "
                         f"(one input per point), got shape {x_e.shape}")
    return _linearize_agents(params, h_e, x_e, n_batch)


@partial(jax.jit, static_argnames=("n_batch",))
def _linearize_agents(params, h_e, x_e, n_batch: int) -> Linearization:
    from rnnctl import networks

    def one_cell(p, h, x):
        return jax.vmap(lambda hh, xx: linearize(lambda s, u: networks.cell(p, s, u), hh, xx)
                        )(h, x)

    fn = one_cell
    for _ in range(n_batch):
        fn = jax.vmap(fn)
    return fn(params, h_e, x_e)
