"""The paper's five claims (docs/methods.md §6), each one function deciding a fixed rule.

Each function takes a `ClaimContext` (the results, the run's eval returns and config, the
agents in the claim) and returns a `Claim`; its rule text is generated from the options it
uses, so the text and the decision cannot drift apart. Diverged agents are left out by the
caller (`ClaimContext.excluded`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from rnnctl.analysis.stats import (geometric_mean_ci, one_sample_test, paired_test,
                                   sign_count)
from rnnctl.paper.fmt import (fmt, fmt_list, fmt_p, fmt_stat, json_float, json_floats, pct,
                              rad)
from rnnctl.paper.measures import (emergence, end_positions, final_theta, learning_start,
                                   nanmean, reward_to_go_pairs, tau_curve, tau_windows,
                                   window_gmean, wrap_abs)
from rnnctl.paper.options import DEFAULT_CLAIM_OPTIONS, ClaimOptions
from rnnctl.paper.results import AnalysisResults

__all__ = ["Claim", "ClaimContext", "claim_sharpness", "claim_ring", "claim_fixed_points",
           "claim_reward_to_go", "claim_timescales", "evaluate_claims", "CLAIMS", "emergence",
           "tau_windows", "tau_curve",
           "FIGURE_OF_CLAIM"]

#: The figure file each claim is drawn in (relative to the run directory).
FIGURE_OF_CLAIM = {1: "figures/fig1b_policy.png", 2: "figures/fig1c_geometry.png",
                   3: "figures/fig1c_geometry.png", 4: "figures/fig1d_fixed_points.png",
                   5: "figures/fig1e_timescales.png"}


@dataclass(frozen=True)
class Claim:
    """One claim of the paper as decided on a run.

    Attributes:
      id: 1..5 (docs/methods.md §6).
      text: the paper's claim in one sentence.
      rule: the decision rule, generated from the options it uses.
      holds: the verdict (False when the numbers needed are missing).
      stats: the numbers behind the decision (JSON-ready).
      measured: a one-line summary of those numbers.
      figure: the figure file that shows it.
      version: the rule version ("v1": `claims`, "v2": `claims_v2`; docs/methods.md).
      tested: False when the data cannot decide the rule (too few seeds, a run too short
        for its windows); `holds` is then False and `measured` says why.
    """

    id: int
    text: str
    rule: str
    holds: bool
    stats: dict
    measured: str
    figure: str
    version: str = "v1"
    tested: bool = True

    def to_dict(self) -> dict:
        return {"id": self.id, "version": self.version, "claim": self.text, "rule": self.rule,
                "holds": self.holds, "tested": self.tested, "measured": self.measured,
                "stats": self.stats, "figure": self.figure}


@dataclass(frozen=True)
class ClaimContext:
    """What the claim functions read.

    Attributes:
      results: the run's `AnalysisResults`.
      eval_return: [A, C_all] the trainer's deterministic return per update (or None).
      encoding: the run's input encoding ("angle" / "cos_sin").
      episode_len, dt: the task's episode length (steps) and seconds per step.
      excluded: agents left out (diverged).
      agents: the agents of this setting (None: all), before exclusion.
      options: the claim thresholds.
      return_episodes: episodes in R_t; tau_top: k of the top-k τ (analysis options).
      max_torque, saturation: the task's torque bound and the saturation fraction of the
        sharpness metric (`analysis.sharpness`).
    """

    results: AnalysisResults
    eval_return: np.ndarray | None = None
    encoding: str = "angle"
    episode_len: int = 200
    dt: float = 0.05
    excluded: frozenset = frozenset()
    agents: tuple | None = None
    options: ClaimOptions = DEFAULT_CLAIM_OPTIONS
    return_episodes: int = 10
    tau_top: int = 5
    max_torque: float = 2.0
    saturation: float = 0.9

    def group(self, obs: str) -> list[int]:
        allowed = None if self.agents is None else set(self.agents)
        return [i for i in self.results.agents_of(obs, self.excluded)
                if allowed is None or i in allowed]


def _stat(st) -> dict:
    """A `Stat` as JSON-ready dict (with the test's own names)."""
    return st.to_dict()


def _headline(tests: dict) -> dict:
    """The deciding test of a claim that needs all of `tests`: the weakest (largest p)."""
    finite = {k: v for k, v in tests.items() if math.isfinite(v.p_value)}
    if not finite:
        k = next(iter(tests))
        return {"decided_by": k, **_stat(tests[k])}
    k = max(finite, key=lambda name: finite[name].p_value)
    return {"decided_by": k, **_stat(finite[k])}


def _significant(st, alpha: float) -> bool:
    return bool(math.isfinite(st.p_value) and st.p_value < alpha)


def _decided(claim: Claim, reason: str | None, n: int) -> Claim:
    """`claim`, or, when the data cannot decide its rule (`reason`), the same claim marked
    tested=False with the reason and n in place of its statistics (as rules v2 do)."""
    if reason is None:
        return claim
    return dataclasses.replace(
        claim, holds=False, tested=False, measured=f"not tested: {reason} (n {n})",
        stats={"tested": False, "reason": reason, "n_seeds": n, "test": None,
               "effect_name": None, "p_value": None, "effect": None, "ci": [None, None]})


def _too_few(n: int, need: int, what: str) -> str | None:
    """Why `n` agents cannot decide a rule that needs `need` of `what` (None if they can)."""
    return f"needs at least {need} {what}" if n < need else None


def _pairs_by_seed(ctx: ClaimContext) -> tuple[list[int], list[int]]:
    """FO and PO agents of the same seeds (and setting), in matching order."""
    seeds = ctx.results.agent_seed
    po = {int(seeds[i]): i for i in ctx.group("po")}
    fo = [i for i in ctx.group("fo") if int(seeds[i]) in po]
    return fo, [po[int(seeds[i])] for i in fo]


def claim_sharpness(ctx: ClaimContext) -> Claim:
    """Claim 1: policy sharpness rises with training; FO ends sharper than PO.

    Rule: paired per-seed tests (one-sided, t-test on the seeds' differences): final vs
    update 0 for FO and for PO, and FO vs PO at the final update (pairs of the same seed).
    Holds if all three are significant at `alpha` on the primary metric (saturated
    fraction); the boundary contrast is reported with the same tests.
    """
    results, opts = ctx.results, ctx.options
    fo, po = ctx.group("fo"), ctx.group("po")
    fo_p, po_p = _pairs_by_seed(ctx)
    c0, cf = end_positions(results)
    conf = opts.ci_level
    metrics = {"saturated_fraction": results.sharpness,
               "boundary_contrast": results.boundary_contrast}
    tests: dict[str, dict] = {}
    for name, m in metrics.items():
        tests[name] = {
            "fo_rise": paired_test(m[fo, c0], m[fo, cf], confidence=conf),
            "po_rise": paired_test(m[po, c0], m[po, cf], confidence=conf),
            # paired_test names its effect (after − before); here it is FO − PO
            "fo_vs_po": paired_test(m[po_p, cf], m[fo_p, cf], confidence=conf).replace(
                effect_name="mean difference (FO − PO at the final update)")}
    primary = tests["saturated_fraction"]
    holds = all(_significant(t, opts.alpha) for t in primary.values())
    sec = tests["boundary_contrast"]
    sec_holds = all(_significant(t, opts.alpha) for t in sec.values())
    means = {f"{o}_{k}": json_floats([nanmean(metrics[k][idx, c]) for c in (c0, cf)])
             for o, idx in (("fo", fo), ("po", po)) for k in metrics}
    why = (_too_few(len(fo_p), 2, "FO and PO agents of the same seeds")
           or ("the run has one analysed checkpoint" if c0 == cf else None))
    return _decided(Claim(
        id=1, text="Policy sharpness rises with training; FO ends sharper than PO.",
        rule=(f"Sharpness = fraction of visited (θ, θ̇) bins of the policy map whose mean "
              f"torque saturates (|u| ≥ {ctx.saturation:g}·{ctx.max_torque:g} N·m). Paired "
              f"one-sided t-tests over seeds: final update vs update 0 for FO and for PO, and "
              f"FO vs PO at the final update (same seeds); holds if all three have "
              f"p < {opts.alpha:g}. Secondary metric, same tests: the boundary contrast "
              f"(mean torque jump between neighbouring bins of opposite sign / "
              f"{2 * ctx.max_torque:g} N·m)."),
        holds=holds, figure=FIGURE_OF_CLAIM[1],
        stats={**_headline(primary),
               "tests": {k: {t: _stat(v) for t, v in d.items()} for k, d in tests.items()},
               "boundary_contrast_holds": sec_holds, "seed_means_update0_final": means,
               "updates": [int(results.updates[c0]), int(results.updates[cf])]},
        measured=(f"saturated fraction rises FO {fmt_stat(primary['fo_rise'])}, PO "
                  f"{fmt_stat(primary['po_rise'])}; FO − PO at the end "
                  f"{fmt_stat(primary['fo_vs_po'])} (effects: mean paired differences, "
                  f"{pct(conf)} CI); boundary contrast FO − PO {fmt_stat(sec['fo_vs_po'])}")),
        why, len(fo_p))


def claim_ring(ctx: ClaimContext) -> Claim:
    """Claim 2: in PO, the hidden states form a ring ordered by θ.

    Rule: the PO ring score at the final update vs at update 0, and vs at each seed's most
    disordered checkpoint after learning starts (the lowest ring score from the first
    checkpoint that has gained `learning_start` of the seed's return gain up to, not
    including, the final one); paired one-sided t-tests, holds if both p < alpha. The
    variance of h explained by θ (rises) and the participation ratio (falls) get the
    same tests, as secondary evidence.
    """
    results, opts = ctx.results, ctx.options
    po = ctx.group("po")
    c0, cf = end_positions(results)
    conf = opts.ci_level
    dis = []
    for i in po:
        start = learning_start(results.roll_return[i], c0, opts.learning_start)
        seg = results.ring[i, start:cf]
        dis.append(start + int(np.nanargmin(seg)) if np.isfinite(seg).any() else start)
    dis = np.asarray(dis, int)
    rows = np.asarray(po, int)

    def at(m, cols):
        return m[rows, cols] if len(rows) else np.zeros(0)

    tests = {}
    for name, m, alt in (("ring_score", results.ring, "greater"),
                         ("theta_variance_explained", results.theta_var_explained, "greater"),
                         ("participation_ratio", results.participation_ratio, "less")):
        tests[name] = {
            "from_update0": paired_test(at(m, np.full(len(rows), c0)),
                                        at(m, np.full(len(rows), cf)), alternative=alt,
                                        confidence=conf),
            "from_most_disordered": paired_test(at(m, dis), at(m, np.full(len(rows), cf)),
                                                alternative=alt, confidence=conf)}
    primary = tests["ring_score"]
    holds = all(_significant(t, opts.alpha) for t in primary.values())
    ring_po = results.ring[po] if po else np.full((1, len(results.updates)), np.nan)
    input_ring = float(nanmean(results.ring_input[po].ravel())) if po else float("nan")
    why = (_too_few(len(po), 2, "PO agents")
           or ("the run has one analysed checkpoint" if c0 == cf else None))
    return _decided(Claim(
        id=2, text="In PO, the hidden states form a ring ordered by θ (ring score rises).",
        rule=(f"Ring score = |circular correlation| between θ and the angle of the θ-binned "
              f"mean hidden state in its top-2 PC plane (analysis.ring_score). PO agents; "
              f"paired one-sided t-tests over seeds of the final ring score against (a) "
              f"update 0 and (b) each seed's most disordered checkpoint after learning starts "
              f"(lowest ring score from the first checkpoint with {pct(opts.learning_start)} "
              f"of the seed's return gain, final excluded); holds if both p < {opts.alpha:g}. "
              f"Secondary, same tests: variance of h explained by θ (rises), participation "
              f"ratio (falls)."),
        holds=holds, figure=FIGURE_OF_CLAIM[2],
        stats={**_headline(primary),
               "tests": {k: {t: _stat(v) for t, v in d.items()} for k, d in tests.items()},
               "most_disordered_update": [int(results.updates[c]) for c in dis],
               "po_ring_mean": json_floats(nanmean(ring_po)),
               "input_ring_score": json_float(input_ring), "encoding": ctx.encoding},
        measured=(f"PO ring score {fmt(nanmean(ring_po[:, c0]))} → "
                  f"{fmt(nanmean(ring_po[:, cf]))} (seed means); rise from update 0 "
                  f"{fmt_stat(primary['from_update0'])}, from the most disordered checkpoint "
                  f"{fmt_stat(primary['from_most_disordered'])}; θ explains "
                  f"{fmt_stat(tests['theta_variance_explained']['from_update0'])} more "
                  f"variance; the input itself scores {fmt(input_ring)} (encoding "
                  f"{ctx.encoding!r}" + (": (cos θ, sin θ) is already a ring)"
                                         if ctx.encoding == "cos_sin" else ")"))),
        why, len(po))


def claim_fixed_points(ctx: ClaimContext) -> Claim:
    """Claim 3: a stable fixed point emerges before an unstable one, near θ = 0 and ±π.

    Rule, at each input x* (goal, zero, hanging), per PO seed: the stable and the
    unstable kind each emerge (first checkpoint from which one exists at `persist`
    consecutive checkpoints), the stable one first, and at the final update the stable
    fixed point nearest θ = 0 has |θ| < near_goal and the unstable one nearest π has
    |θ| > near_hanging. Holds at x* if more than half of the seeds meet all of it and
    a sign test of "stable first" over the seeds where both emerge has
    p < alpha / (number of inputs) (Bonferroni); the claim holds if it holds at one input.
    """
    results, opts = ctx.results, ctx.options
    po = ctx.group("po")
    c0, cf = end_positions(results)
    upd = results.updates.astype(int)
    names = [str(n) for n in results.fp_inputs.tolist()]
    alpha_x = opts.alpha / len(names)
    per_input, holds_at = {}, []
    for x, name in enumerate(names):
        stable = results.fp_stable[:, :, x]
        unstable = results.fp_valid[:, :, x] & ~stable
        es, eu, ths, thu = [], [], [], []
        for i in po:
            e_s = emergence(stable[i].any(-1), opts.persist)
            e_u = emergence(unstable[i].any(-1), opts.persist)
            es.append(int(upd[e_s]) if e_s >= 0 else -1)
            eu.append(int(upd[e_u]) if e_u >= 0 else -1)
            ths.append(final_theta(results.fp_theta[i, cf, x], stable[i, cf], 0.0))
            thu.append(final_theta(results.fp_theta[i, cf, x], unstable[i, cf], math.pi))
        es, eu = np.asarray(es, float), np.asarray(eu, float)
        ths, thu = np.asarray(ths), np.asarray(thu)
        both = (es >= 0) & (eu >= 0)
        first = both & (es < eu)
        near_g = np.isfinite(ths) & (wrap_abs(ths) < opts.near_goal)
        near_h = np.isfinite(thu) & (wrap_abs(thu) > opts.near_hanging)
        ok = first & near_g & near_h
        sign = sign_count(es[both], eu[both])
        gap = one_sample_test((eu - es)[both], confidence=opts.ci_level)
        h = bool(po and ok.sum() > len(po) / 2 and math.isfinite(sign.p_value)
                 and sign.p_value < alpha_x)
        holds_at.append(h)
        per_input[name] = {
            "holds": h, "test": "sign test (binomial, one-sided) of stable-first over seeds "
                                "where both emerge",
            "p_value": json_float(sign.p_value), "k_stable_first": sign.k, "n_both_emerge": sign.n,
            "alpha_bonferroni": json_float(alpha_x), "effect": json_float(gap.effect),
            "effect_name": "mean updates from stable to unstable emergence",
            "ci": [json_float(gap.ci[0]), json_float(gap.ci[1])], "n_seeds": len(po),
            "n_seeds_all_conditions": int(ok.sum()),
            "stable_emerges": [int(v) for v in es], "unstable_emerges": [int(v) for v in eu],
            "final_stable_theta": json_floats(ths), "final_unstable_theta": json_floats(thu),
            "stable_near_goal": [bool(v) for v in near_g],
            "unstable_near_hanging": [bool(v) for v in near_h],
            "checkpoints_with_stable": [int(v) for v in stable[po].any(-1).sum(-1)] if po else [],
            "checkpoints_with_unstable": ([int(v) for v in unstable[po].any(-1).sum(-1)]
                                          if po else [])}
    best = min(per_input, key=lambda k: (not per_input[k]["holds"],
                                         per_input[k]["p_value"] if per_input[k]["p_value"]
                                         is not None else 2.0))
    b = per_input[best]
    min_p = 0.5 ** len(po) if po else float("nan")
    # one seed can be tested (the sign test's smallest attainable p is reported)
    why = (_too_few(len(po), 1, "PO agent")
           or (f"the run's {len(upd)} analysed checkpoints are too few for a kind to emerge "
               f"before another ({opts.persist} consecutive ones each)"
               if len(upd) <= opts.persist else None))
    return _decided(Claim(
        id=3, text="A stable fixed point emerges before an unstable one; the stable one "
                   "ends near θ=0, the unstable one near θ=±π.",
        rule=(f"Fixed points of h ↦ F(h, x*) at each input x* in {names} (goal: θ=0, θ̇=0; "
              f"hanging: θ=π, θ̇=0). A kind (stable / unstable) emerges at the first analysed "
              f"checkpoint from which it exists at {opts.persist} consecutive checkpoints. Per "
              f"PO seed: both emerge, the stable one first, and at the final update the stable "
              f"FP nearest θ=0 has |θ| < {rad(opts.near_goal)} and the unstable FP nearest π "
              f"has |θ| > {rad(opts.near_hanging)}. Holds at x* if more than half of the seeds "
              f"meet all of it and a one-sided sign test of stable-first (seeds where both "
              f"emerge) has p < {opts.alpha:g}/{len(names)} (Bonferroni over inputs); holds if "
              f"it holds at any input."),
        holds=any(holds_at), figure=FIGURE_OF_CLAIM[3],
        stats={"test": b["test"], "effect": b["effect"], "effect_name": b["effect_name"],
               "ci": b["ci"], "p_value": b["p_value"], "n_seeds": len(po),
               "decided_by": best, "inputs": per_input, "min_attainable_p": json_float(min_p),
               "persist": opts.persist},
        measured="; ".join(
            f"{n}: stable first in {d['k_stable_first']}/{d['n_both_emerge']} seeds where both "
            f"emerge (p {fmt_p(d['p_value'])}), all conditions {d['n_seeds_all_conditions']}"
            f"/{d['n_seeds']}, stable emerges at {d['stable_emerges']}, unstable at "
            f"{d['unstable_emerges']} (−1: never)" for n, d in per_input.items())
        + (f"; with {len(po)} seeds the smallest attainable sign-test p is {fmt_p(min_p)}"
           if po and min_p >= alpha_x else "")), why, len(po))


def claim_reward_to_go(ctx: ClaimContext) -> Claim:
    """Claim 4: the stable fixed point's distance to its final location tracks reward-to-go.

    Rule: per PO seed, Pearson r between d_t (distance of the tracked stable fixed point at
    the goal input to its final location) and g_t = R_U − R_t over the checkpoints before
    the last; a one-sided one-sample t-test of the seeds' Fisher z = artanh(r) > 0 decides
    (seeds, not pooled checkpoints, are the independent units). The paper's pooled
    regression of g on d is reported beside it.
    """
    from scipy import stats as sps
    results, opts = ctx.results, ctx.options
    po = ctx.group("po")
    _, _, _, reg = reward_to_go_pairs(results, po, "return_R")
    rs = []
    for i in po:
        d = results.track_s_distance[i, :-1]
        g = results.return_R[i, -1] - results.return_R[i, :-1]
        keep = np.isfinite(d) & np.isfinite(g)
        if keep.sum() >= 3 and np.ptp(d[keep]) > 0 and np.ptp(g[keep]) > 0:
            rs.append(float(sps.pearsonr(d[keep], g[keep]).statistic))
        else:
            rs.append(float("nan"))
    rs = np.asarray(rs)
    z = np.arctanh(np.clip(rs, -0.999999, 0.999999))
    zt = one_sample_test(z, confidence=opts.ci_level)
    effect, ci = math.tanh(zt.effect) if math.isfinite(zt.effect) else float("nan"), \
        tuple(math.tanh(c) if math.isfinite(c) else float("nan") for c in zt.ci)
    holds = _significant(zt, opts.alpha) and effect > 0
    rd = reg.to_dict() if reg is not None else {}
    reg_eval = None
    if ctx.eval_return is not None and po:
        from rnnctl import analysis
        ev = np.asarray(ctx.eval_return, np.float64)[:, results.updates.astype(int)]
        reg_eval = analysis.reward_to_go_regression(results.track_s_distance[po], ev[po])
    why = (_too_few(len(po), 2, "PO agents")
           or (f"per-seed r needs at least 3 analysed checkpoints before the last; the run "
               f"has {len(results.updates) - 1}" if len(results.updates) < 4 else None))
    return _decided(Claim(
        id=4, text="The stable fixed point's distance to its final location correlates "
                   "with reward-to-go (significant, over seeds).",
        rule=(f"For each PO seed and analysed update t < U: d_t = distance of the tracked "
              f"stable FP (goal input) to its final location, g_t = R_U − R_t with R_t the "
              f"mean return of {ctx.return_episodes} deterministic episodes of checkpoint t. "
              f"Per-seed Pearson r(d, g); holds if a one-sided t-test of the seeds' Fisher z "
              f"has p < {opts.alpha:g} (effect: tanh of the mean z, {pct(opts.ci_level)} "
              f"CI). The paper's pooled regression of g on d is reported too."),
        holds=holds, figure=FIGURE_OF_CLAIM[4],
        stats={"test": "one-sample t-test of per-seed Fisher z(r) > 0", "effect": json_float(effect),
               "effect_name": "mean per-seed Pearson r (tanh of mean Fisher z)",
               "ci": [json_float(ci[0]), json_float(ci[1])], "p_value": json_float(zt.p_value),
               "p_wilcoxon": json_float(zt.p_wilcoxon), "n_seeds": zt.n_seeds,
               "per_seed_r": json_floats(rs),
               "pooled_regression": {k: (json_float(v) if k != "n" else int(v)) for k, v in rd.items()},
               "return": f"rollout_{ctx.return_episodes}_episodes",
               "eval_return_regression": ({k: (json_float(v) if k != "n" else int(v))
                                           for k, v in reg_eval.to_dict().items()}
                                          if reg_eval is not None else None)},
        measured=(f"mean per-seed r {fmt(effect)} [{fmt(ci[0])}, {fmt(ci[1])}], p "
                  f"{fmt_p(zt.p_value)} over {zt.n_seeds} PO seeds (per seed {fmt_list(rs)}); "
                  f"pooled regression slope {fmt(rd.get('slope'))}, r {fmt(rd.get('r'))}, "
                  f"p {fmt_p(rd.get('p_value'))}, n {rd.get('n', 0)} pairs")), why, len(po))


def claim_timescales(ctx: ClaimContext) -> Claim:
    """Claim 5: the top-k timescales rise, then fall over training.

    Rule (PO): per seed, the geometric mean of τ̄ over three windows fixed in advance —
    update 0, the early-to-middle window and the last updates; paired one-sided t-tests
    on log τ: middle > update 0 (rise) and middle > end (fall). Holds if both p < alpha.
    """
    results, opts = ctx.results, ctx.options
    fo, po = ctx.group("fo"), ctx.group("po")
    win = tau_windows(results.updates, opts.tau_middle, opts.tau_end_updates)
    conf = opts.ci_level
    tests, means = {}, {}
    for o, idx in (("po", po), ("fo", fo)):
        tau = results.tau_avg[idx] if idx else np.zeros((0, len(results.updates)))
        w = {k: window_gmean(tau, v) for k, v in win.items()}
        tests[o] = {"rise": paired_test(w["update0"], w["middle"], log=True, confidence=conf),
                    "fall": paired_test(w["end"], w["middle"], log=True, confidence=conf)}
        means[o] = {k: json_float(geometric_mean_ci(v, confidence=conf).gmean) if len(v) else None
                    for k, v in w.items()}
    t = tests["po"]
    holds = all(_significant(v, opts.alpha) for v in t.values())
    u = results.updates.astype(int)
    spans = {k: [int(u[v[0]]), int(u[v[-1]])] if v.size else None for k, v in win.items()}
    m = means["po"]
    empty = [k for k, v in win.items() if not v.size]
    why = (_too_few(len(po), 2, "PO agents")
           or (f"the run's {int(u[-1])} updates do not exceed the final window "
               f"({opts.tau_end_updates} updates)" if u[-1] <= opts.tau_end_updates else None)
           or (f"no analysed checkpoint in the {' and '.join(empty)} window" if empty
               else None))
    return _decided(Claim(
        id=5, text=f"The top-{ctx.tau_top} integration timescales τ rise, then fall over "
                   "training.",
        rule=(f"τ̄_t = mean over rollout steps of the mean of the top-{ctx.tau_top} "
              f"τ_i = 1/|ln|λ_i|| of the stable modes (|λ_i| < 1) of J_t = diag(1−h_t²)W_h. Per "
              f"PO seed, the geometric mean of τ̄ over three windows fixed in advance: update 0, "
              f"updates {pct(opts.tau_middle[0])}–{pct(opts.tau_middle[1])} of training, "
              f"and the last {opts.tau_end_updates} updates. Paired one-sided t-tests on log τ̄: "
              f"middle > update 0 (rise) and middle > last (fall); holds if both "
              f"p < {opts.alpha:g} (effects: ratios of geometric means, {pct(conf)} CI)."),
        holds=holds, figure=FIGURE_OF_CLAIM[5],
        stats={**_headline(t), "tests": {o: {k: _stat(v) for k, v in d.items()}
                                         for o, d in tests.items()},
               "window_updates": spans, "window_gmean": means, "unit": "steps",
               "dt_s": ctx.dt},
        measured=(f"PO τ̄ (geometric mean over seeds, steps) {fmt(m['update0'])} at update 0, "
                  f"{fmt(m['middle'])} in updates {spans['middle']}, {fmt(m['end'])} in the "
                  f"last {opts.tau_end_updates}: rise ×{fmt_stat(t['rise'])}, fall "
                  f"×{fmt_stat(t['fall'])}; FO rise ×{fmt_stat(tests['fo']['rise'])}, fall "
                  f"×{fmt_stat(tests['fo']['fall'])}")), why, len(po))


CLAIMS = (claim_sharpness, claim_ring, claim_fixed_points, claim_reward_to_go,
          claim_timescales)


def evaluate_claims(ctx: ClaimContext) -> list[Claim]:
    """The paper's five claims on the agents of `ctx`, in order."""
    return [f(ctx) for f in CLAIMS]
