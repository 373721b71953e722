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

import contextlib
import json
import os
import socket
import tempfile
import time
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

__all__ = ["FORMAT_VERSION", "RunError", "RunExists", "RunIncomplete", "Run", "load_run",
           "save_run", "atomic_write", "write_run_meta", "read_run_meta", "config_diff",
           "flatten_params", "unflatten_params", "write_json", "write_npz", "read_npz",
           "read_json", "diverged_agents", "state_to_arrays", "state_from_arrays",
           "RunLocked", "lock_run", "npz_shapes", "LOCK_FILE"]


class RunError(Exception):
    """A run directory or one of its files is missing, damaged or of another version.

    Attributes:
      path: the run directory or file concerned (None if none).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class RunExists(RunError):
    """`path` already holds a run (`status` "complete", "training" or None if unreadable),
    and writing would overwrite it."""

    def __init__(self, path: str | os.PathLike, status: str | None = None):
        super().__init__(f"{path}: already holds a run"
                         + (f" (status: {status})" if status else ""), path)
        self.status = status


class RunIncomplete(RunError):
    """The run in `path` did not finish training (its chunks can be resumed)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(f"{path}: run is incomplete (training did not finish)", path)


class RunLocked(RunError):
    """Another live process is writing `path` (its lock file names `pid` on `host`)."""

    def __init__(self, path: str | os.PathLike, pid: int | None, host: str | None,
                 lock: str | os.PathLike):
        where = "this machine" if host == socket.gethostname() else f"host {host}"
        super().__init__(f"{path}: another process (pid {pid} on {where}) is writing this "
                         f"run; wait for it to finish, or if no such process runs, delete "
                         f"{lock}", path)
        self.pid, self.host = pid, host


# ----------------------------------------------------------------------------- locking

LOCK_FILE = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # it exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def lock_run(path: str | os.PathLike):
    """Hold `path/.lock` (JSON with pid, host, start time) while writing a run directory.

    The lock file is created atomically (written aside, then hard-linked into place, which
    fails if it exists). A lock left by a process of this machine that no longer runs is
    stale and taken over; a live owner, or an owner on another host (which cannot be
    checked), raises `RunLocked`. Re-entrant within one process.
    Raises:
      RunLocked: another process holds the lock.
      OSError: the directory cannot be created or written.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(3):
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".lock-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            try:
                os.link(tmp, lock)
            except FileExistsError:
                pass
            else:
                break
        finally:
            os.unlink(tmp)
        try:
            owner = json.loads(lock.read_text())
            pid, host = int(owner["pid"]), str(owner["host"])
        except FileNotFoundError:
            continue                                  # released meanwhile: try again
        except (ValueError, KeyError, TypeError, OSError):
            pid, host = None, None                    # unreadable: treat as stale
        if pid == me["pid"] and host == me["host"]:   # ours already (re-entrant)
            yield path
            return
        if host is not None and (host != me["host"] or _alive(pid)):
            raise RunLocked(path, pid, host, lock)
        with contextlib.suppress(FileNotFoundError):  # stale: the owner is gone
            lock.unlink()
    else:
        raise RunError(f"{lock}: could not take the lock (it keeps changing)", path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


# ----------------------------------------------------------------------------- atomic I/O

def atomic_write(path: str | os.PathLike, write) -> None:
    """Call `write(fileobj)` on a temporary file next to `path`, then rename it into place.

    The file is fsynced before the rename and the directory after it, so after a crash
    `path` holds either the old or the new content, whole. Readable by others (umask).
    """
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
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path, obj) -> None:
    """Write `obj` as indented JSON, atomically."""
    data = (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def read_json(path) -> Any:
    """Read JSON; a missing or damaged file raises `RunError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file is missing", path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON (truncated or corrupt): {e}", path) from None


def write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays (plus the format version) to an uncompressed .npz, atomically."""
    arrays = {**{k: np.asarray(v) for k, v in arrays.items()},
              _VERSION_KEY: np.asarray(FORMAT_VERSION)}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _damaged(path: Path, e: Exception) -> RunError:
    """Reading again cannot help: say the file is damaged and how to get it back."""
    partial = path.parent / "partial"
    if path.parent.name == "partial":              # a chunk of an unfinished run
        how = ("delete it and every later chunk, then resume: training continues after "
               "the last good chunk")
    elif any(partial.glob("chunk_*.npz")):
        how = f"resume the run ({partial} holds saved chunks)"
    else:
        how = f"train the run again (its config is in {path.parent / CONFIG_FILE})"
    return RunError(f"{path}: damaged (truncated or corrupt: {type(e).__name__}: {e}); "
                    f"reading it again cannot help: {how}", path)


def npz_shapes(path) -> dict[str, tuple[int, ...]]:
    """Shape of every array in an .npz, read from the headers only (no data loaded).
    Raises RunError for a missing or damaged file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file is missing", path)
    shapes = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                with zf.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shapes[name.removesuffix(".npy")] = tuple(read(f)[0])
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise _damaged(path, e) from None
    shapes.pop(_VERSION_KEY, None)
    return shapes


def read_npz(path) -> dict[str, np.ndarray]:
    """Read every array of an .npz written by `write_npz`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file is missing", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise _damaged(path, e) from None
    version = arrays.pop(_VERSION_KEY, None)
    if version is None:
        raise RunError(f"{path}: no format version (not written by rnnctl)", path)
    if int(version) != FORMAT_VERSION:
        raise RunError(f"{path}: format version {int(version)}, this rnnctl reads "
                       f"version {FORMAT_VERSION}", path)
    return arrays


# ----------------------------------------------------------------------------- pytrees

def flatten_params(tree: dict) -> dict[str, np.ndarray]:
    """Nested dict of arrays → {"a/b/c": NumPy array} (the key format of saved files)."""
    from flax import traverse_util
    return {k: np.asarray(v) for k, v in traverse_util.flatten_dict(tree, sep="/").items()}


def unflatten_params(flat: dict[str, Any]) -> dict:
    """{"a/b/c": array} → nested dict (inverse of `flatten_params`)."""
    from flax import traverse_util
    return traverse_util.unflatten_dict(dict(flat), sep="/")


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
                                   f"{self.n_checkpoints}, ...]", self.path / CHECKPOINTS_FILE)
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

    def diverged_agents(self) -> list[dict]:
        """Agents whose training hit NaN/inf (`diverged_agents` of this run)."""
        return diverged_agents(self.agents, self.metrics, self.info)

    def agent_index(self, seed: int, obs: str) -> int:
        """Index of the agent with this seed and observability ("fo"/"po")."""
        for i, a in enumerate(self.agents):
            if a["seed"] == seed and a["obs"] == obs:
                return i
        raise KeyError(f"no agent with seed={seed}, obs={obs!r} in {self.path}")


def write_run_meta(path, config: TrainConfig, agents: list[dict], status: str,
                   info: dict | None = None) -> None:
    """Write config.json; `status` is "training" until the run is complete."""
    from rnnctl._version import __version__
    write_json(Path(path) / CONFIG_FILE, {"format_version": FORMAT_VERSION,
                                          "rnnctl_version": __version__, "status": status,
                                          "config": config.to_dict(), "agents": agents,
                                          "info": info or {}})


def read_run_meta(path, allow_incomplete: bool = False) -> dict:
    """Read and check a run directory's config.json; errors are one line naming the file."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: run directory does not exist", path)
    if not path.is_dir():
        raise RunError(f"{path}: not a directory", path)
    cfg_path = path / CONFIG_FILE
    if not cfg_path.exists():
        raise RunError(f"{path}: not a run directory ({CONFIG_FILE} is missing)", path)
    meta = read_json(cfg_path)
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise RunError(f"{cfg_path}: no format_version (not written by rnnctl)", cfg_path)
    if meta["format_version"] != FORMAT_VERSION:
        raise RunError(f"{cfg_path}: format version {meta['format_version']}, this rnnctl "
                       f"reads version {FORMAT_VERSION}", cfg_path)
    for key in ("config", "agents"):
        if key not in meta:
            raise RunError(f"{cfg_path}: malformed (no {key!r})", cfg_path)
    if not allow_incomplete and meta.get("status", "complete") != "complete":
        raise RunIncomplete(path)
    return meta


def config_diff(saved: dict, given: dict) -> str:
    """'field: saved → given' for every differing config field ('' if none)."""
    keys = sorted(set(saved) | set(given))
    return ", ".join(f"{k}: {saved.get(k)!r} → {given.get(k)!r}" for k in keys
                     if saved.get(k) != given.get(k))


def diverged_agents(agents: list[dict], metrics: dict[str, np.ndarray],
                    info: dict | None = None) -> list[dict]:
    """Agents whose training hit NaN/inf, with the first bad update.

    Args:
      agents: the run's agents (`make_agents`), A of them.
      metrics: name -> [A, U+1]; its "diverged" flags ([A, U+1], > 0 from the first
        NaN/inf update on) are what training records.
      info: the run's info (`Run.info`), whose "diverged" list (the same records, saved
        at the end of training) is merged in, so a run is read the same either way.
    Returns:
      [{"agent", "seed", "obs", ["hyper"], "update"}] sorted by agent (empty if none):
      agent index, its seed, setting, swept hyperparameters (if any) and first update
      with NaN/inf (its parameters are frozen from update - 1 on).
    """
    found: dict[int, int] = {}
    flags = metrics.get("diverged")
    if flags is not None:
        for i, row in enumerate(np.asarray(flags)):
            bad = np.flatnonzero(row > 0)
            if bad.size:
                found[i] = int(bad[0])
    for d in (info or {}).get("diverged", []) or []:
        i, u = int(d["agent"]), int(d["update"])
        found[i] = min(found.get(i, u), u)
    out = []
    for i in sorted(found):
        a = agents[i]
        out.append({"agent": i, "seed": a["seed"], "obs": a["obs"],
                    **({"hyper": a["hyper"]} if "hyper" in a else {}), "update": found[i]})
    return out


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
        raise RunError(f"{cfg_path}: malformed ({type(e).__name__}: {e})", cfg_path) from None
    check_arrays(path, config, agents)
    metrics = read_npz(path / METRICS_FILE)
    return Run(path=path, config=config, agents=agents, metrics=metrics,
               info=meta.get("info", {}))


#: config fields that decide the shape of the parameter leaves
_SHAPE_FIELDS = ("hidden", "head_hidden", "encoding")


def check_arrays(path, config: TrainConfig, agents: list[dict]) -> None:
    """Refuse a run whose config.json disagrees with its array files (read from the .npz
    headers only): agent count, checkpoint count (n_updates + 1) and every parameter
    leaf's shape (hidden, head_hidden, encoding). The error names the file, the array and
    the config field."""
    from rnnctl.networks import param_shapes
    path = Path(path)
    cfg = path / CONFIG_FILE
    n_agents, n_ckpt = len(agents), config.n_updates + 1
    expected = param_shapes(config)
    for fname in (METRICS_FILE, CHECKPOINTS_FILE):
        shapes = npz_shapes(path / fname)
        where = path / fname
        if fname == CHECKPOINTS_FILE and set(shapes) != set(expected):
            raise RunError(f"{where}: holds parameters {sorted(shapes)}, but {cfg} describes "
                           f"{sorted(expected)}", where)
        wrong = []                  # (fields it depends on, leaf, shape) of bad leaves
        for name, shape in shapes.items():
            if len(shape) < 2:
                raise RunError(f"{where}: {name} has shape {shape}, expected [agents, "
                               "checkpoints, ...]", where)
            if shape[0] != n_agents:
                raise RunError(f"{where}: {name} holds {shape[0]} agents, but {cfg} lists "
                               f"{n_agents} (field 'agents')", where)
            if shape[1] != n_ckpt:
                raise RunError(f"{where}: {name} holds {shape[1]} checkpoints, but {cfg} has "
                               f"n_updates={config.n_updates} (expects {n_ckpt})", where)
            if fname == METRICS_FILE and len(shape) != 2:
                raise RunError(f"{where}: metric {name} has shape {shape}, expected "
                               f"[{n_agents}, {n_ckpt}]", where)
            if fname == CHECKPOINTS_FILE and shape[2:] != expected[name]:
                fields = [f for f in _SHAPE_FIELDS if param_shapes(config.replace(
                    **{f: _other(config, f)}))[name] != expected[name]]
                wrong.append((len(fields), fields, name, shape[2:]))
        if wrong:                   # name the leaf that points at the fewest fields
            _, fields, name, shape = min(wrong)
            said = ", ".join(f"{f}={getattr(config, f)!r}" for f in fields)
            raise RunError(f"{where}: {name} has shape {shape} per checkpoint, but {cfg} "
                           f"says {said}, which gives {expected[name]}", where)


def _other(config: TrainConfig, field: str):
    """Another valid value of a shape field (to find which fields a leaf depends on)."""
    from rnnctl.config import ENCODINGS
    value = getattr(config, field)
    if field == "encoding":
        return next(e for e in ENCODINGS if e != value)
    return value + 1


# ----------------------------------------------------------------------------- training state
# A resumable training state (a pytree: `ppo.AgentState`) is saved as one array per leaf,
# keyed by the leaf's pytree path ("state/params/rnn/W_h", "state/opt_state/0/mu/...").
# Loading goes by name against a template, so a field renamed, added or removed is
# refused by name, and fields reordered still load into the right place.

STATE_PREFIX = "state/"


def _state_paths(tree) -> list[tuple[str, Any]]:
    import jax
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(STATE_PREFIX + jax.tree_util.keystr(path, simple=True, separator="/"), leaf)
            for path, leaf in leaves]


def _is_key(leaf) -> bool:
    import jax
    return jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def state_to_arrays(state) -> dict[str, np.ndarray]:
    """A training-state pytree -> {"state/<path>": NumPy array} (PRNG keys as key data)."""
    import jax
    arrays = {}
    for name, leaf in _state_paths(state):
        if _is_key(leaf):
            leaf = jax.random.key_data(leaf)
        arrays[name] = np.asarray(leaf)
    return arrays


def state_from_arrays(template, arrays: dict[str, np.ndarray], where: str | os.PathLike):
    """Rebuild a training state saved by `state_to_arrays`, checked against `template`.

    Args:
      template: the expected pytree (arrays or `jax.ShapeDtypeStruct`, e.g. from
        `jax.eval_shape`): its leaf paths, shapes and dtypes are what must be saved.
      arrays: what was saved (other keys than "state/..." are ignored).
      where: the file, for error messages.
    Returns:
      the pytree of `template` with the saved values (jax arrays; typed PRNG keys).
    Raises:
      RunError naming the field that is missing, unexpected, or of another shape or dtype.
    """
    import jax
    import jax.numpy as jnp
    expected = _state_paths(template)
    names = {name for name, _ in expected}
    saved = {k for k in arrays if k.startswith(STATE_PREFIX)}
    if saved and all(k[len(STATE_PREFIX):].isdigit() for k in saved):
        raise RunError(f"{where}: resume state is keyed by leaf index (saved by an older "
                       "rnnctl); it cannot be matched to fields safely", where)
    unexpected = sorted(saved - names)
    if unexpected:
        raise RunError(f"{where}: resume state has field(s) {', '.join(unexpected)} that "
                       "this version's training state does not have", where)
    out = []
    for name, t in expected:
        if name not in arrays:
            raise RunError(f"{where}: resume state is missing field {name}", where)
        a = arrays[name]
        want = jax.eval_shape(jax.random.key_data, t) if _is_key(t) else t
        if a.shape != tuple(want.shape) or a.dtype != want.dtype:
            raise RunError(f"{where}: resume state field {name} is {a.dtype}{list(a.shape)}, "
                           f"expected {want.dtype}{list(want.shape)}", where)
        a = jnp.asarray(a)
        out.append(jax.random.wrap_key_data(a) if _is_key(t) else a)
    return jax.tree.unflatten(jax.tree.structure(template), out)
