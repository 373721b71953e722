"""Quantities the claims and figures derive from `AnalysisResults`: checkpoint positions,
emergence of fixed points, reward-to-go pairs, τ curves and windows."""
from __future__ import annotations

import math
import warnings

import numpy as np

from rnnctl.analysis.stats import geometric_mean_ci

__all__ = ["nanmean", "reward_to_go_pairs", "tau_curve", "wrap_abs", "end_positions",
           "learning_start", "emergence", "final_theta", "tau_windows", "window_gmean"]


def nanmean(a, axis=0):
    """NaN-ignoring mean (NaN where a column has no finite value, without a warning)."""
    a = np.asarray(a, np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def reward_to_go_pairs(results, po: list[int], key: str = "return_R"):
    """Pooled (d, g, seed) of the PO agents and the regression of g on d."""
    from rnnctl import analysis
    d = results.track_s_distance[po]
    ret = getattr(results, key)[po]
    reg = analysis.reward_to_go_regression(d, ret) if po else None
    g = ret[:, -1:] - ret
    seeds = np.broadcast_to(results.agent_seed[po][:, None], d.shape)
    # the regression drops the last checkpoint's (0, 0) pair; so does the figure
    d, g, seeds = d[:, :-1].ravel(), g[:, :-1].ravel(), seeds[:, :-1].ravel()
    keep = np.isfinite(d) & np.isfinite(g)
    return d[keep], g[keep], seeds[keep], reg


def tau_curve(results, idx: list[int], confidence: float):
    """τ̄ curve of agents `idx` over checkpoints: geometric mean across seeds with a
    bootstrap `confidence` interval (always positive); one agent: its own τ̄, no interval."""
    if not idx:
        raise ValueError("no non-diverged agent")
    tau = np.asarray(results.tau_avg[idx], np.float64)
    if len(idx) == 1:
        nan = np.full(tau.shape[1], np.nan)
        return tau[0], nan, nan
    g = geometric_mean_ci(tau, confidence=confidence)
    return np.asarray(g.gmean), np.asarray(g.low), np.asarray(g.high)


def wrap_abs(theta):
    return np.abs((np.asarray(theta, np.float64) + np.pi) % (2 * np.pi) - np.pi)


def end_positions(results) -> tuple[int, int]:
    """Positions of update 0 and of the final update among the analysed checkpoints."""
    u = results.updates.astype(int)
    return int(np.flatnonzero(u == 0)[0]) if (u == 0).any() else 0, len(u) - 1


def learning_start(returns: np.ndarray, c0: int, frac: float) -> int:
    """First checkpoint after update 0 whose return has gained `frac` of the agent's
    total gain (max − initial); 1 if it never gains."""
    r = np.asarray(returns, np.float64)
    gain = np.nanmax(r) - r[c0]
    if not np.isfinite(gain) or gain <= 0:
        return min(c0 + 1, len(r) - 1)
    hit = np.flatnonzero(r[c0 + 1:] >= r[c0] + frac * gain)
    return int(c0 + 1 + hit[0]) if hit.size else len(r) - 1


def emergence(has: np.ndarray, persist: int) -> int:
    """First checkpoint c from which `has` holds at `persist` consecutive checkpoints
    (fewer at the end of training: every remaining one); -1 if none.

    Args:
      has: [C] bool per analysed checkpoint.
    """
    has = np.asarray(has, bool)
    n = has.size
    for c in range(n):
        if has[c:min(c + persist, n)].all():
            return c
    return -1


def final_theta(theta: np.ndarray, kind: np.ndarray, target: float) -> float:
    """θ of the fixed point of a kind circularly nearest `target` (NaN if none)."""
    th = np.where(kind, theta, np.nan)
    if not np.isfinite(th).any():
        return float("nan")
    gap = wrap_abs(th - target)
    return float(th[np.nanargmin(gap)])


def tau_windows(updates: np.ndarray, mid: tuple[float, float], end: int
                ) -> dict[str, np.ndarray]:
    """Positions of the claim-5 windows among the analysed `updates` [C]: update 0, the
    early-to-middle window [mid[0]·U, mid[1]·U], and the last `end` updates."""
    u = np.asarray(updates, int)
    n = int(u[-1])
    return {"update0": np.flatnonzero(u == 0),
            "middle": np.flatnonzero((u >= math.ceil(mid[0] * n)) & (u <= math.floor(mid[1] * n))),
            "end": np.flatnonzero(u > n - end)}


def window_gmean(tau: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per-agent geometric mean of τ̄ over a window's checkpoints ([n] from [n, C])."""
    if cols.size == 0:
        return np.full(tau.shape[0], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.exp(np.nanmean(np.log(np.where(tau[:, cols] > 0, tau[:, cols], np.nan)), -1))
