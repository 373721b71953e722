"""Is the paper's picture specific to vanilla RNNs? (rnnctl cells)

Trains the same task and budget with each recurrent cell (vanilla RNN, GRU, LSTM; one run
directory and one compiled program per cell), runs the task-agnostic analysis
(`rnnctl.task_analysis`) on each, and writes one comparison: return, fixed points at the
zero and the mean input, and the top-5 timescale τ over training, per cell, with 95 %
intervals across seeds, plus a paired test per cell of τ at the first against the last
analysed checkpoint. Re-running the same command reuses finished runs and per-agent analyses.

    rnnctl cells                         # Pendulum PO, 10 seeds, 3 cells
    rnnctl cells --seeds 2 --updates 3 --quick --out /tmp/cells   # smoke
(in a checkout, `python -m experiments.cells` is the same command)
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from rnnctl.config import CELLS, ConfigError, TrainConfig

#: How messages name this command (`rnnctl.cli.run` sets it to the command typed).
PROG = "rnnctl cells"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=PROG, allow_abbrev=False,
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default=",".join(CELLS),
                   help=f"comma-separated cells (default {','.join(CELLS)})")
    p.add_argument("--task", default=TrainConfig.task, help="gymnax task (default Pendulum-v1)")
    p.add_argument("--obs", default="po", help="observation variant (default po)")
    p.add_argument("--seeds", type=int, default=10, help="seeds per cell (default 10)")
    p.add_argument("--updates", type=int, default=TrainConfig.n_updates,
                   help=f"PPO updates (default {TrainConfig.n_updates})")
    p.add_argument("--checkpoint-stride", type=int, default=10,
                   help="analyse every k-th update plus the last (default 10)")
    p.add_argument("--out", default="runs/cells", help="run directories (default runs/cells)")
    p.add_argument("--figures", default=None,
                   help="where to write cells.png, summary.json, report.md (default: --out)")
    p.add_argument("--quick", action="store_true", help="tiny analysis (a smoke test)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    args = p.parse_args(argv)
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in args.cells if c not in CELLS]
    if bad or not args.cells:
        p.error(f"--cells: give values among {', '.join(CELLS)}, got {args.cells}")
    if args.seeds < 2:
        p.error("--seeds: intervals across seeds need at least 2")
    try:
        args.configs = {c: TrainConfig(task=args.task, cell=c, n_updates=args.updates,
                                       **({"n_epochs": 2} if args.quick else {})).validate()
                        for c in args.cells}
    except ConfigError as e:
        p.error(str(e))
    return args


def run_cell(cell: str, config: TrainConfig, args) -> dict:
    """Train (unless done) and analyse (unless done) one cell; its summary."""
    from rnnctl import envs
    from rnnctl.experiment import make_agents, train_to_dir
    from rnnctl.paper import DEFAULT_OPTIONS, QUICK_OPTIONS
    from rnnctl.runs import RunError, read_run_meta
    from rnnctl.task_analysis import analyse_task_run
    out = Path(args.out) / cell
    task = envs.get_task(config)
    agents = make_agents(range(args.seeds), [args.obs], variants=task.variants)
    try:
        status = read_run_meta(out, allow_incomplete=True)["status"]
    except RunError:
        status = None
    if status != "complete":
        t0 = time.perf_counter()
        _, res = train_to_dir(config, agents, out, progress=not args.quiet,
                              resume=status is not None)
        print(f"{cell}: trained {len(agents)} agents in {time.perf_counter() - t0:.0f} s "
              f"({res.env_steps / res.train_s:,.0f} steps/s after a {res.compile_s:.0f} s "
              f"compile)", flush=True)
    opts = QUICK_OPTIONS if args.quick else DEFAULT_OPTIONS
    opts = dataclasses.replace(opts, checkpoint_stride=args.checkpoint_stride)
    return analyse_task_run(out, progress=not args.quiet, options=opts)   # parts reused


def compare(summaries: dict[str, dict]) -> dict:
    """The comparison: per cell, the curves of its (single) variant."""
    out = {}
    for cell, s in summaries.items():
        e = s["settings"][0]
        out[cell] = {k: e[k] for k in ("n_agents", "final_eval_return", "eval_return",
                                       "n_fp_zero", "n_fp_mean", "n_stable_zero",
                                       "n_stable_mean", "tau_avg", "tau_first_vs_last")}
        out[cell]["updates"] = s["updates"]
        out[cell]["analysis_call_s"] = s["analysis_call_s"]
    return out


def report(comp: dict, args) -> str:
    from rnnctl.task_analysis import format_curve as m

    first = next(iter(comp.values()))
    u0, u1 = first["updates"][0], first["updates"][-1]
    lines = [f"# Cells compared: {args.task} {args.obs.upper()}, {args.seeds} seeds each", "",
             f"Default config otherwise ({args.updates} updates × 1024 steps). Returns and "
             "fixed-point counts (at the zero input and the agent's mean input): means with "
             "95 % percentile-bootstrap intervals across seeds; top-5 τ (steps): geometric "
             "means with 95 % BCa bootstrap intervals (`rnnctl.task_analysis`).", "",
             f"| cell | final return | fixed points zero / mean, update {u0} → {u1} | "
             f"top-5 τ, update {u0} → {u1} | τ last / first (paired t on logs) |",
             "|---|---|---|---|---|"]
    for cell, c in comp.items():
        t = c["tau_first_vs_last"]
        test = "n/a" if t["effect"] is None else (
            f"{t['effect']:.2f}× [{t['ci'][0]:.2f}, {t['ci'][1]:.2f}], p = {t['p_value']:.2g}")
        lines.append(f"| {cell} | {m(c['final_eval_return'], nd=0)} | "
                     f"{m(c['n_fp_zero'], 0)} / {m(c['n_fp_mean'], 0)} → "
                     f"{m(c['n_fp_zero'])} / {m(c['n_fp_mean'])} | "
                     f"{m(c['tau_avg'], 0, 2)} → {m(c['tau_avg'], -1, 2)} | {test} |")
    return "\n".join(lines) + "\n\n![cells](cells.png)\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    from rnnctl.cli import enable_cache
    from rnnctl.runs import RunError, RunLocked, atomic_write, write_json
    if not enable_cache(PROG):
        return 2
    from rnnctl.provenance import provenance
    prov = provenance()
    summaries = {}
    try:
        for cell in args.cells:
            summaries[cell] = run_cell(cell, args.configs[cell], args)
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to continue", file=sys.stderr)
        return 130
    except (RunError, RunLocked, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    comp = compare(summaries)
    fig_dir = Path(args.figures or args.out)
    fig_dir.mkdir(parents=True, exist_ok=True)
    write_json(fig_dir / "summary.json", {"task": args.task, "obs": args.obs,
                                          "seeds": args.seeds, "cells": comp,
                                          "provenance": prov})
    text = report(comp, args)
    atomic_write(fig_dir / "report.md", lambda f: f.write(text.encode()))
    from rnnctl.plotting.task import cells_figure
    cells_figure(comp, title=f"{args.task} {args.obs.upper()}, {args.seeds} seeds per cell",
                 path=fig_dir / "cells.png")
    print(text.split("\n\n![")[0])
    print(f"wrote {fig_dir / 'cells.png'}, {fig_dir / 'summary.json'}, {fig_dir / 'report.md'}")
    return 0

