"""The tables of docs/beyond.md (cells compared, other tasks), generated from committed JSON.

Every number in those tables comes from a `summary.json` through these functions
(`SOURCES`); `python -m experiments.docs` writes them between their markers (`MARKERS`)
and tests/test_readme_tables.py fails when a table and its JSON disagree.
"""
from __future__ import annotations

__all__ = ["MARKERS", "SOURCES", "cells_table", "tasks_table"]

_BEYOND = "docs/beyond.md"
#: Where each generated table lives: name -> (file, start marker, end marker).
MARKERS = {
    "beyond-cells": (_BEYOND, "<!-- cells-table:start -->", "<!-- cells-table:end -->"),
    "beyond-tasks": (_BEYOND, "<!-- tasks-table:start -->", "<!-- tasks-table:end -->"),
}
#: The summary.json each table is made from, relative to the checkout.
SOURCES = {
    "beyond-cells": ["figures/cells/summary.json"],
    "beyond-tasks": ["figures/MemoryChain-bsuite/memory_length-4/summary.json",
                     "figures/MemoryChain-bsuite/memory_length-16/summary.json",
                     "figures/BernoulliBandit-misc/summary.json",
                     "figures/CartPole-v1/summary.json"],
}


def _minus(s: str) -> str:
    return s.replace("-", "−")


def _num(x: float) -> str:
    """A return or τ at a readable precision: 455, 87.7, 5.2, 0.95."""
    a = abs(x)
    return _minus(f"{x:.0f}" if a >= 100 else f"{x:.1f}" if a >= 10 else f"{x:.2f}"
                  if a < 1 else f"{x:.1f}")


def _count(x: float) -> str:
    """A mean count over seeds: 0.9, 3.1."""
    return f"{x:.1f}"


def _ci(mean: float, low: float, high: float, fmt=_num) -> str:
    """`mean [low, high]`, or the mean alone when all seeds agree exactly."""
    if low == high == mean:
        return fmt(mean)
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def _at(band: dict, i: int, key: str = "mean", fmt=_num) -> str:
    return _ci(band[key][i], band["low"][i], band["high"][i], fmt)


def _tau(tau: dict, updates: list) -> str:
    """Top-5 τ at update 0 → its highest checkpoint (when that lies before the last) → the
    last update with its interval."""
    g = tau["gmean"]
    k = max(range(len(g)), key=g.__getitem__)
    peak = f" → {_num(g[k])} at update {updates[k]}" if 0 < k < len(g) - 1 else ""
    return f"{_num(g[0])}{peak} → {_at(tau, -1, 'gmean')}"


def _ratio(t: dict) -> str:
    lo, hi = t["ci"]
    return f"{t['effect']:.3g}× [{lo:.3g}, {hi:.3g}], p {t['p_value']:.2g}"


def _fp(s: dict, i: int, ci: bool = True) -> str:
    if ci:
        return f"{_at(s['n_fp_zero'], i, fmt=_count)} / {_at(s['n_fp_mean'], i, fmt=_count)}"
    return f"{_count(s['n_fp_zero']['mean'][i])} / {_count(s['n_fp_mean']['mean'][i])}"


def cells_table(summary: dict) -> str:
    """One row per cell of figures/cells/summary.json: final return, fixed-point counts at
    update 0 and at the last update, the top-5 τ curve's start, peak and end, and the paired
    test of the last τ against the first."""
    names = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
    first = next(iter(summary["cells"].values()))
    u0, u1 = first["updates"][0], first["updates"][-1]
    lines = [f"| cell | final return (95 % CI) | fixed points, zero / mean input, update {u0} "
             f"→ {u1} | top-5 τ (steps), update {u0} → peak → {u1} | τ at {u1} / τ at {u0} "
             "(paired, log) |", "|---|---|---|---|---|"]
    for cell, c in summary["cells"].items():
        r = c["final_eval_return"]
        lines.append(f"| {names.get(cell, cell)} | {_at(r, -1)} | {_fp(c, 0)} → {_fp(c, -1)} | "
                     f"{_tau(c['tau_avg'], c['updates'])} | {_ratio(c['tau_first_vs_last'])} |")
    prov = summary.get("provenance") or {}
    machine = prov.get("machine") or {}
    where = ""
    if prov.get("commit"):
        where = f" Analysed at commit {prov['commit'][:7]}"
        if machine:
            where += f" on {machine.get('cpu')}, {machine.get('cores')} cores"
        where += "."
    lines.append("")
    lines.append(f"{summary['task']} {summary['obs'].upper()}, {summary['seeds']} seeds per "
                 "cell. Returns and fixed-point counts: mean [95 % percentile-bootstrap "
                 "interval] over seeds (a number alone: every seed had it); τ: geometric mean [95 % "
                 "BCa bootstrap interval]; peak: "
                 "the highest checkpoint of the τ curve, shown where it lies before the last "
                 "update; last column: ratio of geometric means, paired t-test on log τ "
                 "(two-sided)." + where)
    return "\n".join(lines)


def _task_name(s: dict, rel: str) -> str:
    link = "../" + rel.rsplit("/", 1)[0] + "/report.md"
    params = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (s.get("task_params") or {}).items())
    return f"[{s['task']}]({link})" + (f", {params}" if params else "")


def tasks_table(summaries: list[tuple[str, dict]]) -> str:
    """One row per (task run, observation variant): final return, fixed points at the last
    update (all and stable, at the zero and the mean input), the top-5 τ curve's start, peak
    and end, and the paired test of the last τ against the first. `summaries`: (path
    relative to the checkout, summary.json) pairs."""
    lines = ["| task | variant, cell, γ | final return (95 % CI) | fixed points at the last "
             "update, zero / mean input (stable) | top-5 τ (steps), update 0 → peak → last | "
             "τ last / τ first (paired, log) |", "|---|---|---|---|---|---|"]
    configs = []
    for rel, s in summaries:
        cfg = s["config"]
        configs.append((cfg["n_updates"], cfg["rollout_len"], cfg["n_minibatches"],
                        cfg["vf_coef"]))
        for st in s["settings"]:
            lines.append(f"| {_task_name(s, rel)} | {st['obs']}, {s['cell'].upper()}, "
                         f"γ {cfg['gamma']} | {_at(st['final_eval_return'], -1)} | "
                         f"{_fp(st, -1, ci=False)} ({_count(st['n_stable_zero']['mean'][-1])} / "
                         f"{_count(st['n_stable_mean']['mean'][-1])}) | "
                         f"{_tau(st['tau_avg'], s['updates'])} | "
                         f"{_ratio(st['tau_first_vs_last'])} |")
    seeds = sorted({len(s["agents"]) // len(s["settings"]) for _, s in summaries})
    lines.append("")
    lines.append(f"{' or '.join(map(str, seeds))} seeds per row; "
                 + "; ".join(sorted({f"{u} updates × {n} steps, {m} minibatches, value-loss "
                                     f"weight {v}" for u, n, m, v in configs}))
                 + " (each run's `summary.json` holds its whole config). Returns and "
                 "fixed-point counts: mean [95 % percentile-bootstrap interval] over seeds (a "
                 "number alone: every seed had it); τ: geometric mean [95 % BCa bootstrap interval]; peak as in the cells table.")
    return "\n".join(lines)
