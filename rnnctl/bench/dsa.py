"""Benchmark DSA over many systems: `analysis.similarity.dsa` against the reference package.

    python -m experiments.bench_dsa --out figures/bench/dsa.json   # 110 systems, measured
    python -m experiments.bench_dsa --systems 24 --reference-pairs 3   # a quick look
(installed: `python -m rnnctl.bench.dsa`)

Systems are vanilla tanh RNNs (H units, `networks.init_params` with a different key per
system, W_h scaled by a gain rising from 0.5 to 1.5 across the systems) driven by one
shared random input sequence, E episodes of T steps each from h = 0: the shape of
`Rollout.h` per agent and checkpoint (110 = 10 agents × 11 checkpoints). Timed, each once
and compile included, as a user meets them: the DMD fits of all systems (one vmapped call)
and all N(N−1)/2 distances (one compiled program); their sum is the measured time for N
systems. --repeat times the compiled distances again.

If the reference implementation (PyPI `dsa-metric`, module `DSA`, PyTorch) is importable,
--reference-pairs pairs drawn at random from the same pairs are also scored with it, one
pair per call as it computes them (`DSA(X, Y, n_delays, rank, score_method)` with its
default optimiser: 1,500 Adam steps at lr 5e-3 from each of its two starts), on the same
trajectories (episodes as its trials), and the distances of both compared. Both use the
same score: --metric angular (default; the reference's "angular") compares like with
like. The reference's "euclidean" is not rnnctl's: it normalises both operators to unit
Frobenius norm in place before optimising, so it is the chord 2 sin(θ/2) of the angle θ,
while rnnctl's "euclidean" is min ‖A − C B Cᵀ‖_F of the operators as fitted. A reference
that cannot be imported is skipped, and the JSON says so.

Every time is wall-clock seconds and also CPU seconds of this process (all its threads):
on a shared machine the wall time depends on the other processes, the CPU time hardly.
--out writes everything as JSON, with the machine, core count, package versions, commit
and load average (before and after: the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

#: How messages name this benchmark (as it is typed in a checkout).
PROG = "python -m experiments.bench_dsa"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", type=int, default=110, help="systems N (default 110)")
    p.add_argument("--hidden", type=int, default=64, help="units H (default 64)")
    p.add_argument("--episodes", type=int, default=5, help="episodes E (default 5)")
    p.add_argument("--steps", type=int, default=200, help="steps T (default 200)")
    p.add_argument("--n-delays", type=int, default=5, help="delays d (default 5)")
    p.add_argument("--rank", type=int, default=16, help="DMD rank r (default 16)")
    p.add_argument("--n-starts", type=int, default=16, help="starts per pair (default 16)")
    p.add_argument("--n-steps", type=int, default=300,
                   help="Adam steps of the 2 best starts (default 300; every start takes "
                        "a third of that first)")
    p.add_argument("--metric", choices=("angular", "euclidean"), default="angular",
                   help="distance (default angular: the reference's score, like for like)")
    p.add_argument("--repeat", action="store_true",
                   help="also time the compiled distances a second time")
    p.add_argument("--reference-pairs", type=int, default=12,
                   help="pairs scored with dsa-metric too (default 12; 0: none)")
    p.add_argument("--reference-restarts", type=int, default=3,
                   help="dsa-metric calls per pair, each from its own torch seed; the "
                        "lowest score is compared, the first call's time is its pairs/s "
                        "(default 3)")
    p.add_argument("--reference-threads", type=int, default=1,
                   help="torch threads of dsa-metric (default 1: its 16 × 16 matrices "
                        "gain nothing from a second thread, which a shared 2-core CPU "
                        "makes contend)")
    p.add_argument("--quality", type=int, default=0,
                   help="on the first this many systems, compare the distances with a "
                        "long optimisation (32 starts × 300 steps, best 4 × 1000 more; "
                        "relative excess; default off)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    return p


def synthetic_trajectories(n: int, hidden: int, episodes: int, steps: int):
    """[n, E, T, H] states of n tanh RNNs of rising gain under one shared input."""
    import jax
    import jax.numpy as jnp

    from rnnctl import networks
    keys = jax.random.split(jax.random.key(0), n + 1)
    x = jax.random.normal(keys[0], (episodes, steps, 3))
    gains = jnp.linspace(0.5, 1.5, n)

    def one(key, gain):
        p = networks.init_params(key, 3, hidden, 8, rnn_init="normal")["rnn"]
        w_h = gain * p["W_h"]

        def step(h, xt):
            h = jnp.tanh(h @ w_h.T + xt @ p["W_x"].T + p["b"])
            return h, h

        return jax.vmap(lambda xe: jax.lax.scan(step, jnp.zeros(hidden), xe)[1])(x)

    return jax.jit(jax.vmap(one))(keys[1:], gains)


def timed(fn):
    """(fn()'s result, wall seconds, CPU seconds of this process: all its threads)."""
    import jax
    t0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t0, time.process_time() - c0


def reference(traj: np.ndarray, args, pairs) -> dict:
    """Score `pairs` of `traj` [N, E, T, H] with `dsa-metric`, one pair per call; a
    "skipped" reason if it cannot be imported."""
    try:
        import torch
        from DSA import DSA  # PyPI dsa-metric (PyTorch)
    except Exception as e:   # not installed, or torch missing
        return {"skipped": f"dsa-metric not importable ({type(e).__name__}: {e})"}
    from importlib import metadata
    torch.set_num_threads(args.reference_threads)
    scores = np.full((len(pairs), args.reference_restarts), np.nan)
    first_s = 0.0
    first_cpu = 0.0
    for restart in range(args.reference_restarts):
        torch.manual_seed(restart)   # its optimiser starts from randomly initialised layers
        for k, (i, j) in enumerate(pairs):
            t0, c0 = time.perf_counter(), time.process_time()
            model = DSA(traj[i], traj[j], n_delays=args.n_delays, rank=args.rank,
                        score_method=args.metric)
            scores[k, restart] = float(model.fit_score())
            if restart == 0:
                first_s += time.perf_counter() - t0
                first_cpu += time.process_time() - c0
    return {"package": f"dsa-metric {metadata.version('dsa-metric')}",
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "optimiser": "its default: 1500 Adam steps at lr 5e-3 from each of 2 starts",
            "restarts": args.reference_restarts, "pairs": [list(p) for p in pairs],
            "seconds": first_s, "cpu_seconds": first_cpu, "pairs_per_s": len(pairs) / first_s,
            "pairs_per_cpu_s": len(pairs) / first_cpu,
            "distances_first_call": scores[:, 0].tolist(),
            "distances": np.min(scores, 1).tolist()}


def agreement(ours: np.ndarray, ref: np.ndarray) -> dict:
    """How two score vectors of the same pairs agree: differences and pair rankings."""
    from scipy import stats
    diff = ours - ref
    ok = np.isfinite(diff)
    rho = stats.spearmanr(ours[ok], ref[ok]).statistic if ok.sum() > 2 else float("nan")
    same = bool(np.array_equal(np.argsort(ours[ok]), np.argsort(ref[ok])))
    return {"max_abs_diff": float(np.abs(diff[ok]).max()),
            "mean_diff_ours_minus_ref": float(diff[ok].mean()),
            "ours_lower_or_equal": int((diff[ok] <= 1e-6).sum()), "n": int(ok.sum()),
            "spearman": float(rho), "same_ranking": same}


def run_bench(args) -> dict:
    """The benchmark for parsed `args`; its results (module docstring)."""
    import jax

    from rnnctl.analysis import similarity
    n = args.systems
    n_pairs = n * (n - 1) // 2
    say = lambda msg: print(msg, flush=True)
    from rnnctl.provenance import provenance
    result = {"provenance": provenance(), "systems": n, "pairs": n_pairs,
              "hidden": args.hidden, "episodes": args.episodes, "steps": args.steps,
              "n_delays": args.n_delays, "rank": args.rank, "n_starts": args.n_starts,
              "n_explore_steps": max(args.n_steps // 3, 1), "n_keep": 2,
              "n_steps": args.n_steps, "metric": args.metric,
              "xla_flags": os.environ.get("XLA_FLAGS", "")}
    say(f"{n} systems ({n_pairs} pairs), E×T×H = {args.episodes}×{args.steps}×{args.hidden}, "
        f"d={args.n_delays}, r={args.rank}, {args.n_starts} starts × "
        f"{result['n_explore_steps']} steps, best 2 × {args.n_steps} more, {args.metric}, "
        f"on {jax.default_backend()} ({os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f})")
    traj = synthetic_trajectories(n, args.hidden, args.episodes, args.steps)
    jax.block_until_ready(traj)
    ops, fit_s, fit_cpu = timed(lambda: similarity.dmd(traj, args.n_delays, args.rank))
    say(f"  DMD fits      {fit_s:8.2f} s (compile included; {fit_cpu:.1f} CPU s)")
    dist = lambda: similarity.dsa_distance(ops, n_starts=args.n_starts, n_steps=args.n_steps,
                                           metric=args.metric)
    d, dist_s, dist_cpu = timed(dist)
    d = np.asarray(d)
    result.update({"fit_s": fit_s, "distances_s": dist_s, "total_s": fit_s + dist_s,
                   "fit_cpu_s": fit_cpu, "distances_cpu_s": dist_cpu,
                   "total_cpu_s": fit_cpu + dist_cpu, "pairs_per_s": n_pairs / dist_s,
                   "pairs_per_cpu_s": n_pairs / dist_cpu,
                   "all_finite": bool(np.isfinite(d).all())})
    say(f"  distances     {dist_s:8.2f} s (compile included; {dist_cpu:.1f} CPU s; "
        f"{result['pairs_per_s']:.1f} pairs/s)")
    say(f"  all {n} systems: {result['total_s']:.1f} s measured ({result['total_cpu_s']:.1f} "
        f"CPU s of this process, so at least {result['total_cpu_s'] / os.cpu_count():.1f} s "
        f"on {os.cpu_count()} idle cores)")
    if args.repeat:
        _, again, _ = timed(dist)
        result.update({"distances_s_compiled": again, "pairs_per_s_compiled": n_pairs / again})
        say(f"  distances again {again:6.2f} s compiled ({n_pairs / again:.1f} pairs/s)")
    if args.quality > 1:
        k = min(args.quality, n)
        iu = np.triu_indices(k, 1)
        sub = similarity.DMD(A=ops.A[:k], singular_values=ops.singular_values[:k],
                             valid=ops.valid[:k])
        best = np.asarray(similarity.dsa_distance(sub, n_starts=32, n_explore_steps=300,
                                                  n_keep=4, n_steps=1000,
                                                  metric=args.metric))[iu]
        excess = (d[:k, :k][iu] - best) / best
        result["quality"] = {"systems": k, "pairs": len(best),
                             "excess_mean": float(excess.mean()),
                             "excess_median": float(np.median(excess)),
                             "excess_max": float(excess.max())}
        q = result["quality"]
        say(f"  vs the long optimisation on {q['pairs']} pairs: distances higher by "
            f"{100 * q['excess_mean']:.2f}% on average (median "
            f"{100 * q['excess_median']:.2f}%, max {100 * q['excess_max']:.1f}%)")
    if args.reference_pairs > 0:
        rng = np.random.default_rng(0)
        iu = np.triu_indices(n, 1)
        pick = rng.choice(n_pairs, min(args.reference_pairs, n_pairs), replace=False)
        pairs = [(int(iu[0][k]), int(iu[1][k])) for k in np.sort(pick)]
        ref = reference(np.asarray(traj), args, pairs)
        if "distances" in ref:
            ours = np.array([d[i, j] for i, j in pairs])
            ref["rnnctl_distances"] = ours.tolist()
            ref["agreement"] = agreement(ours, np.array(ref["distances"]))
            ref["agreement_first_call"] = agreement(ours, np.array(ref["distances_first_call"]))
            ref["speedup_pairs_per_s"] = result["pairs_per_s"] / ref["pairs_per_s"]
            ref["speedup_pairs_per_cpu_s"] = result["pairs_per_cpu_s"] / ref["pairs_per_cpu_s"]
            a = ref["agreement"]
            say(f"  dsa-metric:   {ref['pairs_per_s']:.3f} pairs/s on {len(pairs)} of the "
                f"same pairs (rnnctl {ref['speedup_pairs_per_s']:.0f}× as many); its best of "
                f"{ref['restarts']} calls differs by at most {a['max_abs_diff']:.4f} (rnnctl "
                f"lower or equal on {a['ours_lower_or_equal']}/{a['n']}), same ranking: "
                f"{a['same_ranking']} (Spearman {a['spearman']:.3f})")
        else:
            say(f"  dsa-metric: {ref['skipped']}")
        result["reference"] = ref
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv=None) -> int:
    """Run the benchmark; 0 when done (the JSON written if --out)."""
    from rnnctl import apply_safe_xla_flags
    apply_safe_xla_flags()
    args = build_parser().parse_args(argv)
    if min(args.systems, args.hidden, args.episodes, args.steps) < 1 or args.systems < 2:
        print(f"{PROG}: error: --systems must be ≥ 2 and --hidden, --episodes, --steps ≥ 1",
              file=sys.stderr)
        return 2
    result = run_bench(args)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
