"""Failing well: Ctrl-C at any moment, a second writer, filesystem faults, a run whose
config.json disagrees with its arrays, damaged files and bad numbers. Each ends with one
line, the right exit code (2: bad input, 1: fault, 130: Ctrl-C) and nothing saved lost."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import sweep
from rnnctl import paper, runs
from rnnctl.config import TrainConfig
from rnnctl.experiment import make_agents
from rnnctl.networks import param_shapes

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--seeds", "1", "--obs", "fo,po", "--updates", "3", "--steps-per-update", "256",
        "--no-analysis", "--quiet"]


def _popen(args):
    return subprocess.Popen([sys.executable, "-m", "experiments.sweep", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(stream, needle, timeout=240):
    t0 = time.time()
    seen = []
    while time.time() - t0 < timeout:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return
    pytest.fail(f"{needle!r} never appeared: {''.join(seen)}")


def _fake_run(path, config=TrainConfig(n_updates=2), agents=None) -> Path:
    """A complete run directory with zero arrays of the right shapes (no training)."""
    agents = agents or make_agents([0], ["fo", "po"])
    a, c = len(agents), config.n_updates + 1
    params = runs.unflatten_params({k: np.zeros((a, c, *s), np.float32)
                                    for k, s in param_shapes(config).items()})
    metrics = {"eval_return": np.zeros((a, c), np.float32)}
    return runs.save_run(path, config, agents, params, metrics)


def _edit_config(path, **changes):
    meta = json.loads((path / runs.CONFIG_FILE).read_text())
    for k, v in changes.items():
        if k == "agents":
            meta["agents"] = v
        else:
            meta["config"][k] = v
    (path / runs.CONFIG_FILE).write_text(json.dumps(meta))


# ------------------------------------------------------------------------ Ctrl-C

def test_ctrl_c_during_the_first_compilation_stops_at_once(tmp_path):
    out = tmp_path / "run"
    # no cache: a program another test compiled would load at once, leaving no compile
    proc = _popen([*TINY, "--out", str(out), "--compile-cache", "off"])
    t0 = time.time()
    while not (out / runs.CONFIG_FILE).is_file():   # the compile follows at once
        assert proc.poll() is None and time.time() - t0 < 120
        time.sleep(0.01)
    time.sleep(1.0)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.time() - t0 < 30                # not after a whole compile + chunk
    assert "Traceback" not in err and "Exception ignored" not in err
    assert f"--resume {out}" in err.strip().splitlines()[-1]
    assert (out / runs.CONFIG_FILE).is_file() and not (out / runs.LOCK_FILE).exists()
    # nothing is lost: the resume command it printed finishes the run
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume", str(out),
                          "--quiet", "--no-analysis"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert runs.load_run(out).metrics["eval_return"].shape == (2, 4)


def test_ctrl_c_during_the_analysis_says_how_to_continue(tmp_path):
    out = tmp_path / "run"
    assert sweep.main([*TINY, "--out", str(out)]) == 0
    proc = _popen(["--analysis-only", str(out), "--quick"])
    _wait_for_line(proc.stderr, "agent 1/2")    # one agent analysed and saved
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"continue with: python -m experiments.sweep --analysis-only {out}" in err
    assert not (out / runs.LOCK_FILE).exists()
    runs.load_run(out)                          # the trained run is untouched
    # the command it printed continues with the interrupted analysis's (quick) options
    quick = paper.QUICK_OPTIONS.validate().resolved().to_dict()
    assert paper.last_options(out).to_dict() == quick
    assert sweep.main(["--analysis-only", str(out), "--quiet"]) == 0
    summary = json.loads((out / paper.SUMMARY_FILE).read_text())
    assert summary["analysis_options"] == quick


# ------------------------------------------------------------------------ locks

def test_a_second_writer_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "run"
    assert sweep.main([*TINY, "--out", str(out)]) == 0
    meta = json.loads((out / runs.CONFIG_FILE).read_text())
    meta["status"] = "training"                 # as if interrupted, so resumable
    (out / runs.CONFIG_FILE).write_text(json.dumps(meta))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / runs.LOCK_FILE).write_text(json.dumps(
            {"pid": holder.pid, "host": os.uname().nodename, "started": time.time()}))
        res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--resume",
                              str(out), "--quiet", "--no-analysis"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 1, res.stderr
        line, = res.stderr.strip().splitlines()
        assert f"pid {holder.pid}" in line and str(out / runs.LOCK_FILE) in line
        assert not (out / "partial").exists()   # it wrote nothing
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_and_a_live_one_refused(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                                 # a pid that no longer runs
    lock = tmp_path / runs.LOCK_FILE
    lock.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    with runs.lock_run(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with runs.lock_run(tmp_path):           # re-entrant in one process
            pass
        assert lock.exists()
    assert not lock.exists()
    lock.write_text(json.dumps({"pid": 1, "host": os.uname().nodename}))   # alive
    with pytest.raises(runs.RunLocked, match="pid 1 on this machine"):
        with runs.lock_run(tmp_path):
            pass
    lock.write_text(json.dumps({"pid": 12345, "host": "elsewhere"}))   # cannot be checked
    with pytest.raises(runs.RunLocked, match="host elsewhere"):
        with runs.lock_run(tmp_path):
            pass


# ------------------------------------------------------------------------ filesystem

def test_out_that_is_a_file_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    for out in (f, f / "sub"):
        assert sweep.main([*TINY, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"python -m experiments.sweep: error: argument --out: {f} is a "
                       "file, not a directory"]
    assert f.read_text() == "x"


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "No space left on device"),
                                        (errno.EROFS, "Read-only file system")])
def test_a_write_fault_during_training_is_one_line_and_resumable(tmp_path, capsys,
                                                                 monkeypatch, code, words):
    out = tmp_path / "run"
    real = runs.write_npz

    def failing(path, arrays):
        if "chunk_" in str(path) and "chunk_00000" not in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, arrays)

    monkeypatch.setattr(runs, "write_npz", failing)
    assert sweep.main([*TINY, "--chunk", "1", "--out", str(out)]) == 1
    line, = capsys.readouterr().err.strip().splitlines()
    assert words in line and str(out / "partial" / "chunk_00001.npz") in line
    assert line.endswith(f"continue with: python -m experiments.sweep --resume {out}")
    assert (out / "partial" / "chunk_00000.npz").is_file()     # saved work kept
    assert not (out / runs.LOCK_FILE).exists()
    monkeypatch.undo()
    assert sweep.main(["--resume", str(out), "--quiet", "--no-analysis"]) == 0


def test_a_write_fault_before_training_names_the_path(tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "run"))

    monkeypatch.setattr(runs, "lock_run", read_only)
    assert sweep.main([*TINY, "--out", str(tmp_path / "run")]) == 1
    line, = capsys.readouterr().err.strip().splitlines()
    assert line == (f"python -m experiments.sweep: error: cannot write {tmp_path / 'run'}: "
                    "Permission denied")


# ------------------------------------------------------------------------ inconsistent runs

@pytest.mark.parametrize("change,words", [
    ({"hidden": 32}, "rnn/W_h has shape (64, 64) per checkpoint, but {cfg} says hidden=32"),
    ({"head_hidden": 16}, "says head_hidden=16"),
    ({"encoding": "cos_sin"}, "rnn/W_x has shape (64, 2) per checkpoint, but {cfg} says "
                              "hidden=64, encoding='cos_sin', which gives (64, 3)"),
    ({"n_updates": 5}, "holds 3 checkpoints, but {cfg} has n_updates=5"),
    ({"agents": [{"seed": 0, "obs": "fo"}]}, "holds 2 agents, but {cfg} lists 1"),
])
def test_a_config_that_disagrees_with_the_arrays_is_refused(tmp_path, change, words):
    path = _fake_run(tmp_path / "run")
    runs.load_run(path)
    _edit_config(path, **change)
    with pytest.raises(runs.RunError) as err:
        runs.load_run(path)
    assert words.format(cfg=path / runs.CONFIG_FILE) in str(err.value)
    assert ".npz" in str(err.value)             # names the file


def test_a_truncated_checkpoint_file_says_it_is_damaged_and_how_to_recover(tmp_path):
    path = _fake_run(tmp_path / "run")
    f = path / runs.CHECKPOINTS_FILE
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(runs.RunError) as err:
        runs.load_run(path)
    msg = str(err.value)
    assert "damaged" in msg and "cannot help" in msg and "train the run again" in msg
    assert "retry" not in msg


def test_a_damaged_chunk_says_to_delete_it_and_resume(tmp_path):
    (tmp_path / "partial").mkdir()
    f = tmp_path / "partial" / "chunk_00010.npz"
    f.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(runs.RunError, match="delete it and every later chunk, then resume"):
        runs.read_npz(f)


# ------------------------------------------------------------------------ bad numbers

@pytest.mark.parametrize("args,flag", [
    (["--max-grad-norm", "0"], "--max-grad-norm"),
    (["--max-grad-norm", "-1"], "--max-grad-norm"),
    (["--ent-coef", "-0.01"], "--ent-coef"),
    (["--vf-coef", "-1"], "--vf-coef"),
    (["--lr", "inf"], "--lr"),
    (["--gamma", "nan"], "--gamma"),
    (["--clip-eps", "0"], "--clip-eps"),
    (["--reward-scale", "1,-inf"], "--reward-scale"),
])
def test_numeric_flags_out_of_range_exit_2(args, flag, capsys):
    with pytest.raises(SystemExit) as e:
        sweep.parse_args(args)
    assert e.value.code == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert f"argument {flag}:" in line and "finite and in" in line


def test_help_gives_meaning_range_and_example():
    text = sweep.build_parser().format_help()
    text = text[text.index("options:"):]             # past the usage line
    for flag, bits in {"--max-grad-norm": ("gradient-norm clip", "(0, ∞)"),
                       "--gamma": ("discount", "[0, 1]", "e.g. 0.9,0.95,0.99"),
                       "--ent-coef": ("entropy", "[0, ∞)")}.items():
        block = text[text.index(flag + " "):][:400]
        for b in bits:
            assert b in " ".join(block.split()), (flag, b)


def test_more_devices_than_cores_is_one_warning(capsys):
    cores = len(os.sched_getaffinity(0))
    sweep._warn_devices(cores + 1)
    line, = capsys.readouterr().err.strip().splitlines()
    assert f"--devices {cores + 1}" in line and f"{cores} cores" in line
    sweep._warn_devices(1)
    assert capsys.readouterr().err == ""
