"""Fixed points of RNNs whose weights we set, so every answer is known in closed form."""
import rnnctl  # noqa: F401

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from rnnctl import analysis
from rnnctl.analysis import FixedPoints, find_fixed_points


def tanh2(h, x):
    return jnp.tanh(2.0 * h + x)


def positive_root(w, b=0.0):
    """The largest solution of h = tanh(w h + b) (w > 1), to machine precision."""
    return optimize.brentq(lambda h: np.tanh(w * h + b) - h, 0.1, 1.0, xtol=1e-15)


@pytest.fixture(scope="module")
def tanh_fps():
    """One search on h' = tanh(2h) from 64 random starts (compiled once, shared)."""
    h0 = jax.random.uniform(jax.random.key(0), (64, 1), minval=-1.5, maxval=1.5)
    return jax.jit(lambda h: find_fixed_points(tanh2, jnp.zeros(1), h))(h0)


def test_tanh_2h_has_exactly_three_fixed_points(tanh_fps):
    fps = tanh_fps
    u = fps.get_unique()
    assert len(u.qstar) == 3, u.xstar          # 64 starts, duplicates removed
    order = np.argsort(u.xstar[:, 0])
    xs, lam, stable = u.xstar[order, 0], u.eigvals[order, 0], u.is_stable[order]
    h_star = positive_root(2.0)
    assert h_star == pytest.approx(0.95750, abs=1e-5)
    np.testing.assert_allclose(xs, [-h_star, 0.0, h_star], atol=1e-6)
    np.testing.assert_allclose(lam.real, [2 * (1 - h_star**2), 2.0, 2 * (1 - h_star**2)],
                               rtol=1e-5)
    np.testing.assert_array_equal(lam.imag, 0.0)
    np.testing.assert_array_equal(stable, [True, False, True])
    assert (u.qstar < 1e-12).all()
    assert int(fps.n_stable) == 2 and int(fps.n_unstable) == 1


def _block_network(dtype):
    """A 64-unit network built from small systems with known fixed points.

    Units a, b: h = tanh(2h) (three fixed points each); 20 rotation-contraction 2×2 blocks
    A = r R(ω) with no bias (unique fixed point 0, eigenvalues r e^{±iω}); 22 scalar units
    h = tanh(w h + c) with w < 1 (a unique stable fixed point). Units are permuted so the
    structure is not aligned with the first coordinates. Fixed points: 3 × 3 = 9.
    """
    rng = np.random.default_rng(1)
    H = 64
    W = np.zeros((H, H))
    b = np.zeros(H)
    W[0, 0] = W[1, 1] = 2.0
    for k in range(20):
        i = 2 + 2 * k
        r, om = rng.uniform(0.3, 0.95), rng.uniform(0.2, 2.5)
        W[i:i + 2, i:i + 2] = r * np.array([[np.cos(om), -np.sin(om)],
                                            [np.sin(om), np.cos(om)]])
    scal = np.arange(42, 64)
    w_s, c_s = rng.uniform(-0.9, 0.9, scal.size), rng.uniform(-1.0, 1.0, scal.size)
    W[scal, scal], b[scal] = w_s, c_s
    h_s = np.array([optimize.brentq(lambda h: np.tanh(w * h + c) - h, -1, 1, xtol=1e-15)
                    for w, c in zip(w_s, c_s)])
    h_star = positive_root(2.0)
    points = []
    for ha, hb in itertools.product([-h_star, 0.0, h_star], repeat=2):
        p = np.zeros(H)
        p[0], p[1], p[scal] = ha, hb, h_s
        points.append(p)
    perm = rng.permutation(H)
    P = np.eye(H)[perm]                     # h_new = P h
    W, b = P @ W @ P.T, P @ b
    points = np.array(points) @ P.T
    params = {"rnn": {"W_h": jnp.asarray(W, dtype), "W_x": jnp.zeros((H, 1), dtype),
                      "b": jnp.asarray(b, dtype)}}
    return params, W, points


def _check_block_network(fps, W, points, q_max):
    u = fps.get_unique()
    assert len(u.qstar) == len(points) == 9
    # Match every known fixed point to exactly one found one.
    d = np.linalg.norm(u.xstar[:, None, :] - points[None], axis=-1)
    match = d.argmin(0)
    assert sorted(match) == list(range(9))
    assert d.min(0).max() < 1e-5
    assert (u.qstar < q_max).all()
    for j, i in enumerate(match):
        p = points[j]
        jac = (1 - p**2)[:, None] * W
        np.testing.assert_allclose(u.jacobian[i], jac, atol=1e-5)
        want = np.linalg.eigvals(jac)
        want = want[np.lexsort((want.imag, want.real, -np.abs(want)))]
        got = u.eigvals[i]
        got = got[np.lexsort((got.imag, got.real, -np.abs(got)))]
        np.testing.assert_allclose(got, want, atol=1e-5)
        # stable iff both bistable units sit at ±h* (not at the unstable 0)
        assert u.is_stable[i] == (np.abs(want).max() < 1)
    assert u.is_stable.sum() == 4


def test_64_unit_network_every_fixed_point_float64():
    with jax.enable_x64(True):
        params, W, points = _block_network(jnp.float64)
        h0 = jax.random.uniform(jax.random.key(2), (256, 64), jnp.float64, -1.2, 1.2)
        fps = jax.jit(lambda h0: find_fixed_points(analysis.rnn_cell(params), jnp.zeros(1),
                                                   h0, tol_q=1e-20))(h0)
        assert fps.xstar.dtype == jnp.float64
        _check_block_network(fps, W, points, q_max=1e-10)
        assert fps.get_unique().qstar.max() < 1e-20   # Newton: quadratic convergence


def test_64_unit_network_float32_with_max_points():
    params, W, points = _block_network(jnp.float32)
    h0 = jax.random.uniform(jax.random.key(2), (256, 64), jnp.float32, -1.2, 1.2)
    fps = jax.jit(lambda h0: find_fixed_points(analysis.rnn_cell(params), jnp.zeros(1), h0,
                                               max_points=24))(h0)
    assert fps.valid.shape == (24,)
    _check_block_network(fps, W, points, q_max=1e-10)


def test_distance_outliers_are_dropped():
    # F(h) = h - 0.1 sin h has fixed points at kπ. 63 starts in [-1, 1] and one at 9.5
    # find 0 and 3π; 3π lies ~9.3 from the starts' centroid, beyond 10 × their mean
    # distance from it (~0.64), so it is an outlier.
    def cell(h, x):
        return h - 0.1 * jnp.sin(h)

    h0 = jnp.concatenate([jnp.linspace(-1, 1, 63), jnp.array([9.5])])[:, None]
    kept = find_fixed_points(cell, jnp.zeros(1), h0).get_unique()
    np.testing.assert_allclose(kept.xstar[:, 0], [0.0], atol=1e-5)
    every = find_fixed_points(cell, jnp.zeros(1), h0, outlier_distance_scale=None).get_unique()
    np.testing.assert_allclose(np.sort(every.xstar[:, 0]), [0.0, 3 * np.pi], atol=1e-5)


def test_vmap_over_checkpoints_matches_python_loop():
    rng = np.random.default_rng(3)   # three 8-unit RNNs with gain 2 (several fixed points)
    stack = {"rnn": {"W_h": jnp.asarray(rng.normal(0, 2 / np.sqrt(8), (3, 8, 8)), jnp.float32),
                     "W_x": jnp.asarray(rng.normal(0, 0.5, (3, 8, 3)), jnp.float32),
                     "b": jnp.zeros((3, 8), jnp.float32)}}
    h0 = jax.random.uniform(jax.random.key(4), (3, 32, 8), minval=-1, maxval=1)
    x = jnp.array([1.0, 0.0, 0.0])

    def search(p, h):
        return find_fixed_points(analysis.rnn_cell(p), x, h, n_opt_steps=200, max_points=12)

    batched = jax.jit(jax.vmap(search))(stack, h0)
    one = jax.jit(search)
    assert batched.valid.shape == (3, 12)
    for i in range(3):
        single = one(jax.tree.map(lambda a: a[i], stack), h0[i])
        np.testing.assert_array_equal(batched.valid[i], single.valid)
        np.testing.assert_array_equal(batched.is_stable[i], single.is_stable)
        v = np.asarray(single.valid)
        np.testing.assert_allclose(batched.xstar[i][v], single.xstar[v], atol=1e-5)
        np.testing.assert_allclose(batched.eigvals[i][v], single.eigvals[v], atol=1e-4)
    assert int(batched.n_valid.sum()) >= 3   # gain 2: at least one per network


def test_invalid_slots_are_masked(tanh_fps):
    bad = ~np.asarray(tanh_fps.valid)
    assert bad.sum() == 64 - 3
    assert np.isnan(np.asarray(tanh_fps.eigvals)[bad]).all()
    assert not np.asarray(tanh_fps.is_stable)[bad].any()
    assert (np.asarray(tanh_fps.n_iters) <= 500 + 12).all()   # Adam + Newton budget
    assert (np.asarray(tanh_fps.qstar) < 1e-12).all()   # duplicates converged too


def test_save_load_round_trip(tmp_path, tanh_fps):
    flipped = jax.tree.map(lambda a: a[::-1], tanh_fps)
    fps = jax.tree.map(lambda a, b: jnp.stack([a, b]), tanh_fps, flipped)   # [2, K, ...]
    path = tmp_path / "fps.npz"
    fps.save(path)
    back = FixedPoints.load(path)
    for a, b in zip(jax.tree.leaves(fps), jax.tree.leaves(back)):
        np.testing.assert_array_equal(np.asarray(a), b)
    with np.load(path, allow_pickle=False) as z:     # no object arrays inside
        assert all(z[k].dtype != object for k in z.files)
    with pytest.raises(ValueError, match="index it first"):
        back.get_unique()
    np.testing.assert_array_equal(np.sort(back[1].get_unique().xstar, 0),
                                  np.sort(tanh_fps.get_unique().xstar, 0))
