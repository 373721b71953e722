"""Flow fields of maps we wrote down, and a slow point whose place and speed are known."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis
from rnnctl.analysis import FixedPoints, find_fixed_points

A = np.array([[0.9, 0.2, 0.0], [-0.1, 0.8, 0.3], [0.0, 0.1, 0.5]], np.float32)


def linear_cell(h, x):
    return jnp.asarray(A) @ h + x


def test_flow_of_a_linear_map_on_a_coordinate_plane():
    plane = analysis.Plane(origin=jnp.array([0.0, 0.0, 1.0]),
                           basis=jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    grid = jnp.stack(jnp.meshgrid(jnp.linspace(-1, 1, 5), jnp.linspace(-2, 2, 4),
                                  indexing="ij"), -1)                      # [5, 4, 2]
    x = jnp.array([0.1, 0.0, -0.2])
    ff = analysis.flow_field(linear_cell, x, plane, grid)
    assert ff.speed.shape == (5, 4) and ff.flow.shape == (5, 4, 2)
    h = np.concatenate([np.asarray(grid), np.ones((5, 4, 1))], -1)          # origin + grid
    d = h @ A.T + np.asarray(x) - h
    np.testing.assert_allclose(ff.speed, 0.5 * (d ** 2).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(ff.flow, d[..., :2], atol=1e-6)
    # under jit, with the plane traced, the same numbers
    jitted = jax.jit(lambda p, g: analysis.flow_field(linear_cell, x, p, g))(plane, grid)
    np.testing.assert_allclose(jitted.speed, ff.speed, rtol=1e-6)


def test_default_plane_is_the_pca_plane_of_visited_states():
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    u = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    v = np.array([0.0, 0.0, 1.0])
    states = jnp.asarray(3.0 * np.cos(t)[:, None] * u + 1.0 * np.sin(t)[:, None] * v
                         + np.array([0.5, 0.0, 0.0]), jnp.float32)           # an ellipse
    ff = analysis.flow_field(linear_cell, jnp.zeros(3), None, jnp.zeros((1, 2)),
                             states=states)
    np.testing.assert_allclose(ff.plane.origin, [0.5, 0.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(np.abs(ff.plane.basis @ np.stack([u, v]).T), np.eye(2),
                               atol=1e-5)
    grid = analysis.plane_grid(ff.plane, states, n=8, margin=0.0)
    assert grid.shape == (8, 8, 2)
    np.testing.assert_allclose(np.abs(grid[[0, -1], 0, 0]), [3.0, 3.0], atol=1e-3)


def test_bad_planes_and_grids_are_refused_in_one_line():
    grid = jnp.zeros((3, 3, 2))
    skew = analysis.Plane(origin=jnp.zeros(3), basis=jnp.array([[1.0, 0, 0], [1.0, 1.0, 0]]))
    long = analysis.Plane(origin=jnp.zeros(3), basis=jnp.array([[2.0, 0, 0], [0, 1.0, 0]]))
    small = analysis.Plane(origin=jnp.zeros(2), basis=jnp.eye(2))
    for plane, word in [(skew, "orthonormal"), (long, "orthonormal"), (small, "plane")]:
        with pytest.raises(ValueError, match=word) as info:
            analysis.flow_field(linear_cell, jnp.zeros(3), plane, grid)
        assert "\n" not in str(info.value) and "plane" in str(info.value)
    ok = analysis.Plane(origin=jnp.zeros(3), basis=jnp.eye(3)[:2])
    with pytest.raises(ValueError, match="grid"):
        analysis.flow_field(linear_cell, jnp.zeros(3), ok, jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="states"):
        analysis.flow_field(linear_cell, jnp.zeros(3), None, grid)


def ghost_cell(h, x):
    """h0' = h0 + 0.1 (h0² + μ)(h0 − 2), h1' = 0.5 h1 with μ = x[0].

    One fixed point, (2, 0). Near h0 = μ/4 the factor (h0² + μ)(h0 − 2) has a local
    maximum ≈ −2μ: a slow point (the ghost of the saddle-node at μ = 0) with
    q ≈ ½ (0.2 μ)².
    """
    mu = x[0]
    g = (h[0] ** 2 + mu) * (h[0] - 2.0)
    return jnp.stack([h[0] + 0.1 * g, 0.5 * h[1]])


@pytest.fixture(scope="module")
def ghost_fps():
    h0 = jax.random.uniform(jax.random.key(0), (32, 2), minval=jnp.array([-1.0, -1.0]),
                            maxval=jnp.array([3.0, 1.0]))
    search = jax.jit(jax.vmap(lambda mu: find_fixed_points(ghost_cell, jnp.array([mu]), h0,
                                                           n_opt_steps=800)))
    return search(jnp.array([0.01, 0.02]))                               # [2, 32]


def test_slow_point_is_marked_where_the_ghost_is(ghost_fps):
    fps = ghost_fps
    slow = fps.slow_points(q_max=1e-4)
    assert slow.shape == (2, 32)
    for i, mu in enumerate([0.01, 0.02]):
        fp = fps[i]
        assert int(fp.n_valid) == 1
        np.testing.assert_allclose(fp.xstar[np.argmax(fp.valid)], [2.0, 0.0], atol=1e-4)
        marked = np.flatnonzero(slow[i])
        assert marked.size == 1, fp.xstar[marked]                        # duplicates merged
        h0_min = (4 - np.sqrt(16 - 12 * mu)) / 6                          # g'(h0) = 0
        np.testing.assert_allclose(fp.xstar[marked[0]], [h0_min, 0.0], atol=2e-3)
        g = (h0_min ** 2 + mu) * (h0_min - 2)
        np.testing.assert_allclose(fp.qstar[marked[0]], 0.5 * (0.1 * g) ** 2, rtol=1e-2)
        assert not bool(fp.valid[marked[0]])
    # the threshold is respected: q ≈ 2e-6 and 8e-6 are above 1e-6 ...
    assert int(fps.slow_points(q_max=1e-6).sum()) == 0
    # ... and marking works on one search and on a saved-and-loaded result
    np.testing.assert_array_equal(fps[1].slow_points(q_max=1e-4), slow[1])


def test_slow_points_survive_a_save_load_round_trip(ghost_fps, tmp_path):
    fps = ghost_fps[0]
    fps.save(tmp_path / "fp.npz")
    back = FixedPoints.load(tmp_path / "fp.npz")
    np.testing.assert_array_equal(back.slow_points(), fps.slow_points())
    # a valid fixed point is never a slow point, whatever the threshold
    assert not np.any(np.asarray(fps.slow_points(q_max=1.0)) & np.asarray(fps.valid))
