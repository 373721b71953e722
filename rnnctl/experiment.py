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
    """Arrays from one training call (NumPy) and timings."""

    params: dict                    # leaves [A, U+1, ...]
    metrics: dict[str, np.ndarray]  # [A, U+1]
    compile_s: float
    train_s: float
    env_steps: int


def _inputs(config: TrainConfig, agents: list[dict]):
    import jax.numpy as jnp
    from rnnctl import envs, ppo
    from rnnctl.config import stack_hypers
    keys = ppo.agent_keys([a["seed"] for a in agents])
    masks = jnp.stack([envs.obs_mask(a["obs"], config.encoding) for a in agents])
    hypers = stack_hypers([config.hyper(**a.get("hyper", {})) for a in agents])
    return keys, masks, hypers


def train_agents(config: TrainConfig, agents: list[dict], progress: bool = True
                 ) -> TrainResult:
    """Train all agents in one compiled program and return NumPy arrays and timings."""
    import jax
    from rnnctl import ppo
    trainer = ppo.make_train(config)
    inputs = _inputs(config, agents)
    t0 = time.perf_counter()
    compiled = trainer.train.lower(*inputs).compile()
    compile_s = time.perf_counter() - t0
    ppo.set_progress_hook(ProgressBar(config.n_updates) if progress else None)
    try:
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*inputs))
        train_s = time.perf_counter() - t0
    finally:
        ppo.set_progress_hook(None)
    params = jax.tree.map(np.asarray, out.params)
    metrics = {k: np.asarray(v) for k, v in vars(out.metrics).items()}
    steps = len(agents) * config.n_updates * config.steps_per_update
    return TrainResult(params=params, metrics=metrics, compile_s=compile_s,
                       train_s=train_s, env_steps=steps)


def train_to_dir(config: TrainConfig, agents: list[dict], out: str | Path,
                 progress: bool = True) -> tuple[Path, TrainResult]:
    """Train and write the run directory `out`. Returns (path, result)."""
    from rnnctl.runs import save_run
    result = train_agents(config, agents, progress=progress)
    info = {"timing": {"compile_s": result.compile_s, "train_s": result.train_s,
                       "env_steps": result.env_steps,
                       "env_steps_per_s": result.env_steps / result.train_s}}
    path = save_run(out, config, agents, result.params, result.metrics, info=info)
    return path, result
