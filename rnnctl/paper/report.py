"""summary.json and report.md of an analysed run: written from the claims and results,
never recomputing anything."""
from __future__ import annotations

import json
import math

import numpy as np

from rnnctl.paper.claims import Claim
from rnnctl.paper.fmt import fmt as _fmt, json_float as _f
from rnnctl.paper.compute import ANALYSIS_STAGES, excluded_agents, nth
from rnnctl.paper.drive import drive_measure, input_drive_summary
from rnnctl.paper.figures import FIGURE_FILES, FIGURES_DIR, representative_agents
from rnnctl.paper.options import AnalysisOptions, ClaimOptions
from rnnctl.paper.results import AnalysisResults

__all__ = ["build_summary", "curves", "write_summary", "write_report", "SUMMARY_FILE",
           "REPORT_FILE",
           "SUMMARY_FORMAT_VERSION"]

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
SUMMARY_FORMAT_VERSION = 3
#: Steps per Pendulum episode (`envs.EPISODE_LEN`; kept here so writing a report does
#: not import gymnax, and checked equal in the tests).
EPISODE_LEN = 200


def _clean(obj):
    """JSON-ready copy: NumPy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def write_summary(summary: dict, path) -> None:
    """Write summary.json atomically, as strict JSON (NaN and inf become null)."""
    from rnnctl.runs import atomic_write
    data = (json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def build_summary(run, results: AnalysisResults, claims: list[Claim], timing: dict,
                  opts: AnalysisOptions, claim_opts: ClaimOptions, *,
                  settings: list[dict] | None = None, degraded: list[dict] | None = None
                  ) -> dict:
    """What summary.json holds, from the run, its analysis and its claims.

    `settings` lists one entry per combination of swept values ({"name", "values",
    "agents", "figures", "claims"[, "claims_with_degraded"]}, claims as `Claim`s); the
    top-level "claims" are those of the only setting of a run without a sweep.
    """
    excluded = set(excluded_agents(run))
    final = np.asarray(run.metrics["eval_return"], np.float64)[:, -1]
    fr = [{"agent": i, "seed": a["seed"], "obs": a["obs"], "eval_return": _f(final[i])}
          for i, a in enumerate(run.agents)]
    means, sds = {}, {}
    for o in ("fo", "po"):
        v = [final[i] for i, a in enumerate(run.agents) if a["obs"] == o and i not in excluded]
        means[o] = _f(np.mean(v)) if v else None
        sds[o] = _f(np.std(v, ddof=1)) if len(v) > 1 else None
    diverged = run.diverged_agents()
    seed, a_po, a_fo = representative_agents(results, run, opts.fig_seed)
    bad = excluded | {int(d["agent"]) for d in (degraded or [])}

    def drive(agents):
        return input_drive_summary(
            results, {o: [i for i in agents if str(results.agent_obs[i]) == o and i not in bad]
                      for o in ("fo", "po")}, claim_opts.ci_level)

    drives = [drive(e["agents"]) for e in (settings or [])]
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "run": str(run.path),
        "config": run.config.to_dict(),
        "agents": [{"agent": i, **a, "diverged": i in excluded} for i, a in enumerate(run.agents)],
        "final_return": fr,
        "final_return_mean": means,
        "final_return_sd": sds,
        "diverged": diverged,
        "excluded_from_claims": sorted(excluded),
        **({"claims": [c.to_dict() for c in claims],
            "claims_v2": [c.to_dict() for c in (settings or [{}])[0].get("claims_v2", [])],
            "input_drive": drives[0] if drives else drive(range(results.n_agents))}
           if not settings or len(settings) == 1 else {}),
        "settings": [{**{k: v for k, v in e.items() if not k.startswith("claims")},
                      "claims": [c.to_dict() for c in e["claims"]],
                      "claims_v2": [c.to_dict() for c in e.get("claims_v2", [])],
                      "input_drive": drives[k],
                      **({"claims_with_degraded": [c.to_dict() for c in
                                                   e["claims_with_degraded"]]}
                         if "claims_with_degraded" in e else {})}
                     for k, e in enumerate(settings or [])],
        "degraded": list(degraded or []),
        "rho_w_h_init": _rho_init(run),
        "figures": {k: f"{(settings or [{}])[0].get('figures', FIGURES_DIR)}/{v}"
                    for k, v in FIGURE_FILES.items()
                    if (k != "manifold" or results.manifold_theta_in.size)
                    and (k != "flow" or np.size(results.stage_flow_speed))
                    and v not in (settings or [{}])[0].get("skipped_figures", {})},
        "skipped_figures": {f"{e['figures']}/{name}": why for e in (settings or [])
                            for name, why in e.get("skipped_figures", {}).items()},
        "figure_agents": {"seed": seed, "po_agent": a_po, "fo_agent": a_fo},
        "stages": results.stages.astype(int).tolist(),
        "curves": curves(run, results),
        "timing": timing,
        "analysis_options": opts.to_dict(),
        "claim_options": claim_opts.to_dict(),
        "analysis_notes": {
            "R_t": f"mean return of the first {opts.return_episodes} of the "
                   f"{opts.map_episodes} deterministic policy-map episodes of each checkpoint "
                   "(the same random starts at every checkpoint)",
            "input_drive": f"the {opts.tau_top} slowest stable modes of the linear system at "
                           "the tracked stable fixed point (goal input) and at every "
                           f"{nth(opts.drive_stride)} of each episode's rollout steps "
                           f"({int(results.drive_steps)} per checkpoint), over the inputs "
                           "the agent observes",
            "timescales": f"every {nth(opts.tau_stride)} of the {opts.episodes * EPISODE_LEN} "
                          f"rollout steps ({int(results.tau_steps)} eigen-decompositions "
                          f"per checkpoint), LAPACK sgeev in {opts.tau_workers} threads",
            "fixed_point_inputs": "goal (θ=0, θ̇=0), zero, and hanging (θ=π, θ̇=0) inputs"
                                  + (" (with the angle encoding the goal input is the zero "
                                     "input)" if run.config.encoding == "angle" else ""),
            "checkpoints": (f"{len(results.updates)} analysed checkpoints: updates "
                            f"0, {opts.checkpoint_stride}, {2 * opts.checkpoint_stride}, ... "
                            "plus the last and the figure stages"
                            if opts.checkpoint_stride > 1 else "every update"),
        },
    }


def curves(run, results: AnalysisResults) -> dict:
    """Per-update curves per agent (so that a reader can check any verdict without the
    run directory): {"updates": [C], "agents": [{seed, obs, series: [C] each}]}.

    Series: eval_return (the trainer's, at the analysed updates), return_R, ring,
    ring_input, ring_drift, ring_closure, sharpness, boundary_contrast, probe_contrast, probe_near_zero, tau_avg
    with tau_ci_low/high (its interval over steps), saturation, tau_unstable_frac, the
    input drive's alignment of the slowest mode at the tracked point and along the
    rollouts (drive_fp_aligned_slowest, drive_traj_aligned_slowest), and
    per fixed-point input the counts of stable and unstable points (n_stable_<input>,
    n_unstable_<input>).
    """
    u = results.updates.astype(int)
    ev = run.metrics.get("eval_return")
    ev = None if ev is None else np.asarray(ev, np.float64)[:, u]
    names = [str(n) for n in results.fp_inputs.tolist()]
    valid, stable = np.asarray(results.fp_valid, bool), np.asarray(results.fp_stable, bool)
    series = ("return_R", "ring", "ring_input", "ring_drift", "ring_closure", "sharpness", "boundary_contrast",
              "probe_contrast", "probe_near_zero", "tau_avg", "saturation",
              "tau_unstable_frac")
    agents = []
    for i in range(results.n_agents):
        row = {"agent": i, "seed": int(results.agent_seed[i]),
               "obs": str(results.agent_obs[i])}
        if ev is not None:
            row["eval_return"] = [_f(v, 5) for v in ev[i]]
        for k in series:
            row[k] = [_f(v, 5) for v in np.asarray(getattr(results, k))[i]]
        ci = np.asarray(results.tau_avg_ci)[i]
        row["tau_ci_low"] = [_f(v, 5) for v in ci[:, 0]]
        row["tau_ci_high"] = [_f(v, 5) for v in ci[:, 1]]
        for name in ("fp_aligned_slowest", "traj_aligned_slowest"):
            row[f"drive_{name}"] = [_f(v, 5) for v in drive_measure(results, name)[i]]
        for x, n in enumerate(names):
            row[f"n_stable_{n}"] = stable[i, :, x].sum(-1).astype(int).tolist()
            row[f"n_unstable_{n}"] = (valid[i, :, x] & ~stable[i, :, x]).sum(-1).astype(int).tolist()
        agents.append(row)
    return {"updates": u.tolist(), "agents": agents}


def _rho_init(run) -> list:
    """Spectral radius of W_h at initialisation, per agent (None for gated cells, whose
    W_h stacks one block per gate)."""
    w = np.asarray(run.stacked_params()["rnn"]["W_h"][:, 0], np.float64)
    if w.shape[-2] != w.shape[-1]:
        return [None] * len(w)
    return [float(np.abs(np.linalg.eigvals(m)).max()) for m in w]


def _verdict(c: dict) -> str:
    """"holds", "does not hold" or "not tested" (with the reason in `measured`)."""
    if c.get("tested") is False or (c.get("stats") or {}).get("tested") is False:
        return "not tested"
    return "holds" if c["holds"] else "does not hold"


def _figure_agent(s: dict) -> str:
    fa = s.get("figure_agents") or {}
    obs = "PO" if fa.get("po_agent") is not None else "FO"
    return f"{obs} seed {fa.get('seed')}"


_DRIVE_NAMES = {"fp_aligned_slowest": "alignment of the slowest mode at the tracked point",
                "fp_aligned_top": "mean alignment of the {k} slowest modes at the point",
                "traj_aligned_slowest": "alignment of the slowest mode along the rollouts",
                "traj_aligned_top": "mean alignment of the {k} slowest modes along the rollouts",
                "fp_drive_slowest": "raw drive of the slowest mode at the point (geometric mean)",
                "traj_drive_slowest": "raw drive of the slowest mode along the rollouts "
                                      "(geometric mean)",
                "fp_tau_slowest": "τ of the slowest mode at the point (steps, geometric mean)"}


def _drive_section(s: dict) -> list[str]:
    """report.md's input-drive paragraph and table, from summary["input_drive"]."""
    d = s.get("input_drive")
    if not d or not d.get("settings"):
        return []
    u0, u1 = d["updates"]
    k = d["top"]
    pct = f"{100 * d['confidence']:g}%"

    def centre(x):
        v = x.get("mean", x.get("gmean"))
        return f"{_fmt(v)} [{_fmt(x['ci'][0])}, {_fmt(x['ci'][1])}]"

    def change(t):
        ci = t.get("ci") or [None, None]
        return (f"{_fmt(t.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}], p "
                f"{_fmt(t.get('p_value'))}")

    def moved(t):
        ci, ref = t.get("ci") or [None, None], 1.0 if "ratio" in t["effect_name"] else 0.0
        if ci[0] is None or ci[1] is None:
            return "cannot be decided (too few seeds)"
        return ("rises" if ci[0] > ref else "falls" if ci[1] < ref
                else f"does not change detectably (the {pct} CI includes {ref:g})")

    sets = [o for o in ("fo", "po") if o in d["settings"]]
    a = "fp_aligned_slowest"
    said = "; ".join(
        f"for {o.upper()} it {moved(d['settings'][o][a]['change'])}, from "
        f"{centre(d['settings'][o][a]['first'])} at update {u0} to "
        f"{centre(d['settings'][o][a]['last'])} at update {u1}" for o in sets)
    t = "traj_aligned_slowest"
    said_t = "; ".join(
        f"{o.upper()} {centre(d['settings'][o][t]['first'])} → "
        f"{centre(d['settings'][o][t]['last'])}, {moved(d['settings'][o][t]['change'])}"
        for o in sets)
    fvp = d.get("fo_vs_po_last") or {}
    lines = ["## Beyond the paper: does training align the slow modes with the input?", "",
             f"At the stable fixed point that Fig 1d tracks (goal input) and along the "
             f"rollouts ({d['steps']} steps per checkpoint), the cell's linear system gives "
             f"each slow mode i its input drive ‖l_iᵀ J‖ (J: ∂F/∂x over the inputs the agent "
             f"observes; l_i: left eigenvector, l_iᵀ r_i = 1) and its alignment "
             f"‖l_iᵀ J‖ / (‖l_i‖ ‖J‖₂) ∈ [0, 1] (1: the mode reads the input's strongest "
             f"direction). Means over seeds with {pct} intervals; changes are paired "
             f"per-seed t-tests (two-sided), update {u0} vs {u1}. At the tracked point the "
             f"slowest mode's alignment: {said}. Along the rollouts: {said_t}."]
    if a in fvp:
        lines[-1] += (f" FO − PO at update {u1} (pairs of the same seed): "
                      f"{change(fvp[a])} at the point, "
                      f"{change(fvp.get(t, {}))} along the rollouts.")
    lines += ["", f"| measure | setting | update {u0} | update {u1} | change (difference; ratio "
              "for geometric means) [CI], p | n |",
              "|---|---|---|---|---|---|"]
    for name, label in _DRIVE_NAMES.items():
        for o in sets:
            r = d["settings"][o].get(name)
            if r is None:
                continue
            lines.append(f"| {label.format(k=k)} | {o.upper()} | {centre(r['first'])} | "
                         f"{centre(r['last'])} | {change(r['change'])} | "
                         f"{r['change'].get('n_seeds')} |")
    fig = (s.get("figures") or {}).get("input_drive")
    if fig:
        lines += ["", f"Figure: [{fig}]({fig})", "", f"![input drive]({fig})"]
    return lines + [""]


def write_report(summary: dict, path) -> None:
    """report.md for a person, from summary.json's content alone (written atomically)."""
    from rnnctl.runs import atomic_write
    s = _clean(summary)
    cfg = s["config"]
    t = s["timing"]
    fm, fsd = s["final_return_mean"], s.get("final_return_sd", {})
    n = {o: sum(1 for a in s["agents"] if a["obs"] == o) for o in ("fo", "po")}
    opts = s["analysis_options"]
    lines = [
        "# rnnctl analysis report",
        "",
        f"Run: `{s['run']}`",
        "",
        "## Run",
        "",
        f"- {len(s['agents'])} agents: {n['fo']} FO, {n['po']} PO (seeds "
        f"{sorted({a['seed'] for a in s['agents']})}); vanilla RNN, {cfg['hidden']} units, "
        f"input encoding `{cfg['encoding']}`",
        f"- recurrent PPO: {cfg['n_updates']} updates × {cfg['n_envs'] * cfg['rollout_len']} "
        f"environment steps per agent; lr {cfg['lr']}, γ {cfg['gamma']}, λ "
        f"{cfg['gae_lambda']}, {cfg['n_epochs']} epochs × {cfg['n_minibatches']} minibatches",
        f"- final deterministic return (eval, {cfg['eval_episodes']} episodes, update "
        f"{cfg['n_updates']}): "
        f"FO {_fmt(fm.get('fo'), 4)} ± {_fmt(fsd.get('fo'), 3)}, PO {_fmt(fm.get('po'), 4)} "
        f"± {_fmt(fsd.get('po'), 3)} (mean ± sd over seeds)",
        "- diverged agents: " + (", ".join(f"agent {d['agent']} (seed {d['seed']}, "
                                            f"{d['obs']}, update {d['update']})"
                                            for d in s["diverged"])
                                  + " — left out of every claim" if s["diverged"] else "none"),
        "",
        f"![learning curves]({s['figures']['learning_curves']})",
        "",
        "## Timing",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    stages = [(f"{k}_s", f"analysis: {k.replace('_', ' ')}") for k in ANALYSIS_STAGES]
    computed = t.get("computed") if t.get("analysis_reused") else None
    if computed:     # the loaded analysis.npz recorded what computing it took
        t = {**t, **{k: computed[k] for k, _ in stages if k in computed}}
        if "compute_analysis_s" in computed:
            t["computed_s"] = computed["compute_analysis_s"]
    rows = [("compile_s", "training: compile"), ("train_s", "training: updates"), *stages,
            ("computed_s", "analysis when computed: all of the above (compile included)"),
            ("analysis_s", "analysis: all of the above (compile included)" if not computed
             else "analysis: loading analysis.npz"),
            ("figures_s", "figures"),
            ("total_analysis_s", "analysis stage total (compute, save, claims, figures)")]
    for key, label in rows:
        if isinstance(t.get(key), (int, float)):
            lines.append(f"| {label} | {t[key]:.1f} |")
    if isinstance(t.get("timescales_s"), (int, float)):
        lines.append("\nThe timescales' eigen-decompositions run on host threads while the "
                     "device computes the next stages (fixed points above all); their row is "
                     "the time spent waiting for them after that work.")
    if t.get("analysis_reused"):
        lines.append("\nThe analysis was loaded from analysis.npz (reuse), not recomputed"
                     + ("; the analysis rows are the times of the computation that wrote it."
                        if computed else "."))
    if t.get("env_steps_per_s") is not None:
        lines.append(f"\nTraining throughput: {t['env_steps_per_s']:,.0f} environment steps "
                     "per second.")
    lines += [
        "",
        "## Analysis settings",
        "",
        f"- {opts['episodes']} deterministic episodes ({opts['episodes'] * EPISODE_LEN} steps) per "
        f"checkpoint, the same random starts for every agent and checkpoint",
        f"- fixed points at the {s['analysis_notes']['fixed_point_inputs']}: "
        f"{opts['fp_init']} initial states "
        f"(visited states + noise {opts['fp_noise']}), {opts['fp_opt_steps']} Adam steps, "
        f"{opts['fp_newton_steps']} Newton steps, q < {opts['fp_tol_q']:g}",
        f"- timescales: {s['analysis_notes']['timescales']} (tau_stride "
        f"{opts['tau_stride']}; 1 = all steps, the paper's estimator)",
        f"- policy maps: {opts['map_episodes']} episodes per checkpoint, "
        f"{opts['map_bins']}×{opts['map_bins']} bins; R_t = "
        f"{s['analysis_notes']['R_t']}",
        f"- figures show seed {s['figure_agents']['seed']}; stages (updates) "
        f"{s['stages']}",
        "",
        f"- analysed checkpoints: {s['analysis_notes'].get('checkpoints', 'every update')}",
        "",
    ]
    if s.get("degraded"):
        lines += ["Agents that ended clearly worse than their initial weights (final return "
                  "below the update-0 return by more than the seeds' spread of update-0 "
                  "returns): " + ", ".join(f"agent {d['agent']} (seed {d['seed']}, {d['obs']}"
                                          + (f", {d['setting']}" if d["setting"] else "")
                                          + f": {d['initial_return']:.0f} → "
                                            f"{d['final_return']:.0f})"
                                          for d in s["degraded"])
                  + ". The claims below leave them out; `summary.json` also gives the claims "
                    "with them (`claims_with_degraded`).", ""]
    settings = s.get("settings") or [{"name": "all agents", "claims": s["claims"],
                                      "figures": "figures"}]
    lines += ["## The paper's claims", "",
              "Each claim is decided by the fixed rule stated with it (chosen before looking "
              "at any run), from per-seed statistics; diverged agents are left out. Five "
              "seeds are a quick look: the atlas (≥ 20 seeds per condition) is the verdict.",
              ""]
    if len(settings) > 1:
        lines += ["| # | claim | " + " | ".join(e["name"] for e in settings) + " |",
                  "|---|---|" + "---|" * len(settings)]
        for j, c in enumerate(settings[0]["claims"]):
            lines.append(f"| {c['id']} | {c['claim']} | " + " | ".join(
                _verdict(e["claims"][j]) for e in settings)
                + " |")
        lines.append("")
    for e in settings:
        if len(settings) > 1:
            lines += [f"## Setting: {e['name']} (agents {e['agents']})", ""]
        lines += ["| # | claim | verdict | deciding test: effect [CI], p, n seeds |",
                  "|---|---|---|---|"]
        for c in e["claims"]:
            st = c["stats"]
            ci = st.get("ci") or [None, None]
            lines.append(f"| {c['id']} | {c['claim']} | "
                         f"{_verdict(c)} | "
                         f"{_fmt(st.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}], p "
                         f"{_fmt(st.get('p_value'))}, n {st.get('n_seeds')} |")
        lines.append("")
        for c in e["claims"]:
            verdict = f"**{_verdict(c)}**"
            fig = c["figure"].replace("figures/", e["figures"] + "/", 1)
            lines += [f"### Claim {c['id']}", "", f"**Paper:** {c['claim']}", "",
                      f"**Rule:** {c['rule']}", "", f"**Measured:** {c['measured']}.", "",
                      *([] if _verdict(c) == "not tested" else [
                      f"**Statistic:** {c['stats'].get('test')} — {c['stats'].get('effect_name')}"
                      f" {_fmt(c['stats'].get('effect'))}, CI [{_fmt((c['stats'].get('ci') or [None])[0])}"
                      f", {_fmt((c['stats'].get('ci') or [None, None])[1])}], p "
                      f"{_fmt(c['stats'].get('p_value'))}, n {c['stats'].get('n_seeds')}.", ""]),
                      f"**Verdict:** {verdict}. Figure: [{fig}]({fig})", "",
                      f"![claim {c['id']}]({fig})", ""]
    for e in settings:
        v2 = e.get("claims_v2") or []
        if not v2:
            continue
        lines += [f"## Rules v2{'' if len(settings) == 1 else ': ' + e['name']}", "",
                  "The same claims under rules v2 (docs/methods.md §7): readings closer to "
                  "the paper's text and figures, each shown to fail under null models. "
                  "Rules v1 above stay computed beside them.", "",
                  "| # | v1 | v2 | v2 deciding test: effect [CI], p, n seeds |",
                  "|---|---|---|---|"]
        for c1, c in zip(e["claims"], v2):
            st = c["stats"]
            ci = st.get("ci") or [None, None]
            lines.append(f"| {c['id']} | {_verdict(c1)} | {_verdict(c)} | "
                         f"{_fmt(st.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}], p "
                         f"{_fmt(st.get('p_value'))}, n {st.get('n_seeds')} |")
        lines.append("")
        for c in v2:
            lines += [f"### Claim {c['id']} (v2): {_verdict(c)}", "", f"**Rule:** {c['rule']}",
                      "", f"**Measured:** {c['measured']}.", ""]
    if s.get("skipped_figures"):
        lines += ["## Figures not drawn", ""] + [f"- `{name}`: {why}" for name, why in
                                                 s["skipped_figures"].items()] + [""]
    lines += _drive_section(s)
    if "flow" in s["figures"]:
        fig = s["figures"]["flow"]
        q = s["analysis_options"].get("slow_q_max")
        lines += ["## Beyond the paper: flow fields, fixed points and slow points", "",
                  f"The figure agent's ({_figure_agent(s)}) flow F(h) − h at the goal input on "
                  "each stage's plane of the top-2 principal components through the mean "
                  "visited state, coloured by log10 of the speed q = ½‖F(h) − h‖² (of the "
                  "full state), with its trajectories, its fixed points at the goal input "
                  f"(filled: stable, hollow: unstable) and its slow points (q ≤ {q:g}; "
                  "local minima of q that are not fixed points) projected onto the plane. "
                  f"Figure: [{fig}]({fig})", "", f"![flow fields]({fig})", ""]
    if "manifold" in s["figures"]:
        fig = s["figures"]["manifold"]
        lines += ["## Beyond the paper: the fixed-point manifold", "",
                  "Fixed points at constant inputs θ_in on a ring, at the figure stages "
                  "(x: θ_in; y: the θ each fixed point represents; filled: stable, hollow: "
                  f"unstable). Figure: [{fig}]({fig})", "", f"![manifold]({fig})", ""]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
