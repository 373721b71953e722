"""Can each claim rule fail? Null models on a run's real agents (rnnctl nulls).

    rnnctl nulls RUN_DIR                 # claim-level nulls, 200 draws each
    rnnctl nulls RUN_DIR --drift 5       # and 5 drift-null runs, analysed
(in a checkout, `python -m experiments.nulls` is the same command)

For an analysed run (its analysis.npz), evaluates rules v1 and v2 under the nulls of
`rnnctl.paper.nulls` and prints, per null, claim and rule version, the fraction of draws in
which the claim does NOT hold (a rule that can fail shows ≥ 95 % at α = 0.05). Shuffled
checkpoints and the never-trained network re-decide the claims from the saved analysis
(seconds); each drift draw writes a null run directory (the update-0 network moved along a
random direction by training's own distance) and analyses it with the run's own analysis
options (minutes). Writes `nulls.json` beside the analysis (or to --json).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: How messages name this command (`rnnctl.cli.run` sets it to the command typed).
PROG = "rnnctl nulls"

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=PROG, allow_abbrev=False,
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="an analysed run directory")
    p.add_argument("--draws", type=int, default=200,
                   help="draws of the shuffled-checkpoint null (default 200)")
    p.add_argument("--drift", type=int, default=0,
                   help="drift-null runs to build and analyse (default 0)")
    p.add_argument("--work", default=None,
                   help="where the drift-null runs go (default RUN/nulls)")
    p.add_argument("--json", default=None, help="output file (default RUN/nulls.json)")
    args = p.parse_args(argv)
    if args.draws < 1 or args.drift < 0:
        p.error("argument --draws must be positive and --drift non-negative")
    return args


def _ctx_of(run_dir):
    from rnnctl.paper import AnalysisOptions
    from rnnctl.paper.results import load_analysis
    from rnnctl.paper.run import claim_context, degraded_agents
    from rnnctl.runs import load_run
    run = load_run(run_dir)
    res = load_analysis(run_dir)
    opts = AnalysisOptions.from_dict(__import__("json").loads(str(res.options_json)))
    bad = [d["agent"] for d in degraded_agents(run)]
    return run, res, opts, claim_context(res, run, opts, exclude=bad)


def main(argv=None) -> int:
    args = parse_args(argv)
    from rnnctl.cli import enable_cache
    if not enable_cache(PROG):
        return 2
    import numpy as np
    from rnnctl.paper import nulls
    from rnnctl.paper.claims import evaluate_claims
    from rnnctl.paper.claims_v2 import evaluate_claims_v2
    from rnnctl.paper.run import analyse_run
    from rnnctl.runs import RunError, write_json
    run_dir = Path(args.run)
    try:
        run, res, opts, ctx = _ctx_of(run_dir)
    except (RunError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    from rnnctl.provenance import provenance
    out = {"run": str(run_dir), "alpha": ctx.options.alpha, "provenance": provenance()}
    real = {v: [c.holds for c in fn(ctx)] for v, fn in (("v1", evaluate_claims),
                                                       ("v2", evaluate_claims_v2))}
    out["real"] = real
    t0 = time.perf_counter()
    out["shuffled"] = nulls.null_rates(ctx, nulls.shuffled, args.draws)
    import dataclasses
    nt = dataclasses.replace(ctx, results=nulls.never_trained(ctx.results))
    out["never_trained"] = {v: {c.id: float(not c.holds) for c in fn(nt)}
                            for v, fn in (("v1", evaluate_claims), ("v2", evaluate_claims_v2))}
    print(f"[nulls] claim-level nulls in {time.perf_counter() - t0:.1f} s", flush=True)
    if args.drift:
        work = Path(args.work or run_dir / "nulls")
        fails = {"v1": np.zeros(5), "v2": np.zeros(5)}
        for d in range(args.drift):
            t1 = time.perf_counter()
            null_dir = work / f"drift_{d}"
            if not (null_dir / "summary.json").is_file():
                nulls.drift_run(run, null_dir, seed=1000 + d)
            s = analyse_run(null_dir, progress=False, options=opts, reuse=True)
            for v, key in (("v1", "claims"), ("v2", "claims_v2")):
                fails[v] += [not c["holds"] for c in s[key]]
            print(f"[nulls] drift draw {d + 1}/{args.drift}: {time.perf_counter() - t1:.0f} s "
                  f"(v2 holds: {[c['holds'] for c in s['claims_v2']]})", flush=True)
        out["drift"] = {"draws": args.drift, **{v: {i + 1: float(f[i] / args.drift)
                                                     for i in range(5)}
                                                 for v, f in fails.items()}}
    dest = Path(args.json or run_dir / "nulls.json")
    write_json(dest, out)
    print("fraction of null draws in which each claim does NOT hold (≥ 0.95 wanted):")
    print(f"{'null':<15}{'rules':<7}" + "".join(f"{'claim ' + str(i):>9}" for i in range(1, 6)))
    for null in ("shuffled", "never_trained", "drift"):
        if null not in out:
            continue
        for v in ("v1", "v2"):
            row = out[null][v]
            print(f"{null:<15}{v:<7}" + "".join(f"{row[i]:>9.3f}" for i in range(1, 6)))
    print(f"real run       " + "  ".join(f"{v}: {['holds' if h else 'no' for h in real[v]]}"
                                         for v in real))
    print(f"[nulls] wrote {dest}")
    return 0

