"""Train seeds × {FO, PO} recurrent-PPO Pendulum agents in one compiled program.

    rnnctl sweep --seeds 5                 # installed (in a checkout: python -m experiments.sweep)

writes runs/<name>/ (config.json, checkpoints.npz, metrics.npz) and prints a learning-curve
summary. Run with --help for every flag.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import signal
import sys
from pathlib import Path

from rnnctl.config import (CELLS, ENCODINGS, OBS_SETTINGS, RNN_INITS, SWEPT_DOC, SWEPT_FIELDS,
                           ConfigError, TrainConfig, range_text)
from rnnctl.cli._tables import claims_table, summary_table  # noqa: F401  (printed here)

DEFAULTS = TrainConfig()
#: How messages name this command (`rnnctl.cli.run` sets it to the command typed).
PROG = "rnnctl sweep"
#: `main` installs its own Ctrl-C handling (`rnnctl._interrupt`); until then a Ctrl-C
#: while starting quits quietly (`rnnctl.cli.run`).
QUIET_CTRL_C_UNTIL_MAIN_INSTALLS_ITS_OWN = True
# The training flags default to None so that whether one was typed is argparse's own
# answer (`args.typed`); `parse_args` then fills these defaults (or --quick's).
FLAG_DEFAULTS = {"seeds": 5, "obs": list(OBS_SETTINGS), "updates": DEFAULTS.n_updates,
                 "steps_per_update": DEFAULTS.rollout_len, "envs": DEFAULTS.n_envs,
                 "minibatches": DEFAULTS.n_minibatches,
                 "rnn_init": [DEFAULTS.rnn_init], "encoding": DEFAULTS.encoding}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit code 2, and the help ends
    with the task's parameters (`task_help`)."""

    task_help = ""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def format_help(self):
        return super().format_help() + self.task_help


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _devices(text: str) -> int | None:
    """A positive device count, or "auto" (None)."""
    if text.strip().lower() == "auto":
        return None
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")


def _obs_list(text: str) -> list[str]:
    """Names of observation variants; checked against the task's in `parse_args`."""
    items = [s.strip().lower() for s in text.split(",") if s.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated variant names, got {text!r}")
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


def build_parser(task: str | None = None) -> argparse.ArgumentParser:
    """The flags; --help ends with `task`'s parameters (default: Pendulum-v1's)."""
    from rnnctl import task_params
    p = _Parser(prog=PROG, allow_abbrev=False,   # `--seed 4` must not pass for `--seeds 4`
                description="Train recurrent actor-critic agents (the paper's vanilla RNN, "
                            "or a GRU or LSTM) with recurrent PPO on gymnax Pendulum (or any "
                            "gymnax task with Box or Discrete actions), every observation "
                            "variant in one compiled program, saving the parameters of every "
                            "update; then analyse the run.")
    p.add_argument("--seeds", type=_positive_int, default=None,
                   help="number of seeds (0..N-1) per setting (default: 5)")
    p.add_argument("--task", default=None, metavar="NAME",
                   help="gymnax environment with Box or Discrete actions, e.g. CartPole-v1, "
                        "MemoryChain-bsuite, BernoulliBandit-misc (default: Pendulum-v1, the "
                        "paper's; other tasks get the task-agnostic analysis, without the "
                        "paper's claims)")
    p.add_argument("--task-param", action="append", default=None, metavar="NAME=VALUE",
                   help="set a parameter of the task (a field of its gymnax EnvParams), "
                        "e.g. memory_length=20 or Pendulum's g=9.81 (repeatable); checked "
                        "against the task's range: see the list below")
    p.add_argument("--cell", choices=list(CELLS), default=None,
                   help=f"recurrent cell: rnn = tanh RNN (the paper's), gru, lstm "
                        f"(default: {DEFAULTS.cell})")
    p.add_argument("--obs", type=_obs_list, default=None,
                   help="observation variants, comma-separated. Pendulum: fo = (θ, θ̇), "
                        "po = θ only, pv = θ̇ only (default: fo,po); CartPole-v1: fo, po "
                        "(positions only); other tasks: fo (default: all of the task's)")
    p.add_argument("--updates", type=_positive_int, default=None,
                   help=f"PPO updates (default: {DEFAULTS.n_updates}, the paper's)")
    p.add_argument("--steps-per-update", type=_positive_int, default=None,
                   help="environment steps per update of each environment (rollout length); "
                        "an agent collects envs × this per update "
                        f"(default: {DEFAULTS.rollout_len}, the paper's)")
    p.add_argument("--envs", type=_positive_int, default=None,
                   help=f"parallel environments per agent (default: {DEFAULTS.n_envs})")
    p.add_argument("--minibatches", type=_positive_int, default=None,
                   help="PPO minibatches per epoch; each takes whole "
                        f"{DEFAULTS.seq_len}-step sequences, so it must divide envs × "
                        f"steps-per-update / {DEFAULTS.seq_len} "
                        f"(default: {DEFAULTS.n_minibatches}; the earlier default was 4)")
    p.add_argument("--rnn-init", type=_init_list, default=None,
                   help="recurrent-cell initialisation: torch_uniform = U(±1/√H) for W_h, W_x, b "
                        "(PyTorch's nn.RNN, ρ(W_h) ≈ 0.58); normal = W_h ~ N(0, 1/H) (ρ ≈ 1); "
                        "orthogonal (|λ| = 1); a comma-separated list trains each as extra "
                        f"agents of the same program (default: {DEFAULTS.rnn_init})")
    p.add_argument("--encoding", choices=list(ENCODINGS), default=None,
                   help="input encoding of θ: cos_sin = (cos θ, sin θ), angle = wrapped θ "
                        f"(default: {DEFAULTS.encoding})")
    for name in SWEPT_FIELDS:
        meaning, bounds, example = SWEPT_DOC[name]
        p.add_argument(f"--{name.replace('_', '-')}", type=_float_list, default=None,
                       metavar="V[,V...]",
                       help=f"{meaning}; valid: {range_text(bounds)} (default: "
                            f"{getattr(DEFAULTS, name)}); a comma-separated list, e.g. "
                            f"{example}, sweeps it as extra agents of the same compiled "
                            "program")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory to write (default: runs/<name>)")
    p.add_argument("--name", default=None,
                   help="run name under runs/ when --out is not given "
                        "(default: sweep-<date>-<time>)")
    p.add_argument("--no-analysis", action="store_true",
                   help="train and save only; skip the analysis stage")
    p.add_argument("--analysis-only", type=Path, default=None, metavar="RUN_DIR",
                   help="no training: (re-)analyse the saved run RUN_DIR (with the options "
                        "of its last analysis, if any, unless --quick), reusing its "
                        "analysis.npz where options and checkpoints match (see --recompute)")
    p.add_argument("--recompute", action="store_true",
                   help="with --analysis-only: recompute the analysis even where the run's "
                        "analysis.npz was made with the same options from the same "
                        "checkpoints (by default it is reused)")
    p.add_argument("--fp-continue", type=int, default=None, metavar="N",
                   help="search the fixed points by continuation across checkpoints, each "
                        "from the previous checkpoint's points plus N fresh starts (64 is "
                        "a tested setting; about half the analysis time on the default "
                        "sweep); 0: every checkpoint searched independently (the default, "
                        "with which the committed results were made)")
    p.add_argument("--redraw", type=Path, default=None, metavar="RUN_DIR",
                   help="no training, no analysis: re-make the figures, summary.json and "
                        "report.md of RUN_DIR from its analysis.npz (seconds)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run in seconds: 2 seeds, 3 updates × 256 steps, 2 epochs "
                        "(unless given explicitly) and a tiny analysis")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                   help="continue an interrupted sweep from its last saved chunk (its "
                        "config is read from RUN_DIR; flags given must agree with it)")
    p.add_argument("--chunk", type=_positive_int, default=10,
                   help="updates between saves: the run directory holds a resumable "
                        "state after each chunk (default: 10)")
    p.add_argument("--devices", type=_devices, default=None, metavar="N|auto",
                   help="shard the agents over N of jax.devices() (default: "
                        "$RNNCTL_DEVICES, else auto: every local device, at most one per "
                        "agent; on a CPU one device per core the process may use; with "
                        "--distributed: all devices of all processes). Agents need not "
                        "divide evenly. 1: one device, as from Python")
    p.add_argument("--distributed", action="store_true",
                   help="multi-process (multi-host) run: call jax.distributed.initialize; "
                        "run the same command on every process. Without --coordinator etc. "
                        "the cluster is auto-detected (Cloud TPU pods, SLURM, Open MPI). "
                        "Only process 0 prints the results and writes the run directory")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="with --distributed: address of process 0, reachable from all")
    p.add_argument("--num-processes", type=_positive_int, default=None,
                   help="with --distributed: number of processes")
    p.add_argument("--process-id", type=int, default=None,
                   help="with --distributed: this process's id, 0..num-processes-1")
    p.add_argument("--compile-cache", default=None, metavar="DIR|off",
                   help="JAX's persistent compilation cache: a later run with the same "
                        "shapes loads its compiled programs instead of compiling them "
                        "(default: $RNNCTL_COMPILE_CACHE, else ~/.cache/rnnctl/jax; "
                        "off: no cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.task_help = task_params.describe(task or DEFAULTS.task)
    return p


def _named_task(argv: list[str]) -> str | None:
    """The --task of a command line, read before parsing it (for --help's task block)."""
    for flag, value in zip(argv, [*argv[1:], None]):
        if flag.startswith("--task="):
            return flag.partition("=")[2]
        if flag == "--task" and value is not None:
            return value
    return None


#: The default of --devices, when set (a count, or "auto").
DEVICES_ENV = "RNNCTL_DEVICES"
QUICK = {"seeds": 2, "updates": 3, "steps_per_update": 256}
# argparse dests that shape training
TRAINING_FLAGS = (*FLAG_DEFAULTS, *SWEPT_FIELDS, "task", "task_param", "cell")


def _init_list(text: str) -> list[str]:
    """"normal" or "torch_uniform,normal": distinct names from RNN_INITS."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in RNN_INITS]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give distinct values among {', '.join(RNN_INITS)}, comma-separated")
    return names


def parse_args(argv=None):
    """Parse and check the flags; `args.config`, `args.sweep` and `args.typed` (the
    training flags given on the command line) are added."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_named_task(argv))
    args = parser.parse_args(argv)
    args.typed = {name for name in TRAINING_FLAGS if getattr(args, name) is not None}
    for name, default in FLAG_DEFAULTS.items():   # --quick shrinks what was not typed
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    if args.analysis_only is not None and (args.resume is not None or args.no_analysis):
        parser.error("argument --analysis-only: not allowed with --resume or --no-analysis")
    if args.recompute and args.analysis_only is None:
        parser.error("argument --recompute: needs --analysis-only")
    if args.fp_continue is not None:
        if args.redraw is not None or args.no_analysis:
            parser.error("argument --fp-continue: not allowed with --redraw or --no-analysis "
                         "(nothing is analysed)")
        if args.fp_continue < 0:
            parser.error(f"argument --fp-continue: must be 0 or more, got {args.fp_continue}")
    if args.redraw is not None:
        if args.analysis_only is not None or args.resume is not None or args.no_analysis:
            parser.error("argument --redraw: not allowed with --analysis-only, --resume or "
                         "--no-analysis")
        args.analysis_only = args.redraw         # the same path, without computing

    if not args.distributed:
        for flag in ("coordinator", "num_processes", "process_id"):
            if getattr(args, flag) is not None:
                parser.error(f"argument --{flag.replace('_', '-')}: needs --distributed")
        args.devices_typed = args.devices is not None
        if args.devices is None and os.environ.get(DEVICES_ENV, "").strip():
            try:
                args.devices = _devices(os.environ[DEVICES_ENV])
            except argparse.ArgumentTypeError as e:
                parser.error(f"environment variable {DEVICES_ENV} (the default of "
                             f"--devices): {e}")
    scalar, sweep = {}, {}
    for name in SWEPT_FIELDS:
        values = getattr(args, name)
        if values is None:
            continue
        if len(values) == 1:
            scalar[name] = values[0]
        else:
            sweep[name] = values
    flag_of = {"rollout_len": "--steps-per-update", "obs": "--obs", "task_params": "--task-param", "n_envs": "--envs",
               "n_updates": "--updates", "seq_len": "--steps-per-update",
               "n_minibatches": ("--minibatches" if "minibatches" in args.typed
                                 else "--steps-per-update")}
    from rnnctl.task_params import from_cli
    try:                            # typed and range-checked before anything is built
        task_params = from_cli(args.task or DEFAULTS.task, args.task_param or [])
    except ConfigError as e:
        parser.error(f"argument --task-param: {e}")
    try:
        quick = dict(n_epochs=2, eval_episodes=4) if args.quick else {}
        config = TrainConfig(n_updates=args.updates, rollout_len=args.steps_per_update,
                             n_envs=args.envs, n_minibatches=args.minibatches,
                             encoding=args.encoding,
                             rnn_init=args.rnn_init[0], task=args.task or DEFAULTS.task,
                             task_params=tuple(task_params), cell=args.cell or DEFAULTS.cell,
                             **quick, **scalar).validate()
        for name, values in sweep.items():
            for v in values:
                config.replace(**{name: v}).validate()
    except ConfigError as e:
        field = str(e).split()[0]
        flag = flag_of.get(field, "--" + field.replace("_", "-"))
        parser.error(f"argument {flag}: {e}")
    args.config, args.sweep = config, sweep
    return args


def _check_task(args) -> str | None:
    """The task and its observation variants, checked once jax may start (building a task
    touches the backend, which must wait for --devices); the error, if any."""
    from rnnctl import envs
    try:
        task = envs.get_task(args.config)        # unknown task or parameter: one line
    except ConfigError as e:
        return f"argument {'--task-param' if args.config.task_params else '--task'}: {e}"
    if "obs" not in args.typed and not task.is_pendulum:
        args.obs = list(task.variants)
    bad = [o for o in args.obs if o not in task.variants]
    if bad:
        return (f"argument --obs: {task.name} has observation variants "
                f"{','.join(task.variants)}; got {','.join(bad)}")
    return None


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _fs_fault(e: OSError, run_dir: Path | None, next_step: str = "--resume") -> int:
    """A filesystem fault (not a directory, read-only, disk full): one line, exit 1, and
    how to continue where something was already saved."""
    from rnnctl.runs import CONFIG_FILE
    what = e.strerror or str(e)
    where = e.filename or run_dir
    tail = ""
    if run_dir is not None and (Path(run_dir) / CONFIG_FILE).is_file():
        tail = f"; what was saved is kept: fix this, then continue with: {PROG} " \
               f"{next_step} {run_dir}"
    return _fail(f"cannot write {where}: {what}{tail}", code=1)


def _check_out(path: Path | None) -> str | None:
    """Why `path` cannot be a run directory, if it cannot."""
    if path is None:
        return None
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                return f"{p} is a file, not a directory"
            break
    return None


def _explain(e: Exception) -> str:
    """The library's neutral message, plus what to type next with this CLI."""
    from rnnctl.experiment import Interrupted
    from rnnctl.runs import RunExists, RunIncomplete
    if isinstance(e, Interrupted):
        return f"{e}; resume with: {PROG} --resume {e.path}"
    if isinstance(e, RunExists):
        if e.status == "complete":
            return (f"{e}; choose another --out (or re-analyse it with: {PROG} "
                    f"--analysis-only {e.path})")
        return f"{e}; choose another --out, or continue it with: {PROG} --resume {e.path}"
    if isinstance(e, RunIncomplete):
        return f"{e}; resume it with: {PROG} --resume {e.path}"
    return str(e)


def _resume_target(args):
    """Config and agents of the run to resume; training flags typed must agree."""
    from rnnctl.runs import RunError, config_diff, read_run_meta
    from rnnctl import envs
    meta = read_run_meta(args.resume, allow_incomplete=True)
    saved = TrainConfig.from_dict(meta["config"])
    try:                  # a value recorded before task parameters were checked
        envs.get_task(saved)
    except ConfigError as e:
        raise RunError(f"--resume: {args.resume} cannot continue: its config.json has {e}; "
                       "start a new run with another --out", args.resume) from None
    if args.typed:
        diff = config_diff(saved.to_dict(), args.config.to_dict())
        if diff or (args.sweep and meta["agents"] != _agents(args)):
            raise RunError(f"--resume: {args.resume} was made with a different config "
                           f"({diff or 'agents differ'}); drop the flags to use its own")
    return saved, meta["agents"]


def _resume_on_recorded_devices(args) -> None:
    """--resume without --devices continues on the device count the run was trained on
    (recorded in its config.json), so that it ends bitwise as it would have uninterrupted:
    the count sets the per-device batch, and with it float rounding."""
    if args.resume is None or args.devices_typed:
        return
    from rnnctl.runs import RunError, read_run_meta
    try:
        recorded = read_run_meta(args.resume, allow_incomplete=True).get("info", {}).get(
            "devices")
    except RunError:
        return                                # _resume_target says what is wrong
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 1:
        args.devices = recorded


def _agents(args):
    from rnnctl.experiment import make_agents
    inits = args.rnn_init if len(args.rnn_init) > 1 else None
    from rnnctl import envs
    return make_agents(range(args.seeds), args.obs, args.sweep, rnn_inits=inits,
                       variants=envs.get_task(args.config).variants)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.saved_note = "nothing was written"   # what a Ctrl-C would leave
    args.out_dir = None                       # the run directory, once known
    from rnnctl import _interrupt
    previous = _interrupt.install()       # Ctrl-C always stops (see rnnctl._interrupt)
    try:
        return _main(args)
    except KeyboardInterrupt:             # outside training and analysis, which say more
        note = args.saved_note
        if args.out_dir is not None and (args.out_dir / "config.json").is_file() \
                and "nothing" in note:
            note = f"resume with: {PROG} --resume {args.out_dir}"
        print(f"\ninterrupted; {note}", file=sys.stderr)
        return 130
    finally:
        _interrupt.clear()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _warn_devices(n: int) -> None:
    import jax
    from rnnctl.distributed import usable_cpus
    cores = usable_cpus()
    if n > 1 and jax.devices()[0].platform == "cpu" and n > cores:
        print(f"warning: --devices {n} on a CPU with {cores} cores: more devices than cores "
              "slows training down", file=sys.stderr)


def _main(args) -> int:
    from rnnctl import compile_cache
    try:
        compile_cache.enable(args.compile_cache, flag="--compile-cache")
    except compile_cache.CacheError as e:           # chosen, but unusable: before any work
        return _fail(str(e))
    writer = True
    if args.distributed:                     # before anything starts jax's backend
        import jax
        from rnnctl import distributed
        try:
            distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        except (ValueError, RuntimeError) as e:
            return _fail(f"--distributed: {e} (outside a Cloud TPU pod, SLURM or Open MPI "
                         "give --coordinator, --num-processes and --process-id)")
        args.devices = args.devices or jax.device_count()
        writer = distributed.is_writer()
    elif args.analysis_only is None:         # CPU devices: asked for before jax starts
        from rnnctl.distributed import request_cpu_devices, usable_cpus
        _resume_on_recorded_devices(args)
        request_cpu_devices(usable_cpus() if args.devices is None else args.devices)
        if args.devices is not None:
            _warn_devices(args.devices)
    from rnnctl.experiment import Interrupted, train_to_dir
    from rnnctl.runs import RunError, RunLocked
    if args.analysis_only is None and args.resume is None:
        bad = _check_task(args)
        if bad:
            return _fail(bad)
    if args.analysis_only is not None:
        if not writer:
            return 0
        try:
            from rnnctl.runs import load_run
            load_run(args.analysis_only)        # a clear one-line error for a bad dir
        except RunError as e:
            return _fail(_explain(e))
        return analyse(args.analysis_only, args)
    out = None
    try:
        if args.resume is not None:
            config, agents = _resume_target(args)
            out = args.resume
        else:
            config, agents = args.config, _agents(args)
            out = args.out or Path("runs") / (
                args.name or _dt.datetime.now().strftime("sweep-%Y%m%d-%H%M%S"))
            bad = _check_out(out)
            if bad:
                return _fail(f"argument --out: {bad}")
        args.out_dir = out
        if args.devices is None:
            from rnnctl.distributed import auto_devices
            args.devices = auto_devices(len(agents))
        n_settings = len({a["obs"] for a in agents})
        n_seeds = len({a["seed"] for a in agents})
        n_hyper = len(agents) // (n_seeds * n_settings)
        if writer:
            print(f"{'Resuming' if args.resume else 'Training'} {len(agents)} agents "
                  f"({n_seeds} seeds × {n_settings} settings"
                  f"{f' × {n_hyper} hyperparameter sets' if n_hyper > 1 else ''}), "
                  f"{config.n_updates} updates × {config.steps_per_update} steps, "
                  f"on {args.devices} device(s), into {out}", flush=True)
        path, result = train_to_dir(config, agents, out, progress=not args.quiet,
                                    chunk=args.chunk, devices=args.devices,
                                    resume=args.resume is not None)
    except RunLocked as e:
        return _fail(str(e), code=1)
    except (ConfigError, RunError) as e:
        return _fail(_explain(e))
    except Interrupted as e:
        print(f"\n{_explain(e)}", file=sys.stderr)
        return 130
    except OSError as e:
        return _fs_fault(e, out if writer else None)
    if not writer:
        print(f"process {jax.process_index()}/{jax.process_count()}: done (process 0 "
              "writes the run directory)")
        return 0
    rate = result.env_steps / result.train_s if result.train_s else float("nan")
    print(f"compile {result.compile_s:.1f}s, train {result.train_s:.1f}s, "
          f"{result.env_steps:,} env steps ({rate:,.0f} steps/s)")
    for d in result.diverged:
        print(f"WARNING: agent {d['agent']} (seed {d['seed']}, {d['obs'].upper()}"
              f"{', ' + str(d['hyper']) if 'hyper' in d else ''}) diverged (NaN/inf) at "
              f"update {d['update']}; its parameters were frozen at update {d['update'] - 1}")
    args.saved_note = (f"the trained run is saved in {path}; analyse it with: {PROG} "
                       f"--analysis-only {path}")
    print(summary_table(agents, result.metrics, config))
    print(f"saved {path}")
    if args.no_analysis:
        return 0
    return analyse(path, args)


def analyse(run_dir: Path, args) -> int:
    """The analysis stage: figures, summary.json and report.md in the run directory."""
    from rnnctl.paper import (DEFAULT_OPTIONS, QUICK_OPTIONS, PipelineError, analyse_run,
                              last_options)
    from rnnctl.runs import RunError
    options = DEFAULT_OPTIONS
    if args.quick:
        options = QUICK_OPTIONS
    elif args.analysis_only is not None:    # as last time (or as the interrupted one)
        options = last_options(run_dir) or DEFAULT_OPTIONS
    if getattr(args, "fp_continue", None) is not None:
        import dataclasses
        options = dataclasses.replace(options, fp_continue=args.fp_continue)
    from rnnctl.runs import RunLocked, read_run_meta
    print(f"{'Redrawing' if args.redraw is not None else 'Analysing'} {run_dir} ...", flush=True)
    again = f"{PROG} --analysis-only {run_dir}"
    task = read_run_meta(run_dir)["config"].get("task", TrainConfig.task)
    try:
        if task != TrainConfig.task and args.redraw is not None:
            return _fail(f"argument --redraw: {run_dir} is a {task} run, whose task-agnostic "
                         f"analysis has no redraw; use --analysis-only")
        if task != TrainConfig.task:        # no paper claims off the pendulum
            return _analyse_task(run_dir, args, again)
        summary = analyse_run(run_dir, progress=not args.quiet, options=options,
                              reuse=args.analysis_only is not None and not args.recompute,
                              redraw=args.redraw is not None)
    except KeyboardInterrupt:
        print(f"\nanalysis interrupted; the agents analysed so far are saved in "
              f"{run_dir / 'analysis_parts'}; continue with: {again}", file=sys.stderr)
        return 130
    except OSError as e:
        return _fs_fault(e, run_dir, "--analysis-only")
    except RunLocked as e:
        return _fail(str(e), code=1)
    except RunError as e:
        return _fail(str(e))
    except PipelineError as e:
        print(f"{PROG}: analysis failed: {e}", file=sys.stderr)
        print(f"what was saved is kept; retry with: {PROG} "
              f"--analysis-only {run_dir}", file=sys.stderr)
        return 1
    print(claims_table(summary, trained_here=args.analysis_only is None))
    print(f"wrote {run_dir / 'summary.json'}, {run_dir / 'report.md'} and "
          f"{run_dir / 'figures'}/")
    return 0


def _analyse_task(run_dir: Path, args, again: str) -> int:
    """The task-agnostic analysis (`rnnctl.task_analysis`) of a run on any task."""
    import dataclasses
    from rnnctl.paper import DEFAULT_OPTIONS, QUICK_OPTIONS
    from rnnctl.task_analysis import analyse_task_run
    options = QUICK_OPTIONS if args.quick else dataclasses.replace(DEFAULT_OPTIONS,
                                                                     checkpoint_stride=10)
    try:
        summary = analyse_task_run(run_dir, progress=not args.quiet, options=options)
    except KeyboardInterrupt:
        print(f"\nanalysis interrupted; the agents analysed so far are saved in "
              f"{run_dir / 'task_analysis_parts'}; continue with: {again}", file=sys.stderr)
        return 130
    print((run_dir / "report.md").read_text().split("![overview]")[0].rstrip())
    print(f"wrote {run_dir / 'summary.json'}, {run_dir / 'report.md'} and "
          f"{run_dir / 'figures' / 'overview.png'} ({summary['analysis_call_s']:.0f} s)")
    return 0
