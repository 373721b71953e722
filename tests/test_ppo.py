import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import envs, networks, ppo
from rnnctl.config import stack_hypers


def _inputs(config, seeds, obs):
    keys = ppo.agent_keys(seeds)
    masks = jnp.stack([envs.obs_mask(o, config.encoding) for o in obs])
    hypers = stack_hypers([config.hyper() for _ in seeds])
    return keys, masks, hypers


# ----------------------------------------------------------------------------- GAE

def test_gae_by_hand():
    g, lam = 0.9, 0.5
    r = jnp.array([1.0, 2.0, 3.0])
    v = jnp.array([0.5, 1.0, 1.5])
    next_v = jnp.array([1.0, 1.5, 2.0])
    f = jnp.zeros(3, bool)
    adv, ret = ppo.gae(r, v, next_v, jnp.zeros(3), f, f, g, lam)
    # δ = r + γ V' − V
    d = np.array([1 + 0.9 * 1.0 - 0.5, 2 + 0.9 * 1.5 - 1.0, 3 + 0.9 * 2.0 - 1.5])
    a2 = d[2]
    a1 = d[1] + g * lam * a2
    a0 = d[0] + g * lam * a1
    np.testing.assert_allclose(adv, [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(ret, np.array([a0, a1, a2]) + np.array(v), rtol=1e-6)


def test_gae_truncation_bootstraps_and_cuts_the_trace():
    g, lam = 0.9, 0.5
    r = jnp.array([1.0, 2.0, 3.0])
    v = jnp.array([0.5, 1.0, 1.5])
    next_v = jnp.array([1.0, 1.5, 2.0])   # next_v[1] is the *new* episode's first state
    boot = jnp.array([0.0, 7.0, 0.0])     # V(final observation) at the truncated step
    trunc = jnp.array([False, True, False])
    term = jnp.zeros(3, bool)
    adv, _ = ppo.gae(r, v, next_v, boot, term, trunc, g, lam)
    d2 = 3 + 0.9 * 2.0 - 1.5
    d1 = 2 + 0.9 * 7.0 - 1.0              # bootstrap from V(final obs), not 0, not next_v
    d0 = 1 + 0.9 * 1.0 - 0.5
    np.testing.assert_allclose(adv, [d0 + g * lam * d1, d1, d2], rtol=1e-6)
    # treating the same step as terminal would drop the bootstrap: a different answer
    adv_term, _ = ppo.gae(r, v, next_v, boot, trunc, term, g, lam)
    np.testing.assert_allclose(adv_term[1], 2 - 1.0, rtol=1e-6)
    assert abs(float(adv_term[1] - adv[1])) > 1.0


# ----------------------------------------------------------------------------- rollout

@pytest.fixture(scope="module")
def collected(tiny_config):
    trainer = ppo.make_train(tiny_config)
    state = trainer.init(*_inputs(tiny_config, [0, 0], ["fo", "po"]))
    env, traj, last_v = trainer.collect(state)
    return tiny_config, state, jax.tree.map(np.asarray, traj)


def test_episode_boundaries_and_truncation_flags(collected):
    cfg, _, traj = collected
    T = cfg.rollout_len
    starts = np.zeros(T, bool)
    starts[::envs.EPISODE_LEN] = True
    truncs = np.roll(starts, -1)
    truncs[-1] = (T % envs.EPISODE_LEN == 0)
    for a in range(2):
        for e in range(cfg.n_envs):
            np.testing.assert_array_equal(traj.start[a, :, e], starts)
            np.testing.assert_array_equal(traj.truncated[a, :, e], truncs)
    assert not traj.terminated.any()
    # completed-episode returns are recorded exactly at truncation steps
    assert (traj.episode_return[traj.truncated] < 0).all()
    assert (traj.episode_return[~traj.truncated] == 0).all()


def test_hidden_state_resets_exactly_at_episode_start(collected):
    cfg, state, traj = collected
    params = jax.tree.map(lambda a: a[0], state.params)
    x, h_in, start = traj.x[0], traj.h_in[0], traj.start[0]       # [T, E, ...]
    # the carried state is non-zero at the boundary, so a missing reset would show
    assert np.abs(h_in[envs.EPISODE_LEN]).max() > 1e-3
    v_reset = networks.value(params, networks.cell(params, jnp.zeros_like(h_in), x))
    v_carry = networks.value(params, networks.cell(params, h_in, x))
    expected = np.where(start, v_reset, v_carry)
    np.testing.assert_allclose(traj.value[0], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(v_reset - v_carry))[start].max() > 1e-4


def test_truncation_bootstrap_value_uses_final_observation(collected):
    cfg, state, traj = collected
    params = jax.tree.map(lambda a: a[0], state.params)              # the FO agent
    t, e = envs.EPISODE_LEN - 1, 0                                   # a truncated step
    assert traj.truncated[0, t, e]
    h_t = networks.cell(params, networks.reset_hidden(traj.h_in[0, t, e], traj.start[0, t, e]),
                        traj.x[0, t, e])
    # rebuild the pendulum state the agent saw at t and apply its action: the final obs
    cos, sin, scaled_thdot = traj.x[0, t, e]
    _, s = envs.state_from(np.arctan2(sin, cos), scaled_thdot / cfg.theta_dot_scale)
    final_obs = envs.step(jax.random.key(0), s, jnp.array([traj.action[0, t, e]])).obs
    x_final = envs.observe(final_obs, envs.obs_mask("fo"), cfg.encoding, cfg.theta_dot_scale)
    expected = networks.value(params, networks.cell(params, h_t, x_final))
    np.testing.assert_allclose(traj.bootstrap_value[0, t, e], expected, rtol=1e-4, atol=1e-5)
    # and it is not the value of the next stored step (a new episode's first state)
    assert abs(float(traj.bootstrap_value[0, t, e] - traj.value[0, t + 1, e])) > 1e-4


def test_po_rollout_inputs_have_no_velocity(collected):
    _, _, traj = collected
    assert np.all(traj.x[1, ..., 2] == 0.0)
    assert np.abs(traj.x[0, ..., 2]).max() > 0.0


# ----------------------------------------------------------------------------- training

def test_compiles_once_for_all_agents(tiny_config):
    trainer = ppo.make_train(tiny_config)
    first = _inputs(tiny_config, [0, 0, 1, 1], ["fo", "po", "fo", "po"])
    second = _inputs(tiny_config, [5, 6, 7, 8], ["po", "po", "fo", "fo"])
    jax.block_until_ready((first, second))
    # jax times a persistent-cache load under the same event as a compilation, so this
    # counts programs compiled or loaded from the session's cache alike
    compiles = []

    def listen(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        jax.block_until_ready(trainer.train(*first))
        # two programs: initialisation, and the whole training loop
        assert len(compiles) == 2, compiles
        jax.block_until_ready(trainer.train(*second))   # other seeds, FO/PO mix: no recompile
        assert len(compiles) == 2, compiles
    finally:
        jax.monitoring.clear_event_listeners()


def test_seed_reproduces_bitwise_and_seeds_differ(tiny_config):
    # 4 agents, as in the other training tests here: the session's compilation cache then
    # holds this program (the second `make_train` is still a separate jit)
    inputs = _inputs(tiny_config, [3, 4, 5, 6], ["po"] * 4)
    out1 = ppo.make_train(tiny_config).train(*inputs)
    out2 = ppo.make_train(tiny_config).train(*inputs)   # a separately built trainer
    for a, b in zip(jax.tree.leaves(out1.params), jax.tree.leaves(out2.params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(out1.metrics), jax.tree.leaves(out2.metrics)):
        np.testing.assert_array_equal(a, b)
    w = out1.params["rnn"]["W_h"]
    assert not np.array_equal(w[0], w[1])


def test_training_output_shapes_and_records(tiny_config):
    cfg = tiny_config
    out = ppo.make_train(cfg).train(*_inputs(cfg, [0, 0, 1, 1], ["fo", "po", "fo", "po"]))
    U = cfg.n_updates
    assert out.params["rnn"]["W_h"].shape == (4, U + 1, cfg.hidden, cfg.hidden)
    for name, m in vars(out.metrics).items():
        assert m.shape == (4, U + 1), name
    m = jax.tree.map(np.asarray, out.metrics)
    # entry 0: initial weights; training metrics undefined, evaluation defined
    assert np.isnan(m.policy_loss[:, 0]).all() and np.isfinite(m.eval_return[:, 0]).all()
    assert np.isfinite(m.policy_loss[:, 1:]).all()
    # each update of 2 envs × 400 steps completes exactly 2 × 2 episodes
    np.testing.assert_array_equal(m.n_episodes[:, 1:], 4)
    assert (m.episode_return[:, 1:] < 0).all() and (m.episode_return[:, 1:] > -1800).all()
    assert (m.grad_norm[:, 1:] > 0).all()
    # the parameters actually change each update, and entry 0 is the initialisation
    w = np.asarray(out.params["rnn"]["W_h"])
    assert all(not np.array_equal(w[:, u], w[:, u + 1]) for u in range(U))
    init = networks.init_params(jax.random.split(ppo.agent_keys([0])[0], 3)[0],
                                envs.input_dim(cfg.encoding), cfg.hidden, cfg.head_hidden,
                                cfg.recurrent_gain, cfg.init_log_std)
    np.testing.assert_array_equal(w[0, 0], init["rnn"]["W_h"])
    # PO never sees θ̇, so its θ̇ input weights never receive a gradient
    wx = np.asarray(out.params["rnn"]["W_x"])
    np.testing.assert_array_equal(wx[1, -1, :, 2], wx[1, 0, :, 2])
    assert not np.array_equal(wx[0, -1, :, 2], wx[0, 0, :, 2])
