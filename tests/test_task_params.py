"""Task parameters are user input, checked like flags (issue 25): every declared parameter
of every registered task refuses a value below its range, above it and of the wrong type
in one line before anything is built; --help lists them; Pendulum's physics are recorded,
used (training and rollouts) and refused on --resume if they differ; a run that fails
before its first chunk leaves no run behind."""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import sweep
from rnnctl import task_params
from rnnctl.config import ConfigError, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _bad_values(p: task_params.Param) -> dict[str, str]:
    """What to feed a parameter: below its range, above it (where bounded), wrong type."""
    if p.kind == "bool":
        return {"wrong type": "2", "not a number": "maybe"}
    lo, lo_in, hi, hi_in = p.bounds
    step = 1 if p.kind == "int" else 0.5
    out = {"below": ("-inf" if lo == -math.inf else repr(lo - step if lo_in else lo)),
           "not a number": "abc"}
    if hi != math.inf:
        out["above"] = repr(hi + step if hi_in else hi)
    out["wrong type"] = "2.5" if p.kind == "int" else "nan"
    return out


CASES = [(task, name, what, value)
         for task, params in task_params.PARAMS.items()
         for name, p in params.items()
         for what, value in _bad_values(p).items()]


def test_every_registered_task_declares_every_field_of_its_env_params():
    """The table covers gymnax: each field is settable, fixed (with a reason) or derived,
    and each declared default is gymnax's and lies in its own range."""
    import gymnax
    from gymnax.environments.bsuite import mnist
    from rnnctl import envs
    assert set(task_params.PARAMS) == set(envs.task_names())
    for task in envs.task_names():
        # MNISTBandit downloads MNIST when made: its parameters alone
        defaults = mnist.EnvParams() if task == "MNISTBandit-bsuite" else gymnax.make(task)[1]
        fields = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
        declared = task_params.PARAMS[task]
        covered = {*declared, *task_params.FIXED.get(task, {}),
                   *task_params.DERIVED.get(task, {})}
        assert covered == set(fields), (task, covered ^ set(fields))
        for name, p in declared.items():
            assert task_params.coerce(task, name, fields[name]) == pytest.approx(p.default), \
                (task, name)
            assert task_params.coerce(task, name, str(p.default)) == pytest.approx(p.default)


def test_cases_cover_every_declared_parameter():
    names = {(t, n) for t, n, _, _ in CASES}
    assert len(names) == sum(len(p) for p in task_params.PARAMS.values()) > 80
    assert any(w == "above" for _, _, w, _ in CASES)


@pytest.mark.parametrize("task,name,what,value", CASES,
                         ids=[f"{t}:{n}={v}({w})" for t, n, w, v in CASES])
def test_a_bad_value_is_one_line_naming_parameter_range_and_value(task, name, what, value,
                                                                  capsys):
    with pytest.raises(SystemExit) as e:
        sweep.parse_args(["--task", task, "--task-param", f"{name}={value}"])
    assert e.value.code == 2
    line, = capsys.readouterr().err.strip().splitlines()
    p = task_params.PARAMS[task][name]
    shown = value if value != "maybe" and value != "abc" else repr(value)
    assert line == (f"python -m experiments.sweep: error: argument --task-param: {task} "
                    f"parameter {name} must be "
                    f"{task_params.param_text(p).replace('a number', 'a finite number')}, "
                    f"got {shown}"), line


def test_good_values_are_typed_as_the_field_and_sorted():
    cfg = sweep.parse_args(["--task", "MemoryChain-bsuite", "--task-param", "memory_length=4.0",
                            "--task-param", "max_steps_in_episode=1e3"]).config
    assert cfg.task_params == (("max_steps_in_episode", 1000), ("memory_length", 4))
    assert all(type(v) is int for _, v in cfg.task_params)
    cfg = sweep.parse_args(["--task", "Asterix-MinAtar", "--task-param", "ramping=0"]).config
    assert cfg.task_params == (("ramping", False),)
    cfg = sweep.parse_args(["--task-param", "m=2", "--task-param", "g=9.81"]).config
    assert cfg.task_params == (("g", 9.81), ("m", 2.0)) and type(cfg.task_params[1][1]) is float


def test_the_same_name_twice_or_no_value_is_refused(capsys):
    for flags, words in ((["--task-param", "g=9", "--task-param", "g=10"], "g is given twice"),
                         (["--task-param", "g"], "expected NAME=NUMBER, got 'g'")):
        with pytest.raises(SystemExit) as e:
            sweep.parse_args(flags)
        line, = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and words in line, line


def test_the_cli_exits_2_in_one_line_before_anything_compiles(tmp_path):
    """As a user sees it: exit 2, one line, no traceback, nothing written, in under 5 s
    (it was an 86-line traceback from inside the compiled program)."""
    out = tmp_path / "run"
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "experiments.sweep", "--task",
                          "MemoryChain-bsuite", "--task-param", "memory_length=-3",
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    took = time.perf_counter() - t0
    assert res.returncode == 2, res.stderr
    line, = res.stderr.strip().splitlines()
    assert "memory_length must be an integer in [1, 2147483647], got -3" in line
    assert "Traceback" not in res.stderr and res.stdout == "" and not out.exists()
    assert took < 5.0, took


def test_the_task_refuses_names_it_does_not_declare_and_the_library_checks_values():
    from rnnctl import envs
    for task, params, words in (
            ("MemoryChain-bsuite", (("x", 1),), "MemoryChain-bsuite has no parameter x; its "
             "parameters: max_steps_in_episode, memory_length"),
            ("Pendulum-v1", (("max_steps_in_episode", 100),), "cannot be set (the paper's"),
            ("CartPole-v1", (("total_mass", 2.0),), "cannot be set (follows masscart"),
            ("MemoryChain-bsuite", (("memory_length", 0),), "got 0"),       # was: NaN agents
            ("MemoryChain-bsuite", (("memory_length", 2.5),), "got 2.5")):  # was: a float
        with pytest.raises(ConfigError, match=None) as e:
            envs.get_task(name=task, params=params)
        assert words in str(e.value) and "\n" not in str(e.value), str(e.value)
    args = sweep.parse_args(["--task-param", "max_steps_in_episode=100"])
    assert sweep._check_task(args).startswith("argument --task-param: Pendulum-v1 parameter")


def test_cartpole_fields_that_follow_the_masses_are_recomputed():
    from rnnctl import envs
    p = envs.get_task(name="CartPole-v1", params=(("masspole", 0.2), ("length", 1.0))).env_params
    assert (p.total_mass, p.polemass_length) == pytest.approx((1.2, 0.2))
    assert envs.get_task(name="CartPole-v1").env_params.total_mass == 1.1


def test_help_lists_the_selected_task_s_parameters(capsys):
    with pytest.raises(SystemExit) as e:
        sweep.parse_args(["--task", "MemoryChain-bsuite", "--help"])
    text = capsys.readouterr().out
    assert e.value.code == 0
    assert "task parameters of MemoryChain-bsuite" in text
    assert "memory_length         an integer in [1, 2147483647], default 5" in text
    text = sweep.build_parser().format_help()          # plain --help: Pendulum's physics
    for name, p in task_params.PARAMS["Pendulum-v1"].items():
        assert f"  {name} " in text and f"default {p.default:g}" in text
    for task, params in task_params.PARAMS.items():   # every task's list is complete
        block = task_params.describe(task)
        assert all(f"  {n} " in block for n in params), task


def _run_dir(tmp_path, config, status="training"):
    from rnnctl import runs
    out = tmp_path / "run"
    runs.write_run_meta(out, config, [{"seed": 0, "obs": "fo"}], status=status,
                        info={"devices": 1})
    return out


def test_pendulum_physics_are_recorded_and_used(tmp_path):
    import jax
    import jax.numpy as jnp
    from rnnctl import envs, runs
    cfg = sweep.parse_args(["--quick", "--task-param", "g=9.81",
                            "--task-param", "max_torque=3"]).config
    assert cfg.task_params == (("g", 9.81), ("max_torque", 3.0))
    saved = runs.read_run_meta(_run_dir(tmp_path, cfg), allow_incomplete=True)["config"]
    assert saved["task_params"] == [["g", 9.81], ["max_torque", 3.0]]    # config.json
    assert TrainConfig.from_dict(saved) == cfg
    task = envs.get_task(cfg)                 # what make_train steps (task.reset/step)
    assert (task.env_params.g, task.action_high, task.dt) == (9.81, 3.0, 0.05)
    _, state = envs.state_from(jnp.pi / 2, 0.0)
    res = task.step(jax.random.key(0), state, jnp.asarray([0.0]))
    assert float(res.state.theta_dot) == pytest.approx(3 * 9.81 / 2 * 0.05, rel=1e-6)
    res = task.step(jax.random.key(0), state, jnp.asarray([5.0]))       # clipped at 3
    assert float(res.state.theta_dot) == pytest.approx((3 * 9.81 / 2 + 3 * 3) * 0.05, rel=1e-6)


def test_resume_with_other_physics_is_refused_in_one_line(tmp_path, capsys):
    from rnnctl.runs import RunError
    cfg = TrainConfig(task_params=(("g", 9.81),))
    out = _run_dir(tmp_path, cfg)
    args = sweep.parse_args(["--resume", str(out), "--task-param", "g=5"])
    with pytest.raises(RunError) as e:
        sweep._resume_target(args)
    assert "different config" in str(e.value) and "task_params" in str(e.value)
    assert "\n" not in sweep._explain(e.value)
    for same in ([], ["--task-param", "g=9.81"]):      # its own physics: accepted
        assert sweep._resume_target(sweep.parse_args(["--resume", str(out), *same]))[0] == cfg
    assert sweep.main(["--resume", str(out), "--task-param", "g=5", "--quiet"]) == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert "different config" in line


def test_resuming_a_run_recorded_with_a_bad_value_is_one_line(tmp_path, capsys):
    """A half-made directory from before values were checked (memory_length=-3 recorded,
    status training): its --resume says why it cannot continue instead of a traceback."""
    out = _run_dir(tmp_path, TrainConfig(task="MemoryChain-bsuite",
                                         task_params=(("memory_length", -3),)))
    assert sweep.main(["--resume", str(out), "--quiet"]) == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert "cannot continue" in line and "memory_length" in line and "got -3" in line


def test_a_run_that_fails_before_its_first_chunk_leaves_no_run(tmp_path, monkeypatch):
    from rnnctl import experiment, runs

    def fail(self):
        raise RuntimeError("failed while compiling")

    monkeypatch.setattr(experiment._Driver, "initial_state", fail)
    cfg = TrainConfig(n_updates=1, rollout_len=64, n_epochs=1, n_minibatches=1,
                      eval_episodes=0)
    out = tmp_path / "run"
    for _ in range(2):           # the second try is not blocked by the first's directory
        with pytest.raises(RuntimeError, match="failed while compiling"):
            experiment.train_to_dir(cfg, [{"seed": 0, "obs": "fo"}], out, progress=False)
        assert not (out / runs.CONFIG_FILE).exists() and not (out / "partial").exists()


def test_rollouts_simulate_the_given_physics():
    import jax
    import jax.numpy as jnp
    from rnnctl import envs, networks
    from rnnctl.rollout import physics, rollout
    params = networks.init_params(jax.random.key(1), 2, 16)
    key = jax.random.key(2)
    roll = lambda **kw: rollout(params, obs="fo", key=key, n_episodes=2, steps=30, **kw)
    default = roll()
    assert physics(TrainConfig()) is None and physics(
        TrainConfig(task_params=(("g", 10.0),))) is None       # the defaults: constants
    # an untrained policy's actions are ~1e-3: a limit of 1e-3 clips some of them
    weak = (("g", 5.0), ("max_torque", 0.001))
    other = roll(env_params=envs.get_task(name="Pendulum-v1", params=weak).env_params)
    assert np.array_equal(other.theta_dot, roll(config=TrainConfig(task_params=weak)).theta_dot)
    assert not np.allclose(other.theta_dot, default.theta_dot)
    assert np.array_equal(other.torque, jnp.clip(other.action, -0.001, 0.001))
    assert (jnp.abs(other.action) > 0.001).any()
    assert np.array_equal(default.torque, default.action)       # within ±2: unclipped
    # one step of gymnax's equations with g = 5 (no θ̇ clipping at these speeds)
    th, thd, u = (np.asarray(a[0], np.float64) for a in (other.theta, other.theta_dot,
                                                         other.torque))
    step = thd[:-1] + (3 * 5.0 / 2 * np.sin(th[:-1]) + 3.0 * u[:-1]) * 0.05
    assert np.allclose(thd[1:], step, atol=1e-5)
    # traced physics (vmapped, as inside a jitted analysis stage)
    gs = jnp.asarray([5.0, 10.0])
    traced = jax.vmap(lambda g: roll(env_params=envs.ENV_PARAMS.replace(g=g)).theta_dot)(gs)
    assert np.allclose(traced[1], default.theta_dot, atol=1e-4)
    assert not np.allclose(traced[0], default.theta_dot)
