"""Ctrl-C that always stops, promptly, and never in the middle of saving a file.

Python runs a SIGINT handler in the main thread between bytecodes. Two things defeat
the default handler (raise KeyboardInterrupt wherever that is):

- a long compilation or compiled call blocks in C++, so the handler waits for it;
- the handler may run inside a callback whose exceptions are swallowed (jax's garbage-
  collection callback prints "Exception ignored ... KeyboardInterrupt" and the program
  goes on).

So `on_sigint` records the request *and* raises; `check()` raises again at the next safe
point if the first raise was swallowed; `interruptible(fn)` runs blocking work in a worker
thread while the main thread waits in Python (and checks); `shield` defers the interrupt
while a file is written.
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["on_sigint", "check", "clear", "interruptible", "shield", "install"]

_requested = threading.Event()
_shield_depth = [0]


def on_sigint(signum=None, frame=None) -> None:
    """SIGINT handler: remember the request; raise KeyboardInterrupt unless shielded."""
    _requested.set()
    if not _shield_depth[0]:
        raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and not yet acted on."""
    if _requested.is_set() and not _shield_depth[0]:
        raise KeyboardInterrupt


def clear() -> None:
    """Forget an interrupt that has been handled."""
    _requested.clear()


def install() -> Callable | None:
    """Make `on_sigint` the SIGINT handler (main thread only); returns the previous one
    (None when not on the main thread, where nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    clear()
    return signal.signal(signal.SIGINT, on_sigint)


class _Shield:
    """`with shield:` a Ctrl-C waits for the block to end, then interrupts."""

    def __enter__(self):
        _shield_depth[0] += 1

    def __exit__(self, *exc):
        _shield_depth[0] -= 1
        if exc[0] is None:
            check()


shield = _Shield()


def interruptible(fn: Callable[[], Any]) -> Any:
    """`fn()` in a worker thread, waited for in Python on the main thread, so that Ctrl-C
    stops the wait within 0.1 s; the abandoned call runs on in its daemon thread until the
    process exits. Off the main thread `fn()` is simply called.

    jax's thread-local settings (`with jax.default_device(...)` and similar context
    managers) do not reach the worker thread; global `jax.config` settings do.
    """
    check()
    if threading.current_thread() is not threading.main_thread():
        return fn()
    box: dict[str, Any] = {}

    def target():
        try:
            box["out"] = fn()
        except BaseException as e:         # handed to the waiting thread
            box["err"] = e

    worker = threading.Thread(target=target, daemon=True, name="rnnctl-compiled-call")
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        check()
    if "err" in box:
        raise box["err"]
    return box["out"]
