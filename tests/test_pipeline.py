"""rnnctl.paper: a tiny trained run → analysis.npz, figures, summary.json, report.md.

One 4-agent, 3-update run is trained once per module; every test analyses a copy of it with
`QUICK_OPTIONS` (compiled programs are cached across tests, so only the first analysis
pays for compilation).
"""
import importlib
import json
import math
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import sweep
from rnnctl import analysis, paper, plotting, runs
from rnnctl.paper import compute, results as paper_results
from rnnctl.experiment import make_agents, train_to_dir
from rnnctl.paper import QUICK_OPTIONS, PipelineError, analyse_run

# The module (`analysis.linearize` is the function `linear_system.linearize`).
linearize = importlib.import_module("rnnctl.analysis.linearize")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The run analysed here is the `--quick` sweep's (its config and agents), which
# test_sweep_cli trains and analyses too (and test_faults analyses the same shapes): the
# programs then come from the session's compile cache when those compiled them first.
QUICK_SWEEP = sweep.parse_args(["--quick"])
RUN_FILES = (runs.CONFIG_FILE, runs.CHECKPOINTS_FILE, runs.METRICS_FILE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "run"
    train_to_dir(QUICK_SWEEP.config, make_agents(range(QUICK_SWEEP.seeds), QUICK_SWEEP.obs),
                 path, progress=False)
    return path


def _copy(run_dir, dest):
    dest.mkdir()
    for name in RUN_FILES:
        shutil.copy(run_dir / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def analysed(trained, tmp_path_factory):
    """A copy of the run, analysed once with the quick options."""
    path = _copy(trained, tmp_path_factory.mktemp("analysed") / "run")
    summary = analyse_run(path, progress=False, options=QUICK_OPTIONS)
    return path, summary


def _strict_json(text):
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=reject)


def _without_timing(summary):
    """What two analyses of the same run share (not their times, load or machine)."""
    return {k: v for k, v in summary.items() if k not in ("timing", "provenance")}


def test_writes_every_file(analysed):
    path, summary = analysed
    for name in (paper.ANALYSIS_FILE, paper.SUMMARY_FILE, paper.REPORT_FILE):
        assert (path / name).is_file(), name
    from rnnctl.provenance import REQUIRED_KEYS
    assert set(REQUIRED_KEYS) <= set(summary["provenance"])
    assert summary["provenance"]["versions"]["jax"] and summary["provenance"]["machine"]["cores"]
    for name in paper.FIGURE_FILES.values():
        png = path / paper.FIGURES_DIR / name
        assert png.read_bytes()[:8] == PNG_SIGNATURE, name
        assert png.stat().st_size > 5_000, name
    # nothing half-written left behind
    assert not [p for p in path.rglob("*.tmp")]
    report = (path / paper.REPORT_FILE).read_text()
    for name in paper.FIGURE_FILES.values():        # relative links to every figure
        assert f"(figures/{name})" in report, name
    for i in range(1, 6):
        assert f"### Claim {i}\n" in report
    assert report.count("**Verdict:**") == 5


def test_summary_is_strict_json_with_five_claims(analysed):
    path, summary = analysed
    on_disk = _strict_json((path / paper.SUMMARY_FILE).read_text())
    assert on_disk == summary
    assert on_disk["format_version"] == paper.SUMMARY_FORMAT_VERSION
    assert on_disk["run"] == str(path)
    assert on_disk["config"]["n_updates"] == 3
    assert [c["id"] for c in on_disk["claims"]] == [1, 2, 3, 4, 5]
    for c in on_disk["claims"]:
        assert isinstance(c["holds"], bool)
        assert c["claim"] and c["rule"] and c["measured"] and isinstance(c["stats"], dict)
        assert c["figure"].startswith("figures/")
        for key in ("test", "effect", "ci", "p_value", "n_seeds"):   # every claim's statistic
            assert key in c["stats"], (c["id"], key)
    # one setting (no sweep): its claims are the top-level claims
    assert len(on_disk["settings"]) == 1
    assert on_disk["settings"][0]["claims"] == on_disk["claims"]
    assert on_disk["settings"][0]["agents"] == [0, 1, 2, 3]
    assert len(on_disk["rho_w_h_init"]) == 4 and all(r > 0 for r in on_disk["rho_w_h_init"])
    assert {r["obs"] for r in on_disk["final_return"]} == {"fo", "po"}
    assert set(on_disk["final_return_mean"]) == {"fo", "po"}
    assert on_disk["diverged"] == []
    t = on_disk["timing"]
    for key in ("compile_s", "train_s", "analysis_s", "figures_s", "env_steps_per_s",
                "rollouts_s", "fixed_points_s", "timescales_s", "policy_maps_s"):
        assert key in t, key
    assert t["analysis_s"] > 0 and t["figures_s"] > 0
    opts = on_disk["analysis_options"]
    assert isinstance(opts["tau_workers"], int) and opts["tau_workers"] >= 1
    assert opts == {**QUICK_OPTIONS.to_dict(), "tau_workers": opts["tau_workers"]}


def test_analysis_npz_holds_what_figures_need(analysed, tmp_path):
    path, summary = analysed
    res = paper.load_analysis(path).to_arrays()
    # every field is documented in the class docstring
    doc = paper.AnalysisResults.__doc__
    assert all(name in doc for name in res if name != "results_format_version"), \
        [n for n in res if n not in doc]
    n_agents, n_ckpt = 4, 4
    assert res["ring"].shape == (n_agents, n_ckpt)
    assert res["sharpness"].shape == (n_agents, n_ckpt)
    assert res["tau_avg"].shape == (n_agents, n_ckpt)
    assert res["tau_avg_ci"].shape == (n_agents, n_ckpt, 2)
    # fixed points at the goal, zero and hanging inputs
    assert res["fp_inputs"].tolist() == ["goal", "zero", "hanging"]
    assert res["fp_xstar"].shape == (n_agents, n_ckpt, 3, QUICK_OPTIONS.fp_max_points,
                                      QUICK_SWEEP.config.hidden)
    # the angle encoding's goal input is the zero input: searched once, the same points
    np.testing.assert_array_equal(res["fp_xstar"][:, :, 0], res["fp_xstar"][:, :, 1])
    assert res["manifold_theta"].shape == (n_agents, 4, QUICK_OPTIONS.manifold_inputs,
                                           QUICK_OPTIONS.manifold_max_points)
    assert res["manifold_proj"].shape[-1] == 3
    assert res["boundary_contrast"].shape == res["participation_ratio"].shape == (4, 4)
    assert res["stages"].tolist() == [0, 1, 2, 3]
    assert res["stage_map_torque"].shape == (n_agents, 4, QUICK_OPTIONS.map_bins,
                                             QUICK_OPTIONS.map_bins)
    assert np.isfinite(res["tau_avg"]).all() and (res["tau_avg"] > 0).all()
    assert np.isfinite(res["return_R"]).all()
    # the lower CI bound lies below the mean, the upper above
    assert (res["tau_avg_ci"][..., 0] <= res["tau_avg"] + 1e-6).all()
    assert (res["tau_avg_ci"][..., 1] >= res["tau_avg"] - 1e-6).all()
    # figures redraw from the saved arrays alone
    run = runs.load_run(path)
    paths = paper.draw_figures(paper.load_analysis(path), run, tmp_path / "figs")
    assert sorted(p.name for p in paths.values()) == sorted(paper.FIGURE_FILES.values())
    assert all(p.stat().st_size > 5_000 for p in paths.values())


def test_input_drive_and_flow_fields_in_analysis_and_summary(analysed):
    """The drive at the tracked point equals `input_drive_at` recomputed from the saved
    point and the run's parameters; alignment lies in [0, 1]; the summary and report carry
    it; flow fields and slow points have their documented shapes."""
    from rnnctl import envs
    path, summary = analysed
    res = paper.load_analysis(path)
    k, n_s, g = QUICK_OPTIONS.tau_top, len(res.stages), QUICK_OPTIONS.flow_grid
    assert res.drive_fp.shape == res.drive_traj_aligned.shape == (4, 4, k)
    assert res.drive_fp_gain.shape == (4, 4)
    assert int(res.drive_steps) == QUICK_OPTIONS.episodes * (200 // QUICK_OPTIONS.drive_stride)
    for a in (res.drive_fp_aligned, res.drive_traj_aligned):
        fin = a[np.isfinite(a)]
        assert fin.size and np.all((fin >= 0) & (fin <= 1 + 1e-5))
    # agent 1 (PO), last checkpoint: recompute by hand from the tracked point
    run = runs.load_run(path)
    a, c = 1, -1
    assert res.agent_obs[a] == "po" and np.isfinite(res.track_s_path[a, c]).all()
    params = jax.tree.map(lambda v: jnp.asarray(v[a, int(res.updates[c])]),
                          run.stacked_params())
    mask = envs.obs_mask("po", run.config.encoding)
    x_goal = analysis.goal_input("po", run.config.encoding)
    want = analysis.input_drive_at(params, jnp.asarray(res.track_s_path[a, c])[None],
                                   jnp.asarray(x_goal, jnp.float32)[None], mask, k)
    np.testing.assert_allclose(res.drive_fp[a, c], np.asarray(want.drive[0]), rtol=1e-4)
    np.testing.assert_allclose(res.drive_fp_aligned[a, c], np.asarray(want.aligned[0]),
                               rtol=1e-4)
    assert res.fp_slow.shape == res.fp_valid.shape and not (res.fp_slow & res.fp_valid).any()
    assert res.stage_flow_speed.shape == (4, n_s, g, g)
    assert res.stage_flow.shape == res.stage_flow_coords.shape == (4, n_s, g, g, 2)
    assert np.all(res.stage_flow_speed[np.isfinite(res.stage_flow_speed)] >= 0)
    d = summary["input_drive"]
    assert d["updates"] == [0, 3] and set(d["settings"]) == {"fo", "po"}
    r = d["settings"]["po"]["fp_aligned_slowest"]
    np.testing.assert_allclose(r["last"]["mean"], np.nanmean(
        res.drive_fp_aligned[res.agents_of("po"), -1, 0]), rtol=1e-6)
    assert "fp_aligned_slowest" in d["fo_vs_po_last"]
    report = (path / paper.REPORT_FILE).read_text()
    assert "does training align the slow modes" in report and "fig_flow_field.png" in report


def test_an_analysis_of_the_previous_format_is_refused(analysed, tmp_path):
    path, _ = analysed
    arrays = runs.read_npz(path / paper.ANALYSIS_FILE)
    arrays["results_format_version"] = np.asarray(paper_results.RESULTS_FORMAT_VERSION - 1)
    for name in ("drive_fp", "fp_slow", "stage_flow"):           # as version 5 wrote it
        arrays.pop(name)
    runs.write_npz(tmp_path / "old.npz", arrays)
    with pytest.raises(runs.RunError, match="analysis format version 5.*re-run"):
        paper.AnalysisResults.load(tmp_path / "old.npz")
    # the current version round-trips every field
    res = paper.load_analysis(path)
    res.save(tmp_path / "new.npz")
    back = paper.AnalysisResults.load(tmp_path / "new.npz").to_arrays()
    for name, v in res.to_arrays().items():
        np.testing.assert_array_equal(back[name], v, err_msg=name)


def test_rerun_gives_the_same_summary(analysed):
    path, summary = analysed
    again = analyse_run(path, progress=False, options=QUICK_OPTIONS)
    assert _without_timing(again) == _without_timing(summary)
    on_disk = _strict_json((path / paper.SUMMARY_FILE).read_text())
    assert _without_timing(on_disk) == _without_timing(summary)
    # reuse=True loads analysis.npz instead of recomputing, same claims
    reused = analyse_run(path, progress=False, options=QUICK_OPTIONS, reuse=True)
    assert reused["timing"]["analysis_reused"] is True
    assert _without_timing(reused) == _without_timing(summary)


def test_progress_goes_to_stderr(trained, tmp_path, capsys):
    path = _copy(trained, tmp_path / "run")
    analyse_run(path, progress=True, options=QUICK_OPTIONS)
    err = capsys.readouterr().err
    for stage in ("compute_analysis", "agent 4/4", "fixed_points", "timescales",
                  "draw_figures: fig1e_timescales", "write_report"):
        assert stage in err, stage
    # the first agent compiles: no time left is estimated from it, only from later agents
    agents = [line for line in err.splitlines() if "] agent " in line]
    assert len(agents) == 4 and "left" not in agents[0] and "compilation" in agents[0]
    assert all("s left)" in line for line in agents[1:3]) and "left" not in agents[3]


def test_figure_failure_names_the_stage_and_keeps_analysis(trained, tmp_path, monkeypatch):
    path = _copy(trained, tmp_path / "run")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(plotting, "fig1c_geometry", broken)
    with pytest.raises(PipelineError) as err:
        analyse_run(path, progress=False, options=QUICK_OPTIONS)
    assert err.value.stage == "draw_figures: fig1c_geometry"
    assert "fig1c_geometry" in str(err.value) and "boom" in str(err.value)
    assert (path / paper.ANALYSIS_FILE).is_file()
    assert paper.ANALYSIS_FILE in err.value.kept
    assert not (path / paper.REPORT_FILE).exists()
    before = paper.load_analysis(path).to_arrays()
    # fixed: the figures are redrawn from the kept analysis.npz, nothing recomputed
    monkeypatch.undo()
    summary = analyse_run(path, progress=False, options=QUICK_OPTIONS, reuse=True)
    assert summary["timing"]["analysis_reused"] is True
    assert (path / paper.REPORT_FILE).is_file()
    after = paper.load_analysis(path).to_arrays()
    assert before.keys() == after.keys()
    for k in before:
        nan_ok = np.issubdtype(before[k].dtype, np.floating)
        assert np.array_equal(before[k], after[k], equal_nan=nan_ok), k


def test_compute_failure_names_stage_and_agent(trained, tmp_path, monkeypatch):
    path = _copy(trained, tmp_path / "run")
    real = analysis.timescales_host
    calls = []

    def failing(*args, on_error=None, **kwargs):
        calls.append(1)
        if len(calls) == 2:                 # the second agent
            raise on_error(2, FloatingPointError("bad eigenvalues"))
        return real(*args, on_error=on_error, **kwargs)

    monkeypatch.setattr(analysis, "timescales_host", failing)
    with pytest.raises(PipelineError) as err:
        analyse_run(path, progress=False, options=QUICK_OPTIONS)
    e = err.value
    assert (e.stage, e.agent, e.checkpoint) == ("timescales", 1, 2)
    assert "agent 1 (seed 0, po)" in str(e) and "checkpoint 2" in str(e)
    assert not (path / paper.ANALYSIS_FILE).exists()


def test_diverged_agent_is_left_out_of_the_claims(trained, tmp_path):
    run = runs.load_run(trained)
    params = run.stacked_params()
    bad_agent, bad_update = 3, 2                          # seed 1, po
    params = jax.tree.map(np.array, params)
    params["rnn"]["W_h"][bad_agent, bad_update:] = np.nan
    metrics = {k: np.array(v) for k, v in run.metrics.items()}
    metrics["diverged"][bad_agent, bad_update:] = 1.0
    metrics["eval_return"][bad_agent, bad_update:] = np.nan
    info = dict(run.info, diverged=[{"agent": bad_agent, "seed": 1, "obs": "po",
                                     "update": bad_update}])
    path = runs.save_run(tmp_path / "run", run.config, run.agents, params, metrics, info=info)
    summary = analyse_run(path, progress=False, options=QUICK_OPTIONS)
    _strict_json((path / paper.SUMMARY_FILE).read_text())
    assert summary["diverged"] == info["diverged"]
    assert summary["excluded_from_claims"] == [bad_agent]
    assert summary["agents"][bad_agent]["diverged"] is True
    assert summary["claims"][2]["stats"]["n_seeds"] == 1       # PO seeds used: 0 only
    assert summary["claims"][2]["stats"]["inputs"]["goal"]["n_seeds"] == 1
    assert summary["claims"][4]["stats"]["n_seeds"] == 1
    assert "left out" in (path / paper.REPORT_FILE).read_text()
    res = paper.load_analysis(path).to_arrays()
    assert np.isnan(res["tau_avg"][bad_agent, bad_update:]).all()
    assert np.isfinite(res["tau_avg"][bad_agent, :bad_update]).all()
    assert not res["fp_valid"][bad_agent, bad_update:].any()
    assert not res["manifold_valid"][bad_agent, -1].any()            # the last stage is 3


def test_threaded_timescales_match_integration_timescales():
    """The NumPy/threads path gives the estimator of analysis.integration_timescales."""
    key = jax.random.key(3)
    k1, k2 = jax.random.split(key)
    # gain 0.8: no eigenvalue near the unit circle, where τ = 1/|ln|λ|| is ill-conditioned
    w = 0.8 * jax.random.normal(k1, (3, 12, 12)) / math.sqrt(12)
    h = jnp.tanh(jax.random.normal(k2, (3, 2, 50, 12)))
    got = analysis.timescales_host(w, h, top=5, stride=2, workers=2)
    want = jax.vmap(lambda ww, hh: analysis.integration_timescales(ww, hh, stride=2))(w, h)
    np.testing.assert_allclose(got["tau_avg"], want.avg, rtol=2e-3)
    np.testing.assert_allclose(got["tau_mean"], want.mean, rtol=2e-3)
    np.testing.assert_allclose(got["tau_avg_ci"], want.avg_ci, rtol=2e-3)
    one = analysis.timescales_host(w, h, top=5, stride=2, workers=1)
    np.testing.assert_array_equal(one["tau_avg"], got["tau_avg"])


def test_options_validation_and_stages():
    assert paper.default_stages(100) == (0, 10, 25, 50, 100)
    assert paper.default_stages(3) == (0, 1, 2, 3)
    with pytest.raises(ValueError, match="return_episodes"):
        paper.AnalysisOptions(map_episodes=4, return_episodes=10).validate()
    with pytest.raises(ValueError, match="tau_stride"):
        paper.AnalysisOptions(tau_stride=0).validate()
    opts = paper.AnalysisOptions(stages=(0, 2))
    assert paper.AnalysisOptions.from_dict(opts.to_dict()) == opts


def test_eigvals_host_matches_numpy(monkeypatch):
    rng = np.random.default_rng(0)
    mats = rng.normal(0, 0.2, (20, 9, 9)).astype(np.float32)
    mats[0] = np.diag(np.arange(1.0, 10.0))                 # eigenvalues we chose
    mats[1] = [[0, -1] + [0] * 7, [1, 0] + [0] * 7] + [[0] * 9] * 7   # ±i and zeros
    want = np.linalg.eigvals(mats.astype(np.float64))
    got = analysis.eigvals_host(mats)
    assert got.shape == (20, 9) and got.dtype == np.complex64
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(want), atol=1e-5)
    np.testing.assert_allclose(np.sort(got[0].real), np.arange(1.0, 10.0), rtol=1e-6)
    # the input is not modified (sgeev overwrites its own copy)
    assert np.array_equal(mats[0], np.diag(np.arange(1.0, 10.0)).astype(np.float32))
    # the NumPy fallback gives the same eigenvalues
    monkeypatch.setattr(linearize, "_SGEEV", False)
    fallback = analysis.eigvals_host(mats)
    np.testing.assert_allclose(np.sort_complex(fallback), np.sort_complex(got), atol=1e-5)
    with pytest.raises(np.linalg.LinAlgError):
        analysis.eigvals_host(np.full((1, 3, 3), np.nan))
