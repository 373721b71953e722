"""The Colab path: notebooks/tour.ipynb and the README's notebook snippet run as written.

The notebook is executed top to bottom on the CPU in its small mode
(`RNNCTL_NOTEBOOK_SMALL=1`: 2 seeds, 6 updates of 256 steps, a light analysis) with nbclient
and a fresh `python3` kernel, in a temporary working directory (it writes its run there).
The README's "In a notebook" code block is extracted and run unchanged, as a script, in
another temporary directory: it must create everything it loads.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "tour.ipynb"
README = ROOT / "README.md"
MIN_IMAGES = 6


def _cpu_env() -> dict[str, str]:
    return dict(os.environ, JAX_PLATFORMS="cpu")


def test_notebook_runs_in_small_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNCTL_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.delenv("MPLBACKEND", raising=False)   # the kernel picks its inline backend
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    # jupyter_client may signal the kernel's process group when it stops the kernel; keep
    # a stray SIGINT from reaching this (xdist worker) process while the kernel runs
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        client.execute()      # raises CellExecutionError on the first failing cell
    finally:
        signal.signal(signal.SIGINT, previous)

    errors = [(i, o.get("ename"), o.get("evalue")) for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    unrun = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and cell.execution_count is None]
    assert not unrun, f"cells never executed: {unrun}"
    images = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= MIN_IMAGES, f"{len(images)} image outputs (cells {images})"
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.outputs if o.output_type == "stream")
    assert "mode 'small'" in text                        # the environment variable was read
    assert "6/6" in text                                 # the progress bar reached the end
    assert list(tmp_path.glob("runs/tour-*/checkpoints.npz"))


def _readme_snippet() -> str:
    """The first ```python block of the README's "### In a notebook" section."""
    text = README.read_text()
    section = re.search(r"^### In a notebook\n(.*?)(?=^#{1,3} )", text, re.S | re.M)
    assert section, 'README has no "### In a notebook" section'
    block = re.search(r"^```python\n(.*?)^```", section.group(1), re.S | re.M)
    assert block, 'the "In a notebook" section has no ```python block'
    return block.group(1)


def test_readme_notebook_snippet_runs_as_written(tmp_path):
    snippet = _readme_snippet()
    assert "jax.jit" in snippet and "find_fixed_points" in snippet
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_cpu_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    lines = [l for l in proc.stdout.splitlines() if l.startswith("update ")]
    assert len(lines) >= 2, proc.stdout
    assert all("fixed point" in l for l in lines), proc.stdout
