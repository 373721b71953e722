"""Timed, named stages of the analysis, and the error that says which one failed."""
from __future__ import annotations

import time
from contextlib import contextmanager

__all__ = ["PipelineError", "stage"]


class PipelineError(RuntimeError):
    """A stage of the analysis failed; `stage`, `agent`, `checkpoint` and `kept` say where
    and which files of earlier stages were written."""

    def __init__(self, stage: str, cause: BaseException, *, agent: int | None = None,
                 agent_info: dict | None = None, checkpoint: int | None = None,
                 kept: list[str] | None = None):
        self.stage, self.agent, self.checkpoint, self.cause = stage, agent, checkpoint, cause
        self.kept = list(kept or [])
        where = ""
        if agent is not None:
            where += f", agent {agent}"
            if agent_info:
                where += f" (seed {agent_info.get('seed')}, {agent_info.get('obs')})"
        if checkpoint is not None:
            where += f", checkpoint {checkpoint}"
        msg = f"analysis stage {stage!r} failed{where}: {type(cause).__name__}: {cause}"
        if self.kept:
            msg += f" [kept: {', '.join(self.kept)}]"
        super().__init__(msg)


@contextmanager
def stage(name: str, timings: dict, log=None, **where):
    """Time a stage (accumulating into `timings[name]`) and turn any error into a
    `PipelineError` naming it. KeyboardInterrupt and OSError (a filesystem fault: the
    caller names the path) pass through untouched."""
    from rnnctl import _interrupt
    _interrupt.check()              # a Ctrl-C swallowed on the way stops here
    t0 = time.perf_counter()
    if log is not None:
        log(f"{name} ...")
    try:
        yield
        _interrupt.check()
    except (PipelineError, OSError):
        raise
    except Exception as e:
        raise PipelineError(name, e, **where) from e
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
