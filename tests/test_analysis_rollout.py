"""Deterministic rollouts: PO masking, wrapped θ, reproducibility, physics, vmap."""
import rnnctl  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis, envs, networks
from rnnctl.config import ConfigError, TrainConfig


@pytest.fixture(scope="module")
def params():
    p = networks.init_params(jax.random.key(0), 3, hidden=16, head_hidden=16)
    # a policy mean that uses the whole torque range, so clipping is exercised
    p["actor"]["mean"]["kernel"] = p["actor"]["mean"]["kernel"] * 1000.0
    return p


@pytest.fixture(scope="module")
def po(params):
    return analysis.rollout(params, obs="po", n_episodes=3, steps=60, key=jax.random.key(1),
                            encoding="cos_sin")


def test_po_inputs_have_no_velocity_and_theta_is_wrapped(po):
    assert po.x.shape == (3, 60, 3) and po.h.shape == (3, 60, 16)
    assert po.theta.shape == po.theta_dot.shape == po.reward.shape == (3, 60)
    assert (np.asarray(po.x[..., 2]) == 0.0).all()
    assert np.abs(np.asarray(po.theta_dot)).max() > 0.5    # ... though the pendulum moves
    th = np.asarray(po.theta)
    assert (th >= -np.pi).all() and (th < np.pi).all()
    np.testing.assert_allclose(po.x[..., 0], np.cos(th), atol=1e-5)
    np.testing.assert_allclose(po.x[..., 1], np.sin(th), atol=1e-5)


def test_same_key_same_rollout_other_key_differs(params, po):
    again = analysis.rollout(params, obs="po", n_episodes=3, steps=60, key=jax.random.key(1),
                            encoding="cos_sin")
    for a, b in zip(jax.tree.leaves(po), jax.tree.leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = analysis.rollout(params, obs="po", n_episodes=3, steps=60, key=jax.random.key(2),
                             encoding="cos_sin")
    assert not np.array_equal(np.asarray(other.theta[:, 0]), np.asarray(po.theta[:, 0]))
    # random start states of the gymnax reset distribution
    assert np.abs(np.asarray(po.theta_dot[:, 0])).max() <= 1.0


def test_rollout_follows_the_network_and_the_pendulum(params, po):
    cell = analysis.rnn_cell(params)
    h_prev = jnp.concatenate([jnp.zeros((3, 1, 16)), po.h[:, :-1]], axis=1)   # h_{-1} = 0
    np.testing.assert_allclose(po.h, cell(h_prev, po.x), atol=1e-5)
    mean, _ = networks.policy(params, po.h)
    np.testing.assert_allclose(po.action, mean, atol=1e-5)
    assert np.abs(np.asarray(po.action)).max() > 2.0                   # clipping happens
    np.testing.assert_allclose(po.torque, np.clip(po.action, -2, 2), atol=1e-6)
    want_r = -(po.theta**2 + 0.1 * po.theta_dot**2 + 0.001 * po.torque**2)
    np.testing.assert_allclose(po.reward, want_r, rtol=1e-5, atol=1e-5)
    # semi-implicit Euler of gymnax: θ̇' = θ̇ + (3g/2l sin θ + 3/(ml²) u) dt, θ' = θ + θ̇' dt
    thd_next = np.clip(po.theta_dot[:, :-1] + (15.0 * np.sin(po.theta[:, :-1])
                                               + 3.0 * po.torque[:, :-1]) * 0.05, -8, 8)
    np.testing.assert_allclose(po.theta_dot[:, 1:], thd_next, atol=1e-4)
    dth = np.asarray(envs.wrap_angle(po.theta[:, 1:] - po.theta[:, :-1] - thd_next * 0.05))
    np.testing.assert_allclose(dth, 0.0, atol=1e-4)


def test_fo_sees_scaled_velocity_and_config_options(params):
    fo = analysis.rollout(params, obs="fo", n_episodes=3, steps=60, key=jax.random.key(1),
                         encoding="cos_sin")
    np.testing.assert_allclose(fo.x[..., 2], 0.125 * fo.theta_dot, rtol=1e-6)
    cfg = TrainConfig(encoding="angle", theta_dot_scale=0.5, hidden=16)
    p2 = networks.init_params(jax.random.key(0), 2, hidden=16, head_hidden=16)
    ang = analysis.rollout(p2, obs="fo", n_episodes=2, steps=20, key=jax.random.key(1),
                           config=cfg)
    np.testing.assert_allclose(ang.x[..., 0], ang.theta, atol=1e-5)
    np.testing.assert_allclose(ang.x[..., 1], 0.5 * ang.theta_dot, rtol=1e-6)
    with pytest.raises(ConfigError):
        analysis.rollout(params, obs="po", key=jax.random.key(0), steps=201)
    with pytest.raises(ConfigError):
        analysis.rollout(params, obs="xo", key=jax.random.key(0))


def test_vmap_over_checkpoints_and_observability_matches_loop(params, po):
    stack = jax.tree.map(lambda a: jnp.stack([a, 0.5 * a]), params)
    masks = jnp.stack([envs.obs_mask("po"), envs.obs_mask("fo")])
    key = jax.random.key(1)
    batched = jax.jit(jax.vmap(lambda p, m: analysis.rollout(
        p, obs=m, n_episodes=3, steps=60, key=key, encoding="cos_sin")))(stack, masks)
    assert batched.h.shape == (2, 3, 60, 16)
    np.testing.assert_allclose(batched.h[0], po.h, atol=1e-5)
    fo_half = analysis.rollout(jax.tree.map(lambda a: 0.5 * a, params), obs="fo",
                               n_episodes=3, steps=60, key=key, encoding="cos_sin")
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(fo_half)):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b), atol=1e-4)


def test_analysis_import_is_light_and_all_names_resolve():
    import subprocess
    import sys
    code = ("import sys, rnnctl\nfrom rnnctl import analysis\n"
            "heavy = [m for m in ('matplotlib', 'gymnax', 'distrax') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "missing = [n for n in analysis.__all__ if not hasattr(analysis, n)]\n"
            "assert not missing, missing\n"
            "assert 'gymnax' in sys.modules  # only now, through the lazy rollout\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
