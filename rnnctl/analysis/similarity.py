"""Similarity of many networks' dynamics (DSA) and of their state geometry, all pairs at once.

Dynamical Similarity Analysis (DSA; Ostrow et al. 2023) compares two systems by the linear
operators that best advance their delay-embedded trajectories, up to an orthogonal change of
coordinates:

1. Delay embedding: z_t = [h_t, h_{t+1}, …, h_{t+d−1}] (d = `n_delays`), per episode; the
   rows z_t of all episodes form the Hankel matrix Z [n, d·H].
2. Reduced-rank DMD: Z = U S Vᵀ; the first r (`rank`) columns of U are the system's
   coordinates over time (whitened: each has unit norm; computed from the eigenvectors of
   the smaller of ZᵀZ and ZZᵀ), each column's sign fixed so that
   its largest-magnitude entry is positive; A [r, r] is the least-squares operator with
   u_{t+1} ≈ A u_t over consecutive rows of one episode. An orthogonal transform of the
   states (a rotation of h) leaves U, and hence A, unchanged.
3. Distance: d(A, B) = min over orthogonal C of ‖A − C B Cᵀ‖_F (`metric="euclidean"`), or
   the angle arccos(⟨A, C B Cᵀ⟩_F / (‖A‖_F ‖B‖_F)) at the C that minimises ‖Â − C B̂ Cᵀ‖_F
   for the unit-norm Â, B̂ (`metric="angular"`, dsa-metric's "angular" score). C is
   optimised on the orthogonal group as C = C₀ · cay(K), with cay(K) = (I + K)⁻¹(I − K)
   the Cayley map of a skew-symmetric K (from zero) and C₀ a start: the identity,
   alignments of the eigenvectors of the symmetric parts (A + Aᵀ)/2 and (B + Bᵀ)/2 with
   signs fitted to the skew parts, and Haar-random orthogonal matrices (both components
   of O(r) are searched; `_starts`); Adam on K from every start for a few steps, then
   longer from the best few, the lowest loss kept. d is symmetric: d(A, B) = d(B, A).
   (dsa-metric's "euclidean" score differs from this one: it normalises both operators
   first, so it is the chord 2 sin(θ/2) of the angle; docs/methods.md §8.)

`dsa` fits all N systems' operators in one vmapped call and all N(N−1)/2 distances in one
compiled program. `procrustes_distance` and `cka` compare the states themselves (their
geometry, time step by time step), which DSA's point is that dynamics may not share.

A system with any non-finite state is fitted on zeros and its row and column of the
result are NaN (the diagonal too); every other entry is computed as if it were absent.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import struct

__all__ = ["DMD", "delay_embed", "dmd", "dsa", "dsa_distance", "procrustes_distance", "cka",
           "mds"]

METRICS = ("euclidean", "angular")


@struct.dataclass
class DMD:
    """Reduced-rank DMD operators of N systems (one row per system).

    Attributes:
      A: [N, r, r] operator in each system's whitened delay coordinates, u_{t+1} ≈ A u_t.
      singular_values: [N, r] the leading singular values of each Hankel matrix.
      valid: [N] bool: the system's trajectories are finite (A of an invalid system is that
        of zeros).
    """

    A: jax.Array
    singular_values: jax.Array
    valid: jax.Array


def _as_episodes(trajectories, name: str = "trajectories") -> jax.Array:
    """[N, T, H] or [N, E, T, H] → [N, E, T, H] (a float array), or a one-line refusal."""
    x = jnp.asarray(trajectories)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be [N, T, H] or [N, E, T, H] (systems, [episodes,] "
                         f"steps, units), got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def _check_dmd_args(shape, n_delays: int, rank: int) -> None:
    _, n_ep, steps, size = shape
    if not isinstance(n_delays, int) or n_delays < 1:
        raise ValueError(f"n_delays must be an integer ≥ 1, got {n_delays!r}")
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be an integer ≥ 1, got {rank!r}")
    if steps < n_delays + 1:
        raise ValueError(f"trajectories of T={steps} steps are too short for n_delays="
                         f"{n_delays} (need T ≥ n_delays + 1 = {n_delays + 1})")
    if rank > n_delays * size:
        raise ValueError(f"rank={rank} is above the embedding size n_delays·H = "
                         f"{n_delays}·{size} = {n_delays * size}")
    pairs = n_ep * (steps - n_delays)
    if rank > pairs:
        raise ValueError(f"trajectories give {pairs} consecutive delay-embedded pairs "
                         f"(E={n_ep}, T={steps}, n_delays={n_delays}), fewer than rank={rank}")


def delay_embed(trajectories: jax.Array, n_delays: int) -> jax.Array:
    """Delay embedding z_t = [h_t, …, h_{t+d−1}] along the step axis.

    Args:
      trajectories: [..., T, H].
      n_delays: d ≥ 1 (d = 1: the states themselves).
    Returns:
      [..., T − d + 1, d·H].
    """
    steps = trajectories.shape[-2]
    parts = [trajectories[..., k:steps - n_delays + 1 + k, :] for k in range(n_delays)]
    return jnp.concatenate(parts, axis=-1)


def _dmd_one(x: jax.Array, n_delays: int, rank: int):
    """A [r, r], singular values [r], valid [] of one system's episodes x [E, T, H]."""
    valid = jnp.all(jnp.isfinite(x))
    x = jnp.where(valid, x, 0.0)
    z = delay_embed(x, n_delays)                                   # [E, T', D]
    n_ep, n_t = z.shape[:2]
    z = z.reshape(n_ep * n_t, -1)
    # The top-r left singular vectors from the eigenvectors of the smaller Gram matrix:
    # several times faster on a CPU than the SVD of the tall Z, and only r are needed.
    if z.shape[0] <= z.shape[1]:
        ev, u = jnp.linalg.eigh(z @ z.T)                           # ascending
        u, s = u[:, ::-1][:, :rank], jnp.sqrt(jnp.maximum(ev[::-1][:rank], 0.0))
    else:
        ev, v = jnp.linalg.eigh(z.T @ z)
        v, s = v[:, ::-1][:, :rank], jnp.sqrt(jnp.maximum(ev[::-1][:rank], 0.0))
        u = (z @ v) / jnp.maximum(s, jnp.finfo(z.dtype).tiny)
    pivot = jnp.take_along_axis(u, jnp.argmax(jnp.abs(u), 0)[None], 0)[0]
    u = u * jnp.where(pivot < 0, -1.0, 1.0)
    u = u.reshape(n_ep, n_t, rank)
    past = u[:, :-1].reshape(-1, rank)
    future = u[:, 1:].reshape(-1, rank)
    a = (jnp.linalg.pinv(past) @ future).T                         # u_{t+1} = A u_t
    return a, s, valid


def dmd(trajectories: jax.typing.ArrayLike, n_delays: int, rank: int) -> DMD:
    """Reduced-rank DMD operators of N systems in one vmapped call (module docstring, 1–2).

    Args:
      trajectories: [N, T, H] one trajectory per system, or [N, E, T, H] E episodes per
        system (delays never span two episodes).
      n_delays: d, states per delay vector (≥ 1).
      rank: r ≤ d·H, the number of delay coordinates kept.
    Returns:
      `DMD` with A [N, r, r].
    Raises:
      ValueError: bad shapes, trajectories too short for the delays or the rank, rank above
        the embedding size (one line naming the argument).
    """
    x = _as_episodes(trajectories)
    _check_dmd_args(x.shape, n_delays, rank)
    return _dmd_all(x, n_delays, rank)


@partial(jax.jit, static_argnames=("n_delays", "rank"))
def _dmd_all(x, n_delays: int, rank: int) -> DMD:
    a, s, valid = jax.vmap(lambda xi: _dmd_one(xi, n_delays, rank))(x)
    return DMD(A=a, singular_values=s, valid=valid)


def _cayley(k: jax.Array) -> jax.Array:
    eye = jnp.eye(k.shape[-1], dtype=k.dtype)
    return jnp.linalg.solve(eye + k, eye - k)


def _best_signs(m: jax.Array, d: jax.Array, sweeps: int = 3) -> jax.Array:
    """Signs d ∈ {±1}^r raising dᵀ M d (M symmetric) by single flips, from d: [r]."""
    r = m.shape[0]
    m = m * (1.0 - jnp.eye(r, dtype=m.dtype))

    def flip(k, d):
        i = k % r
        gain = -4.0 * d[i] * (m[i] @ d)                 # change of dᵀMd if d_i flips
        return d.at[i].multiply(jnp.where(gain > 0, -1.0, 1.0))

    return jax.lax.fori_loop(0, sweeps * r, flip, d)


def _starts(a: jax.Array, b: jax.Array, key: jax.Array, n_starts: int) -> jax.Array:
    """[n_starts, r, r] orthogonal starts for min ‖A − C B Cᵀ‖ (module docstring, 3).

    Start 0 is the identity. Spectral starts align the eigenvectors of the symmetric
    parts, C = P_A D P_Bᵀ (sym(X) = P_X Λ_X P_Xᵀ, eigenvalues in the same order: the
    global optimum for the symmetric parts alone, whatever the signs D). The signs then
    fit the skew parts: with X = P_Aᵀ skew(A) P_A and Y = P_Bᵀ skew(B) P_B, the loss is
    const − 2 dᵀ (X ∘ Y) d, raised by single sign flips from the signs of the leading
    eigenvector of X ∘ Y (start 1; exact when A = C B Cᵀ with distinct eigenvalues of
    sym(B)) and from random signs (about half of the rest). The others are Haar-random
    orthogonal matrices, so both components of O(r) are searched from anywhere.
    """
    r = a.shape[-1]
    if n_starts == 1:
        return jnp.eye(r, dtype=a.dtype)[None]
    k_sign, k_haar = jax.random.split(key)
    _, pa = jnp.linalg.eigh(0.5 * (a + a.T))
    _, pb = jnp.linalg.eigh(0.5 * (b + b.T))
    x = pa.T @ (0.5 * (a - a.T)) @ pa
    y = pb.T @ (0.5 * (b - b.T)) @ pb
    m = x * y
    n_spec = (n_starts - 1) // 2 + 1
    lead = jnp.linalg.eigh(m)[1][:, -1]
    d0 = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n_spec, r)), -1.0, 1.0).astype(a.dtype)
    d0 = d0.at[0].set(jnp.where(lead < 0, -1.0, 1.0).astype(a.dtype))
    signs = jax.vmap(lambda d: _best_signs(m, d))(d0)
    spectral = jnp.einsum("ij,nj,kj->nik", pa, signs, pb)
    g = jax.random.normal(k_haar, (n_starts, r, r), a.dtype)
    q, rr = jnp.linalg.qr(g)
    haar = q * jnp.sign(jnp.diagonal(rr, axis1=-2, axis2=-1))[:, None, :]
    c0 = haar.at[1:1 + n_spec].set(spectral[: n_starts - 1])
    return c0.at[0].set(jnp.eye(r, dtype=a.dtype))


def _pair_distance(a, b, key, n_starts: int, n_explore: int, n_keep: int, n_steps: int,
                   learning_rate: float, metric: str):
    """The distance of one pair (module docstring, 3): every start for `n_explore` Adam
    steps, then the `n_keep` best of them for `n_steps` more; the lowest loss seen."""
    r = a.shape[-1]
    if metric == "angular":
        a = a / jnp.maximum(jnp.linalg.norm(a), 1e-30)
        b = b / jnp.maximum(jnp.linalg.norm(b), 1e-30)
    c0 = _starts(a, b, key, n_starts)

    def loss(w, c_start):
        c = c_start @ _cayley(w - w.T)
        d = a - c @ b @ c.T
        return jnp.sum(d * d)

    def run(c_start, steps: int):
        """Adam on K = w − wᵀ from C = c_start: (lowest loss, C at the end)."""
        opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.1))
        w = jnp.zeros((r, r), a.dtype)

        def step(carry, _):
            w, state, best = carry
            val, g = jax.value_and_grad(loss)(w, c_start)
            best = jnp.minimum(best, val)
            upd, state = opt.update(g, state, w)
            return (optax.apply_updates(w, upd), state, best), None

        (w, _, best), _ = jax.lax.scan(step, (w, opt.init(w), jnp.inf), None, steps)
        return jnp.minimum(best, loss(w, c_start)), c_start @ _cayley(w - w.T)

    best, c_end = jax.vmap(lambda c: run(c, n_explore))(c0)
    sq = jnp.min(best)
    if n_keep > 0 and n_steps > 0:
        top = jnp.argsort(best)[:n_keep]
        best2, _ = jax.vmap(lambda c: run(c, n_steps))(c_end[top])
        sq = jnp.minimum(sq, jnp.min(best2))
    if metric == "euclidean":
        return jnp.sqrt(jnp.maximum(sq, 0.0))
    # ‖Â − C B̂ Cᵀ‖² = 2 − 2 cos θ for unit-norm Â, B̂.
    return jnp.arccos(jnp.clip(1.0 - 0.5 * sq, -1.0, 1.0))


def dsa_distance(ops: DMD | jax.Array, *, key: jax.Array | None = None, n_starts: int = 16,
                 n_steps: int = 300, n_explore_steps: int | None = None, n_keep: int = 2,
                 learning_rate: float = 0.03, metric: str = "euclidean",
                 chunk: int = 1024) -> jax.Array:
    """All pairwise DSA distances of N operators (module docstring, 3), one compiled program.

    Args:
      ops: `DMD` (invalid systems give NaN rows and columns) or operators [N, r, r].
      key: PRNG key of the random starts (default `jax.random.key(0)`).
      n_starts: starts per pair (the identity, spectral alignments and random ones; see
        `_starts`), each optimised for `n_explore_steps`.
      n_steps: Adam steps of each of the `n_keep` best starts after that.
      n_explore_steps: Adam steps of every start (default n_steps // 3).
      n_keep: starts refined for `n_steps` (0: none). The cost per pair is
        n_starts · n_explore_steps + n_keep · n_steps Adam steps on r × r matrices.
      learning_rate: peak Adam learning rate (cosine-decayed to 10%).
      metric: "euclidean" (min ‖A − C B Cᵀ‖_F) or "angular" (radians, in [0, π]).
      chunk: pairs optimised at once (bounds memory; not the result).
    Returns:
      [N, N] symmetric distances with zero diagonal.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if isinstance(ops, DMD):
        a, valid = ops.A, ops.valid
    else:
        a = jnp.asarray(ops)
        valid = jnp.all(jnp.isfinite(a), axis=(-2, -1)) if a.ndim == 3 else None
    if a.ndim != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"ops must be operators [N, r, r], got shape {a.shape}")
    n_explore = max(n_steps // 3, 1) if n_explore_steps is None else int(n_explore_steps)
    if n_starts < 1 or n_steps < 0 or n_explore < 1 or n_keep < 0:
        raise ValueError(f"n_starts and n_explore_steps must be ≥ 1 and n_steps, n_keep ≥ 0, "
                         f"got {n_starts}, {n_explore}, {n_steps}, {n_keep}")
    key = jax.random.key(0) if key is None else key
    return _pairwise(a, valid, key, int(n_starts), n_explore, min(int(n_keep), int(n_starts)),
                     int(n_steps), float(learning_rate), metric, int(chunk))


@partial(jax.jit, static_argnames=("n_starts", "n_explore", "n_keep", "n_steps",
                                   "learning_rate", "metric", "chunk"))
def _pairwise(a, valid, key, n_starts, n_explore, n_keep, n_steps, learning_rate, metric,
              chunk):
    n = a.shape[0]
    a = jnp.where(valid[:, None, None], a, 0.0)
    i, j = jnp.triu_indices(n, k=1)
    keys = jax.random.split(key, max(i.shape[0], 1))[: i.shape[0]]

    def one(args):
        ii, jj, k = args
        return _pair_distance(a[ii], a[jj], k, n_starts, n_explore, n_keep, n_steps,
                              learning_rate, metric)

    d = jax.lax.map(one, (i, j, keys), batch_size=max(1, min(chunk, i.shape[0])))
    out = jnp.zeros((n, n), a.dtype).at[i, j].set(d).at[j, i].set(d)
    bad = ~valid
    return jnp.where(bad[:, None] | bad[None, :], jnp.nan, out)


def dsa(trajectories: jax.typing.ArrayLike, n_delays: int, rank: int, *,
        key: jax.Array | None = None, n_starts: int = 16, n_steps: int = 300,
        n_explore_steps: int | None = None, n_keep: int = 2, learning_rate: float = 0.03,
        metric: str = "euclidean") -> jax.Array:
    """DSA distances between every pair of N systems: delay embedding, DMD, Procrustes.

    Args:
      trajectories: [N, T, H] (or [N, E, T, H] with E episodes per system) hidden states.
      n_delays: d, states per delay vector (≥ 1; T ≥ d + 1).
      rank: r ≤ d·H, DMD rank.
      key, n_starts, n_steps, n_explore_steps, n_keep, learning_rate, metric: as in
        `dsa_distance`.
    Returns:
      [N, N] symmetric distances, zero diagonal; NaN row and column for a system with
      non-finite states.
    Raises:
      ValueError: one line naming the argument (shapes, too short for the delays or the
        rank, rank above the embedding size, unknown metric).
    """
    ops = dmd(trajectories, n_delays, rank)
    return dsa_distance(ops, key=key, n_starts=n_starts, n_steps=n_steps,
                        n_explore_steps=n_explore_steps, n_keep=n_keep,
                        learning_rate=learning_rate, metric=metric)


def _centred_unit(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples [M, H] centred and scaled to unit Frobenius norm, and whether finite."""
    ok = jnp.all(jnp.isfinite(x))
    x = jnp.where(ok, x, 0.0)
    x = x - x.mean(0)
    return x / jnp.maximum(jnp.linalg.norm(x), 1e-30), ok


def procrustes_distance(trajectories: jax.typing.ArrayLike) -> jax.Array:
    """Angular Procrustes shape distance between every pair of systems' states.

    States are compared step by step (row t of one system with row t of the other: the
    systems must be driven by the same inputs), after centring each system and scaling it
    to unit Frobenius norm: d = arccos ‖XᵀY‖_* (nuclear norm; Williams et al. 2021), the
    angle between X and Y after the best rotation of Y. A metric, in [0, π/2].

    Args:
      trajectories: [N, T, H] or [N, E, T, H] (all leading axes after N are samples).
    Returns:
      [N, N] symmetric, zero diagonal; NaN row and column for a non-finite system.
    """
    x = _as_episodes(trajectories)
    return _procrustes(x.reshape(x.shape[0], -1, x.shape[-1]))


@jax.jit
def _procrustes(x):
    xs, ok = jax.vmap(_centred_unit)(x)

    def row(xi):
        nuc = jax.vmap(lambda y: jnp.sum(jnp.linalg.svd(xi.T @ y, compute_uv=False)))(xs)
        return jnp.arccos(jnp.clip(nuc, -1.0, 1.0))

    d = jax.lax.map(row, xs)
    d = 0.5 * (d + d.T)
    d = d * (1.0 - jnp.eye(x.shape[0], dtype=d.dtype))
    return jnp.where(ok[:, None] & ok[None, :], d, jnp.nan)


def cka(trajectories: jax.typing.ArrayLike) -> jax.Array:
    """Linear CKA similarity between every pair of systems' states (Kornblith et al. 2019).

    CKA(X, Y) = ‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F) for centred states compared step by step, in
    [0, 1], 1 for states equal up to rotation and scale; 1 − CKA is a dissimilarity (not a
    metric).

    Args:
      trajectories: [N, T, H] or [N, E, T, H].
    Returns:
      [N, N] symmetric similarities, ones on the diagonal; NaN row and column for a
      non-finite system.
    """
    x = _as_episodes(trajectories)
    return _cka(x.reshape(x.shape[0], -1, x.shape[-1]))


@jax.jit
def _cka(x):
    xs, ok = jax.vmap(_centred_unit)(x)
    gram = jax.vmap(lambda a: a.T @ a)(xs)                          # [N, H, H]
    norms = jnp.linalg.norm(gram, axis=(-2, -1))
    cross = jax.lax.map(lambda a: jax.vmap(lambda b: jnp.sum((b.T @ a) ** 2))(xs), xs)
    s = cross / jnp.maximum(norms[:, None] * norms[None, :], 1e-30)
    s = jnp.where(jnp.eye(x.shape[0], dtype=bool), 1.0, 0.5 * (s + s.T))
    return jnp.where(ok[:, None] & ok[None, :], s, jnp.nan)


def mds(distances: jax.typing.ArrayLike, n_components: int = 2) -> jax.Array:
    """Classical (Torgerson) multidimensional scaling of a distance matrix.

    The points whose Euclidean distances best match `distances` in the sense of the
    double-centred Gram matrix B = −½ J D² J (J = I − 11ᵀ/N): the top eigenvectors of B
    scaled by the square roots of their eigenvalues (negative ones clipped at 0). Each
    axis's sign is fixed so that its largest-magnitude coordinate is positive.

    Args:
      distances: [N, N] symmetric, finite (drop NaN rows and columns first).
      n_components: k ≤ N output dimensions.
    Returns:
      [N, k] coordinates.
    """
    d = jnp.asarray(distances)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances must be [N, N], got shape {d.shape}")
    if not 0 < n_components <= d.shape[0]:
        raise ValueError(f"n_components must lie in [1, {d.shape[0]}], got {n_components}")
    n = d.shape[0]
    j = jnp.eye(n, dtype=d.dtype) - 1.0 / n
    b = -0.5 * j @ (d * d) @ j
    ev, vec = jnp.linalg.eigh(0.5 * (b + b.T))
    ev, vec = ev[::-1][:n_components], vec[:, ::-1][:, :n_components]
    pivot = jnp.take_along_axis(vec, jnp.argmax(jnp.abs(vec), 0)[None], 0)[0]
    vec = vec * jnp.where(pivot < 0, -1.0, 1.0)
    return vec * jnp.sqrt(jnp.maximum(ev, 0.0))
