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
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "default_dir", "resolve", "enable", "enable_default"]

ENV_VAR = "RNNCTL_COMPILE_CACHE"
OFF = ("off", "0", "false", "no", "none")
_chosen = False     # set by `enable`: this process made its choice (on or off)


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


def enable(path: str | os.PathLike | bool | None = None,
           min_compile_s: float = 0.0) -> Path | None:
    """Point jax's persistent compilation cache at `resolve(path)`.

    Args:
      path: a directory, None (environment or default), or False/"off" (do nothing).
      min_compile_s: programs that compiled faster than this are not stored. The
        default, 0, stores every program: besides the training programs a process
        compiles dozens of small ones (eager operations, spreading a state over
        devices), ~50 ms each and 1.2 s in all for the default sweep on a 2-core
        CPU, which load from the cache in a fraction of that.
    Returns:
      The directory in use, or None when off or when it cannot be created (then
      compilation simply is not cached; nothing fails).
    """
    import jax
    global _chosen
    _chosen = True
    where = resolve(path)
    if where is None:
        return None
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_s))
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
