"""Scaling curve: training throughput and peak memory for 1, 10, 100 and 1,000 agents.

    python -m experiments.bench_scaling [--agents 1,10,100,1000] [--updates 3]
        [--out runs/bench/bench_scaling.json] [--plot figures/bench/scaling.png]

Each agent count trains in a fresh process (one compiled program, the default config,
PO agents, `--updates` updates: the full 100 would take an hour at 1,000 agents on two
cores), so its peak resident memory is its own. Prints a table and writes JSON (and a
plot with --plot). Memory on a CPU is host memory; on an accelerator the peak RSS is the
host side only, and the device's peak is reported where jax exposes it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PROG = "python -m experiments.bench_scaling"


def child(n_agents: int, updates: int, steps: int) -> dict:
    """Train `n_agents` in this process; what the parent records."""
    from rnnctl.cli import prepare
    prepare()        # as the command-line tools start
    import jax
    import numpy as np
    from rnnctl.config import TrainConfig
    from rnnctl.experiment import make_agents, train_agents

    config = TrainConfig(n_updates=updates, rollout_len=steps)
    t0 = time.perf_counter()
    r = train_agents(config, make_agents(range(n_agents), ["po"]), progress=False)
    wall = time.perf_counter() - t0
    ckpt_bytes = sum(np.asarray(v).nbytes for v in jax.tree.leaves(r.params))
    per_ckpt = ckpt_bytes / (n_agents * (updates + 1))     # one agent, one checkpoint
    dev = jax.devices()[0]
    stats = getattr(dev, "memory_stats", lambda: None)() or {}
    return {"agents": n_agents, "updates": updates, "steps_per_update": steps,
            "compile_s": r.compile_s, "train_s": r.train_s, "wall_s": wall,
            "env_steps": r.env_steps, "env_steps_per_s": r.env_steps / r.train_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "device_peak_mb": (stats.get("peak_bytes_in_use", 0) / 2**20) or None,
            "checkpoint_bytes_per_agent_update": per_ckpt,
            "checkpoints_mb_at_100_updates": per_ckpt * n_agents * 101 / 2**20,
            "device": str(dev)}


def plot(rows: list[dict], machine: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rnnctl.runs import atomic_write
    a = [r["agents"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.loglog(a, [r["env_steps_per_s"] for r in rows], "o-")
    ax1.set(xlabel="agents (one program)", ylabel="env steps / s (training)",
            title="throughput")
    ax2.loglog(a, [r["peak_rss_mb"] for r in rows], "o-", label="peak RSS (measured)")
    ax2.loglog(a, [r["checkpoints_mb_at_100_updates"] for r in rows], "s--",
               label="checkpoints of 100 updates")
    ax2.set(xlabel="agents (one program)", ylabel="MB", title="memory")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(machine, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=_int_list, default=[1, 10, 100, 1000],
                   help="agent counts (default: 1,10,100,1000)")
    p.add_argument("--updates", type=int, default=3, help="PPO updates each (default: 3)")
    p.add_argument("--steps-per-update", type=int, default=1024,
                   help="env steps per update per agent (default: 1024, the paper's)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/bench_scaling.json"))
    p.add_argument("--plot", type=Path, default=None, help="write the curve as a PNG here")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.updates, args.steps_per_update)))
        return 0

    from rnnctl.provenance import provenance
    prov = provenance()        # this parent's machine and load; each count runs in a child
    rows = []
    print(f"{'agents':>7}{'compile s':>11}{'train s':>10}{'steps/s':>12}{'per agent':>11}"
          f"{'peak RSS MB':>13}{'ckpt MB @100u':>15}", flush=True)
    for n in args.agents:
        res = subprocess.run([sys.executable, "-m", "rnnctl.bench.scaling", "--child",
                              str(n), "--updates", str(args.updates), "--steps-per-update",
                              str(args.steps_per_update)], capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{n:>7}  failed: {res.stderr.strip().splitlines()[-1:]}", flush=True)
            rows.append({"agents": n, "failed": res.stderr.strip()[-2000:]})
            break
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>7}{r['compile_s']:>11.1f}{r['train_s']:>10.1f}"
              f"{r['env_steps_per_s']:>12,.0f}{r['env_steps_per_s'] / n:>11,.0f}"
              f"{r['peak_rss_mb']:>13,.0f}{r['checkpoints_mb_at_100_updates']:>15,.0f}",
              flush=True)
    ok = [r for r in rows if "failed" not in r]
    machine = (f"{prov['machine']['cpu']}, {os.cpu_count()} CPUs, "
               f"{ok[0]['device'] if ok else '?'}")
    # where the device saturates: the first count whose throughput is within 10% of the best
    best = max((r["env_steps_per_s"] for r in ok), default=float("nan"))
    saturated = next((r["agents"] for r in ok if r["env_steps_per_s"] >= 0.9 * best), None)
    out = {"provenance": prov, "updates": args.updates,
           "steps_per_update": args.steps_per_update, "rows": rows,
           "saturates_at_agents": saturated}
    if saturated is not None:
        print(f"throughput within 10% of its best ({best:,.0f} steps/s) from {saturated} "
              f"agents on: {machine}")
    from rnnctl.runs import write_json
    write_json(args.out, out)
    print(f"wrote {args.out}")
    if args.plot is not None and ok:
        plot(ok, machine, args.plot)
        print(f"wrote {args.plot}")
    return 0 if len(ok) == len(args.agents) else 1


if __name__ == "__main__":
    sys.exit(main())
