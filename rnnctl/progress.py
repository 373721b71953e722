"""Progress on stderr: a bar for training updates and a timestamped line logger.

Both are plain callables, silent where asked, and import nothing beyond the standard
library, so any stage (training, analysis, a notebook) can use them.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

__all__ = ["ProgressBar", "Log"]


class ProgressBar:
    """A one-line stderr bar fed with the number of updates done (`bar(done)`).

    The time left is estimated from the updates after the first one this bar saw, so the
    first update's compilation and warm-up do not inflate it; until two updates have been
    seen it shows `?`.

    Args:
      total: updates of the whole run.
      start: updates already done before this bar (a resumed run).
      label: text before the bar.
      stream: where to write (default stderr).
      width: characters of the bar.
      clock: seconds now (a test can pass a fake one).
      live: redraw one line in place (`\r`); default: when `stream` is a terminal or a
        notebook's output. Otherwise (a log file, CI) a plain line is written at every
        tenth of the run and at its end, so logs hold no `\r` and stay short.
    """

    def __init__(self, total: int, start: int = 0, label: str = "train",
                 stream: TextIO | None = None, width: int = 30,
                 clock: Callable[[], float] = time.perf_counter, live: bool | None = None):
        self.total, self.label, self.width, self.clock = total, label, width, clock
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_live(self.stream) if live is None else live
        self._next_line = start     # non-live: the update count of the next line
        self.t0 = clock()
        self.last = start
        self._first: tuple[int, float] | None = None    # (done, time) of the first call

    def eta(self, done: int, now: float) -> float:
        """Seconds left at `done` updates, from the rate since the first update seen
        (NaN until a second update arrives)."""
        if self._first is None or done <= self._first[0]:
            return float("nan")
        d0, t0 = self._first
        return (now - t0) / (done - d0) * max(self.total - done, 0)

    def __call__(self, done: int) -> None:
        if done == self.last:      # one call per update (per device shard under sharding)
            return
        self.last = done
        now = self.clock()
        if self._first is None:
            self._first = (done, now)
        frac = min(done / max(self.total, 1), 1.0)
        bar = "#" * int(frac * self.width)
        eta = self.eta(done, now)
        left = f"~{eta:4.0f}s left" if eta == eta else "    ?s left"
        text = (f"{self.label} [{bar:<{self.width}}] {done}/{self.total} updates  "
                f"{now - self.t0:5.1f}s elapsed, {left}")
        if self.live:
            self.stream.write(f"\r{text}{chr(10) if done >= self.total else ''}")
        elif done >= self._next_line or done >= self.total:
            self.stream.write(text + "\n")
            step = max(self.total // 10, 1)
            self._next_line = (done // step + 1) * step
        else:
            return
        self.stream.flush()


def _is_live(stream: TextIO) -> bool:
    """A terminal, or a Jupyter cell's output (which also redraws a line on `\r`)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):     # no isatty, or closed
        return False
    return type(stream).__module__.startswith("ipykernel")


class Log:
    """Timestamped progress lines, `[analysis   12.3s] msg`, on stderr (silent when off).

    Args:
      on: print, or stay silent.
      label: the word before the seconds since this logger was made.
      stream: where to write (default stderr).
      clock: seconds now (a test can pass a fake one).
    """

    def __init__(self, on: bool = True, label: str = "analysis", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.on, self.label, self.clock = bool(on), label, clock
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = clock()

    def __call__(self, msg: str) -> None:
        if self.on:
            self.stream.write(f"[{self.label} {self.clock() - self.t0:6.1f}s] {msg}\n")
            self.stream.flush()
