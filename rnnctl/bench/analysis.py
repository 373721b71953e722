"""Benchmark the full analysis of a sweep: agents × checkpoints in batched, vmapped calls.

    python -m experiments.bench_analysis                      # synthetic 10 × 101 sweep
    python -m experiments.bench_analysis --run runs/NAME      # a trained run directory
    python -m experiments.bench_analysis --quick              # 2 × 6, a smoke test
    python -m experiments.bench_analysis --run runs/NAME --compare   # old vs new analysis

--compare (`rnnctl.bench.compare`) runs the paper's whole per-agent analysis of the run
twice in one process, the fixed-point search from fresh starts at every checkpoint with the
timescales in turn, then by continuation across checkpoints with the timescales overlapped,
and prints seconds per stage, the recall of
the union of three keys of the old finder and the new one, the largest τ̄ change and every
claim's verdict for both (--quick: the quick analysis options).

Stages (each timed, compile included): rollouts (5 deterministic episodes per agent and
checkpoint), fixed points (≥ 256 initial states from visited states, Adam + Newton, one
vmapped call per agent chunk), their θ and tracking over checkpoints, integration
timescales (J_t at every --tau-stride-th of the 5 × 200 steps, NumPy eigenvalues in
--tau-workers threads), PCA + ring score, policy maps + sharpness (their own rollouts from
random starts), reward-to-go regression (PO agents). The stage functions are those of the
analysis pipeline (`rnnctl.paper.compute`), so this measures what `analyse_run` runs.

It also times the same fixed-point search done checkpoint by checkpoint in a Python loop
(on a subset of checkpoints, extrapolated to all of them; compile excluded), both with one
compiled function reused and the way a notebook would call `find_fixed_points` eagerly,
and prints the speed-up of the batched search over each.

Without --run, parameters come from `networks.init_params` with a different key per agent
and checkpoint, W_h scaled by a gain rising from 0.5 to 2.0 over the checkpoints (from one
stable fixed point to chaotic networks with several or none), agents alternating FO/PO.
Prints a table; --out writes everything as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rnnctl.cli import prepare

prepare()        # as the command-line tools start: safe XLA flags, deferred imports
import jax
import jax.numpy as jnp
import numpy as np

from functools import partial

from rnnctl import analysis, envs, networks
from rnnctl.paper import compute as pipeline
from rnnctl.paper.options import AnalysisOptions
from rnnctl.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.bench_analysis",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="analyse this run directory")
    p.add_argument("--agents", type=int, default=10, help="synthetic agents (default 10)")
    p.add_argument("--checkpoints", type=int, default=101,
                   help="synthetic checkpoints per agent (default 101 = 100 updates + init)")
    p.add_argument("--episodes", type=int, default=5, help="analysis episodes (default 5)")
    p.add_argument("--map-episodes", type=int, default=20,
                   help="episodes per checkpoint for the policy maps (default 20)")
    p.add_argument("--n-init", type=int, default=256, help="fixed-point initial states")
    p.add_argument("--opt-steps", type=int, default=500, help="Adam steps (default 500)")
    p.add_argument("--newton-steps", type=int, default=12, help="Newton steps (default 12)")
    p.add_argument("--max-points", type=int, default=32,
                   help="fixed-point slots refined and kept per checkpoint (default 32)")
    p.add_argument("--tau-stride", type=int, default=1,
                   help="analyse every n-th rollout step for timescales (default 1: all)")
    p.add_argument("--tau-workers", type=int, default=None,
                   help="threads for the timescale eigenvalues (default: all CPU cores)")
    p.add_argument("--chunk", type=int, default=1,
                   help="agents per batched call (bounds memory; default 1 = 101 ckpts)")
    p.add_argument("--loop-checkpoints", type=int, default=10,
                   help="checkpoints timed in the compiled Python-loop baseline")
    p.add_argument("--eager-checkpoints", type=int, default=2,
                   help="checkpoints timed in the eager (notebook) loop baseline; 0: skip")
    p.add_argument("--skip", default="", help="comma-separated stages to skip: tau,maps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2 agents × 6 checkpoints, small")
    p.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    p.add_argument("--compare", action="store_true",
                   help="with --run: old vs new analysis of the run (see above)")
    return p


# ----------------------------------------------------------------------------- inputs

def synthetic_params(n_agents: int, n_ckpt: int, cfg: TrainConfig, seed: int):
    """init_params with a key per (agent, checkpoint), W_h gain 0.5 → 2.0 over checkpoints."""
    keys = jax.random.split(jax.random.key(seed), n_agents * n_ckpt)
    init = jax.jit(jax.vmap(lambda k: networks.init_params(
        k, envs.input_dim(cfg.encoding), cfg.hidden, cfg.head_hidden)))
    params = jax.tree.map(lambda a: a.reshape((n_agents, n_ckpt) + a.shape[1:]), init(keys))
    gains = jnp.linspace(0.5, 2.0, n_ckpt)
    params["rnn"]["W_h"] = params["rnn"]["W_h"] * gains[None, :, None, None]
    agents = [{"seed": i // 2, "obs": ("fo", "po")[i % 2]} for i in range(n_agents)]
    return params, agents, None


def run_params(path: Path):
    run = rnnctl.load_run(path)
    if hasattr(run, "stacked_params"):
        params = run.stacked_params()
    else:
        stacked = [[run.params(a, u) for u in range(run.n_checkpoints)]
                   for a in range(run.n_agents)]
        params = jax.tree.map(lambda *xs: np.stack(xs).reshape(
            (run.n_agents, run.n_checkpoints) + np.shape(xs[0])), *sum(stacked, []))
    params = jax.tree.map(jnp.asarray, params)
    returns = run.metrics.get("eval_return", run.metrics.get("episode_return"))
    return params, run.agents, run.config, returns


# ----------------------------------------------------------------------------- stages

def timed(name, timings, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    jax.block_until_ready(out)
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
    return out


def done(name, timings):
    print(f"  {name}: {timings.get(name, 0.0):.1f} s", file=sys.stderr, flush=True)


def agent_slices(n_agents, chunk):
    return [slice(i, min(i + chunk, n_agents)) for i in range(0, n_agents, chunk)]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare:
        if args.run is None:
            build_parser().error("--compare needs --run")
        from rnnctl.bench.compare import compare
        return compare(args.run, quick=args.quick, out=args.out)
    if args.quick:
        args.agents, args.checkpoints, args.n_init = 2, 6, 64
        args.opt_steps, args.map_episodes, args.loop_checkpoints = 200, 4, 3
        args.eager_checkpoints = min(args.eager_checkpoints, 1)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    from rnnctl.provenance import provenance
    prov = provenance()        # before the work: the load average it started under
    cfg = TrainConfig()
    returns = None
    if args.run is not None:
        params, agents, cfg, returns = run_params(args.run)
    else:
        params, agents, _ = synthetic_params(args.agents, args.checkpoints, cfg, args.seed)
    n_agents, n_ckpt = params["rnn"]["W_h"].shape[:2]
    hidden = params["rnn"]["W_h"].shape[-1]
    masks = jnp.stack([envs.obs_mask(a["obs"], cfg.encoding) for a in agents])
    x_star = jax.vmap(lambda m: analysis.goal_input(m, cfg.encoding, cfg.theta_dot_scale))(masks)
    key = jax.random.key(args.seed + 1)
    k_roll, k_init, k_map = jax.random.split(key, 3)
    timings: dict[str, float] = {}
    print(f"analysing {n_agents} agents × {n_ckpt} checkpoints, H = {hidden}, "
          f"{jax.devices()[0].platform}, {os.cpu_count()} CPU cores", flush=True)

    opts = AnalysisOptions(
        seed=args.seed, episodes=args.episodes, map_episodes=args.map_episodes,
        return_episodes=min(10, args.map_episodes), fp_init=args.n_init,
        fp_opt_steps=args.opt_steps, fp_newton_steps=args.newton_steps,
        fp_max_points=args.max_points, tau_stride=args.tau_stride,
        tau_workers=args.tau_workers).validate().resolved()
    tds = jnp.asarray(cfg.theta_dot_scale, jnp.float32)

    # rollouts: the same start states for every checkpoint of an agent (common random numbers)
    roll_fn = jax.jit(jax.vmap(partial(pipeline.rollouts_agent, n_episodes=args.episodes,
                                       encoding=cfg.encoding), in_axes=(0, 0, None, None)))
    roll = timed("rollouts", timings, roll_fn, params, masks, k_roll, tds)
    done("rollouts", timings)

    # fixed points: one vmapped call per chunk of agents
    fp_keys = jax.random.split(k_init, (n_agents, n_ckpt))
    fp_chunk = jax.jit(jax.vmap(partial(pipeline.fixed_points_agent, opts=opts)))
    pieces = []
    for sl in agent_slices(n_agents, args.chunk):
        out = timed("fixed_points", timings, fp_chunk, jax.tree.map(lambda a: a[sl], params),
                    x_star[sl], roll.h[sl], fp_keys[sl])
        pieces.append(jax.device_get(out))
    fps = jax.tree.map(lambda *a: np.concatenate(a), *pieces)
    done("fixed_points", timings)

    # baselines: the same search checkpoint by checkpoint in a Python loop
    def fp_checkpoint(p, x, h, k):
        return pipeline.fixed_points_checkpoint(p, x, h, k, opts)

    n_loop = min(args.loop_checkpoints, n_agents * n_ckpt)
    picks = np.linspace(0, n_agents * n_ckpt - 1, n_loop).round().astype(int)
    one = jax.jit(fp_checkpoint)
    sel = lambda i: (jax.tree.map(lambda a: a[i // n_ckpt, i % n_ckpt], params),  # noqa: E731
                     x_star[i // n_ckpt], roll.h[i // n_ckpt, i % n_ckpt],
                     fp_keys[i // n_ckpt, i % n_ckpt])
    jax.block_until_ready(one(*sel(int(picks[0]))))                 # compile: not timed
    t0 = time.perf_counter()
    for i in picks:
        jax.block_until_ready(one(*sel(int(i))))
    loop_per_ckpt = (time.perf_counter() - t0) / n_loop
    eager_per_ckpt = float("nan")
    if args.eager_checkpoints > 0:
        t0 = time.perf_counter()
        for i in picks[:args.eager_checkpoints]:
            jax.block_until_ready(fp_checkpoint(*sel(int(i))))     # as a notebook calls it
        eager_per_ckpt = (time.perf_counter() - t0) / min(args.eager_checkpoints, n_loop)

    # θ of every fixed point, and tracking
    fp_theta = timed("fp_theta_tracking", timings, jax.vmap(
        partial(pipeline.fp_theta_agent, k=opts.fp_theta_k)), fps.xstar, roll.h, roll.theta)
    track_s, track_u = timed("fp_theta_tracking", timings, jax.vmap(pipeline.track_agent),
                             fps, fp_theta)
    done("fp_theta_tracking", timings)

    # timescales: NumPy eigenvalues in threads, one agent at a time
    tau = None
    if "tau" not in skip:
        parts = []
        for a in range(n_agents):
            parts.append(timed("timescales", timings, analysis.timescales_host,
                               params["rnn"]["W_h"][a], roll.h[a], top=5,
                               stride=args.tau_stride, workers=opts.tau_workers))
        tau = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
        done("timescales", timings)

    # PCA and ring score
    pcs, ring, _ = timed("pca_ring", timings, jax.vmap(pipeline.geometry_agent),
                         roll.h, roll.theta, roll.x)
    done("pca_ring", timings)

    # policy maps from their own rollouts (more episodes; hidden states not kept)
    sharp = None
    if "maps" not in skip:
        map_fn = jax.jit(jax.vmap(partial(pipeline.policy_maps_agent,
                                          n_episodes=args.map_episodes, bins=opts.map_bins,
                                          encoding=cfg.encoding), in_axes=(0, 0, None, None)))
        maps, sharps = [], []
        for sl in agent_slices(n_agents, max(args.chunk, 2)):
            pm, sh, _ = timed("policy_maps", timings, map_fn,
                              jax.tree.map(lambda a: a[sl], params), masks[sl], k_map, tds)
            maps.append(np.asarray(pm.counts > 0).mean(axis=(-2, -1)))
            sharps.append(np.asarray(sh))
        sharp = np.concatenate(sharps)
        visited_frac = np.concatenate(maps)
        done("policy_maps", timings)

    # reward-to-go regression over PO agents
    t0 = time.perf_counter()
    ret = np.asarray(returns) if returns is not None else np.asarray(roll.reward.sum(-1).mean(-1))
    po = [i for i, a in enumerate(agents) if a["obs"] == "po"]
    reg = analysis.reward_to_go_regression(np.asarray(track_s.distance)[po], ret[po])
    timings["regression"] = time.perf_counter() - t0

    # ----------------------------------------------------------------------- report
    total = sum(timings.values())
    n_total = n_agents * n_ckpt
    n_valid = fps.valid.sum(-1)
    q_valid = fps.qstar[fps.valid]
    batched_fp = timings["fixed_points"]
    summary = {
        "provenance": prov,
        "source": str(args.run) if args.run else "synthetic init_params, W_h gain 0.5→2.0",
        "agents": int(n_agents), "checkpoints": int(n_ckpt), "hidden": int(hidden),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "seconds_total": round(total, 2),
        "fixed_points": {
            "per_checkpoint_mean": float(n_valid.mean()),
            "per_checkpoint_median": float(np.median(n_valid)),
            "per_checkpoint_max": int(n_valid.max()),
            "checkpoints_with_any": float((n_valid > 0).mean()),
            "stable_per_checkpoint_mean": float(fps.is_stable.sum(-1).mean()),
            "unstable_per_checkpoint_mean": float((fps.valid & ~fps.is_stable).sum(-1).mean()),
            "median_q": float(np.median(q_valid)) if q_valid.size else None,
            "max_q": float(q_valid.max()) if q_valid.size else None,
            "slots_full_fraction": float((n_valid == fps.valid.shape[-1]).mean()),
        },
        "fp_speed": {
            "batched_s_per_checkpoint": batched_fp / n_total,
            "loop_compiled_s_per_checkpoint": loop_per_ckpt,
            "loop_compiled_extrapolated_s": loop_per_ckpt * n_total,
            "loop_checkpoints_timed": int(n_loop),
            "speedup_vs_compiled_loop": loop_per_ckpt * n_total / batched_fp,
            "loop_eager_s_per_checkpoint": eager_per_ckpt,
            "loop_eager_extrapolated_s": eager_per_ckpt * n_total,
            "speedup_vs_eager_loop": eager_per_ckpt * n_total / batched_fp,
        },
        "per_agent_checkpoint": {
            "n_fixed_points": n_valid.tolist(),
            "n_stable": fps.is_stable.sum(-1).tolist(),
            "ring_score": np.asarray(ring).round(4).tolist(),
            "pc_variance_ratio_2": np.asarray(pcs.explained_variance_ratio[..., :2].sum(-1)
                                              ).round(4).tolist(),
            "tracked_stable_distance": np.asarray(track_s.distance).round(5).tolist(),
            "tracked_stable_theta": np.asarray(track_s.theta).round(4).tolist(),
            "tracked_unstable_theta": np.asarray(track_u.theta).round(4).tolist(),
            "return": np.asarray(ret).round(2).tolist(),
        },
        "first_appearance": {"stable": np.asarray(track_s.first_stable).tolist(),
                             "unstable": np.asarray(track_s.first_unstable).tolist(),
                             "persistent_stable": np.asarray(track_s.persistent_stable).tolist(),
                             "persistent_unstable":
                                 np.asarray(track_s.persistent_unstable).tolist()},
        "regression_po": reg.to_dict(),
    }
    if tau is not None:
        n_steps = len(range(0, args.episodes * envs.EPISODE_LEN, args.tau_stride))
        summary["per_agent_checkpoint"]["tau_avg_steps"] = tau["tau_avg"].round(3).tolist()
        summary["per_agent_checkpoint"]["tau_avg_ci"] = tau["tau_avg_ci"].round(3).tolist()
        summary["timescales"] = {"steps_per_checkpoint": n_steps,
                                 "eigendecompositions": n_steps * n_agents * n_ckpt,
                                 "workers": opts.tau_workers,
                                 "frac_capped": float(np.mean(tau["tau_frac_capped"]))}
    if sharp is not None:
        summary["per_agent_checkpoint"]["sharpness"] = sharp.round(4).tolist()
        summary["per_agent_checkpoint"]["map_visited_fraction"] = visited_frac.round(4).tolist()

    print()
    print(f"{'stage':<22}{'seconds':>10}")
    for k, v in timings.items():
        print(f"{k:<22}{v:>10.1f}")
    print(f"{'total':<22}{total:>10.1f}   (budget 300 s)")
    f = summary["fixed_points"]
    print(f"\nfixed points per checkpoint: mean {f['per_checkpoint_mean']:.2f}, median "
          f"{f['per_checkpoint_median']:.0f}, max {f['per_checkpoint_max']}, any in "
          f"{100 * f['checkpoints_with_any']:.0f}% of checkpoints; stable "
          f"{f['stable_per_checkpoint_mean']:.2f}, unstable {f['unstable_per_checkpoint_mean']:.2f}"
          f"; median q {f['median_q']}")
    s = summary["fp_speed"]
    print(f"fixed-point search: batched {1e3 * s['batched_s_per_checkpoint']:.1f} ms/checkpoint;"
          f" compiled loop {1e3 * s['loop_compiled_s_per_checkpoint']:.1f} ms/checkpoint "
          f"({n_loop} timed, extrapolated {s['loop_compiled_extrapolated_s']:.1f} s) → "
          f"{s['speedup_vs_compiled_loop']:.1f}×; eager loop "
          f"{s['loop_eager_s_per_checkpoint']:.2f} s/checkpoint (extrapolated "
          f"{s['loop_eager_extrapolated_s']:.0f} s) → {s['speedup_vs_eager_loop']:.0f}×")
    if tau is not None:
        print(f"timescales: {summary['timescales']['eigendecompositions']} eigen-decompositions,"
              f" τ̄ range {np.nanmin(tau['tau_avg']):.2f}–{np.nanmax(tau['tau_avg']):.2f} "
              "steps")
    print(f"ring score range {float(np.min(ring)):.3f}–{float(np.max(ring)):.3f}", end="")
    if sharp is not None:
        print(f"; sharpness range {np.nanmin(sharp):.3f}–{np.nanmax(sharp):.3f}", end="")
    print(f"\nreward-to-go regression (PO): slope {reg.slope:.3g}, r {reg.r:.3f}, "
          f"p {reg.p_value:.3g}, n {reg.n}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps(summary, indent=1, allow_nan=True) + "\n")
        os.replace(tmp, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
