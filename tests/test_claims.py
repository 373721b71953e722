"""The paper's five claim rules on small synthetic results built by hand: each made to hold
and made to fail (an inverted rule makes these tests fail)."""
import math

import numpy as np
import pytest

from rnnctl.paper import claims as C
from rnnctl.paper.options import ClaimOptions
from rnnctl.paper.results import AnalysisResults

H, K, X, S, B, M = 2, 2, 3, 2, 4, 4


def make_results(n_seeds: int = 8, n_updates: int = 20, seed: int = 0, **fields
                 ) -> AnalysisResults:
    """FO and PO agents of `n_seeds` seeds (agent 2s: FO, 2s+1: PO) at every update, with
    neutral values everywhere; `fields` replace whole arrays."""
    rng = np.random.default_rng(seed)
    A, Cn = 2 * n_seeds, n_updates + 1
    nan = lambda *shape: np.full(shape, np.nan)   # noqa: E731
    base = dict(
        updates=np.arange(Cn), stages=np.asarray([0, n_updates]), usable=np.ones((A, Cn), bool),
        agent_seed=np.repeat(np.arange(n_seeds), 2),
        agent_obs=np.asarray(["fo", "po"] * n_seeds),
        roll_return=np.tile(np.linspace(-1200, -200, Cn), (A, 1)),
        return_R=np.tile(np.linspace(-1200, -200, Cn), (A, 1)),
        fp_inputs=np.asarray(["goal", "zero", "hanging"]),
        fp_xstar=nan(A, Cn, X, K, H), fp_valid=np.zeros((A, Cn, X, K), bool),
        fp_stable=np.zeros((A, Cn, X, K), bool), fp_qstar=nan(A, Cn, X, K),
        fp_max_abs_eig=nan(A, Cn, X, K), fp_theta=nan(A, Cn, X, K),
        fp_theta_dec=nan(A, Cn, X, K), fp_theta_conf=nan(A, Cn, X, K),
        fp_dist_visited=nan(A, Cn, X, K), fp_decoder_r2=np.ones((A, Cn)),
        track_s_path=nan(A, Cn, H), track_s_distance=nan(A, Cn), track_s_theta=nan(A, Cn),
        track_s_index=np.full((A, Cn), -1), track_s_start=np.full(A, -1),
        fp_slow=np.zeros((A, Cn, X, K), bool), drive_fp=nan(A, Cn, 5),
        drive_fp_aligned=nan(A, Cn, 5), drive_fp_tau=nan(A, Cn, 5), drive_fp_gain=nan(A, Cn),
        drive_traj=nan(A, Cn, 5), drive_traj_aligned=nan(A, Cn, 5), drive_traj_gain=nan(A, Cn),
        drive_steps=np.asarray(20),
        stage_flow_coords=nan(A, S, 2, 2, 2), stage_flow_speed=nan(A, S, 2, 2),
        stage_flow=nan(A, S, 2, 2, 2),
        manifold_theta_in=np.linspace(-np.pi, np.pi, M, endpoint=False),
        manifold_valid=np.zeros((A, S, M, K), bool), manifold_stable=np.zeros((A, S, M, K), bool),
        manifold_theta=nan(A, S, M, K), manifold_proj=nan(A, S, M, K, 3),
        tau_avg=np.full((A, Cn), 5.0) * np.exp(0.05 * rng.normal(size=(A, Cn))),
        tau_avg_ci=nan(A, Cn, 2), tau_mean=nan(A, Cn, 5), tau_ci=nan(A, Cn, 5, 2),
        tau_frac_capped=np.zeros((A, Cn)), tau_steps=np.asarray(500),
        tau_step=np.full((A, Cn, 40), 5.0), tau_unstable_frac=np.zeros((A, Cn)),
        saturation=np.full((A, Cn), 0.5), h_mean=nan(A, Cn, H),
        param_dist_final=np.tile(np.linspace(1, 0, Cn), (A, 1)),
        ring=np.full((A, Cn), 0.5) + 0.01 * rng.normal(size=(A, Cn)),
        ring_input=np.full((A, Cn), 0.1), ring_closure=np.full((A, Cn), 0.5),
        ring_drift=np.full((A, Cn), 0.3),
        ring_closure_input=np.full((A, Cn), 0.03),
        participation_ratio=np.full((A, Cn), 5.0), theta_var_explained=np.full((A, Cn), 0.3),
        pc_var_ratio=nan(A, Cn, 3), stage_pca_mean=nan(A, S, H),
        stage_pca_components=nan(A, S, 3, H), stage_proj=nan(A, S, 4, 3), stage_theta=nan(A, S, 4),
        sharpness=np.full((A, Cn), 0.3) + 0.01 * rng.normal(size=(A, Cn)),
        boundary_contrast=np.full((A, Cn), 0.3), map_visited_frac=np.ones((A, Cn)),
        stage_map_torque=nan(A, S, B, B), map_theta_edges=np.linspace(-np.pi, np.pi, B + 1),
        map_theta_dot_edges=np.linspace(-8, 8, B + 1),
        probe_contrast=np.full((A, Cn), 0.3), probe_near_zero=np.full((A, Cn), 0.2),
        probe_near_zero_hanging=np.full((A, Cn), 0.2), stage_probe_torque=nan(A, S, B, B),
        probe_contrast_drift=np.full((A, Cn), 0.1),
        probe_theta_centers=np.linspace(-np.pi, np.pi, B, endpoint=False) + np.pi / B,
        probe_theta_dot_centers=np.linspace(-8, 8, B),
        options_json=np.asarray("{}"), checkpoints_sha256=np.asarray(""))
    missing = set(AnalysisResults.field_names()) - set(base)
    assert not missing, missing                       # the builder covers every field
    base.update(fields)
    return AnalysisResults(**base)


def ctx(results, **kw):
    return C.ClaimContext(results=results, **kw)


def po_rows(r):
    return np.flatnonzero(r.agent_obs == "po")


def fo_rows(r):
    return np.flatnonzero(r.agent_obs == "fo")


# ----------------------------------------------------------------------------- claim 1

def _sharpness(final_fo, final_po, n_seeds=8, n_updates=20, seed=0):
    rng = np.random.default_rng(seed)
    A = 2 * n_seeds
    curve = np.linspace(0, 1, n_updates + 1)
    sh = np.zeros((A, n_updates + 1))
    sh[0::2] = final_fo * curve
    sh[1::2] = final_po * curve
    sh += 0.02 * rng.random((A, n_updates + 1))
    return make_results(n_seeds, n_updates, sharpness=sh, boundary_contrast=sh.copy())


def test_claim1_holds_when_both_sharpen_and_fo_ends_sharper():
    c = C.claim_sharpness(ctx(_sharpness(0.8, 0.5)))
    assert c.holds
    t = c.stats["tests"]["saturated_fraction"]
    assert t["fo_rise"]["p_value"] < 0.01 and t["po_rise"]["p_value"] < 0.01
    assert t["fo_vs_po"]["effect"] == pytest.approx(0.3, abs=0.03)    # FO − PO at the end
    assert c.stats["p_value"] < 0.05 and c.stats["n_seeds"] == 8


def test_claim1_fails_when_po_ends_sharper():
    c = C.claim_sharpness(ctx(_sharpness(0.5, 0.8)))
    assert not c.holds
    assert c.stats["decided_by"] == "fo_vs_po"
    assert c.stats["tests"]["saturated_fraction"]["fo_vs_po"]["effect"] < 0


def test_claim1_fails_without_a_rise():
    r = _sharpness(0.8, 0.5)
    flat = r.sharpness.copy()
    flat[1::2] = 0.3 + 0.01 * np.random.default_rng(1).normal(size=flat[1::2].shape)
    c = C.claim_sharpness(ctx(r.replace(sharpness=flat)))
    assert not c.holds
    assert c.stats["tests"]["saturated_fraction"]["po_rise"]["p_value"] > 0.05


# ----------------------------------------------------------------------------- claim 2

def _ring(rises: bool, n_seeds=8, n_updates=20):
    r = make_results(n_seeds, n_updates)
    rng = np.random.default_rng(2)
    ring = r.ring.copy()
    for i in po_rows(r):
        if rises:   # a dip after learning starts, then the ring forms
            ring[i] = np.concatenate([[0.3], np.full(4, 0.2), np.linspace(0.3, 0.9, n_updates - 4)])
        else:
            ring[i] = 0.9
        ring[i] += 0.02 * rng.normal(size=n_updates + 1)
    return r.replace(ring=ring)


def test_claim2_holds_when_the_ring_forms():
    c = C.claim_ring(ctx(_ring(True)))
    assert c.holds
    t = c.stats["tests"]["ring_score"]
    assert t["from_update0"]["effect"] == pytest.approx(0.6, abs=0.05)
    assert t["from_most_disordered"]["effect"] == pytest.approx(0.7, abs=0.05)
    assert all(1 <= u <= 5 for u in c.stats["most_disordered_update"])


def test_claim2_fails_when_the_ring_is_there_from_the_start():
    c = C.claim_ring(ctx(_ring(False)))
    assert not c.holds
    assert c.stats["tests"]["ring_score"]["from_update0"]["p_value"] > 0.05


# ----------------------------------------------------------------------------- claim 3

def _fixed_points(n_seeds=8, n_updates=20, stable_at=2, unstable_at=8, theta_s=0.1,
                  theta_u=3.0, x=2):
    r = make_results(n_seeds, n_updates)
    valid, stable, theta = r.fp_valid.copy(), r.fp_stable.copy(), r.fp_theta.copy()
    for i in po_rows(r):
        valid[i, stable_at:, x, 0] = stable[i, stable_at:, x, 0] = True
        theta[i, stable_at:, x, 0] = theta_s
        valid[i, unstable_at:, x, 1] = True
        theta[i, unstable_at:, x, 1] = theta_u
        # a transient unstable point that does not persist is not an emergence
        valid[i, 1, x, 1] = True
        theta[i, 1, x, 1] = theta_u
    return r.replace(fp_valid=valid, fp_stable=stable, fp_theta=theta)


def test_claim3_holds_when_stable_emerges_first_near_goal():
    c = C.claim_fixed_points(ctx(_fixed_points()))
    assert c.holds
    d = c.stats["inputs"]["hanging"]
    assert d["holds"] and c.stats["decided_by"] == "hanging"
    assert d["stable_emerges"] == [2] * 8 and d["unstable_emerges"] == [8] * 8
    assert d["k_stable_first"] == 8 and d["p_value"] == pytest.approx(0.5 ** 8)
    assert d["effect"] == pytest.approx(6.0)
    assert not c.stats["inputs"]["goal"]["holds"]         # nothing at the goal input


def test_claim3_fails_when_the_unstable_point_comes_first():
    c = C.claim_fixed_points(ctx(_fixed_points(stable_at=8, unstable_at=2)))
    assert not c.holds
    assert c.stats["inputs"]["hanging"]["k_stable_first"] == 0


def test_claim3_fails_when_the_points_sit_in_the_wrong_places():
    c = C.claim_fixed_points(ctx(_fixed_points(theta_s=2.0, theta_u=0.5)))
    assert not c.holds
    d = c.stats["inputs"]["hanging"]
    assert d["k_stable_first"] == 8 and d["n_seeds_all_conditions"] == 0


def test_claim3_cannot_hold_on_five_seeds_and_says_why():
    # five seeds, all stable-first: the sign test's smallest p is 1/32 > 0.05 / 3
    c = C.claim_fixed_points(ctx(_fixed_points(n_seeds=5)))
    assert not c.holds
    assert c.stats["min_attainable_p"] == pytest.approx(1 / 32)
    assert "smallest attainable" in c.measured


def test_emergence_needs_persistence():
    has = np.array([0, 1, 0, 1, 1, 0, 1, 1, 1, 1], bool)
    assert C.emergence(has, 3) == 6
    assert C.emergence(has, 2) == 3
    assert C.emergence(np.array([0, 0, 0, 1, 1], bool), 3) == 3     # to the end
    assert C.emergence(np.zeros(5, bool), 1) == -1


# ----------------------------------------------------------------------------- claim 4

def _reward_to_go(related: bool, n_seeds=8, n_updates=20):
    r = make_results(n_seeds, n_updates)
    rng = np.random.default_rng(4)
    dist, ret = r.track_s_distance.copy(), r.return_R.copy()
    for i in po_rows(r):
        d = np.exp(-np.arange(n_updates + 1) / 5.0) * 2.0
        d = d - d[-1]
        dist[i] = d
        g = 400 * d + 20 * rng.normal(size=d.shape) if related else 200 * rng.normal(size=d.shape)
        g[-1] = 0.0
        ret[i] = ret[i, -1] - g
    return r.replace(track_s_distance=dist, return_R=ret)


def test_claim4_holds_when_distance_tracks_reward_to_go():
    c = C.claim_reward_to_go(ctx(_reward_to_go(True)))
    assert c.holds
    assert c.stats["effect"] > 0.9 and c.stats["ci"][0] > 0.8
    assert len(c.stats["per_seed_r"]) == 8
    assert c.stats["pooled_regression"]["slope"] == pytest.approx(400, rel=0.1)


def test_claim4_fails_when_unrelated():
    c = C.claim_reward_to_go(ctx(_reward_to_go(False)))
    assert not c.holds
    assert c.stats["p_value"] > 0.05


# ----------------------------------------------------------------------------- claim 5

def _tau(shape: str, n_seeds=8, n_updates=100):
    r = make_results(n_seeds, n_updates)
    rng = np.random.default_rng(5)
    u = np.arange(n_updates + 1)
    if shape == "rise_fall":
        curve = 2 + 10 * np.exp(-((u - 30) / 15.0) ** 2) + 2 * (u > 60)
    elif shape == "fall":
        curve = 64 * np.exp(-u / 30.0) + 4
    else:
        curve = 2 + 0.1 * u
    tau = r.tau_avg.copy()
    for i in po_rows(r):
        tau[i] = curve * np.exp(0.1 * rng.normal(size=u.shape))
    return r.replace(tau_avg=tau)


def test_claim5_holds_for_rise_then_fall():
    c = C.claim_timescales(ctx(_tau("rise_fall")))
    assert c.holds
    po = c.stats["tests"]["po"]
    assert po["rise"]["effect"] > 3 and po["rise"]["ci"][0] > 1     # a ratio: positive CI
    assert po["fall"]["effect"] > 1.5
    assert c.stats["window_updates"] == {"update0": [0, 0], "middle": [10, 50],
                                         "end": [91, 100]}


def test_claim5_fails_for_a_fall_without_rise():
    c = C.claim_timescales(ctx(_tau("fall")))
    assert not c.holds
    assert c.stats["decided_by"] == "rise"
    assert c.stats["tests"]["po"]["rise"]["effect"] < 1
    assert c.stats["ci"][0] > 0                                       # never below zero


def test_claim5_fails_for_a_rise_without_fall():
    c = C.claim_timescales(ctx(_tau("rise")))
    assert not c.holds
    assert c.stats["tests"]["po"]["fall"]["effect"] < 1


# ----------------------------------------------------------------------------- rules, settings

def test_rule_texts_follow_the_options():
    opts = ClaimOptions(alpha=0.01, near_goal=math.pi / 6, near_hanging=5 * math.pi / 6,
                        persist=4, tau_end_updates=5, tau_middle=(0.2, 0.4))
    r = _fixed_points()
    k = dict(options=opts, return_episodes=7, tau_top=3, saturation=0.8, max_torque=2.5)
    texts = [f(ctx(r, **k)).rule for f in C.CLAIMS]
    assert all("0.01" in t for t in texts)
    assert "0.8·2.5 N·m" in texts[0]
    assert "π/6" in texts[2] and "5π/6" in texts[2] and "4 consecutive" in texts[2]
    assert "7 deterministic episodes" in texts[3]
    assert "top-3" in texts[4] and "last 5 updates" in texts[4] and "20%–40%" in texts[4]
    for t in texts:
        assert "0.05" not in t and "π/4" not in t


def test_claims_of_one_setting_use_only_its_agents():
    # two settings: the first one's seeds sharpen, the second one's do not
    good, bad = _sharpness(0.8, 0.5, n_seeds=6), _sharpness(0.8, 0.5, n_seeds=6)
    flat = np.full_like(bad.sharpness, 0.3) + 0.01 * np.random.default_rng(3).normal(
        size=bad.sharpness.shape)
    both = {f: np.concatenate([getattr(good, f), getattr(bad, f)])
            for f in ("agent_seed", "agent_obs", "sharpness", "boundary_contrast")}
    both["sharpness"][12:] = flat
    r = good.replace(**both)
    assert C.claim_sharpness(ctx(r, agents=tuple(range(12)))).holds
    assert not C.claim_sharpness(ctx(r, agents=tuple(range(12, 24)))).holds
    # excluded agents are left out
    c = C.claim_sharpness(ctx(r, agents=tuple(range(12)), excluded=frozenset({1, 3})))
    assert c.stats["tests"]["saturated_fraction"]["po_rise"]["n_seeds"] == 4


# ------------------------------------------------------------- claims the data cannot decide

def test_claims_without_their_agents_say_not_tested_with_reason_and_n():
    r = make_results(8, 20)
    po_only = ctx(r, excluded=frozenset(fo_rows(r).tolist()))
    c1 = C.claim_sharpness(po_only)
    assert not c1.tested and not c1.holds
    assert c1.stats["n_seeds"] == 0 and "FO and PO" in c1.stats["reason"]
    assert c1.measured.startswith("not tested: ") and "(n 0)" in c1.measured
    fo_only = ctx(r, excluded=frozenset(po_rows(r).tolist()))
    for c in C.evaluate_claims(fo_only):
        assert not c.tested and c.stats["n_seeds"] == 0, c.id
    assert all(c.tested for c in C.evaluate_claims(ctx(r)))      # enough agents: tested


def test_a_run_too_short_for_a_window_is_not_tested():
    r = make_results(8, 3)                  # 3 updates: inside the 10-update final window
    c5 = C.claim_timescales(ctx(r))
    assert not c5.tested and "final window" in c5.stats["reason"]
    assert c5.stats["n_seeds"] == 8
    c4 = C.claim_reward_to_go(ctx(make_results(8, 2)))
    assert not c4.tested and "3 analysed checkpoints" in c4.stats["reason"]


def test_claim1_names_its_fo_vs_po_effect():
    c = C.claim_sharpness(ctx(_sharpness(0.8, 0.5)))
    name = c.stats["tests"]["saturated_fraction"]["fo_vs_po"]["effect_name"]
    assert "FO − PO" in name and "after" not in name


def test_report_and_console_say_not_tested():
    from rnnctl.cli._tables import claims_table
    from rnnctl.paper.report import _verdict
    r = make_results(8, 3)
    cl = [c.to_dict() for c in C.evaluate_claims(ctx(r, excluded=frozenset(
        fo_rows(r).tolist())))]
    assert _verdict(cl[0]) == "not tested"
    out = claims_table({"claims": cl, "claims_v2": []})
    assert "1. not tested" in out and "does not hold" not in out.split("\n")[1]
