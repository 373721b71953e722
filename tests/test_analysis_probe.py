"""Rules-v2 measurements on cases with known answers: probe histories and maps, the θ
decoder and its gates, ring closure, θ-stratified search starts, per-step timescales."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis


def test_probe_histories_follow_gymnax_forward():
    """Stepping gymnax's Pendulum forward with u = 0 from each history's first state
    reproduces the history and ends at the bin centre."""
    from rnnctl import envs
    hist = analysis.probe_histories(8, 6, steps=12)
    th0, thd0 = hist.theta[..., 0].ravel(), hist.theta_dot[..., 0].ravel()
    checked = 0
    for i in range(th0.size):
        _, state = envs.state_from(th0[i], thd0[i])
        for t in range(1, 12):
            state = envs.step(jax.random.key(0), state, jnp.zeros(())).state
        end_th = np.asarray(hist.theta[..., -1]).ravel()[i]
        end_thd = np.asarray(hist.theta_dot[..., -1]).ravel()[i]
        speeds = np.abs(np.asarray(hist.theta_dot).reshape(-1, 12)[i])
        if speeds.max() < 7.9:       # away from the speed clip the inversion is exact
            checked += 1
            assert abs((float(state.theta) - end_th + np.pi) % (2 * np.pi) - np.pi) < 1e-4
            assert abs(float(state.theta_dot) - end_thd) < 1e-4
    assert checked >= 20
    np.testing.assert_allclose(hist.theta[..., -1][:, 0], hist.theta_centers, atol=1e-6)
    np.testing.assert_allclose(hist.theta_dot[..., -1][0], hist.theta_dot_centers, atol=1e-6)


def test_upright_contrast_ignores_the_seam_and_near_zero_counts_small_torques():
    th = jnp.linspace(-np.pi, np.pi, 16, endpoint=False) + np.pi / 16
    # bang-bang inside |θ| < π/2 (−2 for θ > 0, +2 for θ < 0), and a sign flip at the seam
    u = jnp.where(th[:, None] > 0, -2.0, 2.0) * jnp.ones((16, 4))
    assert float(analysis.upright_contrast(u, th)) == pytest.approx(1.0)
    # a smooth map u = −0.5 θ has a small jump; the wrapped contrast would count the seam
    smooth = -0.5 * th[:, None] * jnp.ones((16, 4))
    assert float(analysis.upright_contrast(smooth, th)) < 0.1
    assert float(analysis.boundary_contrast(smooth)) > float(analysis.upright_contrast(smooth, th))
    # no sign change near upright: NaN
    assert np.isnan(float(analysis.upright_contrast(jnp.ones((16, 4)), th)))
    small = jnp.where(jnp.abs(th)[:, None] < 0.5, 0.05, 2.0) * jnp.ones((16, 4))
    inside = np.abs(np.asarray(th)) < np.pi / 2
    want = (np.abs(np.asarray(th)) < 0.5).sum() / inside.sum()
    assert float(analysis.near_zero_fraction(small, th)) == pytest.approx(want)


def test_probe_torque_reads_the_last_step():
    """The torque after the last input, from h = 0 at the first."""
    from rnnctl import networks
    params = networks.init_params(jax.random.key(0), 2, hidden=4, head_hidden=4)
    hist = analysis.probe_histories(8, 4, steps=5)
    x = jnp.stack([hist.theta, jnp.zeros_like(hist.theta)], -1)
    torque = analysis.probe_torque(params, x)
    assert torque.shape == (8, 4)
    # the same as stepping the cell by hand over the 5 inputs of one history from h = 0
    h = jnp.zeros(4)
    for t in range(5):
        h = networks.cell(params, h, x[3, 1, t])
    want = jnp.clip(networks.mode(params, h), -2.0, 2.0)
    assert float(torque[3, 1]) == pytest.approx(float(want), abs=1e-6)
    # a history that differs only in its first input gives another torque (memory)
    x2 = x.at[3, 1, 0, 0].set(3.0)
    assert float(analysis.probe_torque(params, x2)[3, 1]) != float(torque[3, 1])


def test_decode_theta_reads_a_ring_and_gates_far_points():
    th = jnp.linspace(-np.pi, np.pi, 400, endpoint=False)
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 2)))[0].T              # [2, 16]
    h = jnp.asarray(np.stack([np.cos(th), np.sin(th)], -1) @ basis)
    pts = jnp.asarray(np.stack([np.cos([0.3, -2.0]), np.sin([0.3, -2.0])], -1) @ basis)
    d = analysis.decode_theta(pts, h, th)
    np.testing.assert_allclose(d.theta, [0.3, -2.0], atol=1e-3)
    np.testing.assert_allclose(d.confidence, 1.0, atol=1e-2)
    assert float(d.r2) > 0.999 and np.all(np.asarray(d.distance) < 0.05)
    centre = analysis.decode_theta(jnp.zeros(16), h, th)             # the ring's centre
    assert float(centre.confidence) < 0.05 and float(centre.distance) > 0.9
    far = analysis.decode_theta(jnp.asarray(5.0 * rng.normal(size=16)), h, th)
    assert float(far.distance) > 2.0


def test_ring_closure_ring_vs_line():
    th = jnp.linspace(-np.pi, np.pi, 720, endpoint=False)
    ring = jnp.stack([jnp.cos(th), jnp.sin(th), 0 * th], -1)
    line = jnp.stack([th, 0 * th, 0 * th], -1)
    assert float(analysis.ring_closure(ring, th)) == pytest.approx(1.0, abs=0.05)
    assert float(analysis.ring_closure(line, th)) == pytest.approx(1 / 35, rel=0.05)
    assert float(analysis.ring_score(line, th)) < 0.5
    half = th[th < 0]
    assert np.isnan(float(analysis.ring_closure(ring[th < 0], half)))   # +π end unvisited


def test_stratified_starts_sample_rare_angles():
    th = jnp.concatenate([jnp.zeros(990), jnp.full(10, 3.0)])        # hanging: 1 % of steps
    h = jnp.stack([th, jnp.arange(1000.0)], -1)
    uni = analysis.sample_initial_states(h, 64, jax.random.key(0), 0.0)
    strat = analysis.sample_initial_states(h, 64, jax.random.key(0), 0.0, theta=th, strata=8)
    assert strat.shape == (64, 2)
    assert int((strat[:, 0] == 3.0).sum()) >= 8                       # one stratum's share
    assert int((uni[:, 0] == 3.0).sum()) <= 4


def test_timescales_host_per_step_values():
    rng = np.random.default_rng(1)
    w = (0.5 * np.eye(4) + 0.01 * rng.normal(size=(4, 4)))[None].astype(np.float32)
    h = np.zeros((1, 1, 6, 4), np.float32)                            # J_t = W_h at every step
    out = analysis.timescales_host(w, h, top=2, stride=1)
    lam = np.sort(np.abs(np.linalg.eigvals(w[0])))[::-1][:2]
    want = np.mean(1 / np.abs(np.log(lam)))
    np.testing.assert_allclose(out["tau_step"][0], want, rtol=1e-3)
    assert out["tau_step"].shape == (1, 6) and out["tau_unstable_frac"][0] == 0.0
    big = (1.5 * np.eye(4))[None].astype(np.float32)
    assert analysis.timescales_host(big, h, top=2)["tau_unstable_frac"][0] == 1.0
