"""Recurrent PPO for recurrent agents (RNN, GRU, LSTM) on a gymnax task, as one compiled
program (the paper: vanilla-RNN agents on Pendulum).

`make_train(config)` returns a `Trainer` whose functions are pure and jit-compiled once:
environment stepping, the RNN, GAE, and the PPO epochs and minibatches all run inside one
`jax.jit`. The outer loop is a `lax.scan` over updates; inside it every agent (seeds ×
observability × swept hyperparameters) is one entry of a `jax.vmap`, so FO and PO agents,
and any number of seeds, train in the same program. Per-agent differences are data:
the PRNG key, the observation mask (FO/PO) and the `Hyper` pytree.

Index convention for everything recorded: entry u of the update axis belongs to the
parameters after u updates (u = 0: the initial weights). Training metrics of entry u
describe update u (its rollout was collected with the parameters of entry u-1); entry 0
has NaN training metrics and the deterministic evaluation of the initial weights.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from rnnctl import envs, networks
from rnnctl.config import Hyper, TrainConfig

__all__ = ["Transition", "EnvCarry", "AgentState", "Metrics", "TrainOutput", "Trainer",
           "make_train", "gae", "agent_keys"]


# ----------------------------------------------------------------------------- data

@struct.dataclass
class Transition:
    """One environment step of one environment (leaves [T, E] when stacked)."""

    x: jax.Array                # [I] agent input
    start: jax.Array            # [] bool: first step of an episode (h was reset before it)
    h_in: jax.Array             # [S] cell state carried into this step (before reset)
    action: jax.Array           # [] sampled action (torque; int32 category; [D] Box)
    log_prob: jax.Array         # []
    value: jax.Array            # [] V(h_t)
    reward: jax.Array           # [] raw environment reward
    terminated: jax.Array       # [] bool: true end of an episode (never for Pendulum)
    truncated: jax.Array        # [] bool: time limit; the critic bootstraps
    bootstrap_value: jax.Array  # [] V of the final observation (used when truncated)
    episode_return: jax.Array   # [] return of the episode that ended here (else 0)


@struct.dataclass
class EnvCarry:
    """State of one agent's environments between steps (leaves [E, ...])."""

    env_state: envs.EnvState
    obs: jax.Array              # [E, O] gymnax observation to act on next
    start: jax.Array            # [E] bool
    h: jax.Array                # [E, S] cell state
    episode_return: jax.Array   # [E] running return


@struct.dataclass
class AgentState:
    """Everything one agent's training carries from update to update."""

    params: dict
    opt_state: optax.OptState
    env: EnvCarry
    key: jax.Array
    update: jax.Array           # [] int32: updates done
    mask: jax.Array             # [I] observation mask (the agent's observation variant)
    hyper: Hyper
    diverged_at: jax.Array      # [] int32: first update with NaN/inf (-1: none); from then
                                # on the agent's parameters stay at their last finite value


@struct.dataclass
class Metrics:
    """Per-update scalars (leaves [U] per agent, [A, U] stacked)."""

    episode_return: jax.Array   # mean return of episodes completed in the update (NaN: none)
    n_episodes: jax.Array       # episodes completed in the update
    eval_return: jax.Array      # mean deterministic return over eval_episodes random starts
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_frac: jax.Array
    grad_norm: jax.Array        # before clipping, mean over minibatches
    diverged: jax.Array         # 1.0 from the first update whose loss or parameters were
                                # not finite (the parameters were then kept), else 0.0


@struct.dataclass
class TrainOutput:
    """Result of a run: the final state and the whole learning-dynamics record."""

    state: AgentState           # leaves [A, ...]
    params: dict                # leaves [A, U+1, ...]; entry 0 = initial weights
    metrics: Metrics            # leaves [A, U+1]; entry 0 = initial (NaN training metrics)


# ----------------------------------------------------------------------------- pieces

def gae(rewards, values, next_values, bootstrap_values, terminated, truncated,
        gamma, lam):
    """Generalised advantage estimates, treating truncation as a bootstrap, not an end.

    Args:
      rewards, values, bootstrap_values: [T, ...] (rewards already scaled).
      next_values: [T, ...] V of the state after step t in the same rollout stream
        (after an auto-reset this is the *next* episode's first state, so it is only used
        when the step did not end an episode).
      terminated, truncated: [T, ...] bool.
      gamma, lam: scalars.
    Returns:
      (advantages, returns) each [T, ...]; returns = advantages + values.
    """
    done = jnp.logical_or(terminated, truncated)
    following = jnp.where(terminated, 0.0, jnp.where(truncated, bootstrap_values, next_values))
    deltas = rewards + gamma * following - values

    def backward(carry, inp):
        delta, d = inp
        adv = delta + gamma * lam * jnp.where(d, 0.0, carry)
        return adv, adv

    _, adv = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, done), reverse=True)
    return adv, adv + values


def _optimizer(hyper: Hyper, lr: jax.Array) -> optax.GradientTransformation:
    # Built from traced hyperparameters, so a swept lr or clip norm never recompiles.
    return optax.chain(optax.clip_by_global_norm(hyper.max_grad_norm),
                       optax.scale_by_adam(eps=1e-5),
                       optax.scale(-lr))


def agent_keys(seeds) -> jax.Array:
    """One PRNG key per agent from integer seeds (FO and PO agents of a seed share it)."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


# ----------------------------------------------------------------------------- trainer

@dataclasses.dataclass(frozen=True)
class Trainer:
    """Compiled entry points for one `TrainConfig` (see `make_train`).

    Attributes:
      config: the static configuration.
      init: (keys [A], masks [A, I], hypers Hyper[A], rnn_inits [A] int or None) ->
        AgentState[A], on one device; rnn_inits index `networks.RNN_INITS` per agent
        (None: the config's `rnn_init` for all).
      place: (state) -> state spread over the mesh's devices (identity without a mesh).
      evaluate: (state) -> eval_return [A] (deterministic episodes of the current params).
      start: (state) -> (state, params [A, 1, ...], metrics [A, 1]): the record of
        update 0 (initial weights and their evaluation).
      run: (state, n_updates) -> (state, params [A, n, ...], metrics [A, n]); n_updates is
        static.
      train_from: (state) -> TrainOutput: start and every update in one program.
      train: (keys, masks, hypers) -> TrainOutput: `train_from(place(init(...)))`.
      collect: (state) -> (EnvCarry[A], Transition [A, T, E], last_value [A, E]): one
        rollout with the current parameters (what an update trains on; for inspection).
    """

    config: TrainConfig
    init: Callable
    place: Callable
    evaluate: Callable
    start: Callable
    run: Callable
    train_from: Callable
    train: Callable
    collect: Callable


AGENT_AXIS = "agents"


def make_train(config: TrainConfig, mesh: jax.sharding.Mesh | None = None) -> Trainer:
    """Build the pure, jit-compiled training functions for `config` (never mutated).

    Args:
      config: static configuration.
      mesh: optional 1-D mesh with axis "agents"; the agent axis (which must divide
        evenly over it) is then split over its devices with `jax.shard_map`.
    """
    config.validate()
    cfg = config
    E, T, L = cfg.n_envs, cfg.rollout_len, cfg.seq_len
    n_seq = cfg.n_sequences
    mb_size = n_seq // cfg.n_minibatches
    task = envs.get_task(cfg)
    in_dim = task.input_dim
    state_dim = cfg.hidden * (2 if cfg.cell == "lstm" else 1)
    observe = task.observe

    # ---- init ----------------------------------------------------------------------
    def init_agent(key, mask, hyper, rnn_init):
        k_param, k_env, k_next = jax.random.split(key, 3)
        params = networks.init_params(k_param, in_dim, cfg.hidden, cfg.head_hidden,
                                      cfg.recurrent_gain, cfg.init_log_std,
                                      cfg.rnn_init, cfg.cell, task.action)
        # A per-agent cell initialisation (index into RNN_INITS) replaces the config's, so
        # agents of several initialisations train in one program; the heads are the same.
        # (None: every agent takes the config's, which is then the only one built: the
        # same numbers, and a third of the initialisers to compile.)
        if rnn_init is not None:
            k_rnn = jax.random.split(k_param, 6)[0]
            cells = [networks.init_rnn(k_rnn, in_dim, cfg.hidden, name, cfg.recurrent_gain,
                                       cfg.cell) for name in networks.RNN_INITS]
            params["rnn"] = jax.tree.map(lambda *leaves: jnp.stack(leaves)[rnn_init], *cells)
        obs, env_state = jax.vmap(task.reset)(jax.random.split(k_env, E))
        env = EnvCarry(env_state=env_state, obs=obs, start=jnp.ones((E,), bool),
                       h=jnp.zeros((E, state_dim)), episode_return=jnp.zeros((E,)))
        opt_state = _optimizer(hyper, hyper.lr).init(params)
        return AgentState(params=params, opt_state=opt_state, env=env, key=k_next,
                          update=jnp.int32(0), mask=mask, hyper=hyper,
                          diverged_at=jnp.int32(-1))

    # ---- deterministic evaluation ----------------------------------------------------
    def evaluate_agent(params, mask, key):
        n = max(cfg.eval_episodes, 1)
        obs, env_state = jax.vmap(task.reset)(jax.random.split(key, n))
        w_hT = networks.loop_weights(params)

        def body(carry, k):
            obs, env_state, h = carry
            h = networks.loop_cell(params, w_hT, h,
                                   networks.input_term(params, observe(obs, mask)))
            action = networks.mode(params, h)
            res = jax.vmap(task.step)(jax.random.split(k, n), env_state, action)
            done = jnp.logical_or(res.terminated, res.truncated)
            return (res.obs, res.state, h), (res.reward, done)

        carry = (obs, env_state, jnp.zeros((n, state_dim)))
        _, (rewards, done) = jax.lax.scan(body, carry, jax.random.split(key, task.horizon),
                                          unroll=cfg.scan_unroll)
        if task.can_terminate:  # count each episode up to its end (gymnax auto-resets)
            ended_before = jnp.cumsum(done, axis=0) - done
            rewards = jnp.where(ended_before > 0, 0.0, rewards)
        return rewards.sum(0).mean()

    # ---- rollout ---------------------------------------------------------------------
    def rollout(state: AgentState, key):
        params, mask = state.params, state.mask
        w_hT = networks.loop_weights(params)

        def body(env: EnvCarry, k):
            k_act, k_env = jax.random.split(k)
            x = observe(env.obs, mask)
            h = networks.loop_cell(params, w_hT, networks.reset_hidden(env.h, env.start),
                                   networks.input_term(params, x))
            mean, log_std = networks.policy(params, h)
            dist = networks.distribution(mean, log_std)
            action = dist.sample(seed=k_act)
            log_prob = dist.log_prob(action)
            res = jax.vmap(task.step)(jax.random.split(k_env, E), env.env_state, action)
            ep_ret = env.episode_return + res.reward
            done = jnp.logical_or(res.terminated, res.truncated)
            tr = Transition(x=x, start=env.start, h_in=env.h, action=action,
                            log_prob=log_prob, value=jnp.zeros_like(log_prob),
                            reward=res.reward,
                            terminated=res.terminated, truncated=res.truncated,
                            bootstrap_value=jnp.zeros_like(log_prob),
                            episode_return=jnp.where(done, ep_ret, 0.0))
            env = EnvCarry(env_state=res.state, obs=res.obs, start=done, h=h,
                           episode_return=jnp.where(done, 0.0, ep_ret))
            return env, (tr, h, res.final_obs)

        env, (traj, hs, final_obs) = jax.lax.scan(body, state.env, jax.random.split(key, T),
                                                  unroll=cfg.scan_unroll)
        # Critic value of the observation each episode ended on (gymnax has already reset
        # the environment): V(F(h_t, x_final)). Computed for all steps at once after the
        # scan; GAE reads it only where the step was truncated.
        # Values are not needed to act, so they too are read after the scan, batched.
        v_boot = networks.value(params, networks.cell(params, hs, observe(final_obs, mask)))
        traj = traj.replace(value=networks.value(params, hs), bootstrap_value=v_boot)
        # V of the state after the last step, for the bootstrap at the rollout's end.
        _, _, _, last_v = networks.step(params, env.h, observe(env.obs, mask), env.start)
        return env, traj, last_v

    # ---- loss over a minibatch of whole sequences --------------------------------------
    def loss_fn(params, hyper, seqs: Transition, h0, adv, targets):
        # Only the recurrence is sequential (`networks.sequence`: the input term before
        # the loop, the weight gradients after it); both heads then read all [L, B]
        # states in one batched matmul. seqs leaves: [L, B, ...]; h0 [B, S]
        hs = networks.sequence(params, h0, seqs.x, seqs.start, unroll=cfg.scan_unroll)
        mean, log_std, v = networks.heads(params, hs)
        dist = networks.distribution(mean, log_std)
        log_prob = dist.log_prob(seqs.action)
        log_ratio = log_prob - seqs.log_prob
        ratio = jnp.exp(log_ratio)
        adv_n = (adv - adv.mean()) / (adv.std() + 1e-8)
        pg1 = ratio * adv_n
        pg2 = jnp.clip(ratio, 1 - hyper.clip_eps, 1 + hyper.clip_eps) * adv_n
        policy_loss = -jnp.minimum(pg1, pg2).mean()
        value_loss = 0.5 * jnp.square(v - targets).mean()
        entropy = dist.entropy().mean()
        total = policy_loss + hyper.vf_coef * value_loss - hyper.ent_coef * entropy
        aux = dict(policy_loss=policy_loss, value_loss=value_loss, entropy=entropy,
                   approx_kl=((ratio - 1) - log_ratio).mean(),
                   clip_frac=(jnp.abs(ratio - 1) > hyper.clip_eps).mean())
        return total, aux

    # ---- one PPO update of one agent ---------------------------------------------------
    def update_agent(state: AgentState):
        hyper = state.hyper
        k_roll, k_perm, k_eval, k_next = jax.random.split(state.key, 4)
        env, traj, last_v = rollout(state, k_roll)

        next_values = jnp.concatenate([traj.value[1:], last_v[None]], axis=0)
        adv, targets = gae(traj.reward * hyper.reward_scale, traj.value, next_values,
                           traj.bootstrap_value, traj.terminated, traj.truncated,
                           hyper.gamma, hyper.gae_lambda)

        # [T, E, ...] -> sequences [L, n_seq, ...] (sequence-major over envs then chunks)
        def to_seq(a):
            a = a.reshape((T // L, L, E) + a.shape[2:])
            a = jnp.swapaxes(a, 1, 2)                        # [T/L, E, L, ...]
            a = a.reshape((n_seq, L) + a.shape[3:])
            return jnp.swapaxes(a, 0, 1)                     # [L, n_seq, ...]

        seqs, adv_s, tgt_s = jax.tree.map(to_seq, (traj, adv, targets))
        h0 = seqs.h_in[0]                                    # [n_seq, H] stored state

        frac = 1.0 - state.update / cfg.n_updates if cfg.anneal_lr else 1.0
        tx = _optimizer(hyper, hyper.lr * frac)
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def minibatch_step(carry, idx):
            params, opt_state = carry
            take = lambda a: a[:, idx]
            (_, aux), grads = grad_fn(params, hyper, jax.tree.map(take, seqs), h0[idx],
                                      take(adv_s), take(tgt_s))
            aux["grad_norm"] = optax.tree.norm(grads)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        def epoch(carry, k):
            perm = jax.random.permutation(k, n_seq).reshape(cfg.n_minibatches, mb_size)
            return jax.lax.scan(minibatch_step, carry, perm)

        (params, opt_state), aux = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(k_perm, cfg.n_epochs))

        # A diverging agent (NaN/inf anywhere) is frozen at its last finite parameters and
        # named by `diverged_at`; agents are independent under vmap, so the others go on.
        finite = jnp.all(jnp.array([jnp.isfinite(a).all() for a in
                                    jax.tree.leaves((params, opt_state, aux))]))
        bad = jnp.logical_or(state.diverged_at >= 0, ~finite)
        keep_old = lambda new, old: jnp.where(bad, old, new)
        params = jax.tree.map(keep_old, params, state.params)
        opt_state = jax.tree.map(keep_old, opt_state, state.opt_state)
        diverged_at = jnp.where((state.diverged_at < 0) & ~finite, state.update + 1,
                                state.diverged_at)

        n_done = jnp.logical_or(traj.terminated, traj.truncated).sum()
        ep_ret = jnp.where(n_done > 0, traj.episode_return.sum() / jnp.maximum(n_done, 1),
                           jnp.nan)
        eval_ret = (evaluate_agent(params, state.mask, k_eval) if cfg.eval_episodes
                    else jnp.nan)
        metrics = Metrics(episode_return=ep_ret, n_episodes=n_done.astype(jnp.float32),
                          eval_return=eval_ret, diverged=bad.astype(jnp.float32),
                          **jax.tree.map(jnp.mean, aux))
        new_state = AgentState(params=params, opt_state=opt_state, env=env, key=k_next,
                               update=state.update + 1, mask=state.mask, hyper=hyper,
                               diverged_at=diverged_at)
        return new_state, metrics

    # ---- compiled entry points -------------------------------------------------------
    def v_init(keys, masks, hypers, rnn_inits=None):
        if rnn_inits is None:
            return jax.vmap(lambda k, m, h: init_agent(k, m, h, None))(keys, masks, hypers)
        return jax.vmap(init_agent)(keys, masks, hypers, rnn_inits)
    v_update = jax.vmap(update_agent)

    def evaluate(state: AgentState):
        keys = jax.vmap(lambda k: jax.random.fold_in(k, 0x5EED))(state.key)
        if not cfg.eval_episodes:
            return jnp.full(keys.shape, jnp.nan)
        return jax.vmap(evaluate_agent)(state.params, state.mask, keys)

    def run(state: AgentState, n_updates: int):
        """`n_updates` (static) updates in one scan (the driver calls it with 1)."""
        def body(state, _):  # no host callback inside: it would make the program
            state, metrics = v_update(state)    # uncacheable (and sync the CPU dispatch)
            return state, (state.params, metrics)

        state, (params, metrics) = jax.lax.scan(body, state, length=n_updates)
        to_agent_major = lambda a: jnp.swapaxes(a, 0, 1)
        return state, jax.tree.map(to_agent_major, params), jax.tree.map(to_agent_major, metrics)

    def start(state: AgentState):
        """Record update 0: (state, params [A, 1, ...], metrics [A, 1])."""
        eval0 = evaluate(state)
        nan = jnp.full_like(eval0, jnp.nan)
        first = Metrics(episode_return=nan, n_episodes=jnp.zeros_like(eval0),
                        eval_return=eval0, policy_loss=nan, value_loss=nan, entropy=nan,
                        approx_kl=nan, clip_frac=nan, grad_norm=nan,
                        diverged=jnp.zeros_like(eval0))
        add_axis = lambda a: a[:, None]
        return state, jax.tree.map(add_axis, state.params), jax.tree.map(add_axis, first)

    def train_from(state: AgentState) -> TrainOutput:
        state, params0, metrics0 = start(state)
        state, params, metrics = run(state, cfg.n_updates)
        cat = lambda a0, a: jnp.concatenate([a0, a], axis=1)
        return TrainOutput(state=state, params=jax.tree.map(cat, params0, params),
                           metrics=jax.tree.map(cat, metrics0, metrics))

    def collect(state: AgentState):
        return jax.vmap(lambda s: rollout(s, jax.random.split(s.key, 4)[0]))(state)

    # Past one device, the training entry points run under shard_map over the agent axis:
    # each device trains its own agents with no collective at all (agents are
    # independent). Letting the SPMD partitioner place the program instead put an
    # all-reduce (for a progress callback's scalar, since removed) inside the update loop, which
    # deadlocked XLA's CPU runtime on 2 forced host devices.
    #
    # Initialisation is never sharded: its orthogonal initialisers call LAPACK's QR, whose
    # batched CPU kernel waits on XLA's intra-op thread pool; two devices running it at
    # once each held a pool thread while waiting for the other (a hang at 0% CPU). So
    # `init` runs on one device and `place` then spreads the state over the mesh.
    spec = jax.sharding.PartitionSpec(AGENT_AXIS)

    def sharded(f, in_specs):
        if mesh is None:
            return f
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=spec,
                             check_vma=False)

    def place(tree):
        if mesh is None:
            return tree
        sharding = jax.sharding.NamedSharding(mesh, spec)
        # The state a sharded program returns is placed already. Passing it through
        # matters: `device_put` waits for a result still being computed, so the driver
        # could not queue the next update before copying this one's record.
        if all(isinstance(a, jax.Array) and a.sharding.is_equivalent_to(sharding, a.ndim)
               for a in jax.tree.leaves(tree)):
            return tree
        return jax.device_put(tree, sharding)

    def run_entry(state, n_updates):
        return sharded(lambda st: run(st, n_updates), (spec,))(state)

    init_j = jax.jit(v_init)
    train_from_j = jax.jit(sharded(train_from, (spec,)))

    def train(keys, masks, hypers, rnn_inits=None) -> TrainOutput:
        return train_from_j(place(init_j(keys, masks, hypers, rnn_inits)))

    return Trainer(config=cfg, init=init_j, place=place,
                   evaluate=jax.jit(sharded(evaluate, (spec,))),
                   start=jax.jit(sharded(start, (spec,))),
                   run=jax.jit(run_entry, static_argnums=1),
                   train_from=train_from_j, train=train,
                   collect=jax.jit(sharded(collect, (spec,))))
