"""High-level training: agents from (seeds × observability × hyperparameters) → a run dir.

This is what `rnnctl sweep` and a notebook call; it keeps the CLI thin.

One driver (`_Driver`) trains in every setting: one process on one device, one process
on several devices, and several processes (`rnnctl.distributed`; the devices are then
those of every process). It builds the trainer, pads the agent axis to a multiple of the
device count, places the state on the mesh, runs the compiled chunks with the progress
bar, and gathers each chunk's record to NumPy. `train_agents` keeps the records in
memory; `train_to_dir` writes each chunk, with a resumable state, into a run directory.
"""
from __future__ import annotations

import contextlib
import itertools
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rnnctl._interrupt import check as _interrupt_check
from rnnctl._interrupt import interruptible
from rnnctl.config import OBS_SETTINGS, SWEPT_FIELDS, ConfigError, TrainConfig

__all__ = ["make_agents", "agent_inputs", "train_agents", "train_to_dir", "TrainResult",
           "Interrupted"]


def make_agents(seeds, obs=OBS_SETTINGS, sweep: dict | None = None,
                rnn_inits=None, variants=None) -> list[dict]:
    """One agent per (cell initialisation × hyperparameter combination × seed × obs).

    Args:
      seeds: iterable of ints.
      obs: observation variants, each among `variants`.
      sweep: optional {hyperparameter: [values]} (names from `config.SWEPT_FIELDS`).
      rnn_inits: optional list of cell initialisations (`config.RNN_INITS`); each agent
        then records its own "rnn_init" (else the config's applies to all). Agents of
        every initialisation train in one compiled program.
      variants: the task's observation variants (`envs.Task.variants`); default
        Pendulum's ("fo", "po", "pv").
    Returns:
      list of {"seed", "obs"} dicts, plus {"hyper": {name: value}} when `sweep` is given
      and {"rnn_init": name} when `rnn_inits` is.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds: need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: duplicate seeds {seeds}")
    if any(s < 0 for s in seeds):
        raise ConfigError(f"seeds must be non-negative, got {seeds}")
    obs = list(obs)
    if variants is None:
        from rnnctl.envs import PENDULUM_VARIANTS as variants
    variants = tuple(variants)
    for o in obs:
        if o not in variants:
            raise ConfigError(f"obs must be among {variants}, got {o!r}")
    if not obs or len(set(obs)) != len(obs):
        raise ConfigError(f"obs: need distinct settings among {variants}, got {obs}")
    sweep = dict(sweep or {})
    for name, values in sweep.items():
        if name not in SWEPT_FIELDS:
            raise ConfigError(f"cannot sweep {name!r}: sweepable are {SWEPT_FIELDS}")
        if not values:
            raise ConfigError(f"{name}: empty list of values")
    inits = list(rnn_inits) if rnn_inits is not None else [None]
    from rnnctl.config import RNN_INITS
    for name in inits:
        if name is not None and name not in RNN_INITS:
            raise ConfigError(f"rnn_init must be one of {RNN_INITS}, got {name!r}")
    if not inits or len(set(inits)) != len(inits):
        raise ConfigError(f"rnn_inits: need distinct values among {RNN_INITS}, got {inits}")
    combos = list(itertools.product(*sweep.values())) or [()]
    agents = []
    for init in inits:
        for combo in combos:
            for seed in seeds:
                for o in obs:
                    a = {"seed": seed, "obs": o}
                    if sweep:
                        a["hyper"] = {k: float(v) for k, v in zip(sweep, combo)}
                    if init is not None:
                        a["rnn_init"] = init
                    agents.append(a)
    return agents


def agent_inputs(config: TrainConfig, agents: list[dict]):
    """The per-agent inputs of `ppo.make_train(config).init`, one entry per agent.

    Args:
      config: the training configuration (its `encoding` sets the input size I).
      agents: from `make_agents`, A of them.
    Returns:
      (keys [A] PRNG keys from the seeds, masks [A, I] observation masks (the agents'
      variants of `envs.get_task(config)`),
      hypers `Hyper` with leaves [A]: the config's hyperparameters with each agent's
      swept values, rnn_inits [A] int32: index of each agent's cell initialisation in
      `networks.RNN_INITS`, the config's unless the agent names its own; None when no
      agent names one).
    """
    import jax.numpy as jnp
    from rnnctl import envs, ppo
    from rnnctl.config import stack_hypers
    keys = ppo.agent_keys([a["seed"] for a in agents])
    task = envs.get_task(config)
    masks = jnp.stack([task.mask(a["obs"]) for a in agents])
    hypers = stack_hypers([config.hyper(**a.get("hyper", {})) for a in agents])
    from rnnctl.config import RNN_INITS
    if not any("rnn_init" in a for a in agents):      # all the config's: built alone
        return keys, masks, hypers, None
    inits = jnp.asarray([RNN_INITS.index(a.get("rnn_init", config.rnn_init)) for a in agents],
                        jnp.int32)
    return keys, masks, hypers, inits


@dataclass
class TrainResult:
    """Arrays from one training call (NumPy), timings, and diverged agents."""

    params: dict                    # leaves [A, U+1, ...]
    metrics: dict[str, np.ndarray]  # [A, U+1]
    compile_s: float
    train_s: float                  # this call's training time (not a resumed run's past)
    env_steps: int                  # env steps trained in this call, in `train_s`
    diverged: list[dict]            # `runs.diverged_agents` (empty if none)
    devices: int = 1


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving every completed chunk.

    Attributes:
      path: the run directory holding the saved chunks.
      updates_done: updates saved; `train_to_dir(..., resume=True)` continues from here.
      n_updates: updates of the whole run.
    """

    def __init__(self, path: Path, updates_done: int, n_updates: int):
        self.path, self.updates_done, self.n_updates = Path(path), updates_done, n_updates
        super().__init__(
            f"interrupted after update {updates_done}/{n_updates}; the completed chunks are "
            f"saved in {path}" if updates_done else
            f"interrupted before the first chunk was saved; the run's config is in {path}")


# ----------------------------------------------------------------------------- the driver

# on_chunk(first, done, state, params, metrics, train_s): the record of updates
# first..done of the run's update axis (first = 0: the initial weights), NumPy with all
# unpadded agents, on every process; `state` is the training state after it (None unless
# asked for); `train_s` the seconds these updates took (not counting the saving).
OnChunk = Callable[[int, int, object, dict, dict, float], None]


class _Driver:
    """Trains `agents` with `config` on `devices` devices (of all processes).

    Checks `devices` on construction, before anything is written. The agent axis is padded
    to a multiple of the device count with copies of the last agent, whose results are
    dropped; every record handed out holds the real agents only, as NumPy, on every
    process (one all-gather per chunk with several processes).
    """

    def __init__(self, config: TrainConfig, agents: list[dict], devices: int):
        import jax
        from rnnctl import compile_cache, distributed, ppo
        config.validate()
        compile_cache.enable_default()   # compile once per machine, unless chosen otherwise
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ConfigError(
                f"devices must be between 1 and {len(available)} (the {available[0].platform}"
                f" devices jax sees), got {devices}; on a CPU, XLA_FLAGS="
                f"--xla_force_host_platform_device_count={devices} makes more")
        self.config, self.agents, self.devices = config, agents, devices
        self.n_agents = len(agents)
        self.padded = -(-self.n_agents // devices) * devices
        self.mesh = distributed.agent_mesh(devices)
        self.multiprocess = distributed.is_multiprocess()
        self.writer = distributed.is_writer()
        self.trainer = ppo.make_train(config, self.mesh if devices > 1 else None)

    # -- placing and gathering
    def pad(self, tree):
        import jax
        import jax.numpy as jnp
        extra = self.padded - self.n_agents
        if not extra:
            return tree
        return jax.tree.map(
            lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)], axis=0), tree)

    def place(self, tree):
        """Spread host-identical `tree` over the mesh (global arrays across processes)."""
        from rnnctl import distributed
        if self.multiprocess:
            return distributed.global_place(tree, self.mesh)
        return self.trainer.place(tree)

    def host(self, tree):
        """NumPy copy of `tree` with the real (unpadded) agents, on every process."""
        import jax
        from rnnctl import distributed
        return jax.tree.map(lambda a: a[: self.n_agents], distributed.gather(tree))

    # -- states
    def template(self):
        """Shapes and dtypes of the (unpadded) training state: what a saved state holds."""
        import jax
        return jax.eval_shape(self.trainer.init, *agent_inputs(self.config, self.agents))

    def initial_state(self):
        """The placed initial state (computed on one device, then spread)."""
        inputs = self.pad(agent_inputs(self.config, self.agents))
        init = interruptible(lambda: self.compile("init", self.trainer.init, *inputs))
        return self.place(init(*inputs))

    def restore(self, state):
        """A saved (unpadded, host) state, padded and placed."""
        return self.place(self.pad(state))

    def compile(self, name: str, fn, *args, lower=None):
        """`fn` compiled for `args`; in one process, through `aot.compiled` (a later
        process with the same config, shapes and devices skips tracing it)."""
        from rnnctl import aot
        return aot.compiled(name, fn, args, self.config.to_dict(),
                            use_export=not self.multiprocess,
                            lower=lower)

    # -- training
    def run(self, state, done: int, *, chunk: int, progress: bool, on_chunk: OnChunk,
            fresh: bool = True, with_state: bool = False) -> tuple[float, float]:
        """Train from `state` (after `done` updates) to the end, in compiled chunks.

        A `fresh` run (from `initial_state`) first records update 0 (initial weights and
        their evaluation); a restored one continues after its last saved chunk. Then one
        compiled program runs one update per call; every `chunk` updates (and the last,
        shorter, group) are handed to `on_chunk`, which may raise to stop. Progress goes
        to stderr on process 0, one step per update.
        Returns:
          (compile seconds, train seconds).
        """
        import jax
        from rnnctl.progress import ProgressBar
        cfg, trainer = self.config, self.trainer

        def emit(first, done, state, params, metrics, seconds):
            """Hand out updates first..done (params/metrics already on the host)."""
            state = interruptible(lambda: self.host(state)) if with_state else None
            on_chunk(first, done, state, params, metrics, seconds)

        compile_s = train_s = 0.0
        if fresh:
            t0 = time.perf_counter()
            start = interruptible(lambda: self.compile("start", trainer.start, state))
            compile_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            state, p0, m0 = interruptible(lambda: jax.block_until_ready(start(state)))
            p0, m0 = interruptible(lambda: self.host((p0, vars(m0))))
            seconds = time.perf_counter() - t0
            train_s += seconds
            emit(0, 0, state, p0, m0, seconds)
        # One compiled update per call, driven from here: the program holds no host
        # callback (so the persistent compilation cache can store it, and CPU dispatch
        # stays asynchronous), the next update is queued before this one's record is
        # copied to the host, and progress and Ctrl-C are handled between updates.
        state = self.place(state)   # compile for, and always pass, agent-sharded state
        t0 = time.perf_counter()
        step = interruptible(lambda: self.compile("run1", lambda s: trainer.run(s, 1), state,
                                                  lower=lambda s: trainer.run.lower(s, 1)))
        compile_s += time.perf_counter() - t0
        bar = ProgressBar(cfg.n_updates, start=done) if progress and self.writer else None
        t0 = time.perf_counter()
        pending = step(state) if done < cfg.n_updates else None
        records: list[tuple[dict, dict]] = []      # host records not yet handed out
        first = done + 1
        while pending is not None:
            _interrupt_check()
            state, params, metrics = pending
            done += 1
            pending = step(self.place(state)) if done < cfg.n_updates else None
            records.append(interruptible(lambda: self.host((params, vars(metrics)))))
            if bar is not None:
                bar(done)
            if done - first + 1 == chunk or done == cfg.n_updates:
                seconds = time.perf_counter() - t0
                train_s += seconds
                params_h, metrics_h = jax.tree.map(lambda *a: np.concatenate(a, axis=1),
                                                   *records)
                emit(first, done, state, params_h, metrics_h, seconds)
                records, first = [], done + 1
                t0 = time.perf_counter()
        return compile_s, train_s


def _steps(config: TrainConfig, agents: list[dict], updates: int | None = None) -> int:
    """Env steps of `updates` updates (default: the whole run) of every agent."""
    updates = config.n_updates if updates is None else updates
    return len(agents) * updates * config.steps_per_update


def train_agents(config: TrainConfig, agents: list[dict], progress: bool = True,
                 devices: int = 1) -> TrainResult:
    """Train all agents together, every update in one compiled call (no files).

    Returns NumPy arrays: the same driver as `train_to_dir` with one chunk of all updates.

    Args:
      config, agents: what to train (`make_agents`).
      progress: a progress bar on stderr (process 0 only).
      devices: shard the agent axis over this many of `jax.devices()`; with several
        processes (`rnnctl.distributed`) these are global devices, and every process
        calls this with the same arguments and gets the full record.
    """
    import jax
    from rnnctl import runs
    driver = _Driver(config, agents, devices)
    parts: list[tuple[dict, dict]] = []        # (params, metrics) of update 0, then the rest
    compile_s, train_s = driver.run(
        driver.initial_state(), 0, chunk=config.n_updates, progress=progress,
        on_chunk=lambda first, done, state, p, m, seconds: parts.append((p, m)))
    params, metrics = jax.tree.map(lambda *a: np.concatenate(a, axis=1), *parts)
    return TrainResult(params=params, metrics=metrics, compile_s=compile_s, train_s=train_s,
                       env_steps=_steps(config, agents),
                       diverged=runs.diverged_agents(agents, metrics), devices=devices)


def _run_timing(config: TrainConfig, agents: list[dict], chunks: list[dict]) -> dict:
    """The whole run's training throughput, from its chunk files (in update order): each
    records its training seconds and the update its process resumed at, so the parts
    are the processes that trained the run (one for a run never interrupted).

    Returns {"env_steps", "train_s", "env_steps_per_s", "parts": [{"updates": [first,
    last], "train_s", "env_steps"}]}; train_s and the rate are None when a chunk has no
    recorded time (saved by an older rnnctl), and such chunks make no part.
    """
    by_start: dict[int, list] = {}            # resumed_at -> [last update, seconds]
    known = True
    for c in chunks:
        if "timing/train_s" not in c:
            known = False
            continue
        part = by_start.setdefault(int(c["timing/resumed_at"]), [0, 0.0])
        part[0] = max(part[0], int(c["updates_done"]))
        part[1] += float(c["timing/train_s"])
    parts = [{"updates": [start + 1, last], "train_s": seconds,
              "env_steps": _steps(config, agents, last - start)}
             for start, (last, seconds) in sorted(by_start.items())]
    train_s = sum(p["train_s"] for p in parts) if known else None
    steps = _steps(config, agents)
    return {"env_steps": steps, "train_s": train_s,
            "env_steps_per_s": steps / train_s if train_s else None, "parts": parts}


def _check_resumable(out: Path, config: TrainConfig, agents: list[dict]) -> None:
    from rnnctl import runs
    saved = runs.read_run_meta(out, allow_incomplete=True)
    if saved.get("status") == "complete":
        raise runs.RunError(f"{out}: run is already complete; nothing to resume", out)
    # through TrainConfig, so fields added since the run was saved take their defaults
    diff = runs.config_diff(TrainConfig.from_dict(saved["config"]).to_dict(), config.to_dict())
    if diff:
        raise runs.RunError(f"{out}: was made with a different config ({diff})", out)
    if saved["agents"] != agents:
        raise runs.RunError(f"{out}: was made with different agents (seeds, obs or swept "
                            "hyperparameters)", out)


def _existing_status(meta_path: Path) -> str | None:
    from rnnctl import runs
    try:
        meta = runs.read_json(meta_path)
    except runs.RunError:
        return None
    return meta.get("status", "complete") if isinstance(meta, dict) else None


def _forget_unstarted(out: Path) -> None:
    """After a fresh run failed before its first chunk was saved: remove its config.json
    (and empty partial/), so that the same `out` can be used again rather than hold a run
    whose `--resume` would only repeat the failure."""
    from rnnctl import runs
    partial = out / "partial"
    if partial.is_dir() and any(partial.glob("chunk_*.npz")):
        return                                      # something to resume from: keep it
    with contextlib.suppress(OSError):
        (out / runs.CONFIG_FILE).unlink()
    with contextlib.suppress(OSError):
        partial.rmdir()


def train_to_dir(config: TrainConfig, agents: list[dict], out: str | Path, *,
                 progress: bool = True, chunk: int = 10, devices: int = 1,
                 resume: bool = False) -> tuple[Path, TrainResult]:
    """Train in chunks of updates, saving a resumable state after each, then the run.

    After every chunk `out/partial/chunk_<first update>.npz` holds that chunk's parameters
    and metrics and the full training state (parameters, optimiser state, environments,
    PRNG keys; keyed by field path), written atomically; a killed run continues from the
    last one with `resume=True` and ends bitwise identical to an uninterrupted run with
    the same chunk size. Ctrl-C stops at once (within 0.1 s, even mid-compilation; a
    chunk being written is finished first), keeps every saved chunk and raises
    `Interrupted`. While it writes, process 0 holds `out/.lock` (`runs.lock_run`). A
    fresh run that fails (raises) before its first chunk is saved leaves no run in `out`.

    Args:
      config, agents: what to train (`make_agents`).
      out: run directory; must not hold a run unless `resume`.
      progress: a progress bar on stderr (process 0 only).
      chunk: updates between saves of a resumable state.
      devices: shard the agent axis over this many of `jax.devices()`.
      resume: continue the interrupted run in `out` (its config and agents must match).
    Returns:
      (path, TrainResult). Its `train_s` and `env_steps` are this call's: after a resume,
      the updates that followed the last saved chunk. config.json's `info.timing` holds
      the same figures and their rate, and under "run" the whole run's (every process's
      saved chunks, with their training time, part by part).
    Raises:
      runs.RunExists: `out` holds a run and `resume` is False.
      runs.RunError: `resume` and `out` holds no matching, unfinished run.
      runs.RunLocked: another live process is writing `out`.
      Interrupted: Ctrl-C; the completed chunks are saved.
      OSError: `out` cannot be created or written (not a directory, read-only, full).

    With several processes (`rnnctl.distributed`), every process calls this with the same
    arguments; process 0 alone writes `out` and gets the full record, the others get a
    TrainResult with empty params and metrics. `resume` then needs `out` on a
    filesystem every process reads.
    """
    from rnnctl import runs

    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk <= 0:
        raise ConfigError(f"chunk must be a positive integer, got {chunk!r}")
    out = Path(out)
    driver = _Driver(config, agents, devices)     # checks `devices` before any write
    writer = driver.writer                        # only process 0 writes files
    if resume:
        _check_resumable(out, config, agents)     # before the lock creates anything
    with runs.lock_run(out) if writer else contextlib.nullcontext():
        return _train_locked(config, agents, out, driver, progress, chunk, devices, resume)


def _train_locked(config, agents, out: Path, driver: _Driver, progress: bool, chunk: int,
                  devices: int, resume: bool) -> tuple[Path, TrainResult]:
    """`train_to_dir` once the run directory is locked (process 0) or not ours to write."""
    from rnnctl import distributed, runs
    writer = driver.writer
    partial = out / "partial"
    meta_path = out / runs.CONFIG_FILE
    if resume:
        _check_resumable(out, config, agents)     # again: it may have changed meanwhile
    elif writer and meta_path.exists():
        raise runs.RunExists(out, _existing_status(meta_path))
    elif writer:   # the device count too: a resume on as many devices is bitwise the same
        runs.write_run_meta(out, config, agents, status="training", info={"devices": devices})

    from rnnctl import _interrupt
    saved = [0]                       # updates saved so far
    resumed_at = [0]                  # updates saved before this process began

    def on_chunk(first, done, state, params, metrics, train_s):
        if writer:
            arrays = {f"params/{k}": v for k, v in runs.flatten_params(params).items()}
            arrays.update({f"metrics/{k}": v for k, v in metrics.items()})
            arrays.update(runs.state_to_arrays(state))
            arrays["updates_done"] = np.asarray(done)
            # which process trained this chunk, and for how long: the run's throughput
            arrays["timing/train_s"] = np.asarray(train_s, np.float64)
            arrays["timing/resumed_at"] = np.asarray(resumed_at[0])
            with _interrupt.shield:       # a Ctrl-C now waits for the chunk to be saved
                runs.write_npz(partial / f"chunk_{first:05d}.npz", arrays)
                saved[0] = done
        else:
            saved[0] = done

    previous = _interrupt.install()
    try:
        chunk_files = sorted(partial.glob("chunk_*.npz")) if resume else []
        if chunk_files:
            last = runs.read_npz(chunk_files[-1])
            saved[0] = int(last["updates_done"])
            state = driver.restore(runs.state_from_arrays(driver.template(), last,
                                                          chunk_files[-1]))
        else:
            state = interruptible(driver.initial_state)
        if not distributed.same_on_all(saved[0]):
            raise runs.RunError(f"{out}: the processes found different saved chunks; "
                                "resuming with several processes needs the run directory "
                                "on a filesystem they all read", out)
        resumed_at[0] = saved[0]
        compile_s, train_s = driver.run(state, saved[0], chunk=chunk, progress=progress,
                                        on_chunk=on_chunk, fresh=not chunk_files,
                                        with_state=True)
    except KeyboardInterrupt:
        _interrupt.clear()
        raise Interrupted(out, saved[0], config.n_updates) from None
    except Exception:
        if writer and not resume:
            _forget_unstarted(out)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    steps = _steps(config, agents, config.n_updates - resumed_at[0])   # by this process
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
                            f"updates, expected {config.n_updates}", partial)
    result = TrainResult(params=params, metrics=metrics, compile_s=compile_s,
                         train_s=train_s, env_steps=steps,
                         diverged=runs.diverged_agents(agents, metrics), devices=devices)
    timing = {"compile_s": compile_s, "train_s": train_s, "env_steps": steps,
              "env_steps_per_s": steps / train_s if train_s else None,
              "devices": devices, "chunk": chunk, "resumed": bool(resume),
              "resumed_at": resumed_at[0], "run": _run_timing(config, agents, parts)}
    info = {"timing": timing, "diverged": result.diverged}
    runs.save_run(out, config, agents, params, metrics, info=info)
    for f in files:
        f.unlink()
    partial.rmdir()
    return out, result
