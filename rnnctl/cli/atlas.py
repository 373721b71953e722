"""The atlas: when does each of the paper's claims hold? (rnnctl atlas)

Trains and analyses a grid of conditions — the cell initialisation `rnn_init` × the input
`encoding` — with many seeds, FO and PO, and writes one table and one figure of claims ×
conditions, each cell the deciding test's effect with its CI and the verdict.

Every initialisation of one encoding trains in ONE compiled program (the initialisation is
a per-agent choice; only the input size differs between encodings), so the grid costs one
compilation per encoding. Each encoding is a run directory under --out, analysed with
`rnnctl.paper` per setting (= per initialisation); both stages are resumable: re-running
the same command continues where it stopped.

    rnnctl atlas                      # 20 seeds, 3 inits × 2 encodings
    rnnctl atlas --seeds 2 --updates 4 --quick --out /tmp/atlas  # smoke test
(in a checkout, `python -m experiments.atlas` is the same command)

Training budgets are an axis too (`--budgets 100,300`: each budget is its own program,
since the learning rate anneals over the run). Every condition is decided by rules v1 and
v2 side by side (docs/methods.md §7).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnnctl.config import ENCODINGS, RNN_INITS, ConfigError, TrainConfig

#: How messages name this command (`rnnctl.cli.run` sets it to the command typed).
PROG = "rnnctl atlas"

#: The atlas's analysis: a subset of checkpoints and lighter per-checkpoint settings than
#: the 5-seed sweep, so that ~240 agents fit in the time budget (stated in its report).
ATLAS_ANALYSIS = dict(checkpoint_stride=10, fp_init=64, fp_opt_steps=300, tau_stride=8,
                      map_episodes=10, return_episodes=10, manifold_inputs=0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=PROG, allow_abbrev=False,
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds per condition (default 20)")
    p.add_argument("--seed-start", type=int, default=0,
                   help="first seed (default 0): seeds are seed-start .. seed-start+seeds−1")
    p.add_argument("--updates", type=int, default=TrainConfig.n_updates,
                   help=f"PPO updates (default {TrainConfig.n_updates})")
    p.add_argument("--budgets", default=None,
                   help="comma-separated training budgets in updates, each a condition "
                        "(default: --updates alone)")
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
    p.add_argument("--readme-table", action="store_true",
                   help="print the README's claims table from --figures' summary.json")
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
    if args.seed_start < 0:
        p.error("argument --seed-start: must be non-negative")
    try:
        args.budgets = ([int(b) for b in args.budgets.split(",") if b.strip()]
                        if args.budgets else [args.updates])
    except ValueError:
        p.error(f"argument --budgets: expected comma-separated integers, got {args.budgets!r}")
    if not args.budgets or min(args.budgets) < 1:
        p.error("argument --budgets: budgets must be positive integers")
    args.seed_list = list(range(args.seed_start, args.seed_start + args.seeds))
    return args


def condition_runs(args) -> list[tuple[str, int, Path]]:
    """(encoding, budget, run directory) of every program; one budget keeps the old
    layout (--out/ENCODING)."""
    if len(args.budgets) == 1 and args.budgets[0] == args.updates:
        return [(enc, args.updates, Path(args.out) / enc) for enc in args.encodings]
    return [(enc, b, Path(args.out) / f"{enc}-u{b}") for b in args.budgets
            for enc in args.encodings]


def train_condition(args, encoding: str, run_dir: Path, updates: int | None = None) -> None:
    """Train every init of one encoding in one program (resuming a partial run)."""
    from rnnctl import runs
    from rnnctl.experiment import make_agents, train_to_dir
    config = TrainConfig(n_updates=updates or args.updates, encoding=encoding).validate()
    agents = make_agents(args.seed_list, ["fo", "po"], rnn_inits=args.inits)
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


def _claim_row(c: dict) -> dict:
    st = c["stats"]
    return {"id": c["id"], "version": c.get("version", "v1"), "holds": c["holds"],
            "tested": c.get("tested", True),
            **{k: st.get(k) for k in ("test", "effect_name", "effect", "ci", "p_value",
                                      "n_seeds", "decided_by")},
            "measured": c["measured"]}


def _curves_of(curves: dict | None, agents: list[int]) -> dict | None:
    """The run's per-update curves (`rnnctl.paper.report.curves`) of one setting's agents."""
    if not curves:
        return None
    keep = set(agents)
    return {"updates": curves["updates"],
            "agents": [a for a in curves["agents"] if a["agent"] in keep]}


def collect(summaries: dict) -> list[dict]:
    """One entry per condition (init × encoding × budget): returns, the claims' deciding
    tests under rules v1 and v2, and every agent's per-update curves."""
    import numpy as np
    out = []
    for key, s in summaries.items():
        enc = s["config"]["encoding"]
        updates = int(s["config"]["n_updates"])
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
            out.append({"rnn_init": init, "encoding": enc, "updates": updates,
                        "seeds": sorted({s["agents"][i]["seed"] for i in e["agents"]}),
                        "agents": e["agents"], "run": s["run"],
                        "final_return": ret, "rho_w_h_init_mean": float(np.mean(rho)),
                        "claims": [_claim_row(c) for c in e["claims"]],
                        "claims_v2": [_claim_row(c) for c in e.get("claims_v2", [])],
                        "progress_aligned": e.get("progress_aligned"),
                        "curves": _curves_of(s.get("curves"), e["agents"]),
                        "claim_texts": {c["id"]: c["claim"] for c in e["claims"]},
                        "rules": {c["id"]: c["rule"] for c in e["claims"]},
                        "rules_v2": {c["id"]: c["rule"] for c in e.get("claims_v2", [])}})
    return out


#: Row labels of atlas.png (the report and summary.json give the full texts).
SHORT = {1: "1. policy sharpens;\nFO sharper than PO", 2: "2. PO hidden states:\nring ordered by θ",
         3: "3. stable FP first,\nthen unstable; at goal\nand hanging at the end",
         4: "4. stable FP's distance\ntracks reward-to-go", 5: "5. top-5 τ rise,\nthen fall"}


def _fmt(x, d=3):
    return "n/a" if x is None else f"{x:.{d}g}"


def _cond_name(c: dict, multi_budget: bool) -> str:
    return f"{c['rnn_init']}, {c['encoding']}" + (f", {c['updates']} upd" if multi_budget else "")


def _cell(cl: dict) -> str:
    if cl.get("tested") is False:
        return "not tested"
    ci = cl["ci"] or [None, None]
    return (f"{'**holds**' if cl['holds'] else 'no'}: {_fmt(cl['effect'])} "
            f"[{_fmt(ci[0])}, {_fmt(ci[1])}], p {_fmt(cl['p_value'], 2)}")


def write_outputs(conditions: list[dict], args, timing: dict, options,
                  provenance: dict | None) -> Path:
    from rnnctl import plotting
    from rnnctl.runs import atomic_write, write_json
    dest = Path(args.figures or args.out)
    dest.mkdir(parents=True, exist_ok=True)
    budgets = sorted({c["updates"] for c in conditions})
    multi = len(budgets) > 1
    names = [_cond_name(c, multi).replace(", ", "\n") for c in conditions]
    has_v2 = all(c.get("claims_v2") for c in conditions)
    version = "claims_v2" if has_v2 else "claims"
    cells = [[{"holds": cl["holds"], "effect": cl["effect"], "ci": cl["ci"],
               "p": cl["p_value"]} for cl in c[version]] for c in conditions]
    texts = conditions[0]["claim_texts"]
    seeds = conditions[0].get("seeds") or list(range(args.seeds))
    plotting.atlas_grid(cells, [SHORT.get(int(i), f"{i}. {texts[i][:24]}")
                                for i in sorted(texts)], names,
                        title=f"When does each claim hold? (rules {'v2' if has_v2 else 'v1'}; "
                              f"{len(seeds)} seeds × FO/PO per condition)",
                        path=dest / "atlas.png")
    summary = {"format_version": 2, "seeds": seeds, "budgets": budgets,
               "updates": budgets[0] if not multi else budgets,
               "rule_versions": ["v1", "v2"] if has_v2 else ["v1"],
               "conditions": conditions, "timing": timing,
               "analysis_options": options.to_dict(),
               "runs": [str(p) for _, _, p in condition_runs(args)],
               "provenance": provenance}
    write_json(dest / "summary.json", summary)
    cols = [_cond_name(c, multi) for c in conditions]
    lines = ["# The atlas: when does each claim hold?", "",
             f"Seeds {seeds[0]}–{seeds[-1]} ({len(seeds)}) × {{FO, PO}} per condition, "
             f"budgets {', '.join(str(b) for b in budgets)} updates × "
             f"{TrainConfig.rollout_len} steps; conditions = rnn_init × encoding"
             + (" × budget" if multi else "") + ". Each cell: the deciding test's effect "
             "[CI], p, and the verdict, under rules v1 and v2 (docs/methods.md §6–7). "
             f"Analysed checkpoints: every {options.checkpoint_stride}th update plus the last "
             f"and the figure stages; fixed points from {options.fp_init} initial states "
             f"({options.fp_opt_steps} Adam steps, stratified over θ in "
             f"{options.fp_start_strata} bins), τ at every {options.tau_stride}th rollout "
             f"step, {options.map_episodes} policy-map episodes, a {options.probe_bins}² probe "
             "map, no fixed-point manifold."]
    for key, label in (("claims", "v1"), ("claims_v2", "v2")):
        if not all(c.get(key) for c in conditions):
            continue
        lines += ["", f"## Rules {label}", "", "| claim | " + " | ".join(cols) + " |",
                  "|---|" + "---|" * len(conditions)]
        for j, cid in enumerate(sorted(texts)):
            lines.append(f"| {cid}. {texts[cid]} | "
                         + " | ".join(_cell(c[key][j]) for c in conditions) + " |")
    lines += ["", "| final return (mean ± sd) | " + " | ".join(
        f"FO {_fmt(c['final_return']['fo']['mean'], 4)} ± {_fmt(c['final_return']['fo']['sd'], 3)}, "
        f"PO {_fmt(c['final_return']['po']['mean'], 4)} ± {_fmt(c['final_return']['po']['sd'], 3)}"
        for c in conditions) + " |",
              "|---|" + "---|" * len(conditions),
              "| mean ρ(W_h) at init | " + " | ".join(f"{c['rho_w_h_init_mean']:.2f}"
                                                      for c in conditions) + " |", "",
              "Effects (v1): claim 1 FO − PO (or a rise) in saturated fraction; claim 2 "
              "ring-score gain; claim 3 updates from stable to unstable emergence; claim 4 "
              "mean per-seed r; claim 5 ratio of geometric means of τ. Effects (v2): claim 1 "
              "probe-contrast rise or FO − PO; claim 2 ring gain (or gain beyond the input's); "
              "claim 3 fraction of seeds where both kinds emerge by learning, stable first; "
              "claim 4 the weakest of its four tests; claim 5 fraction of seeds with a peak.",
              ""]
    if any(c.get("progress_aligned") for c in conditions):
        lines += ["## PO seeds aligned on their own learning progress", "",
                  "At the first analysed checkpoint where each PO seed has gained 10 %, 50 % "
                  "and 90 % of its return gain: the mean update, the geometric-mean τ̄ and the "
                  "fraction of seeds with a location-qualified stable point near the goal "
                  "and unstable point near hanging (goal input, rules v2 gates).", "",
                  "| condition | progress | mean update | τ̄ (steps) | stable near goal | "
                  "unstable near hanging |", "|---|---|---|---|---|---|"]
        for c in conditions:
            for f, d in (c.get("progress_aligned") or {}).items():
                lines.append(f"| {_cond_name(c, multi)} | {f} | {_fmt(d['mean_update'])} | "
                             f"{_fmt(d['tau_gmean'])} | {_fmt(d['frac_stable_goal'])} | "
                             f"{_fmt(d['frac_unstable_hanging'])} |")
        lines.append("")
    lines += ["## Measured, per condition", ""]
    for c in conditions:
        lines += [f"### {_cond_name(c, multi)}", ""]
        for key, label in (("claims", "v1"), ("claims_v2", "v2")):
            lines += [f"- claim {cl['id']} {label} ({_cell(cl).split(':')[0].strip('*')}): "
                      f"{cl['measured']}" for cl in c.get(key, [])]
        lines.append("")
    lines += ["## Time", "", *(f"- {k}: {v:.0f} s" for k, v in timing.items()), "",
              "![atlas](atlas.png)", ""]
    text = "\n".join(lines)
    atomic_write(dest / "report.md", lambda f: f.write(text.encode()))
    return dest


#: Where README.md holds the table `verdict_table` writes (tests/test_readme_tables.py).
README_MARKERS = ("<!-- atlas-table:start -->", "<!-- atlas-table:end -->")


def verdict_table(summary: dict) -> str:
    """The README's claims table from an atlas summary.json: one row per claim, one column
    per condition, each cell the v1 and v2 verdicts with v2's deciding p."""
    conds = summary["conditions"]
    multi = len({c["updates"] for c in conds}) > 1
    texts = conds[0]["claim_texts"]

    def word(cl):
        if cl.get("tested") is False:
            return "not tested"
        return "**holds**" if cl["holds"] else "no"

    lines = ["| claim (rules v1 / v2) | " + " | ".join(_cond_name(c, multi) for c in conds)
             + " |", "|---|" + "---|" * len(conds)]
    for j, cid in enumerate(sorted(texts, key=int)):
        cells = []
        for c in conds:
            v1, v2 = c["claims"][j], (c.get("claims_v2") or [None] * (j + 1))[j]
            cell = word(v1)
            if v2 is not None:
                p = v2.get("p_value")
                cell += f" / {word(v2)}" + (f" (p {_fmt(p, 2)})" if p is not None else "")
            cells.append(cell)
        lines.append(f"| {cid}. {texts[cid]} | " + " | ".join(cells) + " |")
    seeds = summary["seeds"]
    lines.append("")
    lines.append(f"Seeds {seeds[0]}–{seeds[-1]} × {{FO, PO}} per condition; p: the deciding "
                 "test of rules v2 (docs/methods.md §7); generated by `python -m "
                 "experiments.atlas --readme-table` from figures/atlas/summary.json.")
    return "\n".join(lines)


def redraw(args) -> int:
    """atlas.png and report.md again from a written summary.json (e.g. after a figure fix)."""
    from rnnctl.paper import AnalysisOptions
    from rnnctl.runs import RunError, read_json
    dest = Path(args.figures or args.out)
    try:
        saved = read_json(dest / "summary.json")
    except RunError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    seeds = saved["seeds"]
    args.seeds = len(seeds) if isinstance(seeds, list) else seeds
    args.budgets = saved.get("budgets") or [saved["updates"]]
    args.updates = args.budgets[0]
    write_outputs(saved["conditions"], args, saved["timing"],
                  AnalysisOptions.from_dict(saved["analysis_options"]),
                  saved.get("provenance"))       # that of the run that computed it
    print(f"[atlas] redrew {dest / 'atlas.png'} and {dest / 'report.md'}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.readme_table:
        from rnnctl.runs import read_json
        print(verdict_table(read_json(Path(args.figures or args.out) / "summary.json")))
        return 0
    if args.redraw:
        return redraw(args)
    from rnnctl.cli import enable_cache
    if not enable_cache(PROG):
        return 2
    from rnnctl.paper import PipelineError, analyse_run
    from rnnctl.provenance import provenance
    from rnnctl.runs import RunError
    prov = provenance()
    options = analysis_options(args)
    timing: dict[str, float] = {}
    summaries = {}
    t_all = time.perf_counter()
    try:
        for enc, budget, run_dir in condition_runs(args):
            t0 = time.perf_counter()
            print(f"[atlas] training {enc}, {budget} updates: {len(args.inits)} inits × "
                  f"{args.seeds} seeds × FO/PO in one program -> {run_dir}", flush=True)
            train_condition(args, enc, run_dir, budget)
            timing[f"train {run_dir.name} (s)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            print(f"[atlas] analysing {run_dir}", flush=True)
            summaries[run_dir.name] = analyse_run(run_dir, progress=not args.quiet,
                                                  options=options, reuse=True)
            timing[f"analyse {run_dir.name} (s)"] = time.perf_counter() - t0
    except KeyboardInterrupt:
        print("\n[atlas] interrupted; what was saved is kept. Continue with the same command: "
              f"{PROG} " + " ".join(argv), file=sys.stderr)
        return 130
    except (ConfigError, RunError, PipelineError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    timing["total (s)"] = time.perf_counter() - t_all
    conditions = collect(summaries)
    dest = write_outputs(conditions, args, timing, options, prov)
    for c in conditions:
        print(f"[atlas] {c['rnn_init']}, {c['encoding']}, {c['updates']} updates: "
              + "; ".join(f"{v} " + " ".join(
                  f"{cl['id']}:{'-' if cl.get('tested') is False else 'Y' if cl['holds'] else 'n'}"
                  for cl in c[k]) for k, v in (("claims", "v1"), ("claims_v2", "v2"))
                  if c.get(k)))
    print(f"[atlas] wrote {dest / 'atlas.png'}, {dest / 'summary.json'}, {dest / 'report.md'} "
          f"in {timing['total (s)']:.0f} s")
    return 0

