"""Fixed points of an RNN (Fig 1c, 1d): speed q, optax minimisation, Newton, Jacobians.

A fixed point of the autonomous map F(h) = cell(h, x*) at a constant input x* solves
F(h) = h. We minimise the speed q(h) = ½‖F(h) − h‖² from many initial states at once with
an optax optimiser (a fixed number of steps inside `lax.scan`), refine with Newton steps on
F(h) − h = 0, then keep the points with q < `tol_q`, drop duplicates and distance outliers,
and linearise: J = ∂F/∂h (`jax.jacfwd`), its eigenvalues, stable iff max|λ| < 1.

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

__all__ = ["FixedPoints", "find_fixed_points", "sample_initial_states", "rnn_cell",
           "speed", "sort_eigvals"]

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
      valid: [K] bool: q < tol_q, not a distance outlier, and not a duplicate of a valid
        point with lower q.
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
                          noise_scale: float = 0.01) -> jax.Array:
    """Initial states for the search: visited hidden states plus Gaussian noise.

    Args:
      hidden_states: [..., H] visited states (e.g. a rollout's h [E, T, H]).
      n: number of initial states K (drawn without replacement when n ≤ the number of
        visited states).
      key: PRNG key.
      noise_scale: standard deviation of the added noise.
    Returns:
      [n, H] initial states.
    """
    h = jnp.reshape(jnp.asarray(hidden_states), (-1, hidden_states.shape[-1]))
    k_idx, k_noise = jax.random.split(key)
    idx = jax.random.choice(k_idx, h.shape[0], (n,), replace=n > h.shape[0])
    return h[idx] + noise_scale * jax.random.normal(k_noise, (n, h.shape[-1]), h.dtype)


def _greedy_unique(points: jax.Array, candidate: jax.Array, q: jax.Array,
                   tol: float) -> jax.Array:
    """[K] bool: candidates kept greedily in order of q, dropping any within `tol` of a kept one."""
    order = jnp.argsort(jnp.where(candidate, q, jnp.inf))

    def body(i, keep):
        j = order[i]
        # Distances from one point at a time: a [K, K] matrix would not fit when vmapped
        # over a thousand checkpoints, and the ‖a‖² + ‖b‖² − 2ab form loses tol to rounding.
        d = jnp.sqrt(jnp.sum((points - points[j]) ** 2, axis=-1))
        dup = jnp.any(keep & (d < tol))
        return keep.at[j].set(candidate[j] & ~dup)

    return jax.lax.fori_loop(0, points.shape[0], body, jnp.zeros(points.shape[0], bool))


def find_fixed_points(cell: Callable[[jax.Array, jax.Array], jax.Array], x_star: jax.Array,
                      initial_states: jax.Array, *,
                      optimizer: optax.GradientTransformation | None = None,
                      learning_rate: float = 0.1, n_opt_steps: int = 500,
                      n_newton_steps: int = 5, tol_q: float = 1e-10,
                      tol_unique: float = 1e-3, outlier_distance_scale: float | None = 10.0,
                      max_points: int | None = None) -> FixedPoints:
    """Fixed points of h ↦ cell(h, x*) from K initial states at once.

    1. Minimise q(h) = ½‖cell(h, x*) − h‖² from every initial state with `optimizer`
       (default: Adam, `learning_rate` cosine-decayed to 1% over `n_opt_steps` so that it
       settles instead of jittering), each point independently (the optimiser is vmapped
       over points); the lowest-q iterate of each point is kept.
    2. If `max_points` M < K: keep the M lowest-q of the distinct end points (duplicates
       within `tol_unique` of a lower-q one go last), so Newton and the Jacobians only run
       on M slots. This is what makes thousands of checkpoints cheap; K = M in the result.
    3. `n_newton_steps` Newton steps: solve (J − I) dh = −(F(h) − h); take the full step,
       else the half step, only if it lowers q (a singular J − I gives NaN: rejected).
    4. valid = q < tol_q, ‖xstar − c‖ ≤ outlier_distance_scale · mean‖x_init − c‖ with c
       the centroid of the initial states (FixedPointFinder's outlier rule; None: off),
       and not within `tol_unique` of a valid point with lower q.
    5. J by `jax.jacfwd` at every slot; eigenvalues for valid slots (invalid ones are
       zeroed before `eigvals`, which makes them nearly free, and reported as NaN).

    Pure and fixed-shape: jit it, vmap it over checkpoints/agents (`cell` may close over
    traced parameters). Eigenvalues use `jnp.linalg.eigvals` (LAPACK on CPU).

    Args:
      cell: pure `cell(h [H], x [I]) -> h' [H]`, e.g. `rnn_cell(params)`.
      x_star: [I] constant input.
      initial_states: [K, H] starting points (e.g. `sample_initial_states`).
      optimizer: an optax transformation (vmapped over points); overrides `learning_rate`.
      learning_rate: peak Adam learning rate of the default optimiser.
      n_opt_steps: optimiser steps (fixed count, inside `lax.scan`).
      n_newton_steps: Newton refinement steps.
      tol_q: a point is a fixed point if q < tol_q (in float32, q bottoms out near 1e-13
        for H = 64; slow points that are not fixed points stall far above).
      tol_unique: points closer than this (Euclidean) are duplicates.
      outlier_distance_scale: outlier threshold in units of the initial states' mean
        distance from their centroid; None keeps all.
      max_points: M, the number of slots refined and returned (None: K).
    Returns:
      `FixedPoints` with K (or M) slots.
    """
    h0 = jnp.asarray(initial_states)
    if h0.ndim != 2:
        raise ValueError(f"initial_states must be [K, H], got shape {h0.shape}")
    n_init, hidden = h0.shape
    x_star = jnp.asarray(x_star, h0.dtype)
    n_keep = n_init if max_points is None else min(int(max_points), n_init)

    def f(h):
        return cell(h, x_star)

    def q_point(h):
        r = f(h) - h
        return 0.5 * jnp.sum(r * r)

    q_all = jax.vmap(q_point)
    value_and_grad = jax.vmap(jax.value_and_grad(q_point))

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

    carry = (h0, opt_state, h0, jnp.full((n_init,), jnp.inf, h0.dtype),
             jnp.full((n_init,), never, jnp.int32))
    (h, _, best_h, best_q, first), _ = jax.lax.scan(
        opt_step, carry, jnp.arange(n_opt_steps, dtype=jnp.int32))
    q_end = jnp.where(jnp.isfinite(q_all(h)), q_all(h), jnp.inf)
    better = q_end < best_q
    h = jnp.where(better[:, None], h, best_h)
    q = jnp.where(better, q_end, best_q)
    first = jnp.where((first == never) & (q < tol_q), n_opt_steps, first)

    # 2. keep M slots ----------------------------------------------------------------------
    x_init = h0
    if n_keep < n_init:
        distinct = _greedy_unique(h, jnp.isfinite(q), q, tol_unique)
        sel = jnp.lexsort((q, (~distinct).astype(jnp.int32)))[:n_keep]
        h, q, first, x_init = h[sel], q[sel], first[sel], h0[sel]

    # 3. Newton ----------------------------------------------------------------------------
    eye = jnp.eye(hidden, dtype=h0.dtype)
    jac = jax.vmap(jax.jacfwd(f))

    def newton_step(carry, j):
        h, q, first = carry
        r = jax.vmap(f)(h) - h
        dh = jnp.linalg.solve(jac(h) - eye, -r[..., None])[..., 0]
        h_full, h_half = h + dh, h + 0.5 * dh
        q_full, q_half = q_all(h_full), q_all(h_half)
        q_full = jnp.where(jnp.isfinite(q_full), q_full, jnp.inf)
        q_half = jnp.where(jnp.isfinite(q_half), q_half, jnp.inf)
        use_full = (q_full < q) & (q_full <= q_half)
        use_half = (q_half < q) & ~use_full
        h = jnp.where(use_full[:, None], h_full, jnp.where(use_half[:, None], h_half, h))
        q = jnp.where(use_full, q_full, jnp.where(use_half, q_half, q))
        first = jnp.where((first == never) & (q < tol_q), n_opt_steps + j + 1, first)
        return (h, q, first), None

    (h, q, first), _ = jax.lax.scan(newton_step, (h, q, first),
                                    jnp.arange(n_newton_steps, dtype=jnp.int32))

    # 4. validity --------------------------------------------------------------------------
    fh = jax.vmap(f)(h)
    q = jnp.where(jnp.all(jnp.isfinite(h), -1), q_all(h), jnp.inf)
    candidate = q < tol_q
    if outlier_distance_scale is not None:
        centroid = h0.mean(0)
        scale = jnp.linalg.norm(h0 - centroid, axis=-1).mean()
        candidate &= jnp.linalg.norm(h - centroid, axis=-1) <= outlier_distance_scale * scale
    valid = _greedy_unique(h, candidate, q, tol_unique)

    # 5. linearisation ---------------------------------------------------------------------
    jacobian = jac(h)
    # Invalid slots get a zero matrix: LAPACK finishes it ~10x faster than a dense one.
    lam = jnp.linalg.eigvals(jnp.where(valid[:, None, None], jacobian, 0.0))
    lam = jnp.where(valid[:, None], sort_eigvals(lam), jnp.nan)
    is_stable = valid & (jnp.abs(lam[:, 0]) < 1.0)
    return FixedPoints(xstar=h, x_init=x_init,
                       inputs=jnp.broadcast_to(x_star, (h.shape[0],) + x_star.shape),
                       F_xstar=fh, qstar=q, n_iters=first, jacobian=jacobian, eigvals=lam,
                       is_stable=is_stable, valid=valid)
