"""Do agents converge to the same dynamics as they learn? A map of every agent × checkpoint.

    python -m experiments.dynamics RUN_DIR                       # writes RUN_DIR/dynamics/
    python -m experiments.dynamics RUN_DIR --out figures/dynamics --checkpoints 6

Every agent of a saved run at --checkpoints evenly spaced updates (first and last
included) runs the same deterministic episodes (one key: the same start states for every
system, so states are time-aligned across systems); the cell states of each agent and
checkpoint are one system. All systems are compared by DSA (`analysis.similarity.dsa`:
dynamics up to an orthogonal change of coordinates) and by the angular Procrustes
distance of the states themselves (`procrustes_distance`: geometry), each distance matrix
embedded in 2-D by classical MDS, and drawn side by side (`plotting.fig_similarity_maps`):
one line per agent, coloured by training progress.

Numbers (summary.json), per distance, with Student-t intervals over seeds:
  * between seeds: for each agent, its mean distance to the other seeds of its own
    setting (FO to FO, PO to PO), at the first and at the last analysed checkpoint;
  * FO vs PO at the last checkpoint: for each seed, the distance between its FO and PO
    agents, against the mean of its two within-setting distances (paired over seeds).

Writes dynamics.npz (distance matrices [N, N], embeddings [A, C, 2], updates, agent
labels), summary.json and dynamics.png to --out. Reads only the run's config and
checkpoints; nothing in the run directory changes unless --out points into it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rnnctl  # noqa: F401  (applies the safe XLA flags before jax starts)

import jax
import jax.numpy as jnp
import numpy as np

from rnnctl import analysis, envs, runs
from rnnctl.analysis import similarity, stats


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.dynamics",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a saved run directory")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default RUN_DIR/dynamics)")
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
    return p


def checkpoint_indices(n_checkpoints: int, n: int) -> np.ndarray:
    """n evenly spaced indices of 0..n_checkpoints−1, first and last included, unique."""
    return np.unique(np.round(np.linspace(0, n_checkpoints - 1, n)).astype(int))


def trajectories(run, updates: np.ndarray, episodes: int, steps: int, key) -> np.ndarray:
    """[A, C, E, T, S] cell states of every agent at the chosen updates."""
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


def _embed(d: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """MDS of the finite systems of d [N, N]; NaN rows for the others → [A, C, 2]."""
    ok = np.isfinite(d).sum(1) > 1
    emb = np.full((d.shape[0], 2), np.nan)
    if ok.sum() >= 2:
        emb[ok] = np.asarray(similarity.mds(jnp.asarray(d[np.ix_(ok, ok)]), 2))
    return emb.reshape(shape + (2,))


def _ci(x) -> dict:
    m = stats.mean_ci(np.asarray(x, np.float64), 0.95)
    return {"mean": float(m.mean), "ci95": [float(m.low), float(m.high)], "n": int(m.n)}


def summarise(d: np.ndarray, agents: list[dict], n_ckpt: int) -> dict:
    """Between-seed and FO–PO distances (module docstring) from d [N, N], N = A · C."""
    n_agents = len(agents)
    dd = d.reshape(n_agents, n_ckpt, n_agents, n_ckpt)
    obs = np.array([a["obs"] for a in agents])
    seeds = np.array([a["seed"] for a in agents])
    out: dict = {}
    for name, c in (("first", 0), ("last", n_ckpt - 1)):
        at = dd[:, c, :, c]
        per_agent = []
        for a in range(n_agents):
            peers = (obs == obs[a]) & (seeds != seeds[a])
            per_agent.append(np.nanmean(at[a, peers]) if peers.any() else np.nan)
        per_agent = np.array(per_agent)
        out[f"between_seeds_{name}"] = {o: _ci(per_agent[obs == o]) for o in np.unique(obs)}
    last = dd[:, -1, :, -1]
    cross, within = [], []
    for s in np.unique(seeds):
        fo = np.flatnonzero((seeds == s) & (obs == "fo"))
        po = np.flatnonzero((seeds == s) & (obs == "po"))
        if fo.size != 1 or po.size != 1:
            continue
        fo, po = int(fo[0]), int(po[0])
        cross.append(last[fo, po])
        w_fo = np.nanmean(last[fo, (obs == "fo") & (seeds != s)])
        w_po = np.nanmean(last[po, (obs == "po") & (seeds != s)])
        within.append(np.nanmean([w_fo, w_po]))
    if cross:
        cross, within = np.array(cross), np.array(within)
        out["fo_po_last"] = _ci(cross)
        out["within_setting_last"] = _ci(within)
        out["fo_po_minus_within_last"] = _ci(cross - within)
    return out


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    try:
        run = runs.load_run(args.run)
    except (runs.RunError, OSError) as e:
        sys.exit(f"error: {e}")
    out_dir = args.out or (args.run / "dynamics")
    updates = checkpoint_indices(run.n_checkpoints, args.checkpoints)
    t0 = time.perf_counter()
    h = trajectories(run, updates, args.episodes, args.steps, jax.random.key(args.seed))
    t_roll = time.perf_counter() - t0
    print(f"rollouts: {h.shape[0]} agents × {h.shape[1]} checkpoints in {t_roll:.1f} s",
          file=sys.stderr, flush=True)
    n_agents, n_ckpt = h.shape[:2]
    systems = h.reshape((n_agents * n_ckpt,) + h.shape[2:])             # [N, E, T, S]
    t0 = time.perf_counter()
    try:
        d_dsa = np.asarray(similarity.dsa(systems, args.n_delays, args.rank,
                                          n_starts=args.n_starts, n_steps=args.n_steps))
    except ValueError as e:
        sys.exit(f"error: {e}")
    t_dsa = time.perf_counter() - t0
    print(f"DSA: {len(systems)} systems in {t_dsa:.1f} s", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    d_geo = np.asarray(similarity.procrustes_distance(systems))
    t_geo = time.perf_counter() - t0
    emb = {"DSA (dynamics)": _embed(d_dsa, (n_agents, n_ckpt)),
           "Procrustes (state geometry)": _embed(d_geo, (n_agents, n_ckpt))}
    labels = [f"{a['obs'].upper()} seed {a['seed']}" for a in run.agents]
    summary = {
        "run": str(args.run), "updates": updates.tolist(), "agents": labels,
        "systems": int(n_agents * n_ckpt), "episodes": args.episodes, "steps": args.steps,
        "dsa": {"n_delays": args.n_delays, "rank": args.rank, "n_starts": args.n_starts,
                "n_steps": args.n_steps, "metric": "euclidean"},
        "seconds": {"rollouts": t_roll, "dsa": t_dsa, "procrustes": t_geo},
        "non_finite_systems": int((~np.isfinite(d_dsa).any(1)).sum()),
        "DSA": summarise(d_dsa, run.agents, n_ckpt),
        "Procrustes": summarise(d_geo, run.agents, n_ckpt),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.write_npz(out_dir / "dynamics.npz", {
        "dsa": d_dsa, "procrustes": d_geo, "updates": updates,
        "embedding_dsa": emb["DSA (dynamics)"],
        "embedding_procrustes": emb["Procrustes (state geometry)"],
        "agents": np.array(labels)})
    runs.write_json(out_dir / "summary.json", summary)
    from rnnctl import plotting  # matplotlib only when drawing
    plotting.fig_similarity_maps(emb, updates,
                                 [a["obs"].upper() for a in run.agents],
                                 title=f"{args.run.name}: {n_agents} agents × {n_ckpt} "
                                       f"checkpoints", path=out_dir / "dynamics.png")
    print(json.dumps({k: summary[k] for k in ("systems", "seconds", "DSA", "Procrustes")},
                     indent=1))
    return summary


if __name__ == "__main__":
    main()
