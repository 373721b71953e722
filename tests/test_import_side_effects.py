"""Importing rnnctl changes nothing a user can trip on: XLA_FLAGS stays as it was and no
stand-in module enters `sys.modules`; the command-line tools do both themselves
(`rnnctl.cli.prepare`), and their stand-ins still load the real modules when used."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("flags", [None, "--xla_cpu_use_thunk_runtime=true"],
                         ids=["unset", "set"])
def test_import_rnnctl_leaves_xla_flags_and_sys_modules_alone(flags):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if flags is not None:
        env["XLA_FLAGS"] = flags
    res = _python("""
        import importlib.util, os, sys, types
        before = os.environ.get("XLA_FLAGS")
        import rnnctl, rnnctl.envs, rnnctl.experiment
        from rnnctl import analysis
        assert os.environ.get("XLA_FLAGS") == before, (before, os.environ.get("XLA_FLAGS"))
        fake = [n for n, m in sys.modules.items()
                if m is not None and type(m) is not types.ModuleType
                and type(m).__module__.startswith("rnnctl")]
        assert not fake, fake
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        assert type(plt) is types.ModuleType and plt.__spec__.origin.endswith("pyplot.py")
        assert callable(plt.subplots)
        if importlib.util.find_spec("seaborn") is not None:
            import seaborn as sns
            assert type(sns) is types.ModuleType and sns.__spec__.origin is not None
            assert sys.modules["seaborn"] is sns
        print("ok")
    """, env)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-3000:]


def test_the_cli_preparation_sets_the_safe_flags_and_defers_only_what_it_names():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = _python("""
        import os, sys
        from rnnctl.cli import prepare
        from rnnctl._xla import SAFE_CPU_FLAGS
        prepare()
        assert os.environ["XLA_FLAGS"].split() == list(SAFE_CPU_FLAGS), os.environ["XLA_FLAGS"]
        assert type(sys.modules["matplotlib.pyplot"]).__name__ == "_LoadedOnFirstUse"
        import rnnctl.envs
        assert "scipy.stats" not in sys.modules and "pandas" not in sys.modules
        print("ok")
    """, env)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-3000:]
