"""θ of a fixed point, tracking across checkpoints, reward-to-go regression: by hand."""
import rnnctl  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rnnctl import analysis
from rnnctl.analysis import FixedPoints

H = 4


def _ring_states(n=720):
    theta = np.linspace(-np.pi, np.pi, n, endpoint=False)
    h = np.zeros((n, H), np.float32)
    h[:, 0], h[:, 1] = np.cos(theta), np.sin(theta)
    return h, theta.astype(np.float32)


def test_fixed_point_theta_reads_the_nearest_visited_states():
    h, theta = _ring_states()
    pts = np.array([[np.cos(1.0), np.sin(1.0), 0, 0],
                    [-1.0, 0.001, 0, 0],           # at θ = ±π: must not average to 0
                    [np.cos(-2.0), np.sin(-2.0), 0.3, 0]], np.float32)
    th, r = analysis.fixed_point_theta(pts, h, theta, k=10, return_resultant=True)
    assert float(th[0]) == pytest.approx(1.0, abs=0.01)
    assert abs(abs(float(th[1])) - np.pi) < 0.02
    assert float(th[2]) == pytest.approx(-2.0, abs=0.01)
    assert (np.asarray(r) > 0.99).all()
    assert float(analysis.fixed_point_theta(pts[0], h, theta)) == pytest.approx(1.0, abs=0.01)
    # a point at the centre of the ring: its 360 nearest states span the circle
    _, r_c = analysis.fixed_point_theta(np.zeros((1, H), np.float32), h, theta, k=360,
                                        return_resultant=True)
    assert float(r_c[0]) < 0.7


def _fps(xstar, valid, stable):
    T, K = valid.shape
    nan = np.full((T, K, H), np.nan, np.float32)
    return FixedPoints(xstar=jnp.asarray(xstar, jnp.float32), x_init=nan, inputs=nan[..., :1],
                       F_xstar=nan, qstar=jnp.zeros((T, K)), n_iters=jnp.zeros((T, K), int),
                       jacobian=jnp.zeros((T, K, H, H)), eigvals=jnp.zeros((T, K, H), complex),
                       is_stable=jnp.asarray(stable & valid), valid=jnp.asarray(valid))


def _scenario():
    """6 checkpoints, 3 slots. A stable point moves from (3,0,..) to (0,0,..); a decoy
    stable point sits far away at θ = π; an unstable one appears at checkpoint 4."""
    T, K = 6, 3
    xstar = np.zeros((T, K, H), np.float32)
    valid = np.zeros((T, K), bool)
    stable = np.zeros((T, K), bool)
    theta = np.zeros((T, K), np.float32)
    for t in range(T):
        if t == 2:
            continue                                # no fixed point at checkpoint 2
        slot = t % 3                                # the tracked point changes slot
        xstar[t, slot] = [3.0 - 0.6 * t, 0, 0, 0]
        valid[t, slot] = stable[t, slot] = True
        theta[t, slot] = 0.1 * (5 - t)
        decoy = (slot + 1) % 3
        if t >= 3:
            xstar[t, decoy] = [0, 10, 0, 0]
            valid[t, decoy] = stable[t, decoy] = True
            theta[t, decoy] = np.pi - 0.05
        if t >= 4:
            un = (slot + 2) % 3
            xstar[t, un] = [0, 0, 5, 0]
            valid[t, un] = True
            theta[t, un] = -3.0
    return xstar, valid, stable, theta


def test_track_follows_the_stable_point_backwards():
    xstar, valid, stable, theta = _scenario()
    track = analysis.track_fixed_points(_fps(xstar, valid, stable), jnp.asarray(theta))
    np.testing.assert_array_equal(track.index, [0, 1, -1, 0, 1, 2])
    want = np.array([3.0, 2.4, np.nan, 1.2, 0.6, 0.0])
    np.testing.assert_allclose(track.distance, want, atol=1e-6)
    np.testing.assert_allclose(track.path[:, 0], [3.0, 2.4, np.nan, 1.2, 0.6, 0.0], atol=1e-6)
    assert np.isnan(np.asarray(track.path)[2]).all()
    np.testing.assert_allclose(track.theta, [0.5, 0.4, np.nan, 0.2, 0.1, 0.0], atol=1e-6)
    assert int(track.start) == 5
    assert int(track.first_stable) == 0 and int(track.persistent_stable) == 3
    assert int(track.first_unstable) == 4 and int(track.persistent_unstable) == 4
    # target θ = π starts from the decoy instead; unstable tracking follows slot 2-ish
    decoy = analysis.track_fixed_points(_fps(xstar, valid, stable), jnp.asarray(theta),
                                        target_theta=np.pi)
    np.testing.assert_allclose(np.asarray(decoy.path)[3:, 1], 10.0)
    unst = analysis.track_fixed_points(_fps(xstar, valid, stable), jnp.asarray(theta),
                                       stable=False)
    np.testing.assert_array_equal(np.asarray(unst.index) >= 0, [0, 0, 0, 0, 1, 1])


def test_track_without_any_point_is_all_nan():
    xstar, valid, stable, _ = _scenario()
    track = analysis.track_fixed_points(_fps(xstar, valid & False, stable))
    assert int(track.start) == -1 and int(track.first_stable) == -1
    assert np.isnan(np.asarray(track.distance)).all()
    assert (np.asarray(track.index) == -1).all()


def test_track_vmaps_over_agents():
    xstar, valid, stable, theta = _scenario()
    fps = jax.tree.map(lambda a: jnp.stack([a, a[:, ::-1]]), _fps(xstar, valid, stable))
    thetas = jnp.stack([theta, theta[:, ::-1]])
    tracks = jax.jit(jax.vmap(analysis.track_fixed_points))(fps, thetas)
    for i in range(2):
        one = analysis.track_fixed_points(fps[i], thetas[i])
        np.testing.assert_array_equal(tracks.index[i], one.index)
        np.testing.assert_allclose(tracks.distance[i], one.distance)
    np.testing.assert_allclose(tracks.distance[0], tracks.distance[1])


def test_reward_to_go_regression_pools_seeds():
    rng = np.random.default_rng(0)
    S, T = 5, 41
    d = np.abs(rng.normal(2, 1, (S, T)))
    d[:, -1] = 0.0
    g = 3.0 * d + 1.0 + 0.1 * rng.normal(size=(S, T))
    g[:, -1] = 0.0
    returns = -g + rng.normal(0, 5, (S, 1)) * 0      # R_t = R_final - g_t, R_final = 0
    d[0, 3] = np.nan                                 # no fixed point there
    res = analysis.reward_to_go_regression(d, returns)
    keep = np.isfinite(d[:, :-1])
    ref = stats.linregress(d[:, :-1][keep], g[:, :-1][keep])
    assert res.n == S * (T - 1) - 1
    assert res.slope == pytest.approx(ref.slope) and res.slope == pytest.approx(3.0, abs=0.05)
    assert res.intercept == pytest.approx(ref.intercept)
    assert res.r == pytest.approx(ref.rvalue) and res.p_value < 1e-10
    with_final = analysis.reward_to_go_regression(d, returns, include_final=True)
    assert with_final.n == S * T - 1
    empty = analysis.reward_to_go_regression(np.full((2, 3), np.nan), np.zeros((2, 3)))
    assert empty.n == 0 and np.isnan(empty.slope)
