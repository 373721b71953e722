"""PCA of data with a covariance we chose; ring score on rings, shuffles and lines."""
import rnnctl  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis

H = 64


def _plane(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(H, 2)))
    return q.T                                           # [2, H] orthonormal rows


def _ring(theta, seed=0, noise=0.05, offset=0.0, squash=1.0, direction=1.0):
    rng = np.random.default_rng(seed)
    p = _plane(seed)
    ang = direction * theta + offset
    xy = np.stack([np.cos(ang), squash * np.sin(ang)], -1)
    return (xy @ p + 0.3 + noise * rng.normal(size=theta.shape + (H,))).astype(np.float32)


def test_pca_recovers_chosen_axes_and_variances():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    sd = np.array([3.0, 2.0, 1.0] + [0.1] * (H - 3))
    x = (rng.normal(size=(20000, H)) * sd) @ q.T + 5.0
    res = analysis.pca(jnp.asarray(x.reshape(4, 5000, H), jnp.float32), n_components=3)
    np.testing.assert_allclose(res.explained_variance, sd[:3] ** 2, rtol=0.05)
    np.testing.assert_allclose(res.explained_variance_ratio, sd[:3] ** 2 / (sd**2).sum(),
                               rtol=0.05)
    np.testing.assert_allclose(np.abs(res.components @ q[:, :3]), np.eye(3), atol=0.02)
    np.testing.assert_allclose(res.mean, 5.0, atol=0.1)
    z = res.transform(jnp.asarray(x[:3], jnp.float32))
    np.testing.assert_allclose(z, (x[:3] - np.asarray(res.mean)) @ np.asarray(res.components).T,
                               atol=1e-3)
    # sign convention: each axis' largest loading is positive
    comp = np.asarray(res.components)
    assert (comp[np.arange(3), np.abs(comp).argmax(1)] > 0).all()


def test_ring_ordered_by_theta_scores_high_and_shuffled_low():
    rng = np.random.default_rng(1)
    theta = rng.uniform(-np.pi, np.pi, 2000)
    h = _ring(theta)
    assert analysis.ring_score(h, theta) > 0.95
    # any rotation, reflection or squash of the plane is still a ring ordered by θ
    assert analysis.ring_score(_ring(theta, offset=2.0, direction=-1.0, squash=0.4),
                               theta) > 0.9
    # the same states with θ shuffled
    assert analysis.ring_score(h, rng.permutation(theta)) < 0.2
    # θ encoded on a line (no ring), and unrelated noise
    line = (theta[:, None] * _plane(2)[0] + 0.05 * rng.normal(size=(2000, H))).astype(np.float32)
    assert analysis.ring_score(line, theta) < 0.4   # ≈ 0.05-0.35 by noise seed
    blob = rng.normal(size=(2000, H)).astype(np.float32)
    assert analysis.ring_score(blob, theta) < 0.2


def test_ring_score_ignores_how_long_each_angle_is_visited():
    # 90% of the samples near the top (θ ≈ 0), like a trained agent that balances
    rng = np.random.default_rng(2)
    theta = np.concatenate([rng.normal(0, 0.1, 9000), rng.uniform(-np.pi, np.pi, 1000)])
    theta = (theta + np.pi) % (2 * np.pi) - np.pi
    assert analysis.ring_score(_ring(theta), theta) > 0.95


def test_vmap_over_checkpoints_matches_loop():
    rng = np.random.default_rng(3)
    theta = rng.uniform(-np.pi, np.pi, (3, 5, 100))
    hs = np.stack([_ring(theta[0]), _ring(theta[1], noise=0.5),
                   rng.normal(size=(5, 100, H)).astype(np.float32)])
    batched = jax.jit(jax.vmap(analysis.ring_score))(hs, theta)
    looped = [analysis.ring_score(hs[i], theta[i]) for i in range(3)]
    np.testing.assert_allclose(batched, looped, rtol=1e-4)
    assert batched[0] > batched[1] > batched[2]
    pcs = jax.vmap(analysis.pca)(hs)
    np.testing.assert_allclose(pcs.explained_variance[1],
                               analysis.pca(hs[1]).explained_variance, rtol=1e-4)


def test_participation_ratio_of_ring_line_and_isotropic_noise():
    rng = np.random.default_rng(4)
    theta = rng.uniform(-np.pi, np.pi, 5000)
    ring = np.zeros((5000, H), np.float32)
    ring[:, 0], ring[:, 1] = np.cos(theta), np.sin(theta)
    assert float(analysis.participation_ratio(ring)) == pytest.approx(2.0, abs=0.05)
    # any rotation and scale of the plane, offset, leading sample axes
    tilted = (3.0 * _ring(theta, noise=0.0)).reshape(50, 100, H)
    assert float(analysis.participation_ratio(tilted)) == pytest.approx(2.0, abs=0.05)
    line = (rng.normal(size=(1000, 1)) * _plane(5)[0]).astype(np.float32)
    assert float(analysis.participation_ratio(line)) == pytest.approx(1.0, abs=1e-3)
    # N isotropic Gaussian samples in H dims: H·N/(N + H) (finite-sample shrinkage)
    noise = rng.normal(size=(20000, H)).astype(np.float32)
    assert float(analysis.participation_ratio(noise)) == pytest.approx(
        H * 20000 / (20000 + H), rel=0.01)
    assert np.isnan(float(analysis.participation_ratio(np.ones((10, H), np.float32))))


def test_theta_variance_explained_ring_vs_noise():
    rng = np.random.default_rng(5)
    n = 20000
    theta = rng.uniform(-np.pi, np.pi, n)
    ring = np.zeros((n, H), np.float32)
    ring[:, 0], ring[:, 1] = np.cos(theta), np.sin(theta)
    ve = float(analysis.theta_variance_explained(ring, theta))
    assert ve > 0.99
    assert ve == pytest.approx(1 - (2 * np.pi / 32) ** 2 / 12, abs=5e-4)   # arc-width loss
    # unwrapped θ is wrapped first: θ + 2π is the same angle
    assert float(analysis.theta_variance_explained(ring, theta + 2 * np.pi)) == \
        pytest.approx(ve, abs=1e-4)
    # a line ordered by θ is still a function of θ
    line = (theta[:, None] * _plane(6)[0]).astype(np.float32)
    assert float(analysis.theta_variance_explained(line, theta, n_bins=256)) > 0.99
    # states unrelated to θ: only what the bin means absorb, ≈ (B − 1)/(N − 1)
    noise = rng.normal(size=(n, H)).astype(np.float32)
    ve_noise = float(analysis.theta_variance_explained(noise, theta))
    assert abs(ve_noise - 31 / (n - 1)) < 1e-3
    # the same ring states with θ shuffled
    assert float(analysis.theta_variance_explained(ring, rng.permutation(theta))) < 0.01


def test_variance_explained_ignores_empty_bins_and_vmaps():
    rng = np.random.default_rng(6)
    theta = rng.uniform(0.0, 1.0, (3, 2000))              # only a few of 32 bins visited
    h = np.stack([np.stack([np.cos(t), np.sin(t)], -1) for t in theta]).astype(np.float32)
    h = np.concatenate([h, np.zeros((3, 2000, 6), np.float32)], -1)
    h[2] = rng.normal(size=(2000, 8))
    batched = jax.jit(jax.vmap(analysis.theta_variance_explained))(h, theta)
    looped = [analysis.theta_variance_explained(h[i], theta[i]) for i in range(3)]
    np.testing.assert_allclose(batched, looped, rtol=1e-5)
    assert batched[0] > 0.95 and batched[2] < 0.02
    pr = jax.vmap(analysis.participation_ratio)(h)
    np.testing.assert_allclose(pr[2], analysis.participation_ratio(h[2]), rtol=1e-5)
