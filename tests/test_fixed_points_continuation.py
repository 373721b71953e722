"""Continuation of fixed points across checkpoints (`continue_fixed_points`, and the paper
stage `fixed_points_continued_agent`) on networks whose fixed points are known."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from rnnctl import analysis
from rnnctl.analysis import continue_fixed_points, find_fixed_points


def root(w):
    """The positive solution of h = tanh(w h) (w > 1)."""
    return optimize.brentq(lambda h: np.tanh(w * h) - h, 1e-6, 1.0, xtol=1e-15)


def cell_of(w):
    return lambda h, x: jnp.tanh(w * h + x)


def test_continued_from_the_exact_points_finds_them_without_the_optimiser():
    w = 2.0
    prev = jnp.array([[-root(w)], [0.0], [root(w)], [5.0]], jnp.float32)
    fresh = jnp.linspace(-1.0, 1.0, 4, dtype=jnp.float32)[:, None]
    fps = jax.jit(lambda p, v, h: continue_fixed_points(
        cell_of(w), jnp.zeros(1), p, h, previous_valid=v, max_points=6))(
            prev, jnp.array([True, True, True, False]), fresh)
    u = fps.get_unique()
    np.testing.assert_allclose(np.sort(u.xstar[:, 0]), [-root(w), 0.0, root(w)], atol=1e-6)
    assert sorted(u.is_stable.tolist()) == [False, True, True]
    # the continued points are kept (ties go to them) and, already below tol_q, count no
    # iteration; the invalid row (5.0) was replaced by an optimised fresh point
    np.testing.assert_array_equal(np.sort(u.x_init[:, 0]), np.sort(np.asarray(prev)[:3, 0]))
    assert (u.n_iters == 0).all()
    assert np.abs(np.asarray(fps.x_init)[:, 0] - 5.0).min() > 1.0


def test_a_newly_born_fixed_point_is_found_by_the_fresh_starts():
    # w = 0.9: one fixed point (0); w = 1.5: a pitchfork has added ±h*
    before = jax.jit(lambda h: find_fixed_points(cell_of(0.9), jnp.zeros(1), h,
                                                 max_points=4))(
        jax.random.uniform(jax.random.key(0), (16, 1), minval=-1, maxval=1))
    assert before.get_unique().xstar.shape[0] == 1
    fresh = jnp.array([[-0.9], [-0.6], [0.6], [0.9]], jnp.float32)
    after = jax.jit(lambda p, v, h: continue_fixed_points(
        cell_of(1.5), jnp.zeros(1), p, h, previous_valid=v, max_points=4))(
            before.xstar, before.valid, fresh).get_unique()
    np.testing.assert_allclose(np.sort(after.xstar[:, 0]), [-root(1.5), 0.0, root(1.5)],
                               atol=1e-6)


def test_previous_only_needs_an_outlier_reference():
    prev = jnp.array([[0.1], [0.96]], jnp.float32)
    with pytest.raises(ValueError, match="outlier_reference"):
        continue_fixed_points(cell_of(2.0), jnp.zeros(1), prev, jnp.zeros((0, 1)))
    fps = continue_fixed_points(cell_of(2.0), jnp.zeros(1), prev, jnp.zeros((0, 1)),
                                outlier_reference=jnp.linspace(-1, 1, 8)[:, None],
                                n_opt_steps=0)
    np.testing.assert_allclose(np.sort(fps.get_unique().xstar[:, 0]), [0.0, root(2.0)],
                               atol=1e-6)


def test_continued_agent_finds_what_the_independent_search_finds():
    """Eight checkpoints of an 8-unit RNN whose gain grows past several pitchfork
    bifurcations (points are born along the way): every checkpoint's fixed points
    found by the independent search (256 starts) are found by continuation, whose result
    has the same shape, and its every point is real."""
    from rnnctl.paper.options import DEFAULT_OPTIONS
    from rnnctl.paper.stages import fixed_points_agent, fixed_points_continued_agent
    rng = np.random.default_rng(5)
    n_ckpt, hid = 8, 8
    base = rng.normal(size=(hid, hid))
    base = (base + base.T) / 2                        # real eigenvalues: pitchforks
    base /= np.abs(np.linalg.eigvalsh(base)).max()    # gain 1 = the first bifurcation
    gains = np.linspace(0.8, 2.5, n_ckpt)
    params = {"rnn": {"W_h": jnp.asarray(gains[:, None, None] * base, jnp.float32),
                      "W_x": jnp.asarray(np.broadcast_to(rng.normal(0, 0.3, (hid, 3)),
                                                         (n_ckpt, hid, 3)), jnp.float32),
                      "b": jnp.zeros((n_ckpt, hid), jnp.float32)}}
    h = jax.random.uniform(jax.random.key(2), (n_ckpt, 2, 50, hid), minval=-1, maxval=1)
    theta = jax.random.uniform(jax.random.key(3), (n_ckpt, 2, 50), minval=-np.pi,
                               maxval=np.pi)
    x = jnp.array([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    keys = jax.random.split(jax.random.key(4), n_ckpt)
    opts = dataclasses.replace(DEFAULT_OPTIONS, fp_opt_steps=200, fp_max_points=12,
                               fp_continue=16, fp_carry=8, fp_chains=2)
    old = fixed_points_agent(params, x, h, keys, opts, theta=theta)
    new = fixed_points_continued_agent(params, x, h, keys, opts, theta=theta)
    assert new.valid.shape == old.valid.shape == (n_ckpt, 2, 12)
    assert (np.asarray(old.valid).sum(-1) > 1).any()   # several points at high gain
    for c in range(n_ckpt):
        for i in range(2):
            a = np.asarray(old.xstar[c, i])[np.asarray(old.valid[c, i])]
            b = np.asarray(new.xstar[c, i])[np.asarray(new.valid[c, i])]
            for p in a:
                d = np.linalg.norm(b - p, axis=-1)
                assert d.min() < 1e-3, (c, i, p)
                j = int(d.argmin())
                k = int(np.linalg.norm(a - p, axis=-1).argmin())
                assert bool(np.asarray(new.is_stable[c, i])[np.asarray(new.valid[c, i])][j]) \
                    == bool(np.asarray(old.is_stable[c, i])[np.asarray(old.valid[c, i])][k])
    q = np.asarray(new.qstar)[np.asarray(new.valid)]
    assert (q < opts.fp_tol_q).all()
    assert not np.asarray(new.valid)[..., opts.fp_carry:].any()   # padded slots are empty


def test_manifold_by_continuation_finds_what_the_independent_search_finds():
    """The fixed-point manifold (fixed points at inputs around a ring of θ) searched by
    continuation from input to input finds every point the independent search at each
    input finds, at two checkpoints of an 8-unit RNN with several fixed points."""
    from rnnctl.paper.options import DEFAULT_OPTIONS
    from rnnctl.paper.stages import manifold_agent
    rng = np.random.default_rng(7)
    hid, n_in = 8, 12
    base = rng.normal(size=(hid, hid))
    base = (base + base.T) / 2
    base /= np.abs(np.linalg.eigvalsh(base)).max()
    gains = np.array([2.0, 3.0])
    params = {"rnn": {"W_h": jnp.asarray(gains[:, None, None] * base, jnp.float32),
                      "W_x": jnp.asarray(np.broadcast_to(rng.normal(0, 0.5, (hid, 3)),
                                                         (2, hid, 3)), jnp.float32),
                      "b": jnp.zeros((2, hid), jnp.float32)}}
    th = np.linspace(-np.pi, np.pi, n_in, endpoint=False)
    x_ring = jnp.asarray(0.2 * np.stack([np.cos(th), np.sin(th), np.zeros(n_in)], -1),
                         jnp.float32)
    h = jax.random.uniform(jax.random.key(2), (2, 2, 50, hid), minval=-1, maxval=1)
    keys = jax.random.split(jax.random.key(4), 2)
    opts = dataclasses.replace(DEFAULT_OPTIONS, fp_opt_steps=200, manifold_fp_init=64,
                               manifold_max_points=8, fp_carry=8, fp_chains=3)
    old = manifold_agent(params, x_ring, h, keys, dataclasses.replace(opts, fp_continue=0))
    new = manifold_agent(params, x_ring, h, keys, dataclasses.replace(opts, fp_continue=8))
    assert new.valid.shape == old.valid.shape == (2, n_in, 8)
    assert (np.asarray(old.valid).sum(-1) > 1).any()   # several points somewhere
    for s in range(2):
        for m in range(n_in):
            a = np.asarray(old.xstar[s, m])[np.asarray(old.valid[s, m])]
            b = np.asarray(new.xstar[s, m])[np.asarray(new.valid[s, m])]
            assert np.asarray(new.qstar[s, m])[np.asarray(new.valid[s, m])].max(
                initial=0.0) < opts.fp_tol_q
            for p in a:
                assert np.linalg.norm(b - p, axis=-1).min() < 1e-3, (s, m, p)
