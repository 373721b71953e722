"""Policy maps from samples whose bins we know; sharpness of step-like vs smooth maps."""
import rnnctl  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis


def test_policy_map_bins_and_averages_by_hand():
    # 4 × 2 grid over θ ∈ [-π, π), θ̇ ∈ [-8, 8]: θ bins of width π/2, θ̇ bins of width 8
    theta = jnp.array([-3.0, -3.0, 0.1, 0.1, 3.1, 0.1, 2.0])
    theta_dot = jnp.array([-1.0, -7.0, 8.0, 0.5, 0.0, 9.0, -8.0])   # 8.0 → last bin; 9 out
    torque = jnp.array([1.0, 3.0, -2.0, 2.0, 0.5, 100.0, -1.5])
    pm = analysis.policy_map(theta, theta_dot, torque, bins=(4, 2))
    want_counts = np.zeros((4, 2))
    want_counts[0, 0] = 2          # θ = -3: bin 0, θ̇ < 0
    want_counts[2, 1] = 2          # θ = 0.1: bin 2, θ̇ = 8 and 0.5
    want_counts[3, 1] = 1          # θ = 3.1: bin 3, θ̇ = 0 → upper bin
    want_counts[3, 0] = 1          # θ = 2.0: bin 3, θ̇ = -8
    np.testing.assert_array_equal(pm.counts, want_counts)
    t = np.asarray(pm.torque)
    assert t[0, 0] == 2.0 and t[2, 1] == 0.0 and t[3, 1] == 0.5 and t[3, 0] == -1.5
    assert np.isnan(t[want_counts == 0]).all()
    np.testing.assert_allclose(pm.theta_edges, np.linspace(-np.pi, np.pi, 5), rtol=1e-6)
    np.testing.assert_allclose(pm.theta_dot_centers, [-4.0, 4.0])
    assert pm.torque.shape == (4, 2)
    assert analysis.policy_map(theta, theta_dot, torque).torque.shape == (64, 64)


def _grid(fn, n=64):
    th = np.linspace(-np.pi, np.pi, n, endpoint=False) + np.pi / n
    thd = np.linspace(-8, 8, n, endpoint=False) + 8 / n
    T, D = np.meshgrid(th, thd, indexing="ij")
    return jnp.asarray(fn(T, D), jnp.float32)


def test_sharpness_step_beats_smooth():
    step = _grid(lambda th, thd: 2.0 * np.sign(np.sin(th) + 0.1 * thd))   # bang-bang
    smooth = _grid(lambda th, thd: 2.0 * np.sin(th))
    weak = _grid(lambda th, thd: 0.02 * np.sin(th))                       # untrained
    s_step, s_smooth, s_weak = (float(analysis.sharpness(m)) for m in (step, smooth, weak))
    assert s_step > 0.99
    assert abs(s_smooth - (np.pi - 2 * np.arcsin(0.9)) / np.pi) < 0.03    # ≈ 0.29
    assert s_weak == 0.0
    assert s_step > s_smooth > s_weak


def test_sharpness_ignores_unvisited_bins():
    step = np.asarray(_grid(lambda th, thd: 2.0 * np.sign(np.sin(th))))
    holes = step.copy()
    holes[::2] = np.nan                          # half the bins unvisited
    assert float(analysis.sharpness(holes)) == float(analysis.sharpness(step)) == 1.0
    half = step.copy()
    half[:32] = 0.0
    half[32:48] = np.nan
    assert float(analysis.sharpness(half)) == pytest.approx(16 / 48)   # visited bins only
    assert np.isnan(float(analysis.sharpness(np.full((4, 4), np.nan))))


def test_vmap_over_checkpoints_matches_loop():
    rng = np.random.default_rng(0)
    th = rng.uniform(-np.pi, np.pi, (3, 5, 200))
    thd = rng.uniform(-8, 8, (3, 5, 200))
    gains = np.array([0.1, 1.0, 10.0])[:, None, None]
    u = np.clip(-gains * np.sin(th) * 2, -2, 2)
    maps = jax.jit(jax.vmap(analysis.policy_map))(th, thd, u)
    sharp = jax.vmap(analysis.sharpness)(maps)
    for i in range(3):
        one = analysis.policy_map(th[i], thd[i], u[i])
        np.testing.assert_array_equal(maps.counts[i], one.counts)
        np.testing.assert_allclose(maps.torque[i], one.torque, rtol=1e-6)
        assert float(sharp[i]) == float(analysis.sharpness(one))
    assert sharp[0] < sharp[1] < sharp[2]      # sharper with gain
    assert int(maps.counts[0].sum()) == 1000


def test_boundary_contrast_bang_bang_is_one():
    step = _grid(lambda th, thd: 2.0 * np.sign(np.sin(th) + 0.1 * thd))
    assert float(analysis.boundary_contrast(step)) == pytest.approx(1.0)
    # torques beyond the limit are clipped to what the pendulum feels
    assert float(analysis.boundary_contrast(3 * step)) == pytest.approx(1.0)


def test_boundary_contrast_smooth_policy_is_slope_times_bin_width():
    n, k = 64, 1.5
    dth = 2 * np.pi / n
    # u = −k sin θ changes sign at θ = 0 and θ = ±π (across the wrap): a jump of
    # 2k·sin(Δθ/2) at each, in every θ̇ row
    smooth = _grid(lambda th, thd: -k * np.sin(th), n)
    assert float(analysis.boundary_contrast(smooth)) == pytest.approx(
        k * np.sin(dth / 2) / 2.0, rel=1e-4)
    # u = −k θ: jump k·Δθ at θ = 0 ...
    linear = _grid(lambda th, thd: -k * th / np.pi, n)        # slope k/π, |u| ≤ k
    slope = k / np.pi
    no_wrap = float(analysis.boundary_contrast(linear, wrap_theta=False))
    assert no_wrap == pytest.approx(slope * dth / 4.0, rel=1e-4)
    # ... and, across the wrap, the jump from −k(π−Δθ/2)/π to +k(π−Δθ/2)/π
    wrap_jump = 2 * slope * (np.pi - dth / 2)
    assert float(analysis.boundary_contrast(linear)) == pytest.approx(
        (slope * dth + wrap_jump) / 2 / 4.0, rel=1e-4)


def test_boundary_contrast_uses_the_wrap_neighbour_and_theta_dot_neighbours():
    u = np.full((8, 3), np.nan, np.float32)
    u[:3] = 0.5                     # θ bins 0-2 push +, bins 6-7 push −, 3-5 unvisited:
    u[6:] = -1.5                    # the only sign change is bins 7 → 0, across ±π
    assert float(analysis.boundary_contrast(u)) == pytest.approx((0.5 + 1.5) / 4.0)
    assert np.isnan(float(analysis.boundary_contrast(u, wrap_theta=False)))
    # a change along θ̇ only (damping-like): bins θ̇ < 0 push +, θ̇ > 0 push −
    damp = _grid(lambda th, thd: -0.5 * np.sign(thd), 16)
    assert float(analysis.boundary_contrast(damp)) == pytest.approx(1.0 / 4.0)
    # no sign change anywhere, or nothing visited
    assert np.isnan(float(analysis.boundary_contrast(_grid(lambda th, thd: 1 + 0 * th))))
    assert np.isnan(float(analysis.boundary_contrast(np.full((4, 4), np.nan))))
    # a zero torque is no sign: 1 → 0 → −1 has no opposite-sign neighbours
    assert np.isnan(float(analysis.boundary_contrast(
        np.array([[1.0], [0.0], [-1.0], [0.0]]), wrap_theta=True)))


def test_boundary_contrast_on_policy_maps_vmaps():
    rng = np.random.default_rng(1)
    th = rng.uniform(-np.pi, np.pi, (3, 20000))
    thd = rng.uniform(-8, 8, (3, 20000))
    gains = np.array([0.2, 1.0, 50.0])[:, None]
    u = np.clip(-gains * np.sin(th) * 2, -2, 2)
    maps = jax.vmap(lambda a, b, c: analysis.policy_map(a, b, c, bins=16))(th, thd, u)
    bc = jax.jit(jax.vmap(analysis.boundary_contrast))(maps)
    looped = [float(analysis.boundary_contrast(analysis.policy_map(th[i], thd[i], u[i],
                                                                   bins=16)))
              for i in range(3)]
    np.testing.assert_allclose(bc, looped, rtol=1e-5)
    assert bc[0] < bc[1] < bc[2] and bc[2] > 0.9
