"""Do two runs' integration timescales differ? (python -m experiments.compare_tau A B)

For two analysed runs (`task_analysis.npz`, e.g. MemoryChain at two memory lengths) with
independent seeds: the ratio of geometric means of the top-5 τ (B over A) with its 95 %
Welch interval and p-value on log τ (`scipy.stats.ttest_ind`, unequal variances), at the
last analysed checkpoint and averaged over the checkpoints after update 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """Welch test of log b against log a ([n_a], [n_b] positive): ratio, CI, p."""
    from scipy import stats
    la, lb = np.log(a[np.isfinite(a) & (a > 0)]), np.log(b[np.isfinite(b) & (b > 0)])
    r = stats.ttest_ind(lb, la, equal_var=False)
    ci = r.confidence_interval(0.95)
    return {"ratio": float(np.exp(lb.mean() - la.mean())), "ci": [float(np.exp(ci.low)),
            float(np.exp(ci.high))], "p_value": float(r.pvalue), "n": [len(la), len(lb)],
            "gmean": [float(np.exp(la.mean())), float(np.exp(lb.mean()))]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.compare_tau",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    args = p.parse_args(argv)
    from rnnctl.runs import RunError, read_npz
    from rnnctl.task_analysis import TASK_ANALYSIS_FILE
    try:
        ra, rb = (read_npz(r / TASK_ANALYSIS_FILE) for r in (args.run_a, args.run_b))
    except RunError as e:
        print(f"{p.prog}: error: {e} (analyse the run first)", file=sys.stderr)
        return 2
    rows = {"last checkpoint": (ra["tau_avg"][:, -1], rb["tau_avg"][:, -1]),
            "mean over updates > 0": (np.exp(np.log(ra["tau_avg"][:, 1:]).mean(1)),
                                      np.exp(np.log(rb["tau_avg"][:, 1:]).mean(1)))}
    print(f"top-5 τ (steps), B = {args.run_b} over A = {args.run_a}; Welch t-test on log τ")
    for name, (a, b) in rows.items():
        c = compare(a, b)
        print(f"  {name:<24} A {c['gmean'][0]:.2f}, B {c['gmean'][1]:.2f} steps (geometric "
              f"means, n {c['n'][0]} and {c['n'][1]}): B/A = {c['ratio']:.2f}× "
              f"[{c['ci'][0]:.2f}, {c['ci'][1]:.2f}], p = {c['p_value']:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
