"""Training throughput: the default 10-agent sweep vs. agent-by-agent vs. sb3 RecurrentPPO.

    python -m experiments.bench_train [--out runs/bench/bench_train.json] [--sb3-updates 3]
    python -m experiments.bench_train --grid --out runs/bench/bench_grid.json  # task × cell

Everything is measured in this one process, so compare the ratios, not the absolute
numbers across machines. Prints a table and writes JSON. The sb3-contrib row needs the
optional extra: `pip install -e ".[bench]"`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from rnnctl.cli import prepare

prepare()        # as the command-line tools start: safe XLA flags, deferred imports
import jax  # noqa: E402
import jax.numpy as jnp
import numpy as np

from rnnctl.distributed import request_cpu_devices, usable_cpus

# One CPU device per core, as the sweep asks for them (before jax's backend starts; not
# against a count the user set): the "sharded" row uses them all, the other rows use one
# device (which runs at the same speed with the others idle).
request_cpu_devices(usable_cpus())

from rnnctl import ppo
from rnnctl.config import TrainConfig
from rnnctl.experiment import agent_inputs, make_agents, train_agents
from rnnctl.runs import flatten_params


def _time(f, *args, repeat=1):
    out = jax.block_until_ready(f(*args))
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = jax.block_until_ready(f(*args))
    return (time.perf_counter() - t0) / repeat, out


def whole_process_seconds(seeds: int, cache: str = "off",
                          devices: int | None = None) -> tuple[float, int]:
    """Wall time of `rnnctl sweep --seeds N --no-analysis` (a fresh process)
    with the persistent compilation cache in `cache` (a directory, or "off"), on
    `devices` devices (None: the sweep's default, auto); and the device count it used."""
    import re
    import shutil
    out = Path("runs/bench/_sweep")
    shutil.rmtree(out, ignore_errors=True)   # the sweep refuses to overwrite a run
    flags = [] if devices is None else ["--devices", str(devices)]
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "rnnctl.cli", "sweep", "--seeds", str(seeds),
                          "--no-analysis", "--quiet", "--out", str(out), "--compile-cache",
                          cache, *flags], check=True, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    used = re.search(r"on (\d+) device\(s\)", res.stdout)
    return seconds, int(used.group(1)) if used else -1


def whole_process(seeds: int, warm_repeats: int = 3) -> dict:
    """Cold (empty cache), warm (the median of `warm_repeats` runs after it: one run on
    a shared machine can be off by seconds) and no-cache whole-process times: with the
    sweep's default devices (auto: one per core on a CPU), on 1 device, and on 2 where
    the default is not 2 already and there are several cores."""
    import tempfile
    res = {}
    settings = [("default", None), ("devices_1", 1)]
    for name, devices in settings + [("devices_2", 2)]:
        if name == "devices_2" and (res["default"]["devices"] == 2 or len(jax.devices()) < 2):
            continue
        with tempfile.TemporaryDirectory(prefix="rnnctl-cache-") as cache:
            cold, used = whole_process_seconds(seeds, cache, devices)
            warm = [whole_process_seconds(seeds, cache, devices)[0]
                    for _ in range(warm_repeats)]
            res[name] = {"devices": used, "cold_s": cold, "warm_s": float(np.median(warm)),
                         "warm_runs_s": warm,
                         "no_cache_s": whole_process_seconds(seeds, "off", devices)[0]}
    return res


def agent_by_agent(config: TrainConfig, agents: list[dict]) -> dict:
    """The same trainer called once per agent in a Python loop (compiled once for A=1)."""
    trainer = ppo.make_train(config)
    states = [jax.block_until_ready(trainer.init(*agent_inputs(config, [a]))) for a in agents]
    t0 = time.perf_counter()
    compiled = trainer.train_from.lower(states[0]).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for state in states:
        jax.block_until_ready(compiled(state))
    return {"compile_s": compile_s, "train_s": time.perf_counter() - t0}


def stage_profile(config: TrainConfig, agents: list[dict]) -> dict:
    """Seconds per update spent in the rollout and the evaluation; the rest is PPO epochs."""
    trainer = ppo.make_train(config)
    state = trainer.init(*agent_inputs(config, agents))
    rollout_s, _ = _time(trainer.collect, state, repeat=5)
    eval_s, _ = _time(trainer.evaluate, state, repeat=5)
    update_s, _ = _time(lambda s: trainer.run(s, 1), state, repeat=5)
    return {"rollout_s_per_update": rollout_s, "eval_s_per_update": eval_s,
            "update_s_per_update": update_s,
            "ppo_epochs_s_per_update": max(update_s - rollout_s - eval_s, 0.0)}


def flop_floor(config: TrainConfig, n_agents: int) -> dict:
    """Arithmetic per env step and the seconds it needs at this CPU's 64-wide matmul rate."""
    H, M, I = config.hidden, config.head_hidden, 3
    cell = 2 * (H * H + H * I)
    heads = 2 * 2 * (H * M + M)                  # policy and value MLPs
    fwd = cell + heads
    # rollout: cell + policy per step, value/bootstrap batched (≈ one more fwd);
    # training: per epoch forward + backward (≈ 3× forward)
    per_step = 2 * fwd + config.n_epochs * 3 * fwd
    total = per_step * n_agents * config.n_updates * config.steps_per_update
    a = jax.random.normal(jax.random.key(0), (256 * n_agents, H))
    w = jax.random.normal(jax.random.key(1), (H, H))
    f = jax.jit(lambda a, w: jax.lax.fori_loop(0, 200, lambda i, x: jnp.tanh(x @ w), a))
    sec, _ = _time(f, a, w, repeat=3)
    rate = 200 * 2 * a.shape[0] * H * H / sec
    return {"flop_per_env_step": per_step, "total_gflop": total / 1e9,
            "matmul_gflops": rate / 1e9, "floor_s": total / rate}


def sb3_recurrent_ppo(n_updates: int) -> dict | None:
    """sb3-contrib RecurrentPPO (MlpLstmPolicy, 64-unit LSTM, n_steps 1024) on Pendulum-v1."""
    try:
        import gymnasium as gym
        import sb3_contrib
        import torch
        from sb3_contrib import RecurrentPPO
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    env = gym.make("Pendulum-v1")
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=1024, batch_size=128, n_epochs=10,
                         policy_kwargs={"lstm_hidden_size": 64, "net_arch": [64]},
                         verbose=0, seed=0, device="cpu")
    model.learn(1024)                                # warm-up: first update
    t0 = time.perf_counter()
    model.learn(1024 * n_updates, reset_num_timesteps=False)
    sec = time.perf_counter() - t0
    return {"version": sb3_contrib.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "updates": n_updates,
            "env_steps": 1024 * n_updates, "train_s": sec,
            "env_steps_per_s": 1024 * n_updates / sec}


def unroll_rows(agents: list[dict], values: list[int], updates: int) -> list[dict]:
    """Training time of the same sweep (shortened to `updates`) per `scan_unroll` value,
    each compiled once and timed after a warm-up call, plus its largest parameter
    difference from unroll 1 (the same arithmetic, so float32 rounding at most)."""
    rows, ref = [], None
    for u in values:
        config = TrainConfig(n_updates=updates, scan_unroll=u)
        r = train_agents(config, agents, progress=False)
        flat = flatten_params(r.params)
        ref = ref or flat
        diff = max(float(np.max(np.abs(flat[k] - ref[k]))) for k in flat)
        rows.append({"scan_unroll": u, "compile_s": r.compile_s, "train_s": r.train_s,
                     "env_steps_per_s": r.env_steps / r.train_s, "max_param_diff": diff})
        print(f"  scan_unroll {u}: compile {r.compile_s:.1f} s, train {r.train_s:.1f} s "
              f"({r.env_steps / r.train_s:,.0f} steps/s), max |Δparam| vs unroll 1 {diff:.1e}",
              flush=True)
    return rows


GRID_TASKS = ("Pendulum-v1", "CartPole-v1", "MemoryChain-bsuite", "BernoulliBandit-misc")


def grid_rows(tasks, cells, n_agents: int, updates: int) -> list[dict]:
    """Training throughput per task × cell: `n_agents` agents (seeds of the task's first
    observation variant) × `updates` updates of the default budget, each grid point one
    compiled program, timed after its compilation."""
    from rnnctl import envs
    rows = []
    for task in tasks:
        for cell in cells:
            config = TrainConfig(task=task, cell=cell, n_updates=updates)
            t = envs.get_task(config)
            agents = make_agents(range(n_agents), [next(iter(t.variants))],
                                 variants=t.variants)
            r = train_agents(config, agents, progress=False)
            row = {"task": task, "cell": cell, "agents": n_agents, "compile_s": r.compile_s,
                   "train_s": r.train_s, "env_steps_per_s": r.env_steps / r.train_s}
            rows.append(row)
            print(f"  {task:<22}{cell:<6}compile {r.compile_s:5.1f} s, train "
                  f"{r.train_s:6.1f} s, {row['env_steps_per_s']:>9,.0f} steps/s", flush=True)
    base = rows[0]["env_steps_per_s"]
    for row in rows:
        row["ratio_to_first"] = row["env_steps_per_s"] / base
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.bench_train",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds × {FO, PO} (default: 5)")
    p.add_argument("--sb3-updates", type=int, default=3,
                   help="RecurrentPPO updates to time (default: 3)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/bench_train.json"))
    p.add_argument("--skip-process", action="store_true",
                   help="skip timing the whole `rnnctl sweep` process")
    p.add_argument("--warm-repeats", type=int, default=3,
                   help="warm-cache whole-process runs per setting; their median is "
                        "reported (default: 3)")
    p.add_argument("--unroll", default=None, metavar="U[,U...]",
                   help="only compare lax.scan unroll values (e.g. 1,2,4,8) on the same "
                        "sweep shortened to --unroll-updates; writes --out")
    p.add_argument("--unroll-updates", type=int, default=10)
    p.add_argument("--grid", action="store_true",
                   help="only env-steps/s per task × cell (--tasks × --cells, --grid-agents "
                        "agents, --grid-updates updates each); writes --out")
    p.add_argument("--tasks", default=",".join(GRID_TASKS))
    p.add_argument("--cells", default="rnn,gru,lstm")
    p.add_argument("--grid-agents", type=int, default=10)
    p.add_argument("--grid-updates", type=int, default=10)
    args = p.parse_args(argv)
    if args.warm_repeats < 1:
        p.error(f"--warm-repeats must be at least 1, got {args.warm_repeats}")
    from rnnctl.provenance import provenance
    prov = provenance()        # before the work: the load average it started under
    if args.grid:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        cells = [c.strip() for c in args.cells.split(",") if c.strip()]
        print(f"env-steps/s per task × cell, {args.grid_agents} agents × {args.grid_updates} "
              f"updates × {TrainConfig.rollout_len} steps, on {jax.devices()[0]} "
              f"({os.cpu_count()} CPUs):")
        rows = grid_rows(tasks, cells, args.grid_agents, args.grid_updates)
        print(f"\n{'task':<22}" + "".join(f"{c:>14}" for c in cells) + "   (steps/s; ratio to "
              f"{tasks[0]} {cells[0]})")
        for task in tasks:
            cells_txt = "".join(f"{r['env_steps_per_s']:>9,.0f} ({r['ratio_to_first']:.2f})"
                                for r in rows if r["task"] == task)
            print(f"{task:<22}{cells_txt}")
        from rnnctl.runs import write_json
        write_json(args.out, {"provenance": prov, "agents": args.grid_agents,
                              "updates": args.grid_updates,
                              "steps_per_update": TrainConfig.rollout_len, "grid": rows})
        print(f"wrote {args.out}")
        return 0
    if args.unroll:
        values = [int(v) for v in args.unroll.split(",")]
        print(f"lax.scan unroll, {2 * args.seeds} agents × {args.unroll_updates} updates, "
              f"on {jax.devices()[0]} ({os.cpu_count()} CPUs):")
        rows = unroll_rows(make_agents(range(args.seeds)), values, args.unroll_updates)
        from rnnctl.runs import write_json
        write_json(args.out, {"provenance": prov, "updates": args.unroll_updates,
                              "unroll": rows})
        print(f"wrote {args.out}")
        return 0

    config = TrainConfig()
    agents = make_agents(range(args.seeds))
    A = len(agents)
    res: dict = {"provenance": prov, "config": config.to_dict(), "n_agents": A}
    r = train_agents(config, agents, progress=False)
    steps = r.env_steps
    res["vmapped"] = {"compile_s": r.compile_s, "train_s": r.train_s, "env_steps": steps,
                      "env_steps_per_s": steps / r.train_s,
                      "final_eval_return_fo": float(np.mean(r.metrics["eval_return"][0::2, -1])),
                      "final_eval_return_po": float(np.mean(r.metrics["eval_return"][1::2, -1]))}
    n_dev = len(jax.devices())
    if n_dev > 1:
        rs = train_agents(config, agents, progress=False, devices=n_dev)
        res["sharded"] = {"devices": n_dev, "compile_s": rs.compile_s, "train_s": rs.train_s,
                          "env_steps_per_s": steps / rs.train_s}
    loop = agent_by_agent(config, agents)
    loop["env_steps_per_s"] = steps / loop["train_s"]
    res["agent_by_agent"] = loop
    res["profile"] = stage_profile(config, agents)
    res["floor"] = flop_floor(config, A)
    if not args.skip_process:
        res["whole_process"] = whole_process(args.seeds, args.warm_repeats)
        res["whole_process_s"] = res["whole_process"]["default"]["warm_s"]
    res["sb3_recurrent_ppo"] = sb3_recurrent_ppo(args.sb3_updates)

    v, l, sb = res["vmapped"], res["agent_by_agent"], res["sb3_recurrent_ppo"]
    rows = [("rnnctl, vmapped (one program)", v["compile_s"], v["train_s"], v["env_steps_per_s"]),
            ("rnnctl, agent by agent", l["compile_s"], l["train_s"], l["env_steps_per_s"])]
    if "sharded" in res:
        sh = res["sharded"]
        rows.insert(1, (f"rnnctl, vmapped, --devices {sh['devices']}", sh["compile_s"],
                        sh["train_s"], sh["env_steps_per_s"]))
    if sb:
        rows.append((f"sb3-contrib RecurrentPPO {sb['version']} ({sb['updates']} updates)",
                     float("nan"), sb["train_s"], sb["env_steps_per_s"]))
    print(f"\n{A} agents × {config.n_updates} updates × {config.steps_per_update} steps "
          f"on {jax.devices()[0]} ({os.cpu_count()} CPUs)")
    print(f"{'trainer':<46}{'compile s':>10}{'train s':>10}{'steps/s':>12}{'ratio':>9}")
    for name, c, t, s in rows:
        print(f"{name:<46}{c:>10.1f}{t:>10.1f}{s:>12,.0f}{s / v['env_steps_per_s']:>9.3f}")
    res["ratios"] = {"vmapped_over_loop": v["env_steps_per_s"] / l["env_steps_per_s"]}
    if sb:
        res["ratios"]["vmapped_over_sb3"] = v["env_steps_per_s"] / sb["env_steps_per_s"]
        res.setdefault("targets", {})["at_least_200x_recurrent_ppo"] = \
            res["ratios"]["vmapped_over_sb3"] >= 200
        print(f"vmapped / RecurrentPPO: {res['ratios']['vmapped_over_sb3']:,.0f}×")
        if "sharded" in res:
            res["ratios"]["sharded_over_sb3"] = (res["sharded"]["env_steps_per_s"]
                                                 / sb["env_steps_per_s"])
            print(f"vmapped on {res['sharded']['devices']} devices / RecurrentPPO (both using "
                  f"all cores): {res['ratios']['sharded_over_sb3']:,.0f}×")
    print(f"vmapped / agent-by-agent: {res['ratios']['vmapped_over_loop']:.2f}×")
    if "whole_process" in res:
        print(f"whole `rnnctl sweep --seeds {args.seeds} --no-analysis` process:")
        wp = res["whole_process"]
        for key, w in wp.items():
            name = (f"default (auto: {w['devices']} devices)" if key == "default"
                    else f"--devices {w['devices']}")
            runs_txt = ", ".join(f"{x:.1f}" for x in w["warm_runs_s"])
            print(f"  {name}: cold cache {w['cold_s']:.1f} s, warm cache "
                  f"{w['warm_s']:.1f} s (median of {runs_txt}), no cache "
                  f"{w['no_cache_s']:.1f} s")
        # the project's targets for a 2-core CPU (the JSON's provenance names the machine)
        warm = wp["default"]["warm_s"]
        res.setdefault("targets", {})["whole_process_warm_under_30s"] = warm < 30.0
        print(f"  target: default sweep, whole process (warm cache) < 30 s: {warm:.1f} s, "
              f"{'met' if warm < 30.0 else 'NOT met'} on this machine "
              f"(--devices 1: {wp['devices_1']['warm_s']:.1f} s)")
        two = next((w for w in wp.values() if w["devices"] == 2), None)
        if two is not None:
            one = wp["devices_1"]
            for k in ("cold_s", "warm_s"):
                res["ratios"][f"devices_2_whole_process_{k[:-2]}"] = one[k] / two[k]
            print(f"  --devices 2 speed-up, whole process: "
                  f"{res['ratios']['devices_2_whole_process_warm']:.2f}× warm, "
                  f"{res['ratios']['devices_2_whole_process_cold']:.2f}× cold")
            sp = res["ratios"]["devices_2_whole_process_warm"]
            res["targets"]["devices_2_whole_process_at_least_1.6x"] = sp >= 1.6
            print(f"  target: --devices 2 ≥ 1.6× whole process (warm): "
                  f"{'met' if sp >= 1.6 else 'NOT met'}")
    pr, fl = res["profile"], res["floor"]
    U = config.n_updates
    print(f"profile per run: rollout {pr['rollout_s_per_update'] * U:.1f} s, evaluation "
          f"{pr['eval_s_per_update'] * U:.1f} s, PPO epochs {pr['ppo_epochs_s_per_update'] * U:.1f} s")
    print(f"arithmetic floor: {fl['total_gflop']:.0f} GFLOP at {fl['matmul_gflops']:.0f} GFLOP/s "
          f"(64-wide matmuls here) = {fl['floor_s']:.1f} s; training took "
          f"{v['train_s'] / fl['floor_s']:.1f}× the floor")
    from rnnctl.runs import write_json
    write_json(args.out, res)             # atomic: temp file, fsync, rename
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
