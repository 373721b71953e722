"""rnnctl's command-line tools: `rnnctl sweep|atlas|cells|nulls|dynamics` (the console script)
and, in a checkout, `python -m experiments.sweep|atlas|cells|nulls|dynamics`; both run the
same `main`.

    rnnctl sweep --seeds 5          # train, analyse, draw, report (docs/cli.md)
    rnnctl --help                   # the commands; `rnnctl sweep --help`, every flag

What a command-line process needs before jax and gymnax start (the XLA flags that avoid a
known CPU hang, gymnax's rendering imports deferred) is done here, by `prepare`, and never
by `import rnnctl`.
"""
from __future__ import annotations

import gc
import importlib
import os
import signal
import sys

#: The commands and what each does (the console script's --help).
COMMANDS = {
    "sweep": "train seeds × {FO, PO} agents in one program; analyse, draw, report",
    "atlas": "when does each of the paper's claims hold? a grid of conditions, 20 seeds each",
    "cells": "the same task and budget with each recurrent cell (RNN, GRU, LSTM), compared",
    "nulls": "can each claim rule fail? null models on an analysed run's real agents",
    "dynamics": "do agents converge to the same dynamics? every agent × checkpoint by DSA",
}


def prepare() -> None:
    """Set up a command-line process before anything starts jax or imports gymnax.

    Adds rnnctl's safe CPU flags to XLA_FLAGS (`rnnctl._xla`; a value the user set wins)
    and lets seaborn and matplotlib.pyplot, which gymnax imports only to render two
    environments, load on first use (`rnnctl.cli._lazy`): seconds of every start on a
    small CPU.
    """
    from rnnctl._xla import apply_safe_xla_flags
    from rnnctl.cli._lazy import defer_imports
    apply_safe_xla_flags()
    defer_imports(("seaborn", "matplotlib.pyplot"))


def enable_cache(prog: str) -> bool:
    """Turn on the compilation cache ($RNNCTL_COMPILE_CACHE, else ~/.cache/rnnctl/jax);
    a chosen but unusable place is said in one line before any work (False: exit 2)."""
    from rnnctl import compile_cache
    try:
        compile_cache.enable()
    except compile_cache.CacheError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return False
    return True


def _quit_while_starting(signum, frame):
    sys.stderr.write("\ninterrupted while starting; nothing was written\n")
    os._exit(130)


def run(name: str, argv: list[str] | None = None, prog: str | None = None):
    """Run command `name` as this process, then exit with its code.

    Args:
      name: one of `COMMANDS`.
      argv: its arguments (default: `sys.argv[1:]`).
      prog: how its messages name the command ("rnnctl sweep", "python -m
        experiments.sweep"); by default the module's own `PROG`.
    """
    signal.signal(signal.SIGINT, _quit_while_starting)  # Ctrl-C during the imports
    prepare()
    module = importlib.import_module(f"rnnctl.cli.{name}")
    if prog is not None:
        module.PROG = prog
    if not getattr(module, "QUIET_CTRL_C_UNTIL_MAIN_INSTALLS_ITS_OWN", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    code = module.main(argv)
    if code == 130:     # an abandoned compiled call may still run: leave without waiting
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    # Skip the interpreter's final garbage collections: they walk every object that jax
    # and XLA made, a noticeable part of a short sweep. Every file is written and closed
    # by now; atexit handlers still run.
    gc.freeze()
    sys.exit(code)


def _usage() -> str:
    from rnnctl._version import __version__
    width = max(map(len, COMMANDS))
    lines = [f"usage: rnnctl COMMAND [ARGS...]   (rnnctl {__version__})", "",
             "commands:"]
    lines += [f"  {n:<{width}}  {what}" for n, what in COMMANDS.items()]
    lines += ["", "rnnctl COMMAND --help lists every flag of COMMAND (docs/cli.md)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    """The `rnnctl` console script: `rnnctl COMMAND [ARGS...]`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else 2)
    if argv[0] == "--version":
        from rnnctl._version import __version__
        print(f"rnnctl {__version__}")
        sys.exit(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rnnctl: error: unknown command {name!r}; choose from "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    run(name, rest, prog=f"rnnctl {name}")
