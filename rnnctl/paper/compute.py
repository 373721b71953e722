"""The per-agent computation of the paper's analysis: a run → `AnalysisResults`.

Per agent (a Python loop) and checkpoint (vmapped over all checkpoints of the agent, one compiled
program per shape and options): deterministic rollouts; fixed points at the goal input x*
(`analysis.goal_input`; by continuation across checkpoints unless `fp_continue` is 0), their
θ, tracking of the stable (target θ = 0) and the unstable (target θ = π) fixed point,
slow points; the input drive of the slowest modes at the tracked stable point and along
the rollouts; flow fields at the figure stages; integration timescales (eigenvalues on the
host, `analysis.timescales_host`, in background threads while the device computes the
agent's other stages); PCA and ring score; policy
maps, their sharpness, and the return R_t. Choices the paper leaves open are fields of `AnalysisOptions`.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnnctl.paper.options import DEFAULT_OPTIONS, AnalysisOptions, default_stages
from rnnctl.paper.results import RESULTS_FORMAT_VERSION, AnalysisResults
from rnnctl.paper.stage import PipelineError, stage
from rnnctl.paper.stages import (drift_params, fixed_points_agent,
                                 fixed_points_continued_agent, flow_agent, fp_decode_agent,
                                 fp_theta_agent, geometry_agent, input_drive_agent,
                                 manifold_agent, policy_maps_agent, probe_agent, ring_agent,
                                 rollouts_agent, slow_points_agent, track_agent)

__all__ = ["compute_analysis", "usable_checkpoints", "usable_params", "checkpoints_digest", "nth",
           "excluded_agents", "analysed_checkpoints", "ANALYSIS_STAGES"]

#: The timed sub-stages of `compute_analysis`, in the order they are reported
#: (summary.json's `timing`, report.md's timing table).
ANALYSIS_STAGES = ("rollouts", "fixed_points", "fp_tracking", "input_drive", "manifold",
                   "timescales", "geometry", "flow_field", "drift_control", "probe_maps",
                   "policy_maps")


# Each works on one agent's stack of checkpoints (leaves [C, ...]) and is jit-compiled once
# per shape and options, so looping over agents reuses the compiled program.

def usable_checkpoints(run, flat: dict[str, np.ndarray]) -> np.ndarray:
    """[A, C] bool: finite parameters and before the agent's first diverged update."""
    ok = np.ones((run.n_agents, run.n_checkpoints), bool)
    for leaf in flat.values():
        ok &= np.isfinite(leaf.reshape(leaf.shape[:2] + (-1,))).all(-1)
    for d in run.info.get("diverged", []) or []:
        ok[int(d["agent"]), int(d["update"]):] = False
    if "diverged" in run.metrics:
        ok &= ~(np.asarray(run.metrics["diverged"]) > 0)
    return ok


def usable_params(flat: dict[str, np.ndarray], a: int, ok_a: np.ndarray, unflatten_params
                  ) -> dict:
    """Agent a's parameters at its analysed checkpoints (leaves [C, ...], jax arrays), each
    unusable checkpoint (`ok_a` False) replaced by the first usable one: analysed like the
    others, then masked by the caller. flat: leaves [A, C, ...]; ok_a: [C] bool."""
    fill = int(np.flatnonzero(ok_a)[0])
    leaves = {k: np.where(ok_a.reshape((-1,) + (1,) * (v.ndim - 2)), v[a], v[a, fill])
              for k, v in flat.items()}
    return jax.tree.map(jnp.asarray, unflatten_params(leaves))


def excluded_agents(run) -> list[int]:
    """Agents left out of the claims: those that diverged (`Run.diverged_agents`)."""
    return sorted({int(d["agent"]) for d in run.diverged_agents()})


def analysed_checkpoints(n_updates: int, stride: int, stages) -> np.ndarray:
    """Update indices analysed: every `stride`-th update, the last one and every stage."""
    return np.asarray(sorted({*range(0, n_updates + 1, stride), n_updates, *stages}))


def compute_analysis(run, options: AnalysisOptions | None = None, *, progress: bool = True,
                     timings: dict | None = None, parts_dir=None,
                     overlap: bool = True) -> AnalysisResults:
    """Every analysis of docs/methods.md §4 for every agent and analysed checkpoint of a run.

    Args:
      run: a `runs.Run` (`rnnctl.load_run`).
      options: `AnalysisOptions` (default `DEFAULT_OPTIONS`).
      progress: print one line per agent to stderr (or a `progress.Log`).
      timings: dict that receives seconds per sub-stage (`ANALYSIS_STAGES`), compile
        time included;
        with `overlap`, "timescales" is the time spent waiting for the host
        eigen-decompositions.
      parts_dir: if given, each agent's results are saved there as soon as they are
        computed (`agent_0000.npz`, ...), and agents already saved with the same options
        and checkpoints are loaded instead of recomputed: an interrupted analysis
        continues where it stopped.
      overlap: the timescales' host eigen-decompositions of an agent run in background
        threads while the device computes the agent's other stages (False: in turn).
    Returns:
      `AnalysisResults` (what analysis.npz holds). Checkpoints that are not usable (a
      diverged agent's parameters from its first NaN update on) hold NaN / False.
    """
    from rnnctl import analysis, envs
    from rnnctl.progress import Log
    from rnnctl.runs import flatten_params, read_npz, unflatten_params, write_npz

    opts = (options or DEFAULT_OPTIONS).validate().resolved()
    timings = {} if timings is None else timings
    log = progress if callable(progress) else Log(progress)
    cfg = run.config
    n_agents, n_updates = run.n_agents, run.n_checkpoints - 1
    if opts.tau_top > cfg.hidden:
        raise ValueError(f"AnalysisOptions.tau_top ({opts.tau_top}) exceeds the "
                         f"{cfg.hidden} hidden units")
    if opts.drive_stride > envs.EPISODE_LEN:
        raise ValueError(f"AnalysisOptions.drive_stride ({opts.drive_stride}) exceeds the "
                         f"{envs.EPISODE_LEN}-step episode")
    stages = tuple(opts.stages) if opts.stages is not None else default_stages(n_updates)
    if not stages or min(stages) < 0 or max(stages) > n_updates:
        raise ValueError(f"stages {stages} must lie in 0..{n_updates}")
    updates = analysed_checkpoints(n_updates, opts.checkpoint_stride, stages)
    pos = {int(u): i for i, u in enumerate(updates)}
    st = np.asarray([pos[u] for u in stages])            # stage positions among `updates`
    n_ckpt = len(updates)
    all_flat = flatten_params(run.stacked_params())
    ok = usable_checkpoints(run, all_flat)[:, updates]
    flat = {k: v[:, updates] for k, v in all_flat.items()}
    tds = jnp.asarray(cfg.theta_dot_scale, jnp.float32)
    k_roll, k_fp, k_map, k_man = jax.random.split(jax.random.key(opts.seed), 4)
    theta_ring = np.linspace(-np.pi, np.pi, opts.manifold_inputs, endpoint=False)
    digest = checkpoints_digest(run)
    # the parts' layout is the results' (a part of another version is recomputed)
    tag = json.dumps({"options": opts.to_dict(), "checkpoints": digest,
                      "results_format_version": RESULTS_FORMAT_VERSION}, sort_keys=True)
    if parts_dir is not None:
        parts_dir = Path(parts_dir)
    cont = f" (continued: {opts.fp_continue} fresh)" if opts.fp_continue else ""
    log(f"{n_agents} agents × {n_ckpt} checkpoints (updates {_span(updates)}); "
        f"{opts.episodes} episodes per checkpoint, fixed points at {len(analysis.FP_INPUTS)} inputs "
        f"from {opts.fp_init} initial states{cont}, τ at every {nth(opts.tau_stride)} of "
        f"{opts.episodes * envs.EPISODE_LEN} steps in {opts.tau_workers} threads")
    took: list[float] = []          # seconds per computed agent (the first compiles)

    def one_agent(a, agent):
        t_agent = time.perf_counter()
        where = dict(agent=a, agent_info=agent)
        part = None if parts_dir is None else parts_dir / f"agent_{a:04d}.npz"
        if part is not None and part.is_file():
            try:
                saved = read_npz(part)
                if str(saved.pop("__tag__")) == tag:
                    log(f"agent {a + 1}/{n_agents}: loaded from {part}")
                    return saved or None
            except Exception:        # damaged or foreign: recompute it
                pass
        ok_a = ok[a]
        if not ok_a.any():
            log(f"agent {a + 1}/{n_agents} (seed {agent['seed']}, {agent['obs']}): no usable "
                "checkpoint (diverged at update 0); results are NaN")
            if part is not None:
                write_npz(part, {"__tag__": np.asarray(tag)})
            return None
        out = _analyse_agent(a, agent, flat, ok_a, st, opts, cfg, tds, theta_ring,
                             (k_roll, k_fp, k_map, k_man), where, timings, analysis, envs,
                             unflatten_params, overlap)
        if part is not None:
            write_npz(part, {**out, "__tag__": np.asarray(tag)})
        took.append(time.perf_counter() - t_agent)
        rest = n_agents - a - 1
        # the first computed agent pays for compilation: estimate from the later ones
        eta = ("" if not rest else " (compilation included; an estimate follows the next "
               "agent)" if len(took) == 1 else f" (~{np.mean(took[1:]) * rest:.0f}s left)")
        log(f"agent {a + 1}/{n_agents} (seed {agent['seed']}, {agent['obs']}): "
            f"{took[-1]:.1f}s{eta}")
        return out

    per_agent = [one_agent(a, agent) for a, agent in enumerate(run.agents)]

    template = next((p for p in per_agent if p is not None), None)
    if template is None:
        raise ValueError("no agent has a usable checkpoint (all diverged at update 0)")
    results: dict[str, np.ndarray] = {}
    for k, v in template.items():
        if k in _SHARED:
            results[k] = v
            continue
        rows = []
        for p in per_agent:
            if p is not None:
                rows.append(p[k])
            elif v.dtype == bool:
                rows.append(np.zeros_like(v))
            elif np.issubdtype(v.dtype, np.integer):
                rows.append(np.full_like(v, -1))
            else:
                rows.append(np.full_like(v, np.nan))
        results[k] = np.stack(rows)
    if not opts.manifold_inputs:            # the manifold is off: empty [A, S, 0, 0] arrays
        shape = (n_agents, len(st), 0, 0)
        results.update(manifold_valid=np.zeros(shape, bool),
                       manifold_stable=np.zeros(shape, bool),
                       manifold_theta=np.zeros(shape, np.float32),
                       manifold_proj=np.zeros(shape + (3,), np.float32))
    results.update(
        updates=updates, stages=np.asarray(stages), usable=ok,
        agent_seed=np.asarray([int(a["seed"]) for a in run.agents]),
        agent_obs=np.asarray([str(a["obs"]) for a in run.agents]),
        fp_inputs=np.asarray(analysis.FP_INPUTS), manifold_theta_in=theta_ring.astype(np.float32),
        tau_steps=np.asarray(len(range(0, opts.episodes * envs.EPISODE_LEN, opts.tau_stride))),
        drive_steps=np.asarray(opts.episodes * (envs.EPISODE_LEN // opts.drive_stride)),
        options_json=np.asarray(json.dumps(opts.to_dict(), sort_keys=True)),
        checkpoints_sha256=np.asarray(digest))
    return AnalysisResults.from_arrays(results)


#: Arrays that are the same for every agent (not stacked over agents).
_SHARED = ("map_theta_edges", "map_theta_dot_edges", "probe_theta_centers",
           "probe_theta_dot_centers")


def _span(updates: np.ndarray) -> str:
    if len(updates) > 1 and np.all(np.diff(updates) == 1):
        return f"{updates[0]}..{updates[-1]}"
    return ", ".join(str(int(u)) for u in updates[:6]) + (", ..." if len(updates) > 6 else "")


def _analyse_agent(a, agent, flat, ok_a, st, opts, cfg, tds, theta_ring, keys, where,
                   timings, analysis, envs, unflatten_params, overlap=True
                   ) -> dict[str, np.ndarray]:
    """Every analysis of one agent at its analysed checkpoints (a dict of NumPy arrays)."""
    k_roll, k_fp, k_map, k_man = keys
    out: dict[str, np.ndarray] = {}
    n_ckpt = ok_a.shape[0]
    params = usable_params(flat, a, ok_a, unflatten_params)
    mask = envs.obs_mask(agent["obs"], cfg.encoding)
    x_stars = np.asarray(analysis.fixed_point_inputs(mask, cfg.encoding, cfg.theta_dot_scale))
    # identical inputs (with the angle encoding the goal input is the zero input) are
    # searched once
    x_unique, inverse = np.unique(x_stars, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    sub: dict[str, float] = {}

    from rnnctl import rollout as _rollout
    phys = _rollout.physics(cfg)                  # None: gymnax's default pendulum
    p_env = envs.get_task(cfg).env_params
    with stage("rollouts", sub, **where):
        roll = jax.block_until_ready(rollouts_agent(
            params, mask, k_roll, tds, phys, n_episodes=opts.episodes, encoding=cfg.encoding))
        out["roll_return"] = np.asarray(roll.returns.mean(-1))

    def timescales():
        return analysis.timescales_host(
            params, roll.h, x=roll.x, top=opts.tau_top, stride=opts.tau_stride,
            confidence=opts.tau_confidence, workers=opts.tau_workers,
            on_error=lambda c, e: PipelineError("timescales", e, checkpoint=c, **where))

    tau_job = None
    if overlap:   # host LAPACK in threads while the device runs the stages below
        from concurrent.futures import ThreadPoolExecutor
        tau_pool = ThreadPoolExecutor(1, thread_name_prefix="timescales")
        tau_job = tau_pool.submit(timescales)
    with stage("fixed_points", sub, **where):
        keys_c = jax.random.split(jax.random.fold_in(k_fp, a), n_ckpt)
        search = fixed_points_continued_agent if opts.fp_continue else fixed_points_agent
        fps = jax.block_until_ready(search(params, jnp.asarray(x_unique), roll.h, keys_c, opts,
                                           theta=roll.theta))
    with stage("fp_tracking", sub, **where):
        fp_theta = np.asarray(fp_theta_agent(fps.xstar, roll.h, roll.theta, k=opts.fp_theta_k))
        okc = ok_a[:, None, None]
        valid = np.asarray(fps.valid) & okc
        stable = np.asarray(fps.is_stable) & okc
        eig = np.abs(np.asarray(fps.eigvals)[..., 0])
        out.update(
            fp_xstar=np.asarray(fps.xstar)[:, inverse], fp_valid=valid[:, inverse],
            fp_stable=stable[:, inverse], fp_qstar=np.asarray(fps.qstar)[:, inverse],
            fp_max_abs_eig=np.where(valid, eig, np.nan)[:, inverse],
            fp_theta=np.where(valid, fp_theta, np.nan)[:, inverse])
        dec = fp_decode_agent(fps.xstar, roll.h, roll.theta)
        out.update(
            fp_theta_dec=np.where(valid, np.asarray(dec.theta), np.nan)[:, inverse],
            fp_theta_conf=np.where(valid, np.asarray(dec.confidence), np.nan)[:, inverse],
            fp_dist_visited=np.where(valid, np.asarray(dec.distance), np.nan)[:, inverse],
            fp_decoder_r2=np.asarray(dec.r2))
        goal_x = analysis.FP_INPUTS.index("goal")
        goal = int(inverse[goal_x])
        goal_fps = jax.tree.map(lambda v: v[:, goal], fps)
        goal_fps = goal_fps.replace(valid=jnp.asarray(valid[:, goal]),
                                    is_stable=jnp.asarray(stable[:, goal]))
        track = jax.block_until_ready(track_agent(goal_fps, jnp.asarray(fp_theta[:, goal])))
        out["track_s_path"] = np.asarray(track.path)
        out["track_s_distance"] = np.asarray(track.distance)
        out["track_s_theta"] = np.asarray(track.theta)
        out["track_s_index"] = np.asarray(track.index)
        out["track_s_start"] = np.asarray(track.start)
        slow = np.asarray(slow_points_agent(fps, opts.slow_q_max, opts.fp_tol_q)) & okc
        out["fp_slow"] = slow[:, inverse]
    del fps
    with stage("input_drive", sub, **where):
        # at the tracked stable point (Fig 1d) and along the rollouts, over the inputs
        # the agent observes
        at, along = jax.block_until_ready(input_drive_agent(
            params, jnp.asarray(out["track_s_path"]), jnp.asarray(x_stars[goal_x]), mask,
            roll.h, roll.x, top=opts.tau_top, stride=opts.drive_stride))
        out.update(drive_fp=np.asarray(at.drive), drive_fp_aligned=np.asarray(at.aligned),
                   drive_fp_tau=np.asarray(at.tau), drive_fp_gain=np.asarray(at.gain),
                   drive_traj=np.asarray(along.drive),
                   drive_traj_aligned=np.asarray(along.aligned),
                   drive_traj_gain=np.asarray(along.gain))
    if tau_job is None:
        with stage("timescales", sub, **where):
            out.update(timescales())
    with stage("geometry", sub, **where):
        pcs, ring, ring_x, pr, var_th, closure, closure_x = jax.block_until_ready(
            geometry_agent(roll.h, roll.theta, roll.x))
        out["ring_closure"], out["ring_closure_input"] = np.asarray(closure), np.asarray(closure_x)
        out["ring"], out["ring_input"] = np.asarray(ring), np.asarray(ring_x)
        out["participation_ratio"] = np.asarray(pr)
        out["theta_var_explained"] = np.asarray(var_th)
        h_all = np.asarray(roll.h, np.float64).reshape(n_ckpt, -1, roll.h.shape[-1])
        out["h_mean"] = h_all.mean(1).astype(np.float32)
        out["saturation"] = (1.0 - h_all**2).mean((1, 2)).astype(np.float32)
        leaves = [np.asarray(v, np.float64).reshape(n_ckpt, -1)
                  for v in jax.tree.leaves(params)]
        flat_p = np.concatenate(leaves, 1)
        out["param_dist_final"] = np.linalg.norm(flat_p - flat_p[-1], axis=1).astype(np.float32)
        out["pc_var_ratio"] = np.asarray(pcs.explained_variance_ratio)
        mean_s, comp_s = np.asarray(pcs.mean)[st], np.asarray(pcs.components)[st]
        h_s = np.asarray(roll.h)[st].reshape(len(st), -1, roll.h.shape[-1])
        out["stage_pca_mean"], out["stage_pca_components"] = mean_s, comp_s
        out["stage_proj"] = np.einsum("snh,sch->snc", h_s - mean_s[:, None], comp_s)
        out["stage_theta"] = np.asarray(roll.theta)[st].reshape(len(st), -1)
    with stage("flow_field", sub, **where):
        # the goal input's flow on each stage's top-2 PC plane through the mean state
        n = opts.flow_grid
        if n:
            flow = jax.block_until_ready(flow_agent(
                jax.tree.map(lambda v: v[st], params), jnp.asarray(x_stars[goal_x]),
                jnp.asarray(mean_s), jnp.asarray(comp_s[:, :2]), roll.h[st], n=n))
            out["stage_flow_coords"] = np.asarray(flow.coords)
            out["stage_flow_speed"] = np.asarray(flow.speed)
            out["stage_flow"] = np.asarray(flow.flow)
        else:
            out["stage_flow_coords"] = np.zeros((len(st), 0, 0, 2), np.float32)
            out["stage_flow_speed"] = np.zeros((len(st), 0, 0), np.float32)
            out["stage_flow"] = np.zeros((len(st), 0, 0, 2), np.float32)
    if opts.manifold_inputs:
        with stage("manifold", sub, **where):
            x_ring = jax.vmap(lambda th: analysis.constant_input(
                th, mask, cfg.encoding, cfg.theta_dot_scale))(jnp.asarray(theta_ring))
            p_s = jax.tree.map(lambda v: v[st], params)
            keys_s = jax.random.split(jax.random.fold_in(k_man, a), len(st))
            man = jax.block_until_ready(manifold_agent(p_s, x_ring, roll.h[st], keys_s, opts))
            m_theta = np.asarray(fp_theta_agent(man.xstar, roll.h[st], roll.theta[st],
                                                k=opts.fp_theta_k))
            m_valid = np.asarray(man.valid) & ok_a[st][:, None, None]
            out["manifold_valid"] = m_valid
            out["manifold_stable"] = np.asarray(man.is_stable) & m_valid
            out["manifold_theta"] = np.where(m_valid, m_theta, np.nan)
            out["manifold_proj"] = np.einsum("smkh,sch->smkc",
                                             np.asarray(man.xstar) - mean_s[:, None, None],
                                             comp_s)
    if tau_job is not None:
        with stage("timescales", sub, **where):
            try:
                out.update(tau_job.result())
            finally:
                tau_pool.shutdown()
    del roll
    with stage("drift_control", sub, **where):
        # the same agent's update-0 network moved by training's distance along a random
        # direction: what weight growth alone does to the ring score (claim 2, rules v2)
        k_drift = jax.random.fold_in(jax.random.fold_in(jax.random.key(opts.seed), 0xD21F7), a)
        p_drift = drift_params(params, k_drift)
        roll_d = rollouts_agent(p_drift, mask, k_roll, tds, phys,
                                n_episodes=opts.episodes, encoding=cfg.encoding)
        out["ring_drift"] = np.asarray(ring_agent(roll_d.h, roll_d.theta))
        del roll_d
    with stage("probe_maps", sub, **where):
        hist = analysis.probe_histories(
            opts.probe_bins, opts.probe_bins, opts.probe_steps, g=float(p_env.g),
            m=float(p_env.m), l=float(p_env.l), dt=float(p_env.dt),
            max_speed=float(p_env.max_speed))
        max_torque = float(p_env.max_torque)
        raw = jnp.stack([jnp.cos(hist.theta), jnp.sin(hist.theta), hist.theta_dot], -1)
        x_probe = envs.observe(raw, mask, cfg.encoding, cfg.theta_dot_scale)
        torque = jax.block_until_ready(probe_agent(params, x_probe, max_torque))
        th_c = hist.theta_centers
        out["probe_contrast"] = np.asarray(analysis.upright_contrast(
            torque, th_c, max_torque=max_torque))
        out["probe_near_zero"] = np.asarray(analysis.near_zero_fraction(
            torque, th_c, max_torque=max_torque))
        out["probe_near_zero_hanging"] = np.asarray(analysis.near_zero_fraction(
            torque, th_c, lo=analysis.probe.HANGING, hi=4.0, max_torque=max_torque))
        # the drift control's probe map (claim 1, rules v2)
        torque_d = probe_agent(p_drift, x_probe, max_torque)
        out["probe_contrast_drift"] = np.asarray(analysis.upright_contrast(
            torque_d, th_c, max_torque=max_torque))
        del p_drift
        out["stage_probe_torque"] = np.asarray(torque)[st]
        out["probe_theta_centers"] = np.asarray(th_c)
        out["probe_theta_dot_centers"] = np.asarray(hist.theta_dot_centers)
    with stage("policy_maps", sub, **where):
        pm, sharp, contrast, rets = jax.block_until_ready(policy_maps_agent(
            params, mask, k_map, tds, phys, n_episodes=opts.map_episodes, bins=opts.map_bins,
            encoding=cfg.encoding, max_torque=float(p_env.max_torque),
            max_speed=float(p_env.max_speed)))
        out["sharpness"] = np.asarray(sharp)
        out["boundary_contrast"] = np.asarray(contrast)
        out["map_visited_frac"] = np.asarray(pm.counts > 0).mean(axis=(-2, -1))
        out["stage_map_torque"] = np.asarray(pm.torque)[st]
        out["return_R"] = np.asarray(rets)[:, :opts.return_episodes].mean(-1)
        out["map_theta_edges"] = np.asarray(pm.theta_edges[0])
        out["map_theta_dot_edges"] = np.asarray(pm.theta_dot_edges[0])

    # mask what unusable checkpoints produced (per-checkpoint and per-stage arrays)
    for k, v in out.items():
        if k in _SHARED or v.ndim == 0 or k == "track_s_start":
            continue
        rows = ok_a[st] if k.startswith(("stage_", "manifold_")) else ok_a
        bad = ~rows.reshape((-1,) + (1,) * (v.ndim - 1))
        if v.dtype == bool:
            out[k] = np.where(bad, False, v)
        elif np.issubdtype(v.dtype, np.floating):
            out[k] = np.where(bad, np.nan, v)
    for k, v in sub.items():
        timings[k] = timings.get(k, 0.0) + v
    return out


def nth(k: int) -> str:
    """"step", "2nd step", "3rd step", "4th step", ..."""
    return "step" if k == 1 else f"{k}{'nd' if k == 2 else 'rd' if k == 3 else 'th'} step"


def checkpoints_digest(run) -> str:
    from rnnctl.runs import CHECKPOINTS_FILE
    h = hashlib.sha256()
    with open(Path(run.path) / CHECKPOINTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


