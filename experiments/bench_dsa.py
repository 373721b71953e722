"""Benchmark DSA over many systems: `analysis.similarity.dsa`, DMD fits and all pairs.

    python -m experiments.bench_dsa                    # 110 systems (10 agents × 11 ckpts)
    python -m experiments.bench_dsa --systems 24       # fewer pairs, same per-pair cost

Systems are vanilla tanh RNNs (H units, `networks.init_params` with a different key per
system, W_h scaled by a gain rising from 0.5 to 1.5 across the systems) driven by one
shared random input sequence, E episodes of T steps each from h = 0: the shape of
`Rollout.h` per agent and checkpoint. Timed: the DMD fits of all systems (one vmapped
call) and the N(N−1)/2 distances (one compiled program), each on its first call (compile
included) and again (compiled). Prints pairs per second and the time the same settings
would take for --target systems (distance time scales with the number of pairs); --out
writes everything as JSON.

If the reference implementation (PyPI `dsa-metric`, module `DSA`) is importable, the same
pairs are also timed with it, one pair per call, and the distances compared; otherwise
that part is skipped and says so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import rnnctl  # noqa: F401  (applies the safe XLA flags before jax starts)

import jax
import jax.numpy as jnp
import numpy as np

from rnnctl import networks
from rnnctl.analysis import similarity


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.bench_dsa",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", type=int, default=110, help="systems N (default 110)")
    p.add_argument("--target", type=int, default=110,
                   help="report the time extrapolated to this many systems (default 110)")
    p.add_argument("--hidden", type=int, default=64, help="units H (default 64)")
    p.add_argument("--episodes", type=int, default=5, help="episodes E (default 5)")
    p.add_argument("--steps", type=int, default=200, help="steps T (default 200)")
    p.add_argument("--n-delays", type=int, default=5, help="delays d (default 5)")
    p.add_argument("--rank", type=int, default=16, help="DMD rank r (default 16)")
    p.add_argument("--n-starts", type=int, default=16, help="starts per pair (default 16)")
    p.add_argument("--n-steps", type=int, default=300,
                   help="Adam steps of the 2 best starts (default 300; every start takes "
                        "a third of that first)")
    p.add_argument("--quality", type=int, default=0,
                   help="on the first this many systems, compare the distances with a "
                        "long optimisation (32 starts × 300 steps, best 4 × 1000 more; "
                        "relative excess; default off)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    return p


def synthetic_trajectories(n: int, hidden: int, episodes: int, steps: int) -> jax.Array:
    """[n, E, T, H] states of n tanh RNNs of rising gain under one shared input."""
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
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t0


def reference(traj: np.ndarray, args, pairs) -> dict:
    """Time `dsa-metric` (one pair per call) on `pairs`; {} with a reason if unavailable."""
    try:
        from DSA import DSA  # PyPI dsa-metric (PyTorch)
    except Exception as e:   # not installed, or torch missing
        return {"skipped": f"dsa-metric not importable ({type(e).__name__}: {e})"}
    flat = traj.reshape(traj.shape[0], -1, traj.shape[-1])
    out = []
    t0 = time.perf_counter()
    for i, j in pairs:
        model = DSA(flat[i], flat[j], n_delays=args.n_delays, rank=args.rank,
                    iters=args.n_steps, score_method="euclidean")
        out.append(float(np.asarray(model.fit_score())))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "pairs_per_s": len(pairs) / seconds, "distances": out}


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    n = args.systems
    n_pairs = n * (n - 1) // 2
    say = lambda msg: print(msg, flush=True)
    say(f"{n} systems ({n_pairs} pairs), E×T×H = {args.episodes}×{args.steps}×{args.hidden}, "
        f"d={args.n_delays}, r={args.rank}, {args.n_starts} starts × "
        f"{max(args.n_steps // 3, 1)} steps, best 2 × {args.n_steps} more "
        f"on {jax.default_backend()} ({os.cpu_count()} cores)")
    traj = synthetic_trajectories(n, args.hidden, args.episodes, args.steps)
    jax.block_until_ready(traj)
    fit = lambda: similarity.dmd(traj, args.n_delays, args.rank)
    ops, fit_first = timed(fit)
    _, fit_again = timed(fit)
    say(f"  DMD fits      {fit_first:8.2f} s first call, {fit_again:8.2f} s compiled")
    dist = lambda: similarity.dsa_distance(ops, n_starts=args.n_starts, n_steps=args.n_steps)
    d, dist_first = timed(dist)
    _, dist_again = timed(dist)
    target_pairs = args.target * (args.target - 1) // 2
    result = {
        "systems": n, "pairs": n_pairs, "hidden": args.hidden, "episodes": args.episodes,
        "steps": args.steps, "n_delays": args.n_delays, "rank": args.rank,
        "n_starts": args.n_starts, "n_steps": args.n_steps,
        "fit_s_first": fit_first, "fit_s": fit_again,
        "distances_s_first": dist_first, "distances_s": dist_again,
        "pairs_per_s": n_pairs / dist_again,
        "target_systems": args.target, "target_pairs": target_pairs,
        "target_s_estimate": fit_again * args.target / n
        + dist_again * target_pairs / n_pairs + (dist_first - dist_again),
        "all_finite": bool(np.isfinite(np.asarray(d)).all()),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "jax": jax.__version__,
        "backend": jax.default_backend(),
    }
    say(f"  distances     {dist_first:8.2f} s first call, {dist_again:8.2f} s compiled "
        f"({result['pairs_per_s']:.1f} pairs/s)")
    say(f"  {args.target} systems ({target_pairs} pairs): about "
        f"{result['target_s_estimate']:.0f} s (extrapolated from the pairs/s above; load "
        f"average {os.getloadavg()[0]:.1f})")
    if args.quality > 1:
        k = min(args.quality, n)
        iu = np.triu_indices(k, 1)
        sub = similarity.DMD(A=ops.A[:k], singular_values=ops.singular_values[:k],
                             valid=ops.valid[:k])
        best = np.asarray(similarity.dsa_distance(sub, n_starts=32, n_explore_steps=300,
                                                  n_keep=4, n_steps=1000))[iu]
        excess = (np.asarray(d)[:k, :k][iu] - best) / best
        result["quality"] = {"systems": k, "pairs": len(best),
                             "excess_mean": float(excess.mean()),
                             "excess_median": float(np.median(excess)),
                             "excess_max": float(excess.max())}
        q = result["quality"]
        say(f"  vs the long optimisation on {q['pairs']} pairs: distances higher by "
            f"{100 * q['excess_mean']:.2f}% on average (median "
            f"{100 * q['excess_median']:.2f}%, max {100 * q['excess_max']:.1f}%)")
    rng = np.random.default_rng(0)
    sample = [tuple(sorted(rng.choice(n, 2, replace=False))) for _ in range(min(5, n_pairs))]
    result["reference"] = reference(np.asarray(traj), args, sample)
    if "distances" in result["reference"]:
        result["reference"]["rnnctl_distances"] = [float(d[i, j]) for i, j in sample]
    ref = result["reference"]
    say("  dsa-metric: " + (ref["skipped"] if "skipped" in ref
                            else f"{ref['pairs_per_s']:.2f} pairs/s"))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, args.out)
    return result


if __name__ == "__main__":
    main()
