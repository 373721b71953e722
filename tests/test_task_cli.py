"""The sweep CLI off the pendulum (issue 13): --task, --task-param, --cell, and the
task-agnostic analysis it runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_sweep_on_another_task_writes_the_task_report(tmp_path):
    """`--task` off the pendulum: trains, then the task-agnostic analysis (no claims) writes
    its summary, report and figure; --analysis-only reuses the per-agent parts. (The gated
    cells' analysis path, jacfwd Jacobians, is tested in test_cells.py; a GRU here cost
    another 50 s of CI.)"""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "bandit"
    cmd = [sys.executable, "-m", "experiments.sweep", "--quick", "--quiet", "--task",
           "BernoulliBandit-misc", "--out", str(out)]
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "updates" not in res.stderr                  # --quiet: no progress bar
    assert "| fo | 2 |" in res.stdout and "claims" not in res.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["kind"] == "task" and s["task"] == "BernoulliBandit-misc" and s["cell"] == "rnn"
    assert s["provenance"]["versions"]["distrax"] and s["provenance"]["machine"]["cpu"]
    assert s["action"] == ["discrete", 2] and s["updates"] == [0, 1, 2, 3]
    e = s["settings"][0]
    assert e["obs"] == "fo" and e["n_agents"] == 2
    assert all(v is None or v >= 0 for v in e["n_fp_zero"]["low"])   # counts: never < 0
    assert all(v is None or v > 0 for v in e["tau_avg"]["low"])       # τ: always > 0
    assert (out / "figures" / "overview.png").stat().st_size > 10_000
    assert "BernoulliBandit-misc, RNN cell" in (out / "report.md").read_text()
    again = subprocess.run([sys.executable, "-m", "experiments.sweep", "--quick", "--quiet",
                            "--analysis-only", str(out)], cwd=root, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    s2 = json.loads((out / "summary.json").read_text())
    assert s2["settings"] == s["settings"]


def test_bad_task_flags_are_one_line_errors(tmp_path, capsys):
    from experiments import sweep
    for flags, words in ((["--task", "CartPole-v1", "--obs", "pv"], "argument --obs"),
                         (["--task", "Nope-v0"], "argument --task: unknown task"),
                         (["--task", "MemoryChain-bsuite", "--task-param", "x=1"],
                          "argument --task-param: MemoryChain-bsuite has no parameter x")):
        args = sweep.parse_args(["--quick", *flags])   # checked once jax may start
        assert words in sweep._check_task(args), flags
    with pytest.raises(SystemExit) as e:
        sweep.parse_args(["--task-param", "memory_length"])
    assert e.value.code == 2 and "expected NAME=NUMBER" in capsys.readouterr().err
    args = sweep.parse_args(["--task", "CartPole-v1"])
    assert sweep._check_task(args) is None and args.obs == ["fo", "po"]  # the task's own
    # and as the user sees it: one line on stderr, exit 2, nothing written
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--task", "CartPole-v1",
                          "--obs", "pv", "--out", str(tmp_path / "x")],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "argument --obs" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
