"""Timescales of eigenvalues we chose; Jacobians against autodiff; CI coverage."""
import rnnctl  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis


def test_timescales_of_chosen_eigenvalues():
    lam = jnp.array([0.5, -0.9, 0.99 * np.exp(0.3j), 0.0, 1.0, 1.2 * np.exp(-2j)],
                    jnp.complex64)
    # every mode: |λ| = 1 is a perfect integrator (inf), |λ| = 1.2 grows with τ = 1/ln 1.2
    want = np.array([np.inf, 1 / -np.log(0.99), 1 / -np.log(0.9), 1 / np.log(1.2),
                     1 / np.log(2.0), 0.0])
    np.testing.assert_allclose(analysis.timescales(lam, top=6, stable_only=False), want,
                               rtol=1e-4)
    # the paper's τ: stable modes only (|λ| < 1); the two others are NaN, sorted last
    stable = np.array([1 / -np.log(0.99), 1 / -np.log(0.9), 1 / np.log(2.0), 0.0,
                       np.nan, np.nan])
    np.testing.assert_allclose(analysis.timescales(lam, top=6), stable, rtol=1e-4)
    np.testing.assert_allclose(analysis.timescales(lam, top=3, dt=0.05), stable[:3] * 0.05,
                               rtol=1e-4)
    batch = jnp.stack([lam, lam[::-1]])                  # [2, 6]: order of input is free
    np.testing.assert_allclose(analysis.timescales(batch, top=2), [stable[:2]] * 2,
                               rtol=1e-4)
    with pytest.raises(ValueError):
        analysis.timescales(lam, top=7)


def test_recurrent_jacobians_equal_autodiff_of_the_cell():
    rng = np.random.default_rng(0)
    params = {"rnn": {"W_h": jnp.asarray(rng.normal(0, 0.3, (6, 6)), jnp.float32),
                      "W_x": jnp.asarray(rng.normal(0, 1, (6, 3)), jnp.float32),
                      "b": jnp.asarray(rng.normal(0, 0.1, 6), jnp.float32)}}
    h_prev = jnp.asarray(rng.normal(0, 0.5, (4, 6)), jnp.float32)
    x = jnp.asarray(rng.normal(0, 1, (4, 3)), jnp.float32)
    cell = analysis.rnn_cell(params)
    h = cell(h_prev, x)
    want = jax.vmap(jax.jacfwd(cell))(h_prev, x)
    np.testing.assert_allclose(analysis.recurrent_jacobians(params, h), want, atol=1e-6)
    np.testing.assert_allclose(analysis.recurrent_jacobians(params["rnn"]["W_h"], h), want,
                               atol=1e-6)


def _diag_setup():
    """W_h diagonal, and every unit of step t equal to c_t: eigenvalues (1 − c_t²) w_i."""
    w = np.array([0.99, -0.95, 0.9, 0.8, 0.5, 0.3, 0.1, 0.0])
    c = np.linspace(0.0, 0.6, 40).reshape(2, 20)         # [E=2, T=20]
    h = np.repeat(c[..., None], w.size, -1)              # [2, 20, 8]
    return w, c, h


def test_integration_timescales_match_known_spectra():
    w, c, h = _diag_setup()
    res = analysis.integration_timescales(jnp.diag(jnp.asarray(w, jnp.float32)),
                                          jnp.asarray(h, jnp.float32), top=3)
    lam = (1 - c.reshape(-1, 1) ** 2) * w                # [40, 8]
    with np.errstate(divide="ignore"):
        tau = np.sort(1 / np.abs(np.log(np.abs(lam))), -1)[:, ::-1][:, :3]
    np.testing.assert_allclose(res.tau, tau, rtol=2e-4)
    np.testing.assert_allclose(res.mean, tau.mean(0), rtol=2e-4)
    from scipy import stats
    half = stats.t.ppf(0.995, 39) * tau.std(0, ddof=1) / np.sqrt(40)
    np.testing.assert_allclose(res.ci[:, 0], tau.mean(0) - half, rtol=2e-4)
    np.testing.assert_allclose(res.ci[:, 1], tau.mean(0) + half, rtol=2e-4)
    np.testing.assert_allclose(res.avg, tau.mean(), rtol=2e-4)
    assert res.avg_ci[0] < res.avg < res.avg_ci[1]
    assert float(res.frac_capped) == 0.0
    # seconds, and every other step
    res_s = analysis.integration_timescales(jnp.diag(jnp.asarray(w, jnp.float32)),
                                            jnp.asarray(h, jnp.float32), top=3, dt=0.05,
                                            stride=2)
    np.testing.assert_allclose(res_s.tau, tau[::2] * 0.05, rtol=2e-4)


def test_slow_modes_are_capped_and_counted():
    w = jnp.array([0.9, 0.5])                  # h = 0: λ = w; τ(0.9) = 9.49 > max_tau = 5
    h = jnp.zeros((10, 2))
    capped = analysis.integration_timescales(jnp.diag(w), h, top=2, max_tau=5.0)
    np.testing.assert_allclose(capped.tau[:, 0], 5.0)
    assert float(capped.frac_capped) == pytest.approx(0.5)
    raw = analysis.integration_timescales(jnp.diag(w), h, top=2, max_tau=None)
    np.testing.assert_allclose(raw.tau[:, 0], 1 / -np.log(0.9), rtol=1e-5)


def test_unstable_and_unit_modes_are_left_out():
    # λ = 1 (a perfect integrator) and λ = 1.5 (growing) have no decay timescale: the
    # mean is over the stable modes only, never inf
    w = jnp.array([1.0, 1.5, 0.5])
    h = jnp.zeros((10, 3))
    res = analysis.integration_timescales(jnp.diag(w), h, top=2)
    np.testing.assert_allclose(res.tau[:, 0], 1 / np.log(2.0), rtol=1e-5)
    assert np.isnan(res.tau[:, 1]).all()
    np.testing.assert_allclose(res.avg, 1 / np.log(2.0), rtol=1e-5)    # mean of what exists
    assert np.isfinite(res.avg_ci).all()


def test_t_interval_covers_the_mean_99_percent():
    # 500 repetitions of n = 8 normal samples. A z-interval (2.576 s/√n) would cover only
    # ≈ 96 % at n = 8; the t-interval covers 99 % (binomial sd over 500 reps: 0.45 %).
    x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (500, 8))
    mean, low, high = analysis.mean_ci(x, 0.99, axis=1)
    coverage = float(jnp.mean((low <= 3.0) & (3.0 <= high)))
    assert 0.97 <= coverage <= 1.0
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-6)


def test_vmap_over_checkpoints_matches_loop():
    rng = np.random.default_rng(1)
    w_h = jnp.asarray(rng.normal(0, 1 / 4, (3, 16, 16)), jnp.float32)    # 3 "checkpoints"
    h = jnp.asarray(np.tanh(rng.normal(0, 1, (3, 2, 25, 16))), jnp.float32)
    batched = jax.jit(jax.vmap(lambda w, hh: analysis.integration_timescales(w, hh)))(w_h, h)
    for i in range(3):
        one = analysis.integration_timescales(w_h[i], h[i])
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(one)):
            np.testing.assert_allclose(a[i], b, rtol=1e-4)  # τ ≫ 1 amplifies rounding
        lam = np.linalg.eigvals((1 - np.asarray(h[i]).reshape(-1, 16) ** 2)[:, :, None]
                                * np.asarray(w_h[i]))
        tau = np.where(np.abs(lam) < 1, 1 / np.abs(np.log(np.abs(lam))), -np.inf)
        tau = np.sort(tau, -1)[:, ::-1][:, :5]
        tau[np.isinf(tau)] = np.nan
        np.testing.assert_allclose(one.tau, tau, rtol=1e-3)
