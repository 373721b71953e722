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
    """

    def __init__(self, total: int, start: int = 0, label: str = "train",
                 stream: TextIO | None = None, width: int = 30,
                 clock: Callable[[], float] = time.perf_counter):
        self.total, self.label, self.width, self.clock = total, label, width, clock
        self.stream = stream if stream is not None else sys.stderr
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
        self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {done}/{self.total} "
                          f"updates  {now - self.t0:5.1f}s elapsed, {left}")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


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
