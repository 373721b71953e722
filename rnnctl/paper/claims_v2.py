"""The paper's five claims under rules v2 (docs/methods.md §7).

Rules v1 (`rnnctl.paper.claims`) stay computed and reported beside these. Rules v2 read the
paper's text and figures as closely as the data allow, and each can fail: under the nulls
of `rnnctl.paper.nulls` (checkpoints in shuffled order, a never-trained network, the
update-0 network drifted along a random direction) each returns "does not hold" (tested in
tests/test_nulls.py, measured by `rnnctl nulls`). Every function takes the same
`ClaimContext` as v1 and returns a `Claim` with version "v2"; a rule the data cannot decide
(too few seeds, a run shorter than its windows) returns tested=False with the reason.
"""
from __future__ import annotations

import math

import numpy as np

from rnnctl.analysis.stats import one_sample_test, paired_test, sign_count
from rnnctl.paper.claims import (FIGURE_OF_CLAIM, Claim, ClaimContext, _headline,
                                 _pairs_by_seed, _significant, _stat)
from rnnctl.paper.fmt import fmt, fmt_p, fmt_stat, json_float, json_floats, pct, rad
from rnnctl.paper.measures import end_positions, nanmean, wrap_abs

__all__ = ["claim1_v2", "claim2_v2", "claim3_v2", "claim4_v2", "claim5_v2",
           "evaluate_claims_v2", "CLAIMS_V2", "final_columns", "qualified_points",
           "emergence_v2", "block_bootstrap_ci", "progress_points"]

TEXTS = {
    1: "Policy sharpness rises with training; FO ends sharper than PO.",
    2: "In PO, the hidden states form a ring ordered by θ (ring score rises).",
    3: "A stable fixed point emerges before an unstable one; the stable one near θ=0, "
       "the unstable one near θ=±π.",
    4: "The stable fixed point's distance to its final location correlates with "
       "reward-to-go, beyond what any converging quantity shows.",
    5: "The top-5 integration timescales τ rise, then fall over training "
       "(explore then compress).",
}


def final_columns(updates: np.ndarray, n: int) -> np.ndarray:
    """Positions of the analysed checkpoints in the last `n` updates (u > U − n)."""
    u = np.asarray(updates, int)
    return np.flatnonzero(u > u[-1] - n)


def _row_mean(m: np.ndarray, rows, cols) -> np.ndarray:
    rows = np.asarray(rows, int)
    if rows.size == 0:
        return np.zeros(0)
    return nanmean(np.asarray(m, np.float64)[rows][:, cols], axis=1)


def _untested(cid: int, rule: str, reason: str, n: int) -> Claim:
    return Claim(id=cid, text=TEXTS[cid], rule=rule, holds=False, figure=FIGURE_OF_CLAIM[cid],
                 stats={"tested": False, "reason": reason, "n_seeds": n, "p_value": None,
                        "effect": None, "ci": [None, None]},
                 measured=f"not tested: {reason} (n {n})", version="v2", tested=False)


def _window_ok(results, opts) -> str | None:
    """Why the run is too short for the v2 windows (None if it is not)."""
    u = np.asarray(results.updates, int)
    if u[-1] <= opts.final_updates:
        return (f"the run's {u[-1]} updates do not exceed the final window "
                f"({opts.final_updates} updates)")
    return None


# ----------------------------------------------------------------------------- claim 1

def claim1_v2(ctx: ClaimContext) -> Claim:
    """Claim 1, v2: the boundary near upright sharpens; FO ends sharper or more precise.

    Every agent and checkpoint is probed on the same observation histories (the probe
    map, `analysis.probe_histories`), so occupancy cannot decide. Measures: the boundary
    contrast of the probe map near upright (|θ| < π/2, the ±π seam excluded) and the
    fraction of near-zero torques (|u| < 0.1·max) there (the paper's "near-zero torques
    at high θ": its θ axis runs over [0, 2π) with the goal at both ends); a map without a
    sign change near upright has contrast 0. End = mean over the last `final_updates`
    updates. Holds iff, for FO and for PO, the contrast rises from update 0 (paired
    one-sided t, p < α) and ends above the drift control's (the update-0 network moved by
    training's distance along a random direction: large random weights also switch sign
    abruptly; p < α/2), and FO − PO at the end is significant (paired one-sided t, p < α/2) in the
    contrast or in the near-zero fraction.
    """
    r, o = ctx.results, ctx.options
    a = o.alpha
    rule = (f"Probe map: every agent and checkpoint reads the same unforced pendulum "
            f"histories ending at each bin of a (θ, θ̇) grid. Contrast = boundary contrast "
            f"of the probe map for |θ| < π/2 (no ±π seam); precision = fraction of those "
            f"bins with |u| < 0.1·max torque. End = mean over the last {o.final_updates} "
            f"updates. Holds iff, for FO and for PO, the contrast rises from update 0 (paired "
            f"one-sided t over seeds, p < {a:g}) and ends above the drift control's (update-0 "
            f"network moved by training's distance along a random direction; p < {a / 2:g}), "
            f"and FO > PO at the end (paired by seed, one-sided t, p < {a / 2:g}) in contrast "
            f"or in precision.")
    fo, po = ctx.group("fo"), ctx.group("po")
    fo_p, po_p = _pairs_by_seed(ctx)
    why = _window_ok(r, o)
    if why or len(fo) < 2 or len(po) < 2 or len(fo_p) < 2:
        return _untested(1, rule, why or "needs at least 2 FO and 2 PO agents of the same "
                         "seeds", min(len(fo), len(po)))
    c0, _ = end_positions(r)
    fin = final_columns(r.updates, o.final_updates)
    conf = o.ci_level
    # a map with no sign change near upright has no boundary: contrast 0, not "unknown"
    b = np.asarray(r.probe_contrast, np.float64)
    b = np.where(np.asarray(r.usable, bool) & np.isnan(b), 0.0, b)
    b0, bf = b[:, c0], nanmean(b[:, fin], axis=1)
    zf = nanmean(np.asarray(r.probe_near_zero, np.float64)[:, fin], axis=1)
    bd = np.asarray(r.probe_contrast_drift, np.float64)
    bd = np.where(np.asarray(r.usable, bool) & np.isnan(bd), 0.0, bd)
    bdf = nanmean(bd[:, fin], axis=1)
    tests = {"fo_rise": paired_test(b0[fo], bf[fo], confidence=conf),
             "po_rise": paired_test(b0[po], bf[po], confidence=conf),
             "fo_beyond_drift": paired_test(bdf[fo], bf[fo], confidence=conf),
             "po_beyond_drift": paired_test(bdf[po], bf[po], confidence=conf),
             "fo_vs_po_contrast": paired_test(bf[po_p], bf[fo_p], confidence=conf),
             "fo_vs_po_near_zero": paired_test(zf[po_p], zf[fo_p], confidence=conf)}
    # a comparison with the drift control is exchangeable under the drift null, so at α it
    # would fail to reject in exactly 1 − α of null draws: it is made at α/2 (docs §7)
    rises = (_significant(tests["fo_rise"], a) and _significant(tests["po_rise"], a)
             and _significant(tests["fo_beyond_drift"], a / 2)
             and _significant(tests["po_beyond_drift"], a / 2))
    fo_better = (_significant(tests["fo_vs_po_contrast"], a / 2)
                 or _significant(tests["fo_vs_po_near_zero"], a / 2))
    deciding = {k: tests[k] for k in ("fo_rise", "po_rise", "fo_beyond_drift",
                                      "po_beyond_drift")}
    deciding["fo_vs_po"] = min(tests["fo_vs_po_contrast"], tests["fo_vs_po_near_zero"],
                               key=lambda t: t.p_value if math.isfinite(t.p_value) else 2)
    hang = np.asarray(r.probe_near_zero_hanging, np.float64)
    return Claim(
        id=1, text=TEXTS[1], rule=rule, holds=bool(rises and fo_better),
        figure=FIGURE_OF_CLAIM[1], version="v2",
        stats={**_headline(deciding), "tested": True,
               "tests": {k: _stat(v) for k, v in tests.items()},
               "end_window_updates": [int(r.updates[fin[0]]), int(r.updates[fin[-1]])],
               "seed_means": {f"{g}_{m}": json_floats([nanmean(v[idx]) for v in pair])
                              for g, idx in (("fo", fo), ("po", po))
                              for m, pair in (("contrast", (b0, bf)),
                                              ("near_zero", (r.probe_near_zero[:, c0], zf)))},
               "hanging_near_zero_end": {g: json_float(nanmean(_row_mean(hang, idx, fin)))
                                         for g, idx in (("fo", fo), ("po", po))}},
        measured=(f"probe contrast near upright rises FO {fmt_stat(tests['fo_rise'])}, PO "
                  f"{fmt_stat(tests['po_rise'])}; ends above the drift control FO "
                  f"{fmt_stat(tests['fo_beyond_drift'])}, PO "
                  f"{fmt_stat(tests['po_beyond_drift'])}; FO − PO at the end: contrast "
                  f"{fmt_stat(tests['fo_vs_po_contrast'])}, near-zero fraction "
                  f"{fmt_stat(tests['fo_vs_po_near_zero'])}"))


# ----------------------------------------------------------------------------- claim 2

def claim2_v2(ctx: ClaimContext) -> Claim:
    """Claim 2, v2: the PO ring score rises from update 0, by more than the input's own,
    and beyond what weight growth alone gives.

    End = mean over the last `final_updates` updates. Holds iff (a) ring(end) > ring(0),
    (b) ring(end) − ring(0) > ring_input(end) − ring_input(0) (the input's ring score
    moves only with occupancy) and (c) ring(end) > ring_drift(end), the drift control (the
    same agent's update-0 network moved along a random direction by training's distance:
    the angle input read through large random weights traces an arc ordered by θ, which
    the ring score rates highly), paired one-sided t-tests over PO seeds, p < α for (a) and
    (b), p < α/2 for (c) (a comparison with the drift control is exchangeable under the
    drift null).
    Ring closure (`analysis.ring_closure`) is reported, not tested.
    """
    r, o = ctx.results, ctx.options
    rule = (f"Ring score of h (as v1), of the input x itself, and of the drift control (the "
            f"agent's update-0 network moved along a random direction by training's own "
            f"distance ‖θ_t − θ_0‖), PO agents. End = mean over the last {o.final_updates} "
            f"updates. Holds iff (a) ring(end) > ring(update 0), (b) the rise exceeds the "
            f"input's own rise (occupancy alone) and (c) ring(end) > drift control's "
            f"ring(end), paired one-sided t-tests over seeds, p < {o.alpha:g} for (a) and "
            f"(b), p < {o.alpha / 2:g} for (c).")
    po = ctx.group("po")
    why = _window_ok(r, o)
    if why or len(po) < 2:
        return _untested(2, rule, why or "needs at least 2 PO agents", len(po))
    c0, _ = end_positions(r)
    fin = final_columns(r.updates, o.final_updates)
    ring, rx = np.asarray(r.ring, np.float64), np.asarray(r.ring_input, np.float64)
    h0, hf = ring[po, c0], _row_mean(ring, po, fin)
    x0, xf = rx[po, c0], _row_mean(rx, po, fin)
    df = _row_mean(r.ring_drift, po, fin)
    cl = np.asarray(r.ring_closure, np.float64)
    k0, kf = cl[po, c0], _row_mean(cl, po, fin)
    tests = {"rise": paired_test(h0, hf, confidence=o.ci_level),
             "beyond_input": paired_test(xf - x0, hf - h0, confidence=o.ci_level),
             "beyond_drift": paired_test(df, hf, confidence=o.ci_level)}
    holds = (_significant(tests["rise"], o.alpha) and _significant(tests["beyond_input"], o.alpha)
             and _significant(tests["beyond_drift"], o.alpha / 2))
    return Claim(
        id=2, text=TEXTS[2], rule=rule, holds=holds, figure=FIGURE_OF_CLAIM[2], version="v2",
        stats={**_headline(tests), "tested": True,
               "tests": {k: _stat(v) for k, v in tests.items()},
               "ring_update0_end": json_floats([nanmean(h0), nanmean(hf)]),
               "input_ring_update0_end": json_floats([nanmean(x0), nanmean(xf)]),
               "drift_ring_end": json_float(nanmean(df)),
               "closure_update0_end": json_floats([nanmean(k0), nanmean(kf)]),
               "encoding": ctx.encoding},
        measured=(f"PO ring {fmt(nanmean(h0))} → {fmt(nanmean(hf))}, rise "
                  f"{fmt_stat(tests['rise'])}; input ring {fmt(nanmean(x0))} → "
                  f"{fmt(nanmean(xf))}; rise beyond the input's "
                  f"{fmt_stat(tests['beyond_input'])}; drift control ends at "
                  f"{fmt(nanmean(df))}, trained − drift {fmt_stat(tests['beyond_drift'])}; "
                  f"closure {fmt(nanmean(k0))} → {fmt(nanmean(kf))} (not tested)"))


# ----------------------------------------------------------------------------- claim 3

def qualified_points(results, x: int, opts) -> tuple[np.ndarray, np.ndarray]:
    """[A, C] bool: a location-qualified stable point near the goal, and an unstable one
    near hanging, at input `x` (decoded θ, gated by confidence and distance)."""
    th = np.asarray(results.fp_theta_dec, np.float64)[:, :, x]
    conf = np.asarray(results.fp_theta_conf, np.float64)[:, :, x]
    dist = np.asarray(results.fp_dist_visited, np.float64)[:, :, x]
    valid = np.asarray(results.fp_valid, bool)[:, :, x]
    stable = np.asarray(results.fp_stable, bool)[:, :, x]
    with np.errstate(invalid="ignore"):
        gated = valid & (conf >= opts.theta_confidence) & (dist <= opts.theta_distance)
        s = gated & stable & (wrap_abs(th) < opts.near_goal)
        u = gated & ~stable & (wrap_abs(th) > opts.near_hanging)
    return s.any(-1), u.any(-1)


def emergence_v2(has: np.ndarray, updates: np.ndarray, persist: int) -> int:
    """Update at which a kind emerges by learning: the first analysed checkpoint c ≥ 1
    where it is absent at c − 1 and present at every analysed checkpoint of updates
    u_c..u_c + persist; −1 if never. A point present at update 0 thus has to disappear and
    come back to "emerge".

    Args:
      has: [C] bool per analysed checkpoint; updates: [C].
    """
    has = np.asarray(has, bool)
    u = np.asarray(updates, int)
    for c in range(1, has.size):
        if has[c - 1] or not has[c]:
            continue
        span = (u >= u[c]) & (u <= u[c] + persist)
        if has[span].all():
            return int(u[c])
    return -1


def claim3_v2(ctx: ClaimContext) -> Claim:
    """Claim 3, v2: learning creates a stable point near the goal before an unstable one
    near hanging.

    At each input x*, per PO seed and analysed checkpoint: a stable fixed point whose
    decoded θ has |θ| < near_goal, and an unstable one with |θ| > near_hanging, each
    counted only where the decoder is confident and the point lies near visited states.
    A kind emerges at `emergence_v2` (absent before, present for `persist_updates`
    updates). Holds at x* iff more than half of the seeds have both emerge with the
    stable one first and a one-sided sign test of stable-first over the seeds where both
    emerge has p < α / (number of inputs); the claim holds at any input.
    """
    r, o = ctx.results, ctx.options
    names = [str(n) for n in r.fp_inputs.tolist()]
    ax = o.alpha / len(names)
    rule = (f"Fixed points at each input x* in {names}; θ read by a linear decoder of "
            f"(cos θ, sin θ) fitted on the checkpoint's visited states, counted only if the "
            f"decoded vector has length ≥ {o.theta_confidence:g} and the point lies within "
            f"{o.theta_distance:g} × the visited cloud's RMS radius of a visited state; "
            f"search starts stratified over θ. Qualified: stable with |θ| < "
            f"{rad(o.near_goal)}, unstable with |θ| > {rad(o.near_hanging)}, tested at every "
            f"analysed checkpoint. A kind emerges at the first checkpoint where it is absent "
            f"just before and present for the next {o.persist_updates} updates (present at "
            f"update 0 is not emergence). Holds at x* iff more than half of the PO seeds have "
            f"both emerge, stable first, and a one-sided sign test (seeds where both emerge) "
            f"has p < {o.alpha:g}/{len(names)}; holds if it holds at any input.")
    po = ctx.group("po")
    if len(po) < 2:
        return _untested(3, rule, "needs at least 2 PO agents", len(po))
    if int(r.updates[-1]) <= o.persist_updates:
        return _untested(3, rule, f"the run's {int(r.updates[-1])} updates do not exceed the "
                         f"persistence ({o.persist_updates} updates)", len(po))
    per_input, holds_at = {}, []
    for x, name in enumerate(names):
        qs, qu = qualified_points(r, x, o)
        es = np.asarray([emergence_v2(qs[i], r.updates, o.persist_updates) for i in po], float)
        eu = np.asarray([emergence_v2(qu[i], r.updates, o.persist_updates) for i in po], float)
        both = (es >= 0) & (eu >= 0)
        meets = both & (es < eu)
        sign = sign_count(es[both], eu[both])
        h = bool(meets.sum() > len(po) / 2 and math.isfinite(sign.p_value)
                 and sign.p_value < ax)
        holds_at.append(h)
        per_input[name] = {
            "holds": h, "p_value": json_float(sign.p_value), "k_stable_first": sign.k,
            "n_both_emerge": sign.n, "n_meet_all": int(meets.sum()), "n_seeds": len(po),
            "stable_emerges": [int(v) for v in es], "unstable_emerges": [int(v) for v in eu],
            "stable_at_update0": [bool(qs[i, 0]) for i in po],
            "unstable_at_update0": [bool(qu[i, 0]) for i in po],
            "checkpoints_with_stable": [int(qs[i].sum()) for i in po],
            "checkpoints_with_unstable": [int(qu[i].sum()) for i in po]}
    best = min(per_input, key=lambda k: (not per_input[k]["holds"],
                                         per_input[k]["p_value"] if per_input[k]["p_value"]
                                         is not None else 2.0))
    b = per_input[best]
    return Claim(
        id=3, text=TEXTS[3], rule=rule, holds=any(holds_at), figure=FIGURE_OF_CLAIM[3],
        version="v2",
        stats={"tested": True, "test": "sign test (binomial, one-sided) of stable-first over "
                                       "seeds where both emerge by learning",
               "effect": json_float(b["n_meet_all"] / max(b["n_seeds"], 1)),
               "effect_name": "fraction of seeds where both emerge, stable first",
               "ci": [None, None], "p_value": b["p_value"], "n_seeds": len(po),
               "decided_by": best, "inputs": per_input, "alpha_bonferroni": json_float(ax)},
        measured="; ".join(
            f"{n}: both emerge by learning in {d['n_both_emerge']}/{d['n_seeds']} seeds, stable "
            f"first in {d['k_stable_first']} (p {fmt_p(d['p_value'])}); a qualified stable point "
            f"at update 0 in {sum(d['stable_at_update0'])}, unstable in "
            f"{sum(d['unstable_at_update0'])}" for n, d in per_input.items()))


# ----------------------------------------------------------------------------- claim 4

def _pearson(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _residual(y, t):
    y, t = np.asarray(y, np.float64), np.asarray(t, np.float64)
    keep = np.isfinite(y)
    out = np.full_like(y, np.nan)
    if keep.sum() >= 2 and np.ptp(t[keep]) > 0:
        slope, icpt = np.polyfit(t[keep], y[keep], 1)
        out[keep] = y[keep] - (slope * t[keep] + icpt)
    return out


def claim4_v2(ctx: ClaimContext) -> Claim:
    """Claim 4, v2: d_t tracks reward-to-go beyond converging controls.

    Per PO seed, over the analysed checkpoints before the last: r(d, g) for the fixed
    point's distance to its final location d and g = R_U − R_t (as v1), and the same r for
    two controls that also converge (all parameters' distance to their final values; the
    mean visited state's distance to its final value), and the partial correlation of d
    and g given the update index. Holds iff the seeds' Fisher z of r(d, g) is > 0
    (one-sample t), exceeds each control's z (paired t), and the partial z is > 0
    (one-sample t), each one-sided with p < α.
    """
    r, o = ctx.results, ctx.options
    rule = (f"Per PO seed, over analysed updates t < U: Pearson r of g_t = R_U − R_t with "
            f"d_t (tracked stable FP's distance to its final location), with ‖θ_t − θ_U‖ "
            f"(all parameters) and with ‖h̄_t − h̄_U‖ (mean visited state); partial r(d, g | t). "
            f"Holds iff, over seeds, Fisher z of r(d, g) > 0, > z of each control (paired), "
            f"and partial z > 0: one-sided t-tests, p < {o.alpha:g} each.")
    po = ctx.group("po")
    if len(po) < 3:
        return _untested(4, rule, "needs at least 3 PO agents", len(po))
    ret = np.asarray(r.return_R, np.float64)
    hm = np.asarray(r.h_mean, np.float64)
    t = np.asarray(r.updates, np.float64)[:-1]
    z = {k: [] for k in ("fp", "params", "mean_state", "partial")}
    for i in po:
        g = ret[i, -1] - ret[i, :-1]
        d = np.asarray(r.track_s_distance, np.float64)[i, :-1]
        cp = np.asarray(r.param_dist_final, np.float64)[i, :-1]
        cm = np.linalg.norm(hm[i, :-1] - hm[i, -1], axis=-1)
        keep = np.isfinite(d) & np.isfinite(g)
        rs = {"fp": _pearson(d, g), "params": _pearson(np.where(keep, cp, np.nan), g),
              "mean_state": _pearson(np.where(keep, cm, np.nan), g),
              "partial": _pearson(_residual(np.where(keep, d, np.nan), t),
                                  _residual(np.where(keep, g, np.nan), t))}
        for k, v in rs.items():
            z[k].append(np.arctanh(np.clip(v, -0.999999, 0.999999)))
    z = {k: np.asarray(v) for k, v in z.items()}
    conf = o.ci_level
    tests = {"fp": one_sample_test(z["fp"], confidence=conf),
             "fp_vs_params": paired_test(z["params"], z["fp"], confidence=conf),
             "fp_vs_mean_state": paired_test(z["mean_state"], z["fp"], confidence=conf),
             "partial_on_update": one_sample_test(z["partial"], confidence=conf)}
    holds = all(_significant(v, o.alpha) for v in tests.values())
    mean_r = {k: json_float(math.tanh(float(np.nanmean(v)))) if np.isfinite(v).any() else None
              for k, v in z.items()}
    return Claim(
        id=4, text=TEXTS[4], rule=rule, holds=holds, figure=FIGURE_OF_CLAIM[4], version="v2",
        stats={**_headline(tests), "tested": True,
               "tests": {k: _stat(v) for k, v in tests.items()}, "mean_r": mean_r,
               "per_seed_r": {k: json_floats(np.tanh(v)) for k, v in z.items()}},
        measured=(f"mean per-seed r: fixed point {fmt(mean_r['fp'])}, parameters "
                  f"{fmt(mean_r['params'])}, mean state {fmt(mean_r['mean_state'])}, partial "
                  f"on the update {fmt(mean_r['partial'])}; z(FP) − z(params) "
                  f"{fmt_stat(tests['fp_vs_params'])}, z(FP) − z(mean state) "
                  f"{fmt_stat(tests['fp_vs_mean_state'])}, partial "
                  f"{fmt_stat(tests['partial_on_update'])}"))


# ----------------------------------------------------------------------------- claim 5

def block_bootstrap_ci(steps: np.ndarray, n_blocks: int, level: float, n_resamples: int,
                       seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-step values with a block-bootstrap percentile interval.

    Args:
      steps: [n, N] per-step values of n checkpoints (NaN: left out); each row is cut into
        `n_blocks` contiguous blocks, and the blocks of all rows are resampled together.
    Returns:
      (mean, low, high); NaN if no finite value.
    """
    v = np.asarray(steps, np.float64)
    v = v.reshape(-1, v.shape[-1])
    blocks = [b for row in v for b in np.array_split(row, n_blocks) if b.size]
    sums = np.asarray([np.nansum(b) for b in blocks])
    counts = np.asarray([np.isfinite(b).sum() for b in blocks], np.float64)
    if counts.sum() == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(blocks), (n_resamples, len(blocks)))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[idx].sum(1) / counts[idx].sum(1)
    means = means[np.isfinite(means)]
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(sums.sum() / counts.sum()), float(lo), float(hi)


def _extreme(tau_step, updates, final, opts, sign: int):
    """(shown, selected update, tested update, (mean, lo, hi) at the test, at update 0, at
    the end) for a peak (sign +1) or a trough (−1), with held-out selection."""
    u = np.asarray(updates, int)
    cand = np.flatnonzero((u > 0) & (u <= u[-1] - opts.final_updates))
    if cand.size < 2:
        return None
    level, nb, rs = opts.tau_level, opts.tau_blocks, opts.tau_resamples
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level_c = np.nanmean(tau_step[cand], -1)
    sel = cand[cand % 2 == 0]
    sel_vals = level_c[np.isin(cand, sel)]
    if not np.isfinite(sel_vals).any():
        return None
    c_sel = int(sel[np.nanargmax(sign * sel_vals)])
    test = c_sel + 1 if (c_sel + 1) in cand else c_sel - 1
    if test not in cand:
        return None
    at = block_bootstrap_ci(tau_step[test][None], nb, level, rs, seed=1)
    a0 = block_bootstrap_ci(tau_step[0][None], nb, level, rs, seed=2)
    af = block_bootstrap_ci(tau_step[final], nb, level, rs, seed=3)
    if sign > 0:
        shown = at[1] > a0[2] and at[1] > af[2]
    else:
        shown = at[2] < a0[1] and at[2] < af[1]
    return bool(shown), int(u[c_sel]), int(u[test]), at, a0, af


def claim5_v2(ctx: ClaimContext) -> Claim:
    """Claim 5, v2: per PO agent, as Fig 1e reads: a peak of τ̄ above both update 0 and
    the end, with step-level intervals; against troughs by the same rule.

    Per seed: the candidate checkpoint with the largest τ̄ is chosen among the even-
    numbered analysed checkpoints strictly between update 0 and the final window, and
    tested at its odd neighbour (held out). Peak shown iff the tested checkpoint's
    `tau_level` block-bootstrap interval lies above the intervals of update 0 and of the
    final window (`final_updates`). A trough is shown by the same rule mirrored (smallest
    τ̄, interval below both). Holds iff at least half of the seeds show a peak and a
    one-sided sign test of peak-only against trough-only seeds has p < α.
    """
    r, o = ctx.results, ctx.options
    rule = (f"Per PO seed: τ̄ per checkpoint with a {pct(o.tau_level)} block-bootstrap "
            f"interval over rollout steps ({o.tau_blocks} contiguous blocks per checkpoint). "
            f"The peak is selected on the even analysed checkpoints between update 0 and the "
            f"last {o.final_updates} updates, and tested on its odd neighbour: shown iff its "
            f"interval lies above update 0's and the final window's. Troughs by the same rule "
            f"mirrored. Holds iff ≥ half of the seeds show a peak and a one-sided sign test "
            f"of peak-only vs trough-only seeds has p < {o.alpha:g}.")
    po = ctx.group("po")
    why = _window_ok(r, o)
    if why or len(po) < 2:
        return _untested(5, rule, why or "needs at least 2 PO agents", len(po))
    fin = final_columns(r.updates, o.final_updates)
    ts = np.asarray(r.tau_step, np.float64)
    peaks, troughs, detail = [], [], []
    for i in po:
        p = _extreme(ts[i], r.updates, fin, o, +1)
        q = _extreme(ts[i], r.updates, fin, o, -1)
        if p is None or q is None:
            return _untested(5, rule, "fewer than 2 analysed checkpoints between update 0 "
                             "and the final window", len(po))
        peaks.append(p[0])
        troughs.append(q[0])
        detail.append({"seed": int(r.agent_seed[i]), "peak": p[0], "trough": q[0],
                       "peak_selected_update": p[1], "peak_tested_update": p[2],
                       "tau_peak": json_floats(p[3]), "tau_update0": json_floats(p[4]),
                       "tau_end": json_floats(p[5]), "trough_tested_update": q[2],
                       "tau_trough": json_floats(q[3])})
    peaks, troughs = np.asarray(peaks), np.asarray(troughs)
    only_p, only_t = int((peaks & ~troughs).sum()), int((troughs & ~peaks).sum())
    from scipy import stats as sps
    n1 = only_p + only_t
    p_val = float(sps.binomtest(only_p, n1, 0.5, alternative="greater").pvalue) if n1 else float("nan")
    holds = bool(peaks.sum() >= len(po) / 2 and math.isfinite(p_val) and p_val < o.alpha)
    return Claim(
        id=5, text=TEXTS[5], rule=rule, holds=holds, figure=FIGURE_OF_CLAIM[5], version="v2",
        stats={"tested": True, "test": "sign test (binomial, one-sided) of peak-only against "
                                       "trough-only seeds",
               "effect": json_float(peaks.mean()), "effect_name": "fraction of seeds with a peak",
               "ci": [None, None], "p_value": json_float(p_val), "n_seeds": len(po),
               "n_peak": int(peaks.sum()), "n_trough": int(troughs.sum()),
               "n_peak_only": only_p, "n_trough_only": only_t, "per_seed": detail,
               "saturation_po_update0_end": json_floats(
                   [nanmean(np.asarray(r.saturation)[po, 0]),
                    nanmean(_row_mean(r.saturation, po, fin))]),
               "unstable_frac_po_update0_end": json_floats(
                   [nanmean(np.asarray(r.tau_unstable_frac)[po, 0]),
                    nanmean(_row_mean(r.tau_unstable_frac, po, fin))])},
        measured=(f"peak above both ends in {int(peaks.sum())}/{len(po)} PO seeds, trough below "
                  f"both in {int(troughs.sum())}/{len(po)}; peak-only {only_p} vs trough-only "
                  f"{only_t}, sign test p {fmt_p(p_val)}"))


# ----------------------------------------------------------------------------- together

def progress_points(results, idx, fractions=(0.1, 0.5, 0.9), options=None) -> dict:
    """Seeds aligned on their own learning progress: at the first analysed checkpoint
    where each agent has gained `fractions` of its return gain (R_t from update 0 to its
    best), the mean update, the geometric-mean τ̄ and the fraction of agents with a
    location-qualified stable / unstable point at the goal input."""
    from rnnctl.paper.measures import learning_start
    opts = options or ctx_default_options()
    out = {}
    if not idx:
        return out
    x = [str(n) for n in results.fp_inputs.tolist()].index("goal")
    qs, qu = qualified_points(results, x, opts)
    c0, _ = end_positions(results)
    for f in fractions:
        cols = [learning_start(results.return_R[i], c0, f) for i in idx]
        tau = np.asarray([results.tau_avg[i, c] for i, c in zip(idx, cols)], np.float64)
        tau = tau[np.isfinite(tau) & (tau > 0)]
        out[f"{int(round(100 * f))}%"] = {
            "mean_update": json_float(np.mean([results.updates[c] for c in cols])),
            "tau_gmean": json_float(np.exp(np.mean(np.log(tau)))) if tau.size else None,
            "frac_stable_goal": json_float(np.mean([qs[i, c] for i, c in zip(idx, cols)])),
            "frac_unstable_hanging": json_float(np.mean([qu[i, c] for i, c in zip(idx, cols)]))}
    return out


def ctx_default_options():
    from rnnctl.paper.options import DEFAULT_CLAIM_OPTIONS
    return DEFAULT_CLAIM_OPTIONS


CLAIMS_V2 = (claim1_v2, claim2_v2, claim3_v2, claim4_v2, claim5_v2)


def evaluate_claims_v2(ctx: ClaimContext) -> list[Claim]:
    """The paper's five claims under rules v2 on the agents of `ctx`, in order."""
    return [f(ctx) for f in CLAIMS_V2]
