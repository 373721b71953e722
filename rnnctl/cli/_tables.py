"""The sweep's printed tables: learning curves per group and the claims' verdicts (the
command's output; summary.json and report.md hold the same numbers)."""
from __future__ import annotations


def _sd(values) -> float:
    """Sample standard deviation (ddof=1, as summary.json); NaN for fewer than 2 values."""
    import numpy as np
    values = np.asarray(values, np.float64)
    return float(np.std(values, ddof=1)) if values.size > 1 else float("nan")


def summary_table(agents, metrics, config) -> str:
    """Deterministic evaluation return (mean ± sd over seeds, ddof=1) at a few updates,
    per group ("–" for the sd of a single seed)."""
    import numpy as np

    def cell(x):
        sd = _sd(x)
        return f"{np.mean(x):>8.0f} ±" + (f"{sd:>4.0f}" if np.isfinite(sd) else f"{'–':>4}")

    ev = metrics["eval_return"]
    U = ev.shape[1] - 1
    cols = sorted({0, *(u for u in (1, 5, 10, 25, 50, 75) if u < U), U})
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(agents):
        key = a["obs"].upper() + "".join(f" {k}={v:g}" for k, v in a.get("hyper", {}).items()) \
            + (f" {a['rnn_init']}" if "rnn_init" in a else "")
        groups.setdefault(key, []).append(i)
    head = f"{'agents':<28}" + "".join(f"{'u=' + str(u):>14}" for u in cols)
    lines = ["Deterministic return (mean ± sd over seeds, "
             f"{config.eval_episodes} random-start episodes each)", head, "-" * len(head)]
    for key, idx in groups.items():
        cells = "".join(cell(ev[idx, u]) for u in cols)
        lines.append(f"{key + f' (n={len(idx)})':<28}{cells}")
    return "\n".join(lines)


_STAGE_WORDS = {"compile_s": "compile", "train_s": "training", "analysis_s": "analysis",
                "figures_s": "figures", "rollouts_s": "rollouts",
                "fixed_points_s": "fixed points", "fp_tracking_s": "fixed-point tracking",
                "manifold_s": "fixed-point manifold", "timescales_s": "timescales",
                "geometry_s": "geometry", "policy_maps_s": "policy maps",
                "drift_control_s": "drift control", "probe_maps_s": "probe maps",
                "save_analysis_s": "saving", "evaluate_claims_s": "claims",
                "loaded_s": "analysis loaded from analysis.npz",
                "total_analysis_s": "analysis stage in all"}


def _verdict(c: dict) -> str:
    if c.get("tested") is False:
        return "not tested"
    return "HOLDS" if c["holds"] else "does not hold"


def claims_table(summary: dict, trained_here: bool = True) -> str:
    """One line per claim of the paper and setting: its verdict under rules v1 and v2
    (docs/methods.md §6–7), with each deciding test's p and n; then the figures skipped
    and the time line (this process's stages; the run's own training times, when it was
    trained by an earlier process, on a line of their own)."""
    lines = []
    for e in summary.get("settings") or [{"name": "", "claims": summary["claims"],
                                           "claims_v2": summary.get("claims_v2", [])}]:
        lines.append("The paper's claims" + (f" ({e['name']})" if len(
            summary.get("settings") or []) > 1 else "") + ", rules v1 | v2:")
        v2 = e.get("claims_v2") or [None] * len(e["claims"])
        for c, d in zip(e["claims"], v2):
            def pn(x):
                p = x["stats"].get("p_value")
                return f"p {'n/a' if p is None else f'{p:.2g}'}, n {x['stats'].get('n_seeds')}"
            right = (f" | {_verdict(d):<13}" if d else "")
            lines.append(f"  {c['id']}. {_verdict(c):<13}{right}  {c['claim']}  [v1 {pn(c)}"
                         + (f"; v2 {pn(d)}" if d else "") + "]")
    for name, why in (summary.get("skipped_figures") or {}).items():
        lines.append(f"skipped figure {name}: {why}")
    t = summary.get("timing", {})
    training = ("compile_s", "train_s")

    def words(keys):
        return ", ".join(f"{_STAGE_WORDS.get(k, k[:-2].replace('_', ' '))} {t[k]:.1f} s"
                         for k in keys if isinstance(t.get(k), (int, float)))
    if t:
        here = [k for k in t if k.endswith("_s") and k != "env_steps_per_s"
                and (trained_here or k not in training)]
        if t.get("analysis_reused") and "analysis_s" in here:   # loading it, not computing
            here[here.index("analysis_s")] = "loaded_s"
            t = {**t, "loaded_s": t["analysis_s"]}
        lines.append("time: " + words(here))
        if not trained_here and words(training):
            lines.append("the run's training (an earlier process): " + words(training))
    return "\n".join(lines)

