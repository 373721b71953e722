"""The entry point of the paper's analysis: a saved run → analysis.npz, figures,
summary.json and report.md in its directory.

    from rnnctl.paper import analyse_run, QUICK_OPTIONS
    summary = analyse_run("runs/ref")                          # full analysis (docs/methods.md §4)
    summary = analyse_run("runs/tiny", options=QUICK_OPTIONS)  # a fast smoke test

Stages (each timed; progress on stderr unless `progress=False`):

1. `compute.compute_analysis(run)` → `AnalysisResults`;
2. analysis.npz is written (atomically) before anything else can fail, so figures and
   claims can be redone from it (`analyse_run(..., reuse=True)`) without recomputing;
3. `claims.evaluate_claims` → the paper's five claims, each decided by a fixed rule;
4. `figures.draw_figures` → figures/*.png;
5. summary.json (strict JSON: NaN is written as null) and report.md.

A stage that fails raises `PipelineError` naming the stage and, where known, the agent and
checkpoint; files written by earlier stages stay.
"""
from __future__ import annotations

import json
import shutil
import time

import numpy as np
from pathlib import Path

from rnnctl.paper.claims import ClaimContext, evaluate_claims
from rnnctl.paper.claims_v2 import evaluate_claims_v2, progress_points
from rnnctl.paper.compute import (ANALYSIS_STAGES, checkpoints_digest, compute_analysis,
                                  excluded_agents)
from rnnctl.paper.figures import FIGURE_FILES, FIGURES_DIR, draw_figures, skipped_figures
from rnnctl.paper.options import (DEFAULT_CLAIM_OPTIONS, DEFAULT_OPTIONS, AnalysisOptions,
                                  ClaimOptions)
from rnnctl.paper.report import (REPORT_FILE, SUMMARY_FILE, _clean, build_summary,
                                 write_report, write_summary)
from rnnctl.paper.results import ANALYSIS_FILE, AnalysisResults, analysis_timing, load_analysis

#: Per-agent results of an analysis in progress (removed once analysis.npz is written).
PARTS_DIR = "analysis_parts"
from rnnctl.paper.stage import PipelineError, stage

__all__ = ["analyse_run", "claim_context", "settings_of", "degraded_agents", "last_options"]


def settings_of(run) -> list[tuple[dict, list[int]]]:
    """The run's settings: one per combination of swept values (hyperparameters, rnn_init),
    as ({name: value}, [agent indices]) in the order of first appearance. A run without a
    sweep has one setting, ({}, all agents)."""
    out: dict[tuple, tuple[dict, list[int]]] = {}
    for i, a in enumerate(run.agents):
        values = dict(a.get("hyper", {}))
        if "rnn_init" in a:
            values["rnn_init"] = a["rnn_init"]
        key = tuple(sorted(values.items()))
        out.setdefault(key, (values, []))[1].append(i)
    return list(out.values())


def setting_label(values: dict) -> str:
    """"lr=0.003 rnn_init=normal" (empty for the single setting of a run without a sweep)."""
    return " ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                    for k, v in values.items())


def degraded_agents(run, settings=None) -> list[dict]:
    """Agents that end clearly worse than their own initial weights, without NaN.

    Rule: the final deterministic return is below the update-0 return by more than the
    spread of update-0 returns over the seeds of the agent's group (setting × obs; sd,
    ddof 1). Such an agent learned nothing usable (e.g. a learning rate far too high) and
    is reported, and the claims are given with and without it.
    """
    ev = np.asarray(run.metrics["eval_return"], np.float64)
    out = []
    for values, idx in (settings or settings_of(run)):
        for obs in ("fo", "po"):
            group = [i for i in idx if run.agents[i]["obs"] == obs]
            init = ev[group, 0]
            spread = float(np.nanstd(init, ddof=1)) if np.isfinite(init).sum() > 1 else 0.0
            for i in group:
                if np.isfinite(ev[i, -1]) and ev[i, -1] < ev[i, 0] - spread:
                    a = run.agents[i]
                    out.append({"agent": i, "seed": a["seed"], "obs": a["obs"],
                                "setting": setting_label(values),
                                "initial_return": float(ev[i, 0]),
                                "final_return": float(ev[i, -1]), "seed_spread": spread})
    return out


def claim_context(results: AnalysisResults, run, options: AnalysisOptions,
                  claim_options: ClaimOptions = DEFAULT_CLAIM_OPTIONS,
                  agents=None, exclude=()) -> ClaimContext:
    """The `ClaimContext` of a run's analysis: diverged agents and `exclude` left out,
    restricted to `agents` (one setting) when given."""
    from rnnctl import envs
    ev = run.metrics.get("eval_return")
    return ClaimContext(
        results=results, eval_return=None if ev is None else ev,
        encoding=run.config.encoding,
        excluded=frozenset(excluded_agents(run)) | frozenset(int(i) for i in exclude),
        agents=None if agents is None else tuple(agents), options=claim_options,
        return_episodes=options.return_episodes, tau_top=options.tau_top,
        max_torque=float(envs.get_task(run.config).env_params.max_torque))


def last_options(run_dir) -> AnalysisOptions | None:
    """The options of the run's last analysis: those of its summary.json, else those an
    interrupted analysis saved with its per-agent parts; None if it was never analysed
    (or they cannot be read)."""
    from rnnctl.runs import read_json, read_npz
    run_dir = Path(run_dir)
    try:
        if (run_dir / SUMMARY_FILE).is_file():
            return AnalysisOptions.from_dict(read_json(run_dir / SUMMARY_FILE)
                                             ["analysis_options"])
        for part in sorted((run_dir / PARTS_DIR).glob("agent_*.npz")):
            tag = json.loads(str(read_npz(part)["__tag__"]))
            return AnalysisOptions.from_dict(tag["options"])
    except Exception:            # unreadable: the caller falls back to its defaults
        return None
    return None


def analyse_run(run_dir, *, progress: bool = True, options: AnalysisOptions | None = None,
                reuse: bool = False, claim_options: ClaimOptions | None = None,
                redraw: bool = False) -> dict:
    """Analyse a saved run: analysis.npz, figures/*.png, summary.json and report.md in it.

    Args:
      run_dir: a complete run directory (`runs.save_run`, `experiment.train_to_dir`).
      progress: progress lines on stderr.
      options: `AnalysisOptions` (default `DEFAULT_OPTIONS`; `QUICK_OPTIONS` for a smoke
        test).
      reuse: if the run directory already holds an analysis.npz made with the same options
        from the same checkpoints, load it instead of recomputing (e.g. after a figure
        failed); otherwise compute as usual.
      redraw: never compute: claims, figures, summary.json and report.md from the run's
        analysis.npz, with the options it was made with (`options` is ignored).
    Returns:
      The summary (what summary.json holds).
    Raises:
      PipelineError: a stage failed (its message names the stage, and the agent and
        checkpoint where known); files of earlier stages are kept.
      runs.RunError: `run_dir` is not a complete run, or (`redraw`) has no intact
        analysis.npz of its checkpoints; `runs.RunLocked`: another process is writing it.
      OSError: a file could not be written (read-only, disk full); what was saved is kept.
      KeyboardInterrupt: Ctrl-C; the agents analysed so far are kept in analysis_parts/.
    """
    from rnnctl.runs import lock_run, read_run_meta
    read_run_meta(run_dir)           # a complete run, checked before the lock writes
    with lock_run(run_dir):
        return _analyse_locked(run_dir, progress=progress, options=options, reuse=reuse,
                               claim_options=claim_options, redraw=redraw)


def _redraw_source(run_dir: Path, run) -> AnalysisResults:
    """The run's analysis.npz for a redraw, checked to be of the run's checkpoints."""
    from rnnctl.runs import RunError
    again = "analyse it first (--analysis-only)"
    if not (run_dir / ANALYSIS_FILE).is_file():
        raise RunError(f"{run_dir / ANALYSIS_FILE}: not found; {again}", run_dir)
    try:
        results = load_analysis(run_dir)
    except Exception as e:
        raise RunError(f"{run_dir / ANALYSIS_FILE}: cannot be read ({e}); {again}",
                       run_dir) from None
    if str(results.checkpoints_sha256) != checkpoints_digest(run):
        raise RunError(f"{run_dir / ANALYSIS_FILE} was made from other checkpoints than the "
                       f"run's; {again}", run_dir)
    return results


def _analyse_locked(run_dir, *, progress, options, reuse, claim_options, redraw=False
                    ) -> dict:
    """`analyse_run` with the run directory locked."""
    from rnnctl.progress import Log
    from rnnctl.provenance import provenance
    from rnnctl.runs import load_run

    prov = provenance()         # this analysis's commit, versions, machine and load
    log = progress if callable(progress) else Log(progress)
    run_dir = Path(run_dir)
    timings: dict[str, float] = {}
    kept: list[str] = []
    opts = (options or DEFAULT_OPTIONS).validate().resolved()
    claim_opts = (claim_options or DEFAULT_CLAIM_OPTIONS).validate()

    def guard(name):
        return stage(name, timings, log)

    try:
        with guard("load"):
            run = load_run(run_dir)
        results = None
        if redraw:              # a missing or stale analysis.npz is the caller's input error
            t0 = time.perf_counter()
            results = _redraw_source(run_dir, run)
            opts = AnalysisOptions.from_dict(json.loads(str(results.options_json)))
            timings["load_analysis"] = time.perf_counter() - t0
        elif reuse and (run_dir / ANALYSIS_FILE).is_file():
            with guard("load_analysis"):
                try:
                    old = load_analysis(run_dir)
                    same = (str(old.options_json) == json.dumps(opts.to_dict(), sort_keys=True)
                            and str(old.checkpoints_sha256) == checkpoints_digest(run))
                except Exception:
                    same = False
                if same:
                    results = old
                    log(f"reusing {run_dir / ANALYSIS_FILE}")
        if results is None:
            sub: dict[str, float] = {}
            t0 = time.perf_counter()
            with guard("compute_analysis"):
                results = compute_analysis(run, opts, progress=log, timings=sub,
                                           parts_dir=run_dir / PARTS_DIR)
            timings.update({f"{k}": v for k, v in sub.items()})
            timings["compute_analysis"] = time.perf_counter() - t0
            with guard("save_analysis"):
                results.save(run_dir / ANALYSIS_FILE,
                             timing={**sub, "compute_analysis": timings["compute_analysis"]})
                shutil.rmtree(run_dir / PARTS_DIR, ignore_errors=True)
            kept.append(ANALYSIS_FILE)
        else:
            kept.append(ANALYSIS_FILE)

        with guard("evaluate_claims"):
            settings = settings_of(run)
            degraded = degraded_agents(run, settings)
            bad = [d["agent"] for d in degraded]
            per_setting, shown = [], []
            for k, (values, idx) in enumerate(settings):
                ctx = claim_context(results, run, opts, claim_opts, agents=idx, exclude=bad)
                shown.append([i for i in idx if i not in bad] or idx)   # in its figures
                entry = {"name": setting_label(values) or "all agents", "values": values,
                         "agents": idx,
                         "skipped_figures": {FIGURE_FILES[key]: why for key, why in
                                             skipped_figures(results, run, shown[-1]).items()},
                         "figures": FIGURES_DIR if len(settings) == 1
                         else f"{FIGURES_DIR}/setting_{k}",
                         "claims": evaluate_claims(ctx), "claims_v2": evaluate_claims_v2(ctx),
                         "progress_aligned": progress_points(results, ctx.group("po"),
                                                             options=claim_opts)}
                if any(i in idx for i in bad):
                    entry["claims_with_degraded"] = evaluate_claims(claim_context(
                        results, run, opts, claim_opts, agents=idx))
                per_setting.append(entry)
            claims = per_setting[0]["claims"]

        def timing_block(figures_s):
            info = run.info.get("timing", {}) or {}
            block = {"compile_s": info.get("compile_s"), "train_s": info.get("train_s"),
                     "env_steps_per_s": info.get("env_steps_per_s"),
                     "analysis_s": timings.get("compute_analysis",
                                               timings.get("load_analysis")),
                     "analysis_reused": "compute_analysis" not in timings,
                     "figures_s": figures_s}
            if block["analysis_reused"]:   # what computing the loaded analysis.npz took
                computed = analysis_timing(run_dir / ANALYSIS_FILE)
                if computed:
                    block["computed"] = {f"{k}_s": v for k, v in computed.items()}
            for k in (*ANALYSIS_STAGES, "save_analysis", "evaluate_claims"):
                if k in timings:
                    block[f"{k}_s"] = timings[k]
            return block

        with guard("write_summary"):
            summary = build_summary(run, results, claims, timing_block(None), opts, claim_opts,
                                    settings=per_setting, degraded=degraded)
            summary["provenance"] = prov
            write_summary(summary, run_dir / SUMMARY_FILE)
        kept.append(SUMMARY_FILE)

        t0 = time.perf_counter()
        fig_t: dict[str, float] = {}
        for entry, agents in zip(per_setting, shown):
            for name, why in entry["skipped_figures"].items():
                log(f"skipped {entry['figures']}/{name}: {why}")
            draw_figures(results, run, run_dir / entry["figures"], options=opts, progress=log,
                         timings=fig_t, claim_options=claim_opts,
                         agents=agents)
        figures_s = time.perf_counter() - t0
        kept.append(f"{FIGURES_DIR}/")

        with guard("write_report"):
            summary["timing"] = timing_block(figures_s)
            summary["timing"]["total_analysis_s"] = sum(
                v for k, v in timings.items()
                if k in ("load", "load_analysis", "compute_analysis", "save_analysis",
                         "evaluate_claims", "write_summary")) + figures_s
            write_summary(summary, run_dir / SUMMARY_FILE)
            write_report(summary, run_dir / REPORT_FILE)
    except PipelineError as e:
        e.kept = list(kept)
        if kept:
            e.args = (f"{e.args[0]} [kept in {run_dir}: {', '.join(kept)}]",)
        raise
    log("done: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()
                             if k in ("compute_analysis", "load_analysis", "evaluate_claims"))
        + f", figures {figures_s:.1f}s; wrote {run_dir / SUMMARY_FILE}, "
          f"{run_dir / REPORT_FILE}")
    return _clean(summary)
