"""High-level training: agents from (seeds × observability × hyperparameters) → a run dir.

This is what `python -m experiments.sweep` and a notebook call; it keeps the CLI thin.
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnctl.config import OBS_SETTINGS, SWEPT_FIELDS, ConfigError, TrainConfig

__all__ = ["make_agents", "train_agents", "train_to_dir", "ProgressBar", "TrainResult"]


def make_agents(seeds, obs=OBS_SETTINGS, sweep: dict | None = None) -> list[dict]:
    """One agent per (hyperparameter combination × seed × observability).

    Args:
      seeds: iterable of ints.
      obs: observability settings, each "fo" or "po".
      sweep: optional {hyperparameter: [values]} (names from `config.SWEPT_FIELDS`).
    Returns:
      list of {"seed", "obs"} dicts, plus {"hyper": {name: value}} when `sweep` is given.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds: need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: duplicate seeds {seeds}")
    if any(s < 0 for s in seeds):
        raise ConfigError(f"seeds must be non-negative, got {seeds}")
    obs = list(obs)
    for o in obs:
        if o not in OBS_SETTINGS:
            raise ConfigError(f"obs must be among {OBS_SETTINGS}, got {o!r}")
    if not obs or len(set(obs)) != len(obs):
        raise ConfigError(f"obs: need distinct settings among {OBS_SETTINGS}, got {obs}")
    sweep = dict(sweep or {})
    for name, values in sweep.items():
        if name not in SWEPT_FIELDS:
            raise ConfigError(f"cannot sweep {name!r}: sweepable are {SWEPT_FIELDS}")
        if not values:
            raise ConfigError(f"{name}: empty list of values")
    combos = list(itertools.product(*sweep.values())) or [()]
    agents = []
    for combo in combos:
        for seed in seeds:
            for o in obs:
                a = {"seed": seed, "obs": o}
                if sweep:
                    a["hyper"] = {k: float(v) for k, v in zip(sweep, combo)}
                agents.append(a)
    return agents


class ProgressBar:
    """A minimal stderr progress bar, fed by the trainer's host callback."""

    def __init__(self, total: int, label: str = "train", stream=sys.stderr, width: int = 30):
        self.total, self.label, self.stream, self.width = total, label, stream, width
        self.t0 = time.perf_counter()
        self.last = -1

    def __call__(self, done: int) -> None:
        if done == self.last:      # one call per update (per device shard under sharding)
            return
        self.last = done
        frac = min(done / max(self.total, 1), 1.0)
        bar = "#" * int(frac * self.width)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {done}/{self.total} "
                          f"updates  {elapsed:5.1f}s elapsed, ~{eta:4.0f}s left")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


@dataclass
class TrainResult:
    """Arrays from one training call (NumPy), timings, and diverged agents."""

    params: dict                    # leaves [A, U+1, ...]
    metrics: dict[str, np.ndarray]  # [A, U+1]
    compile_s: float
    train_s: float
    env_steps: int
    diverged: list[dict]            # [{"agent", "seed", "obs", "update"}] (empty if none)
    devices: int = 1


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving every completed chunk."""

    def __init__(self, path: Path, updates_done: int, n_updates: int):
        self.path, self.updates_done, self.n_updates = path, updates_done, n_updates
        super().__init__(f"interrupted after update {updates_done}/{n_updates}; saved in "
                         f"{path}; resume with: python -m experiments.sweep --resume {path}")


def _inputs(config: TrainConfig, agents: list[dict]):
    import jax.numpy as jnp
    from rnnctl import envs, ppo
    from rnnctl.config import stack_hypers
    keys = ppo.agent_keys([a["seed"] for a in agents])
    masks = jnp.stack([envs.obs_mask(a["obs"], config.encoding) for a in agents])
    hypers = stack_hypers([config.hyper(**a.get("hyper", {})) for a in agents])
    return keys, masks, hypers


def diverged_agents(agents: list[dict], metrics: dict[str, np.ndarray]) -> list[dict]:
    """Agents whose training hit NaN/inf: seed, setting and first bad update."""
    out = []
    for i, flags in enumerate(metrics["diverged"]):
        bad = np.flatnonzero(flags > 0)
        if bad.size:
            out.append({"agent": i, "seed": agents[i]["seed"], "obs": agents[i]["obs"],
                        **({"hyper": agents[i]["hyper"]} if "hyper" in agents[i] else {}),
                        "update": int(bad[0])})
    return out


class _Sharder:
    """A 1-D device mesh for the agent axis; pads A to a multiple of the device count
    with copies of the last agent (their results are dropped). With several processes
    (`rnnctl.distributed`) the mesh takes devices from all of them."""

    def __init__(self, n_agents: int, n_devices: int):
        import jax
        from rnnctl import distributed
        available = jax.devices()
        if not 1 <= n_devices <= len(available):
            raise ConfigError(
                f"devices must be between 1 and {len(available)} (the {available[0].platform} "
                f"devices jax sees), got {n_devices}; on a CPU, XLA_FLAGS="
                f"--xla_force_host_platform_device_count={n_devices} makes more")
        self.n_agents, self.n_devices = n_agents, n_devices
        self.padded = -(-n_agents // n_devices) * n_devices
        self.mesh = distributed.agent_mesh(n_devices)
        self.multiprocess = distributed.is_multiprocess()

    def place(self, trainer, tree):
        """Spread host-identical `tree` over the mesh (global arrays across processes)."""
        from rnnctl import distributed
        if self.multiprocess:
            return distributed.global_place(tree, self.mesh)
        return trainer.place(tree)

    def host(self, tree):
        """NumPy copy of `tree` with all (unpadded) agents, on every process."""
        from rnnctl import distributed
        return self.unpad(distributed.gather(tree))

    def pad(self, tree):
        import jax
        import jax.numpy as jnp
        extra = self.padded - self.n_agents

        def pad_leaf(a):
            if extra:
                a = jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)], axis=0)
            return a

        return jax.tree.map(pad_leaf, tree)

    def unpad(self, tree):
        import jax
        return jax.tree.map(lambda a: a[: self.n_agents], tree)


# ----------------------------------------------------------------------------- state I/O

def _state_to_arrays(state) -> dict[str, np.ndarray]:
    import jax
    arrays = {}
    for i, leaf in enumerate(jax.tree.leaves(state)):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        arrays[f"state/{i:04d}"] = np.asarray(leaf)
    return arrays


def _state_from_arrays(template, arrays: dict[str, np.ndarray], where: str):
    """Rebuild an AgentState from saved leaves, checking each against `template`."""
    import jax
    import jax.numpy as jnp
    from rnnctl.runs import RunError
    leaves, treedef = jax.tree.flatten(template)
    out = []
    for i, t in enumerate(leaves):
        name = f"state/{i:04d}"
        if name not in arrays:
            raise RunError(f"{where}: resume state is missing {name}")
        a = arrays[name]
        if jax.dtypes.issubdtype(t.dtype, jax.dtypes.prng_key):
            out.append(jax.random.wrap_key_data(jnp.asarray(a)))
            continue
        if a.shape != t.shape or a.dtype != t.dtype:
            raise RunError(f"{where}: resume state {name} is {a.dtype}{list(a.shape)}, "
                           f"expected {t.dtype}{list(t.shape)}")
        out.append(jnp.asarray(a))
    n_saved = sum(k.startswith("state/") for k in arrays)
    if n_saved != len(leaves):
        raise RunError(f"{where}: resume state has {n_saved} leaves, expected {len(leaves)}")
    return jax.tree.unflatten(treedef, out)


# ----------------------------------------------------------------------------- training

def train_agents(config: TrainConfig, agents: list[dict], progress: bool = True,
                 devices: int = 1) -> TrainResult:
    """Train all agents in one compiled program (no files). Returns NumPy arrays."""
    import jax
    from rnnctl import distributed, ppo
    config.validate()
    sharder = _Sharder(len(agents), devices)
    trainer = ppo.make_train(config, sharder.mesh if devices > 1 else None)
    state = sharder.place(trainer, trainer.init(*sharder.pad(_inputs(config, agents))))
    t0 = time.perf_counter()
    compiled = trainer.train_from.lower(state).compile()
    compile_s = time.perf_counter() - t0
    progress = progress and distributed.is_writer()
    ppo.set_progress_hook(ProgressBar(config.n_updates) if progress else None)
    try:
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(state))
        train_s = time.perf_counter() - t0
    finally:
        ppo.set_progress_hook(None)
    params, metrics = sharder.host((out.params, out.metrics))
    metrics = vars(metrics)
    steps = len(agents) * config.n_updates * config.steps_per_update
    return TrainResult(params=params, metrics=metrics, compile_s=compile_s,
                       train_s=train_s, env_steps=steps,
                       diverged=diverged_agents(agents, metrics), devices=devices)


def train_to_dir(config: TrainConfig, agents: list[dict], out: str | Path, *,
                 progress: bool = True, chunk: int = 10, devices: int = 1,
                 resume: bool = False) -> tuple[Path, TrainResult]:
    """Train in chunks of updates, saving a resumable state after each, then the run.

    After every chunk `out/partial/chunk_<first update>.npz` holds that chunk's parameters
    and metrics and the full training state (parameters, optimiser state, environments,
    PRNG keys), written atomically; a killed run continues from the last one with
    `resume=True` and ends bitwise identical to an uninterrupted run with the same chunk
    size. Ctrl-C finishes the running chunk, saves it and raises `Interrupted`.

    Args:
      config, agents: what to train (`make_agents`).
      out: run directory; must not hold a run unless `resume`.
      chunk: updates per compiled call between saves.
      devices: shard the agent axis over this many of `jax.devices()`.
      resume: continue the interrupted run in `out` (its config and agents must match).
    Returns:
      (path, TrainResult).

    With several processes (`rnnctl.distributed`), every process calls this with the same
    arguments; process 0 alone writes `out` and gets the full record, the others get a
    TrainResult with empty params and metrics. `resume` then needs `out` on a
    filesystem every process reads.
    """
    import signal
    import jax
    import jax.numpy as jnp
    from rnnctl import distributed, ppo, runs

    config.validate()
    if not isinstance(chunk, int) or chunk <= 0:
        raise ConfigError(f"chunk must be a positive integer, got {chunk!r}")
    out = Path(out)
    sharder = _Sharder(len(agents), devices)        # checks `devices` before any write
    writer = distributed.is_writer()                # only process 0 writes files
    partial = out / "partial"
    meta_path = out / runs.CONFIG_FILE
    if resume:
        saved = runs.read_run_meta(out, allow_incomplete=True)
        if saved.get("status") == "complete":
            raise runs.RunError(f"{out}: run is already complete; nothing to resume")
        diff = runs.config_diff(saved["config"], config.to_dict())
        if diff:
            raise runs.RunError(f"{out}: was made with a different config ({diff})")
        if saved["agents"] != agents:
            raise runs.RunError(f"{out}: was made with different agents (seeds, obs or "
                                "swept hyperparameters)")
    elif writer and meta_path.exists():
        raise runs.RunError(f"{out}: already holds a run; choose another --out or --resume it")
    elif writer:
        runs.write_run_meta(out, config, agents, status="training")

    trainer = ppo.make_train(config, sharder.mesh if devices > 1 else None)
    inputs = sharder.pad(_inputs(config, agents))
    compile_s = 0.0

    def save_chunk(first: int, state, params, metrics):
        state, params, metrics = sharder.host((state, params, metrics))
        if not writer:
            return
        arrays = {f"params/{k}": v for k, v in runs.flatten_params(params).items()}
        arrays.update({f"metrics/{k}": v for k, v in vars(metrics).items()})
        arrays.update(_state_to_arrays(state))
        arrays["updates_done"] = np.asarray(int(state.update[0]))
        runs.write_npz(partial / f"chunk_{first:05d}.npz", arrays)

    chunk_files = sorted(partial.glob("chunk_*.npz")) if resume else []
    if chunk_files:
        last = runs.read_npz(chunk_files[-1])
        template = jax.eval_shape(trainer.init, *_inputs(config, agents))
        state = sharder.pad(_state_from_arrays(template, last, str(chunk_files[-1])))
        state = sharder.place(trainer, state)
        done = int(last["updates_done"])
    else:
        state = sharder.place(trainer, trainer.init(*inputs))
        t0 = time.perf_counter()
        start = trainer.start.lower(state).compile()
        compile_s += time.perf_counter() - t0
        state, p0, m0 = start(state)
        save_chunk(0, state, p0, m0)
        done = 0
    if not distributed.same_on_all(done):
        raise runs.RunError(f"{out}: the processes found different saved chunks; --resume "
                            "with several processes needs the run directory on a "
                            "filesystem they all read")

    interrupted = []
    def on_sigint(signum, frame):
        if interrupted:                      # a second Ctrl-C stops at once
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        interrupted.append(True)
        sys.stderr.write("\nCtrl-C: finishing the current chunk, then saving "
                         "(Ctrl-C again to abort now)\n")
    previous = (signal.signal(signal.SIGINT, on_sigint)
                if threading_is_main() else None)
    bar = ProgressBar(config.n_updates) if progress and writer else None
    if bar:
        bar.last = done
    ppo.set_progress_hook(bar)
    train_s = 0.0
    length = min(chunk, config.n_updates)
    state = sharder.place(trainer, state)  # compile for, and always pass, agent-sharded state
    try:
        t0 = time.perf_counter()
        run = trainer.run.lower(state, length, jnp.int32(length)).compile()
        compile_s += time.perf_counter() - t0
        while done < config.n_updates:
            n = min(length, config.n_updates - done)
            t0 = time.perf_counter()
            state, params, metrics = jax.block_until_ready(run(state, jnp.int32(n)))
            train_s += time.perf_counter() - t0
            if n < length:
                params, metrics = jax.tree.map(lambda a: a[:, :n], (params, metrics))
            save_chunk(done + 1, state, params, metrics)
            done += n
            state = sharder.place(trainer, state)
            if interrupted and done < config.n_updates:
                raise Interrupted(out, done, config.n_updates)
    finally:
        ppo.set_progress_hook(None)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    steps = len(agents) * config.n_updates * config.steps_per_update
    if not writer:
        return out, TrainResult(params={}, metrics={}, compile_s=compile_s, train_s=train_s,
                                env_steps=steps, diverged=[], devices=devices)
    # assemble the complete record from the chunks, then drop them
    files = sorted(partial.glob("chunk_*.npz"))
    parts = [runs.read_npz(f) for f in files]
    cat = lambda prefix: {k[len(prefix):]: np.concatenate([p[k] for p in parts], axis=1)
                          for k in parts[0] if k.startswith(prefix)}
    params, metrics = runs.unflatten_params(cat("params/")), cat("metrics/")
    if metrics["eval_return"].shape[1] != config.n_updates + 1:
        raise runs.RunError(f"{partial}: chunks cover {metrics['eval_return'].shape[1] - 1} "
                            f"updates, expected {config.n_updates}")
    result = TrainResult(params=params, metrics=metrics, compile_s=compile_s,
                         train_s=train_s, env_steps=steps,
                         diverged=diverged_agents(agents, metrics), devices=devices)
    info = {"timing": {"compile_s": compile_s, "train_s": train_s, "env_steps": steps,
                       "env_steps_per_s": steps / train_s if train_s else None,
                       "devices": devices, "chunk": chunk, "resumed": bool(resume)},
            "diverged": result.diverged}
    runs.save_run(out, config, agents, params, metrics, info=info)
    for f in files:
        f.unlink()
    partial.rmdir()
    return out, result


def threading_is_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()
