"""`bench_analysis --run RUN --compare`: the analysis of one run by the search from fresh
starts at every checkpoint with the timescales in turn ("old", `fp_continue` 0), and
the default, by continuation across checkpoints with the timescales overlapped ("new").

Prints, for both: seconds per stage and in all (one process, the same machine, old first);
the recall of the union of what the old finder finds under three keys and what the new one
finds (points matched within `TOL` at the same agent, checkpoint and input); that every
point the new finder returns is real (q recomputed, below the tolerance) and that matched
points carry the same stability label; the largest change of a checkpoint's τ̄; every
claim's verdict; a fixed point the new finder found where none existed at the previous
checkpoint; and the peak RSS of the process.
"""
from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time

import numpy as np

#: Two fixed points are the same if they lie within this distance (Euclidean).
TOL = 1e-3


def _verdicts(results, run, opts) -> list[tuple[str, int, bool]]:
    """(setting, claim id, holds) for every setting and claim, as `analyse_run` decides."""
    from rnnctl.paper.claims import evaluate_claims
    from rnnctl.paper.options import DEFAULT_CLAIM_OPTIONS
    from rnnctl.paper.run import claim_context, degraded_agents, settings_of
    settings = settings_of(run)
    bad = [d["agent"] for d in degraded_agents(run, settings)]
    out = []
    for k, (values, idx) in enumerate(settings):
        ctx = claim_context(results, run, opts, DEFAULT_CLAIM_OPTIONS, agents=idx, exclude=bad)
        out += [(str(values or "all"), c.id, bool(c.holds)) for c in evaluate_claims(ctx)]
    return out


def _extra_keys(run, opts, n_keys: int) -> list[dict[int, tuple]]:
    """The old finder under `n_keys` other keys: per key {agent: (xstar [C, X, K, H],
    valid [C, X, K])} at the agent's distinct inputs (the rollouts are those of the
    analysis)."""
    import jax
    import jax.numpy as jnp
    from rnnctl import analysis, envs
    from rnnctl import rollout as _rollout
    from rnnctl.paper import compute
    from rnnctl.paper.stages import fixed_points_agent, rollouts_agent
    from rnnctl.runs import flatten_params, unflatten_params

    cfg = run.config
    from rnnctl.paper.options import default_stages
    n_updates = run.n_checkpoints - 1
    updates = compute.analysed_checkpoints(n_updates, opts.checkpoint_stride,
                                           opts.stages or default_stages(n_updates))
    all_flat = flatten_params(run.stacked_params())
    ok = compute.usable_checkpoints(run, all_flat)[:, updates]
    flat = {k: v[:, updates] for k, v in all_flat.items()}
    k_roll, k_fp, _, _ = jax.random.split(jax.random.key(opts.seed), 4)
    out = [dict() for _ in range(n_keys)]
    for a, agent in enumerate(run.agents):
        if not ok[a].any():
            continue
        params = compute.usable_params(flat, a, ok[a], unflatten_params)
        mask = envs.obs_mask(agent["obs"], cfg.encoding)
        x = np.unique(np.asarray(analysis.fixed_point_inputs(mask, cfg.encoding,
                                                             cfg.theta_dot_scale)), axis=0)
        roll = rollouts_agent(params, mask, k_roll, jnp.asarray(cfg.theta_dot_scale,
                                                                jnp.float32),
                              _rollout.physics(cfg), n_episodes=opts.episodes,
                              encoding=cfg.encoding)
        for j in range(n_keys):
            k = jax.random.fold_in(jax.random.fold_in(k_fp, 1000 + j), a)
            keys = jax.random.split(k, len(updates))
            fps = fixed_points_agent(params, jnp.asarray(x), roll.h, keys, opts,
                                     theta=roll.theta)
            out[j][a] = (np.asarray(fps.xstar), np.asarray(fps.valid), x)
    return out


def _distinct_inputs(run, a):
    """Indices into `analysis.FP_INPUTS` of agent a's distinct inputs, in np.unique order."""
    from rnnctl import analysis, envs
    cfg = run.config
    mask = envs.obs_mask(run.agents[a]["obs"], cfg.encoding)
    xs = np.asarray(analysis.fixed_point_inputs(mask, cfg.encoding, cfg.theta_dot_scale))
    _, first = np.unique(xs, axis=0, return_index=True)
    return first


def _near(p, pts):
    return len(pts) > 0 and bool(np.linalg.norm(pts - p, axis=-1).min() < TOL)


def recall(run, old, new, extra) -> dict:
    """Recall of the union of every finder's points, per finder, and a born point."""
    finders = {"old key 0": None, **{f"old key {j + 1}": e for j, e in enumerate(extra)},
               "new": None}
    found = {name: 0 for name in finders}
    n_union = 0
    label_same = label_n = 0
    born = []
    for a in range(run.n_agents):
        if not old.usable[a].any():
            continue
        cols = _distinct_inputs(run, a)
        for c in np.flatnonzero(old.usable[a]):
            for xi, col in enumerate(cols):
                sets = {"old key 0": old.fp_xstar[a, c, col][old.fp_valid[a, c, col]],
                        "new": new.fp_xstar[a, c, col][new.fp_valid[a, c, col]]}
                for j, e in enumerate(extra):
                    xs, vs, _ = e[a]
                    sets[f"old key {j + 1}"] = xs[c, xi][vs[c, xi]]
                union: list[np.ndarray] = []
                for pts in sets.values():
                    for p in pts:
                        if not _near(p, np.asarray(union)):
                            union.append(p)
                n_union += len(union)
                for name, pts in sets.items():
                    found[name] += sum(_near(p, pts) for p in union)
                # stability labels of points both the old (key 0) and the new finder hold
                po, pn = old.fp_xstar[a, c, col], new.fp_xstar[a, c, col]
                for i in np.flatnonzero(new.fp_valid[a, c, col]):
                    d = np.linalg.norm(po - pn[i], axis=-1)
                    d[~old.fp_valid[a, c, col]] = np.inf
                    if d.min() < TOL:
                        label_n += 1
                        label_same += (old.fp_stable[a, c, col][d.argmin()]
                                       == new.fp_stable[a, c, col][i])
                # a point the new finder holds at c, with nothing near at c - 1 (any finder)
                if c > 0 and old.usable[a, c - 1] and len(born) < 3:
                    before = [new.fp_xstar[a, c - 1, col][new.fp_valid[a, c - 1, col]],
                              old.fp_xstar[a, c - 1, col][old.fp_valid[a, c - 1, col]]]
                    before += [e[a][0][c - 1, xi][e[a][1][c - 1, xi]] for e in extra]
                    prev = np.concatenate(before)
                    for p in sets["new"]:
                        dist = (np.linalg.norm(prev - p, axis=-1).min() if len(prev)
                                else np.inf)
                        if dist > 0.1:
                            born.append({"agent": int(a), "checkpoint": int(c),
                                         "input": int(col),
                                         "distance_to_previous": float(dist)})
                            break
    return {"union": n_union,
            "recall": {k: v / max(n_union, 1) for k, v in found.items()},
            "found": found,
            "stability_labels_agree": f"{label_same}/{label_n}",
            "born": born}


def real_points(run, new, opts) -> float:
    """The largest q = ½‖F(x*) − x*‖² recomputed at every valid point of the new finder."""
    import jax
    import jax.numpy as jnp
    from rnnctl import analysis, networks
    from rnnctl.paper import compute
    from rnnctl.runs import flatten_params, unflatten_params
    all_flat = flatten_params(run.stacked_params())
    flat = {k: v[:, np.asarray(new.updates)] for k, v in all_flat.items()}
    q_max = 0.0
    for a in range(run.n_agents):
        if not new.usable[a].any():
            continue
        params = compute.usable_params(flat, a, new.usable[a], unflatten_params)
        cfg = run.config
        from rnnctl import envs
        mask = envs.obs_mask(run.agents[a]["obs"], cfg.encoding)
        xs = jnp.asarray(analysis.fixed_point_inputs(mask, cfg.encoding, cfg.theta_dot_scale))
        q = jax.jit(jax.vmap(lambda p, h: jax.vmap(lambda x, hh: analysis.speed(
            lambda s, u: networks.cell(p, s, u), hh, x))(xs, h)))(params,
                                                                   jnp.asarray(new.fp_xstar[a]))
        q = np.asarray(q)[new.fp_valid[a]]
        if q.size:
            q_max = max(q_max, float(q.max()))
    return q_max


def compare(run_path, *, quick: bool = False, n_keys: int = 2, out=None) -> int:
    """Run both analyses of one run and print the comparison (see the module docstring)."""
    import rnnctl
    from rnnctl.paper.compute import compute_analysis
    from rnnctl.paper.options import DEFAULT_OPTIONS, QUICK_OPTIONS

    from rnnctl.provenance import provenance
    prov = provenance()        # before the work: the load average it started under
    run = rnnctl.load_run(run_path)
    base = (QUICK_OPTIONS if quick else DEFAULT_OPTIONS).validate().resolved()
    # "new" = the default (the search by continuation), "old" = the independent search at
    # every checkpoint (fp_continue 0), as before the continuation became the default.
    new_opts = base
    old_opts = dataclasses.replace(base, fp_continue=0)
    rows = {}
    for label, opts, kw in (("old", old_opts, dict(overlap=False)),
                            ("new", new_opts, dict(overlap=True))):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        res = compute_analysis(run, opts, progress=False, timings=timings, **kw)
        timings["total (wall)"] = time.perf_counter() - t0
        rows[label] = (res, timings, _verdicts(res, run, opts))
        print(f"{label}: {timings['total (wall)']:.1f} s", file=sys.stderr, flush=True)
    (old, t_old, v_old), (new, t_new, v_new) = rows["old"], rows["new"]
    t0 = time.perf_counter()
    extra = _extra_keys(run, old_opts, n_keys)
    t_extra = time.perf_counter() - t0
    rec = recall(run, old, new, extra)
    q_max = real_points(run, new, new_opts)
    ok = old.usable & np.isfinite(old.tau_avg) & np.isfinite(new.tau_avg)
    rel = np.abs(new.tau_avg[ok] - old.tau_avg[ok]) / np.abs(old.tau_avg[ok])
    tau_same = bool(np.array_equal(np.where(ok, old.tau_avg, 0), np.where(ok, new.tau_avg, 0)))

    print(f"\n{run_path}: {run.n_agents} agents × {len(old.updates)} checkpoints; old = fresh "
          f"search at every checkpoint ({old_opts.fp_init} starts), timescales in turn; "
          f"new = continuation ({new_opts.fp_continue} fresh starts, "
          f"{new_opts.fp_chains} chains), timescales overlapped")
    print(f"{'stage':<22}{'old s':>9}{'new s':>9}{'old/new':>9}")
    for k in list(t_old) + [k for k in t_new if k not in t_old]:
        a, b = t_old.get(k, np.nan), t_new.get(k, np.nan)
        print(f"{k:<22}{a:>9.1f}{b:>9.1f}{a / b if b else np.nan:>9.2f}")
    print("('timescales' of new is the wait for the overlapped host work; the old finder "
          "under extra keys took "
          f"{t_extra:.0f} s, not counted)")
    print(f"\nrecall of the union ({rec['union']} points, matched within {TOL}):")
    for k, v in rec["recall"].items():
        print(f"  {k:<10} {v:.4f} ({rec['found'][k]})")
    print(f"new finder: every valid point recomputed q ≤ {q_max:.2e} (tol "
          f"{new_opts.fp_tol_q:g}); stability labels agree on matched points "
          f"{rec['stability_labels_agree']}")
    for b in rec["born"]:
        print(f"born: agent {b['agent']}, checkpoint {b['checkpoint']}, input {b['input']}: "
              f"a point {b['distance_to_previous']:.2f} from every point any finder has at "
              f"checkpoint {b['checkpoint'] - 1}")
    print(f"τ̄ per checkpoint: bitwise equal {tau_same}; largest relative change "
          f"{rel.max() if rel.size else 0:.2e}")
    same = all(a == b for a, b in zip(v_old, v_new)) and len(v_old) == len(v_new)
    print(f"verdicts {'all unchanged' if same else 'CHANGED'}:")
    for (s, i, h_old), (_, _, h_new) in zip(v_old, v_new):
        print(f"  setting {s} claim {i}: old {'holds' if h_old else 'does not hold'}, new "
              f"{'holds' if h_new else 'does not hold'}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (both analyses and the extra keys): {rss:.0f} MiB")
    if out is not None:
        summary = {"provenance": prov, "old_s": t_old, "new_s": t_new, "recall": rec, "q_max_new": q_max,
                   "tau_max_rel_change": float(rel.max()) if rel.size else 0.0,
                   "tau_bitwise_equal": tau_same,
                   "verdicts": {"old": v_old, "new": v_new}, "peak_rss_mib": rss}
        with open(out, "w") as f:
            json.dump(summary, f, indent=1, default=str)
    return 0
