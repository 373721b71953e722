"""Train seeds × {FO, PO} recurrent-PPO Pendulum agents in one compiled program.

    python -m experiments.sweep --seeds 5

writes runs/<name>/ (config.json, checkpoints.npz, metrics.npz) and prints a learning-curve
summary. Run with --help for every flag.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import rnnctl  # noqa: F401  (applies the safe XLA flags before jax starts)
from rnnctl.config import OBS_SETTINGS, SWEPT_FIELDS, ConfigError, TrainConfig

DEFAULTS = TrainConfig()


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _obs_list(text: str) -> list[str]:
    items = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in OBS_SETTINGS]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(OBS_SETTINGS)}, got {text!r}")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"repeated setting in {text!r}")
    return items


def _float_list(text: str) -> list[float]:
    try:
        values = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m experiments.sweep",
                description="Train vanilla-RNN actor-critic agents on gymnax Pendulum with "
                            "recurrent PPO, FO and PO in one compiled program, saving the "
                            "parameters of every update.")
    p.add_argument("--seeds", type=_positive_int, default=5,
                   help="number of seeds (0..N-1) per setting (default: 5)")
    p.add_argument("--obs", type=_obs_list, default=list(OBS_SETTINGS),
                   help="observability settings, comma-separated: fo = (cos θ, sin θ, θ̇), "
                        "po = (cos θ, sin θ) (default: fo,po)")
    p.add_argument("--updates", type=_positive_int, default=DEFAULTS.n_updates,
                   help=f"PPO updates (default: {DEFAULTS.n_updates}, the paper's)")
    p.add_argument("--steps-per-update", type=_positive_int, default=DEFAULTS.rollout_len,
                   help="environment steps per update of each environment (rollout length); "
                        "an agent collects envs × this per update "
                        f"(default: {DEFAULTS.rollout_len}, the paper's)")
    p.add_argument("--envs", type=_positive_int, default=DEFAULTS.n_envs,
                   help=f"parallel environments per agent (default: {DEFAULTS.n_envs})")
    p.add_argument("--encoding", choices=["cos_sin", "angle"], default=DEFAULTS.encoding,
                   help="input encoding of θ: cos_sin = (cos θ, sin θ), angle = wrapped θ "
                        f"(default: {DEFAULTS.encoding})")
    for name in SWEPT_FIELDS:
        p.add_argument(f"--{name.replace('_', '-')}", type=_float_list, default=None,
                       metavar="V[,V...]",
                       help=f"{name} (default: {getattr(DEFAULTS, name)}); a comma-separated "
                            "list sweeps it as extra agents of the same compiled program")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory to write (default: runs/<name>)")
    p.add_argument("--name", default=None,
                   help="run name under runs/ when --out is not given "
                        "(default: sweep-<date>-<time>)")
    p.add_argument("--no-analysis", action="store_true",
                   help="train and save only; skip the analysis stage")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    scalar, sweep = {}, {}
    for name in SWEPT_FIELDS:
        values = getattr(args, name)
        if values is None:
            continue
        if len(values) == 1:
            scalar[name] = values[0]
        else:
            sweep[name] = values
    flag_of = {"rollout_len": "--steps-per-update", "n_envs": "--envs",
               "n_updates": "--updates", "seq_len": "--steps-per-update",
               "n_minibatches": "--steps-per-update"}
    try:
        config = TrainConfig(n_updates=args.updates, rollout_len=args.steps_per_update,
                             n_envs=args.envs, encoding=args.encoding, **scalar).validate()
        for name, values in sweep.items():
            for v in values:
                config.replace(**{name: v}).validate()
    except ConfigError as e:
        field = str(e).split()[0]
        flag = flag_of.get(field, "--" + field.replace("_", "-"))
        parser.error(f"argument {flag}: {e}")
    args.config, args.sweep = config, sweep
    return args


def summary_table(agents, metrics, config) -> str:
    """Deterministic evaluation return (mean ± sd over seeds) at a few updates, per group."""
    import numpy as np
    ev = metrics["eval_return"]
    U = ev.shape[1] - 1
    cols = sorted({0, *(u for u in (1, 5, 10, 25, 50, 75) if u < U), U})
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(agents):
        key = a["obs"].upper() + "".join(f" {k}={v:g}" for k, v in a.get("hyper", {}).items())
        groups.setdefault(key, []).append(i)
    head = f"{'agents':<28}" + "".join(f"{'u=' + str(u):>14}" for u in cols)
    lines = ["Deterministic return (mean ± sd over seeds, "
             f"{config.eval_episodes} random-start episodes each)", head, "-" * len(head)]
    for key, idx in groups.items():
        cells = "".join(f"{np.mean(ev[idx, u]):>8.0f} ±{np.std(ev[idx, u]):>4.0f}" for u in cols)
        lines.append(f"{key + f' (n={len(idx)})':<28}{cells}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from rnnctl.experiment import make_agents, train_to_dir
    config = args.config
    try:
        agents = make_agents(range(args.seeds), args.obs, args.sweep)
    except ConfigError as e:
        print(f"python -m experiments.sweep: error: {e}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / (args.name or
                                      _dt.datetime.now().strftime("sweep-%Y%m%d-%H%M%S"))
    print(f"Training {len(agents)} agents ({args.seeds} seeds × {','.join(args.obs)}"
          f"{' × ' + str(len(agents) // (args.seeds * len(args.obs))) + ' hyperparameter sets' if args.sweep else ''}), "
          f"{config.n_updates} updates × {config.steps_per_update} steps, into {out}",
          flush=True)
    path, result = train_to_dir(config, agents, out, progress=not args.quiet)
    rate = result.env_steps / result.train_s
    print(f"compile {result.compile_s:.1f}s, train {result.train_s:.1f}s, "
          f"{result.env_steps:,} env steps ({rate:,.0f} steps/s)")
    print(summary_table(agents, result.metrics, config))
    print(f"saved {path}")
    if not args.no_analysis:
        print("analysis stage: not available yet (train-only run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
