"""The jitted per-agent stages of the analysis. Each works on one agent's stack of
checkpoints (leaves [C, ...]) and is compiled once per shape and options, so looping over
agents reuses the compiled program."""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import numpy as np

from rnnctl.paper.options import AnalysisOptions

__all__ = ["rollouts_agent", "fixed_points_checkpoint", "fixed_points_agent",
           "fixed_points_continued_agent",
           "fp_decode_agent", "probe_agent", "drift_params", "ring_agent",
           "fp_theta_agent", "track_agent", "geometry_agent", "manifold_agent",
           "policy_maps_agent", "input_drive_agent", "flow_agent",
           "slow_points_agent"]


@partial(jax.jit, static_argnames=("n_episodes", "encoding"))
def rollouts_agent(params, mask, key, theta_dot_scale, env_params=None, *, n_episodes: int,
                   encoding: str):
    """Deterministic rollouts at every checkpoint, the same start states for each.

    Args:
      params: one agent's parameters, leaves [C, ...].
      mask: [I] observation mask (`envs.obs_mask`).
      key: PRNG key (shared by all checkpoints: common random numbers).
      theta_dot_scale: the run's θ̇ input scale.
      env_params: the run's pendulum physics (`rollout.physics`; None: gymnax's).
    Returns:
      `Rollout` with fields [C, E, T, ...].
    """
    from rnnctl import rollout as _r
    return jax.vmap(lambda p: _r.rollout(p, obs=mask, key=key, n_episodes=n_episodes,
                                         encoding=encoding, theta_dot_scale=theta_dot_scale,
                                         env_params=env_params))(params)


def fixed_points_checkpoint(params, x_star, h, key, opts: AnalysisOptions, theta=None):
    """Fixed points of one checkpoint at input x*, from `opts.fp_init` visited states + noise.

    Args:
      params: one checkpoint's parameters; x_star: [I]; h: [E, T, H] visited states;
      theta: optional [E, T] their θ (starts stratified over `opts.fp_start_strata` bins).
    Returns:
      `analysis.FixedPoints` with `opts.fp_max_points` slots.
    """
    from rnnctl import analysis
    h0 = analysis.sample_initial_states(h, opts.fp_init, key, noise_scale=opts.fp_noise,
                                        theta=theta, strata=opts.fp_start_strata)
    return analysis.find_fixed_points(analysis.rnn_cell(params), x_star, h0,
                                      learning_rate=opts.fp_lr, n_opt_steps=opts.fp_opt_steps,
                                      n_newton_steps=opts.fp_newton_steps,
                                      tol_q=opts.fp_tol_q, max_points=opts.fp_max_points)


@partial(jax.jit, static_argnames=("opts",))
def fixed_points_agent(params, x_stars, h, keys, opts: AnalysisOptions, theta=None):
    """`fixed_points_checkpoint` over C checkpoints × X inputs.

    Args:
      params: leaves [C, ...]; x_stars: [X, I] constant inputs; h: [C, E, T, H] visited
        states (initial states of every input's search); keys: [C]; theta: optional
        [C, E, T] θ of the visited states (stratified starts).
    Returns:
      `FixedPoints` [C, X, K].
    """
    def one(p, hh, k, th):
        ks = jax.random.split(k, x_stars.shape[0])
        return jax.vmap(lambda x, kk: fixed_points_checkpoint(p, x, hh, kk, opts, th))(
            x_stars, ks)

    if theta is None:
        return jax.vmap(lambda p, hh, k: one(p, hh, k, None))(params, h, keys)
    return jax.vmap(one)(params, h, keys, theta)


def _continued_checkpoint(params, x_star, h, key, prev_xstar, prev_valid,
                          opts: AnalysisOptions, theta=None):
    """Fixed points of one checkpoint continued from the previous checkpoint's (`prev_xstar`
    [K, H], `prev_valid` [K]) plus `opts.fp_continue` fresh starts (stratified over θ like
    the full search's)."""
    from rnnctl import analysis
    h0 = analysis.sample_initial_states(h, opts.fp_continue, key, noise_scale=opts.fp_noise,
                                        theta=theta, strata=opts.fp_start_strata)
    return analysis.continue_fixed_points(
        analysis.rnn_cell(params), x_star, prev_xstar, h0, previous_valid=prev_valid,
        learning_rate=opts.fp_lr, n_opt_steps=opts.fp_opt_steps,
        n_newton_steps=opts.fp_newton_steps, tol_q=opts.fp_tol_q,
        max_points=_carry(opts))


def _carry(opts: AnalysisOptions) -> int:
    return min(opts.fp_carry, opts.fp_max_points)


def _compact(fps, n: int):
    """The first n slots of `FixedPoints` [..., K] after moving the valid ones first."""
    order = jax.numpy.argsort(~fps.valid, axis=-1, stable=True)[..., :n]
    return jax.tree.map(lambda v: jax.numpy.take_along_axis(
        v, order.reshape(order.shape + (1,) * (v.ndim - order.ndim)), axis=order.ndim - 1),
        fps)


def _pad(fps, n: int):
    """`FixedPoints` [..., k] padded to n slots with empty (invalid) ones."""
    k = fps.valid.shape[-1]
    if k == n:
        return fps
    axis = fps.valid.ndim - 1
    idx = jax.numpy.zeros(n - k, jax.numpy.int32)
    extra = jax.tree.map(lambda v: jax.numpy.take(v, idx, axis=axis), fps)
    extra = extra.replace(valid=jax.numpy.zeros_like(extra.valid),
                          is_stable=jax.numpy.zeros_like(extra.is_stable),
                          eigvals=jax.numpy.full_like(extra.eigvals, jax.numpy.nan),
                          qstar=jax.numpy.full_like(extra.qstar, jax.numpy.inf))
    return jax.tree.map(lambda a, b: jax.numpy.concatenate([a, b], axis), fps, extra)


@partial(jax.jit, static_argnames=("opts",))
def fixed_points_continued_agent(params, x_stars, h, keys, opts: AnalysisOptions, theta=None):
    """Fixed points at C checkpoints × X inputs by continuation across checkpoints.

    The checkpoints are cut into `opts.fp_chains` consecutive chains of equal length L (the
    last one padded by repeating the final checkpoint). The first checkpoint of each chain
    gets the full search (`fixed_points_checkpoint`: `opts.fp_init` fresh starts); every
    later one continues from the previous checkpoint's fixed points plus `opts.fp_continue`
    fresh starts (`analysis.continue_fixed_points`), refining `opts.fp_carry` slots (the
    result is padded with empty slots to `opts.fp_max_points`; a head keeps its valid
    points, up to `opts.fp_carry`). The chains run side by side (vmapped),
    the checkpoints of a chain in order (`lax.scan`). Then a backward sweep, the chains
    again side by side, each from its last checkpoint to its first (a chain's last with
    the next chain's first), refines each checkpoint's points together with the next
    checkpoint's (Newton only, no fresh starts: `_backward_checkpoint`), so a fixed point
    found late is also found where it already existed earlier. Arguments and result as
    `fixed_points_agent`: `FixedPoints` [C, X, K].
    """
    xe = jax.numpy.broadcast_to(x_stars, (h.shape[0],) + x_stars.shape)
    return _continued(params, xe, h, keys, opts, theta)


def _continued(params, xe, h, keys, opts: AnalysisOptions, theta=None):
    """`fixed_points_continued_agent` along a sequence of C maps, each with its own
    parameters (leaves [C, ...]), inputs xe [C, X, I], visited states h [C, E, T, H], key
    and θ: checkpoints of an agent, or inputs along a ring (`manifold_agent`)."""
    n_ckpt = h.shape[0]
    n_chains = max(1, min(opts.fp_chains, n_ckpt))
    length = -(-n_ckpt // n_chains)
    idx = np.minimum(np.arange(n_chains * length), n_ckpt - 1).reshape(n_chains, length)
    take = lambda tree, i: jax.tree.map(lambda v: v[i], tree)  # noqa: E731
    with_theta = theta is not None
    th_all = theta if with_theta else jax.numpy.zeros(h.shape[:1])

    def head(p, xs, hh, k, th):
        ks = jax.random.split(k, xs.shape[0])
        return jax.vmap(lambda x, kk: fixed_points_checkpoint(
            p, x, hh, kk, opts, th if with_theta else None))(xs, ks)

    i0 = idx[:, 0]
    heads = jax.vmap(head)(take(params, i0), xe[i0], h[i0], keys[i0], th_all[i0])  # [B, X, K]
    heads = _compact(heads, _carry(opts))

    def one(p, xs, hh, k, th, px, pv):
        ks = jax.random.split(k, xs.shape[0])
        return jax.vmap(lambda x, kk, a, b: _continued_checkpoint(
            p, x, hh, kk, a, b, opts, th if with_theta else None))(xs, ks, px, pv)

    def step(prev, xs):
        out = jax.vmap(one)(*xs, *prev)
        return (out.xstar, out.valid), out

    rest = idx[:, 1:].T                                                          # [L-1, B]
    xs = (take(params, rest), xe[rest], h[rest], keys[rest], th_all[rest])
    _, tail = jax.lax.scan(step, (heads.xstar, heads.valid), xs)                 # [L-1, B, ...]

    def unchain(tree):       # [L, B, ...] → [C, ...] in checkpoint order (padding dropped)
        return jax.tree.map(lambda v: jax.numpy.swapaxes(v, 0, 1).reshape(
            (n_chains * length,) + v.shape[2:])[:n_ckpt], tree)

    fwd = unchain(jax.tree.map(lambda a, b: jax.numpy.concatenate([a[None], b]), heads, tail))
    if n_ckpt == 1:
        return _pad(fwd, opts.fp_max_points)

    def back_one(p, xs, hh, k, th, fx, fv, nx, nv):
        ks = jax.random.split(k, xs.shape[0])
        return jax.vmap(lambda x, kk, a, av, b, bv: _backward_checkpoint(
            p, x, hh, kk, a, av, b, bv, opts, th if with_theta else None))(
                xs, ks, fx, fv, nx, nv)

    def back(nxt, xs):
        out = jax.vmap(back_one)(*xs, *nxt)
        return (out.xstar, out.valid), out

    # Backward, the chains side by side, each from its last checkpoint to its first; a
    # chain's last checkpoint is refined with the next chain's first (the final checkpoint
    # with its own points).
    nxt = np.append(idx[1:, 0], n_ckpt - 1)                                      # [B]
    order = idx.T                                                                # [L, B]
    xs = (take(params, order), xe[order], h[order], keys[order], th_all[order],
          fwd.xstar[order], fwd.valid[order])
    _, backed = jax.lax.scan(back, (fwd.xstar[nxt], fwd.valid[nxt]), xs, reverse=True)
    return _pad(unchain(backed), opts.fp_max_points)


def _backward_checkpoint(params, x_star, h, key, xstar, valid, next_xstar, next_valid,
                         opts: AnalysisOptions, theta=None):
    """One checkpoint's fixed points (`xstar` [K, H], `valid` [K]) refined together with the
    next checkpoint's (Newton from both sets, no fresh starts); the outlier rule measures
    from `opts.fp_continue` starts drawn as the forward search draws them."""
    from rnnctl import analysis
    ref = analysis.sample_initial_states(h, opts.fp_continue, key, noise_scale=opts.fp_noise,
                                         theta=theta, strata=opts.fp_start_strata)
    return analysis.continue_fixed_points(
        analysis.rnn_cell(params), x_star, jax.numpy.concatenate([xstar, next_xstar]),
        ref[:0], previous_valid=jax.numpy.concatenate([valid, next_valid]),
        outlier_reference=ref, n_opt_steps=0, n_newton_steps=opts.fp_newton_steps,
        tol_q=opts.fp_tol_q, max_points=_carry(opts))


@jax.jit
def fp_decode_agent(xstar, h, theta):
    """θ of each fixed point read by a decoder fitted per checkpoint, with its gates.

    xstar [C, ..., K, H], h [C, E, T, H], theta [C, E, T] → `DecodedTheta` [C, ..., K]
    (r2 [C]).
    """
    from rnnctl import analysis

    def one(x, hh, th):
        d = analysis.decode_theta(x.reshape(-1, x.shape[-1]), hh, th)
        shape = x.shape[:-1]
        return d.replace(theta=d.theta.reshape(shape), confidence=d.confidence.reshape(shape),
                         distance=d.distance.reshape(shape))

    return jax.vmap(one)(xstar, h, theta)


@jax.jit
def probe_agent(params, x_probe, max_torque):
    """Probe policy maps at every checkpoint: params leaves [C, ...], x_probe
    [Bθ, Bθ̇, W, I] (shared by all checkpoints) → torque [C, Bθ, Bθ̇]."""
    from rnnctl import analysis
    return jax.vmap(lambda p: analysis.probe_torque(p, x_probe, max_torque=max_torque))(params)


@partial(jax.jit, static_argnames=("k",))
def fp_theta_agent(xstar, h, theta, k: int = 10):
    """θ each fixed point represents (circular mean θ of its k nearest visited states).

    xstar [C, ..., K, H], h [C, E, T, H], theta [C, E, T] → [C, ..., K].
    """
    from rnnctl import analysis

    def one(x, hh, th):
        flat = x.reshape(-1, x.shape[-1])
        return analysis.fixed_point_theta(flat, hh, th, k=k).reshape(x.shape[:-1])

    return jax.vmap(one)(xstar, h, theta)


@jax.jit
def track_agent(fps, theta):
    """Track the stable fixed point (θ → 0) back through C checkpoints: `FixedPointTrack`."""
    from rnnctl import analysis
    return analysis.track_fixed_points(fps, theta, stable=True, target_theta=0.0)


@partial(jax.jit, static_argnames=("q_max", "tol_q"))
def slow_points_agent(fps, q_max: float, tol_q: float):
    """`FixedPoints.slow_points` of every search: fps [C, X, K] → [C, X, K] bool."""
    return fps.slow_points(q_max, tol_q=tol_q)


@partial(jax.jit, static_argnames=("top", "stride"))
def input_drive_agent(params, h_fp, x_fp, mask, h, x, *, top: int, stride: int):
    """The input drive of the `top` slowest stable modes at every checkpoint, at one point
    per checkpoint (the tracked fixed point) and along the rollouts (docs/methods.md §4).

    Args:
      params: leaves [C, ...]; h_fp: [C, H] expansion state per checkpoint (NaN: none);
      x_fp: [I] its input; mask: [I] observation mask; h: [C, E, T, H], x: [C, E, T, I]
      the rollouts.
    Returns:
      (`InputDrive` [C, top] at the points, `InputDrive` [C, top] mean over every
      stride-th step of the rollouts).
    """
    from rnnctl import analysis

    def one(p, hf, hh, xx):
        at = analysis.input_drive_at(p, hf[None], x_fp[None], mask, top)
        return (jax.tree.map(lambda v: v[0], at),
                analysis.input_drive_along(p, hh, xx, mask, top, stride))

    return jax.vmap(one)(params, h_fp, h, x)


@partial(jax.jit, static_argnames=("n",))
def flow_agent(params, x, origin, basis, h, *, n: int):
    """Flow fields at S checkpoints on each one's plane (origin [S, H], basis [S, 2, H]),
    on an n × n grid covering its visited states h [S, E, T, H]: `FlowField` [S, n, n]."""
    from rnnctl import analysis

    def one(p, o, b, hh):
        plane = analysis.Plane(origin=o, basis=b)
        grid = analysis.plane_grid(plane, hh, n)
        return analysis.flow_field(analysis.rnn_cell(p), x, plane, grid)

    return jax.vmap(one)(params, origin, basis, h)


@jax.jit
def geometry_agent(h, theta, x):
    """Geometry of the hidden states at every checkpoint, h [C, E, T, H] → [C, ...]:
    (PCA with 3 components, ring score of h, ring score of the input x, participation
    ratio of h, fraction of the variance of h explained by θ, ring closure of h and of x)."""
    from rnnctl import analysis
    return jax.vmap(lambda hh, th, xx: (
        analysis.pca(hh, 3), analysis.ring_score(hh, th), analysis.ring_score(xx, th),
        analysis.participation_ratio(hh), analysis.theta_variance_explained(hh, th),
        analysis.ring_closure(hh, th), analysis.ring_closure(xx, th)))(h, theta, x)


@jax.jit
def drift_params(params, key):
    """The drift control of one agent: checkpoint c is the update-0 network moved along one
    random unit direction v (all parameters) by training's own distance ‖θ_c − θ_0‖.

    Args:
      params: leaves [C, ...]; key: PRNG key of v.
    Returns:
      parameters with leaves [C, ...] (docs/methods.md §7, claim 2).
    """
    leaves, tree = jax.tree.flatten(params)
    n = leaves[0].shape[0]
    dist = jax.numpy.sqrt(sum(((l - l[:1]) ** 2).reshape(n, -1).sum(1) for l in leaves))
    keys = jax.random.split(key, len(leaves))
    v = [jax.random.normal(k, l.shape[1:], l.dtype) for k, l in zip(keys, leaves)]
    norm = jax.numpy.sqrt(sum((x**2).sum() for x in v))
    out = [l[:1] + dist.reshape((n,) + (1,) * (l.ndim - 1)) * (x / norm)[None]
           for l, x in zip(leaves, v)]
    return jax.tree.unflatten(tree, out)


@jax.jit
def ring_agent(h, theta):
    """Ring score of h at every checkpoint: h [C, E, T, H], theta [C, E, T] → [C]."""
    from rnnctl import analysis
    return jax.vmap(analysis.ring_score)(h, theta)


@partial(jax.jit, static_argnames=("opts",))
def manifold_agent(params, x_ring, h, keys, opts: AnalysisOptions):
    """Fixed points along a ring of constant inputs, at S checkpoints (beyond the paper).

    Args:
      params: leaves [S, ...]; x_ring: [M, I] inputs for θ on a ring; h: [S, E, T, H];
      keys: [S].
    Returns:
      `FixedPoints` [S, M, K] (`manifold_fp_init` initial states, `manifold_max_points`
      slots; otherwise the settings of the main search). With `opts.fp_continue` the
      inputs are searched by continuation around the ring (`fixed_points_continued_agent`
      with the ring's inputs in place of checkpoints).
    """
    m_opts = dataclasses.replace(opts, fp_init=opts.manifold_fp_init,
                                 fp_max_points=opts.manifold_max_points)
    n_in = x_ring.shape[0]
    if opts.fp_continue:     # by continuation around the ring, as across checkpoints

        def ring(p, hh, k):
            p_m = jax.tree.map(lambda v: jax.numpy.broadcast_to(v, (n_in,) + v.shape), p)
            h_m = jax.numpy.broadcast_to(hh, (n_in,) + hh.shape)
            return _continued(p_m, x_ring[:, None], h_m, jax.random.split(k, n_in),
                              m_opts)[:, 0]

        return jax.vmap(ring)(params, h, keys)

    def one(p, hh, k):
        ks = jax.random.split(k, x_ring.shape[0])
        return jax.vmap(lambda x, kk: fixed_points_checkpoint(p, x, hh, kk, m_opts))(
            x_ring, ks)

    return jax.vmap(one)(params, h, keys)


@partial(jax.jit, static_argnames=("n_episodes", "bins", "encoding", "max_torque",
                                   "max_speed"))
def policy_maps_agent(params, mask, key, theta_dot_scale, env_params=None, *, n_episodes: int,
                      bins: int, encoding: str, max_torque: float = 2.0,
                      max_speed: float = 8.0):
    """Policy maps from `n_episodes` rollouts per checkpoint (hidden states not kept).

    Returns:
      (`PolicyMap` [C, B, B], sharpness [C], boundary contrast [C], episode returns [C, E]).
    """
    from rnnctl import analysis
    from rnnctl import rollout as _r

    def one(p):
        r = _r.rollout(p, obs=mask, key=key, n_episodes=n_episodes, encoding=encoding,
                       theta_dot_scale=theta_dot_scale, env_params=env_params)
        pm = analysis.policy_map(r.theta, r.theta_dot, r.torque, bins=bins,
                                 theta_dot_range=(-max_speed, max_speed))
        return (pm, analysis.sharpness(pm, max_torque=max_torque),
                analysis.boundary_contrast(pm, max_torque=max_torque), r.returns)

    return jax.vmap(one)(params)
