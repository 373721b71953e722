"""The paper's figures of an analysed run (Fig 1b–1e and learning curves, and beyond the
paper: the fixed-point manifold, the input drive of the slowest modes, flow fields), from
`AnalysisResults` alone: computing is done, this only selects and draws."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnctl.paper.measures import reward_to_go_pairs, tau_curve, tau_windows
from rnnctl.paper.compute import excluded_agents
from rnnctl.paper.options import DEFAULT_CLAIM_OPTIONS, AnalysisOptions, ClaimOptions
from rnnctl.paper.results import AnalysisResults
from rnnctl.paper.stage import stage

__all__ = ["draw_figures", "representative_agents", "skipped_figures", "FIGURES_DIR",
           "FIGURE_FILES"]

FIGURES_DIR = "figures"
FIGURE_FILES = {"learning_curves": "learning_curves.png", "fig1b": "fig1b_policy.png",
                "fig1c": "fig1c_geometry.png", "fig1d": "fig1d_fixed_points.png",
                "fig1e": "fig1e_timescales.png", "manifold": "fig1c_manifold.png",
                "input_drive": "fig_input_drive.png", "flow": "fig_flow_field.png"}


def representative_agents(results, run, fig_seed: int | None, agents=None
                          ) -> tuple[int, int | None, int | None]:
    """(seed, PO agent, FO agent) shown in Fig 1b–1d (non-diverged where possible), among
    `agents` (None: all)."""
    excluded = set(excluded_agents(run))
    if agents is not None:
        excluded |= set(range(results.n_agents)) - set(agents)
    seeds = results.agent_seed.tolist()
    obs = results.agent_obs.tolist()

    def find(seed, o):
        for i, (s, x) in enumerate(zip(seeds, obs)):
            if s == seed and x == o and i not in excluded:
                return i
        return None

    order = [fig_seed] if fig_seed is not None else list(dict.fromkeys(seeds))
    for s in order:
        if find(s, "po") is not None and find(s, "fo") is not None:
            return s, find(s, "po"), find(s, "fo")
    for s in order:
        if find(s, "po") is not None or find(s, "fo") is not None:
            return s, find(s, "po"), find(s, "fo")
    return seeds[0], None, None


def skipped_figures(results: AnalysisResults, run, agents=None) -> dict[str, str]:
    """The figures of `FIGURE_FILES` that cannot be drawn from these agents, with why.

    Fig 1b–1e show the paper's FO and PO agents: a run (or setting) whose non-diverged
    agents include neither (e.g. `--obs pv` alone, or every agent diverged) skips them.

    Returns:
      {figure key: one-line reason}; empty when every figure can be drawn.
    """
    excluded = set(excluded_agents(run))
    if agents is not None:
        excluded |= set(range(results.n_agents)) - set(agents)
    shown = [i for i in range(results.n_agents) if i not in excluded]
    if any(str(results.agent_obs[i]) in ("fo", "po") for i in shown):
        return {}
    have = sorted({str(results.agent_obs[i]) for i in (agents if agents is not None
                                                         else range(results.n_agents))})
    why = (f"needs a non-diverged FO or PO agent; these agents are "
           f"{', '.join(have) or 'none'}"
           + (" (all diverged)" if not shown else ""))
    keys = ["fig1b", "fig1c", "fig1d", "fig1e", "input_drive"]
    if results.manifold_theta_in.size:
        keys.append("manifold")
    if np.size(results.stage_flow_speed):
        keys.append("flow")
    return {k: why for k in keys}


def draw_figures(results: AnalysisResults, run, outdir, *,
                 options: AnalysisOptions | None = None, progress: bool = False,
                 timings: dict | None = None,
                 claim_options: ClaimOptions | None = None,
                 agents=None) -> dict[str, Path]:
    """Learning curves and Fig 1b–1e as PNGs in `outdir` (from `results` only).

    Figures that these agents cannot show (`skipped_figures`) are not drawn.

    Returns:
      {figure key: path} for the figures of `FIGURE_FILES` drawn.
    """
    from rnnctl import envs, plotting
    from rnnctl.progress import Log

    opts = options or AnalysisOptions.from_dict(json.loads(str(results.options_json)))
    claim_opts = claim_options or DEFAULT_CLAIM_OPTIONS
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    timings = {} if timings is None else timings
    log = progress if callable(progress) else Log(progress)
    stages = results.stages.astype(int).tolist()
    pos = {int(u): i for i, u in enumerate(results.updates.tolist())}
    st = [pos[u] for u in stages]                       # stage positions among checkpoints
    seed, a_po, a_fo = representative_agents(results, run, opts.fig_seed, agents)
    excluded = set(excluded_agents(run))
    if agents is not None:
        excluded |= set(range(results.n_agents)) - set(agents)
    groups = {o: results.agents_of(o, excluded) for o in ("fo", "po")}
    inputs = [str(n) for n in results.fp_inputs.tolist()]
    paths = {k: outdir / v for k, v in FIGURE_FILES.items()}
    skip = skipped_figures(results, run, agents)

    def figure(key):
        return stage(f"draw_figures: {FIGURE_FILES[key][:-4]}", timings, log)

    with figure("learning_curves"):
        # FO and PO (the paper's); else whichever agents the run (setting) has
        shown = (sorted(groups["fo"] + groups["po"])
                 or [i for i in (agents if agents is not None else range(results.n_agents))
                     if i not in excluded]
                 or list(range(results.n_agents)))
        ret = np.asarray(run.metrics["eval_return"], np.float64)[shown]
        plotting.learning_curves(ret, [results.agent_obs[i].upper() for i in shown],
                                 path=paths["learning_curves"],
                                 ylabel="deterministic return (eval, 16 episodes)",
                                 title="Learning curves (all agents)")
    if skip:                            # no FO or PO agent: Fig 1b-1e have nothing to show
        return {"learning_curves": paths["learning_curves"]}

    with figure("fig1b"):
        maps, sharp, rows = {}, {}, []
        for o, a in (("PO", a_po), ("FO", a_fo)):
            if a is None:
                continue
            label = f"{o} seed {seed}"
            maps[label] = results.stage_map_torque[a]
            sharp[label] = results.sharpness[a][st]
            rows.append(label)
        if not rows:
            raise ValueError("no non-diverged agent to draw")
        plotting.fig1b_policy(maps, stages, theta_edges=results.map_theta_edges,
                              theta_dot_edges=results.map_theta_dot_edges,
                              sharpness=sharp, rows=rows, path=paths["fig1b"])

    a_geo = a_po if a_po is not None else a_fo
    with figure("fig1c"):
        proj = results.stage_proj[a_geo][..., :2]
        mean, comp = results.stage_pca_mean[a_geo], results.stage_pca_components[a_geo]
        stable = {n: [] for n in _distinct_inputs(results, a_geo, inputs)}
        unstable = {n: [] for n in stable}
        for j, c in enumerate(st):
            for n in stable:
                x = inputs.index(n)
                z = (results.fp_xstar[a_geo, c, x] - mean[j]) @ comp[j, :2].T
                ok, stab = results.fp_valid[a_geo, c, x], results.fp_stable[a_geo, c, x]
                stable[n].append(z[stab])
                unstable[n].append(z[ok & ~stab])
        plotting.fig1c_geometry(proj, results.stage_theta[a_geo], stages, stable=stable,
                                unstable=unstable, ring_score=results.ring[a_geo][st],
                                path=paths["fig1c"])

    if results.manifold_theta_in.size == 0:      # the manifold was not computed
        paths.pop("manifold")
    else:
        with figure("manifold"):
            label = f"{results.agent_obs[a_geo].upper()} seed {seed}"
            plotting.fig_manifold(results.manifold_theta_in, stages,
                                  results.manifold_theta[a_geo], results.manifold_stable[a_geo],
                                  results.manifold_valid[a_geo], label=label,
                                  path=paths["manifold"])

    with figure("fig1d"):
        # the final stage's PCs: one frame for the whole path
        mean = results.stage_pca_mean[a_geo][-1]
        comp = results.stage_pca_components[a_geo][-1]
        path_pc = (results.track_s_path[a_geo] - mean) @ comp[:2].T
        d, g, seeds, reg = reward_to_go_pairs(results, groups["po"], "return_R")
        nan = float("nan")
        plotting.fig1d_fixed_points(
            path_pc, results.return_R[a_geo], d, g, seed_ids=seeds,
            slope=reg.slope if reg else nan, intercept=reg.intercept if reg else nan,
            r=reg.r if reg else nan, p=reg.p_value if reg else nan, path=paths["fig1d"])

    with figure("fig1e"):
        # FO and PO: geometric mean over seeds with a bootstrap interval (τ is positive and
        # heavy-tailed), and the three windows claim 5 compares
        shown = [o for o in ("po", "fo") if groups[o]]
        curves = [tau_curve(results, groups[o], claim_opts.ci_level) for o in shown]
        win = tau_windows(results.updates, claim_opts.tau_middle, claim_opts.tau_end_updates)
        u = results.updates.astype(int)
        spans = {k: (u[v[0]], u[v[-1]]) for k, v in win.items() if v.size}
        pct = f"{100 * claim_opts.ci_level:g}%"
        plotting.fig1e_timescales(
            results.updates, np.stack([c[0] for c in curves]), np.stack([c[1] for c in curves]),
            np.stack([c[2] for c in curves]), dt=envs.get_task(run.config).dt,
            label=[o.upper() for o in shown],
            summary=f"geometric mean over seeds, {pct} bootstrap CI", top=opts.tau_top,
            windows=spans, path=paths["fig1e"])
    with figure("input_drive"):
        from rnnctl.paper.drive import drive_curve
        shown = [o for o in ("fo", "po") if groups[o]]
        k = int(np.shape(results.drive_fp)[-1])
        conf = claim_opts.ci_level
        pct = f"{100 * conf:g}%"

        def curves(names):
            return {f"{o.upper()}{' top-' + str(k) + ' mean' if n.endswith('_top') else ''}":
                    drive_curve(results, n, groups[o], conf) for o in shown for n in names}

        panels = [
            {"title": "at the tracked stable fixed point", "ylabel":
             r"alignment $\|l_i^\top J\| / (\|l_i\| \|J\|_2)$",
             "curves": curves(("fp_aligned_slowest", "fp_aligned_top"))},
            {"title": f"along the rollouts ({int(results.drive_steps)} steps)",
             "ylabel": "alignment", "curves": curves(("traj_aligned_slowest",
                                                      "traj_aligned_top"))},
            {"title": "raw drive, slowest mode", "ylabel":
             r"$\|l_1^\top J\|$ (geometric mean)", "log": True,
             "curves": {**{f"{o.upper()} at the point": drive_curve(
                 results, "fp_drive_slowest", groups[o], conf) for o in shown},
                 **{f"{o.upper()} along rollouts": drive_curve(
                     results, "traj_drive_slowest", groups[o], conf) for o in shown}}}]
        plotting.fig_input_drive(
            results.updates, panels, path=paths["input_drive"],
            title=f"Input drive of the {k} slowest stable modes (over seeds, {pct} CI)")

    if not np.size(results.stage_flow_speed):     # flow fields were not computed
        paths.pop("flow")
    else:
        with figure("flow"):
            goal = inputs.index("goal")
            trajs, fps, stab, slow = [], [], [], []
            for j, c in enumerate(st):
                mean = results.stage_pca_mean[a_geo, j]
                comp = results.stage_pca_components[a_geo, j, :2]
                trajs.append(results.stage_proj[a_geo, j][..., :2].reshape(
                    -1, envs.EPISODE_LEN, 2))
                z = (results.fp_xstar[a_geo, c, goal] - mean) @ comp.T
                ok = results.fp_valid[a_geo, c, goal]
                fps.append(z[ok])
                stab.append(results.fp_stable[a_geo, c, goal][ok])
                slow.append(z[results.fp_slow[a_geo, c, goal]])
            plotting.fig_flow_stages(
                stages, results.stage_flow_coords[a_geo], results.stage_flow_speed[a_geo],
                results.stage_flow[a_geo], trajectories=trajs, fixed_points=fps, stable=stab,
                slow_points=slow, q_max=opts.slow_q_max,
                label=f"{results.agent_obs[a_geo].upper()} seed {seed}", path=paths["flow"])
    return paths


def _distinct_inputs(results, agent: int, inputs: list[str]) -> list[str]:
    """The inputs whose fixed points differ (with the angle encoding the goal input is the
    zero input: it is drawn once, as "goal")."""
    out = []
    for n in inputs:
        x = inputs.index(n)
        if not any(np.array_equal(results.fp_xstar[agent, :, x], results.fp_xstar[agent, :, inputs.index(m)],
                                  equal_nan=True) for m in out):
            out.append(n)
    return out
