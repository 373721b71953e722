"""`find_fixed_points` on networks whose fixed points are known exactly, in float32 with the
defaults the pipeline uses (K = 256 initial states, max_points = 32, tol_q = 1e-10).

The networks are diagonal up to a permutation of the units: h' = tanh(P (w ⊙ P⁻¹h) + b), so
every fixed point is a product of the roots of the scalar equations tanh(w_i h + b_i) = h,
found in float64 by bracketing (brentq). A unit with w > 1, b = 0 has three roots 0 (unstable, slope
w) and ±h* (stable, slope w (1 − h*²) < 1); with w barely above 1 the three are close
together and the speed landscape between them is flat (q ≈ (εh − h³/3)² / 2, a near-triple
root), which is where near-converged copies used to pass as extra fixed points. The other
units contract (|w| < 1, random bias: a single stable root). One network also has a 2×2
block R diag(w₁, w₂) Rᵀ whose slow direction is not along a unit (Adam, which rescales each
coordinate, converges slowly along it); its roots come from float64 Newton on a grid.
Every reported point is also checked with float64 Newton in numpy.

Two bugs these pin down (each case fails on the code before the fix):
- `max_points` dropped duplicates before Newton, when copies heading for one fixed point
  were still > tol_unique apart, and then filled its slots with the lowest-q copies: a
  fixed point the unrestricted search finds was lost.
- q < tol_q alone passed points still creeping towards a slow fixed point (q ~ d⁶ near a
  near-triple root), so 13 "fixed points" (4 with max_points = 32) were reported where
  there are 3, and 17 (10) where there are 9.
"""
import rnnctl  # noqa: F401

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from rnnctl.analysis import find_fixed_points

H = 64


def unit_roots(w, b):
    """Every root of tanh(w h + b) = h (float64, bracketed on a fine grid, then brentq)."""
    if b == 0.0 and w > 1.0:
        # tanh(w h) − h > 0 just above 0 (slope w − 1) and < 0 at 1.
        h_pos = optimize.brentq(lambda h: np.tanh(w * h) - h, 1e-12, 1.0, xtol=1e-16,
                                rtol=1e-15)
        return np.array([-h_pos, 0.0, h_pos])
    g = np.linspace(-1.0, 1.0, 40001)
    f = np.tanh(w * g + b) - g
    idx = np.flatnonzero(np.sign(f[:-1]) != np.sign(f[1:]))
    return np.array([optimize.brentq(lambda h: np.tanh(w * h + b) - h, g[i], g[i + 1],
                                     xtol=1e-16, rtol=1e-15) for i in idx])


def block_roots(A):
    """Every root of tanh(A h) = h in 2-D (float64 Newton from a 41 × 41 grid, deduplicated)."""
    roots = []
    for x in itertools.product(np.linspace(-1, 1, 41), repeat=2):
        x = np.array(x)
        for _ in range(100):
            F = np.tanh(A @ x)
            x = x - np.linalg.solve((1 - F**2)[:, None] * A - np.eye(2), F - x)
            if not np.abs(x).max() < 1:
                break
        if (np.abs(x).max() < 1 and np.linalg.norm(np.tanh(A @ x) - x) < 1e-15
                and not any(np.linalg.norm(x - y) < 1e-9 for y in roots)):
            roots.append(x)
    return roots


def diagonal_network(units, block=None, seed=1):
    """W [H, H], b [H] and every fixed point [N, H] with its stability [N].

    units: (w, b) of the first scalar units (before the permutation); the rest contract.
    block: optional 2×2 matrix A placed before them (bias 0); its roots by `block_roots`.
    """
    rng = np.random.default_rng(seed)
    n_block = 0 if block is None else 2
    k = n_block + len(units)
    w = np.concatenate([[u[0] for u in units], rng.uniform(-0.9, 0.9, H - k)])
    b = np.concatenate([np.zeros(n_block), [u[1] for u in units],
                        rng.uniform(-1.0, 1.0, H - k)])
    W = np.zeros((H, H))
    W[n_block:, n_block:] = np.diag(w)
    roots = [unit_roots(wi, bi) for wi, bi in zip(w, b[n_block:])]
    assert all(len(r) == 1 for r in roots[len(units):])
    if block is not None:
        W[:2, :2] = block
        roots = [block_roots(np.asarray(block))] + roots
    points = np.array([np.hstack(c) for c in itertools.product(*roots)])
    stable = np.array([np.abs(np.linalg.eigvals((1 - p**2)[:, None] * W)).max() < 1
                       for p in points])
    perm = rng.permutation(H)                 # unit i of the network is unit perm[i] above
    return W[perm][:, perm], b[perm], points[:, perm], stable


def newton64(W, b, x, n_steps=100):
    """Float64 Newton on tanh(W x + b) = x from x; returns the limit and its residual."""
    x = np.asarray(x, np.float64)
    for _ in range(n_steps):
        F = np.tanh(W @ x + b)
        J = (1 - F**2)[:, None] * W - np.eye(len(x))
        x = x - np.linalg.solve(J, F - x)
    return x, np.linalg.norm(np.tanh(W @ x + b) - x)


@functools.lru_cache(maxsize=None)
def _search(max_points, n_newton_steps):
    """One compiled search per setting; the weights are arguments, so networks share it."""
    kw = {} if n_newton_steps is None else {"n_newton_steps": n_newton_steps}

    def run(W, b, h0):
        cell = lambda h, x: jnp.tanh(h @ W.T + b)  # noqa: E731
        return find_fixed_points(cell, jnp.zeros(1), h0, max_points=max_points, **kw)

    return jax.jit(run)


def search(W, b, h0, max_points=None, n_newton_steps=None):
    return _search(max_points, n_newton_steps)(jnp.asarray(W, jnp.float32),
                                               jnp.asarray(b, jnp.float32),
                                               jnp.asarray(h0, jnp.float32))


def uniform_starts(seed=2, n=256, scale=1.2):
    return np.asarray(jax.random.uniform(jax.random.key(seed), (n, H), jnp.float32,
                                         -scale, scale))


def assert_exactly(fps, W, b, points, stable, atol=1e-4):
    """The valid slots are exactly the known fixed points: one each, within atol, with the
    right stability; float64 Newton from each lands on its own known point."""
    u = fps.get_unique()
    found = np.asarray(u.xstar, np.float64)
    d = np.linalg.norm(found[:, None] - points[None], axis=-1)
    nearest = d.argmin(1) if len(found) else np.zeros(0, int)
    err = d.min(1) if len(found) else np.zeros(0)
    assert len(found) == len(points), (
        f"{len(found)} fixed points reported, {len(points)} exist; distance of each "
        f"reported one to the nearest true one: {np.array2string(err, precision=2)}")
    assert sorted(nearest) == list(range(len(points))), "two reported points share a root"
    assert err.max() < atol, err
    np.testing.assert_array_equal(u.is_stable, stable[nearest])
    for x, j in zip(found, nearest):
        limit, resid = newton64(W, b, x)
        assert resid < 1e-13
        assert np.linalg.norm(limit - points[j]) < 1e-9


# --------------------------------------------------------------------------- the networks
# Two slow bistable units: 9 fixed points, 4 stable; Adam leaves copies of the slow ones
# 1e-3 … 1e-1 apart (the old max_points path kept 8 of 9).
SLOW_BISTABLE = [(1.002, 0.0), (1.01, 0.0)]
# A near-triple root: 0 and ±0.0173 (slopes 1 + 1e-4 and 1 − 2e-4); q < 1e-10 on a wide
# stretch around them (the old code: 13 points, 4 with max_points = 32).
PITCHFORK = [(1.0001, 0.0)]
# Two of them: 9 fixed points (old: 17, or 10 of which 8 right with max_points = 32).
TWO_PITCHFORKS = [(1.0003, 0.0), (1.001, 0.0)]
# Three ordinary bistable units (27 fixed points, one with a bias): the easy case.
THREE_BISTABLE = [(2.0, 0.0), (1.5, 0.1), (1.2, -0.05)]
# A 2×2 block with eigenvalues 1.01 and −0.5 along directions rotated by 0.6 rad (0 and two
# stable points ±p along the slow direction) and a slow bistable unit: 9 fixed points
# (the old max_points = 9 kept 6).
_R = np.array([[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]])
ROTATED_BLOCK = _R @ np.diag([1.01, -0.5]) @ _R.T
ROTATED = [(1.002, 0.0)]


def network(name):
    return {"slow_bistable": lambda: diagonal_network(SLOW_BISTABLE),
            "pitchfork": lambda: diagonal_network(PITCHFORK),
            "two_pitchforks": lambda: diagonal_network(TWO_PITCHFORKS),
            "three_bistable": lambda: diagonal_network(THREE_BISTABLE),
            "rotated_block": lambda: diagonal_network(ROTATED, block=ROTATED_BLOCK)}[name]()


def test_networks_are_what_the_comments_say():
    for name, n, n_stable in [("slow_bistable", 9, 4), ("pitchfork", 3, 2),
                              ("two_pitchforks", 9, 4), ("three_bistable", 27, 8),
                              ("rotated_block", 9, 4)]:
        W, b, points, stable = network(name)
        assert points.shape == (n, H) and stable.sum() == n_stable, name
        for p in points:                                  # roots to float64 precision
            assert np.linalg.norm(np.tanh(W @ p + b) - p) < 1e-14
    _, _, points, _ = network("pitchfork")
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    assert 0.017 < gaps[gaps > 0].min() < 0.018


@pytest.mark.parametrize("name", ["slow_bistable", "pitchfork", "two_pitchforks",
                                  "three_bistable", "rotated_block"])
@pytest.mark.parametrize("max_points", [None, 32], ids=["all_slots", "max_points_32"])
def test_exactly_the_known_fixed_points(name, max_points):
    W, b, points, stable = network(name)
    fps = search(W, b, uniform_starts(), max_points=max_points)
    assert fps.valid.shape == (256 if max_points is None else max_points,)
    assert_exactly(fps, W, b, points, stable)


@pytest.mark.parametrize("name", ["slow_bistable", "two_pitchforks"])
def test_pipeline_newton_steps(name):
    """The pipeline passes n_newton_steps = 5 (AnalysisOptions.fp_newton_steps)."""
    W, b, points, stable = network(name)
    assert_exactly(search(W, b, uniform_starts(), max_points=32, n_newton_steps=5),
                   W, b, points, stable)


@pytest.mark.parametrize("name", ["slow_bistable", "rotated_block"])
def test_max_points_equal_to_the_number_of_fixed_points(name):
    """9 slots for 9 fixed points: every slot must go to a different one."""
    W, b, points, stable = network(name)
    fps = search(W, b, uniform_starts(), max_points=9)
    assert_exactly(fps, W, b, points, stable)
    assert bool(fps.valid.all())


def clustered_starts(points, stable, n_cloud=224, noise=0.05, seed=3):
    """n_cloud starts in a cloud around one stable fixed point (all heading for it, with
    low q), the other 256 − n_cloud uniform."""
    rng = np.random.default_rng(seed)
    cloud = points[np.flatnonzero(stable)[0]] + noise * rng.standard_normal((n_cloud, H))
    return np.concatenate([cloud, uniform_starts()[:256 - n_cloud]])


@pytest.mark.parametrize("name", ["slow_bistable", "rotated_block", "two_pitchforks"])
@pytest.mark.parametrize("max_points", [9, 32], ids=["max_points_9", "max_points_32"])
def test_clustered_initial_states(name, max_points):
    """Most candidates are near-copies of one stable point; max_points must still keep
    every fixed point that the unrestricted search finds."""
    W, b, points, stable = network(name)
    h0 = clustered_starts(points, stable)
    assert_exactly(search(W, b, h0), W, b, points, stable)
    assert_exactly(search(W, b, h0, max_points=max_points), W, b, points, stable)


@pytest.mark.parametrize("seed", [2, 3, 10, 14])
def test_max_points_keeps_what_the_unrestricted_search_finds(seed):
    """Random gain-2.5/3 networks (4 to 14 fixed points, most reached by one or two of the
    256 starts, Adam ending far from them): max_points = 32 must keep every one of them.
    The code before the fix lost 1, 1, 1 and 3 here."""
    rng = np.random.default_rng(seed)
    gain = [1.5, 2.0, 2.5, 3.0][seed % 4]
    W = gain * rng.normal(0, 1 / np.sqrt(H), (H, H))
    b = rng.normal(0, 0.3, H)
    h0 = uniform_starts(seed, scale=1.0)
    every = np.asarray(search(W, b, h0).get_unique().xstar, np.float64)
    kept = np.asarray(search(W, b, h0, max_points=32).get_unique().xstar, np.float64)
    assert len(every) >= 4
    d = np.linalg.norm(every[:, None] - kept[None], axis=-1)
    assert len(kept) == len(every) and (d.min(1) < 1e-4).all(), (len(every), len(kept))
    limits = [newton64(W, b, x) for x in kept]                 # all true, all different
    assert max(r for _, r in limits) < 1e-13
    assert max(np.linalg.norm(x - y) for x, (y, _) in zip(kept, limits)) < 1e-4
    gaps = np.linalg.norm(np.array([y for y, _ in limits])[:, None]
                          - np.array([y for y, _ in limits])[None], axis=-1)
    assert gaps[~np.eye(len(kept), dtype=bool)].min() > 1e-3
