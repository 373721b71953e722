"""Configuration: what is static (shapes, counts) and what is swept (pytree leaves).

`TrainConfig` fixes everything that changes array shapes or loop lengths; changing it
recompiles. `Hyper` holds the hyperparameters that leave shapes unchanged; it is a pytree
of per-agent arrays, so sweeping a value is one more vmapped/sharded agent, not a new
compilation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax.numpy as jnp
from flax import struct

#: Observation settings of the paper (Pendulum); other tasks declare theirs (`envs.Task`).
OBS_SETTINGS = ("fo", "po")
#: Must match `networks.CELLS`.
CELLS = ("rnn", "gru", "lstm")
ENCODINGS = ("angle", "cos_sin")
#: Must match `networks.RNN_INITS` (kept here so config stays free of model imports).
RNN_INITS = ("torch_uniform", "normal", "orthogonal")

#: Hyperparameters that may be swept (one value per agent).
SWEPT_FIELDS = ("lr", "gamma", "gae_lambda", "clip_eps", "ent_coef", "vf_coef",
                "max_grad_norm", "reward_scale")

#: Each swept hyperparameter: what it means, its valid range (low, high, whether each end
#: is allowed) and an example; `TrainConfig.validate` and the CLI's --help read this table.
SWEPT_DOC = {
    "lr": ("Adam learning rate (annealed linearly to 0 with anneal_lr)",
           (0.0, False, float("inf"), False), "3e-4,1e-3,3e-3"),
    "gamma": ("discount factor of the return", (0.0, True, 1.0, True), "0.9,0.95,0.99"),
    "gae_lambda": ("GAE λ (0: one-step TD, 1: Monte Carlo)", (0.0, True, 1.0, True),
                   "0.9,0.95"),
    "clip_eps": ("PPO ratio clip ε", (0.0, False, float("inf"), False), "0.1,0.2"),
    "ent_coef": ("weight of the entropy bonus", (0.0, True, float("inf"), False), "0,0.01"),
    "vf_coef": ("weight of the value loss", (0.0, True, float("inf"), False), "0.25,0.5"),
    "max_grad_norm": ("global gradient-norm clip", (0.0, False, float("inf"), False),
                      "0.5,1"),
    "reward_scale": ("factor on the reward before the value loss and GAE",
                     (0.0, False, float("inf"), False), "0.1,1"),
}


def range_text(bounds) -> str:
    """(0.0, False, inf, False) -> "(0, ∞)"; (0.0, True, 1.0, True) -> "[0, 1]"."""
    lo, lo_in, hi, hi_in = bounds
    num = lambda x: "∞" if x == float("inf") else f"{x:g}"
    return f"{'[' if lo_in else '('}{num(lo)}, {num(hi)}{']' if hi_in else ')'}"


def in_range(value: float, bounds) -> bool:
    lo, lo_in, hi, hi_in = bounds
    return (lo < value or (lo_in and value == lo)) and (value < hi or (hi_in and value == hi))


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line naming the field."""


@struct.dataclass
class Hyper:
    """Per-agent hyperparameters; each leaf is a float array of shape [] (or [A] stacked)."""

    lr: jnp.ndarray
    gamma: jnp.ndarray
    gae_lambda: jnp.ndarray
    clip_eps: jnp.ndarray
    ent_coef: jnp.ndarray
    vf_coef: jnp.ndarray
    max_grad_norm: jnp.ndarray
    reward_scale: jnp.ndarray


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs. Frozen: `make_train` never mutates it.

    Static fields (shapes and loop counts) are compiled in; the swept defaults below
    (`lr` … `reward_scale`) become `Hyper` leaves, one value per agent.
    """

    # --- budget (static) -------------------------------------------------------------
    n_updates: int = 100          # PPO updates (the paper: 100)
    n_envs: int = 1               # parallel environments per agent
    rollout_len: int = 1024       # steps per environment per update
    # steps per update per agent = n_envs * rollout_len (the paper: 1024)
    seq_len: int = 32             # BPTT sequence length; sequences start from stored h
    n_epochs: int = 10
    n_minibatches: int = 8        # minibatches of whole sequences per epoch (4 of the 32)
    # --- task (static) ---------------------------------------------------------------
    task: str = "Pendulum-v1"     # any gymnax id with Box or Discrete actions (envs.get_task)
    task_params: tuple = ()       # gymnax EnvParams overrides: (("memory_length", 20),)
    # --- network (static) ------------------------------------------------------------
    cell: str = "rnn"             # "rnn" (the paper) | "gru" | "lstm" (networks.cell)
    hidden: int = 64
    head_hidden: int = 64
    encoding: str = "angle"       # "angle": (wrap θ[, θ̇]); "cos_sin": (cos θ, sin θ[, θ̇])
    rnn_init: str = "torch_uniform"  # "torch_uniform" | "normal" | "orthogonal" (networks.init_rnn)
    theta_dot_scale: float = 0.125  # θ̇ enters the RNN as θ̇ · scale (1/max_speed)
    recurrent_gain: float = 1.0   # gain of the "normal"/"orthogonal" W_h (ρ ≈ gain)
    init_log_std: float = 0.0
    anneal_lr: bool = True        # linear decay to 0 over the run
    scan_unroll: int = 1          # lax.scan unroll of the step-by-step recurrences (speed only)
    # --- evaluation inside the compiled loop (static) -----------------------------------
    eval_episodes: int = 16       # deterministic episodes per agent per update (0: off)
    # --- swept defaults (become Hyper leaves) --------------------------------------------
    lr: float = 3e-3
    gamma: float = 0.95
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.25
    max_grad_norm: float = 0.5
    reward_scale: float = 0.1

    @property
    def steps_per_update(self) -> int:
        return self.n_envs * self.rollout_len

    @property
    def n_sequences(self) -> int:
        return self.n_envs * (self.rollout_len // self.seq_len)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def validate(self) -> "TrainConfig":
        """Raise `ConfigError` (one line, naming the field) for an invalid config."""
        for name in ("n_updates", "n_envs", "rollout_len", "seq_len", "n_epochs",
                     "n_minibatches", "hidden", "head_hidden", "scan_unroll"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.eval_episodes, int) or self.eval_episodes < 0:
            raise ConfigError(f"eval_episodes must be a non-negative integer, got {self.eval_episodes!r}")
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if not isinstance(self.task, str) or not self.task:
            raise ConfigError(f"task must be a gymnax environment id, got {self.task!r}")
        if not isinstance(self.task_params, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                for p in self.task_params):
            raise ConfigError(f"task_params must be ((name, value), ...), got "
                              f"{self.task_params!r}")
        if self.rnn_init not in RNN_INITS:
            raise ConfigError(f"rnn_init must be one of {RNN_INITS}, got {self.rnn_init!r}")
        if self.rollout_len % self.seq_len:
            raise ConfigError(f"rollout_len ({self.rollout_len}) must be divisible by "
                              f"seq_len ({self.seq_len})")
        if self.n_sequences % self.n_minibatches:
            raise ConfigError(f"n_minibatches ({self.n_minibatches}) must divide the "
                              f"{self.n_sequences} sequences per update "
                              f"(n_envs * rollout_len / seq_len)")
        positive = (0.0, False, float("inf"), False)
        finite = (-float("inf"), False, float("inf"), False)
        bounds = {**{k: v[1] for k, v in SWEPT_DOC.items()}, "theta_dot_scale": positive,
                  "recurrent_gain": positive, "init_log_std": finite}
        for name, b in bounds.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not in_range(value, b):
                raise ConfigError(f"{name} must be finite and in {range_text(b)}, "
                                  f"got {value!r}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        # Runs saved before `rnn_init` existed were initialised with N(0, gain²/H).
        d.setdefault("rnn_init", "normal")
        # JSON turns the task_params tuple of pairs into a list of lists.
        d["task_params"] = tuple(tuple(p) for p in d.get("task_params", ()))
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown config fields: {sorted(unknown)}")
        return cls(**d)

    def hyper(self, **overrides) -> Hyper:
        """The default `Hyper` of this config (scalars), with optional overrides."""
        values = {name: overrides.get(name, getattr(self, name)) for name in SWEPT_FIELDS}
        return Hyper(**{k: jnp.asarray(v, jnp.float32) for k, v in values.items()})


def stack_hypers(hypers: list[Hyper]) -> Hyper:
    """Stack per-agent `Hyper`s into one with leaves of shape [A]."""
    return Hyper(**{name: jnp.stack([getattr(h, name) for h in hypers])
                    for name in SWEPT_FIELDS})
