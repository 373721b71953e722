"""Null models under which no claim of the paper should hold (docs/methods.md §7).

A rule tests the paper only if it can come out the other way. Three nulls, each built from
real agents:

- `shuffled`: every agent's analysed checkpoints in a random order (the returns R_t keep
  theirs): any "rise", "emergence order", "peak" or "tracking" is then chance.
- `never_trained`: every checkpoint replaced by update 0's measurements: whatever holds
  was there before learning.
- `drift_run`: a run directory whose checkpoint t is the update-0 network moved along one
  random direction by training's own distance ‖θ_t − θ_0‖ (per agent): weights change as
  much as in training, with no learning. It is analysed like any run.

`null_rates` evaluates rules on many draws of a claim-level null and returns, per claim
and rule version, the fraction of draws in which it does not hold.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnctl.paper.results import AnalysisResults

__all__ = ["shuffled", "never_trained", "drift_run", "null_rates", "slim",
           "PER_CHECKPOINT_KEEP"]

#: Per-checkpoint fields a claim-level null leaves in place: the checkpoint axis itself,
#: and the returns (the nulls move the network's measurements, not what it earned).
PER_CHECKPOINT_KEEP = ("updates", "usable", "roll_return", "return_R")


def _per_checkpoint(results: AnalysisResults) -> list[str]:
    n_a, n_c = results.usable.shape
    return [k for k in results.field_names()
            if k not in PER_CHECKPOINT_KEEP and not k.startswith(("stage_", "manifold_"))
            and np.ndim(getattr(results, k)) >= 2
            and np.shape(getattr(results, k))[:2] == (n_a, n_c)]


#: Fields no claim reads (figures and diagnostics): `slim` empties them.
_NOT_CLAIMS = ("fp_xstar", "fp_qstar", "fp_max_abs_eig", "fp_slow", "track_s_path", "stage_",
               "drive_", "manifold_", "pc_var_ratio", "tau_mean", "tau_ci")


def slim(results: AnalysisResults) -> AnalysisResults:
    """The results with the arrays no claim reads emptied (same ndim, zero length), so
    that the claims of a large run can be stored and re-decided from a small file."""
    new = {}
    for k in results.field_names():
        if k.startswith(_NOT_CLAIMS):
            v = np.asarray(getattr(results, k))
            new[k] = np.zeros((0,) * v.ndim, v.dtype)
    return results.replace(**new)


def shuffled(results: AnalysisResults, rng: np.random.Generator) -> AnalysisResults:
    """The results with each agent's checkpoints (of every per-checkpoint measurement
    except the returns) in an independent random order."""
    n_a, n_c = results.usable.shape
    perm = np.stack([rng.permutation(n_c) for _ in range(n_a)])
    rows = np.arange(n_a)[:, None]
    new = {k: np.asarray(getattr(results, k))[rows, perm] for k in _per_checkpoint(results)}
    return results.replace(**new)


def never_trained(results: AnalysisResults) -> AnalysisResults:
    """The results with every checkpoint's measurements (returns included) those of
    update 0."""
    keys = _per_checkpoint(results) + ["roll_return", "return_R"]
    c0 = int(np.flatnonzero(np.asarray(results.updates) == 0)[0])
    new = {}
    for k in keys:
        v = np.asarray(getattr(results, k))
        new[k] = np.repeat(v[:, c0:c0 + 1], v.shape[1], axis=1)
    return results.replace(**new)


def drift_run(run, out_dir, seed: int) -> Path:
    """Write the drift null of `run` (a `runs.Run`) to `out_dir`: checkpoint t of agent a
    is θ_a,0 + ‖θ_a,t − θ_a,0‖ · v_a, with v_a a random unit direction over all
    parameters (Gaussian, normalised); the trainer's metrics are not carried over."""
    from rnnctl.runs import flatten_params, save_run, unflatten_params
    flat = flatten_params(run.stacked_params())
    names = sorted(flat)
    n_a, n_c = flat[names[0]].shape[:2]
    cat = np.concatenate([np.asarray(flat[k], np.float64).reshape(n_a, n_c, -1)
                          for k in names], -1)
    dist = np.linalg.norm(cat - cat[:, :1], axis=-1)                       # [A, C]
    v = np.random.default_rng(seed).normal(size=(n_a, cat.shape[-1]))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    drift = cat[:, :1] + dist[..., None] * v[:, None]
    out, start = {}, 0
    for k in names:
        size = int(np.prod(flat[k].shape[2:], dtype=int))
        out[k] = drift[..., start:start + size].reshape(flat[k].shape).astype(flat[k].dtype)
        start += size
    metrics = {"eval_return": np.full((n_a, n_c), np.nan, np.float32)}
    return save_run(out_dir, run.config, run.agents, unflatten_params(out), metrics,
                    info={"null": "drift", "null_seed": seed, "source": str(run.path)})


def null_rates(ctx, make_null, draws: int, seed: int = 0) -> dict:
    """Fraction of `draws` null draws in which each claim does not hold, per version.

    Args:
      ctx: the `ClaimContext` of real results.
      make_null: (results, rng) -> null results (e.g. `shuffled`).
    Returns:
      {"v1": {claim id: fraction}, "v2": {...}, "draws": draws}.
    """
    import dataclasses

    from rnnctl.paper.claims import evaluate_claims
    from rnnctl.paper.claims_v2 import evaluate_claims_v2
    rng = np.random.default_rng(seed)
    fails = {"v1": np.zeros(5), "v2": np.zeros(5)}
    for _ in range(draws):
        c = dataclasses.replace(ctx, results=make_null(ctx.results, rng))
        for v, fn in (("v1", evaluate_claims), ("v2", evaluate_claims_v2)):
            fails[v] += [not cl.holds for cl in fn(c)]
    return {"draws": draws, **{v: {i + 1: float(f[i] / draws) for i in range(5)}
                               for v, f in fails.items()}}
