"""A run directory on disk: config, agents, stacked checkpoints and metrics.

Layout (format version `FORMAT_VERSION`; JSON and .npz only, never pickle):

    run_dir/
      config.json       {"format_version", "rnnctl_version", "config", "agents", ...}
      checkpoints.npz   one array per parameter leaf, "rnn/W_h" etc., shape [A, U+1, ...]
      metrics.npz       one array per metric, shape [A, U+1]

Every file is written to a temporary name in the same directory and renamed into place,
so a crash never leaves a half-written file under the real name. Every .npz also stores
its format version, so a file copied from another version is refused by name.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnctl.config import TrainConfig

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
CHECKPOINTS_FILE = "checkpoints.npz"
METRICS_FILE = "metrics.npz"
_VERSION_KEY = "__format_version__"

__all__ = ["FORMAT_VERSION", "RunError", "Run", "load_run", "save_run", "atomic_write",
           "write_run_meta", "read_run_meta", "config_diff",
           "flatten_params", "unflatten_params", "write_json", "write_npz", "read_npz",
           "read_json"]


class RunError(Exception):
    """A run directory or one of its files is missing, damaged or of another version."""


# ----------------------------------------------------------------------------- atomic I/O

def atomic_write(path: str | os.PathLike, write) -> None:
    """Call `write(fileobj)` on a temporary file next to `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide results from collaborators
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj) -> None:
    """Write `obj` as indented JSON, atomically."""
    data = (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def read_json(path) -> Any:
    """Read JSON; a missing or damaged file raises `RunError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file is missing")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON (truncated or corrupt): {e}") from None


def write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays (plus the format version) to an uncompressed .npz, atomically."""
    arrays = {**{k: np.asarray(v) for k, v in arrays.items()},
              _VERSION_KEY: np.asarray(FORMAT_VERSION)}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_npz(path) -> dict[str, np.ndarray]:
    """Read every array of an .npz written by `write_npz`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file is missing")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise RunError(f"{path}: truncated or corrupt ({type(e).__name__}: {e})") from None
    version = arrays.pop(_VERSION_KEY, None)
    if version is None:
        raise RunError(f"{path}: no format version (not written by rnnctl)")
    if int(version) != FORMAT_VERSION:
        raise RunError(f"{path}: format version {int(version)}, this rnnctl reads "
                       f"version {FORMAT_VERSION}")
    return arrays


# ----------------------------------------------------------------------------- pytrees

def flatten_params(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dict of arrays → {"a/b/c": array}."""
    flat = {}
    for k, v in tree.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten_params(v, name + "/"))
        else:
            flat[name] = np.asarray(v)
    return flat


def unflatten_params(flat: dict[str, Any]) -> dict:
    """{"a/b/c": array} → nested dict."""
    tree: dict = {}
    for name, v in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return tree


# ----------------------------------------------------------------------------- run

@dataclass
class Run:
    """A saved run: `config`, `agents`, `metrics` ([A, U+1] arrays) and checkpoints.

    Update index u means "parameters after u updates"; u = 0 is the initial weights and
    negative indices count from the end (-1 is the last update).
    """

    path: Path
    config: TrainConfig
    agents: list[dict]
    metrics: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)
    _checkpoints: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_checkpoints(self) -> int:
        """U + 1 (initial weights and one per update)."""
        return next(iter(self.metrics.values())).shape[1]

    def _flat(self) -> dict[str, np.ndarray]:
        if self._checkpoints is None:
            flat = read_npz(self.path / CHECKPOINTS_FILE)
            for name, a in flat.items():
                if a.shape[:2] != (self.n_agents, self.n_checkpoints):
                    raise RunError(f"{self.path / CHECKPOINTS_FILE}: leaf {name} has shape "
                                   f"{a.shape}, expected [{self.n_agents}, "
                                   f"{self.n_checkpoints}, ...]")
            self._checkpoints = flat
        return self._checkpoints

    def params(self, agent: int, update: int = -1) -> dict:
        """Parameters of one agent after `update` updates (a flax params pytree)."""
        if not -self.n_agents <= agent < self.n_agents:
            raise IndexError(f"agent {agent} out of range: the run has {self.n_agents} agents")
        if not -self.n_checkpoints <= update < self.n_checkpoints:
            raise IndexError(f"update {update} out of range: the run has checkpoints "
                             f"0..{self.n_checkpoints - 1}")
        return unflatten_params({k: v[agent, update] for k, v in self._flat().items()})

    def stacked_params(self) -> dict:
        """All parameters, leaves [A, U+1, ...]."""
        return unflatten_params(dict(self._flat()))

    def agent_index(self, seed: int, obs: str) -> int:
        """Index of the agent with this seed and observability ("fo"/"po")."""
        for i, a in enumerate(self.agents):
            if a["seed"] == seed and a["obs"] == obs:
                return i
        raise KeyError(f"no agent with seed={seed}, obs={obs!r} in {self.path}")


def write_run_meta(path, config: TrainConfig, agents: list[dict], status: str,
                   info: dict | None = None) -> None:
    """Write config.json; `status` is "training" until the run is complete."""
    from rnnctl import __version__
    write_json(Path(path) / CONFIG_FILE, {"format_version": FORMAT_VERSION,
                                          "rnnctl_version": __version__, "status": status,
                                          "config": config.to_dict(), "agents": agents,
                                          "info": info or {}})


def read_run_meta(path, allow_incomplete: bool = False) -> dict:
    """Read and check a run directory's config.json; errors are one line naming the file."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: run directory does not exist")
    if not path.is_dir():
        raise RunError(f"{path}: not a directory")
    cfg_path = path / CONFIG_FILE
    if not cfg_path.exists():
        raise RunError(f"{path}: not a run directory ({CONFIG_FILE} is missing)")
    meta = read_json(cfg_path)
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise RunError(f"{cfg_path}: no format_version (not written by rnnctl)")
    if meta["format_version"] != FORMAT_VERSION:
        raise RunError(f"{cfg_path}: format version {meta['format_version']}, this rnnctl "
                       f"reads version {FORMAT_VERSION}")
    for key in ("config", "agents"):
        if key not in meta:
            raise RunError(f"{cfg_path}: malformed (no {key!r})")
    if not allow_incomplete and meta.get("status", "complete") != "complete":
        raise RunError(f"{path}: run is incomplete (training did not finish); resume it with "
                       f"python -m experiments.sweep --resume {path}")
    return meta


def config_diff(saved: dict, given: dict) -> str:
    """'field: saved → given' for every differing config field ('' if none)."""
    keys = sorted(set(saved) | set(given))
    return ", ".join(f"{k}: {saved.get(k)!r} → {given.get(k)!r}" for k in keys
                     if saved.get(k) != given.get(k))


def save_run(path, config: TrainConfig, agents: list[dict], params: dict,
             metrics: dict[str, np.ndarray], info: dict | None = None) -> Path:
    """Write a run directory (arrays first, config.json last: status "complete").

    Args:
      params: pytree with leaves [A, U+1, ...].
      metrics: name -> [A, U+1].
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_npz(path / CHECKPOINTS_FILE, flatten_params(params))
    write_npz(path / METRICS_FILE, {k: np.asarray(v) for k, v in metrics.items()})
    write_run_meta(path, config, agents, status="complete", info=info)
    return path


def load_run(path) -> Run:
    """Open a complete run directory written by `save_run` (checkpoints load lazily)."""
    path = Path(path)
    meta = read_run_meta(path)
    cfg_path = path / CONFIG_FILE
    try:
        config = TrainConfig.from_dict(meta["config"])
        agents = list(meta["agents"])
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{cfg_path}: malformed ({type(e).__name__}: {e})") from None
    metrics = read_npz(path / METRICS_FILE)
    for name, a in metrics.items():
        if a.ndim != 2 or a.shape[0] != len(agents):
            raise RunError(f"{path / METRICS_FILE}: metric {name} has shape {a.shape}, "
                           f"expected [{len(agents)}, U+1]")
    return Run(path=path, config=config, agents=agents, metrics=metrics,
               info=meta.get("info", {}))
