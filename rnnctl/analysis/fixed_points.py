"""Fixed points of an RNN (Fig 1c, 1d): speed q, optax minimisation, Newton, Jacobians.

A fixed point of the autonomous map F(h) = cell(h, x*) at a constant input x* solves
F(h) = h. We minimise the speed q(h) = ½‖F(h) − h‖² from many initial states at once with
an optax optimiser (a fixed number of steps inside `lax.scan`), refine with Newton steps on
F(h) − h = 0 until they stop, then keep the points with q < `tol_q` whose next Newton step
is below `tol_step`, merge points converging to the same fixed point, drop distance
outliers, and linearise: J = ∂F/∂h (`jax.jacfwd`), its eigenvalues, stable iff max|λ| < 1.
Slots that stalled at a local minimum of q above zero are slow points
(`FixedPoints.slow_points`, from the stored fields after the search).

Everything has a fixed shape, so `find_fixed_points` works unchanged under `jit` and `vmap`:
one call can analyse every checkpoint of every agent,

    fps = jax.jit(jax.vmap(jax.vmap(
        lambda p, h0: find_fixed_points(rnn_cell(p), x_star, h0))))(params, init)  # [A, C, K]

and a boolean `valid` mask marks the fixed points that survived; `get_unique()` compacts
them on the host. Names follow FixedPointFinder (Golub & Sussillo): `xstar` is the fixed
point (a hidden state), `inputs` the constant input x*.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from rnnctl.analysis.fp_select import greedy_unique as _greedy_unique
from rnnctl.analysis.fp_select import select_distinct as _select_distinct

__all__ = ["FixedPoints", "find_fixed_points", "continue_fixed_points",
           "sample_initial_states", "rnn_cell", "speed", "sort_eigvals"]

FORMAT_VERSION = 1
_FIELDS = ("xstar", "x_init", "inputs", "F_xstar", "qstar", "n_iters", "jacobian", "eigvals",
           "is_stable", "valid")


@struct.dataclass
class FixedPoints:
    """Fixed points found from K initial states (fixed size; `valid` marks the real ones).

    Leading batch axes (checkpoints, agents) may precede every shape below when the search
    ran under `vmap`; index them with `fps[a, c]`.

    Attributes:
      xstar: [K, H] refined points (for invalid slots: wherever the search ended).
      x_init: [K, H] the initial state each slot started from.
      inputs: [K, I] the constant input x* (the same row repeated).
      F_xstar: [K, H] F(xstar); equals xstar up to √(2·qstar).
      qstar: [K] speed q = ½‖F(xstar) − xstar‖² at the end.
      n_iters: [K] int: optimiser + Newton iterations until q first fell below `tol_q`
        (the total budget if it never did).
      jacobian: [K, H, H] J = ∂F/∂h at xstar (`jax.jacfwd`).
      eigvals: [K, H] complex eigenvalues of J sorted by |λ| descending; NaN for invalid
        slots (their eigen-decomposition is skipped).
      is_stable: [K] bool: valid and max|λ| < 1 (discrete-time stability).
      valid: [K] bool: q < tol_q, Newton converged (next step ≤ tol_step), not a distance
        outlier, and not a duplicate of a valid point with lower q.
    """

    xstar: jax.Array
    x_init: jax.Array
    inputs: jax.Array
    F_xstar: jax.Array
    qstar: jax.Array
    n_iters: jax.Array
    jacobian: jax.Array
    eigvals: jax.Array
    is_stable: jax.Array
    valid: jax.Array

    @property
    def is_unstable(self) -> jax.Array:
        """[K] bool: valid and max|λ| ≥ 1."""
        return self.valid & ~self.is_stable

    @property
    def n_valid(self) -> jax.Array:
        """Number of valid fixed points, [...] (one per leading batch index)."""
        return self.valid.sum(-1)

    @property
    def n_stable(self) -> jax.Array:
        """Number of valid stable fixed points, [...]."""
        return self.is_stable.sum(-1)

    @property
    def n_unstable(self) -> jax.Array:
        """Number of valid unstable fixed points, [...]."""
        return self.is_unstable.sum(-1)

    def slow_points(self, q_max: float = 1e-4, *, tol_q: float = 1e-10,
                    flat_tol: float = 1e-2, tol_unique: float = 1e-3) -> jax.Array:
        """[..., K] bool: slots that ended at a slow point, a local minimum of q above zero.

        At a local minimum of q(h) = ½‖F(h) − h‖² with r = F(h) − h ≠ 0 the gradient
        (J − I)ᵀ r vanishes: the residual points along a direction in which F − h is flat,
        the ghost of a fixed point that almost exists (Sussillo & Barak 2013). A slot is
        a slow point when it is not a valid fixed point, tol_q < q ≤ `q_max`,
        ‖(J − I)ᵀ r‖ / ‖r‖ ≤ `flat_tol` (its relative gradient: a tiny q is not enough,
        the slot must sit at a minimum), it lies farther than `tol_unique` from every
        valid fixed point, and it is not a duplicate of a slow point of lower q (closer than
        `tol_unique`, or each one's linear model F − h ≈ r + (J − I)Δh predicts the other
        with q ≤ `q_max`: along its flat direction a slow point is located only loosely). Computed from the stored fields alone (works on loaded results and
        under vmap; leading batch axes are kept).

        Args:
          q_max: the largest speed of a slow point (the threshold stated with a figure).
          tol_q: the search's fixed-point tolerance (`find_fixed_points`' tol_q).
          flat_tol: largest relative gradient ‖(J − I)ᵀ r‖ / ‖r‖ of a minimum.
          tol_unique: distance under which two points are the same point.
        Returns:
          [..., K] bool.
        """
        lead = self.valid.shape[:-1]
        flat = jax.tree.map(lambda a: jnp.reshape(a, (-1,) + a.shape[len(lead):]), self)
        mark = jax.vmap(lambda fp: _slow_points(fp, q_max, tol_q, flat_tol, tol_unique))(flat)
        return mark.reshape(self.valid.shape)

    def __getitem__(self, index) -> "FixedPoints":
        """Index the leading batch axes of every field: `fps[agent, checkpoint]`."""
        return jax.tree.map(lambda a: a[index], self)

    def to_numpy(self) -> "FixedPoints":
        """The same result with every field a NumPy array (on the host)."""
        return jax.tree.map(np.asarray, self)

    def get_unique(self) -> "FixedPoints":
        """The valid fixed points only, as NumPy arrays, sorted by q ascending: [n_valid, ...].

        Only for one search (no batch axes); index a batched result first: `fps[a, c]`.
        """
        fp = self.to_numpy()
        if fp.valid.ndim != 1:
            raise ValueError(f"get_unique() needs one search (valid [K]); this result has "
                             f"batch shape {fp.valid.shape[:-1]}: index it first, e.g. fps[0]")
        keep = np.flatnonzero(fp.valid)
        keep = keep[np.argsort(fp.qstar[keep], kind="stable")]
        return jax.tree.map(lambda a: a[keep], fp)

    def save(self, path: str | os.PathLike) -> None:
        """Write every field to an .npz (no pickle), atomically (temp file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.asarray(getattr(self, name)) for name in _FIELDS}
        arrays["__format_version__"] = np.asarray(FORMAT_VERSION)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FixedPoints":
        """Read a result written by `save` (NumPy arrays)."""
        with np.load(path, allow_pickle=False) as z:
            version = int(z["__format_version__"]) if "__format_version__" in z.files else None
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: FixedPoints format version {version}, this rnnctl "
                                 f"reads version {FORMAT_VERSION}")
            missing = [n for n in _FIELDS if n not in z.files]
            if missing:
                raise ValueError(f"{path}: not a FixedPoints file (missing {missing})")
            return cls(**{name: z[name] for name in _FIELDS})

    @classmethod
    def restore(cls, path: str | os.PathLike) -> "FixedPoints":
        """Alias of `load` (FixedPointFinder's name)."""
        return cls.load(path)


def _slow_points(fp: FixedPoints, q_max: float, tol_q: float, flat_tol: float,
                 tol_unique: float) -> jax.Array:
    """`FixedPoints.slow_points` of one search (fields [K, ...])."""
    h, q = jnp.asarray(fp.xstar), jnp.asarray(fp.qstar)
    r = jnp.asarray(fp.F_xstar) - h
    jac = jnp.asarray(fp.jacobian)
    grad = jnp.einsum("kij,ki->kj", jac, r) - r                      # (J − I)ᵀ r
    rel = jnp.linalg.norm(grad, axis=-1) / jnp.maximum(jnp.linalg.norm(r, axis=-1), 1e-30)
    finite = jnp.all(jnp.isfinite(h), -1) & jnp.isfinite(q) & jnp.isfinite(rel)
    candidate = finite & ~fp.valid & (q > tol_q) & (q <= q_max) & (rel <= flat_tol)
    # Away from every valid fixed point: one point at a time (no [K, K] matrix).
    valid_h = jnp.where(fp.valid[:, None], h, jnp.inf)
    near = jax.lax.map(lambda p: jnp.any(
        jnp.sqrt(jnp.sum((valid_h - p) ** 2, -1)) < tol_unique), h)
    candidate &= ~near
    # A slow point is located only loosely along its flat direction (q is flat there), so
    # two candidates are the same slow point when each one's linear model predicts the
    # other as slow: ½‖r_i + (J_i − I)(h_j − h_i)‖² ≤ q_max (or closer than tol_unique).
    h0 = jnp.where(finite[:, None], h, 0.0)
    r0 = jnp.where(finite[:, None], r, 0.0)
    jm = jnp.where(finite[:, None, None], jac, 0.0) - jnp.eye(h.shape[-1], dtype=h.dtype)
    order = jnp.argsort(jnp.where(candidate, q, jnp.inf))

    def body(n, keep):
        i = order[n]
        dh = h0 - h0[i]                                                  # [K, H]
        from_i = r0[i] + dh @ jm[i].T                                    # i's model at j
        from_j = r0 - jnp.einsum("kab,kb->ka", jm, dh)                   # j's model at i
        same = ((0.5 * jnp.sum(from_i ** 2, -1) <= q_max)
                & (0.5 * jnp.sum(from_j ** 2, -1) <= q_max))
        same |= jnp.sqrt(jnp.sum(dh ** 2, -1)) < tol_unique
        return keep.at[i].set(candidate[i] & ~jnp.any(keep & same))

    return jax.lax.fori_loop(0, h.shape[0], body, jnp.zeros(h.shape[0], bool))


def rnn_cell(params: dict) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The pure cell h, x ↦ h' of one agent's parameters (`networks.cell` with params bound)."""
    from rnnctl import networks  # lazy: keeps `from rnnctl import analysis` light

    return lambda h, x: networks.cell(params, h, x)


def speed(cell: Callable, h: jax.Array, x_star: jax.Array) -> jax.Array:
    """The speed q(h) = ½‖cell(h, x*) − h‖². h [..., H] → q [...]."""
    r = cell(h, x_star) - h
    return 0.5 * jnp.sum(r * r, axis=-1)


def sort_eigvals(eigvals: jax.Array) -> jax.Array:
    """Sort eigenvalues [..., H] by |λ| descending (ties: stable order)."""
    order = jnp.argsort(-jnp.abs(eigvals), axis=-1, stable=True)
    return jnp.take_along_axis(eigvals, order, axis=-1)


def sample_initial_states(hidden_states: jax.Array, n: int, key: jax.Array,
                          noise_scale: float = 0.01, *, theta: jax.Array | None = None,
                          strata: int = 0) -> jax.Array:
    """Initial states for the search: visited hidden states plus Gaussian noise.

    Args:
      hidden_states: [..., H] visited states (e.g. a rollout's h [E, T, H]).
      n: number of initial states K (drawn without replacement when n ≤ the number of
        visited states).
      key: PRNG key.
      noise_scale: standard deviation of the added noise.
      theta: [...] optional wrapped θ of the same samples; with `strata` > 0 the starts
        are stratified over θ: `strata` equal bins over [-π, π) get n / strata starts
        each (drawn with replacement among that bin's states; an empty bin draws from
        all states), so rarely visited angles (hanging) are searched as often as common
        ones.
      strata: number of θ bins (0: draw uniformly over visited steps).
    Returns:
      [n, H] initial states.
    """
    h = jnp.reshape(jnp.asarray(hidden_states), (-1, hidden_states.shape[-1]))
    k_idx, k_noise = jax.random.split(key)
    if theta is None or strata <= 0:
        idx = jax.random.choice(k_idx, h.shape[0], (n,), replace=n > h.shape[0])
    else:
        th = jnp.reshape(jnp.asarray(theta), (-1,))
        b = jnp.clip(jnp.floor((th + jnp.pi) / (2 * jnp.pi) * strata), 0, strata - 1)
        parts = []
        for s, ks in enumerate(jax.random.split(k_idx, strata)):
            m = n // strata + (1 if s < n % strata else 0)
            if m == 0:
                continue
            w = (b == s).astype(jnp.float32)
            w = jnp.where(w.sum() > 0, w, jnp.ones_like(w))
            parts.append(jax.random.choice(ks, h.shape[0], (m,), replace=True, p=w / w.sum()))
        idx = jnp.concatenate(parts)
    return h[idx] + noise_scale * jax.random.normal(k_noise, (n, h.shape[-1]), h.dtype)


def find_fixed_points(cell: Callable[[jax.Array, jax.Array], jax.Array], x_star: jax.Array,
                      initial_states: jax.Array, *,
                      optimizer: optax.GradientTransformation | None = None,
                      learning_rate: float = 0.1, n_opt_steps: int = 500,
                      n_newton_steps: int = 12, tol_q: float = 1e-10,
                      tol_unique: float = 1e-3, outlier_distance_scale: float | None = 10.0,
                      max_points: int | None = None, tol_step: float = 1e-3,
                      n_select_newton_steps: int = 2) -> FixedPoints:
    """Fixed points of h ↦ cell(h, x*) from K initial states at once.

    1. Minimise q(h) = ½‖cell(h, x*) − h‖² from every initial state with `optimizer`
       (default: Adam, `learning_rate` cosine-decayed to 1% over `n_opt_steps` so that it
       settles instead of jittering), each point independently (the optimiser is vmapped
       over points); the lowest-q iterate of each point is kept.
    2. Newton on F(h) − h = 0. A step dh = −(J − I)⁻¹(F(h) − h) (J = ∂F/∂h by `jacfwd`) is
       damped: of the step lengths 1, ½, ¼ the one with the lowest q is taken, only if it
       lowers q (a singular J − I gives NaN: rejected). h + dh is where a point is heading
       and ‖dh‖ how far it still is (times the multiplicity of the root: Newton halves the
       distance to a double root). A slot stops once its step is rejected or below float
       precision and is then frozen; the loop ends when every slot has stopped, after
       `n_newton_steps` steps at most. The last ‖dh‖ (the step not taken) is kept.
    3. If `max_points` M < K: all K points first take `n_select_newton_steps` of those steps,
       then M slots are chosen by where they are heading, not by q: first one per group of
       points whose targets h + dh lie within tol_unique + 3 (‖dh_i‖ + ‖dh_j‖) of each other
       (smallest ‖dh‖ first), then the points least covered by those (farthest-point
       sampling in units of that radius). Near-copies of one fixed point, however low their
       q, never crowd out another one. Only the M slots take the remaining Newton steps
       and get Jacobians, which is what makes thousands of checkpoints cheap; K = M in the
       result. A selected slot takes the same Newton steps as it would without
       `max_points`.
    4. valid = q < tol_q; ‖dh‖ ≤ `tol_step` (Newton has converged: near a slow, nearly
       degenerate fixed point q is tiny well away from it, so q alone passes points that
       are still creeping towards it); ‖xstar − c‖ ≤ outlier_distance_scale · mean‖x_init −
       c‖ with c the centroid of the initial states (FixedPointFinder's outlier rule; None:
       off); and not a duplicate of a valid point with lower q: within tol_unique +
       3 (‖dh_i‖ + ‖dh_j‖) of it, so points converging to the same fixed point count once.
    5. J by `jax.jacfwd` at every slot; eigenvalues for valid slots (invalid ones are
       zeroed before `eigvals`, which makes them nearly free, and reported as NaN).

    Pure and fixed-shape: jit it, vmap it over checkpoints/agents (`cell` may close over
    traced parameters). Eigenvalues use `jnp.linalg.eigvals` (LAPACK on CPU). Newton runs
    in chunks of M points (`lax.map`), so memory grows with M, not K.

    Args:
      cell: pure `cell(h [H], x [I]) -> h' [H]`, e.g. `rnn_cell(params)`.
      x_star: [I] constant input.
      initial_states: [K, H] starting points (e.g. `sample_initial_states`).
      optimizer: an optax transformation (vmapped over points); overrides `learning_rate`.
      learning_rate: peak Adam learning rate of the default optimiser.
      n_opt_steps: optimiser steps (fixed count, inside `lax.scan`).
      n_newton_steps: at most this many Newton steps per slot (fewer when all have
        stopped). Near a slow fixed point Newton converges only linearly until it is
        close, and from a poorly converged start it may need several steps to get there:
        5 steps left points ~1e-3 away and missed fixed points that 12 find.
      tol_q: a point is a fixed point if q < tol_q (in float32, q bottoms out near 1e-13
        for H = 64; slow points that are not fixed points stall far above).
      tol_unique: points closer than this (Euclidean), plus three times the sum of their
        Newton steps, are duplicates.
      outlier_distance_scale: outlier threshold in units of the initial states' mean
        distance from their centroid; None keeps all.
      max_points: M, the number of slots refined and returned (None: K).
      tol_step: a point is a fixed point only if its next Newton step is at most this long
        (Euclidean). Float32 rounding of F(h) − h (~3e-7 in norm for H = 64) alone gives a
        step of about 3e-7 / σ at a fixed point whose J has 1 − λ ≈ σ, so 1e-3 keeps fixed
        points with timescales up to thousands of steps.
      n_select_newton_steps: Newton steps taken by all K points before the M slots are
        chosen (only with `max_points` < K; at most `n_newton_steps`). Each costs a
        Jacobian and a solve at all K points; 2 make the choice reliable even when the
        optimiser ends far from the fixed points (0: choose from the optimiser's end
        points and their first Newton step).
    Returns:
      `FixedPoints` with K (or M) slots.
    """
    return _search(cell, x_star, initial_states, None, None, optimizer=optimizer,
                   learning_rate=learning_rate, n_opt_steps=n_opt_steps,
                   n_newton_steps=n_newton_steps, tol_q=tol_q, tol_unique=tol_unique,
                   outlier_distance_scale=outlier_distance_scale, max_points=max_points,
                   tol_step=tol_step, n_select_newton_steps=n_select_newton_steps)


def continue_fixed_points(cell: Callable[[jax.Array, jax.Array], jax.Array],
                          x_star: jax.Array, previous: jax.Array, initial_states: jax.Array,
                          *, previous_valid: jax.Array | None = None,
                          outlier_reference: jax.Array | None = None,
                          optimizer: optax.GradientTransformation | None = None,
                          learning_rate: float = 0.1, n_opt_steps: int = 500,
                          n_newton_steps: int = 12, tol_q: float = 1e-10,
                          tol_unique: float = 1e-3,
                          outlier_distance_scale: float | None = 10.0,
                          max_points: int | None = None, tol_step: float = 1e-3,
                          n_select_newton_steps: int = 2) -> FixedPoints:
    """Fixed points of h ↦ cell(h, x*) continued from fixed points of a nearby map.

    Continuation across checkpoints: the fixed points of the previous checkpoint (`previous`,
    e.g. `fps.xstar` of the last search) are taken as starts that need no optimiser (they
    are close to this map's fixed points when the parameters moved little) and go straight
    to Newton, alongside K fresh `initial_states` that take the optimiser as in
    `find_fixed_points` (so a fixed point that did not exist before is still found). From
    there the search is `find_fixed_points`' steps 2–5 on all P + K points, the previous
    points first (of several points heading for one fixed point the previous one is
    preferred); the distance-outlier rule measures from the fresh initial states (or
    `outlier_reference`). Slots of `previous` marked invalid (or not finite) are replaced
    by optimised fresh points (by the zero state when K = 0), so they find nothing stale.

    Args:
      cell, x_star: as in `find_fixed_points`.
      previous: [P, H] points to continue from (a previous result's `xstar`).
      initial_states: [K, H] fresh starting points (e.g. `sample_initial_states`); K may
        be 0 (Newton from the previous points only) when `outlier_reference` is given.
      previous_valid: optional [P] bool: which rows of `previous` to use (e.g. `valid`).
      outlier_reference: optional [R, H] states whose centroid and mean distance from it
        scale the distance-outlier rule (None: `initial_states`).
      optimizer, ..., n_select_newton_steps: as in `find_fixed_points` (`max_points` M
        counts slots among all P + K points; None: P + K).
    Returns:
      `FixedPoints` with M (or P + K) slots; `x_init` of a continued slot is its previous
      point and its `n_iters` counts only Newton steps.
    """
    previous = jnp.asarray(previous)
    if previous.ndim != 2:
        raise ValueError(f"previous must be [P, H], got shape {previous.shape}")
    if previous_valid is None:
        previous_valid = jnp.ones(previous.shape[0], bool)
    if outlier_reference is None and jnp.shape(initial_states)[0] == 0:
        raise ValueError("without initial states the outlier rule needs outlier_reference")
    return _search(cell, x_star, initial_states, previous, jnp.asarray(previous_valid, bool),
                   reference=outlier_reference, optimizer=optimizer, learning_rate=learning_rate, n_opt_steps=n_opt_steps,
                   n_newton_steps=n_newton_steps, tol_q=tol_q, tol_unique=tol_unique,
                   outlier_distance_scale=outlier_distance_scale, max_points=max_points,
                   tol_step=tol_step, n_select_newton_steps=n_select_newton_steps)


def _search(cell, x_star, initial_states, previous, previous_valid, *, reference=None,
            optimizer,
            learning_rate, n_opt_steps, n_newton_steps, tol_q, tol_unique,
            outlier_distance_scale, max_points, tol_step, n_select_newton_steps
            ) -> FixedPoints:
    """`find_fixed_points` (previous None) and `continue_fixed_points`."""
    h0 = jnp.asarray(initial_states)
    if h0.ndim != 2:
        raise ValueError(f"initial_states must be [K, H], got shape {h0.shape}")
    n_fresh, hidden = h0.shape
    x_star = jnp.asarray(x_star, h0.dtype)
    if previous is not None and previous.shape[-1] != hidden:
        raise ValueError(f"previous points have {previous.shape[-1]} units, initial_states "
                         f"{hidden}")
    n_init = n_fresh + (0 if previous is None else previous.shape[0])
    n_keep = n_init if max_points is None else min(int(max_points), n_init)
    n_newton_steps = int(n_newton_steps)

    def f(h):
        return cell(h, x_star)

    def q_point(h):
        r = f(h) - h
        return 0.5 * jnp.sum(r * r)

    q_all = jax.vmap(q_point)
    value_and_grad = jax.vmap(jax.value_and_grad(q_point))
    eye = jnp.eye(hidden, dtype=h0.dtype)

    def direction(h):
        """The Newton step dh at one point and its length (inf where the solve failed)."""
        r = f(h) - h
        dh = jnp.linalg.solve(jax.jacfwd(f)(h) - eye, -r)
        ok = jnp.all(jnp.isfinite(dh))
        return jnp.where(ok, dh, 0.0), jnp.where(ok, jnp.linalg.norm(dh), jnp.inf)

    # 1. optimiser ------------------------------------------------------------------------
    if optimizer is None:
        schedule = optax.cosine_decay_schedule(learning_rate, max(n_opt_steps, 1), alpha=1e-2)
        optimizer = optax.adam(schedule)
    opt_state = jax.vmap(optimizer.init)(h0)
    never = n_opt_steps + n_newton_steps  # n_iters of a point that never gets below tol_q

    def opt_step(carry, i):
        h, state, best_h, best_q, first = carry
        q, g = value_and_grad(h)
        q = jnp.where(jnp.isfinite(q), q, jnp.inf)
        better = q < best_q
        best_h = jnp.where(better[:, None], h, best_h)
        best_q = jnp.where(better, q, best_q)
        first = jnp.where((first == never) & (q < tol_q), i, first)
        updates, state = jax.vmap(optimizer.update)(g, state, h)
        return (optax.apply_updates(h, updates), state, best_h, best_q, first), None

    carry = (h0, opt_state, h0, jnp.full((n_fresh,), jnp.inf, h0.dtype),
             jnp.full((n_fresh,), never, jnp.int32))
    (h, _, best_h, best_q, first), _ = jax.lax.scan(
        opt_step, carry, jnp.arange(n_opt_steps, dtype=jnp.int32))
    q_end = jnp.where(jnp.isfinite(q_all(h)), q_all(h), jnp.inf)
    better = q_end < best_q
    h = jnp.where(better[:, None], h, best_h)
    q = jnp.where(better, q_end, best_q)
    first = jnp.where((first == never) & (q < tol_q), n_opt_steps, first)
    x_init = h0
    if previous is not None:
        # Continued points skip the optimiser; unusable ones are replaced by (duplicates
        # of) optimised fresh points. They come first: selection ties go to lower slots.
        prev = jnp.asarray(previous, h0.dtype)
        use = previous_valid & jnp.all(jnp.isfinite(prev), -1)
        filler = (h[jnp.arange(prev.shape[0]) % n_fresh] if n_fresh
                  else jnp.zeros_like(prev))
        prev = jnp.where(use[:, None], prev, filler)
        q_prev = q_all(prev)
        q_prev = jnp.where(jnp.isfinite(q_prev), q_prev, jnp.inf)
        h = jnp.concatenate([prev, h])
        q = jnp.concatenate([q_prev, q])
        first = jnp.concatenate([jnp.where(q_prev < tol_q, 0, never).astype(first.dtype),
                                 first])
        x_init = jnp.concatenate([prev, h0])

    # 2./3. Newton --------------------------------------------------------------------------
    # A slot is done once its step is rejected (it would be again: nothing changed) or is
    # below float precision. Done slots are frozen, so the result does not depend on how
    # long the loop runs for the other slots (or the other checkpoints under vmap).
    alphas = jnp.array([1.0, 0.5, 0.25], h0.dtype)
    tiny = 10 * jnp.finfo(h0.dtype).eps

    def newton(h, q, first, dh, step, done, j0, n_steps):
        """Steps j0, j0 + 1, … < j0 + n_steps from h (dh, step: the Newton step at h)."""
        def cond(carry):
            j, _, _, _, _, _, done = carry
            return (j < j0 + n_steps) & ~jnp.all(done)

        def body(carry):
            j, h, q, first, dh, step, done = carry
            trial = h[None] + alphas[:, None, None] * dh[None]              # [3, N, H]
            q_trial = jax.vmap(q_all)(trial)
            q_trial = jnp.where(jnp.isfinite(q_trial), q_trial, jnp.inf)
            best = jnp.argmin(q_trial, axis=0)
            q_new = jnp.min(q_trial, axis=0)
            accept = ~done & jnp.isfinite(step) & (q_new < q)
            h_new = jnp.take_along_axis(trial, best[None, :, None], axis=0)[0]
            small = step <= tiny * (1 + jnp.linalg.norm(h, axis=-1))
            h = jnp.where(accept[:, None], h_new, h)
            q = jnp.where(accept, q_new, q)
            first = jnp.where((first == never) & (q < tol_q), n_opt_steps + j + 1, first)
            dh_new, step_new = jax.lax.map(direction, h, batch_size=chunk)
            dh = jnp.where(accept[:, None], dh_new, dh)
            step = jnp.where(accept, step_new, step)
            return j + 1, h, q, first, dh, step, done | ~accept | small

        carry = (jnp.int32(j0), h, q, first, dh, step, done)
        return jax.lax.while_loop(cond, body, carry)[1:]

    # Where each point is heading (h + dh) and how far it still is (‖dh‖). In chunks of M
    # points: the [K, H, H] Jacobians of every checkpoint at once would not fit when vmapped
    # over many checkpoints.
    chunk = n_keep
    dh, step = jax.lax.map(direction, h, batch_size=chunk)
    done = jnp.zeros(n_init, bool)
    n_pre = min(int(n_select_newton_steps), n_newton_steps) if n_keep < n_init else 0
    if n_keep < n_init:
        h, q, first, dh, step, done = newton(h, q, first, dh, step, done, 0, n_pre)
        # A point whose step was rejected will not move again: unless it is already a
        # fixed point it can find none, so it is chosen last and covers nothing.
        stuck = done & ~((q < tol_q) & (step <= tol_step))
        sel = _select_distinct(h + dh, jnp.where(stuck, jnp.inf, step), n_keep, tol_unique,
                               converged=tol_step)
        h, q, first, x_init, dh, step, done = (a[sel] for a in (h, q, first, x_init, dh,
                                                                step, done))
    h, q, first, dh, step, _ = newton(h, q, first, dh, step, done, n_pre,
                                      n_newton_steps - n_pre)

    # 4. validity --------------------------------------------------------------------------
    fh = jax.vmap(f)(h)
    q = jnp.where(jnp.all(jnp.isfinite(h), -1), q_all(h), jnp.inf)
    candidate = (q < tol_q) & (step <= tol_step)
    if outlier_distance_scale is not None:
        ref = h0 if reference is None else jnp.asarray(reference, h0.dtype)
        centroid = ref.mean(0)
        scale = jnp.linalg.norm(ref - centroid, axis=-1).mean()
        candidate &= jnp.linalg.norm(h - centroid, axis=-1) <= outlier_distance_scale * scale
    valid = _greedy_unique(h, candidate, q, tol_unique, step)

    # 5. linearisation ---------------------------------------------------------------------
    jacobian = jax.vmap(jax.jacfwd(f))(h)
    # Invalid slots get a zero matrix: LAPACK finishes it ~10x faster than a dense one.
    lam = jnp.linalg.eigvals(jnp.where(valid[:, None, None], jacobian, 0.0))
    lam = jnp.where(valid[:, None], sort_eigvals(lam), jnp.nan)
    is_stable = valid & (jnp.abs(lam[:, 0]) < 1.0)
    return FixedPoints(xstar=h, x_init=x_init,
                       inputs=jnp.broadcast_to(x_star, (h.shape[0],) + x_star.shape),
                       F_xstar=fh, qstar=q, n_iters=first, jacobian=jacobian, eigvals=lam,
                       is_stable=is_stable, valid=valid)
