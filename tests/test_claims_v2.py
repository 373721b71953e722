"""Rules v2 on hand-built results: each made to hold, and made to fail the way the paper's
traps would (a point present at initialisation, an arc instead of a ring, a converging
control that tracks reward as well, a trough instead of a peak, a run too short)."""
import numpy as np

from rnnctl.paper import claims_v2 as V
from rnnctl.paper.claims import ClaimContext
from test_claims import make_results

N_SEEDS, U = 8, 40


def ctx(results):
    return ClaimContext(results=results)


def curve(a, b, n=U + 1):
    return np.linspace(a, b, n)


def test_claim1_holds_and_fails():
    rng = np.random.default_rng(0)
    A = 2 * N_SEEDS
    b = np.zeros((A, U + 1))
    b[0::2] = curve(0.0, 0.8)
    b[1::2] = curve(0.0, 0.5)
    b += 0.02 * rng.random(b.shape)
    z = np.full((A, U + 1), 0.1)
    c = V.claim1_v2(ctx(make_results(N_SEEDS, U, probe_contrast=b, probe_near_zero=z)))
    assert c.holds and c.tested and c.version == "v2"
    # random weights of training's size switch as abruptly: no evidence of learning
    drift = b + 0.02 * rng.random(b.shape)
    assert not V.claim1_v2(ctx(make_results(N_SEEDS, U, probe_contrast=b, probe_near_zero=z,
                                            probe_contrast_drift=drift))).holds
    b[0::2] = b[1::2]                                      # FO no sharper, no more precise
    assert not V.claim1_v2(ctx(make_results(N_SEEDS, U, probe_contrast=b,
                                            probe_near_zero=z))).holds
    z2 = z.copy()
    z2[0::2, -11:] = 0.4                                   # ... but more near-zero torques
    assert V.claim1_v2(ctx(make_results(N_SEEDS, U, probe_contrast=b + 0.01 * rng.random(b.shape),
                                        probe_near_zero=z2))).holds
    # no boundary at update 0 (NaN) counts as contrast 0, not as a missing seed
    b3 = b.copy()
    b3[:, 0] = np.nan
    c3 = V.claim1_v2(ctx(make_results(N_SEEDS, U, probe_contrast=b3, probe_near_zero=z2)))
    assert c3.stats["tests"]["fo_rise"]["n_seeds"] == N_SEEDS
    short = V.claim1_v2(ctx(make_results(N_SEEDS, 8)))
    assert not short.tested and not short.holds and "not tested" in short.measured


def test_claim2_needs_more_than_weight_growth():
    rng = np.random.default_rng(1)
    A = 2 * N_SEEDS
    ring = curve(0.1, 0.9)[None].repeat(A, 0) + 0.02 * rng.random((A, U + 1))
    drift = curve(0.1, 0.45)[None].repeat(A, 0) + 0.02 * rng.random((A, U + 1))
    assert V.claim2_v2(ctx(make_results(N_SEEDS, U, ring=ring, ring_drift=drift))).holds
    # the drift control (weights grown along a random direction) rings as well
    assert not V.claim2_v2(ctx(make_results(N_SEEDS, U, ring=ring,
                                            ring_drift=ring + 0.01 * rng.random(ring.shape)))).holds
    # the input's own ring score rises as much (occupancy): not the network's doing
    assert not V.claim2_v2(ctx(make_results(N_SEEDS, U, ring=ring, ring_drift=drift,
                                            ring_input=ring.copy()))).holds


def _points(stable_from, unstable_from, stable_at0=False):
    """Fixed-point slots at every input: a stable point at θ 0.1 from `stable_from` and an
    unstable one at θ 3.0 from `unstable_from` (None: never), confident and near."""
    A, C, X, K = 2 * N_SEEDS, U + 1, 3, 2
    valid = np.zeros((A, C, X, K), bool)
    stable = np.zeros((A, C, X, K), bool)
    th = np.full((A, C, X, K), np.nan)
    if stable_from is not None:
        valid[:, stable_from:, :, 0] = stable[:, stable_from:, :, 0] = True
        th[:, stable_from:, :, 0] = 0.1
    if stable_at0:
        valid[:, 0, :, 0] = stable[:, 0, :, 0] = True
        th[:, 0, :, 0] = 0.1
    if unstable_from is not None:
        valid[:, unstable_from:, :, 1] = True
        th[:, unstable_from:, :, 1] = 3.0
    return dict(fp_valid=valid, fp_stable=stable, fp_theta_dec=th,
                fp_theta_conf=np.where(valid, 0.9, np.nan),
                fp_dist_visited=np.where(valid, 0.1, np.nan))


def test_claim3_counts_only_what_learning_creates():
    assert V.claim3_v2(ctx(make_results(N_SEEDS, U, **_points(5, 25)))).holds
    assert not V.claim3_v2(ctx(make_results(N_SEEDS, U, **_points(25, 5)))).holds
    # present from update 0: nothing emerged, whatever happens later
    at0 = V.claim3_v2(ctx(make_results(N_SEEDS, U, **_points(0, 25))))
    assert not at0.holds
    assert all(at0.stats["inputs"]["goal"]["stable_at_update0"])
    # gone at update 1 and back from 5: emergence by learning again
    assert V.claim3_v2(ctx(make_results(N_SEEDS, U, **_points(5, 25, stable_at0=True)))).holds
    # an unconfident decoder or a far point does not count
    far = _points(5, 25)
    far["fp_dist_visited"] = np.where(far["fp_valid"], 3.0, np.nan)
    assert not V.claim3_v2(ctx(make_results(N_SEEDS, U, **far))).holds
    # a flicker shorter than the persistence (10 updates) is not emergence
    flick = _points(5, 25)
    flick["fp_valid"][:, 30:, :, 1] = False
    assert V.emergence_v2(flick["fp_valid"][0, :, 0, 1], np.arange(U + 1), 10) == -1


def test_claim4_needs_more_than_converging_controls():
    rng = np.random.default_rng(2)
    A = 2 * N_SEEDS
    t = np.arange(U + 1)
    R = np.zeros((A, U + 1))
    d = np.zeros((A, U + 1))
    for i in range(A):
        bumps = np.cumsum(rng.normal(size=U + 1)) * 40       # a jagged learning curve
        R[i] = -1200 + 25 * t + bumps
        R[i, -1] = R[i].max() + 10
        d[i] = (R[i, -1] - R[i]) / 1000 + 0.01 * rng.random(U + 1)
    hm = np.repeat(np.linspace(1, 0, U + 1)[None, :, None], A, 0) * np.ones((1, 1, 2))
    smooth = np.tile(np.linspace(1, 0, U + 1), (A, 1))
    kw = dict(return_R=R, track_s_distance=d, param_dist_final=smooth, h_mean=hm)
    c = V.claim4_v2(ctx(make_results(N_SEEDS, U, **kw)))
    assert c.holds, c.measured
    # the fixed point moves as smoothly as the parameters: no geometric content
    kw["track_s_distance"] = smooth.copy() + 0.001 * rng.random((A, U + 1))
    assert not V.claim4_v2(ctx(make_results(N_SEEDS, U, **kw))).holds


def _tau(shape_fn, n_steps=100, seed=3):
    rng = np.random.default_rng(seed)
    A = 2 * N_SEEDS
    level = shape_fn(np.arange(U + 1))
    return level[None, :, None] * np.exp(0.1 * rng.normal(size=(A, U + 1, n_steps)))


def test_claim5_peak_against_trough():
    peak = _tau(lambda u: 2 + 6 * np.exp(-((u - 18) / 6.0) ** 2))
    c = V.claim5_v2(ctx(make_results(N_SEEDS, U, tau_step=peak)))
    assert c.holds and c.stats["n_peak"] == N_SEEDS and c.stats["n_trough"] == 0
    rising = _tau(lambda u: 2 + 0.15 * u)
    assert not V.claim5_v2(ctx(make_results(N_SEEDS, U, tau_step=rising))).holds
    trough = _tau(lambda u: 6 - 4 * np.exp(-((u - 18) / 6.0) ** 2))
    t = V.claim5_v2(ctx(make_results(N_SEEDS, U, tau_step=trough)))
    assert not t.holds and t.stats["n_trough"] == N_SEEDS


def test_block_bootstrap_interval_widens_with_correlation():
    rng = np.random.default_rng(4)
    iid = rng.normal(size=(1, 1000))
    corr = np.repeat(rng.normal(size=(1, 20)), 50, axis=1)      # 20 constant blocks
    _, lo1, hi1 = V.block_bootstrap_ci(iid, 20, 0.99, 2000)
    _, lo2, hi2 = V.block_bootstrap_ci(corr, 20, 0.99, 2000)
    assert (hi2 - lo2) > 3 * (hi1 - lo1)
