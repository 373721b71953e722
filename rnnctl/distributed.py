"""Process primitives for multi-process (multi-host) training.

With `jax.distributed`, each process (one per host, or several on one machine) runs the
same Python program and sees all devices of all processes in `jax.devices()`, but can
only touch its own (`jax.local_devices()`). rnnctl's agents are independent, so the
training program has no collective at all; what multi-process training needs is only:

  * `initialize`: join the processes (before anything touches the jax backend);
  * `agent_mesh`: a 1-D "agents" mesh that takes devices from every process;
  * `global_place`: every process computes the same initial state from the same seeds
    (cheap, deterministic) and keeps the agents of its own devices: a global array;
  * `gather`: after training, bring the sharded results to every process as NumPy
    (one all-gather; on CPU through gloo, jax's default CPU collectives);
  * `is_writer`: only process 0 writes files; `same_on_all`: a cheap agreement check.

Training itself is `rnnctl.experiment.train_agents` / `train_to_dir` with global devices
(the one training driver uses these primitives). On every process::

    from rnnctl import distributed
    distributed.initialize("127.0.0.1:1234", num_processes=2, process_id=i)
    import jax
    from rnnctl.experiment import train_agents
    result = train_agents(config, agents, devices=jax.device_count())   # NumPy everywhere

`python -m experiments.mp_smoke` (in a checkout) runs that as a smoke test. Importing
this module starts nothing (so `initialize` can come first); it never imports
`rnnctl.experiment`, and takes the mesh axis name from `rnnctl.ppo` only inside the
functions that use it.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = ["initialize", "is_multiprocess", "is_writer", "agent_mesh", "global_place",
           "gather", "same_on_all", "usable_cpus", "request_cpu_devices", "auto_devices"]


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Join this process to the others with `jax.distributed.initialize`.

    Call it first, before any jax computation or `jax.devices()`. Arguments left None are
    auto-detected by jax (Cloud TPU pods, SLURM, Open MPI). On CPU the processes exchange
    data through gloo collectives.
    Calling it again once initialised does nothing.
    """
    import jax
    if jax.distributed.is_initialized():
        return
    # gloo is the default in jax 0.10 (older versions defaulted to no CPU collectives,
    # which makes every cross-process transfer on CPU fail); set it only if unset.
    if jax.config.jax_cpu_collectives_implementation is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)


def is_multiprocess() -> bool:
    import jax
    return jax.process_count() > 1


def is_writer() -> bool:
    """True in the one process that writes files (process 0)."""
    import jax
    return jax.process_index() == 0


def same_on_all(value) -> bool:
    """Whether `value` (a small array or scalar) is equal on every process (a collective:
    call it on all of them). Always True with one process."""
    import jax
    if jax.process_count() == 1:
        return True
    from jax.experimental import multihost_utils
    stacked = multihost_utils.process_allgather(np.asarray(value))   # [processes, ...]
    return bool((stacked == stacked[:1]).all())


def agent_mesh(n_devices: int | None = None):
    """A 1-D mesh over axis "agents" of `n_devices` devices (default: all, of all processes).

    With several processes every process contributes the same number of its own devices
    (`n_devices` must be a multiple of the process count), so every process holds agents.
    """
    import jax
    from jax.sharding import Mesh
    from rnnctl.config import ConfigError
    from rnnctl.ppo import AGENT_AXIS
    devices = jax.devices()
    n = len(devices) if n_devices is None else n_devices
    n_proc = jax.process_count()
    if not 1 <= n <= len(devices):
        raise ConfigError(f"devices must be between 1 and {len(devices)} (the "
                          f"{devices[0].platform} devices of {n_proc} process(es)), got {n}")
    if n_proc == 1:
        return Mesh(np.array(devices[:n]), (AGENT_AXIS,))
    if n % n_proc:
        raise ConfigError(f"devices must be a multiple of the {n_proc} processes, got {n}")
    per = n // n_proc
    chosen = []
    for p in range(n_proc):
        mine = [d for d in devices if d.process_index == p]
        if len(mine) < per:
            raise ConfigError(f"process {p} has {len(mine)} devices, {per} needed")
        chosen += mine[:per]
    return Mesh(np.array(chosen), (AGENT_AXIS,))


def usable_cpus() -> int:
    """CPUs this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
    (`docker --cpus`, SLURM) where one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:                      # not Linux
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(n, 1)


def request_cpu_devices(n: int) -> bool:
    """Ask jax for `n` CPU devices (`jax_num_cpu_devices`); True if it was asked.

    Only before jax's backend starts, and never against the user's own choice (a
    `--xla_force_host_platform_device_count` in XLA_FLAGS, or `jax_num_cpu_devices` set
    already); otherwise jax's devices stay as they are. An accelerator's devices are not
    affected.
    """
    import jax
    if n <= 1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "") \
            or jax.config.jax_num_cpu_devices != -1:
        return False
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:                        # jax has started: its devices are fixed
        return False
    return True


def auto_devices(n_agents: int, n_local: int | None = None) -> int:
    """The devices a run of `n_agents` agents shards over by default: the fewest that give
    the smallest number of agents per device, among this process's devices (all of
    them, or `n_local`: on a CPU, one per usable core after
    `request_cpu_devices(usable_cpus())`).

    10 agents: 2 devices on a 2-core CPU (5 each), 4 on 4 cores (3 each, 2 of the 12 slots
    padding), 5 on 8 cores (2 each: 8 devices would also take 2 each, with 6 padded).
    """
    if n_local is None:
        import jax
        n_local = len(jax.local_devices())
    most = max(1, min(n_local, n_agents))
    per_device = math.ceil(n_agents / most)
    return math.ceil(n_agents / per_device)


def _is_key(leaf) -> bool:
    import jax
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def global_place(tree, mesh):
    """Host-identical values (the same on every process) -> global arrays sharded over the
    leading (agent) axis of `mesh`; each process fills only its own devices' shards.

    Leaves already sharded that way are passed through (so this can be called on the state
    a sharded program returned). PRNG key leaves stay typed keys. In one process this is
    `jax.device_put(tree, NamedSharding(mesh, P("agents")))`.
    """
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P
    from rnnctl.ppo import AGENT_AXIS
    sharding = NamedSharding(mesh, P(AGENT_AXIS))

    def place(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            if leaf.sharding.is_equivalent_to(sharding, leaf.ndim):
                return leaf
            return jax.device_put(leaf, sharding)    # already global: reshard
        if _is_key(leaf):
            impl = jax.random.key_impl(leaf)
            return jax.random.wrap_key_data(place(jax.random.key_data(leaf)), impl=impl)
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(place, tree)


def gather(tree):
    """Every leaf as a NumPy array holding all agents, on every process.

    Global (sharded across processes) leaves are all-gathered in one program; local
    leaves are copied. PRNG key leaves become their `jax.random.key_data` (uint32).
    """
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [jax.random.key_data(a) if _is_key(a) else a for a in leaves]
    remote = [i for i, a in enumerate(leaves)
              if isinstance(a, jax.Array) and not a.is_fully_addressable]
    if remote:
        def replicated(a):
            s = a.sharding
            if isinstance(s, NamedSharding):
                return NamedSharding(s.mesh, P())
            from jax._src.sharding_impls import GSPMDSharding
            return GSPMDSharding.get_replicated(s._device_assignment)

        picked = [leaves[i] for i in remote]
        full = jax.jit(lambda *xs: xs, out_shardings=tuple(map(replicated, picked)))(*picked)
        for i, a in zip(remote, full):
            leaves[i] = a.addressable_data(0)
    return jax.tree.unflatten(treedef, [np.asarray(a) for a in leaves])
