"""Where do a run's fixed points lie? (python -m experiments.fp_locations RUN_DIR ...)

For each analysed run and fixed-point input, over every PO agent and analysed checkpoint:
how many stable and unstable points were found, and which fraction of each passes each
of rules v2's location gates (docs/methods.md §7, claim 3): decoded |θ̂| < π/4 (stable)
or > 3π/4 (unstable), decoder confidence ≥ `theta_confidence`, distance to the visited
states ≤ `theta_distance` (in units of the visited cloud's RMS radius), and all of them;
also the v1 label (circular mean of the nearest visited states). Descriptive only: it
decides nothing.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def table(run_dir: str, obs: str = "po") -> list[str]:
    from rnnctl.paper import ClaimOptions
    from rnnctl.paper.results import load_analysis
    r = load_analysis(run_dir)
    opts = ClaimOptions()
    sel = np.asarray([str(o) == obs for o in r.agent_obs])
    valid = np.asarray(r.fp_valid, bool)[sel]
    stable = np.asarray(r.fp_stable, bool)[sel]
    th = np.abs(np.asarray(r.fp_theta_dec, np.float64)[sel])
    conf = np.asarray(r.fp_theta_conf, np.float64)[sel]
    dist = np.asarray(r.fp_dist_visited, np.float64)[sel]
    th1 = np.abs(np.asarray(r.fp_theta, np.float64)[sel])
    lines = [f"{run_dir}: {sel.sum()} {obs.upper()} agents × {valid.shape[1]} checkpoints",
             "| input | kind | points | agents with one at the end | location (v2 θ̂) | "
             "confidence | distance | all gates | location (v1 θ) | median distance |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with np.errstate(invalid="ignore"):
        for x, name in enumerate(r.fp_inputs.tolist()):
            for kind, mask in (("stable", valid & stable), ("unstable", valid & ~stable)):
                m = mask[:, :, x]
                if kind == "stable":
                    loc, loc1 = th[:, :, x] < opts.near_goal, th1[:, :, x] < opts.near_goal
                else:
                    loc, loc1 = th[:, :, x] > opts.near_hanging, th1[:, :, x] > opts.near_hanging
                ok_c = conf[:, :, x] >= opts.theta_confidence
                ok_d = dist[:, :, x] <= opts.theta_distance
                n = int(m.sum())

                def frac(a):
                    return f"{a[m].mean():.2f}" if n else "n/a"
                med = f"{np.nanmedian(dist[:, :, x][m]):.2f}" if n else "n/a"
                lines.append(f"| {name} | {kind} | {n} | {int(m[:, -1].any(-1).sum())} | "
                             f"{frac(loc)} | {frac(ok_c)} | {frac(ok_d)} | "
                             f"{frac(loc & ok_c & ok_d)} | {frac(loc1)} | {med} |")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.fp_locations",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="analysed run directories")
    p.add_argument("--obs", default="po", help="observation variant (default po)")
    args = p.parse_args(argv)
    from rnnctl.runs import RunError
    for run in args.runs:
        try:
            print("\n".join(table(run, args.obs)), end="\n\n")
        except (RunError, OSError) as e:
            print(f"python -m experiments.fp_locations: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
