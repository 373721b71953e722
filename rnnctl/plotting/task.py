"""The overview figure of the task-agnostic analysis (`rnnctl.task_analysis`): learning
curves, fixed points and timescales over training, and the geometry of the last
checkpoint. Draws results, never computes them."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from rnnctl.plotting import _STYLE, WIDTH, _finish, _float

__all__ = ["task_overview", "cells_figure", "curve_band"]


def curve_band(ax, x, curve: dict, color, label: str, *, ls: str = "-") -> None:
    """A summary curve ({"mean" or "gmean", "low", "high"} lists, None = missing) with its
    interval as a band."""
    key = "gmean" if "gmean" in curve else "mean"
    f = lambda v: np.array([np.nan if e is None else e for e in v], float)
    y, lo, hi = f(curve[key]), f(curve["low"]), f(curve["high"])
    x = _float(x, "x")
    ok = np.isfinite(lo) & np.isfinite(hi)
    ax.fill_between(x, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan), color=color,
                    alpha=0.2, lw=0)
    ax.plot(x, y, color=color, ls=ls, lw=1.6, label=label)


def task_overview(summary: dict, res: dict, *, path=None) -> Figure:
    """Four panels: (a) deterministic return over updates, (b) fixed points at the zero
    and mean inputs, (c) top-k τ (geometric mean, log scale), (d) the first agent's
    visited states at the last checkpoint on PC1–PC2, coloured by the task's first
    declared state variable.

    Args:
      summary: `task_analysis.summarise`'s dict.
      res: `task_analysis.compute_task_analysis`'s arrays ("proj", "state_vars").
      path: PNG to write (optional).
    """
    colors = mpl.colormaps["tab10"].colors
    updates = np.asarray(summary["updates"])
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(WIDTH, 5.2), layout="constrained", dpi=100)
        ax = fig.subplots(2, 2)
        title = summary["task"] + "".join(f" {k}={v}" for k, v in summary["task_params"].items())
        fig.suptitle(f"{title}, {summary['cell'].upper()} cell "
                     f"({len(summary['agents'])} agents; 95 % intervals across seeds)")
        n_upd = len(summary["settings"][0]["eval_return"]["mean"])
        for i, e in enumerate(summary["settings"]):
            c = colors[i % len(colors)]
            lab = f"{e['obs']} (n={e['n_agents']})"
            curve_band(ax[0, 0], np.arange(n_upd), e["eval_return"], c, lab)
            curve_band(ax[0, 1], updates, e["n_fp_zero"], c, f"{e['obs']} zero input")
            curve_band(ax[0, 1], updates, e["n_fp_mean"], c, f"{e['obs']} mean input",
                       ls="--")
            curve_band(ax[1, 0], updates, e["tau_avg"], c, lab)
        ax[0, 0].set(xlabel="update", ylabel="deterministic return", title="(a) learning")
        ax[0, 1].set(xlabel="update", ylabel="fixed points", title="(b) fixed points")
        ax[1, 0].set(xlabel="update", ylabel="top-5 τ (steps)", yscale="log",
                     title="(c) integration timescales")
        for a in (ax[0, 0], ax[0, 1], ax[1, 0]):
            a.grid(alpha=0.3, lw=0.5)
            a.legend(frameon=False, fontsize=7)
        proj = np.asarray(res["proj"][0])
        ok = np.isfinite(proj).all(-1)
        names = summary["state_vars"]
        if names:
            col = np.asarray(res["state_vars"][0])[ok, 0]
            sc = ax[1, 1].scatter(proj[ok, 0], proj[ok, 1], c=col, s=3, cmap="viridis",
                                  lw=0)
            fig.colorbar(sc, ax=ax[1, 1], label=names[0])
        else:
            ax[1, 1].scatter(proj[ok, 0], proj[ok, 1], s=3, color="0.3", lw=0)
        a0 = summary["agents"][0]
        ax[1, 1].set(xlabel="PC1", ylabel="PC2",
                     title=f"(d) states at update {updates[-1]} (agent 0: {a0['obs']}, "
                           f"seed {a0['seed']})")
        return _finish(fig, path)


def cells_figure(comp: dict, *, title: str = "", path=None) -> Figure:
    """Three panels, one line per cell with its interval across seeds: (a) deterministic
    return over updates, (b) fixed points at the zero (solid) and mean (dashed) input,
    (c) top-5 τ (geometric mean, log scale).

    Args:
      comp: `rnnctl.cli.cells.compare`'s dict: cell → curves (summary format) and
        "updates".
    """
    colors = mpl.colormaps["tab10"].colors
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(WIDTH, 2.6), layout="constrained", dpi=100)
        ax = fig.subplots(1, 3)
        fig.suptitle(title + " (95 % intervals across seeds)")
        for i, (cell, c) in enumerate(comp.items()):
            col = colors[i % len(colors)]
            curve_band(ax[0], np.arange(len(c["eval_return"]["mean"])), c["eval_return"],
                       col, cell.upper())
            curve_band(ax[1], c["updates"], c["n_fp_zero"], col, f"{cell.upper()} zero")
            curve_band(ax[1], c["updates"], c["n_fp_mean"], col, f"{cell.upper()} mean",
                       ls="--")
            curve_band(ax[2], c["updates"], c["tau_avg"], col, cell.upper())
        ax[0].set(xlabel="update", ylabel="deterministic return", title="(a) learning")
        ax[1].set(xlabel="update", ylabel="fixed points", title="(b) fixed points")
        ax[2].set(xlabel="update", ylabel="top-5 τ (steps)", yscale="log",
                  title="(c) timescales")
        for a in ax:
            a.grid(alpha=0.3, lw=0.5)
            a.legend(frameon=False, fontsize=6)
        return _finish(fig, path)
