"""The command line: a 2-agent, 3-update smoke run end to end, and bad flags."""
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnctl

SMALL = ["--seeds", "1", "--updates", "3", "--steps-per-update", "256", "--no-analysis"]


def _sweep(args, timeout=300):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "experiments.sweep", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=os.path.dirname(os.path.dirname(__file__)))


def test_smoke_run_two_agents_three_updates(tmp_path):
    # a multi-agent run must finish (jax 0.10's CPU runtime could wedge here without our
    # XLA defaults); the timeout turns a hang into a failure
    res = _sweep([*SMALL, "--out", str(tmp_path / "run")])
    assert res.returncode == 0, res.stderr
    assert "3/3 updates" in res.stderr                  # the progress bar advanced
    assert "FO (n=1)" in res.stdout and "PO (n=1)" in res.stdout
    run = rnnctl.load_run(tmp_path / "run")
    assert run.agents == [{"seed": 0, "obs": "fo"}, {"seed": 0, "obs": "po"}]
    assert run.metrics["eval_return"].shape == (2, 4)
    assert run.config.rollout_len == 256 and run.config.n_updates == 3
    assert np.isfinite(run.metrics["policy_loss"][:, 1:]).all()
    w = run.stacked_params()["rnn"]["W_h"]
    assert w.shape == (2, 4, 64, 64)


def test_quiet_has_no_progress_bar(tmp_path):
    res = _sweep([*SMALL, "--obs", "po", "--quiet", "--out", str(tmp_path / "run")])
    assert res.returncode == 0, res.stderr
    assert "updates" not in res.stderr


@pytest.mark.parametrize("args,flag", [
    (["--seeds", "0"], "--seeds"),
    (["--obs", "xy"], "--obs"),
    (["--updates", "-3"], "--updates"),
    (["--envs", "0"], "--envs"),
    (["--steps-per-update", "100"], "--steps-per-update"),
    (["--lr", "abc"], "--lr"),
    (["--gamma", "1.5"], "--gamma"),
])
def test_bad_flags_exit_2_with_one_line(args, flag):
    res = _sweep(args, timeout=60)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_help_documents_every_flag():
    res = _sweep(["--help"], timeout=60)
    assert res.returncode == 0
    for flag in ("--seeds", "--obs", "--updates", "--steps-per-update", "--envs", "--out",
                 "--no-analysis", "--quiet", "--lr"):
        assert flag in res.stdout


def _strip_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("timing", "run")}


def test_quick_sweep_end_to_end_and_analysis_only(tmp_path):
    import json
    out = tmp_path / "quick"
    res = _sweep(["--quick", "--quiet", "--out", str(out)])
    assert res.returncode == 0, res.stderr
    for name in ("config.json", "checkpoints.npz", "metrics.npz", "analysis.npz",
                 "summary.json", "report.md"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for fig in ("learning_curves", "fig1b_policy", "fig1c_geometry", "fig1d_fixed_points",
                "fig1e_timescales"):
        data = (out / "figures" / f"{fig}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, fig

    def no_nan(c):
        raise ValueError(f"summary.json holds {c}")

    first = json.loads((out / "summary.json").read_text(), parse_constant=no_nan)
    assert [c["id"] for c in first["claims"]] == [1, 2, 3, 4, 5]
    assert all(isinstance(c["holds"], bool) and c["stats"] for c in first["claims"])
    assert "The paper's claims on this run" in res.stdout
    # re-analysing the saved run, without retraining, gives the same summary
    res2 = _sweep(["--analysis-only", str(out), "--quiet"])
    assert res2.returncode == 0, res2.stderr
    assert "Training" not in res2.stdout
    second = json.loads((out / "summary.json").read_text(), parse_constant=no_nan)
    assert _strip_timing(second) == _strip_timing(first)


def test_analysis_only_on_a_non_run_is_one_line(tmp_path):
    res = _sweep(["--analysis-only", str(tmp_path)], timeout=60)
    assert res.returncode == 2
    line, = res.stderr.strip().splitlines()
    assert "not a run directory" in line
