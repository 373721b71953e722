"""The compilation cache when it cannot work, and when it has moved (issue 25).

A place for the cache that cannot be used says so in one line: an explicit one (the
sweep's `--compile-cache`, or `RNNCTL_COMPILE_CACHE`) is an error (exit 2, nothing
written, before anything is compiled); the default one is one warning line and the run
goes on without the cache (jax's own warnings, two lines per program, stay silent). A
cache copied to another path is as warm there as in place: no program is compiled again.

Unwritable directories are made with chmod; a root process ignores modes, so as root the
sweep runs under `setpriv` without the capability that overrides them.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnctl import compile_cache

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--seeds", "1", "--obs", "fo,po", "--updates", "3", "--steps-per-update", "256",
        "--no-analysis", "--quiet"]
AS_OWNER = (["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
            if os.geteuid() == 0 else [])
# the default place, then one compiled program: what `train_to_dir` does first
DEFAULT_THEN_COMPILE = ("from rnnctl import compile_cache\n"
                        "print(compile_cache.enable_default())\n"
                        "import jax.numpy as jnp\n"
                        "print(int((jnp.arange(4) * 2).sum()))\n")


def _run(args, env=None, timeout=300, owner_only=False):
    full = {**os.environ, **(env or {})}
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run([*(AS_OWNER if owner_only else []), sys.executable, *args],
                          cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=timeout)


def _read_only_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    path.chmod(0o555)
    if AS_OWNER and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a directory unwritable")
    probe = _run(["-c", f"open({str(path / 'x')!r}, 'w')"], owner_only=True)
    if probe.returncode == 0:
        pytest.skip("this process can write a mode-555 directory")
    return path


def _one_error_line(res, *words):
    assert res.returncode == 2, res.stderr
    line, = res.stderr.strip().splitlines()
    assert "error:" in line and "Traceback" not in res.stderr
    for w in words:
        assert w in line, line
    return line


# ------------------------------------------------------------------ explicit: an error

def test_uncreatable_flag_is_one_line_exit_2_and_nothing_written(tmp_path):
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "cache"
    res = _run(["-m", "experiments.sweep", *TINY, "--out", str(tmp_path / "run"),
                "--compile-cache", str(bad)])
    _one_error_line(res, "--compile-cache", str(bad), "off")
    assert not (tmp_path / "run").exists()


def test_uncreatable_environment_value_is_one_line_exit_2(tmp_path):
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "cache"
    res = _run(["-m", "experiments.sweep", *TINY, "--out", str(tmp_path / "run")],
               env={compile_cache.ENV_VAR: str(bad)})
    _one_error_line(res, compile_cache.ENV_VAR, str(bad))
    assert not (tmp_path / "run").exists()


def test_unwritable_flag_is_one_line_exit_2(tmp_path):
    ro = _read_only_dir(tmp_path / "ro")
    res = _run(["-m", "experiments.sweep", *TINY, "--out", str(tmp_path / "run"),
                "--compile-cache", str(ro)], owner_only=True)
    _one_error_line(res, "--compile-cache", str(ro))
    assert not (tmp_path / "run").exists()


def test_explicit_unusable_place_raises_in_python(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(compile_cache.CacheError, match="cannot be used") as err:
        compile_cache.enable(tmp_path / "file" / "cache")
    assert err.value.path == tmp_path / "file" / "cache"


# ------------------------------------------------ the default place: one warning, no cache

def test_uncreatable_default_is_one_warning_and_the_work_goes_on(tmp_path):
    (tmp_path / "file").write_text("")
    res = _run(["-c", DEFAULT_THEN_COMPILE], env={
        "XDG_CACHE_HOME": str(tmp_path / "file"), compile_cache.ENV_VAR: None})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["None", "12"]          # no cache, and the result
    line, = res.stderr.strip().splitlines()
    assert line.startswith("warning:") and str(tmp_path / "file") in line
    assert "without" in line and compile_cache.ENV_VAR in line


def test_unwritable_default_is_one_warning_not_one_per_program(tmp_path):
    _read_only_dir(tmp_path / "xdg" / "rnnctl" / "jax")
    res = _run(["-c", DEFAULT_THEN_COMPILE], owner_only=True, env={
        "XDG_CACHE_HOME": str(tmp_path / "xdg"), compile_cache.ENV_VAR: None})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["None", "12"]
    line, = res.stderr.strip().splitlines()            # today: two lines per program
    assert line.startswith("warning:") and "Permission denied" in line


# ------------------------------------------------------------------------ relocation

def test_a_copied_cache_is_warm_at_its_new_path(tmp_path):
    here, there = tmp_path / "here", tmp_path / "moved" / "there"
    cold = _run(["-m", "experiments.sweep", *TINY, "--out", str(tmp_path / "cold"),
                 "--compile-cache", str(here)])
    assert cold.returncode == 0, cold.stderr
    entries = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
    assert sum(p.name.startswith("jit_") for p in entries) >= 3, entries
    shutil.copytree(here, there)
    shutil.rmtree(here)                                   # nothing to fall back on
    warm = _run(["-m", "experiments.sweep", *TINY, "--out", str(tmp_path / "warm"),
                 "--compile-cache", str(there)])
    assert warm.returncode == 0, warm.stderr
    # every program was found: the moved cache gained no entry (jax keyed them by path)
    assert sorted(p.relative_to(there) for p in there.rglob("*") if p.is_file()) == entries


def test_only_a_gpu_gets_back_jax_s_path_keyed_xla_caches(tmp_path):
    # on a CPU the GPU-only XLA caches stay off once the backend has started; a GPU
    # backend starting (here a stand-in handed to the hook) puts jax's setting back
    script = (f"import jax\nfrom rnnctl import compile_cache\n"
              f"before = jax.config.jax_persistent_cache_enable_xla_caches\n"
              f"compile_cache.enable({str(tmp_path / 'c')!r})\n"
              "jax.devices()\n"
              "print(before, jax.config.jax_persistent_cache_enable_xla_caches)\n"
              "compile_cache._restore_on_gpu(type('GPU', (), {'platform': 'gpu'})())\n"
              "print(jax.config.jax_persistent_cache_enable_xla_caches)\n")
    res = _run(["-c", script])
    assert res.returncode == 0, res.stderr
    (before, on_cpu), (on_gpu,) = [line.split() for line in res.stdout.splitlines()]
    assert on_cpu == "none" and on_gpu == before != "none"


@pytest.mark.parametrize("command,argv", [("atlas", ["--quick", "--seeds", "2"]),
                                          ("nulls", ["RUN"]), ("cells", ["--quick"])])
def test_other_commands_refuse_an_unusable_cache_in_one_line(command, argv, tmp_path,
                                                             monkeypatch, capsys):
    import importlib
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "cache"
    monkeypatch.setenv(compile_cache.ENV_VAR, str(bad))
    monkeypatch.chdir(tmp_path)                       # nothing they might write lands here
    main = importlib.import_module(f"rnnctl.cli.{command}").main
    assert main([str(tmp_path / a) if a == "RUN" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    # the program's name is `python -m experiments.X` once that entry point was imported
    # in this process (it renames the shared rnnctl.cli module), else `rnnctl X`
    assert err.startswith((f"rnnctl {command}: error: ",
                           f"python -m experiments.{command}: error: ")), err
    assert str(bad) in err
