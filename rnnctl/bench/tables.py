"""The performance tables of README.md and docs/performance.md, from the committed
benchmark JSON (figures/bench/: train.json, grid.json, scaling.json).

`python -m experiments.docs` writes each between its markers (`MARKERS`), and
tests/test_readme_tables.py fails when a table and its JSON disagree.
"""
from __future__ import annotations

import statistics
import textwrap

__all__ = ["MARKERS", "SOURCES", "machine_text", "machine_block", "run_text",
           "readme_table", "training_table", "process_table", "profile_text",
           "scaling_table", "grid_table"]

_PERF = "docs/performance.md"
#: Where each generated table lives: name -> (file, start marker, end marker).
MARKERS = {
    "perf-readme": ("README.md", "<!-- perf-table:start -->", "<!-- perf-table:end -->"),
    "perf-machine": (_PERF, "<!-- perf-machine:start -->", "<!-- perf-machine:end -->"),
    "perf-training": (_PERF, "<!-- perf-training:start -->", "<!-- perf-training:end -->"),
    "perf-process": (_PERF, "<!-- perf-process:start -->", "<!-- perf-process:end -->"),
    "perf-profile": (_PERF, "<!-- perf-profile:start -->", "<!-- perf-profile:end -->"),
    "perf-scaling": (_PERF, "<!-- perf-scaling:start -->", "<!-- perf-scaling:end -->"),
    "perf-grid": (_PERF, "<!-- perf-grid:start -->", "<!-- perf-grid:end -->"),
}
#: The JSON each benchmark writes, relative to the checkout.
SOURCES = {"train": "figures/bench/train.json", "grid": "figures/bench/grid.json",
           "scaling": "figures/bench/scaling.json"}


def _n(x: float) -> str:
    """Thousands with commas: 25,512."""
    return f"{x:,.0f}"


def _s(x: float) -> str:
    """Seconds, three significant figures at most: 0.21 s, 14.2 s, 174 s."""
    return f"{x:.2f} s" if x < 1 else f"{x:.1f} s" if x < 100 else f"{x:.0f} s"


def _para(text: str) -> str:
    """A paragraph wrapped as the docs' source is (92 columns)."""
    return textwrap.fill(text, 92, break_long_words=False, break_on_hyphens=False)


def _ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 10 else f"{x:.2f}×"


def machine_text(prov: dict) -> str:
    """One line naming the machine, its software and the commit measured."""
    m, v = prov["machine"], prov["versions"]
    acc = ", ".join(m["accelerator"])
    kind = "no GPU or TPU" if m["accelerator"] == ["cpu"] else acc
    load = prov.get("load_average")
    commit = (prov["commit"] or "")[:7] or "an installed copy"
    return (f"{m['cpu']}, {m['cores']} cores, {kind}; jax {v['jax']}, Python {v['python']}; "
            f"rnnctl {prov['rnnctl_version']} at commit {commit}"
            + (" (with uncommitted changes)" if prov.get("dirty") else "")
            + (f"; load average {load[0]:.1f} when it started" if load else ""))


def run_text(prov: dict, machine_of: dict | None = None) -> str:
    """The commit and load of a benchmark run; the whole machine too unless it is the one
    `machine_of` (another provenance) names already."""
    keys = ("cpu", "cores", "accelerator", "platform")
    if machine_of is None or any(prov["machine"].get(k) != machine_of["machine"].get(k)
                                 for k in keys):
        return f"on {machine_text(prov)}"
    load = prov.get("load_average")
    return (f"at commit {(prov['commit'] or '')[:7] or 'an installed copy'}"
            + (f", load average {load[0]:.1f} when it started" if load else ""))


def machine_block(prov: dict) -> str:
    """`machine_text` as a paragraph of its own."""
    return _para(machine_text(prov) + ".")


def readme_table(train: dict) -> str:
    """The README's table: rnnctl (1 device, all devices) against RecurrentPPO, and the
    whole sweep process, with the machine named once."""
    sb3, v = train["sb3_recurrent_ppo"], train["vmapped"]
    prov = train["provenance"]
    lines = ["| | env steps/s | against RecurrentPPO |", "|---|---:|---:|",
             f"| rnnctl, all agents in one program, 1 device | {_n(v['env_steps_per_s'])} | "
             f"{_ratio(v['env_steps_per_s'] / sb3['env_steps_per_s'])} |"]
    if "sharded" in train:
        sh = train["sharded"]
        lines.append(f"| rnnctl, the same on {sh['devices']} devices (one per core; the "
                     f"sweep's default) | {_n(sh['env_steps_per_s'])} | "
                     f"{_ratio(sh['env_steps_per_s'] / sb3['env_steps_per_s'])} |")
    lines.append(f"| sb3-contrib `RecurrentPPO` (64-unit LSTM, {sb3['updates']} updates) | "
                 f"{_n(sb3['env_steps_per_s'])} | 1× |")
    lines.append("")
    text = (f"Measured by `python -m experiments.bench_train` "
            f"([`figures/bench/train.json`](figures/bench/train.json)) on "
            f"{machine_text(prov)}; sb3-contrib {sb3['version']}, torch {sb3['torch']}. "
            f"The default sweep: {train['n_agents']} agents × {train['config']['n_updates']} "
            f"updates, {_n(v['env_steps'])} environment steps.")
    if "whole_process" in train:
        w = train["whole_process"]["default"]
        text += (f" The whole `rnnctl sweep --seeds {train['n_agents'] // 2} --no-analysis` "
                 f"process (imports, compilation from a warm cache, training, saving) took "
                 f"{_s(w['warm_s'])} (median of {len(w['warm_runs_s'])}).")
    lines.append(_para(text))
    return "\n".join(lines)


def training_table(train: dict) -> str:
    """Compile and train times of each trainer, env steps/s and the ratio to one device."""
    v, loop, sb3 = train["vmapped"], train["agent_by_agent"], train["sb3_recurrent_ppo"]
    base = v["env_steps_per_s"]
    rows = [("rnnctl, all agents in one program, 1 device", v)]
    if "sharded" in train:
        rows.append((f"rnnctl, the same on {train['sharded']['devices']} devices "
                     f"(the sweep's default here)", train["sharded"]))
    rows.append(("rnnctl, the same trainer agent by agent in a Python loop", loop))
    lines = ["| trainer | compile | train | env steps/s | ratio |", "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {_s(r['compile_s'])} | {_s(r['train_s'])} | "
                     f"{_n(r['env_steps_per_s'])} | {_ratio(r['env_steps_per_s'] / base)} |")
    lines.append(f"| sb3-contrib `RecurrentPPO` {sb3['version']} (MlpLstmPolicy, 64-unit "
                 f"LSTM, {sb3['updates']} updates; torch {sb3['torch']}, "
                 f"{sb3['torch_threads']} threads) | | {_s(sb3['train_s'])} | "
                 f"{_n(sb3['env_steps_per_s'])} | 1/{base / sb3['env_steps_per_s']:,.0f} |")
    lines.append("")
    text = (f"rnnctl trains **{_ratio(base / sb3['env_steps_per_s'])} faster than "
            f"RecurrentPPO on one device**")
    if "sharded" in train:
        sh = train["sharded"]
        text += (f" and {_ratio(sh['env_steps_per_s'] / sb3['env_steps_per_s'])} on "
                 f"{sh['devices']} devices")
    text += (f"; one program for every agent is {_ratio(base / loop['env_steps_per_s'])} "
             f"the speed of the same trainer called agent by agent.")
    lines.append(_para(text))
    return "\n".join(lines)


def process_table(train: dict) -> str:
    """Whole-process wall times of the sweep: cold, warm and no compilation cache."""
    wp = train["whole_process"]
    lines = ["| | cold | warm (median; the runs) | no cache |", "|---|---:|---:|---:|"]
    for key, w in wp.items():
        name = (f"default (`--devices auto`: {w['devices']} here)" if key == "default"
                else f"`--devices {w['devices']}`")
        runs = ", ".join(f"{x:.1f}" for x in w["warm_runs_s"])
        lines.append(f"| {name} | {_s(w['cold_s'])} | **{_s(w['warm_s'])}** ({runs}) | "
                     f"{_s(w['no_cache_s'])} |")
    one = wp.get("devices_1")
    if one is not None and wp["default"]["devices"] > 1:
        speedup = one["warm_s"] / wp["default"]["warm_s"]
        lines += ["", _para(f"Whole process, warm, the default is {speedup:.2f}× as fast as "
                            f"one device.")]
    return "\n".join(lines)


def profile_text(train: dict) -> str:
    """Where an update's time goes, and the arithmetic floor of the sweep."""
    pr, fl, v = train["profile"], train["floor"], train["vmapped"]
    U = train["config"]["n_updates"]
    return _para(
        f"Per {U} updates on one device: rollout {_s(pr['rollout_s_per_update'] * U)}, "
        f"in-loop evaluation {_s(pr['eval_s_per_update'] * U)}, PPO epochs "
        f"{_s(pr['ppo_epochs_s_per_update'] * U)}. At the sweep's arithmetic "
        f"({fl['flop_per_env_step'] / 1e6:.1f} MFLOP per environment step, "
        f"{fl['total_gflop']:,.0f} GFLOP in all) and this CPU's 64-wide matmul rate "
        f"({fl['matmul_gflops']:.0f} GFLOP/s), the floor is {_s(fl['floor_s'])}: "
        f"one-device training takes {v['train_s'] / fl['floor_s']:.1f}× the floor.")


def scaling_table(scaling: dict, machine_of: dict | None = None) -> str:
    """Throughput and memory per agent count (each count its own process); the machine
    is named unless it is `machine_of`'s (a provenance block)."""
    lines = ["| agents | compile | train | env steps/s | per agent | peak RSS | "
             "checkpoints of 100 updates |", "|---:|---:|---:|---:|---:|---:|---:|"]
    ok = [r for r in scaling["rows"] if "failed" not in r]
    for r in ok:
        ck = r["checkpoints_mb_at_100_updates"]
        lines.append(f"| {_n(r['agents'])} | {_s(r['compile_s'])} | {_s(r['train_s'])} | "
                     f"{_n(r['env_steps_per_s'])} | {_n(r['env_steps_per_s'] / r['agents'])} | "
                     f"{r['peak_rss_mb'] / 1024:.2f} GB | "
                     + (f"{ck / 1024:.1f} GB" if ck >= 1024 else f"{ck:.0f} MB") + " |")
    failed = [r["agents"] for r in scaling["rows"] if "failed" in r]
    lines.append("")
    best = max(ok, key=lambda r: r["env_steps_per_s"])
    text = (f"{scaling['updates']} updates × {_n(scaling['steps_per_update'])} steps per "
            f"agent, PO agents, {run_text(scaling['provenance'], machine_of)}. Throughput is "
            f"within 10% of its best ({_n(best['env_steps_per_s'])} steps/s) from "
            f"{scaling['saturates_at_agents']} agents on. A checkpoint costs "
            f"{ok[-1]['checkpoint_bytes_per_agent_update'] / 1024:.0f} KB per agent per "
            f"update, held on the host while the run is assembled.")
    if failed:
        text += f" {', '.join(map(str, failed))} agents: failed (see the JSON)."
    lines.append(_para(text))
    return "\n".join(lines)


def grid_table(grid: dict, machine_of: dict | None = None) -> str:
    """env steps/s per task × cell, with the ratio to the first grid point; the machine
    is named unless it is `machine_of`'s (a provenance block)."""
    rows = grid["grid"]
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    at = {(r["task"], r["cell"]): r for r in rows}
    lines = ["| task | " + " | ".join(c.upper() if c != "rnn" else "RNN" for c in cells)
             + " |", "|---|" + "---:|" * len(cells)]
    for t in tasks:
        lines.append(f"| {t} | " + " | ".join(
            f"{_n(at[t, c]['env_steps_per_s'])} ({at[t, c]['ratio_to_first']:.2f})"
            if (t, c) in at else "" for c in cells) + " |")
    gated = [r["ratio_to_first"] / at[r["task"], cells[0]]["ratio_to_first"]
             for r in rows if r["cell"] != cells[0] and (r["task"], cells[0]) in at]
    comp = [r["compile_s"] for r in rows]
    lines.append("")
    text = (f"{grid['agents']} agents × {grid['updates']} updates × "
            f"{_n(grid['steps_per_update'])} steps, one compiled program per grid point, "
            f"{run_text(grid['provenance'], machine_of)}; in brackets the ratio to {tasks[0]} with "
            f"the {cells[0].upper()} in the same run.")
    if gated:
        text += (f" A gated cell runs at {min(gated):.2f}–{max(gated):.2f} of the "
                 f"{cells[0].upper()}'s speed on the same task.")
    text += (f" Compilation took {_s(min(comp))}–{_s(max(comp))} per program "
             f"(median {_s(statistics.median(comp))}).")
    lines.append(_para(text))
    return "\n".join(lines)
