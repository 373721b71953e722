"""The input drive of the slowest modes over training, summarised across seeds (summary.json,
report.md and the figure read it; docs/methods.md §4, "Input drive").

Measures (each [A, C], one value per agent and analysed checkpoint) from the `drive_*`
fields of `AnalysisResults`: at the tracked stable fixed point ("fp") and along the rollouts
("traj"), the normalised alignment of the slowest stable mode and the mean over the k
slowest, and the raw drive of the slowest mode (and, at the point, its τ).
"""
from __future__ import annotations

import numpy as np

from rnnctl.analysis.stats import geometric_mean_ci, mean_ci, paired_test
from rnnctl.paper.measures import end_positions, nanmean

__all__ = ["DRIVE_MEASURES", "drive_measure", "drive_curve", "input_drive_summary"]

#: name: (field of AnalysisResults, mode: 0 = the slowest, None = mean over the k slowest,
#: positive and heavy-tailed: summarised on log values)
DRIVE_MEASURES = {
    "fp_aligned_slowest": ("drive_fp_aligned", 0, False),
    "fp_aligned_top": ("drive_fp_aligned", None, False),
    "fp_drive_slowest": ("drive_fp", 0, True),
    "fp_tau_slowest": ("drive_fp_tau", 0, True),
    "traj_aligned_slowest": ("drive_traj_aligned", 0, False),
    "traj_aligned_top": ("drive_traj_aligned", None, False),
    "traj_drive_slowest": ("drive_traj", 0, True),
}


def drive_measure(results, name: str) -> np.ndarray:
    """[A, C] one of `DRIVE_MEASURES` (NaN: no tracked point, or not computed)."""
    field, mode, _ = DRIVE_MEASURES[name]
    v = np.asarray(getattr(results, field), np.float64)
    if v.size == 0:
        return np.full(np.shape(results.usable), np.nan)
    return v[..., 0] if mode == 0 else nanmean(v, axis=-1)


def drive_curve(results, name: str, idx: list[int], confidence: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, low, high) [C] of a measure across agents `idx`: mean with a Student-t
    interval, or for a log measure the geometric mean with a bootstrap interval."""
    v = drive_measure(results, name)[idx]
    if DRIVE_MEASURES[name][2]:
        v = np.where(v > 0, v, np.nan)
        g = geometric_mean_ci(v, confidence=confidence)
        return np.asarray(g.gmean), np.asarray(g.low), np.asarray(g.high)
    m = mean_ci(v, confidence)
    return np.asarray(m.mean), np.asarray(m.low), np.asarray(m.high)


def _at(results, name: str, idx: list[int], c: int, confidence: float) -> dict:
    v = drive_measure(results, name)[idx, c]
    if DRIVE_MEASURES[name][2]:
        v = v[np.isfinite(v) & (v > 0)]
        if v.size < 2:
            return {"gmean": float(np.exp(np.mean(np.log(v)))) if v.size else None,
                    "ci": [None, None], "n": int(v.size)}
        g = geometric_mean_ci(v, confidence=confidence)
        return {"gmean": float(g.gmean), "ci": [float(g.low), float(g.high)], "n": int(v.size)}
    m = mean_ci(v, confidence)
    return {"mean": m.mean, "ci": [m.low, m.high], "n": m.n}


def input_drive_summary(results, groups: dict[str, list[int]], confidence: float = 0.95
                        ) -> dict:
    """Input drive at the first and the last analysed checkpoint, per setting, with the
    change over training and FO − PO at the end (paired by seed), for summary.json.

    Args:
      results: `AnalysisResults`.
      groups: {"fo": agents, "po": agents} (non-excluded agents of each setting).
      confidence: coverage of every interval.
    Returns:
      {"updates": [first, last], "top": k, "steps": drive_steps, "settings": {setting:
      {measure: {"first", "last": mean (or gmean) with "ci" and "n", "change": paired
      test last vs first (two-sided; log measures: ratio of geometric means)}}},
      "fo_vs_po_last": {measure: paired test PO → FO at the last checkpoint}}; empty
      "settings" when the run has no drive fields.
    """
    c0, cf = end_positions(results)
    u = np.asarray(results.updates).astype(int)
    out = {"updates": [int(u[c0]), int(u[cf])],
           "top": int(np.shape(results.drive_fp)[-1]) if np.size(results.drive_fp) else 0,
           "steps": int(np.asarray(results.drive_steps)), "confidence": confidence,
           "settings": {}, "fo_vs_po_last": {}}
    if not np.size(results.drive_fp):
        return out
    for o, idx in groups.items():
        if not idx:
            continue
        rows = {}
        for name, (_, _, log) in DRIVE_MEASURES.items():
            v = drive_measure(results, name)[idx]
            rows[name] = {"first": _at(results, name, idx, c0, confidence),
                          "last": _at(results, name, idx, cf, confidence),
                          "change": paired_test(v[:, c0], v[:, cf], log=log,
                                                alternative="two-sided",
                                                confidence=confidence).to_dict()}
        out["settings"][o] = rows
    seeds = results.agent_seed
    po = {int(seeds[i]): i for i in groups.get("po", [])}
    fo = [i for i in groups.get("fo", []) if int(seeds[i]) in po]
    po = [po[int(seeds[i])] for i in fo]
    if fo:
        for name, (_, _, log) in DRIVE_MEASURES.items():
            v = drive_measure(results, name)
            t = paired_test(v[po, cf], v[fo, cf], log=log, alternative="two-sided",
                            confidence=confidence)
            d = t.to_dict()
            d["effect_name"] = ("ratio of geometric means (FO / PO at the last checkpoint)"
                                if log else "mean difference (FO − PO at the last checkpoint)")
            out["fo_vs_po_last"][name] = d
    return out
