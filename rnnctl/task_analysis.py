"""The task-agnostic analysis of a saved run (any gymnax task, any cell), without the
paper's Pendulum-specific claims.

Per agent and analysed checkpoint (every `checkpoint_stride`-th update and the last), with
the same start states at every checkpoint (common random numbers):

  * deterministic episodes (`rollout.episodes`) and their return;
  * fixed points of the cell at two constant inputs, the zero input and the agent's mean
    input (the mean of x over every analysed episode step of every analysed checkpoint,
    one input per agent so that the searches compare across training): how many, how
    many stable, and the largest |λ| of the stable ones;
  * integration timescales: top-k τ of J_t = ∂F(s_{t−1}, x_t)/∂s_{t−1} along the
    episodes (`analysis.cell_jacobians`), steps past an episode's end left out;
  * geometry: participation ratio of the visited states; at the last checkpoint, their
    projection on the first 3 principal components with the task's declared state
    variables (`envs.Task.state_vars`) for colouring.

`analyse_task_run(run_dir)` writes task_analysis.npz, summary.json, report.md and
figures/overview.png into the run directory; `sweep` calls it for tasks other than
Pendulum. Across seeds: means with percentile-bootstrap intervals (returns, counts: an
interval within the data's range), geometric means with BCa bootstrap intervals (τ,
positive and heavy-tailed), and a paired test of τ at the first against the last analysed
checkpoint (`analysis.stats`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["analyse_task_run", "compute_task_analysis", "summarise", "write_task_report",
           "format_curve", "TASK_ANALYSIS_FILE"]

TASK_ANALYSIS_FILE = "task_analysis.npz"
PARTS_DIR = "task_analysis_parts"
FORMAT_VERSION = 1
#: Points of the last checkpoint kept for the geometry figure, per agent.
GEOMETRY_POINTS = 2000


@partial(jax.jit, static_argnames=("task", "n_episodes"))
def _episodes_agent(params, mask, key, *, task, n_episodes):
    from rnnctl.rollout import episodes
    return jax.vmap(lambda p: episodes(p, task, mask, key, n_episodes))(params)


@jax.jit
def _participation(h, alive):
    from rnnctl.analysis.geometry import _weighted_pca

    def one(hh, a):
        x = hh.reshape(-1, hh.shape[-1])
        var = _weighted_pca(x, a.reshape(-1).astype(x.dtype) + 1e-12,
                            x.shape[-1]).explained_variance
        return jnp.square(var.sum()) / jnp.maximum(jnp.square(var).sum(), 1e-30)

    return jax.vmap(one)(h, alive)


def _options_key(opts, updates) -> str:
    text = json.dumps([dataclasses.asdict(opts), [int(u) for u in updates], FORMAT_VERSION],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute_task_analysis(run, options=None, *, progress: bool = True,
                          parts_dir=None) -> dict[str, np.ndarray]:
    """Every task-agnostic analysis of every agent of a run.

    Args:
      run: a `runs.Run`.
      options: `paper.AnalysisOptions` (episodes, checkpoint_stride, fp_*, tau_*; the
        Pendulum-only fields are ignored). Default `paper.DEFAULT_OPTIONS` with
        checkpoint_stride 10.
      progress: one line per agent on stderr (or a `progress.Log`).
      parts_dir: if given, each agent's arrays are saved there as soon as computed and
        reused on a later call with the same options (an interrupted analysis continues).
    Returns:
      dict of NumPy arrays: "updates" [C]; per agent [A, C]: "return", "n_fp_zero",
      "n_fp_mean", "n_stable_zero", "n_stable_mean", "max_eig_stable_zero",
      "max_eig_stable_mean", "tau_avg", "participation_ratio"; "tau_mean" [A, C, k];
      "mean_input" [A, I]; "pc_var_ratio" [A, 3]; "proj" [A, P, 3]; "state_vars"
      [A, P, V] (the last checkpoint's states, P = min(visited, GEOMETRY_POINTS));
      "seconds" [] this call's wall time.
    """
    from rnnctl import analysis, envs
    from rnnctl.paper.compute import analysed_checkpoints, usable_checkpoints
    from rnnctl.paper.options import DEFAULT_OPTIONS
    from rnnctl.paper.stages import fixed_points_agent
    from rnnctl.progress import Log
    from rnnctl.runs import read_npz, unflatten_params, write_npz

    opts = options or dataclasses.replace(DEFAULT_OPTIONS, checkpoint_stride=10)
    opts = opts.validate().resolved()
    log = progress if callable(progress) else Log(progress)
    cfg, task = run.config, envs.get_task(run.config)
    updates = analysed_checkpoints(cfg.n_updates, opts.checkpoint_stride, ())
    flat = run._flat()
    ok = usable_checkpoints(run, flat)[:, updates]
    flat = {k: v[:, updates] for k, v in flat.items()}
    key = jax.random.key(opts.seed)
    k_ep, k_fp = jax.random.split(key)
    okey = _options_key(opts, updates)
    parts = Path(parts_dir) if parts_dir is not None else None
    per_agent = []
    t_start = time.perf_counter()
    for a, agent in enumerate(run.agents):
        part = parts / f"agent_{a:04d}.npz" if parts is not None else None
        if part is not None and part.is_file():
            saved = read_npz(part)
            if str(saved.pop("__options__", "")) == okey:
                per_agent.append(saved)
                continue
        t0 = time.perf_counter()
        out = _agent(a, agent, flat, ok[a], task, opts, k_ep, k_fp, analysis,
                     fixed_points_agent, unflatten_params)
        if part is not None:
            write_npz(part, {**out, "__options__": np.asarray(okey)})
        per_agent.append(out)
        log(f"  task analysis: agent {a + 1}/{run.n_agents} ({agent['obs']}, seed "
            f"{agent['seed']}) {time.perf_counter() - t0:.1f}s")
    res = {k: np.stack([p[k] for p in per_agent]) for k in per_agent[0]}
    res["updates"] = updates
    res["seconds"] = np.asarray(time.perf_counter() - t_start)
    return res


def _agent(a, agent, flat, ok_a, task, opts, k_ep, k_fp, analysis, fixed_points_agent,
           unflatten_params) -> dict[str, np.ndarray]:
    n_ckpt = ok_a.shape[0]
    out: dict[str, np.ndarray] = {}
    if not ok_a.any():          # diverged from the start: every field NaN
        ok_a = np.ones_like(ok_a)
        dead = True
    else:
        dead = False
    from rnnctl.paper.compute import usable_params
    params = usable_params(flat, a, ok_a, unflatten_params)
    mask = task.mask(agent["obs"])
    ep = _episodes_agent(params, mask, k_ep, task=task, n_episodes=opts.episodes)
    alive = np.asarray(ep.alive)
    out["return"] = np.asarray(ep.returns.mean(-1))
    x = np.asarray(ep.x)
    mean_input = (x * alive[..., None]).sum((0, 1, 2)) / max(alive.sum(), 1)
    out["mean_input"] = mean_input.astype(np.float32)
    x_stars = jnp.asarray(np.stack([np.zeros_like(mean_input), mean_input]))
    keys = jax.random.split(jax.random.fold_in(k_fp, a), n_ckpt)
    fps = fixed_points_agent(params, x_stars, ep.h, keys, opts)
    valid, stable = np.asarray(fps.valid), np.asarray(fps.is_stable)
    top = np.abs(np.asarray(fps.eigvals)[..., 0])
    for j, name in enumerate(("zero", "mean")):
        out[f"n_fp_{name}"] = valid[:, j].sum(-1).astype(np.float32)
        out[f"n_stable_{name}"] = stable[:, j].sum(-1).astype(np.float32)
        s = np.where(stable[:, j], top[:, j], np.nan)
        with np.errstate(all="ignore"):
            out[f"max_eig_stable_{name}"] = np.where(stable[:, j].any(-1),
                                                     np.nanmax(np.where(np.isnan(s), -1, s), -1),
                                                     np.nan)
    del fps
    ts = analysis.timescales_host(params, ep.h, x=ep.x, valid=alive, top=opts.tau_top,
                                  stride=opts.tau_stride, confidence=opts.tau_confidence,
                                  workers=opts.tau_workers)
    out["tau_avg"], out["tau_mean"] = ts["tau_avg"], ts["tau_mean"]
    out["participation_ratio"] = np.asarray(_participation(ep.h, ep.alive))
    h_last = np.asarray(ep.h[-1])[alive[-1]]
    sv_last = np.asarray(ep.state_vars[-1])[alive[-1]]
    pc = analysis.pca(jnp.asarray(h_last), 3)
    out["pc_var_ratio"] = np.asarray(pc.explained_variance_ratio)
    pick = np.linspace(0, len(h_last) - 1, min(len(h_last), GEOMETRY_POINTS)).astype(int)
    proj = np.full((GEOMETRY_POINTS, 3), np.nan, np.float32)
    svars = np.full((GEOMETRY_POINTS, sv_last.shape[-1]), np.nan, np.float32)
    proj[:len(pick)] = np.asarray(pc.transform(jnp.asarray(h_last[pick])))
    svars[:len(pick)] = sv_last[pick]
    out["proj"], out["state_vars"] = proj, svars
    for k, v in out.items():    # unusable checkpoints (a diverged agent's) are NaN
        if v.ndim >= 1 and v.shape[0] == n_ckpt and k not in ("mean_input",):
            bad = ~ok_a.reshape((-1,) + (1,) * (v.ndim - 1)) | dead
            out[k] = np.where(bad, np.nan, v).astype(np.float32)
        elif dead:
            out[k] = np.full_like(v, np.nan, dtype=np.float32)
    return out


def _curve(x, log: bool = False) -> dict:
    """Across seeds (axis 0): geometric mean and BCa bootstrap CI (log: τ, positive and
    heavy-tailed), else mean and percentile-bootstrap CI, which stays within the data's
    range (a count never below 0, a CartPole return never above 500)."""
    from rnnctl.analysis import stats
    if log:
        g = stats.geometric_mean_ci(x)
        return {"gmean": _list(g.gmean), "low": _list(g.low), "high": _list(g.high)}
    m = stats.bootstrap_mean_ci(x)
    return {"mean": _list(m.mean), "low": _list(m.low), "high": _list(m.high),
            "n": [int(n) for n in np.atleast_1d(m.n)]}


def _list(a):
    return [None if not np.isfinite(v) else float(v) for v in np.atleast_1d(a)]


def summarise(run, res: dict[str, np.ndarray]) -> dict:
    """summary.json's content: per observation variant, curves over training with
    intervals across seeds and the first-vs-last timescale test."""
    from rnnctl import envs
    from rnnctl.analysis import stats
    task = envs.get_task(run.config)
    ev = np.asarray(run.metrics["eval_return"], np.float64)
    groups = {}
    for i, a in enumerate(run.agents):
        groups.setdefault(a["obs"], []).append(i)
    settings = []
    for obs, idx in groups.items():
        idx = np.asarray(idx)
        tau_first, tau_last = res["tau_avg"][idx, 0], res["tau_avg"][idx, -1]
        entry = {
            "obs": obs, "n_agents": int(len(idx)),
            "final_eval_return": _curve(ev[idx, -1:]),
            "eval_return": _curve(ev[idx]),
            "return": _curve(res["return"][idx]),
            "n_fp_zero": _curve(res["n_fp_zero"][idx]),
            "n_fp_mean": _curve(res["n_fp_mean"][idx]),
            "n_stable_zero": _curve(res["n_stable_zero"][idx]),
            "n_stable_mean": _curve(res["n_stable_mean"][idx]),
            "tau_avg": _curve(res["tau_avg"][idx], log=True),
            "tau_top1": _curve(res["tau_mean"][idx, :, 0], log=True),
            "participation_ratio": _curve(res["participation_ratio"][idx]),
            "tau_first_vs_last": stats.paired_test(tau_first, tau_last, log=True,
                                                   alternative="two-sided").to_dict(),
        }
        settings.append(entry)
    cfg = run.config
    return {"kind": "task", "task": task.name, "task_params": dict(cfg.task_params),
            "cell": cfg.cell, "config": cfg.to_dict(), "agents": run.agents,
            "state_vars": list(task.state_vars), "action": list(task.action),
            "updates": [int(u) for u in res["updates"]],
            "horizon": task.horizon, "settings": settings,
            "diverged": [dict(d) for d in run.diverged_agents()],
            # this call's wall time (agents analysed before and saved as parts are reused)
            "analysis_call_s": float(res["seconds"])}


def format_curve(c: dict, i: int = -1, nd: int = 1) -> str:
    """Entry i of a summary curve as "value [low, high]" ("n/a" if missing)."""
    key = "gmean" if "gmean" in c else "mean"
    v, lo, hi = c[key][i], c["low"][i], c["high"][i]
    if v is None:
        return "n/a"
    ci = f" [{lo:.{nd}f}, {hi:.{nd}f}]" if lo is not None and hi is not None else ""
    return f"{v:.{nd}f}{ci}"


def write_task_report(summary: dict, path) -> None:
    """report.md for a person, from the summary alone."""
    from rnnctl.runs import atomic_write
    fmt = format_curve

    s = summary
    params = ", ".join(f"{k}={v}" for k, v in s["task_params"].items())
    lines = [f"# {s['task']}{f' ({params})' if params else ''}, {s['cell'].upper()} cell",
             "", f"{len(s['agents'])} agents, {s['config']['n_updates']} updates × "
             f"{s['config']['n_envs'] * s['config']['rollout_len']} steps; actions "
             f"{s['action'][0]} ({s['action'][1]}); evaluation episodes of up to "
             f"{s['horizon']} steps. Analysed checkpoints: updates "
             f"{', '.join(map(str, s['updates']))}.", "",
             "Returns and fixed-point counts: means with 95 % percentile-bootstrap intervals "
             "across seeds (within the range of the data); τ (in steps): geometric means "
             "with 95 % BCa bootstrap intervals. Fixed points at the zero input and at "
             "the agent's mean input; τ from the eigenvalues of the cell Jacobian along "
             "deterministic episodes.", ""]
    u0, u1 = s["updates"][0], s["updates"][-1]
    lines += ["| variant | n | final return | fixed points (zero / mean input) at "
              f"{u0} → {u1} | stable | top-5 τ at {u0} → {u1} | τ last/first (paired) |",
              "|---|---|---|---|---|---|---|"]
    for e in s["settings"]:
        t = e["tau_first_vs_last"]
        eff = "n/a" if t["effect"] is None else (
            f"{t['effect']:.2f}× [{t['ci'][0]:.2f}, {t['ci'][1]:.2f}], p = "
            f"{t['p_value']:.2g}" if t["p_value"] is not None else f"{t['effect']:.2f}×")
        lines.append(
            f"| {e['obs']} | {e['n_agents']} | {fmt(e['final_eval_return'])} | "
            f"{fmt(e['n_fp_zero'], 0)} / {fmt(e['n_fp_mean'], 0)} → "
            f"{fmt(e['n_fp_zero'])} / {fmt(e['n_fp_mean'])} | "
            f"{fmt(e['n_stable_zero'])} / {fmt(e['n_stable_mean'])} | "
            f"{fmt(e['tau_avg'], 0, 2)} → {fmt(e['tau_avg'], -1, 2)} | {eff} |")
    if s["diverged"]:
        lines += ["", f"Diverged agents (left out from their first NaN update): "
                      f"{', '.join(str(d['agent']) for d in s['diverged'])}."]
    lines += ["", "![overview](figures/overview.png)", ""]
    atomic_write(path, lambda f: f.write("\n".join(lines).encode()))


def analyse_task_run(run_dir, *, progress: bool = True, options=None) -> dict:
    """Analyse a saved run of any task: task_analysis.npz, figures/overview.png,
    summary.json and report.md in it. Returns the summary."""
    from rnnctl.runs import load_run, lock_run, read_run_meta, write_json, write_npz
    run_dir = Path(run_dir)
    read_run_meta(run_dir)
    with lock_run(run_dir):
        from rnnctl.provenance import provenance
        prov = provenance()
        run = load_run(run_dir)
        res = compute_task_analysis(run, options, progress=progress,
                                    parts_dir=run_dir / PARTS_DIR)
        write_npz(run_dir / TASK_ANALYSIS_FILE, res)
        summary = summarise(run, res)
        summary["provenance"] = prov
        (run_dir / "figures").mkdir(exist_ok=True)
        from rnnctl.plotting.task import task_overview
        task_overview(summary, res, path=run_dir / "figures" / "overview.png")
        write_json(run_dir / "summary.json", summary)
        write_task_report(summary, run_dir / "report.md")
    return summary
