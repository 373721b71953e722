"""The `rnnctl` console script and the checkout's `python -m experiments.X` run the same code,
and each names itself in its messages as it was typed."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnctl import cli

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=os.environ)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_experiments_module_is_the_cli_module(name):
    legacy = importlib.import_module(f"experiments.{name}")
    assert legacy is importlib.import_module(f"rnnctl.cli.{name}")
    assert legacy.PROG == f"python -m experiments.{name}"
    for public in ("main", "parse_args"):
        assert callable(getattr(legacy, public))


def test_console_script_lists_its_commands_and_refuses_an_unknown_one():
    res = _run("-m", "rnnctl.cli", "--help")
    assert res.returncode == 0
    assert all(f"  {name}" in res.stdout for name in cli.COMMANDS), res.stdout
    res = _run("-m", "rnnctl.cli", "train")
    assert res.returncode == 2 and "unknown command 'train'" in res.stderr
    assert "Traceback" not in res.stderr
    res = _run("-m", "rnnctl.cli", "--version")
    import rnnctl
    assert res.returncode == 0 and res.stdout.strip() == f"rnnctl {rnnctl.__version__}"


@pytest.mark.parametrize("cmd,prog", [(["-m", "rnnctl.cli", "sweep"], "rnnctl sweep"),
                                      (["-m", "experiments.sweep"], "python -m experiments.sweep")])
def test_each_entry_point_names_itself_in_help_and_errors(cmd, prog):
    res = _run(*cmd, "--help")
    assert res.returncode == 0 and res.stdout.startswith(f"usage: {prog} "), res.stdout[:200]
    res = _run(*cmd, "--seeds", "0")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line, = res.stderr.strip().splitlines()
    assert line.startswith(f"{prog}: error: argument --seeds"), line


@pytest.mark.parametrize("name", ["atlas", "cells", "nulls", "dynamics"])
def test_every_command_has_help_under_both_names(name):
    for cmd, prog in ((["-m", "rnnctl.cli", name], f"rnnctl {name}"),
                      (["-m", f"experiments.{name}"], f"python -m experiments.{name}")):
        res = _run(*cmd, "--help")
        assert res.returncode == 0 and f"usage: {prog}" in res.stdout, (cmd, res.stderr[-500:])


#: The checkout's other entry points: experiments/X.py -> the rnnctl module that holds it.
TOOLS = {"bench_train": "rnnctl.bench.train", "bench_scaling": "rnnctl.bench.scaling",
         "bench_devices": "rnnctl.bench.devices", "bench_analysis": "rnnctl.bench.analysis",
         "mp_smoke": "rnnctl.bench.mp_smoke", "docs": "rnnctl.cli.docs",
         "compare_tau": "rnnctl.cli.compare_tau", "fp_locations": "rnnctl.cli.fp_locations",
         "bench_dsa": "rnnctl.bench.dsa"}


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_experiments_tool_runs_from_its_rnnctl_module(name):
    """`python -m experiments.X --help` works, and the file holds no code of its own: in
    a fresh process, importing it gives the rnnctl module itself."""
    res = _run("-m", f"experiments.{name}", "--help")
    assert res.returncode == 0 and f"usage: python -m experiments.{name}" in res.stdout, \
        res.stderr[-500:]
    res = _run("-c", f"import importlib, experiments.{name} as e, {TOOLS[name]} as m; "
                     f"assert e is m, e; print('ok')")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-500:]


def test_the_experiments_files_are_thin():
    for path in (ROOT / "experiments").glob("*.py"):
        if path.stem in TOOLS or path.stem in cli.COMMANDS or path.stem == "bench_compare":
            code = [ln for ln in path.read_text().split('"""', 2)[-1].splitlines()
                    if ln.strip() and not ln.lstrip().startswith("#")]
            assert len(code) <= 10, (path.name, code)
