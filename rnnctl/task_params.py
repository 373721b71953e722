"""What a user may set of each task (`--task-param NAME=VALUE`, `TrainConfig.task_params`).

Every gymnax task declares here its settable `EnvParams` fields: type (integer, number,
boolean), default (gymnax's) and valid range, from what the environment needs (a
division by the field, an array shape, a probability, a physical mass). A value is
checked by `coerce` before anything is built or compiled, and a bad one is one line
naming the task, the parameter, its range and the value given. Fields a user may not
set say why (`FIXED`); fields that follow others are recomputed from them (`DERIVED`).

Pure Python (no gymnax, no jax computation), so the command line checks values and prints
its help in the time it takes to start. `tests/test_task_params.py` checks this table
against gymnax's `EnvParams`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from rnnctl.config import ConfigError, in_range, range_text

__all__ = ["Param", "PARAMS", "FIXED", "DERIVED", "declared", "coerce", "parse", "resolve",
           "derived", "describe", "param_text", "from_cli"]

INF = float("inf")
#: Integers reach gymnax as int32 arrays.
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Param:
    """One settable parameter.

    Attributes:
      kind: "int", "float" or "bool".
      default: gymnax's default.
      bounds: (low, low allowed, high, high allowed) for numbers; None for booleans.
      meaning: a few words for --help.
    """

    kind: str
    default: int | float | bool
    bounds: tuple | None
    meaning: str = ""


def _int(default, meaning="", lo=1, hi=INT_MAX):
    return Param("int", default, (lo, True, hi, True), meaning)


def _num(default, meaning="", lo=0.0, lo_in=False, hi=INF, hi_in=False):
    return Param("float", default, (lo, lo_in, hi, hi_in), meaning)


def _real(default, meaning=""):
    return Param("float", default, (-INF, False, INF, False), meaning)


def _bool(default, meaning=""):
    return Param("bool", default, None, meaning)


def _steps(default):
    return {"max_steps_in_episode": _int(default, "time limit of an episode (steps)")}


_INTERVAL = "steps between moves"
#: task → parameter name → `Param`. Every gymnax registered environment has an entry.
PARAMS: dict[str, dict[str, Param]] = {
    "Pendulum-v1": {
        "g": _num(10.0, "gravity (m/s²)", lo_in=True),
        "m": _num(1.0, "mass (kg)"),
        "l": _num(1.0, "length (m)"),
        "dt": _num(0.05, "seconds per step"),
        "max_speed": _num(8.0, "|θ̇| limit (rad/s)"),
        "max_torque": _num(2.0, "|torque| limit"),
    },
    "CartPole-v1": {
        **_steps(500),
        "gravity": _num(9.8, "gravity (m/s²)", lo_in=True),
        "masscart": _num(1.0, "cart mass (kg)"),
        "masspole": _num(0.1, "pole mass (kg)"),
        "length": _num(0.5, "half the pole's length (m)"),
        "force_mag": _num(10.0, "push force (N)"),
        "tau": _num(0.02, "seconds per step"),
        "theta_threshold_radians": _num(12 * 2 * math.pi / 360, "|pole angle| that ends "
                                        "an episode (rad)", hi=math.pi, hi_in=True),
        "x_threshold": _num(2.4, "|cart position| that ends an episode"),
    },
    "Acrobot-v1": {
        **_steps(500),
        "dt": _num(0.2, "seconds per step"),
        "link_length_1": _num(1.0, "length of link 1"),
        "link_length_2": _num(1.0, "length of link 2"),
        "link_mass_1": _num(1.0, "mass of link 1"),
        "link_mass_2": _num(1.0, "mass of link 2"),
        "link_com_pos_1": _num(0.5, "centre of mass of link 1", lo_in=True),
        "link_com_pos_2": _num(0.5, "centre of mass of link 2", lo_in=True),
        "link_moi": _num(1.0, "moment of inertia of each link"),
        "max_vel_1": _num(4 * math.pi, "|angular velocity| limit of link 1"),
        "max_vel_2": _num(9 * math.pi, "|angular velocity| limit of link 2"),
        "torque_noise_max": _num(0.0, "uniform torque noise amplitude", lo_in=True),
    },
    "MountainCar-v0": {
        **_steps(200),
        "max_speed": _num(0.07, "|velocity| limit"),
        "goal_position": _num(0.5, "position to reach", lo=-1.2, hi=0.6, hi_in=True),
        "force": _num(0.001, "push force"),
        "gravity": _num(0.0025, "gravity", lo_in=True),
    },
    "MountainCarContinuous-v0": {
        **_steps(999),
        "max_speed": _num(0.07, "|velocity| limit"),
        "goal_position": _num(0.45, "position to reach", lo=-1.2, hi=0.6, hi_in=True),
        "power": _num(0.0015, "force per unit action"),
        "gravity": _num(0.0025, "gravity", lo_in=True),
    },
    "Asterix-MinAtar": {
        **_steps(1000),
        "ramping": _bool(True, "difficulty increases over time"),
        "ramp_interval": _int(100, "steps between difficulty increases"),
        "init_spawn_speed": _int(10, "initial steps between spawns"),
        "init_move_interval": _int(5, "initial " + _INTERVAL),
    },
    "Breakout-MinAtar": _steps(1000),
    "Freeway-MinAtar": {**_steps(2500), "player_speed": _int(3, _INTERVAL + " of the player")},
    "Seaquest-MinAtar": {
        **_steps(1000),
        "ramping": _bool(True, "difficulty increases over time"),
        "init_spawn_speed": _int(20, "initial steps between enemy spawns"),
        "init_move_interval": _int(5, "initial " + _INTERVAL + " of enemies"),
        "max_oxygen": _int(200, "oxygen of a full tank"),
        "diver_spawn_speed": _int(30, "steps between diver spawns"),
        "shot_cool_down": _int(5, "steps between the player's shots", lo=0),
        "enemy_shot_interval": _int(10, "steps between enemy shots"),
        "diver_move_interval": _int(5, _INTERVAL + " of divers"),
    },
    "SpaceInvaders-MinAtar": {
        **_steps(1000),
        "shot_cool_down": _int(5, "steps between the player's shots", lo=0),
        "enemy_move_interval": _int(12, _INTERVAL + " of the aliens"),
        "enemy_shot_interval": _int(10, "steps between alien shots"),
    },
    "Catch-bsuite": _steps(1000),
    "DeepSea-bsuite": {
        **_steps(8),
        "deterministic": _bool(True, "no random transitions"),
        "sample_action_map": _bool(False, "draw the action mapping at reset"),
        "unscaled_move_cost": _num(0.01, "cost of moving right", lo_in=True),
        "randomize_actions": _bool(True, "a random action mapping per cell"),
    },
    "MemoryChain-bsuite": {
        **_steps(1000),
        "memory_length": _int(5, "steps between the context and the query"),
    },
    "UmbrellaChain-bsuite": {**_steps(100), "chain_length": _int(10, "steps to the payoff")},
    "DiscountingChain-bsuite": {
        **_steps(100),
        "optimal_return": _num(1.1, "reward of the best chain (the others pay 1)", lo=1.0),
    },
    "MNISTBandit-bsuite": _steps(1),
    "SimpleBandit-bsuite": _steps(100),
    "FourRooms-misc": {
        **_steps(500),
        "fail_prob": _num(1 / 3, "probability that the action is replaced by a random "
                          "other one", lo_in=True, hi=0.75, hi_in=True),
        "resample_init_pos": _bool(False, "random start position"),
        "resample_goal_pos": _bool(False, "random goal position"),
    },
    "MetaMaze-misc": {
        **_steps(200),
        "reward": _real(10.0, "reward at the goal"),
        "punishment": _real(0.0, "reward for walking into a wall"),
        "normalize_time": _bool(False, "time input scaled to [-1, 1]"),
    },
    "PointRobot-misc": {
        **_steps(100),
        "max_force": _num(0.1, "|force| limit per axis"),
        "circle_radius": _num(1.0, "radius of the goals' circle", lo_in=True),
        "dense_reward": _bool(False, "reward = −distance to the goal"),
        "goal_radius": _num(0.2, "distance that counts as reaching the goal"),
        "center_init": _bool(False, "start at the centre"),
        "normalize_time": _bool(True, "time input scaled to [-1, 1]"),
    },
    "BernoulliBandit-misc": {
        **_steps(100),
        "reward_prob": _num(0.1, "payoff probability of one arm (the other: 1 − it)",
                            lo_in=True, hi=1.0, hi_in=True),
        "normalize_time": _bool(True, "time input scaled to [-1, 1]"),
        "t_max": _int(100, "steps that the time input's scaling spans"),
    },
    "GaussianBandit-misc": {
        **_steps(100),
        "mean_mu": _real(-1.0, "mean of the arm's expected reward"),
        "sigma_p": _num(1.0, "sd of the arm's expected reward", lo_in=True),
        "sigma_l": _num(0.1, "sd of a reward around its expectation", lo_in=True),
        "normalize_time": _bool(True, "time input scaled to [-1, 1]"),
    },
    "Reacher-misc": {
        **_steps(100),
        "torque_scale": _num(1.0, "angular acceleration per unit action"),
        "dt": _num(0.05, "seconds per step"),
    },
    "Swimmer-misc": {**_steps(500), "dt": _num(0.05, "seconds per step")},
    "Pong-misc": {
        **_steps(1000),
        "ball_max_y_speed": _int(3, "|vertical ball speed| limit", lo=0),
        "paddle_y_speed": _int(1, "paddle speed"),
        "ball_x_speed": _int(1, "horizontal ball speed"),
        "use_ai_policy": _bool(True, "the opponent follows the ball"),
    },
    "FrozenLake-misc": _steps(100),
}

#: task → `EnvParams` field → why it cannot be set.
FIXED: dict[str, dict[str, str]] = {
    "Pendulum-v1": {"max_steps_in_episode": "the paper's analysis assumes 200-step episodes"},
    "CartPole-v1": {"total_mass": "follows masscart and masspole",
                    "polemass_length": "follows masspole and length"},
    "Acrobot-v1": {"available_torque": "an array"},
    "MountainCar-v0": {"min_position": "goal_position is checked against the default",
                       "max_position": "goal_position is checked against the default",
                       "goal_velocity": "coupled to max_speed"},
    "MountainCarContinuous-v0": {
        "min_position": "goal_position is checked against the default",
        "max_position": "goal_position is checked against the default",
        "goal_velocity": "coupled to max_speed",
        "min_action": "the action space's bound", "max_action": "the action space's bound"},
    "Asterix-MinAtar": {"shot_cool_down": "gymnax's Asterix does not use it"},
    "Seaquest-MinAtar": {"ramp_interval": "gymnax's Seaquest does not use it",
                         "enemy_move_interval": "gymnax's Seaquest does not use it"},
    "DiscountingChain-bsuite": {"reward_timestep": "an array"},
    "MNISTBandit-bsuite": {"optimal_return": "bookkeeping of the regret only"},
    "SimpleBandit-bsuite": {"optimal_return": "bookkeeping of the regret only"},
    "BernoulliBandit-misc": {"min_lim": "coupled to max_lim", "max_lim": "coupled to min_lim"},
}

#: task → field → (the parameters it follows, fn(values) → its value).
DERIVED: dict[str, dict[str, tuple[tuple[str, ...], Callable[[dict], float]]]] = {
    "CartPole-v1": {
        "total_mass": (("masscart", "masspole"), lambda v: v["masscart"] + v["masspole"]),
        "polemass_length": (("masspole", "length"), lambda v: v["masspole"] * v["length"]),
    },
}

_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false (or 1 or 0)"}


def declared(task: str) -> dict[str, Param] | None:
    """The settable parameters of `task`, or None for a task this table does not know."""
    return PARAMS.get(task)


def param_text(p: Param) -> str:
    """"an integer in [1, ∞)", "a number in (0, ∞)", "true or false (or 1 or 0)"."""
    if p.bounds is None:
        return _KIND_WORDS[p.kind]
    if p.kind == "int":             # exact, where range_text would round to 6 digits
        lo, _, hi, _ = p.bounds
        return f"{_KIND_WORDS['int']} in [{lo}, {hi}]"
    return f"{_KIND_WORDS[p.kind]} in {range_text(p.bounds)}"


def _shown(value) -> str:
    """A value as the message quotes it: numbers and words as typed, other text quoted."""
    if isinstance(value, str):
        try:
            float(value)
            return value.strip()
        except ValueError:
            return repr(value)
    return repr(value)


def _typed(p: Param, value):
    """`value` (text or a Python value) as `p.kind`, or None if it is not one."""
    if isinstance(value, str):
        text = value.strip().lower()
        if p.kind == "bool":
            return {"true": True, "false": False, "1": True, "0": False}.get(text)
        try:
            value = int(text) if p.kind == "int" and text.lstrip("+-").isdigit() \
                else float(text)
        except ValueError:
            return None
    if isinstance(value, bool):
        return value if p.kind == "bool" else None
    if p.kind == "bool":
        return bool(value) if isinstance(value, (int, float)) and value in (0, 1) else None
    if p.kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) else None
    return float(value) if isinstance(value, (int, float)) else None


def coerce(task: str, name: str, value):
    """A declared parameter's value, typed and checked.

    Args:
      task, name: a task of `PARAMS` and one of its parameters.
      value: as typed ("2.5", "true") or a Python value (2, 0.5, True); an integer field
        takes integral numbers (4, 4.0, "1e3"), a boolean one true/false/1/0.
    Returns:
      The value as the parameter's kind (int, float or bool).
    Raises:
      ConfigError: wrong type, not finite, or out of range: one line naming the task, the
        parameter, its range and the value given.
    """
    p = PARAMS[task][name]
    typed = _typed(p, value)
    ok = typed is not None and (p.kind == "bool" or (math.isfinite(typed)
                                                     and in_range(typed, p.bounds)))
    if not ok:
        words = param_text(p).replace("a number", "a finite number", 1)
        raise ConfigError(f"{task} parameter {name} must be {words}, got {_shown(value)}")
    return typed


def _number(text: str):
    """An undeclared parameter's value as typed: int if integral, else float; None if it
    is not a number (the task, or gymnax, refuses the name later)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def parse(task: str, name: str, text: str):
    """The value of `--task-param name=text` for `task`: checked by `coerce` when the task
    declares `name`; otherwise a plain number (None if it is not one), left for
    `resolve` to refuse by name once the task is built."""
    params = PARAMS.get(task)
    if params is not None and name in params:
        return coerce(task, name, text)
    return _number(text)


def _names_text(task: str) -> str:
    params = PARAMS[task]
    return ", ".join(params) if params else "none"


def resolve(task: str, params: tuple) -> dict:
    """The checked values of `params` ((name, value), ...) for a task of `PARAMS`.

    Raises:
      ConfigError: a name given twice, a name the task does not declare (saying why, for
        fields that exist but are fixed), or a bad value (`coerce`).
    """
    values: dict = {}
    for name, value in params:
        if name in values:
            raise ConfigError(f"{task} parameter {name} is given twice")
        if name not in PARAMS[task]:
            why = FIXED.get(task, {}).get(name)
            head = (f"{task} parameter {name} cannot be set ({why})" if why else
                    f"{task} has no parameter {name}")
            raise ConfigError(f"{head}; its parameters: {_names_text(task)}")
        values[name] = coerce(task, name, value)
    return values


def derived(task: str, values: dict, current: Callable[[str], float]) -> dict:
    """The fields of `task` that follow a parameter in `values` (`DERIVED`), recomputed;
    `current(name)` gives a parameter's value when `values` lacks it."""
    out = {}
    for field, (follows, fn) in DERIVED.get(task, {}).items():
        if any(f in values for f in follows):
            out[field] = fn({f: values[f] if f in values else current(f) for f in follows})
    return out


def describe(task: str) -> str:
    """The --help block of `task`'s parameters: one line each with default and range."""
    params = PARAMS.get(task)
    if params is None:
        return (f"\n{task} is not a task this version knows; tasks: "
                f"{', '.join(PARAMS)}\n")
    head = f"\ntask parameters of {task} (--task-param NAME=VALUE"
    if not params:
        return f"{head}): none\n"
    width = max(len(n) for n in params)
    lines = [f"{head}; another task's: --task NAME --help):"]
    for name, p in params.items():
        default = str(p.default).lower() if p.kind == "bool" else f"{p.default:g}"
        lines.append(f"  {name:<{width}}  {param_text(p)}, default {default}"
                     + (f": {p.meaning}" if p.meaning else ""))
    return "\n".join(lines) + "\n"


def from_cli(task: str, items: list[str]) -> tuple:
    """The `--task-param NAME=VALUE` items of a command line for `task`, each parsed and
    checked (`parse`): ((name, value), ...) sorted by name, so that the same settings
    typed in another order make the same config.

    Raises:
      ConfigError: an item that is not NAME=VALUE (or NAME=NUMBER for a name the task
        does not declare), a name given twice, or a bad value: one line.
    """
    values: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        value = parse(task, name, text) if sep and name else None
        if value is None:
            raise ConfigError(f"expected NAME=NUMBER, got {item!r}")
        if name in values:
            raise ConfigError(f"{task} parameter {name} is given twice")
        values[name] = value
    return tuple(sorted(values.items()))
