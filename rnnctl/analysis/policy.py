"""Policy maps (Fig 1b): mean torque over the (θ, θ̇) phase plane, and two sharpnesses.

An RNN's action depends on its history, not only on (θ, θ̇), so the map is built from
rollouts started at random states: bin the visited (θ, θ̇) and average the torque.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["PolicyMap", "policy_map", "sharpness", "boundary_contrast"]

MAX_TORQUE = 2.0  # gymnax Pendulum-v1 (envs.MAX_TORQUE; not imported to keep this light)


@struct.dataclass
class PolicyMap:
    """Mean torque on a (θ, θ̇) grid (leading batch axes under vmap).

    Attributes:
      torque: [Bθ, Bθ̇] mean torque of the visits to each bin; NaN where none.
      counts: [Bθ, Bθ̇] number of visits.
      theta_edges: [Bθ + 1] bin edges in θ (rad).
      theta_dot_edges: [Bθ̇ + 1] bin edges in θ̇ (rad/s).
    """

    torque: jax.Array
    counts: jax.Array
    theta_edges: jax.Array
    theta_dot_edges: jax.Array

    @property
    def visited(self) -> jax.Array:
        """[Bθ, Bθ̇] bool: bins with at least one visit."""
        return self.counts > 0

    @property
    def theta_centers(self) -> jax.Array:
        """[Bθ] bin centres in θ."""
        return 0.5 * (self.theta_edges[..., 1:] + self.theta_edges[..., :-1])

    @property
    def theta_dot_centers(self) -> jax.Array:
        """[Bθ̇] bin centres in θ̇."""
        return 0.5 * (self.theta_dot_edges[..., 1:] + self.theta_dot_edges[..., :-1])


def _bin_index(v, lo, hi, n):
    idx = jnp.floor((v - lo) / (hi - lo) * n).astype(jnp.int32)
    # v == hi (θ̇ clipped at exactly max_speed) belongs to the last bin.
    return jnp.clip(idx, 0, n - 1), (v >= lo) & (v <= hi)


def policy_map(theta, theta_dot: jax.Array | None = None, action: jax.Array | None = None,
               *, bins: int | tuple[int, int] = 64,
               theta_range: tuple[float, float] = (-math.pi, math.pi),
               theta_dot_range: tuple[float, float] = (-8.0, 8.0)) -> PolicyMap:
    """Bin visited (θ, θ̇) and average the torque in each bin.

    Args:
      theta: [...] wrapped angles, or a `Rollout` (then its θ, θ̇ and applied `torque`
        are used and the other two arguments must be None).
      theta_dot: [...] angular velocities of the same samples.
      action: [...] torque of the same samples (the applied, clipped torque is what the
        pendulum feels; `Rollout.action` is the unclipped policy mean).
      bins: Bθ = Bθ̇, or (Bθ, Bθ̇); default 64 × 64.
      theta_range: θ interval of the grid; samples outside are ignored.
      theta_dot_range: θ̇ interval of the grid (the pendulum's |θ̇| ≤ 8).
    Returns:
      `PolicyMap` with [Bθ, Bθ̇] arrays (vmap over checkpoints for [C, Bθ, Bθ̇]).
    """
    if hasattr(theta, "torque"):  # a Rollout (duck-typed: importing it would load gymnax)
        if theta_dot is not None or action is not None:
            raise ValueError("pass either a Rollout or (theta, theta_dot, action), not both")
        theta, theta_dot, action = theta.theta, theta.theta_dot, theta.torque
    if theta_dot is None or action is None:
        raise ValueError("policy_map needs theta, theta_dot and action (or a Rollout)")
    n_th, n_thd = (bins, bins) if isinstance(bins, int) else bins
    th, thd, u = (jnp.reshape(jnp.asarray(a), (-1,)) for a in (theta, theta_dot, action))
    i, in_i = _bin_index(th, *theta_range, n_th)
    j, in_j = _bin_index(thd, *theta_dot_range, n_thd)
    w = (in_i & in_j).astype(u.dtype)
    counts = jnp.zeros((n_th, n_thd), u.dtype).at[i, j].add(w)
    sums = jnp.zeros((n_th, n_thd), u.dtype).at[i, j].add(w * u)
    torque = jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), jnp.nan)
    return PolicyMap(torque=torque, counts=counts,
                     theta_edges=jnp.linspace(*theta_range, n_th + 1, dtype=u.dtype),
                     theta_dot_edges=jnp.linspace(*theta_dot_range, n_thd + 1, dtype=u.dtype))


def sharpness(pmap, *, max_torque: float = MAX_TORQUE, saturation: float = 0.9) -> jax.Array:
    """Sharpness of a policy map: the fraction of visited bins where the torque saturates.

    sharpness = #{visited bins with |mean torque| ≥ saturation · max_torque} / #{visited}.

    A bang-bang policy (a step-like map: full torque one way on one side of a decision
    boundary, full torque the other way beyond it) scores near 1; a smooth, graded map
    scores low (2·sin θ: ≈ 0.29; an untrained policy with |u| ≪ 2: 0). Every visited bin
    counts once, however often it was visited, so the score describes the map, not where
    the agent spends its time; NaN (unvisited) bins are ignored, and a map with no visited
    bin scores NaN. Averaging over visits blurs a bin that straddles the boundary, so only
    a policy that is sharp in (θ, θ̇) (not in its hidden state alone) scores high.

    Args:
      pmap: a `PolicyMap`, or its torque array [..., Bθ, Bθ̇] with NaN for unvisited bins.
      max_torque: the actuator limit (Pendulum: 2).
      saturation: fraction of `max_torque` that counts as saturated.
    Returns:
      [...] sharpness in [0, 1].
    """
    torque = pmap.torque if hasattr(pmap, "torque") else jnp.asarray(pmap)
    visited = ~jnp.isnan(torque)
    sat = visited & (jnp.abs(jnp.where(visited, torque, 0.0)) >= saturation * max_torque)
    n = visited.sum(axis=(-2, -1))
    return jnp.where(n > 0, sat.sum(axis=(-2, -1)) / jnp.maximum(n, 1), jnp.nan)


def boundary_contrast(pmap, *, max_torque: float = MAX_TORQUE, wrap_theta: bool = True
                      ) -> jax.Array:
    """Sharpness of a policy map's decision boundary: the torque jump across it.

    Over every pair of adjacent visited bins whose mean torques have strictly opposite
    signs (the pairs that straddle the decision boundary), the mean of

        |u₁ − u₂| / (2 · max_torque)   ∈ [0, 1],

    with torques first clipped to ±max_torque (what the pendulum feels). Neighbours are
    taken along θ̇ and along θ, where the first and last θ bins are neighbours too
    (`wrap_theta`: θ is an angle, and the map spans the circle by default; pass False for
    a map over part of it). Pairs in both directions count equally.

    A bang-bang policy (±max_torque on either side of a sharp boundary) scores 1; a
    smooth policy scores about its slope times a bin width: u = −k·sin θ gives
    k·sin(Δθ/2)/max_torque per crossing, u = −k·θ gives k·Δθ/(2·max_torque) at θ = 0
    (and, with the wrap, a jump of ≈ 2πk at θ = ±π, which is a real boundary). It
    complements `sharpness` (the saturated fraction): a policy can saturate everywhere
    yet switch through weak-torque bins, or switch abruptly without saturating. A bin
    that straddles the boundary averages both sides and lowers the score, so it rewards
    a boundary sharp in (θ, θ̇). Unvisited (NaN) bins pair with nothing; NaN when no
    visited neighbours change sign.

    Args:
      pmap: a `PolicyMap`, or its torque array [..., Bθ, Bθ̇] with NaN for unvisited bins.
      max_torque: the actuator limit (Pendulum: 2).
      wrap_theta: treat the θ axis as circular (the grid spans [-π, π)).
    Returns:
      [...] contrast in [0, 1], or NaN.
    """
    torque = pmap.torque if hasattr(pmap, "torque") else jnp.asarray(pmap)
    u = jnp.clip(torque, -max_torque, max_torque)

    def pairs(u1, u2):
        # NaN · x < 0 is False, so unvisited bins drop out of both sums.
        cross = u1 * u2 < 0
        jump = jnp.where(cross, jnp.abs(u1 - u2), 0.0)
        return jump.sum(axis=(-2, -1)), cross.sum(axis=(-2, -1))

    nxt = jnp.roll(u, -1, axis=-2) if wrap_theta else u[..., 1:, :]
    j_th, n_th = pairs(u if wrap_theta else u[..., :-1, :], nxt)
    j_thd, n_thd = pairs(u[..., :, :-1], u[..., :, 1:])
    n = n_th + n_thd
    return jnp.where(n > 0, (j_th + j_thd) / (2 * max_torque * jnp.maximum(n, 1)), jnp.nan)
