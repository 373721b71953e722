"""Across-seed statistics that decide the paper's claims (docs/methods.md §5-§7), on the host.

Each claim is a per-seed comparison (before vs after training, FO vs PO, a window of
checkpoints vs another) over a handful of seeds, so every test here works on small [n]
arrays, drops NaN pairs, and degrades to NaN rather than raising when too few seeds remain:
a claim that cannot be tested is reported as such, with its n. Everything is NumPy/SciPy;
`scipy.stats` is imported inside the functions because it is a slow import and
`from rnnctl import analysis` stays light.

Timescales τ are positive and heavy-tailed: compare them with `log=True` (a ratio of
geometric means) and summarise them with `geometric_mean_ci`, never a t-interval on raw τ.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from flax import struct

__all__ = ["Stat", "paired_test", "one_sample_test", "geometric_mean_ci", "GeometricMeanCI",
           "mean_ci", "MeanCI", "bootstrap_mean_ci", "sign_count", "SignCount"]

_ALTERNATIVES = ("greater", "less", "two-sided")


def _json_float(x) -> float | None:
    # Strict JSON has no NaN/inf; None marks "not computed" (as the run summaries do).
    x = float(x)
    return x if math.isfinite(x) else None


@struct.dataclass
class Stat:
    """One per-seed test of a claim: the test, its effect size, CI and p-values.

    Attributes:
      test: what was computed, e.g. "paired t-test on log values"; says why when not
        computed (too few seeds).
      effect: [] effect size in the units named by `effect_name` (NaN if not computed).
      effect_name: e.g. "mean difference (after − before)", "ratio of geometric means".
      ci: (low, high) two-sided confidence interval of `effect` at `confidence`.
      confidence: coverage of `ci`, e.g. 0.95.
      p_value: p of the t-test under `alternative`.
      n_seeds: seeds (pairs) left after dropping NaN.
      alternative: "greater", "less" or "two-sided" (the effect's direction under H1:
        "greater" means after > before, or mean > popmean).
      p_wilcoxon: p of the Wilcoxon signed-rank test on the same differences and
        alternative (rank-based check on the t-test); NaN if n < 2 or all differences are 0.
    """

    test: str = struct.field(pytree_node=False)
    effect: float
    effect_name: str = struct.field(pytree_node=False)
    ci: tuple[float, float]
    confidence: float = struct.field(pytree_node=False)
    p_value: float
    n_seeds: int = struct.field(pytree_node=False)
    alternative: str = struct.field(pytree_node=False)
    p_wilcoxon: float = float("nan")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (NaN and ±inf become None)."""
        return {"test": self.test, "effect": _json_float(self.effect),
                "effect_name": self.effect_name,
                "ci": [_json_float(self.ci[0]), _json_float(self.ci[1])],
                "confidence": float(self.confidence), "p_value": _json_float(self.p_value),
                "p_wilcoxon": _json_float(self.p_wilcoxon), "n_seeds": int(self.n_seeds),
                "alternative": self.alternative}


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def _wilcoxon_p(d: np.ndarray, alternative: str) -> float:
    from scipy import stats
    # scipy answers p = 1 (with a warning) when every difference is 0; there is no test.
    if d.size < 2 or not np.any(d != 0):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # ties / small-n notes
        return float(stats.wilcoxon(d, alternative=alternative).pvalue)


def _t_summary(d: np.ndarray, alternative: str, confidence: float, test_fn):
    """(mean, (lo, hi), p) of a t-test `test_fn(alternative)` on differences `d`."""
    with warnings.catch_warnings():
        # Equal differences (zero spread) make t = ±inf: scipy warns, and its CI is NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(test_fn(alternative).pvalue)
        ci = test_fn("two-sided").confidence_interval(confidence_level=confidence)
    mean = float(np.mean(d))
    if np.ptp(d) == 0:          # every seed moved by exactly the same amount
        return mean, (mean, mean), p
    return mean, (float(ci.low), float(ci.high)), p


def paired_test(before, after, *, log: bool = False, alternative: str = "greater",
                confidence: float = 0.95) -> Stat:
    """Paired per-seed test of `after` against `before` (t-test, plus Wilcoxon).

    The differences are d_i = after_i − before_i (or log after_i − log before_i with
    `log=True`). The t-test is `scipy.stats.ttest_rel` under `alternative` ("greater":
    H1 is after > before). The CI is always the two-sided t-interval of the mean
    difference at `confidence` (so it is finite and reports the effect's size; a CI that
    excludes 0 implies the one-sided p < (1 − confidence)/2).

    With `log=True` (positive, heavy-tailed quantities such as timescales τ) the test runs
    on log values and the effect is the ratio of geometric means exp(mean d) with the
    interval exponentiated, so effect and CI are always positive and 1 means no change.
    If every d_i is equal, the CI collapses to that value.

    Pairs with a NaN or inf (and with `log=True`, a non-positive value) are dropped, and
    n counts what is left; with n < 2 effect, CI and p are NaN and `test` says so.

    Args:
      before: [n] one value per seed.
      after: [n] the same seeds' values after (or in the other condition).
      log: test log values and report a ratio of geometric means.
      alternative: "greater", "less" or "two-sided".
      confidence: coverage of the two-sided CI.
    Returns:
      `Stat`.
    """
    from scipy import stats

    _check_alternative(alternative)
    b = np.asarray(before, np.float64).ravel()
    a = np.asarray(after, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"before and after must pair up, got {b.shape} and {a.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    if log:
        keep &= (a > 0) & (b > 0)
    a, b = a[keep], b[keep]
    if log:
        a, b = np.log(a), np.log(b)
    n = int(a.size)
    test = "paired t-test on log values" if log else "paired t-test"
    effect_name = ("ratio of geometric means (after / before)" if log
                   else "mean difference (after − before)")
    if n < 2:
        nan = float("nan")
        return Stat(test=f"{test} not computed: n = {n} < 2 pairs", effect=nan,
                    effect_name=effect_name, ci=(nan, nan), confidence=confidence,
                    p_value=nan, n_seeds=n, alternative=alternative, p_wilcoxon=nan)
    d = a - b
    mean, ci, p = _t_summary(d, alternative, confidence,
                             lambda alt: stats.ttest_rel(a, b, alternative=alt))
    if log:
        mean, ci = math.exp(mean), (math.exp(ci[0]), math.exp(ci[1]))
    return Stat(test=test, effect=mean, effect_name=effect_name, ci=ci,
                confidence=confidence, p_value=p, n_seeds=n, alternative=alternative,
                p_wilcoxon=_wilcoxon_p(d, alternative))


def one_sample_test(x, *, popmean: float = 0.0, alternative: str = "greater",
                    confidence: float = 0.95) -> Stat:
    """One-sample t-test of the seeds' mean against `popmean` (plus Wilcoxon).

    `scipy.stats.ttest_1samp` under `alternative` ("greater": H1 is mean > popmean); the
    effect is the sample mean with its two-sided t-interval at `confidence`. The Wilcoxon
    signed-rank test runs on x − popmean. NaN/inf values are dropped; with n < 2 effect,
    CI and p are NaN and `test` says so.

    Args:
      x: [n] one value per seed (e.g. a per-seed difference or slope).
      popmean: the mean under H0.
      alternative: "greater", "less" or "two-sided".
      confidence: coverage of the two-sided CI.
    Returns:
      `Stat` (effect: the mean of x, not its difference from `popmean`).
    """
    from scipy import stats

    _check_alternative(alternative)
    x = np.asarray(x, np.float64).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    test = f"one-sample t-test against {popmean:g}"
    effect_name = "mean"
    if n < 2:
        nan = float("nan")
        return Stat(test=f"{test} not computed: n = {n} < 2", effect=nan,
                    effect_name=effect_name, ci=(nan, nan), confidence=confidence,
                    p_value=nan, n_seeds=n, alternative=alternative, p_wilcoxon=nan)
    mean, ci, p = _t_summary(x, alternative, confidence,
                             lambda alt: stats.ttest_1samp(x, popmean, alternative=alt))
    return Stat(test=test, effect=mean, effect_name=effect_name, ci=ci,
                confidence=confidence, p_value=p, n_seeds=n, alternative=alternative,
                p_wilcoxon=_wilcoxon_p(x - popmean, alternative))


class GeometricMeanCI(NamedTuple):
    """Geometric mean with a bootstrap CI; each [] for an [n] input, [...] for [n, ...]."""

    gmean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def geometric_mean_ci(x, *, confidence: float = 0.95, n_resamples: int = 2000,
                      seed: int = 0, method: str = "BCa") -> GeometricMeanCI:
    """Geometric mean of positive samples with a bootstrap CI (for heavy-tailed τ).

    gmean = exp(mean log x); the interval is `scipy.stats.bootstrap` (`method`, default
    BCa) of the mean of log x, exponentiated, so it is always positive. Along axis 0:
    an [n, ...] array (e.g. [seeds, checkpoints]) gives one curve [...] in a vectorised
    bootstrap. Non-positive and NaN values are dropped per column (columns that share a
    missing-value pattern are bootstrapped together). A column with one value has NaN
    CI; one whose values are all equal has CI = (gmean, gmean); an empty one is all NaN.

    Args:
      x: [n] or [n, ...] positive samples along axis 0.
      confidence: coverage of the two-sided interval.
      n_resamples: bootstrap resamples.
      seed: seed of the bootstrap's NumPy generator (reproducible intervals).
      method: "BCa", "percentile" or "basic" (`scipy.stats.bootstrap`).
    Returns:
      `GeometricMeanCI(gmean, low, high)`, floats for [n] input, else arrays [...].
    """
    from scipy import stats

    x = np.asarray(x, np.float64)
    if x.ndim == 0:
        raise ValueError("x needs a sample axis 0")
    cols = x.reshape(x.shape[0], -1)                              # [n, C]
    valid = np.isfinite(cols) & (cols > 0)
    logs = np.log(np.where(valid, cols, 1.0))
    gmean = np.full(cols.shape[1], np.nan)
    low, high = gmean.copy(), gmean.copy()
    # One vectorised bootstrap per distinct missing-value pattern (usually just one).
    patterns, which = np.unique(valid.T, axis=0, return_inverse=True)
    for k, mask in enumerate(patterns):
        c = np.flatnonzero(which.ravel() == k)
        sample = logs[mask][:, c]                                 # [m, len(c)]
        m = sample.shape[0]
        if m == 0:
            continue
        gmean[c] = np.exp(sample.mean(0))
        if m < 2:
            continue
        constant = np.ptp(sample, axis=0) == 0
        lo, hi = np.exp(sample.mean(0)), np.exp(sample.mean(0))
        if not constant.all():
            with warnings.catch_warnings():
                # Degenerate (constant) columns warn and give NaN; they are set below.
                warnings.simplefilter("ignore")
                res = stats.bootstrap((sample,), np.mean, n_resamples=n_resamples,
                                      vectorized=True, axis=0, confidence_level=confidence,
                                      method=method, rng=np.random.default_rng(seed))
            lo = np.where(constant, lo, np.exp(res.confidence_interval.low))
            hi = np.where(constant, hi, np.exp(res.confidence_interval.high))
        low[c], high[c] = lo, hi
    shape = x.shape[1:]
    if not shape:
        return GeometricMeanCI(float(gmean[0]), float(low[0]), float(high[0]))
    return GeometricMeanCI(gmean.reshape(shape), low.reshape(shape), high.reshape(shape))


class MeanCI(NamedTuple):
    """Mean, two-sided t-interval, sd and count; each [...] (axis removed)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sd: np.ndarray
    n: np.ndarray


def mean_ci(x, confidence: float = 0.95, *, axis: int = 0) -> MeanCI:
    """NaN-aware mean with a Student-t interval and the sample sd, along `axis`.

    mean ± t_{(1+c)/2, n−1} · sd/√n (`scipy.stats.t.interval`), sd with ddof = 1, n the
    finite values per column. Columns with n < 2 get NaN sd and interval (and a NaN mean
    if n = 0). Host-side companion of the jittable `linearize.mean_ci`, which needs
    complete data and raises for n < 2.

    Args:
      x: [..., n, ...] samples along `axis` (NaN/inf ignored).
      confidence: coverage c of the interval.
      axis: the sample axis.
    Returns:
      `MeanCI(mean, low, high, sd, n)`, each with `axis` removed (floats for [n] input).
    """
    from scipy import stats

    a = np.asarray(x, np.float64)
    a = np.where(np.isfinite(a), a, np.nan)
    n = np.isfinite(a).sum(axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # all-NaN / n = 1 columns
        mean = np.nanmean(a, axis=axis)
        sd = np.where(n > 1, np.nanstd(a, axis=axis, ddof=1), np.nan)
        sem = sd / np.sqrt(np.maximum(n, 1))
        low, high = stats.t.interval(confidence, np.maximum(n - 1, 1), loc=mean, scale=sem)
    low, high = np.where(n > 1, low, np.nan), np.where(n > 1, high, np.nan)
    if np.ndim(mean) == 0:
        return MeanCI(float(mean), float(low), float(high), float(sd), int(n))
    return MeanCI(mean, low, high, sd, n)


class SignCount(NamedTuple):
    """k of n seeds moved in the claimed direction, and the sign test's p."""

    k: int
    n: int
    p_value: float


def sign_count(before, after, *, alternative: str = "greater") -> SignCount:
    """Sign test for "k of n seeds": how many seeds have after > before.

    Ties and NaN pairs are dropped (n counts the rest); p is the exact binomial test
    (`scipy.stats.binomtest`, p = ½) of k under `alternative` ("greater": more seeds
    rise than chance). NaN p when n = 0.

    Args:
      before: [n] one value per seed.
      after: [n] the same seeds' values after.
      alternative: "greater", "less" or "two-sided".
    Returns:
      `SignCount(k, n, p_value)`.
    """
    from scipy import stats

    _check_alternative(alternative)
    b = np.asarray(before, np.float64).ravel()
    a = np.asarray(after, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"before and after must pair up, got {b.shape} and {a.shape}")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    d = d[d != 0]
    k, n = int((d > 0).sum()), int(d.size)
    p = float(stats.binomtest(k, n, 0.5, alternative=alternative).pvalue) if n else float("nan")
    return SignCount(k, n, p)


def bootstrap_mean_ci(x, confidence: float = 0.95, *, n_resamples: int = 2000,
                      seed: int = 0) -> MeanCI:
    """Mean with a percentile-bootstrap interval, along axis 0, for bounded quantities.

    A percentile interval lies within the range of the data, so a count (fixed points)
    or a fraction never gets an interval below 0 as a t-interval on few seeds can
    (`scipy.stats.bootstrap`, method "percentile", vectorised over columns). NaN values
    are dropped per column; a column with one value, or all equal, has CI = (mean, mean)
    when constant and NaN when n < 2.

    Args:
      x: [n] or [n, ...] samples along axis 0.
      confidence: coverage of the two-sided interval.
      n_resamples, seed: the bootstrap's resamples and NumPy generator seed.
    Returns:
      `MeanCI(mean, low, high, sd, n)` (floats for [n] input, else arrays [...]).
    """
    from scipy import stats

    a = np.asarray(x, np.float64)
    if a.ndim == 0:
        raise ValueError("x needs a sample axis 0")
    cols = a.reshape(a.shape[0], -1)
    ok = np.isfinite(cols)
    n = ok.sum(0)
    mean = np.full(cols.shape[1], np.nan)
    low, high, sd = mean.copy(), mean.copy(), mean.copy()
    for c in range(cols.shape[1]):
        v = cols[ok[:, c], c]
        if v.size == 0:
            continue
        mean[c] = v.mean()
        if v.size < 2:
            continue
        sd[c] = v.std(ddof=1)
        if np.ptp(v) == 0:
            low[c] = high[c] = mean[c]
            continue
        res = stats.bootstrap((v,), np.mean, n_resamples=n_resamples,
                              confidence_level=confidence, method="percentile",
                              rng=np.random.default_rng(seed))
        low[c], high[c] = res.confidence_interval.low, res.confidence_interval.high
    shape = a.shape[1:]
    if not shape:
        return MeanCI(float(mean[0]), float(low[0]), float(high[0]), float(sd[0]), int(n[0]))
    return MeanCI(mean.reshape(shape), low.reshape(shape), high.reshape(shape),
                  sd.reshape(shape), n.reshape(shape))
