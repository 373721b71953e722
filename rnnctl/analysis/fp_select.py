"""Which of a fixed-point search's candidates to keep: duplicates of one root dropped, and
the slots to refine chosen one per root first (used by `fixed_points.find_fixed_points`
and `continue_fixed_points`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["greedy_unique", "select_distinct"]

#: Newton's step underestimates the distance to a root of multiplicity m by the factor m
#: (it halves the distance to a double root, removes a third of it near a triple root). Points
#: within tol + _STEP_RADIUS · (‖dh_i‖ + ‖dh_j‖) of each other may be heading for the same root.
_STEP_RADIUS = 3.0


def greedy_unique(points: jax.Array, candidate: jax.Array, q: jax.Array, tol: float,
                   step: jax.Array | None = None) -> jax.Array:
    """[K] bool: candidates kept greedily in order of q, dropping any that is a duplicate of a
    kept one: within tol + _STEP_RADIUS · (step_i + step_j) of it (step: the norm of each
    point's next Newton step, an estimate of how far it still is from its root; None: 0)."""
    order = jnp.argsort(jnp.where(candidate, q, jnp.inf))
    step = jnp.zeros_like(q) if step is None else jnp.where(jnp.isfinite(step), step, jnp.inf)

    def body(i, keep):
        j = order[i]
        # Distances from one point at a time: a [K, K] matrix would not fit when vmapped
        # over a thousand checkpoints, and the ‖a‖² + ‖b‖² − 2ab form loses tol to rounding.
        d = jnp.sqrt(jnp.sum((points - points[j]) ** 2, axis=-1))
        dup = jnp.any(keep & (d < tol + _STEP_RADIUS * (step + step[j])))
        return keep.at[j].set(candidate[j] & ~dup)

    return jax.lax.fori_loop(0, points.shape[0], body, jnp.zeros(points.shape[0], bool))


def select_distinct(target: jax.Array, step: jax.Array, n_keep: int, tol: float,
                     converged: float) -> jax.Array:
    """[n_keep] indices of the candidates to refine: one per root first, then the least covered.

    Candidate i is heading for a root near `target[i]` (its Newton target h + dh), within about
    _STEP_RADIUS · step[i] of it (step = ‖dh‖; inf when the Newton step failed or the point
    is stuck). Two candidates may share a root when their targets lie within
    tol + _STEP_RADIUS · (step_i + step_j).
    Picks, one at a time: while some candidate shares a root with no pick yet, the one of them
    with the smallest step (steps below `converged` count as equal: ties go to the lower
    index, so rounding noise in converged steps does not reorder the slots, e.g. between a
    vmapped and a single call); after that, the candidate farthest from every pick in units
    of that radius (farthest-point sampling). Near-copies of one root therefore never crowd
    out another root, whatever their q. O(n_keep · K · H), no [K, K] matrix.
    """
    n = target.shape[0]
    finite = jnp.isfinite(step) & jnp.all(jnp.isfinite(target), -1)
    step = jnp.where(finite, step, jnp.inf)
    # Work in step order so that argmax ties go to the better candidate.
    order = jnp.argsort(jnp.maximum(step, converged), stable=True)
    t, s, ok = target[order], step[order], finite[order]
    t = jnp.where(ok[:, None], t, 0.0)

    def body(m, carry):
        picked, ratio, out = carry
        avail = ~picked
        uncovered = avail & ok & (ratio >= 1.0)
        j = jnp.where(jnp.any(uncovered), jnp.argmax(uncovered),
                      jnp.argmax(jnp.where(avail, ratio, -1.0)))
        d = jnp.sqrt(jnp.sum((t - t[j]) ** 2, axis=-1))
        # A failed or stuck candidate (step inf) covers nothing.
        r = jnp.where(ok[j], d / (tol + _STEP_RADIUS * (s + s[j])), jnp.inf)
        r = jnp.where(ok, r, 0.0)        # failed candidates are never uncovered, picked last
        return picked.at[j].set(True), jnp.minimum(ratio, r), out.at[m].set(j)

    init = (jnp.zeros(n, bool), jnp.where(ok, jnp.inf, 0.0).astype(t.dtype),
            jnp.zeros(n_keep, jnp.int32))
    _, _, out = jax.lax.fori_loop(0, n_keep, body, init)
    return order[out]
