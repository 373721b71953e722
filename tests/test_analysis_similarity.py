"""DSA and state-geometry distances on linear systems whose answers we know."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import ortho_group

from rnnctl.analysis import similarity


def rotation_system(freq, decay, size=4):
    """Block-diagonal damped rotations at angles freq, 2·freq (size 4)."""
    m = np.zeros((size, size))
    for b, f in enumerate([freq, 2 * freq]):
        c, s = np.cos(f), np.sin(f)
        m[2 * b:2 * b + 2, 2 * b:2 * b + 2] = decay * np.array([[c, -s], [s, c]])
    return m


def simulate(m, steps=200, noise=0.1, seed=0, episodes=None):
    rng = np.random.default_rng(seed)
    shape = (steps,) if episodes is None else (episodes, steps)
    h = np.zeros(shape + (m.shape[0],))
    h[..., 0, :] = rng.normal(size=h[..., 0, :].shape)
    for t in range(1, steps):
        h[..., t, :] = h[..., t - 1, :] @ m.T + noise * rng.normal(size=h[..., t, :].shape)
    return h.astype(np.float32)


@pytest.fixture(scope="module")
def systems():
    """[5, 200, 4]: a system, a rotated copy, a reflected copy, and two other systems."""
    base = simulate(rotation_system(0.3, 0.95))
    rot = ortho_group.rvs(4, random_state=1)
    rot = rot if np.linalg.det(rot) > 0 else -rot
    refl = rot.copy()
    refl[:, 0] *= -1
    other = simulate(rotation_system(0.6, 0.95), seed=2)
    slow = simulate(rotation_system(0.3, 0.7), seed=3)
    x = np.stack([base, base @ rot.T, base @ refl.T, other, slow])
    return x, similarity.dsa(jnp.asarray(x), n_delays=2, rank=4)


def test_dmd_recovers_the_eigenvalues_of_a_linear_system():
    m = rotation_system(0.3, 0.9)
    x = simulate(m, steps=40, noise=0.0, episodes=6)               # noise-free, 6 episodes
    ops = similarity.dmd(jnp.asarray(x)[None], n_delays=1, rank=4)  # [1, E, T, H]
    assert ops.A.shape == (1, 4, 4) and bool(ops.valid[0])
    got = np.sort_complex(np.linalg.eigvals(np.asarray(ops.A[0], np.float64)))
    np.testing.assert_allclose(got, np.sort_complex(np.linalg.eigvals(m)), atol=1e-4)


def test_rotated_and_reflected_copies_are_at_distance_zero(systems):
    _, d = systems
    scale = float(np.max(d))
    assert scale > 0.1
    assert float(d[0, 1]) < 1e-3 * scale and float(d[0, 2]) < 1e-3 * scale
    # different dynamics are far apart, farther than the copies by orders of magnitude
    assert min(float(d[0, 3]), float(d[0, 4]), float(d[3, 4])) > 0.05 * scale


def test_distance_matrix_is_symmetric_with_zero_diagonal(systems):
    _, d = systems
    d = np.asarray(d)
    assert d.shape == (5, 5)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert np.all(d >= 0)


@pytest.mark.slow   # ~25 s of CI; the rotated-copy and symmetry tests cover dsa in CI
def test_the_optimiser_finds_a_random_orthogonal_similarity():
    """d(B, C B Cᵀ) = 0 for random C of either determinant, while d(B, Bᵀ…) is not 0."""
    rng = np.random.default_rng(4)
    b = rng.normal(size=(6, 6)) / np.sqrt(6)
    c_plus = ortho_group.rvs(6, random_state=5)
    c_minus = c_plus.copy()
    c_minus[:, 0] *= -1
    ops = jnp.asarray(np.stack([b, c_plus @ b @ c_plus.T, c_minus @ b @ c_minus.T,
                                rng.normal(size=(6, 6)) / np.sqrt(6)]), jnp.float32)
    d = np.asarray(similarity.dsa_distance(ops, n_steps=400))
    assert d[0, 1] < 1e-3 and d[0, 2] < 1e-3 and d[1, 2] < 1e-3
    assert d[0, 3] > 0.5
    ang = np.asarray(similarity.dsa_distance(ops, metric="angular", n_steps=400))
    assert ang[0, 1] < 2e-2 and 0.3 < ang[0, 3] <= np.pi
    # from the identity alone (one start) the rotated copy is not found: starts matter
    one = np.asarray(similarity.dsa_distance(ops, n_starts=1, n_steps=400))
    assert one[0, 1] > 0.1


def test_a_nan_system_is_marked_not_propagated(systems):
    x, d = systems
    bad = x.copy()
    bad[3, 17, 2] = np.nan
    d_bad = np.asarray(similarity.dsa(jnp.asarray(bad), n_delays=2, rank=4))
    assert np.all(np.isnan(d_bad[3])) and np.all(np.isnan(d_bad[:, 3]))
    keep = [0, 1, 2, 4]
    np.testing.assert_allclose(d_bad[np.ix_(keep, keep)], np.asarray(d)[np.ix_(keep, keep)],
                               atol=1e-5)


def test_bad_input_is_refused_in_one_line_naming_the_argument():
    x = jnp.zeros((3, 10, 4))
    cases = [(dict(trajectories=x, n_delays=10, rank=2), "n_delays=10"),
             (dict(trajectories=x, n_delays=2, rank=9), "rank=9"),
             (dict(trajectories=x, n_delays=0, rank=2), "n_delays"),
             (dict(trajectories=jnp.zeros((10, 4)), n_delays=1, rank=2), "trajectories"),
             (dict(trajectories=jnp.zeros((3, 4, 8)), n_delays=2, rank=3), "rank=3")]
    for kwargs, word in cases:
        with pytest.raises(ValueError, match=word) as info:
            similarity.dsa(**kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="metric"):
        similarity.dsa(x, n_delays=1, rank=2, metric="cosine")


def test_geometric_distances_see_rotation_and_scale_as_equal(systems):
    x, _ = systems
    x = np.concatenate([x, 3.0 * x[:1] + 1.0])                    # scaled, shifted copy
    proc = np.asarray(similarity.procrustes_distance(jnp.asarray(x)))
    sim = np.asarray(similarity.cka(jnp.asarray(x)))
    for k in (1, 2, 5):                                            # copies of system 0
        assert proc[0, k] < 2e-3 and sim[0, k] > 1 - 1e-4
    assert proc[0, 3] > 0.3 and sim[0, 3] < 0.9                    # independent noise
    np.testing.assert_allclose(proc, proc.T)
    np.testing.assert_allclose(np.diag(proc), 0.0)
    np.testing.assert_allclose(np.diag(sim), 1.0)


def test_mds_recovers_points_up_to_rigid_motion():
    rng = np.random.default_rng(6)
    pts = rng.normal(size=(7, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    emb = np.asarray(similarity.mds(jnp.asarray(d, jnp.float32)))
    assert emb.shape == (7, 2)
    np.testing.assert_allclose(np.linalg.norm(emb[:, None] - emb[None], axis=-1), d,
                               atol=1e-4)
    with pytest.raises(ValueError, match="distances"):
        similarity.mds(jnp.zeros((3, 4)))


def test_dsa_works_under_jit_and_compiles_once(systems):
    x, d = systems
    fn = jax.jit(lambda t: similarity.dsa(t, n_delays=2, rank=4))
    np.testing.assert_allclose(fn(jnp.asarray(x)), d, atol=1e-5)
    size = similarity._pairwise._cache_size()
    similarity.dsa(jnp.asarray(x[::-1]), n_delays=2, rank=4)        # new data, same shapes
    similarity.dsa(jnp.asarray(2.0 * x), n_delays=2, rank=4)
    assert similarity._pairwise._cache_size() == size
