"""Compile once per machine: JAX's persistent compilation cache.

The sweep compiles one training program per shape (seconds to a minute on a CPU); with
the cache on, a later process with the same shapes, jax version and device loads the
compiled program from disk instead. It is on by default: the command-line tools call
`enable` (their `--compile-cache DIR|off`), and the library's training functions
(`train_agents`, `train_to_dir`) call `enable_default`, which turns it on unless this
process already chose (an `enable` call, `off` included) or jax's own cache directory is
set. A notebook or script that wants another place, or none, calls `enable(...)` first.

Where it lives (first that applies):
  1. the `path` given to `enable` (the CLI's `--compile-cache DIR`);
  2. the environment variable `RNNCTL_COMPILE_CACHE` (a directory, or `off`);
  3. `$XDG_CACHE_HOME/rnnctl/jax` (`~/.cache/rnnctl/jax` when XDG_CACHE_HOME is unset).
`off` (or `enable(False)`) leaves jax's own setting untouched. Entries are keyed by jax
on the program, the jax/XLA version and the device, so one directory serves every run;
delete it to reclaim the space.

A place that cannot be used (it cannot be created, or a file cannot be written in it) is
checked before jax is pointed at it: one chosen explicitly (1 or 2) raises `CacheError`
(one line; the CLI exits 2), the default (3) prints one warning line and compilation is
not cached. Otherwise jax would warn twice per program it fails to store (~120 programs
in a sweep), or, for a directory it cannot create, say nothing and compile every time.

Relocatable: a cache copied or mounted elsewhere is as warm there. jax keys an entry by
the program and its compile options, and with the cache on it also turns on XLA's GPU
per-fusion autotuning cache (`jax_persistent_cache_enable_xla_caches`), whose directory,
`<cache>/xla_gpu_per_fusion_autotune_cache_dir`, is a compile option: so every key held
the cache's path. A CPU never reads that option, so rnnctl turns those XLA caches off
there; if a GPU backend starts, jax's setting is put back (on a GPU they save autotuning
when a program is compiled again, and entries are then tied to the path, as in jax).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["ENV_VAR", "CacheError", "default_dir", "resolve", "enable", "enable_default"]

ENV_VAR = "RNNCTL_COMPILE_CACHE"
OFF = ("off", "0", "false", "no", "none")
_XLA_CACHES = "jax_persistent_cache_enable_xla_caches"
_chosen = False     # set by `enable`: this process made its choice (on or off)
_warned: set[Path] = set()      # default places already reported unusable
_xla_caches = {"jax": None, "hooked": False, "gpu": False}   # see `_relocatable`


class CacheError(ValueError):
    """An explicitly chosen cache directory cannot be used; the message is one line.

    Attributes:
      path: the directory.
      source: where it was chosen: "argument" (the `path` given to `enable`) or `ENV_VAR`.
    """

    def __init__(self, message: str, path: Path, source: str):
        super().__init__(message)
        self.path, self.source = path, source


def default_dir() -> Path:
    """`$XDG_CACHE_HOME/rnnctl/jax`, else `~/.cache/rnnctl/jax`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnctl" / "jax"


def resolve(path: str | os.PathLike | bool | None = None) -> Path | None:
    """The cache directory to use (None: the cache is off), by the rules above."""
    if path is False:
        return None
    if path is None or path is True:
        path = os.environ.get(ENV_VAR) or default_dir()
    if str(path).strip().lower() in OFF:
        return None
    return Path(path).expanduser()


def _source(path) -> str | None:
    """Who chose the place `resolve(path)` gives: "argument", `ENV_VAR`, or None (the
    default)."""
    if path is not None and path is not True:
        return "argument"
    return ENV_VAR if os.environ.get(ENV_VAR) else None


def _unusable(where: Path) -> str | None:
    """Why `where` cannot hold the cache (it cannot be created, or a file cannot be
    written in it), or None when it can; creates it (and its parents) if missing."""
    if where.exists() and not where.is_dir():
        return "it is not a directory"
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".rnnctl-write-test-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:           # a parent that failed is named; `where` already is
        other = e.filename and not str(e.filename).startswith(str(where))
        return f"{e.strerror or e}: {e.filename}" if other else (e.strerror or str(e))
    return None


def _refuse(where: Path, reason: str, source: str | None, flag: str | None) -> None:
    """Raise `CacheError` for an explicit place; warn once (one line) for the default."""
    if source == "argument":
        prefix = f"argument {flag}: " if flag else ""
        raise CacheError(f"{prefix}compilation cache {where} cannot be used ({reason}); "
                         "give a writable directory, or off", where, source)
    if source == ENV_VAR:
        raise CacheError(f"{ENV_VAR}={os.environ.get(ENV_VAR)}: compilation cache {where} "
                         f"cannot be used ({reason}); set it to a writable directory, or "
                         "off", where, source)
    if where not in _warned:
        _warned.add(where)
        print(f"warning: compilation cache {where} cannot be used ({reason}); compiling "
              f"without it (set {ENV_VAR} to a writable directory, or off)",
              file=sys.stderr, flush=True)


def enable(path: str | os.PathLike | bool | None = None,
           min_compile_s: float = 0.0, flag: str | None = None) -> Path | None:
    """Point jax's persistent compilation cache at `resolve(path)`.

    Args:
      path: a directory, None (environment or default), or False/"off" (do nothing).
      min_compile_s: programs that compiled faster than this are not stored. The
        default, 0, stores every program: besides the training programs a process
        compiles dozens of small ones (eager operations, spreading a state over
        devices), ~50 ms each and 1.2 s in all for the default sweep on a 2-core
        CPU, which load from the cache in a fraction of that.
      flag: the command-line flag `path` came from, named in `CacheError`'s message.
    Returns:
      The directory in use, or None when off or when the default place cannot be used
      (then one warning line, and compilation simply is not cached).
    Raises:
      CacheError: `path`, or `RNNCTL_COMPILE_CACHE`, names a directory that cannot be
        created or written; jax's setting is left as it was.
    """
    import jax
    global _chosen
    _chosen = True
    where = resolve(path)
    if where is None:
        return None
    reason = _unusable(where)
    if reason is not None:
        _refuse(where, reason, _source(path), flag)
        return None
    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_s))
    _relocatable()
    return where


def enable_default() -> Path | None:
    """`enable()` (the environment variable, else the default directory), unless this
    process has already called `enable` (with any argument, `off` included) or jax's
    compilation cache directory is already set (by the user or `JAX_COMPILATION_CACHE_DIR`);
    then nothing changes. Returns the directory it turned on, else None."""
    import jax
    if _chosen or jax.config.jax_compilation_cache_dir:
        return None
    return enable()


def _relocatable() -> None:
    """Keep the cache's path out of its keys: turn off jax's XLA caches (GPU-only, and
    named by a path under the cache) unless a GPU backend has started, and put jax's
    setting back if one starts later (a backend-start hook; where jax lacks it, they
    stay off)."""
    import jax
    if _xla_caches["gpu"]:
        return
    current = getattr(jax.config, _XLA_CACHES)
    if current != "none":
        _xla_caches["jax"] = current
    jax.config.update(_XLA_CACHES, "none")
    if not _xla_caches["hooked"]:
        _xla_caches["hooked"] = True
        try:
            from jax._src import xla_bridge
            xla_bridge.register_backend_initialization_hook(_restore_on_gpu)
        except (ImportError, AttributeError):   # private API moved: they stay off
            pass


def _restore_on_gpu(backend) -> None:
    """Backend-start hook: on a GPU, jax's own XLA-cache setting applies again."""
    import jax
    if getattr(backend, "platform", "cpu") in ("gpu", "cuda", "rocm"):
        _xla_caches["gpu"] = True
        jax.config.update(_XLA_CACHES, _xla_caches["jax"])
