"""Do agents converge to the same dynamics as they learn? A map of every agent × checkpoint.

    rnnctl dynamics RUN_DIR                                # writes RUN_DIR/dynamics/
    rnnctl dynamics RUN_DIR --out figures/dynamics/ref --checkpoints 6
    rnnctl dynamics runs/cells/rnn runs/cells/gru runs/cells/lstm --out figures/dynamics/cells
(in a checkout, `python -m experiments.dynamics` is the same command)

Every agent of one or more saved runs (e.g. the reference run's seeds × FO/PO, or the cells
study's one run per cell), at --checkpoints evenly spaced updates (first and last
included), runs the same deterministic episodes (one key: the same start states for every
system, so states are time-aligned across systems); the cell states of each agent and
checkpoint, as the rollout records them (`Rollout.h`: h for the RNN and the GRU, [c, h]
for the LSTM), are one system. Systems of different state sizes are zero-padded to the
largest: neither distance changes (zero columns change neither the Hankel matrix's left
singular vectors nor the centred states' cross-products), and the DMD rank is checked
against the smallest real size. All systems are compared by DSA
(`analysis.similarity.dsa`: dynamics up to an orthogonal change of coordinates) and by the
angular Procrustes distance of the states themselves (`procrustes_distance`: geometry),
each distance matrix embedded in 2-D by classical MDS and drawn side by side
(`plotting.fig_similarity_maps`): one line per agent, points coloured by training
progress, lines coloured and styled by setting.

An agent's setting is what differs between the agents apart from the seed: its cell (when
the runs hold several cells) and its observation variant (when there are several). Numbers
(summary.json), per distance, with Student-t intervals over seeds (`analysis.stats`):
  * between seeds: for each agent, its mean distance to the other seeds of its own
    setting, at the first and at the last analysed checkpoint, per setting;
  * between settings at the last checkpoint, for each pair of settings (e.g. FO vs PO,
    RNN vs GRU): for each seed present in both, the distance between its two agents,
    against the mean of their two within-setting distances (paired over seeds).

Writes dynamics.npz (distance matrices [N, N], embeddings [A, C, 2], updates, agent
labels and settings), summary.json, report.md (its numbers as tables) and dynamics.png to
--out. Reads only the runs' config
and checkpoints; nothing in a run directory changes unless --out points into it.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

#: How messages name this command (`rnnctl.cli.run` sets it to the command typed).
PROG = "rnnctl dynamics"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR",
                   help="one or more saved run directories (e.g. one per cell)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the first RUN_DIR/dynamics)")
    p.add_argument("--checkpoints", type=int, default=11,
                   help="evenly spaced checkpoints per agent, first and last included "
                        "(default 11)")
    p.add_argument("--episodes", type=int, default=2, help="episodes per system (default 2)")
    p.add_argument("--steps", type=int, default=200, help="steps per episode (default 200)")
    p.add_argument("--n-delays", type=int, default=5, help="DSA delays (default 5)")
    p.add_argument("--rank", type=int, default=16, help="DSA DMD rank (default 16)")
    p.add_argument("--n-starts", type=int, default=16, help="DSA starts per pair (default 16)")
    p.add_argument("--n-steps", type=int, default=300,
                   help="DSA Adam steps of the 2 best starts (default 300; every start takes "
                        "a third of that first)")
    p.add_argument("--seed", type=int, default=0, help="key of the episodes (default 0)")
    p.add_argument("--title", default=None, help="figure title (default: names the runs)")
    p.add_argument("--caption", default=None, help="a paragraph for report.md (optional)")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    for name in ("checkpoints", "episodes", "steps", "n_delays", "rank", "n_starts"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, "
                    f"got {getattr(args, name)}")
    if args.n_steps < 0:
        p.error(f"--n-steps must be ≥ 0, got {args.n_steps}")
    return args


def checkpoint_indices(n_checkpoints: int, n: int) -> np.ndarray:
    """n evenly spaced indices of 0..n_checkpoints−1, first and last included, unique."""
    return np.unique(np.round(np.linspace(0, n_checkpoints - 1, n)).astype(int))


def trajectories(run, updates: np.ndarray, episodes: int, steps: int, key) -> np.ndarray:
    """[A, C, E, T, S] cell states (`Rollout.h`) of every agent at the chosen updates."""
    import jax
    import jax.numpy as jnp

    from rnnctl import analysis, envs
    cfg = run.config
    stacked = run.stacked_params()

    @jax.jit
    def agent_states(params, mask):
        return jax.vmap(lambda p: analysis.rollout(p, obs=mask, key=key, n_episodes=episodes,
                                                   steps=steps, config=cfg).h)(params)

    out = []
    for a, agent in enumerate(run.agents):
        params = jax.tree.map(lambda v: jnp.asarray(v[a, updates]), stacked)
        mask = envs.obs_mask(agent["obs"], cfg.encoding)
        out.append(np.asarray(agent_states(params, mask)))
    return np.stack(out)


def settings_of(runs_: list) -> tuple[list[dict], list[str]]:
    """Every agent of `runs_` (in order) with its cell, and its setting's name."""
    agents = [dict(a, cell=r.config.cell) for r in runs_ for a in r.agents]
    several = {k: len({a[k] for a in agents}) > 1 for k in ("cell", "obs")}
    if not any(several.values()):
        several["obs"] = True               # one setting: name it by its variant
    names = [" ".join(a[k].upper() for k in ("cell", "obs") if several[k]) for a in agents]
    return agents, names


def _pad(h: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad the last axis of h to `size`."""
    return np.pad(h, [(0, 0)] * (h.ndim - 1) + [(0, size - h.shape[-1])])


def _embed(d: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """MDS of the finite systems of d [N, N]; NaN rows for the others → [A, C, 2]."""
    import jax.numpy as jnp

    from rnnctl.analysis import similarity
    ok = np.isfinite(d).sum(1) > 1
    emb = np.full((d.shape[0], 2), np.nan)
    if ok.sum() >= 2:
        emb[ok] = np.asarray(similarity.mds(jnp.asarray(d[np.ix_(ok, ok)]), 2))
    return emb.reshape(shape + (2,))


def _ci(x) -> dict:
    from rnnctl.analysis import stats
    m = stats.mean_ci(np.asarray(x, np.float64), 0.95)
    return {"mean": float(m.mean), "ci95": [float(m.low), float(m.high)], "n": int(m.n)}


def summarise(d: np.ndarray, settings: list[str], seeds: list[int], n_ckpt: int) -> dict:
    """Between-seed and between-setting distances (module docstring) from d [N, N],
    N = A · C (agent-major), for A agents of `settings` and `seeds`."""
    n_agents = len(settings)
    dd = d.reshape(n_agents, n_ckpt, n_agents, n_ckpt)
    group = np.array(settings)
    seeds = np.array(seeds)
    order = list(dict.fromkeys(settings))
    out: dict = {}
    within_last = np.full(n_agents, np.nan)
    for name, c in (("first", 0), ("last", n_ckpt - 1)):
        at = dd[:, c, :, c]
        per_agent = np.full(n_agents, np.nan)
        for a in range(n_agents):
            peers = (group == group[a]) & (seeds != seeds[a])
            if peers.any():
                per_agent[a] = np.nanmean(at[a, peers])
        out[f"between_seeds_{name}"] = {g: _ci(per_agent[group == g]) for g in order}
        if name == "last":
            within_last = per_agent
    last = dd[:, -1, :, -1]
    pairs = {}
    for g1, g2 in itertools.combinations(order, 2):
        cross, within = [], []
        for s in np.unique(seeds):
            i = np.flatnonzero((seeds == s) & (group == g1))
            j = np.flatnonzero((seeds == s) & (group == g2))
            if i.size != 1 or j.size != 1:
                continue
            i, j = int(i[0]), int(j[0])
            cross.append(last[i, j])
            within.append(np.nanmean([within_last[i], within_last[j]]))
        if cross:
            cross, within = np.array(cross), np.array(within)
            pairs[f"{g1} vs {g2}"] = {"between": _ci(cross), "within": _ci(within),
                                      "between_minus_within": _ci(cross - within)}
    out["between_settings_last"] = pairs
    return out


def _fmt(c: dict, nd: int = 3) -> str:
    """mean [low, high] of a `_ci` entry."""
    lo, hi = c["ci95"]
    return f"{c['mean']:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"


def report(summary: dict, caption: str = "") -> str:
    """report.md of a map: its settings and the summary's numbers as tables."""
    u = summary["updates"]
    d = summary["dsa"]
    lines = [f"# Dynamics map: {', '.join(summary['runs'])}", "",
             f"{summary['systems']} systems: {len(summary['agents'])} agents × {len(u)} "
             f"checkpoints (updates {', '.join(map(str, u))}), each rolled out on the same "
             f"{summary['episodes']} episodes of {summary['steps']} steps; cell states as "
             "recorded (LSTM: [c, h]). DSA: "
             f"{d['n_delays']} delays, rank {d['rank']}, {d['n_starts']} starts, "
             f"{d['metric']} (min over orthogonal C of ‖A − C B Cᵀ‖_F); geometry: angular "
             "Procrustes distance of the states (radians). Means with Student-t 95 % "
             "intervals over seeds (docs/methods.md §8)."]
    if caption:
        lines += ["", caption]
    lines += ["", f"**Between seeds** (each agent's mean distance to the other seeds of "
              f"its setting), update {u[0]} → {u[-1]}:", "",
              "| setting | DSA, update " + f"{u[0]} | DSA, update {u[-1]} | "
              f"Procrustes, update {u[0]} | Procrustes, update {u[-1]} | seeds |",
              "|---|---|---|---|---|---|"]
    for g in summary["settings"]:
        a, b = summary["DSA"], summary["Procrustes"]
        lines.append(f"| {g} | {_fmt(a['between_seeds_first'][g])} | "
                     f"{_fmt(a['between_seeds_last'][g])} | "
                     f"{_fmt(b['between_seeds_first'][g])} | "
                     f"{_fmt(b['between_seeds_last'][g])} | "
                     f"{a['between_seeds_last'][g]['n']} |")
    pairs = summary["DSA"]["between_settings_last"]
    if pairs:
        lines += ["", f"**Between settings at update {u[-1]}** (per seed, the distance "
                  "between its two agents against the mean of their between-seed "
                  "distances; paired over seeds):", "",
                  "| settings | distance | between | within | between − within | seeds |",
                  "|---|---|---|---|---|---|"]
        for pair in pairs:
            for name in ("DSA", "Procrustes"):
                p = summary[name]["between_settings_last"][pair]
                lines.append(f"| {pair} | {name} | {_fmt(p['between'])} | "
                             f"{_fmt(p['within'])} | {_fmt(p['between_minus_within'])} | "
                             f"{p['between']['n']} |")
    sec = summary["seconds"]
    lines += ["", f"Rollouts {sec['rollouts']:.0f} s, DSA {sec['dsa']:.0f} s, Procrustes "
              f"{sec['procrustes']:.0f} s.", "", "![dynamics map](dynamics.png)", ""]
    return "\n".join(lines)


def compute(args) -> dict:
    """Rollouts, distances, embeddings, summary and figure for parsed `args`; the summary.

    Raises:
      RunError, OSError: a run directory cannot be read.
      ValueError: settings the data cannot serve (one line naming the argument).
    """
    import jax
    import jax.numpy as jnp

    from rnnctl import runs
    from rnnctl.analysis import similarity
    from rnnctl.provenance import provenance
    prov = provenance()
    loaded = [runs.load_run(p) for p in args.runs]
    n_ckpts = {r.n_checkpoints for r in loaded}
    if len(n_ckpts) != 1:
        raise ValueError(f"the runs have different checkpoint counts {sorted(n_ckpts)}: "
                         "compare runs of the same number of updates")
    out_dir = args.out or (args.runs[0] / "dynamics")
    updates = checkpoint_indices(n_ckpts.pop(), args.checkpoints)
    t0 = time.perf_counter()
    key = jax.random.key(args.seed)
    per_run = [trajectories(r, updates, args.episodes, args.steps, key) for r in loaded]
    t_roll = time.perf_counter() - t0
    sizes = [h.shape[-1] for h in per_run]
    h = np.concatenate([_pad(x, max(sizes)) for x in per_run])           # [A, C, E, T, S]
    agents, settings = settings_of(loaded)
    print(f"rollouts: {h.shape[0]} agents × {h.shape[1]} checkpoints in {t_roll:.1f} s",
          file=sys.stderr, flush=True)
    if args.rank > args.n_delays * min(sizes):
        raise ValueError(f"--rank {args.rank} is above the embedding size n_delays·S = "
                         f"{args.n_delays}·{min(sizes)} of the smallest cell state")
    n_agents, n_ckpt = h.shape[:2]
    systems = h.reshape((n_agents * n_ckpt,) + h.shape[2:])             # [N, E, T, S]
    t0 = time.perf_counter()
    d_dsa = np.asarray(similarity.dsa(systems, args.n_delays, args.rank,
                                      n_starts=args.n_starts, n_steps=args.n_steps))
    t_dsa = time.perf_counter() - t0
    print(f"DSA: {len(systems)} systems in {t_dsa:.1f} s", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    d_geo = np.asarray(similarity.procrustes_distance(jnp.asarray(systems)))
    t_geo = time.perf_counter() - t0
    emb = {"DSA (dynamics)": _embed(d_dsa, (n_agents, n_ckpt)),
           "Procrustes (state geometry)": _embed(d_geo, (n_agents, n_ckpt))}
    labels = [f"{s} seed {a['seed']}" for s, a in zip(settings, agents)]
    seeds = [a["seed"] for a in agents]
    summary = {
        "runs": [str(p) for p in args.runs], "updates": updates.tolist(), "agents": labels,
        "settings": list(dict.fromkeys(settings)),
        "state_sizes": {str(p): s for p, s in zip(args.runs, sizes)},
        "systems": int(n_agents * n_ckpt), "episodes": args.episodes, "steps": args.steps,
        "dsa": {"n_delays": args.n_delays, "rank": args.rank, "n_starts": args.n_starts,
                "n_steps": args.n_steps, "metric": "euclidean"},
        "seconds": {"rollouts": t_roll, "dsa": t_dsa, "procrustes": t_geo},
        "non_finite_systems": int((~np.isfinite(d_dsa).any(1)).sum()),
        "DSA": summarise(d_dsa, settings, seeds, n_ckpt),
        "Procrustes": summarise(d_geo, settings, seeds, n_ckpt),
        "provenance": prov,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.write_npz(out_dir / "dynamics.npz", {
        "dsa": d_dsa, "procrustes": d_geo, "updates": updates,
        "embedding_dsa": emb["DSA (dynamics)"],
        "embedding_procrustes": emb["Procrustes (state geometry)"],
        "agents": np.array(labels), "settings": np.array(settings)})
    runs.write_json(out_dir / "summary.json", summary)
    text = report(summary, args.caption or "")
    runs.atomic_write(out_dir / "report.md", lambda f: f.write(text.encode()))
    from rnnctl import plotting  # matplotlib only when drawing
    names = ", ".join(p.name for p in args.runs)
    title = args.title or f"{names}: {n_agents} agents × {n_ckpt} checkpoints"
    plotting.fig_similarity_maps(emb, updates, settings, title=title,
                                 path=out_dir / "dynamics.png")
    return summary


def main(argv=None) -> int:
    """The command: 0 on success, 1 when a run cannot be read or the settings do not fit."""
    args = parse_args(argv)
    from rnnctl.runs import RunError
    try:
        summary = compute(args)
    except (RunError, OSError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps({k: summary[k] for k in ("systems", "seconds", "DSA", "Procrustes")},
                     indent=1))
    return 0
