"""Where a result came from: the commit, the package versions and the machine.

Every JSON file rnnctl writes for keeping (a run's and the atlas's summary.json, the cells'
and tasks' summaries, the nulls, every benchmark) carries `provenance()` under the key
"provenance" (docs/runs.md). `package_versions` is also the version list in the key of
the exported training programs (`rnnctl.aot`).
"""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["provenance", "package_versions", "git_state", "cpu_model", "PACKAGES",
           "REQUIRED_KEYS", "MACHINE_KEYS"]

#: The packages whose versions decide what rnnctl computes.
PACKAGES = ("jax", "jaxlib", "flax", "optax", "gymnax", "distrax", "numpy")
#: The keys of `provenance()`, and of its "machine" block.
REQUIRED_KEYS = ("commit", "dirty", "rnnctl_version", "versions", "machine", "load_average")
MACHINE_KEYS = ("cpu", "cores", "accelerator", "platform")

_ROOT = Path(__file__).resolve().parents[1]     # the checkout, when rnnctl runs from one


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """The installed version of each package (None where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(root: Path = _ROOT) -> tuple[str | None, bool | None]:
    """(HEAD's commit hash, whether tracked files differ from it) of the checkout rnnctl
    is imported from; (None, None) for an installed copy or without git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=30)
    try:
        top = git("rev-parse", "--show-toplevel")
        # an installed rnnctl inside some other repository is not that repository's code
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
            return None, None
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None, None
    if head.returncode != 0:
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerator() -> list[str]:
    """The distinct kinds of jax's devices (e.g. ["cpu"], ["NVIDIA H100 80GB HBM3"])."""
    import jax
    return sorted({str(getattr(d, "device_kind", d.platform)) for d in jax.devices()})


def provenance() -> dict:
    """The commit, versions and machine of this process, to store beside a result.

    Starts jax's backend (to name the devices): call it after the process has chosen its
    devices, at the start of the work it describes (the load average is the machine's
    at that moment).

    Returns:
      {"commit": HEAD's hash or None outside a checkout, "dirty": tracked files changed
      (None outside a checkout), "rnnctl_version", "versions": {package: version, ...,
      "python"}, "machine": {"cpu", "cores", "accelerator": device kinds, "devices",
      "platform"}, "load_average": [1, 5, 15 min] or None}.
    """
    from rnnctl._version import __version__
    import jax
    commit, dirty = git_state()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        load = None
    return {"commit": commit, "dirty": dirty, "rnnctl_version": __version__,
            "versions": {**package_versions(), "python": platform.python_version()},
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                        "accelerator": _accelerator(), "devices": jax.device_count(),
                        "platform": platform.platform()},
            "load_average": load}
