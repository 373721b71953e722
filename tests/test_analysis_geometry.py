"""PCA of data with a covariance we chose; ring score on rings, shuffles and lines."""
import rnnctl  # noqa: F401  (safe XLA flags before jax starts)

import jax
import jax.numpy as jnp
import numpy as np

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
