"""Input drive of the slowest modes: a linear cell we chose, the mask, and trajectories."""
import rnnctl  # noqa: F401  (safe XLA flags before jax starts)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis, networks

# A = R diag(λ) R⁻¹ with one unstable mode (λ = 1.2) that must be skipped
LAM = np.array([1.2, 0.95, -0.8, 0.5])
R = np.array([[1.0, 0.3, 0.0, 0.2], [0.0, 1.0, 0.5, 0.0],
              [0.2, 0.0, 1.0, 0.1], [0.0, 0.4, 0.0, 1.0]])
B = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.5]])


def _linear_lin():
    a = jnp.asarray(R @ np.diag(LAM) @ np.linalg.inv(R), jnp.float32)
    b = jnp.asarray(B, jnp.float32)
    return analysis.linearize(lambda h, x: a @ h + b @ x, jnp.zeros(4), jnp.zeros(2))


def _by_hand(mask):
    """Drive and alignment of the stable modes (0.95, −0.8, 0.5), from R⁻¹ by NumPy."""
    rn = R / np.linalg.norm(R, axis=0)              # unit right eigenvectors
    left = np.linalg.inv(rn)                         # rows: l_iᵀ, l_iᵀ r_j = δ_ij
    j = B * np.asarray(mask, float)[None, :]
    drive = np.linalg.norm(left @ j, axis=1)
    aligned = drive / (np.linalg.norm(left, axis=1) * np.linalg.norm(j, 2))
    stable = [1, 2, 3]                               # |λ| descending, λ = 1.2 left out
    return drive[stable], aligned[stable], 1.0 / np.abs(np.log(np.abs(LAM[stable])))


@pytest.mark.parametrize("mask", [(1.0, 1.0), (1.0, 0.0)])
def test_drive_of_a_linear_cell_we_chose(mask):
    d = analysis.input_drive(_linear_lin(), jnp.asarray(mask), top=3)
    drive, aligned, tau = _by_hand(mask)
    np.testing.assert_allclose(d.drive, drive, rtol=1e-4)
    np.testing.assert_allclose(d.aligned, aligned, rtol=1e-4)
    np.testing.assert_allclose(d.tau, tau, rtol=1e-4)
    np.testing.assert_allclose(d.gain, np.linalg.norm(B * np.asarray(mask)[None], 2), rtol=1e-5)
    assert int(d.n_stable) == 3
    assert np.all((np.asarray(d.aligned) >= 0) & (np.asarray(d.aligned) <= 1 + 1e-6))


def test_masked_input_is_left_out_and_missing_modes_are_nan():
    lin = _linear_lin()
    full = analysis.input_drive(lin, None, top=4)
    # only three stable modes: the fourth slot is NaN, the others finite
    assert np.all(np.isfinite(full.drive[:3])) and np.isnan(full.drive[3])
    masked = analysis.input_drive(lin, jnp.asarray([1.0, 0.0]), top=4)
    assert not np.allclose(masked.drive[:3], full.drive[:3])   # the second input counted
    # a mode the input cannot reach: B's columns both orthogonal to l_i → drive 0
    a = jnp.diag(jnp.asarray([0.9, 0.5], jnp.float32))
    b = jnp.asarray([[0.0], [1.0]], jnp.float32)
    d = analysis.input_drive(analysis.linearize(lambda h, x: a @ h + b @ x, jnp.zeros(2),
                                                jnp.zeros(1)), top=2)
    np.testing.assert_allclose(d.aligned, [0.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="top"):
        analysis.input_drive(lin, None, top=5)


def test_invalid_point_is_nan_and_does_not_poison_the_batch():
    params = networks.init_params(jax.random.key(0), 2, 6, 8)
    h = jnp.asarray(np.random.default_rng(0).normal(0, 0.3, (3, 6)), jnp.float32)
    h = h.at[1, 0].set(jnp.nan)
    d = analysis.input_drive_at(params, h, jnp.zeros((3, 2)), jnp.ones(2), top=2)
    assert d.drive.shape == (3, 2) and d.gain.shape == (3,)
    assert np.all(np.isnan(d.drive[1])) and np.isnan(d.gain[1])
    assert np.all(np.isfinite(np.asarray(d.drive)[[0, 2]]))


def test_along_trajectories_is_the_mean_over_the_strided_steps():
    params = networks.init_params(jax.random.key(1), 2, 6, 8)
    rng = np.random.default_rng(2)
    h = jnp.asarray(rng.uniform(-0.8, 0.8, (2, 6, 6)), jnp.float32)     # [E, T, S]
    x = jnp.asarray(rng.normal(size=(2, 6, 2)), jnp.float32)
    mask = jnp.asarray([1.0, 0.0])
    mean = analysis.input_drive_along(params, h, x, mask, top=2, stride=3)
    # steps t = 2 and 5 of each episode, expanded at (h_{t-1}, x_t)
    hp = jnp.stack([h[e, t - 1] for e in range(2) for t in (2, 5)])
    xs = jnp.stack([x[e, t] for e in range(2) for t in (2, 5)])
    one = analysis.input_drive_at(params, hp, xs, mask, top=2)
    np.testing.assert_allclose(mean.aligned, np.nanmean(np.asarray(one.aligned), 0), rtol=1e-5)
    np.testing.assert_allclose(mean.drive, np.nanmean(np.asarray(one.drive), 0), rtol=1e-5)
    with pytest.raises(ValueError, match="stride"):
        analysis.step_points(h, x, 7)
