"""The command line: a 2-agent, 3-update smoke run end to end, and bad flags."""
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnctl

SMALL = ["--seeds", "1", "--updates", "3", "--steps-per-update", "256", "--no-analysis"]


def _sweep(args, timeout=300, env=None):
    env = dict(os.environ) if env is None else env
    return subprocess.run([sys.executable, "-m", "experiments.sweep", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=os.path.dirname(os.path.dirname(__file__)))


def test_smoke_run_two_agents_three_updates(tmp_path):
    # a multi-agent run must finish (jax 0.10's CPU runtime could wedge here without our
    # XLA defaults); the timeout turns a hang into a failure
    res = _sweep([*SMALL, "--out", str(tmp_path / "run")])
    assert res.returncode == 0, res.stderr
    assert "on 1 device(s)" in res.stdout          # RNNCTL_DEVICES=1 (conftest)
    assert "3/3 updates" in res.stderr                  # the progress bar advanced
    assert "FO (n=1)" in res.stdout and "PO (n=1)" in res.stdout
    run = rnnctl.load_run(tmp_path / "run")
    assert run.agents == [{"seed": 0, "obs": "fo"}, {"seed": 0, "obs": "po"}]
    assert run.metrics["eval_return"].shape == (2, 4)
    assert run.config.rollout_len == 256 and run.config.n_updates == 3
    assert np.isfinite(run.metrics["policy_loss"][:, 1:]).all()
    w = run.stacked_params()["rnn"]["W_h"]
    assert w.shape == (2, 4, 64, 64)


@pytest.mark.parametrize("args,flag", [
    (["--seeds", "0"], "--seeds"),
    (["--obs", "xy"], "--obs"),
    (["--updates", "-3"], "--updates"),
    (["--envs", "0"], "--envs"),
    (["--steps-per-update", "100"], "--steps-per-update"),
    (["--minibatches", "3"], "--minibatches"),
    (["--lr", "abc"], "--lr"),
    (["--devices", "two"], "--devices"),
    (["--fp-continue", "-1"], "--fp-continue"),
    (["--fp-continue", "8", "--no-analysis"], "--fp-continue"),
    (["--gamma", "1.5"], "--gamma"),
])
def test_bad_flags_exit_2_with_one_line(args, flag, capsys):
    # in process (a subprocess per case cost ~8 s of CI each); the last case also runs as
    # the user sees it, a separate process
    from experiments import sweep
    if flag == "--obs":          # variants are the task's: checked once jax may start
        msg = sweep._check_task(sweep.parse_args(args))
        assert msg and msg.startswith("argument --obs"), msg
    else:
        with pytest.raises(SystemExit) as e:
            sweep.parse_args(args)
        assert e.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0], lines
    if flag == "--gamma":
        res = _sweep(args, timeout=60)
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0], res.stderr
        assert "Traceback" not in res.stderr


@pytest.mark.slow   # 40 s of CI: a two-device program compiled for this test alone
def test_the_default_sweep_uses_every_core(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RNNCTL_DEVICES"}
    res = _sweep([*SMALL, "--out", str(tmp_path / "run")], env=env)
    assert res.returncode == 0, res.stderr
    # the 2 agents are sharded over one CPU device per usable core, at most 2
    from rnnctl.distributed import usable_cpus
    assert f"on {min(usable_cpus(), 2)} device(s)" in res.stdout, res.stdout


def test_the_default_devices_are_asked_for_before_jax_starts():
    # what the sweep does before jax starts (in a fresh process; here jax has started):
    # one CPU device per usable core, and 2 agents on at most 2 of them
    code = ("from rnnctl.distributed import *; import jax; "
            "asked = request_cpu_devices(usable_cpus()); "
            "print(usable_cpus(), asked, len(jax.devices()), auto_devices(2))")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    cpus, asked, n_devices, for_two = res.stdout.split()
    assert asked == str(int(cpus) > 1) and int(n_devices) == int(cpus), res.stdout
    assert int(for_two) == min(int(cpus), 2)


def test_devices_default_comes_from_the_environment(monkeypatch, capsys):
    from experiments import sweep
    monkeypatch.setenv("RNNCTL_DEVICES", "auto")
    assert sweep.parse_args([]).devices is None                   # auto: chosen later
    monkeypatch.setenv("RNNCTL_DEVICES", "3")
    assert sweep.parse_args([]).devices == 3
    assert sweep.parse_args(["--devices", "1"]).devices == 1      # the flag wins
    monkeypatch.setenv("RNNCTL_DEVICES", "0")
    with pytest.raises(SystemExit) as e:
        sweep.parse_args([])
    line = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "RNNCTL_DEVICES" in line and "\n" not in line, line


def test_resume_continues_on_the_run_s_own_device_count(tmp_path, monkeypatch):
    from experiments import sweep
    from rnnctl import runs
    from rnnctl.config import TrainConfig
    runs.write_run_meta(tmp_path, TrainConfig(), [{"seed": 0, "obs": "po"}],
                        status="training", info={"devices": 3})
    monkeypatch.setenv("RNNCTL_DEVICES", "2")
    args = sweep.parse_args(["--resume", str(tmp_path)])
    sweep._resume_on_recorded_devices(args)
    assert args.devices == 3                                      # recorded beats default
    args = sweep.parse_args(["--resume", str(tmp_path), "--devices", "1"])
    sweep._resume_on_recorded_devices(args)
    assert args.devices == 1                                      # the flag beats both


def test_minibatches_flag_sets_the_ppo_layout():
    """The earlier default (4 minibatches, value weight 0.5) is two flags away."""
    from experiments import sweep
    from rnnctl.config import TrainConfig
    args = sweep.parse_args(["--minibatches", "4", "--vf-coef", "0.5"])
    assert (args.config.n_minibatches, args.config.vf_coef) == (4, 0.5)
    default = sweep.parse_args([]).config
    assert (default.n_minibatches, default.vf_coef) == (TrainConfig.n_minibatches,
                                                        TrainConfig.vf_coef) == (8, 0.25)


def test_help_documents_every_flag():
    res = _sweep(["--help"], timeout=60)
    assert res.returncode == 0
    for flag in ("--seeds", "--obs", "--updates", "--steps-per-update", "--envs",
                 "--minibatches", "--out", "--no-analysis", "--quiet", "--lr"):
        assert flag in res.stdout


def _strip_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("timing", "run", "provenance")}


def test_quick_sweep_end_to_end(tmp_path):
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
    assert "The paper's claims" in res.stdout


@pytest.mark.slow   # CI: test_pipeline's rerun test and test_faults' --analysis-only
def test_analysis_only_gives_the_same_summary(tmp_path):
    import json
    out = tmp_path / "quick"
    assert _sweep(["--quick", "--quiet", "--out", str(out)]).returncode == 0
    first = json.loads((out / "summary.json").read_text())
    # re-analysing the saved run, without retraining, gives the same summary
    res2 = _sweep(["--analysis-only", str(out), "--quiet"])
    assert res2.returncode == 0, res2.stderr
    assert "Training" not in res2.stdout
    second = json.loads((out / "summary.json").read_text())
    assert _strip_timing(second) == _strip_timing(first)


def test_analysis_only_on_a_non_run_is_one_line(tmp_path):
    res = _sweep(["--analysis-only", str(tmp_path)], timeout=60)
    assert res.returncode == 2
    line, = res.stderr.strip().splitlines()
    assert "not a run directory" in line


# ---------------------------------------------------------------- flags typed, not guessed

def test_abbreviated_flags_are_refused():
    # argparse's prefix matching once let `--seed 4` pass as `--seeds 4`, while the sweep's
    # own "was it typed" check missed it, so --quick quietly trained 2 seeds
    res = _sweep(["--quick", "--seed", "4", "--no-analysis"], timeout=60)
    assert res.returncode == 2
    line, = res.stderr.strip().splitlines()
    assert "unrecognized arguments: --seed 4" in line


def test_quick_shrinks_only_what_was_not_typed():
    from experiments.sweep import FLAG_DEFAULTS, QUICK, parse_args
    args = parse_args(["--quick", "--seeds", "4"])
    assert args.typed == {"seeds"}
    assert args.seeds == 4 and args.updates == QUICK["updates"]
    assert args.config.rollout_len == QUICK["steps_per_update"]
    args = parse_args(["--quick", "--seeds=4", "--updates", "7"])
    assert (args.seeds, args.updates, args.typed) == (4, 7, {"seeds", "updates"})
    args = parse_args(["--quick"])
    assert (args.seeds, args.updates, args.typed) == (QUICK["seeds"], QUICK["updates"], set())
    args = parse_args([])
    assert args.seeds == FLAG_DEFAULTS["seeds"] and args.obs == ["fo", "po"]
    assert args.config.n_updates == FLAG_DEFAULTS["updates"] and args.typed == set()
    assert parse_args(["--lr", "1e-3,3e-3"]).typed == {"lr"}


def test_summary_table_sd_is_over_seeds_with_ddof_1():
    from experiments.sweep import summary_table
    from rnnctl.config import TrainConfig
    agents = [{"seed": 0, "obs": "fo"}, {"seed": 1, "obs": "fo"}, {"seed": 0, "obs": "po"}]
    ev = np.array([[-100.0, -10.0], [-200.0, -30.0], [-150.0, -20.0]])
    text = summary_table(agents, {"eval_return": ev}, TrainConfig(n_updates=1))
    fo, po = [l for l in text.splitlines() if l.startswith(("FO", "PO"))]
    assert fo.split()[2:] == ["-150", "±", "71", "-20", "±", "14"]  # sd(-100, -200; ddof=1)
    assert po.split()[2:] == ["-150", "±", "–", "-20", "±", "–"]   # one seed: no sd
    assert "nan" not in text


def test_cli_words_the_library_errors():
    from experiments.sweep import _explain
    from rnnctl.experiment import Interrupted
    from rnnctl.runs import RunExists, RunIncomplete
    assert _explain(Interrupted("runs/x", 3, 9)).endswith(
        "resume with: python -m experiments.sweep --resume runs/x")
    assert "--resume runs/x" in _explain(RunIncomplete("runs/x"))
    assert "--resume runs/x" in _explain(RunExists("runs/x", "training"))
    done = _explain(RunExists("runs/x", "complete"))
    assert "choose another --out" in done and "--resume" not in done


def test_existing_run_dir_names_the_resume_command(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"status": "training"}')
    res = _sweep([*SMALL, "--quiet", "--out", str(out)], timeout=120)
    assert res.returncode == 2
    line, = res.stderr.strip().splitlines()
    assert "already holds a run" in line
    assert f"python -m experiments.sweep --resume {out}" in line


# ---------------------------------------------------------------- progress on stderr

def test_progress_bar_eta_leaves_out_the_first_update():
    import io
    from rnnctl import progress
    clock = iter([0.0, 100.0, 101.0, 102.0])      # creation, then updates 1..3
    out = io.StringIO()
    bar = progress.ProgressBar(10, stream=out, clock=lambda: next(clock), live=True)
    bar(1)                                        # the first update includes compilation
    assert out.getvalue().endswith("?s left")
    bar(2)
    bar(2)                                        # repeated calls (one per shard) ignored
    assert out.getvalue().endswith("~   8s left")  # 1 s per update since the first
    bar(3)
    assert out.getvalue().endswith("~   7s left")


def test_progress_in_a_log_file_is_a_line_per_tenth_without_carriage_returns():
    import io
    from rnnctl import progress
    out = io.StringIO()                           # not a terminal
    bar = progress.ProgressBar(95, start=3, stream=out)
    for done in range(4, 96):
        bar(done)
    text = out.getvalue()
    assert "\r" not in text
    import re
    done = [int(re.search(r"(\d+)/95 updates", line).group(1)) for line in text.splitlines()]
    assert done == [4, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 95], done


def test_log_prints_timestamped_lines():
    import io
    from rnnctl import progress
    clock = iter([0.0, 12.3])
    out = io.StringIO()
    progress.Log(True, stream=out, clock=lambda: next(clock))("rollouts ...")
    assert out.getvalue() == "[analysis   12.3s] rollouts ...\n"
    quiet = io.StringIO()
    progress.Log(False, stream=quiet)("x")
    assert quiet.getvalue() == ""


def test_fp_continue_sets_the_analysis_option(monkeypatch, tmp_path):
    """--fp-continue N reaches the analysis as AnalysisOptions.fp_continue = N."""
    from experiments import sweep
    from rnnctl import paper
    seen = {}

    def fake(run_dir, *, options, **kw):
        seen["fp_continue"] = options.fp_continue
        raise KeyboardInterrupt        # stop there: only the options are checked
    monkeypatch.setattr(paper, "analyse_run", fake)
    run = tmp_path / "run"
    run.mkdir()
    import rnnctl.runs
    monkeypatch.setattr(rnnctl.runs, "read_run_meta", lambda d: {"config": {}})
    args = sweep.parse_args(["--analysis-only", str(run), "--fp-continue", "16", "--quiet"])
    assert sweep.analyse(run, args) == 130
    assert seen == {"fp_continue": 16}
