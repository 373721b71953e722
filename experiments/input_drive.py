"""Does training align the slow modes with the input? Input drive at the goal fixed point.

    python -m experiments.input_drive RUN_DIR [--checkpoints 6] [--out FILE.json]

For every agent of a saved run at --checkpoints evenly spaced updates: fixed points of the
cell at the goal input (`analysis.goal_input`, from visited states of 5 deterministic
episodes), the valid stable one with the most visited states nearest to it, and its
linear system (`analysis.linearize_agents`): for the slowest mode (largest |λ|) and the
top 5, the input drive ‖l_iᵀ J_inp‖ over the inputs the agent observes (PO's θ̇ column,
always 0, is left out), and the same normalised, ‖l_iᵀ J_inp‖ / (‖l_i‖ ‖J_inp‖₂) in [0, 1]:
1 when the mode's left eigenvector lies along the input's strongest direction, whatever
the input gain. Prints means with Student-t intervals over seeds per setting.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import rnnctl  # noqa: F401  (applies the safe XLA flags before jax starts)

import jax
import jax.numpy as jnp
import numpy as np

from rnnctl import analysis, envs, runs

from experiments.dynamics import checkpoint_indices
from rnnctl.analysis import stats


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.input_drive",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a saved run directory")
    p.add_argument("--checkpoints", type=int, default=6, help="evenly spaced (default 6)")
    p.add_argument("--starts", type=int, default=64, help="fixed-point starts (default 64)")
    p.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    return p


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    try:
        run = runs.load_run(args.run)
    except (runs.RunError, OSError) as e:
        sys.exit(f"error: {e}")
    cfg = run.config
    updates = checkpoint_indices(run.n_checkpoints, args.checkpoints)
    stacked = run.stacked_params()
    key = jax.random.key(0)

    @jax.jit
    def goal_point(params, mask, x_goal):
        """The stable goal fixed point most visited, or NaN: [S]."""
        roll = analysis.rollout(params, obs=mask, key=key, config=cfg)
        h = roll.h.reshape(-1, roll.h.shape[-1])
        h0 = analysis.sample_initial_states(h, args.starts, key)
        fps = analysis.find_fixed_points(analysis.rnn_cell(params), x_goal, h0)
        d = jnp.linalg.norm(h[:, None] - fps.xstar[None], axis=-1)          # [N, K]
        d = jnp.where(fps.is_stable[None], d, jnp.inf)
        votes = jnp.sum(jax.nn.one_hot(jnp.argmin(d, 1), d.shape[1])
                        * jnp.isfinite(d.min(1))[:, None], 0)
        best = jnp.argmax(jnp.where(fps.is_stable, votes, -1.0))
        return jnp.where(fps.is_stable.any(), fps.xstar[best], jnp.nan)

    points, inputs = [], []
    for a, agent in enumerate(run.agents):
        mask = envs.obs_mask(agent["obs"], cfg.encoding)
        x_goal = analysis.goal_input(agent["obs"], cfg.encoding)
        for u in updates:
            params = jax.tree.map(lambda v: jnp.asarray(v[a, u]), stacked)
            points.append(np.asarray(goal_point(params, mask, jnp.asarray(x_goal))))
            inputs.append(np.asarray(x_goal))
    n_a, n_c = len(run.agents), len(updates)
    h_e = jnp.asarray(np.stack(points).reshape(n_a, n_c, 1, -1))
    x_e = jnp.asarray(np.stack(inputs).reshape(n_a, n_c, 1, -1))
    params = jax.tree.map(lambda v: jnp.asarray(v[:, updates]), stacked)
    lin = analysis.linearize_agents(params, h_e, x_e)
    # Only the inputs an agent observes can drive it: the masked columns of J_inp (θ̇ for
    # PO, which is always 0) are left out of the drive and of the input gain.
    masks = np.stack([np.asarray(envs.obs_mask(a["obs"], cfg.encoding)) for a in run.agents])
    j_inp = np.asarray(lin.J_inp)[:, :, 0] * masks[:, None, None, :]        # [A, C, S, I]
    left = np.asarray(lin.left)[:, :, 0]                                    # [A, C, S, S]
    drive = np.linalg.norm(np.einsum("acsm,acsi->acmi", left, j_inp), axis=-1)
    left_norm = np.linalg.norm(left, axis=-2)                               # [A, C, S]
    ok = np.isfinite(j_inp).all((-2, -1))                                  # a point found
    gain = np.where(ok, np.linalg.norm(np.nan_to_num(j_inp), ord=2, axis=(-2, -1)), np.nan)
    aligned = drive / (left_norm * gain[..., None])
    tau = np.asarray(lin.tau)[:, :, 0]
    out = {"run": str(args.run), "updates": updates.tolist(), "settings": {}}
    obs = np.array([a["obs"] for a in run.agents])
    for o in np.unique(obs):
        rows = {}
        for name, x in (("tau_slowest", tau[..., 0]), ("drive_slowest", drive[..., 0]),
                        ("aligned_slowest", aligned[..., 0]),
                        ("aligned_top5", aligned[..., :5].mean(-1)),
                        ("found", np.isfinite(drive[..., 0]).astype(float))):
            m = stats.mean_ci(x[obs == o] if name == "found"
                              else np.where(np.isfinite(x), x, np.nan)[obs == o], 0.95)
            rows[name] = {"mean": np.asarray(m.mean).tolist(), "low": np.asarray(m.low).tolist(),
                          "high": np.asarray(m.high).tolist()}
        out["settings"][o] = rows
    for o, rows in out["settings"].items():
        print(f"{o.upper()}  updates {updates.tolist()}")
        for name, r in rows.items():
            vals = ", ".join(f"{m:.3g} [{lo:.3g}, {hi:.3g}]"
                             for m, lo, hi in zip(r["mean"], r["low"], r["high"]))
            print(f"  {name:16s} {vals}")
    if args.out is not None:
        runs.write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
