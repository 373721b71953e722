"""How strongly the observed input drives a linear system's slowest modes (docs/methods.md §4).

For the linear system of a cell at (h_e, x_e) (`linearize`: J_rec = R Λ R⁻¹, left
eigenvectors l_i with l_iᵀ r_i = 1) and an agent's observation mask m (1 for an input the
agent observes, 0 for one it never sees: PO's θ̇, always 0), the observed input matrix is
J = J_inp diag(m). For the k slowest stable modes (|λ_i| < 1, |λ| descending):

    drive_i   = ‖l_iᵀ J‖                      (how far a unit input moves mode i's amplitude)
    aligned_i = ‖l_iᵀ J‖ / (‖l_i‖ ‖J‖₂) ∈ [0, 1]

`aligned` is 1 when l_i lies along the input's strongest direction and 0 when the input
cannot reach mode i, whatever the input gain ‖J‖₂ and the left eigenvector's length (which
grows with the non-normality of J_rec). `input_drive` handles one linear system (vmap it);
`input_drive_at` linearises an agent's cell at many points and returns their drive in one
compiled program; `input_drive_along` averages it over the steps of trajectories.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from rnnctl.analysis.linear_system import Linearization, linearize

__all__ = ["InputDrive", "input_drive", "input_drive_at", "input_drive_along", "step_points"]


@struct.dataclass
class InputDrive:
    """The input drive of the k slowest stable modes of one linear system (leading batch
    axes under vmap). NaN marks a mode that does not exist (fewer than k stable modes) or an
    invalid linear system.

    Attributes:
      drive: [k] ‖l_iᵀ J‖ (J = J_inp diag(mask)), slowest mode first.
      aligned: [k] ‖l_iᵀ J‖ / (‖l_i‖ ‖J‖₂) in [0, 1].
      tau: [k] τ_i = 1/|ln|λ_i|| (steps).
      gain: [] ‖J‖₂, the observed input's largest gain (spectral norm).
      n_stable: [] int number of stable modes (|λ| < 1).
    """

    drive: jax.Array
    aligned: jax.Array
    tau: jax.Array
    gain: jax.Array
    n_stable: jax.Array


def input_drive(lin: Linearization, mask: jax.typing.ArrayLike | None = None, top: int = 5
                ) -> InputDrive:
    """The input drive of the `top` slowest stable modes of one linear system.

    Args:
      lin: `Linearization` of one point (fields unbatched; vmap for batches).
      mask: [I] observation mask (1: observed, 0: never seen); None: every input observed.
      top: k, the number of slowest stable modes.
    Returns:
      `InputDrive` with fields [k] (gain, n_stable: []).
    """
    j = lin.J_inp
    if mask is not None:
        j = j * jnp.asarray(mask, j.dtype)[None, :]
    n_modes = lin.eigvals.shape[-1]
    if not 0 < top <= n_modes:
        raise ValueError(f"top must lie in 1..{n_modes} (the state size), got {top}")
    mag = jnp.abs(lin.eigvals)
    stable = mag < 1.0                        # NaN (invalid system) compares False
    # the stable modes, |λ| descending (modes are sorted so already; argsort keeps it)
    order = jnp.argsort(jnp.where(stable, -mag, jnp.inf), stable=True)[:top]
    exists = stable[order]
    left = lin.left[:, order]                                           # [S, k]
    drive = jnp.linalg.norm(left.T @ j.astype(left.dtype), axis=-1)     # [k]
    ok = lin.valid & jnp.all(jnp.isfinite(j))
    gain = jnp.linalg.norm(jnp.where(ok, j, 0.0), ord=2)
    aligned = drive / (jnp.linalg.norm(left, axis=0) * gain)
    nan = jnp.nan
    keep = exists & ok
    return InputDrive(drive=jnp.where(keep, drive, nan), aligned=jnp.where(keep, aligned, nan),
                      tau=jnp.where(keep, lin.tau[order], nan), gain=jnp.where(ok, gain, nan),
                      n_stable=jnp.sum(stable))


def _cell_of(params):
    from rnnctl import networks  # lazy: keeps `from rnnctl import analysis` light
    return lambda s, u: networks.cell(params, s, u)


@partial(jax.jit, static_argnames=("top",))
def input_drive_at(params, h_e: jax.Array, x_e: jax.Array, mask: jax.Array | None = None,
                   top: int = 5) -> InputDrive:
    """`input_drive` of one agent's cell linearised at K points, in one compiled program.

    Args:
      params: one agent's parameters (any cell, `networks.init_params` structure).
      h_e: [K, S] expansion states.
      x_e: [K, I] expansion inputs.
      mask: [I] observation mask (None: every input observed).
      top: k slowest stable modes.
    Returns:
      `InputDrive` with fields [K, k] (gain, n_stable: [K]).
    """
    cell = _cell_of(params)
    return jax.vmap(lambda h, x: input_drive(linearize(cell, h, x), mask, top))(h_e, x_e)


def step_points(h: jax.Array, x: jax.Array, stride: int) -> tuple[jax.Array, jax.Array]:
    """The expansion points (h_{t−1}, x_t) of every `stride`-th step of trajectories.

    Steps t = stride − 1, 2·stride − 1, ... of each trajectory (the first analysed state
    is already driven by inputs; h_{−1} = 0 is the same for every trajectory), with
    h_{t−1} the state before step t reads x_t (`Rollout.h` holds the state after it).

    Args:
      h: [..., T, S] states after each step (`Rollout.h`).
      x: [..., T, I] inputs of each step.
      stride: analyse every stride-th step (1 ≤ stride ≤ T).
    Returns:
      (h_prev [N, S], x [N, I]) with N = (number of trajectories) · ⌊T / stride⌋.
    """
    n_t = h.shape[-2]
    if not 1 <= stride <= n_t:
        raise ValueError(f"stride must lie in 1..{n_t} (the trajectory length), got {stride}")
    prev = jnp.concatenate([jnp.zeros_like(h[..., :1, :]), h[..., :-1, :]], axis=-2)
    idx = jnp.arange(stride - 1, n_t, stride)
    hp, xs = prev[..., idx, :], x[..., idx, :]
    return hp.reshape(-1, hp.shape[-1]), xs.reshape(-1, xs.shape[-1])


@partial(jax.jit, static_argnames=("top", "stride"))
def input_drive_along(params, h: jax.Array, x: jax.Array, mask: jax.Array | None = None,
                      top: int = 5, stride: int = 1) -> InputDrive:
    """The input drive along trajectories: at every `stride`-th step (`step_points`), the
    cell linearised at the visited state and its input, averaged over the steps.

    Each field is the NaN-aware mean over the analysed steps (a step with fewer than k
    stable modes contributes to the first ones only); `n_stable` is the mean number of
    stable modes.

    Args:
      params: one agent's parameters.
      h: [..., T, S] states after each step (`Rollout.h`, e.g. [E, T, S]).
      x: [..., T, I] inputs of each step (`Rollout.x`).
      mask: [I] observation mask (None: every input observed).
      top: k slowest stable modes.
      stride: analyse every stride-th step of each trajectory.
    Returns:
      `InputDrive` with fields [k] (gain, n_stable: []), means over steps.
    """
    hp, xs = step_points(h, x, stride)
    per_step = input_drive_at(params, hp, xs, mask, top)
    return jax.tree.map(lambda v: jnp.nanmean(v.astype(jnp.float32), axis=0), per_step)
