"""Every observation variant, alone and in pairs, and every cell: the sweep's analysis ends
with exit 0, drawing what it can and naming in report.md and on the console each figure it
skipped and why; `--redraw` and `--analysis-only` reuse analysis.npz instead of recomputing.

One quick run with every Pendulum variant is trained and analysed once per cell; each
subset of its variants is then a copy of that run holding only those agents, with the
matching rows of its analysis.npz, so that the command analyses it from the reuse path in
seconds. The vanilla RNN runs in CI; the gated cells and the other tasks under `-m slow`.
"""
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnctl import runs
from rnnctl.cli import sweep
from rnnctl.experiment import make_agents, train_to_dir
from rnnctl.paper import QUICK_OPTIONS, analyse_run
from rnnctl.paper.compute import checkpoints_digest
from rnnctl.paper.results import ANALYSIS_FILE, AnalysisResults, load_analysis

PENDULUM_VARIANTS = ("fo", "po", "pv")
#: analysis.npz fields without an agent axis (every other field is [A, ...]).
NOT_PER_AGENT = {"updates", "stages", "fp_inputs", "manifold_theta_in", "tau_steps",
                 "drive_steps", "map_theta_edges", "map_theta_dot_edges", "probe_theta_centers",
                 "probe_theta_dot_centers", "options_json", "checkpoints_sha256"}
PAPER_FIGURES = ("fig1b_policy", "fig1c_geometry", "fig1d_fixed_points", "fig1e_timescales")


def subsets(variants):
    """Each variant alone and every pair."""
    return [c for k in (1, 2) for c in itertools.combinations(variants, k)]


def copy_with(src, dest, obs, analysis=True):
    """A copy of the run `src` holding only its agents of the variants `obs` (and the
    matching rows of its analysis.npz, if `analysis`)."""
    meta = runs.read_json(src / runs.CONFIG_FILE)
    keep = [i for i, a in enumerate(meta["agents"]) if a["obs"] in obs]
    dest.mkdir(parents=True)
    for name in (runs.CHECKPOINTS_FILE, runs.METRICS_FILE):
        arrays = runs.read_npz(src / name)
        runs.write_npz(dest / name, {k: v[keep] for k, v in arrays.items()
                                     if not k.startswith("__")})
    meta["agents"] = [meta["agents"][i] for i in keep]
    runs.write_json(dest / runs.CONFIG_FILE, meta)
    if analysis:
        full = load_analysis(src).to_arrays()
        assert set(full) >= NOT_PER_AGENT
        part = {k: (v if k in NOT_PER_AGENT else v[keep]) for k, v in full.items()}
        part["checkpoints_sha256"] = np.asarray(checkpoints_digest(runs.load_run(dest)))
        AnalysisResults.from_arrays(part).save(dest / ANALYSIS_FILE)
    return dest


@pytest.fixture(scope="module", params=["rnn", pytest.param("gru", marks=pytest.mark.slow),
                                        pytest.param("lstm", marks=pytest.mark.slow)])
def pendulum(request, tmp_path_factory):
    """(cell, a quick run of every Pendulum variant, analysed with the quick options)."""
    args = sweep.parse_args(["--quick", "--obs", ",".join(PENDULUM_VARIANTS),
                             "--cell", request.param])
    path = tmp_path_factory.mktemp(f"variants-{request.param}") / "all"
    train_to_dir(args.config, make_agents(range(args.seeds), args.obs), path, progress=False)
    analyse_run(path, progress=False, options=QUICK_OPTIONS)
    return request.param, path


@pytest.mark.parametrize("obs", subsets(PENDULUM_VARIANTS), ids="+".join)
def test_every_variant_alone_and_in_pairs_is_analysed(pendulum, obs, tmp_path, capsys):
    cell, full = pendulum
    run = copy_with(full, tmp_path / "run", obs)
    code = sweep.main(["--analysis-only", str(run), "--quick", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["timing"]["analysis_reused"]          # from the sliced analysis.npz
    report = (run / "report.md").read_text()
    skipped = summary["skipped_figures"]
    if {"fo", "po"} & set(obs):                          # the paper's figures: all drawn
        assert skipped == {} and "Figures not drawn" not in report
        for fig in PAPER_FIGURES:
            assert (run / "figures" / f"{fig}.png").stat().st_size > 5000, fig
    else:                                                # nothing to show but the curves
        for fig in PAPER_FIGURES:
            name = f"figures/{fig}.png"
            assert "FO or PO" in skipped[name] and "pv" in skipped[name]
            assert f"`{name}`: {skipped[name]}" in report
            assert f"skipped figure {name}: " in out.out
            assert not (run / name).exists()
        assert "## Figures not drawn" in report
    assert (run / "figures" / "learning_curves.png").is_file()
    if "fo" not in obs:                                  # claim 1 needs FO and PO pairs
        c1 = summary["claims"][0]
        assert c1["tested"] is False and c1["stats"]["n_seeds"] == 0
        assert "1. not tested" in out.out


def test_redraw_remakes_figures_and_report_without_computing(pendulum, tmp_path, capsys):
    _, full = pendulum
    run = copy_with(full, tmp_path / "run", ("fo", "po"))
    before = (run / ANALYSIS_FILE).read_bytes()
    assert sweep.main(["--redraw", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (run / ANALYSIS_FILE).read_bytes() == before               # loaded, not remade
    for name in ("report.md", "summary.json", "figures/fig1b_policy.png"):
        assert (run / name).stat().st_size > 0, name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["timing"]["analysis_reused"]
    assert summary["analysis_options"] == QUICK_OPTIONS.validate().resolved().to_dict()
    time_line = next(line for line in out.splitlines() if line.startswith("time: "))
    assert "compile" not in time_line and "training" not in time_line   # not this process's
    assert "the run's training (an earlier process): compile" in out


def test_redraw_without_an_analysis_of_the_run_is_one_line(pendulum, tmp_path, capsys):
    _, full = pendulum
    bare = copy_with(full, tmp_path / "bare", ("fo",), analysis=False)
    assert sweep.main(["--redraw", str(bare), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "analysis.npz: not found" in err
    stale = copy_with(full, tmp_path / "stale", ("fo",))
    meta = runs.read_json(full / runs.CONFIG_FILE)          # other checkpoints, same shapes
    keep = [i for i, a in enumerate(meta["agents"]) if a["obs"] == "po"]
    arrays = runs.read_npz(full / runs.CHECKPOINTS_FILE)
    runs.write_npz(stale / runs.CHECKPOINTS_FILE, {k: v[keep] for k, v in arrays.items()
                                                   if not k.startswith("__")})
    assert sweep.main(["--redraw", str(stale), "--quiet"]) == 2
    assert "other checkpoints" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:                 # --recompute needs --analysis-only
        sweep.main(["--redraw", str(stale), "--recompute"])
    assert e.value.code == 2


@pytest.mark.slow   # each task is one more compilation of training and of its analysis
@pytest.mark.parametrize("task", ["CartPole-v1", "MemoryChain-bsuite", "BernoulliBandit-misc"])
def test_every_variant_of_the_other_tasks_is_analysed(task, tmp_path):
    from rnnctl import envs
    variants = tuple(envs.get_task(name=task).variants)
    root = os.path.dirname(os.path.dirname(__file__))
    full = tmp_path / "all"
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--task", task, "--quick",
                          "--quiet", "--no-analysis", "--out", str(full)],
                         capture_output=True, text=True, timeout=600, cwd=root)
    assert res.returncode == 0, res.stderr
    for obs in subsets(variants):
        run = copy_with(full, tmp_path / "+".join(obs), obs, analysis=False)
        res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--analysis-only",
                              str(run), "--quick", "--quiet"],
                             capture_output=True, text=True, timeout=600, cwd=root)
        assert res.returncode == 0, (obs, res.stderr)
        assert (run / "report.md").is_file() and (run / "figures" / "overview.png").is_file()
