"""XLA CPU runtime defaults, applied before jax initialises its backend.

jax 0.10.x's CPU runtime can wedge forever in `block_until_ready` (0% CPU) on vmapped
training programs when its concurrency-optimised scheduler is on; turning that scheduler
off cured it on our machines. The mechanism, seen in a native stack of a hung analysis on
2 cores: jaxlib's batched LAPACK kernels (LU, for `jnp.linalg.solve`) split their batch
into tasks on XLA's intra-op thread pool and wait for them; when that scheduler runs two
such kernels at once on a 2-thread pool, both threads wait and no thread is left to run
the tasks. A jitted program with four independent batched solves hangs so within a
minute without the flag and finishes with it (`--xla_cpu_multi_thread_eigen=false` does
not help). We add the flag only when the user has not set it
themselves: any value the user gives in XLA_FLAGS wins. The command-line tools call
`apply_safe_xla_flags` as they start (`rnnctl.cli.prepare`); `import rnnctl` does not, so a
Python user who trains many agents calls `rnnctl.apply_safe_xla_flags()` before jax starts.
"""
from __future__ import annotations

import os
import sys
import warnings

SAFE_CPU_FLAGS = ("--xla_cpu_enable_concurrency_optimized_scheduler=false",)


def apply_safe_xla_flags() -> None:
    """Append our CPU flags to XLA_FLAGS unless the user already set the same option."""
    flags = os.environ.get("XLA_FLAGS", "")
    added = []
    for flag in SAFE_CPU_FLAGS:
        name = flag.split("=")[0]
        if name not in flags:
            added.append(flag)
    if not added:
        return
    if _backend_initialised():
        warnings.warn("rnnctl: jax's backend had started, so the XLA "
                      f"flags {added} that avoid a known CPU hang could not be applied; "
                      "call rnnctl.apply_safe_xla_flags() before jax starts, or set them "
                      "in XLA_FLAGS", RuntimeWarning,
                      stacklevel=2)
        return
    os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()


def _backend_initialised() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
        return bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # private API moved: assume the worst only if jax is imported
        return False
