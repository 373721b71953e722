"""The atlas: when does each of the paper's claims hold? (python -m experiments.atlas)

Trains and analyses a grid of conditions — the cell initialisation `rnn_init` × the input
`encoding` — with many seeds, FO and PO, and writes one table and one figure of claims ×
conditions, each cell the deciding test's effect with its CI and the verdict.

Every initialisation of one encoding trains in ONE compiled program (the initialisation is
a per-agent choice; only the input size differs between encodings), so the grid costs one
compilation per encoding. Each encoding is a run directory under --out, analysed with
`rnnctl.paper` per setting (= per initialisation); both stages are resumable: re-running
the same command continues where it stopped.

    python -m experiments.atlas                      # 20 seeds, 3 inits × 2 encodings
    python -m experiments.atlas --seeds 2 --updates 4 --quick --out /tmp/atlas  # smoke test
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rnnctl  # noqa: F401  (applies the safe XLA flags before jax starts)
from rnnctl.config import ENCODINGS, RNN_INITS, ConfigError, TrainConfig

#: The atlas's analysis: a subset of checkpoints and lighter per-checkpoint settings than
#: the 5-seed sweep, so that ~240 agents fit in the time budget (stated in its report).
ATLAS_ANALYSIS = dict(checkpoint_stride=10, fp_init=64, fp_opt_steps=300, tau_stride=8,
                      map_episodes=10, return_episodes=10, manifold_inputs=0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.atlas", allow_abbrev=False,
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds per condition (default 20)")
    p.add_argument("--updates", type=int, default=TrainConfig.n_updates,
                   help=f"PPO updates (default {TrainConfig.n_updates})")
    p.add_argument("--inits", default=",".join(RNN_INITS),
                   help=f"comma-separated rnn_init values (default {','.join(RNN_INITS)})")
    p.add_argument("--encodings", default=",".join(ENCODINGS),
                   help=f"comma-separated encodings (default {','.join(ENCODINGS)})")
    p.add_argument("--checkpoint-stride", type=int,
                   default=ATLAS_ANALYSIS["checkpoint_stride"],
                   help="analyse every k-th update plus the last (default "
                        f"{ATLAS_ANALYSIS['checkpoint_stride']})")
    p.add_argument("--out", default="runs/atlas", help="run directories (default runs/atlas)")
    p.add_argument("--figures", default=None,
                   help="where to write atlas.png, summary.json, report.md (default: --out)")
    p.add_argument("--quick", action="store_true",
                   help="tiny analysis settings (a smoke test; decides nothing)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--redraw", action="store_true",
                   help="only rewrite atlas.png and report.md from --figures' summary.json "
                        "(no training, no analysis)")
    args = p.parse_args(argv)
    args.inits = [s.strip() for s in args.inits.split(",") if s.strip()]
    args.encodings = [s.strip() for s in args.encodings.split(",") if s.strip()]
    for name in args.inits:
        if name not in RNN_INITS:
            p.error(f"argument --inits: {name!r} is not one of {', '.join(RNN_INITS)}")
    for name in args.encodings:
        if name not in ENCODINGS:
            p.error(f"argument --encodings: {name!r} is not one of {', '.join(ENCODINGS)}")
    if not args.inits or not args.encodings:
        p.error("need at least one init and one encoding")
    if args.seeds < 2:
        p.error("argument --seeds: paired tests need at least 2 seeds")
    if args.updates < 1 or args.checkpoint_stride < 1:
        p.error("argument --updates / --checkpoint-stride: must be positive")
    return args


def condition_runs(args) -> list[tuple[str, Path]]:
    return [(enc, Path(args.out) / enc) for enc in args.encodings]


def train_condition(args, encoding: str, run_dir: Path) -> None:
    """Train every init of one encoding in one program (resuming a partial run)."""
    from rnnctl import runs
    from rnnctl.experiment import make_agents, train_to_dir
    config = TrainConfig(n_updates=args.updates, encoding=encoding).validate()
    agents = make_agents(range(args.seeds), ["fo", "po"], rnn_inits=args.inits)
    status = None
    if (run_dir / runs.CONFIG_FILE).is_file():
        status = runs.read_run_meta(run_dir, allow_incomplete=True).get("status")
    if status == "complete":
        return
    train_to_dir(config, agents, run_dir, progress=not args.quiet, resume=status is not None)


def analysis_options(args):
    from rnnctl.paper import DEFAULT_OPTIONS, QUICK_OPTIONS
    base = QUICK_OPTIONS if args.quick else DEFAULT_OPTIONS
    extra = {} if args.quick else dict(ATLAS_ANALYSIS)
    extra["checkpoint_stride"] = args.checkpoint_stride
    import dataclasses
    return dataclasses.replace(base, **extra)


def collect(summaries: dict[str, dict]) -> list[dict]:
    """One entry per condition (init × encoding): returns and the claims' deciding tests."""
    import numpy as np
    out = []
    for enc, s in summaries.items():
        final = {r["agent"]: r["eval_return"] for r in s["final_return"]}
        for e in s["settings"]:
            init = e["values"].get("rnn_init", s["config"]["rnn_init"])
            ret = {}
            for o in ("fo", "po"):
                v = np.asarray([final[i] for i in e["agents"]
                                if s["agents"][i]["obs"] == o and final[i] is not None], float)
                ret[o] = {"mean": float(v.mean()) if v.size else None,
                          "sd": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size)}
            rho = [s["rho_w_h_init"][i] for i in e["agents"]]
            out.append({"rnn_init": init, "encoding": enc, "agents": e["agents"],
                        "final_return": ret, "rho_w_h_init_mean": float(np.mean(rho)),
                        "claims": [{"id": c["id"], "holds": c["holds"],
                                    **{k: c["stats"].get(k) for k in
                                       ("test", "effect_name", "effect", "ci", "p_value",
                                        "n_seeds", "decided_by")},
                                    "measured": c["measured"]} for c in e["claims"]],
                        "claim_texts": {c["id"]: c["claim"] for c in e["claims"]},
                        "rules": {c["id"]: c["rule"] for c in e["claims"]}})
    return out


#: Row labels of atlas.png (the report and summary.json give the full texts).
SHORT = {1: "1. policy sharpens;\nFO sharper than PO", 2: "2. PO hidden states:\nring ordered by θ",
         3: "3. stable FP first,\nthen unstable; at goal\nand hanging at the end",
         4: "4. stable FP's distance\ntracks reward-to-go", 5: "5. top-5 τ rise,\nthen fall"}


def _fmt(x, d=3):
    return "n/a" if x is None else f"{x:.{d}g}"


def write_outputs(conditions: list[dict], args, timing: dict, options) -> Path:
    from rnnctl import plotting
    from rnnctl.runs import atomic_write, write_json
    dest = Path(args.figures or args.out)
    dest.mkdir(parents=True, exist_ok=True)
    names = [f"{c['rnn_init']}\n{c['encoding']}" for c in conditions]
    cells = [[{"holds": cl["holds"], "effect": cl["effect"], "ci": cl["ci"],
               "p": cl["p_value"]} for cl in c["claims"]] for c in conditions]
    texts = conditions[0]["claim_texts"]
    plotting.atlas_grid(cells, [SHORT.get(int(i), f"{i}. {texts[i][:24]}")
                                for i in sorted(texts)], names,
                        title=f"When does each claim hold? ({args.seeds} seeds × FO/PO per "
                              f"condition, {args.updates} updates)",
                        path=dest / "atlas.png")
    summary = {"format_version": 1, "seeds": args.seeds, "updates": args.updates,
               "conditions": conditions, "timing": timing,
               "analysis_options": options.to_dict(), "runs": [str(p) for _, p in
                                                               condition_runs(args)]}
    write_json(dest / "summary.json", summary)
    lines = ["# The atlas: when does each claim hold?", "",
             f"{args.seeds} seeds × {{FO, PO}} per condition, {args.updates} updates × "
             f"{TrainConfig.rollout_len} steps; conditions = rnn_init × encoding. Each cell: "
             "the deciding test's effect [CI], p, and the verdict (rules in the runs' "
             "report.md). Analysed checkpoints: every "
             f"{options.checkpoint_stride}th update plus the last and the figure stages; "
             f"fixed points from {options.fp_init} initial states ({options.fp_opt_steps} Adam "
             f"steps), τ at every {options.tau_stride}th rollout step, "
             f"{options.map_episodes} policy-map episodes, no fixed-point manifold (the "
             "5-seed sweep uses the full settings).",
             "", "| claim | " + " | ".join(f"{c['rnn_init']}, {c['encoding']}"
                                           for c in conditions) + " |",
             "|---|" + "---|" * len(conditions)]
    for j, cid in enumerate(sorted(texts)):
        row = []
        for c in conditions:
            cl = c["claims"][j]
            ci = cl["ci"] or [None, None]
            row.append(f"{'**holds**' if cl['holds'] else 'no'}: {_fmt(cl['effect'])} "
                       f"[{_fmt(ci[0])}, {_fmt(ci[1])}], p {_fmt(cl['p_value'], 2)}")
        lines.append(f"| {cid}. {texts[cid]} | " + " | ".join(row) + " |")
    lines += ["", "| final return (mean ± sd) | " + " | ".join(
        f"FO {_fmt(c['final_return']['fo']['mean'], 4)} ± {_fmt(c['final_return']['fo']['sd'], 3)}, "
        f"PO {_fmt(c['final_return']['po']['mean'], 4)} ± {_fmt(c['final_return']['po']['sd'], 3)}"
        for c in conditions) + " |",
              "| mean ρ(W_h) at init | " + " | ".join(f"{c['rho_w_h_init_mean']:.2f}"
                                                      for c in conditions) + " |", "",
              "Effects: claim 1 FO − PO (or a rise) in saturated fraction; claim 2 ring-score "
              "gain; claim 3 updates from stable to unstable emergence; claim 4 mean per-seed "
              "r; claim 5 ratio of geometric means of τ (middle / update 0 or middle / end).",
              "", "## Measured, per condition", ""]
    for c in conditions:
        lines += [f"### {c['rnn_init']}, {c['encoding']}", ""]
        lines += [f"- claim {cl['id']} ({'holds' if cl['holds'] else 'does not hold'}): "
                  f"{cl['measured']}" for cl in c["claims"]]
        lines.append("")
    lines += ["## Time", "", *(f"- {k}: {v:.0f} s" for k, v in timing.items()), "",
              "![atlas](atlas.png)", ""]
    text = "\n".join(lines)
    atomic_write(dest / "report.md", lambda f: f.write(text.encode()))
    return dest


def redraw(args) -> int:
    """atlas.png and report.md again from a written summary.json (e.g. after a figure fix)."""
    from rnnctl.paper import AnalysisOptions
    from rnnctl.runs import RunError, read_json
    dest = Path(args.figures or args.out)
    try:
        saved = read_json(dest / "summary.json")
    except RunError as e:
        print(f"python -m experiments.atlas: {e}", file=sys.stderr)
        return 1
    args.seeds, args.updates = saved["seeds"], saved["updates"]
    write_outputs(saved["conditions"], args, saved["timing"],
                  AnalysisOptions.from_dict(saved["analysis_options"]))
    print(f"[atlas] redrew {dest / 'atlas.png'} and {dest / 'report.md'}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.redraw:
        return redraw(args)
    from rnnctl import compile_cache
    compile_cache.enable()            # $RNNCTL_COMPILE_CACHE, else ~/.cache/rnnctl/jax
    from rnnctl.paper import PipelineError, analyse_run
    from rnnctl.runs import RunError
    options = analysis_options(args)
    timing: dict[str, float] = {}
    summaries = {}
    t_all = time.perf_counter()
    try:
        for enc, run_dir in condition_runs(args):
            t0 = time.perf_counter()
            print(f"[atlas] training {enc}: {len(args.inits)} inits × {args.seeds} seeds × "
                  f"FO/PO in one program -> {run_dir}", flush=True)
            train_condition(args, enc, run_dir)
            timing[f"train {enc} (s)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            print(f"[atlas] analysing {run_dir}", flush=True)
            summaries[enc] = analyse_run(run_dir, progress=not args.quiet, options=options,
                                         reuse=True)
            timing[f"analyse {enc} (s)"] = time.perf_counter() - t0
    except KeyboardInterrupt:
        print("\n[atlas] interrupted; what was saved is kept. Continue with the same command: "
              "python -m experiments.atlas " + " ".join(sys.argv[1:]), file=sys.stderr)
        return 130
    except (ConfigError, RunError, PipelineError, OSError) as e:
        print(f"python -m experiments.atlas: {e}", file=sys.stderr)
        return 1
    timing["total (s)"] = time.perf_counter() - t_all
    conditions = collect(summaries)
    dest = write_outputs(conditions, args, timing, options)
    print(json.dumps({f"{c['rnn_init']}/{c['encoding']}": [cl["holds"] for cl in c["claims"]]
                      for c in conditions}, indent=1))
    print(f"[atlas] wrote {dest / 'atlas.png'}, {dest / 'summary.json'}, {dest / 'report.md'} "
          f"in {timing['total (s)']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
