"""Tasks other than Pendulum (issue 13): declarations, observation variants, training with
categorical heads and terminations, and a memory probe with a known answer for each cell."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import envs, experiment, networks, ppo
from rnnctl.config import ConfigError, TrainConfig
from rnnctl.rollout import episodes


def test_task_declarations():
    pend = envs.get_task(TrainConfig())
    assert pend.variants["po"] == (1.0, 0.0) and pend.variants["pv"] == (0.0, 1.0)
    assert pend.action == ("box", 1) and pend.state_vars == ("θ", "θ̇")
    cart = envs.get_task(name="CartPole-v1")
    assert cart.action == ("discrete", 2)
    assert cart.variants == {"fo": (1.0, 1.0, 1.0, 1.0), "po": (1.0, 0.0, 1.0, 0.0)}
    mem = envs.get_task(name="MemoryChain-bsuite", params=(("memory_length", 12),))
    assert mem.horizon == 13 and mem.env_params.memory_length == 12
    assert envs.get_task(name="CartPole-v1") is cart                # cached: static under jit
    with pytest.raises(ConfigError, match="unknown task"):
        envs.get_task(name="Pendulum-v2")
    with pytest.raises(ConfigError, match="no parameter nope"):
        envs.get_task(name="MemoryChain-bsuite", params=(("nope", 1),))
    with pytest.raises(ConfigError, match="observation variants"):
        cart.mask("pv")
    with pytest.raises(ConfigError, match="cell must be"):
        TrainConfig(cell="transformer").validate()
    cfg = TrainConfig(task="MemoryChain-bsuite", task_params=(("memory_length", 4),))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg              # JSON lists come back


def test_pendulum_pv_hides_theta():
    task = envs.get_task(TrainConfig(encoding="cos_sin"))
    raw = jnp.array([0.5, -0.75, 5.0])      # exact in float32
    np.testing.assert_array_equal(task.observe(raw, task.mask("pv")), [0.0, 0.0, 5.0 * 0.125])
    np.testing.assert_array_equal(task.observe(raw, task.mask("po")), [0.5, -0.75, 0.0])


TINY = dict(n_updates=2, rollout_len=32, seq_len=8, n_epochs=1, n_minibatches=1,
            hidden=8, head_hidden=8, eval_episodes=2)


@pytest.mark.parametrize("task,cell", [("CartPole-v1", "lstm")])
def test_every_listed_task_trains_two_updates(task, cell):
    """Each task of the issue trains (categorical head, terminations) and every one of its
    observation variants is an agent of the same compiled program (MemoryChain: the probe
    test below; BernoulliBandit: the CLI test)."""
    cfg = TrainConfig(task=task, cell=cell,                # 128 steps: a bandit episode ends
                      **{**TINY, "eval_episodes": 0, "rollout_len": 128})   # (no eval loop)
    t = envs.get_task(cfg)
    agents = experiment.make_agents([0, 1], list(t.variants), variants=t.variants)
    trainer = ppo.make_train(cfg)
    out = trainer.train(*experiment.agent_inputs(cfg, agents))
    ret = np.asarray(out.metrics.episode_return)[:, 1:]     # of the sampled episodes
    assert ret.shape == (len(agents), 2)
    assert np.isfinite(np.asarray(out.metrics.policy_loss)[:, 1:]).all()
    assert not np.asarray(out.metrics.diverged).any()
    lo, hi = {"CartPole-v1": (1, 500), "BernoulliBandit-misc": (0, 100)}[task]
    done = np.isfinite(ret)                 # NaN: no episode ended within the update
    assert done.any() and ((ret[done] >= lo) & (ret[done] <= hi)).all()
    assert trainer.train_from._cache_size() == 1         # all variants: one compilation
    p = jax.tree.map(lambda a: a[0, -1], out.params)
    ep = episodes(p, t, t.mask("fo"), jax.random.key(0), n_episodes=2)
    assert ep.h.shape == (2, t.horizon, networks.state_size(p))
    assert ep.state_vars.shape == (2, t.horizon, len(t.state_vars))
    # an episode's reward stops at its end, and its return is the evaluation's kind
    assert (np.asarray(ep.reward)[~np.asarray(ep.alive)] == 0).all()


# GRU in CI; the vanilla RNN and the LSTM under `-m slow` (each is one more compilation).
@pytest.mark.parametrize("cell", [pytest.param("rnn", marks=pytest.mark.slow), "gru",
                                  pytest.param("lstm", marks=pytest.mark.slow)])
def test_memory_probe_learns_with_each_cell(cell):
    """A probe with a known answer: MemoryChain with a 3-step memory pays +1 for recalling
    the context bit shown at the start and −1 otherwise, so a policy that remembers earns
    exactly 1 per episode and one that does not earns 0 on average. Every cell, 3 seeds,
    must reach 1 in 15 updates (they do in 5 to 10)."""
    cfg = TrainConfig(task="MemoryChain-bsuite", task_params=(("memory_length", 3),),
                      cell=cell, n_updates=15, rollout_len=128, seq_len=16, n_epochs=4,
                      n_minibatches=2, hidden=16, head_hidden=16, eval_episodes=16,
                      gamma=0.99)
    agents = experiment.make_agents([0, 1, 2], ["fo"], variants=("fo",))
    out = ppo.make_train(cfg).train(*experiment.agent_inputs(cfg, agents))
    ev = np.asarray(out.metrics.eval_return)
    assert np.abs(ev[:, 0]).max() < 0.5                   # untrained: chance
    np.testing.assert_array_equal(ev[:, -3:], 1.0)        # trained: perfect recall


@pytest.mark.slow   # one more compilation; the CartPole test checks compile-once in CI
def test_pendulum_with_a_gated_cell_fo_po_pv_compile_once():
    cell = "gru"
    cfg = TrainConfig(cell=cell, **TINY)
    agents = experiment.make_agents([0], ["fo", "po", "pv"])
    trainer = ppo.make_train(cfg)
    out = trainer.train(*experiment.agent_inputs(cfg, agents))
    assert trainer.train_from._cache_size() == 1
    assert np.isfinite(np.asarray(out.metrics.eval_return)).all()
    assert out.params["rnn"]["W_h"].shape == (3, 3, networks.GATES[cell] * 8, 8)
