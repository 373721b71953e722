"""Across-seed tests on data whose answers we know: shifts, ratios, lognormal samples."""
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from rnnctl import analysis
from rnnctl.analysis import stats


def test_paired_test_effect_ci_and_p_by_hand():
    rng = np.random.default_rng(0)
    before = rng.normal(size=6)
    d = np.array([0.5, 1.0, 1.5, 2.0, 0.2, 0.8])       # after − before, exactly
    res = stats.paired_test(before, before + d, confidence=0.9)
    n, m, s = 6, d.mean(), d.std(ddof=1)
    q = sps.t.ppf(0.95, n - 1)                          # two-sided 90 %
    assert res.effect == pytest.approx(m)
    np.testing.assert_allclose(res.ci, (m - q * s / math.sqrt(n), m + q * s / math.sqrt(n)),
                               rtol=1e-9)
    t = m / (s / math.sqrt(n))
    assert res.p_value == pytest.approx(sps.t.sf(t, n - 1), rel=1e-9)   # one-sided, greater
    assert res.n_seeds == 6 and res.alternative == "greater" and res.confidence == 0.9
    assert res.p_wilcoxon == pytest.approx(1 / 64)      # all 6 positive: exact 1/2⁶
    assert res.test == "paired t-test" and "mean difference" in res.effect_name
    # "less" and "two-sided" from the same statistic
    assert stats.paired_test(before, before + d, alternative="less").p_value == pytest.approx(
        1 - res.p_value)
    assert stats.paired_test(before, before + d, alternative="two-sided").p_value == \
        pytest.approx(2 * res.p_value)


def test_paired_test_holds_for_a_large_shift_and_fails_for_none_or_negative():
    rng = np.random.default_rng(1)
    before = rng.normal(size=10)
    noise = 0.3 * rng.normal(size=10)
    up = stats.paired_test(before, before + 2.0 + noise)
    assert up.p_value < 0.01 and up.p_wilcoxon < 0.01 and up.ci[0] > 0
    flat = stats.paired_test(before, before + noise - noise.mean())      # mean shift 0
    assert flat.p_value == pytest.approx(0.5) and flat.ci[0] < 0 < flat.ci[1]
    down = stats.paired_test(before, before - 1.0 + noise)
    assert down.p_value > 0.5 and down.effect < 0


def test_paired_test_on_logs_is_a_positive_ratio():
    rng = np.random.default_rng(2)
    before = rng.lognormal(0.0, 3.0, 8)                 # heavy-tailed, like τ
    exact = stats.paired_test(before, 2 * before, log=True)
    assert exact.effect == pytest.approx(2.0)
    assert exact.ci[0] == pytest.approx(2.0) and exact.ci[1] == pytest.approx(2.0)
    assert exact.p_value < 1e-6 and "log" in exact.test and "ratio" in exact.effect_name
    after = before * rng.lognormal(0.0, 3.0, 8)
    noisy = stats.paired_test(before, after, log=True)
    assert 0 < noisy.ci[0] < noisy.effect < noisy.ci[1]
    # ratio of geometric means = exp of the mean log difference, CI = exp of its t-interval
    on_logs = stats.paired_test(np.log(before), np.log(after))
    assert noisy.effect == pytest.approx(math.exp(on_logs.effect))
    np.testing.assert_allclose(noisy.ci, np.exp(on_logs.ci))
    assert noisy.p_value == pytest.approx(on_logs.p_value)


def test_paired_test_drops_nan_pairs_and_handles_too_few():
    before = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    after = np.array([2.0, np.nan, 3.0, 6.0, 5.5])
    res = stats.paired_test(before, after)
    assert res.n_seeds == 3
    assert res.effect == pytest.approx(np.mean([1.0, 2.0, 0.5]))
    # log=True also drops non-positive values
    assert stats.paired_test([1.0, -1.0, 2.0], [2.0, 2.0, 3.0], log=True).n_seeds == 2
    for b, a in (([1.0], [2.0]), ([], []), ([np.nan, 1.0], [1.0, np.nan])):
        few = stats.paired_test(b, a)
        assert math.isnan(few.effect) and math.isnan(few.p_value)
        assert all(math.isnan(c) for c in few.ci) and math.isnan(few.p_wilcoxon)
        assert "not computed" in few.test and few.n_seeds == len(
            [x for x, y in zip(b, a) if np.isfinite(x) and np.isfinite(y)])
    # no change at all: no Wilcoxon test; t-test gives no evidence
    same = stats.paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(same.p_wilcoxon) and same.effect == 0.0
    with pytest.raises(ValueError):
        stats.paired_test([1.0, 2.0], [1.0, 2.0], alternative="bigger")


def test_stat_to_dict_is_strict_json():
    d = stats.paired_test([1.0, 2.0, 3.0], [2.0, 2.5, 4.5]).to_dict()
    assert set(d) == {"test", "effect", "effect_name", "ci", "confidence", "p_value",
                      "p_wilcoxon", "n_seeds", "alternative"}
    json.dumps(d, allow_nan=False)
    nan = stats.paired_test([1.0], [2.0]).to_dict()
    assert nan["effect"] is None and nan["ci"] == [None, None]
    json.dumps(nan, allow_nan=False)


def test_one_sample_test_against_scipy():
    x = np.array([0.3, 0.5, -0.1, 0.8, 0.4, np.nan])
    res = stats.one_sample_test(x, popmean=0.1, confidence=0.95)
    ref = sps.ttest_1samp(x[:5], 0.1, alternative="greater")
    assert res.n_seeds == 5 and res.p_value == pytest.approx(ref.pvalue)
    assert res.effect == pytest.approx(x[:5].mean())
    ci = sps.ttest_1samp(x[:5], 0.1).confidence_interval(0.95)
    np.testing.assert_allclose(res.ci, (ci.low, ci.high))
    assert res.p_wilcoxon == pytest.approx(
        sps.wilcoxon(x[:5] - 0.1, alternative="greater").pvalue)
    assert math.isnan(stats.one_sample_test([1.0]).p_value)


def test_geometric_mean_ci_covers_the_true_value_and_is_positive():
    rng = np.random.default_rng(3)
    x = rng.lognormal(1.0, 2.0, 200)                    # true geometric mean e¹
    g, lo, hi = stats.geometric_mean_ci(x)
    assert g == pytest.approx(np.exp(np.log(x).mean()))
    assert 0 < lo < math.e < hi
    assert lo < g < hi
    # a heavy-tailed small sample still gives a positive interval
    g5, lo5, hi5 = stats.geometric_mean_ci(rng.lognormal(0.0, 4.0, 5))
    assert 0 < lo5 < g5 < hi5
    # reproducible with the seed
    assert stats.geometric_mean_ci(x, seed=7) == stats.geometric_mean_ci(x, seed=7)


def test_geometric_mean_ci_per_column_drops_bad_values():
    rng = np.random.default_rng(4)
    x = rng.lognormal(0.0, 1.0, (30, 4))                # [seeds, checkpoints]
    x[0, 1] = np.nan
    x[1, 2] = -3.0
    x[:, 3] = 5.0                                       # constant column
    res = stats.geometric_mean_ci(x, n_resamples=500)
    assert res.gmean.shape == res.low.shape == (4,)
    for c, keep in ((0, slice(None)), (1, slice(1, None)),
                    (2, np.r_[0, 2:30])):
        assert res.gmean[c] == pytest.approx(np.exp(np.log(x[keep, c]).mean()))
    assert res.low[3] == res.high[3] == pytest.approx(5.0)
    assert (res.low[:3] > 0).all()
    assert (res.low[:3] < res.gmean[:3]).all() and (res.gmean[:3] < res.high[:3]).all()
    # same numbers as one column alone (an all-valid column is in the vectorised group)
    one = stats.geometric_mean_ci(x[1:, 1], n_resamples=500)
    assert one.gmean == pytest.approx(res.gmean[1])
    # a column with one value or none
    few = stats.geometric_mean_ci(np.array([[2.0, np.nan], [np.nan, np.nan]]))
    assert few.gmean[0] == 2.0 and np.isnan(few.low[0]) and np.isnan(few.gmean[1])


def test_mean_ci_by_hand_and_nan_aware():
    x = np.array([[1.0, 2.0, np.nan], [2.0, 4.0, np.nan], [4.0, np.nan, 3.0]])
    r = stats.mean_ci(x, 0.95)
    col = np.array([1.0, 2.0, 4.0])
    half = sps.t.ppf(0.975, 2) * col.std(ddof=1) / math.sqrt(3)
    assert r.mean[0] == pytest.approx(col.mean())
    assert (r.low[0], r.high[0]) == pytest.approx((col.mean() - half, col.mean() + half))
    assert r.sd[0] == pytest.approx(col.std(ddof=1))
    np.testing.assert_array_equal(r.n, [3, 2, 1])
    assert r.mean[1] == 3.0 and r.sd[1] == pytest.approx(math.sqrt(2))
    assert r.mean[2] == 3.0 and np.isnan(r.sd[2]) and np.isnan(r.low[2])
    one = stats.mean_ci(col)
    assert isinstance(one.mean, float) and one.n == 3


def test_sign_count():
    before = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan])
    after = np.array([2.0, 3.0, 4.0, 5.0, 4.0, 6.0, 1.0])    # 4 up, 1 down, 1 tie, 1 NaN
    k, n, p = stats.sign_count(before, after)
    assert (k, n) == (4, 5)
    assert p == pytest.approx(6 / 32)                        # P(K ≥ 4), K ~ Bin(5, ½)
    assert math.isnan(stats.sign_count([1.0], [1.0]).p_value)


def test_exported_from_analysis():
    assert analysis.paired_test is stats.paired_test and analysis.Stat is stats.Stat
    assert analysis.stats.mean_ci is stats.mean_ci
def test_bootstrap_mean_ci_stays_within_the_data():
    counts = np.array([[0, 1], [0, 3], [1, 2], [0, 2], [2, 2]], float)
    r = stats.bootstrap_mean_ci(counts)
    np.testing.assert_allclose(r.mean, [0.6, 2.0])
    assert (r.low >= counts.min(0)).all() and (r.high <= counts.max(0)).all()
    assert (r.low < r.mean).all() and (r.mean < r.high).all()
    one = stats.bootstrap_mean_ci(np.array([3.0, 3.0, np.nan]))
    assert one.low == one.high == one.mean == 3.0 and one.n == 2
    assert np.isnan(stats.bootstrap_mean_ci(np.array([1.0])).low)
