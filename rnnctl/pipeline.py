"""The analysis stage of a sweep: a saved run → analysis.npz, figures, summary.json, report.md.

    from rnnctl.pipeline import analyse_run, QUICK_OPTIONS
    summary = analyse_run("runs/ref")                          # full analysis (SCIENCE.md §5)
    summary = analyse_run("runs/tiny", options=QUICK_OPTIONS)  # a fast smoke test

Stages (each timed; progress on stderr unless `progress=False`):

1. `compute_analysis(run)` → results (a flat dict of NumPy arrays). Per agent (a loop) and
   checkpoint (vmapped over all U+1 checkpoints of the agent): deterministic rollouts;
   fixed points at the goal input x* (`analysis.goal_input`), their θ, tracking of the
   stable (target θ = 0) and the unstable (target θ = π) fixed point; integration
   timescales; PCA and ring score; policy maps, their sharpness, and the return R_t.
2. `analysis.npz` is written (atomically) before anything else can fail, so figures and
   claims can be redone from it (`analyse_run(..., reuse=True)`) without recomputing.
3. `evaluate_claims(results, run)` → the paper's five claims (SCIENCE.md §6), each decided
   by a fixed, documented rule on numbers it reports. Diverged agents are left out.
4. `draw_figures(results, run, outdir)` → figures/*.png.
5. summary.json (strict JSON: NaN is written as null) and `write_report(summary, path)`.

A stage that fails raises `PipelineError` naming the stage and, where known, the agent and
checkpoint; files written by earlier stages stay.

Choices the paper leaves open (all fields of `AnalysisOptions`, recorded in summary.json):
  * Rollouts: the same random start states for every agent and checkpoint (one PRNG key),
    so checkpoints differ only by their parameters.
  * R_t, the "10-episode-average return" of Fig 1d: the mean return of the first
    `return_episodes` (10) deterministic episodes of the policy-map rollouts of checkpoint
    t (full 200-step episodes from random starts, the same starts at every checkpoint).
    The trainer's `eval_return` (16 episodes) gives a second, reported regression.
  * Timescales: eigenvalues of J_t by LAPACK sgeev in `tau_workers` threads (the GIL
    released; `eigvals_host`), every `tau_stride`-th of the 1000 rollout steps (default 2:
    500 steps per checkpoint, spread over all 5 episodes). Stride 1 is the paper's
    estimator and costs twice the time (~1.01 M eigen-decompositions for 10 agents × 101
    checkpoints).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["AnalysisOptions", "DEFAULT_OPTIONS", "QUICK_OPTIONS", "PipelineError",
           "analyse_run", "compute_analysis", "evaluate_claims", "draw_figures",
           "write_report", "write_summary", "load_analysis", "default_stages",
           "rollouts_agent", "fixed_points_checkpoint", "fixed_points_agent",
           "fp_theta_agent", "track_agent", "timescales_agent", "geometry_agent",
           "policy_maps_agent", "eigvals_host", "ANALYSIS_FILE", "SUMMARY_FILE", "REPORT_FILE",
           "FIGURES_DIR", "FIGURE_FILES", "SUMMARY_FORMAT_VERSION", "ARRAYS"]

ANALYSIS_FILE = "analysis.npz"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
FIGURE_FILES = {"learning_curves": "learning_curves.png", "fig1b": "fig1b_policy.png",
                "fig1c": "fig1c_geometry.png", "fig1d": "fig1d_fixed_points.png",
                "fig1e": "fig1e_timescales.png"}
SUMMARY_FORMAT_VERSION = 1

# Claim thresholds: fixed before looking at any run; never tune them to make a claim pass.
NEAR_GOAL = math.pi / 4        # claim 3: the stable FP "ends near θ = 0": |θ| < π/4
NEAR_HANGING = 3 * math.pi / 4  # claim 3: the unstable FP "ends near ±π": |θ| > 3π/4
ALPHA = 0.05                   # claim 4: significance level of the regression slope
CLAIM_CONFIDENCE = 0.99        # claim 5: confidence of the intervals compared


# ----------------------------------------------------------------------------- options

@dataclass(frozen=True)
class AnalysisOptions:
    """Every setting of the analysis (frozen and hashable: a static argument of jit).

    Attributes:
      seed: PRNG seed of the rollouts, fixed-point initial states and policy-map episodes.
      episodes: deterministic 200-step episodes per checkpoint for fixed points, PCA, ring
        score and timescales (the paper: 5 = 1000 steps).
      map_episodes: episodes per checkpoint for the policy map (and R_t).
      map_bins: policy-map grid, map_bins × map_bins over [-π, π) × [-8, 8].
      return_episodes: R_t is the mean return of this many of the map episodes (≤
        map_episodes; the paper's "10-episode average").
      fp_init: initial states of the fixed-point search (visited states plus noise).
      fp_noise: standard deviation of that noise.
      fp_opt_steps, fp_lr: Adam steps and peak learning rate of the search.
      fp_newton_steps: Newton refinement steps.
      fp_max_points: fixed-point slots refined and kept per checkpoint.
      fp_tol_q: a point with speed q < fp_tol_q is a fixed point.
      fp_theta_k: nearest visited states whose circular-mean θ a fixed point represents.
      tau_top: the k largest τ per step (the paper: 5).
      tau_stride: analyse every tau_stride-th rollout step for the timescales.
      tau_workers: threads for the eigen-decompositions (None: os.cpu_count()).
      tau_confidence: coverage of the timescale intervals (the paper: 0.99).
      stages: the training stages (update indices) of the figures and of claims 1–2;
        None: about 0, 10 %, 25 %, 50 % and 100 % of the updates (`default_stages`).
      fig_seed: seed of the representative agents in Fig 1b–1d (None: the first seed
        with a non-diverged FO and PO agent).
    """

    seed: int = 0
    episodes: int = 5
    map_episodes: int = 20
    map_bins: int = 64
    return_episodes: int = 10
    fp_init: int = 256
    fp_noise: float = 0.01
    fp_opt_steps: int = 500
    fp_lr: float = 0.1
    fp_newton_steps: int = 5
    fp_max_points: int = 32
    fp_tol_q: float = 1e-10
    fp_theta_k: int = 10
    tau_top: int = 5
    tau_stride: int = 2
    tau_workers: int | None = None
    tau_confidence: float = 0.99
    stages: tuple[int, ...] | None = None
    fig_seed: int | None = None

    def validate(self) -> "AnalysisOptions":
        """Raise ValueError (one line, naming the field) for an invalid setting."""
        for name in ("episodes", "map_episodes", "map_bins", "return_episodes", "fp_init",
                     "fp_opt_steps", "fp_max_points", "fp_theta_k", "tau_top", "tau_stride"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"AnalysisOptions.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.fp_newton_steps, int) or self.fp_newton_steps < 0:
            raise ValueError("AnalysisOptions.fp_newton_steps must be a non-negative integer")
        if self.return_episodes > self.map_episodes:
            raise ValueError(f"AnalysisOptions.return_episodes ({self.return_episodes}) "
                             f"must not exceed map_episodes ({self.map_episodes})")
        if self.tau_workers is not None and (not isinstance(self.tau_workers, int)
                                             or self.tau_workers <= 0):
            raise ValueError("AnalysisOptions.tau_workers must be a positive integer or None")
        if not 0 < self.tau_confidence < 1:
            raise ValueError("AnalysisOptions.tau_confidence must lie in (0, 1)")
        if self.tau_top > 64:
            raise ValueError("AnalysisOptions.tau_top must not exceed the hidden size")
        return self

    def resolved(self) -> "AnalysisOptions":
        """The same options with `tau_workers` filled in (os.cpu_count())."""
        if self.tau_workers is not None:
            return self
        return dataclasses.replace(self, tau_workers=max(1, os.cpu_count() or 1))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stages"] = None if self.stages is None else list(self.stages)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AnalysisOptions":
        d = dict(d)
        if d.get("stages") is not None:
            d["stages"] = tuple(int(s) for s in d["stages"])
        return cls(**d)


DEFAULT_OPTIONS = AnalysisOptions()
#: A tiny, fast analysis for smoke tests (`--quick`): few episodes, initial states,
#: optimiser steps and timescale steps. Its numbers are not meant to decide anything.
QUICK_OPTIONS = AnalysisOptions(episodes=2, map_episodes=4, map_bins=32, return_episodes=4,
                                fp_init=32, fp_opt_steps=60, fp_newton_steps=2,
                                fp_max_points=8, tau_stride=4)


def default_stages(n_updates: int) -> tuple[int, ...]:
    """About 0, 10 %, 25 %, 50 % and 100 % of `n_updates` (distinct, sorted; 0 and U kept)."""
    return tuple(sorted({int(round(f * n_updates)) for f in (0.0, 0.1, 0.25, 0.5, 1.0)}))


#: What analysis.npz holds: name → shape and meaning. A = agents, C = checkpoints (U+1),
#: S = figure stages, K = fixed-point slots (fp_max_points), H = hidden units, N = rollout
#: steps per checkpoint (episodes × 200), B = map_bins, k = tau_top. NaN (or False, or -1
#: for indices) marks "none" and every checkpoint of a diverged agent from its first NaN
#: update on.
ARRAYS = {
    "updates": "[C] update index of each checkpoint",
    "stages": "[S] updates shown in the figures and compared in claims 1-2",
    "usable": "[A, C] bool: finite parameters, before the agent diverged",
    "agent_seed": "[A] seed", "agent_obs": "[A] 'fo' / 'po'",
    "roll_return": "[A, C] mean return of the analysis rollouts (episodes)",
    "return_R": "[A, C] R_t: mean return of the first return_episodes map episodes",
    "fp_xstar": "[A, C, K, H] fixed-point slots at the goal input",
    "fp_valid": "[A, C, K] bool: a fixed point", "fp_stable": "[A, C, K] bool: valid, stable",
    "fp_qstar": "[A, C, K] speed q", "fp_max_abs_eig": "[A, C, K] max |λ| of ∂F/∂h there",
    "fp_theta": "[A, C, K] θ a fixed point represents (circular mean of k nearest states)",
    "track_s_path": "[A, C, H] tracked stable FP (target θ=0)",
    "track_s_distance": "[A, C] its distance to its final location (d_t)",
    "track_s_theta": "[A, C] its θ", "track_s_index": "[A, C] its slot (-1: none)",
    "track_s_start": "[A] checkpoint the track starts from",
    "track_u_path": "[A, C, H] tracked unstable FP (target θ=π)",
    "track_u_distance": "[A, C]", "track_u_theta": "[A, C]", "track_u_index": "[A, C]",
    "track_u_start": "[A]",
    "first_stable": "[A] first checkpoint with a stable FP (-1: never)",
    "first_unstable": "[A] first checkpoint with an unstable FP (-1: never)",
    "persistent_stable": "[A] first checkpoint from which every later one has a stable FP",
    "persistent_unstable": "[A] the same for unstable FPs",
    "tau_avg": "[A, C] mean over steps of the per-step mean of the top-k τ (steps)",
    "tau_avg_ci": "[A, C, 2] its tau_confidence interval over steps",
    "tau_mean": "[A, C, k] mean over steps of the i-th largest τ",
    "tau_ci": "[A, C, k, 2] their intervals", "tau_frac_capped": "[A, C] τ clipped at 1e4",
    "tau_steps": "[] steps per checkpoint used for τ",
    "ring": "[A, C] ring score of h", "ring_input": "[A, C] ring score of the input x",
    "pc_var_ratio": "[A, C, 3] explained variance ratio of the top 3 PCs",
    "stage_pca_mean": "[A, S, H]", "stage_pca_components": "[A, S, 3, H]",
    "stage_proj": "[A, S, N, 3] hidden states in the stage's top-3 PCs",
    "stage_theta": "[A, S, N] θ of those states",
    "sharpness": "[A, C] policy-map sharpness",
    "map_visited_frac": "[A, C] fraction of map bins visited",
    "stage_map_torque": "[A, S, B, B] policy maps at the stages (NaN: not visited)",
    "map_theta_edges": "[B+1]", "map_theta_dot_edges": "[B+1]",
    "options_json": "[] AnalysisOptions as JSON",
    "checkpoints_sha256": "[] digest of checkpoints.npz the analysis was made from",
}


class PipelineError(RuntimeError):
    """A stage of the analysis failed; `stage`, `agent`, `checkpoint` say where."""

    def __init__(self, stage: str, cause: BaseException, *, agent: int | None = None,
                 agent_info: dict | None = None, checkpoint: int | None = None,
                 kept: list[str] | None = None):
        self.stage, self.agent, self.checkpoint = stage, agent, checkpoint
        self.kept = list(kept or [])
        where = ""
        if agent is not None:
            where += f", agent {agent}"
            if agent_info:
                where += f" (seed {agent_info.get('seed')}, {agent_info.get('obs')})"
        if checkpoint is not None:
            where += f", checkpoint {checkpoint}"
        msg = f"analysis stage {stage!r} failed{where}: {type(cause).__name__}: {cause}"
        if self.kept:
            msg += f" [kept: {', '.join(self.kept)}]"
        super().__init__(msg)


class _Log:
    """Progress lines on stderr (silent when off)."""

    def __init__(self, on: bool):
        self.on = on
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        if self.on:
            sys.stderr.write(f"[analysis {time.perf_counter() - self.t0:6.1f}s] {msg}\n")
            sys.stderr.flush()


@contextmanager
def _stage(name: str, timings: dict, log: _Log | None = None, **where):
    """Time a stage (accumulating) and turn any error into a `PipelineError` naming it."""
    t0 = time.perf_counter()
    if log is not None:
        log(f"{name} ...")
    try:
        yield
    except PipelineError:
        raise
    except Exception as e:
        raise PipelineError(name, e, **where) from e
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0


# ----------------------------------------------------------------------------- batched stages
# Each works on one agent's stack of checkpoints (leaves [C, ...]) and is jit-compiled once
# per shape and options, so looping over agents reuses the compiled program.

@partial(jax.jit, static_argnames=("n_episodes", "encoding"))
def rollouts_agent(params, mask, key, theta_dot_scale, *, n_episodes: int, encoding: str):
    """Deterministic rollouts at every checkpoint, the same start states for each.

    Args:
      params: one agent's parameters, leaves [C, ...].
      mask: [I] observation mask (`envs.obs_mask`).
      key: PRNG key (shared by all checkpoints: common random numbers).
      theta_dot_scale: the run's θ̇ input scale.
    Returns:
      `Rollout` with fields [C, E, T, ...].
    """
    from rnnctl import rollout as _r
    return jax.vmap(lambda p: _r.rollout(p, obs=mask, key=key, n_episodes=n_episodes,
                                         encoding=encoding,
                                         theta_dot_scale=theta_dot_scale))(params)


def fixed_points_checkpoint(params, x_star, h, key, opts: AnalysisOptions):
    """Fixed points of one checkpoint at input x*, from `opts.fp_init` visited states + noise.

    Args:
      params: one checkpoint's parameters; x_star: [I]; h: [E, T, H] visited states.
    Returns:
      `analysis.FixedPoints` with `opts.fp_max_points` slots.
    """
    from rnnctl import analysis
    h0 = analysis.sample_initial_states(h, opts.fp_init, key, noise_scale=opts.fp_noise)
    return analysis.find_fixed_points(analysis.rnn_cell(params), x_star, h0,
                                      learning_rate=opts.fp_lr, n_opt_steps=opts.fp_opt_steps,
                                      n_newton_steps=opts.fp_newton_steps,
                                      tol_q=opts.fp_tol_q, max_points=opts.fp_max_points)


@partial(jax.jit, static_argnames=("opts",))
def fixed_points_agent(params, x_star, h, keys, opts: AnalysisOptions):
    """`fixed_points_checkpoint` vmapped over C checkpoints: params [C, ...], h [C, E, T, H],
    keys [C] → `FixedPoints` [C, K]."""
    return jax.vmap(lambda p, hh, k: fixed_points_checkpoint(p, x_star, hh, k, opts))(
        params, h, keys)


@partial(jax.jit, static_argnames=("k",))
def fp_theta_agent(xstar, h, theta, k: int = 10):
    """θ each fixed point represents.

    xstar [C, K, H], h [C, E, T, H], theta [C, E, T] → [C, K].
    """
    from rnnctl import analysis
    return jax.vmap(lambda x, hh, th: analysis.fixed_point_theta(x, hh, th, k=k))(
        xstar, h, theta)


@jax.jit
def track_agent(fps, theta):
    """Track the stable (θ → 0) and the unstable (θ → π) fixed point over C checkpoints."""
    from rnnctl import analysis
    return (analysis.track_fixed_points(fps, theta, stable=True, target_theta=0.0),
            analysis.track_fixed_points(fps, theta, stable=False, target_theta=math.pi))


@jax.jit
def geometry_agent(h, theta, x):
    """PCA (3 components), ring score of h and of the input x: h [C, E, T, H] → [C, ...]."""
    from rnnctl import analysis
    return jax.vmap(lambda hh, th, xx: (analysis.pca(hh, 3), analysis.ring_score(hh, th),
                                        analysis.ring_score(xx, th)))(h, theta, x)


@partial(jax.jit, static_argnames=("n_episodes", "bins", "encoding"))
def policy_maps_agent(params, mask, key, theta_dot_scale, *, n_episodes: int, bins: int,
                      encoding: str):
    """Policy maps from `n_episodes` rollouts per checkpoint (hidden states not kept).

    Returns:
      (`PolicyMap` [C, B, B], sharpness [C], episode returns [C, E]).
    """
    from rnnctl import analysis
    from rnnctl import rollout as _r

    def one(p):
        r = _r.rollout(p, obs=mask, key=key, n_episodes=n_episodes, encoding=encoding,
                       theta_dot_scale=theta_dot_scale)
        pm = analysis.policy_map(r.theta, r.theta_dot, r.torque, bins=bins)
        return pm, analysis.sharpness(pm), r.returns

    return jax.vmap(one)(params)


@partial(jax.jit, static_argnames=("top", "confidence"))
def _tau_summary(lam, top: int, confidence: float):
    from rnnctl import analysis
    return jax.vmap(lambda l: analysis.timescales_from_eigvals(l, top=top,
                                                               confidence=confidence))(lam)


_SGEEV = None  # (ctypes function, or False if unavailable); see _sgeev()


def _sgeev():
    """LAPACK sgeev from SciPy's exported Cython function table, callable without the GIL.

    `scipy.linalg.lapack.sgeev` (f2py) holds the GIL, so threads cannot share the work, and
    `np.linalg.eigvals` runs ~1.5× slower per 64×64 matrix (NumPy's own LAPACK build).
    `scipy.linalg.cython_lapack.__pyx_capi__` exports the raw pointer of SciPy's sgeev (the
    route numba uses); a ctypes call releases the GIL. Returns None if that is unavailable.
    """
    global _SGEEV
    if _SGEEV is None:
        try:
            import ctypes
            from scipy.linalg import cython_lapack
            capsule = cython_lapack.__pyx_capi__["sgeev"]
            get_name = ctypes.pythonapi.PyCapsule_GetName
            get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
            get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
            get_ptr.restype = ctypes.c_void_p
            get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
            ptr = get_ptr(capsule, get_name(capsule))
            _SGEEV = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 14))(ptr)
        except Exception:  # another SciPy layout: fall back to NumPy
            _SGEEV = False
    return _SGEEV or None


def eigvals_host(mats: np.ndarray) -> np.ndarray:
    """Eigenvalues of a stack of real square matrices on the host, GIL released.

    float32 LAPACK sgeev through SciPy (see `_sgeev`), or `np.linalg.eigvals` if SciPy's
    pointer is unavailable. Safe to call from several threads at once.

    Args:
      mats: [N, H, H] real matrices (any float dtype; computed in float32 with sgeev).
    Returns:
      [N, H] complex64 eigenvalues (LAPACK's order).
    Raises:
      np.linalg.LinAlgError: non-finite input, or the QR algorithm did not converge.
    """
    import ctypes
    mats = np.asarray(mats)
    if mats.ndim != 3 or mats.shape[1] != mats.shape[2]:
        raise ValueError(f"mats must be [N, H, H], got shape {mats.shape}")
    if not np.isfinite(mats).all():
        raise np.linalg.LinAlgError("matrices contain NaN or inf")
    geev = _sgeev()
    if geev is None:
        return np.linalg.eigvals(mats).astype(np.complex64)
    # eig(Aᵀ) = eig(A): a C-ordered matrix is its transpose in Fortran order, so each
    # matrix is passed in place (sgeev overwrites it: hence the private float32 copy).
    a = np.array(mats, dtype=np.float32, order="C", copy=True)
    n_mat, n = a.shape[:2]
    wr = np.empty((n_mat, n), np.float32)
    wi = np.empty((n_mat, n), np.float32)
    c_n, c_one, c_info = ctypes.c_int(n), ctypes.c_int(1), ctypes.c_int(0)
    job = ctypes.c_char(b"N")
    dummy = np.zeros(1, np.float32)
    query = np.zeros(1, np.float32)
    c_lwork = ctypes.c_int(-1)
    r, addr = ctypes.byref, ctypes.addressof
    scratch = np.zeros((n, n), np.float32)
    geev(addr(job), addr(job), r(c_n), scratch.ctypes.data, r(c_n), wr.ctypes.data,
         wi.ctypes.data, dummy.ctypes.data, r(c_one), dummy.ctypes.data, r(c_one),
         query.ctypes.data, r(c_lwork), r(c_info))
    work = np.empty(max(int(query[0]), 4 * n), np.float32)
    c_lwork = ctypes.c_int(work.size)
    base_a, base_wr, base_wi = a.ctypes.data, wr.ctypes.data, wi.ctypes.data
    step_a, step_w = n * n * 4, n * 4
    fixed = (dummy.ctypes.data, r(c_one), dummy.ctypes.data, r(c_one), work.ctypes.data,
             r(c_lwork), r(c_info))
    for i in range(n_mat):
        geev(addr(job), addr(job), r(c_n), base_a + i * step_a, r(c_n),
             base_wr + i * step_w, base_wi + i * step_w, *fixed)
        if c_info.value != 0:
            raise np.linalg.LinAlgError(f"sgeev failed on matrix {i} (info {c_info.value})")
    return (wr + 1j * wi).astype(np.complex64)


def timescales_agent(w_h, h, *, top: int = 5, stride: int = 1, confidence: float = 0.99,
                     workers: int = 1, on_error=None) -> dict[str, np.ndarray]:
    """Integration timescales at every checkpoint, eigenvalues on the host in threads.

    The same estimator as `analysis.integration_timescales` (J_t = diag(1 − h_t²) W_h at
    every `stride`-th step, top-k τ per step, mean and Student-t interval over steps;
    `analysis.timescales_from_eigvals` does the summary), but the eigen-decompositions run
    through `eigvals_host` (float32 LAPACK, the GIL released), one checkpoint per task in
    `workers` threads: LAPACK's geev is single-threaded and dominates the cost (about
    0.35 ms per 64×64 matrix per core; jax's batched eigvals runs on one core).

    Args:
      w_h: [C, H, H] recurrent weights per checkpoint.
      h: [C, E, T, H] rollout hidden states per checkpoint.
      on_error: optional callable(checkpoint, exception) -> exception to raise instead.
    Returns:
      {"tau_mean" [C, k], "tau_ci" [C, k, 2], "tau_avg" [C], "tau_avg_ci" [C, 2],
       "tau_frac_capped" [C]} as NumPy arrays (τ in steps).
    """
    w_h = np.asarray(w_h)
    h = np.asarray(h)
    n_ckpt, hidden = w_h.shape[0], w_h.shape[-1]
    steps = h.reshape(n_ckpt, -1, hidden)[:, ::stride]

    def eig(c):
        try:
            s = steps[c].astype(np.float32)
            jac = (1.0 - s * s)[:, :, None] * w_h[c].astype(np.float32)[None]
            return eigvals_host(jac)
        except Exception as e:
            if on_error is not None:
                raise on_error(c, e) from e
            raise

    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            lam = np.stack(list(ex.map(eig, range(n_ckpt))))
    else:
        lam = np.stack([eig(c) for c in range(n_ckpt)])
    ts = _tau_summary(lam, top, float(confidence))
    return {"tau_mean": np.asarray(ts.mean), "tau_ci": np.asarray(ts.ci),
            "tau_avg": np.asarray(ts.avg), "tau_avg_ci": np.asarray(ts.avg_ci),
            "tau_frac_capped": np.asarray(ts.frac_capped)}


# ----------------------------------------------------------------------------- compute

def _usable_checkpoints(run, flat: dict[str, np.ndarray]) -> np.ndarray:
    """[A, C] bool: finite parameters and before the agent's first diverged update."""
    ok = np.ones((run.n_agents, run.n_checkpoints), bool)
    for leaf in flat.values():
        ok &= np.isfinite(leaf.reshape(leaf.shape[:2] + (-1,))).all(-1)
    for d in run.info.get("diverged", []) or []:
        ok[int(d["agent"]), int(d["update"]):] = False
    if "diverged" in run.metrics:
        ok &= ~(np.asarray(run.metrics["diverged"]) > 0)
    return ok


def diverged_agents(run) -> list[int]:
    """Indices of agents that diverged (listed in run.info, or flagged in the metrics)."""
    bad = {int(d["agent"]) for d in run.info.get("diverged", []) or []}
    if "diverged" in run.metrics:
        bad |= set(np.flatnonzero(np.asarray(run.metrics["diverged"]).max(1) > 0).tolist())
    return sorted(bad)


def compute_analysis(run, options: AnalysisOptions | None = None, *, progress: bool = True,
                     timings: dict | None = None) -> dict[str, np.ndarray]:
    """Every analysis of SCIENCE.md §5 for every agent and checkpoint of a run.

    Args:
      run: a `runs.Run` (`rnnctl.load_run`).
      options: `AnalysisOptions` (default `DEFAULT_OPTIONS`).
      progress: print one line per agent to stderr.
      timings: dict that receives seconds per sub-stage (rollouts, fixed_points,
        fp_tracking, timescales, geometry, policy_maps), compile time included.
    Returns:
      A flat dict name → NumPy array (what `analysis.npz` holds; `ARRAYS` lists names and
      shapes). Checkpoints that are not usable (a diverged agent's parameters
      from its first NaN update on) hold NaN / False.
    """
    from rnnctl import analysis, envs
    from rnnctl.runs import flatten_params, unflatten_params

    opts = (options or DEFAULT_OPTIONS).validate().resolved()
    timings = {} if timings is None else timings
    log = _Log(progress)
    cfg = run.config
    n_agents, n_ckpt = run.n_agents, run.n_checkpoints
    stages = tuple(opts.stages) if opts.stages is not None else default_stages(n_ckpt - 1)
    if not stages or min(stages) < 0 or max(stages) >= n_ckpt:
        raise ValueError(f"stages {stages} must lie in 0..{n_ckpt - 1}")
    flat = flatten_params(run.stacked_params())
    ok = _usable_checkpoints(run, flat)
    tds = jnp.asarray(cfg.theta_dot_scale, jnp.float32)
    k_roll, k_fp, k_map = jax.random.split(jax.random.key(opts.seed), 3)
    per_agent: list[dict[str, np.ndarray]] = []
    log(f"{n_agents} agents × {n_ckpt} checkpoints; {opts.episodes} episodes per checkpoint, "
        f"{opts.fp_init} fixed-point initial states, τ at every {_nth(opts.tau_stride)} of "
        f"{opts.episodes * envs.EPISODE_LEN} steps in {opts.tau_workers} threads")
    t_start = time.perf_counter()

    for a, agent in enumerate(run.agents):
        t_agent = time.perf_counter()
        where = dict(agent=a, agent_info=agent)
        out: dict[str, np.ndarray] = {}
        ok_a = ok[a]
        if not ok_a.any():
            log(f"agent {a + 1}/{n_agents} (seed {agent['seed']}, {agent['obs']}): no usable "
                "checkpoint (diverged at update 0); results are NaN")
            per_agent.append(None)
            continue
        # unusable checkpoints are analysed with the first usable parameters, then masked
        fill = int(np.flatnonzero(ok_a)[0])
        leaves = {k: np.where(ok_a.reshape((-1,) + (1,) * (v.ndim - 2)), v[a], v[a, fill])
                  for k, v in flat.items()}
        params = jax.tree.map(jnp.asarray, unflatten_params(leaves))
        mask = envs.obs_mask(agent["obs"], cfg.encoding)
        x_star = analysis.goal_input(mask, cfg.encoding, cfg.theta_dot_scale)
        sub: dict[str, float] = {}

        with _stage("rollouts", sub, **where):
            roll = jax.block_until_ready(rollouts_agent(
                params, mask, k_roll, tds, n_episodes=opts.episodes, encoding=cfg.encoding))
            out["roll_return"] = np.asarray(roll.returns.mean(-1))
        with _stage("fixed_points", sub, **where):
            keys = jax.random.split(jax.random.fold_in(k_fp, a), n_ckpt)
            fps = jax.block_until_ready(fixed_points_agent(params, x_star, roll.h, keys, opts))
        with _stage("fp_tracking", sub, **where):
            fp_theta = fp_theta_agent(fps.xstar, roll.h, roll.theta, k=opts.fp_theta_k)
            okj = jnp.asarray(ok_a)[:, None]
            fps = fps.replace(valid=fps.valid & okj, is_stable=fps.is_stable & okj)
            track_s, track_u = jax.block_until_ready(track_agent(fps, fp_theta))
            eig = np.asarray(fps.eigvals)
            out.update(
                fp_xstar=np.asarray(fps.xstar), fp_valid=np.asarray(fps.valid),
                fp_stable=np.asarray(fps.is_stable), fp_qstar=np.asarray(fps.qstar),
                fp_max_abs_eig=np.where(np.asarray(fps.valid), np.abs(eig[..., 0]), np.nan),
                fp_theta=np.where(np.asarray(fps.valid), np.asarray(fp_theta), np.nan))
            for tag, tr in (("s", track_s), ("u", track_u)):
                out[f"track_{tag}_path"] = np.asarray(tr.path)
                out[f"track_{tag}_distance"] = np.asarray(tr.distance)
                out[f"track_{tag}_theta"] = np.asarray(tr.theta)
                out[f"track_{tag}_index"] = np.asarray(tr.index)
                out[f"track_{tag}_start"] = np.asarray(tr.start)
            for name in ("first_stable", "first_unstable", "persistent_stable",
                         "persistent_unstable"):
                out[name] = np.asarray(getattr(track_s, name))
        with _stage("timescales", sub, **where):
            out.update(timescales_agent(
                params["rnn"]["W_h"], roll.h, top=opts.tau_top, stride=opts.tau_stride,
                confidence=opts.tau_confidence, workers=opts.tau_workers,
                on_error=lambda c, e: PipelineError("timescales", e, checkpoint=c, **where)))
        with _stage("geometry", sub, **where):
            pcs, ring, ring_x = jax.block_until_ready(geometry_agent(roll.h, roll.theta, roll.x))
            out["ring"], out["ring_input"] = np.asarray(ring), np.asarray(ring_x)
            out["pc_var_ratio"] = np.asarray(pcs.explained_variance_ratio)
            st = np.asarray(stages)
            mean_s, comp_s = np.asarray(pcs.mean)[st], np.asarray(pcs.components)[st]
            h_s = np.asarray(roll.h)[st].reshape(len(st), -1, roll.h.shape[-1])
            out["stage_pca_mean"], out["stage_pca_components"] = mean_s, comp_s
            out["stage_proj"] = np.einsum("snh,sch->snc", h_s - mean_s[:, None], comp_s)
            out["stage_theta"] = np.asarray(roll.theta)[st].reshape(len(st), -1)
        del roll
        with _stage("policy_maps", sub, **where):
            pm, sharp, rets = jax.block_until_ready(policy_maps_agent(
                params, mask, k_map, tds, n_episodes=opts.map_episodes, bins=opts.map_bins,
                encoding=cfg.encoding))
            out["sharpness"] = np.asarray(sharp)
            out["map_visited_frac"] = np.asarray(pm.counts > 0).mean(axis=(-2, -1))
            out["stage_map_torque"] = np.asarray(pm.torque)[np.asarray(stages)]
            out["return_R"] = np.asarray(rets)[:, :opts.return_episodes].mean(-1)
            out["map_theta_edges"] = np.asarray(pm.theta_edges[0])
            out["map_theta_dot_edges"] = np.asarray(pm.theta_dot_edges[0])

        # mask what unusable checkpoints produced (per-checkpoint and per-stage arrays)
        for k, v in out.items():
            if k.startswith("map_theta") or v.ndim == 0:
                continue
            rows = ok_a[np.asarray(stages)] if k.startswith("stage_") else ok_a
            bad = ~rows.reshape((-1,) + (1,) * (v.ndim - 1))
            if v.dtype == bool:
                out[k] = np.where(bad, False, v)
            elif np.issubdtype(v.dtype, np.floating):
                out[k] = np.where(bad, np.nan, v)
        per_agent.append(out)
        for k, v in sub.items():
            timings[k] = timings.get(k, 0.0) + v
        elapsed = time.perf_counter() - t_start
        left = elapsed / (a + 1) * (n_agents - a - 1)
        log(f"agent {a + 1}/{n_agents} (seed {agent['seed']}, {agent['obs']}): "
            + ", ".join(f"{k} {v:.1f}s" for k, v in sub.items())
            + f"; {time.perf_counter() - t_agent:.1f}s (~{left:.0f}s left)")

    template = next((p for p in per_agent if p is not None), None)
    if template is None:
        raise ValueError("no agent has a usable checkpoint (all diverged at update 0)")
    results: dict[str, np.ndarray] = {}
    for k, v in template.items():
        if k in ("map_theta_edges", "map_theta_dot_edges"):
            results[k] = v
            continue
        rows = []
        for p in per_agent:
            if p is not None:
                rows.append(p[k])
            elif v.dtype == bool:
                rows.append(np.zeros_like(v))
            elif np.issubdtype(v.dtype, np.integer):
                rows.append(np.full_like(v, -1))
            else:
                rows.append(np.full_like(v, np.nan))
        results[k] = np.stack(rows)
    results.update(
        updates=np.arange(n_ckpt), stages=np.asarray(stages), usable=ok,
        agent_seed=np.asarray([int(a["seed"]) for a in run.agents]),
        agent_obs=np.asarray([str(a["obs"]) for a in run.agents]),
        tau_steps=np.asarray(len(range(0, opts.episodes * envs.EPISODE_LEN, opts.tau_stride))),
        options_json=np.asarray(json.dumps(opts.to_dict(), sort_keys=True)),
        checkpoints_sha256=np.asarray(_checkpoints_digest(run)))
    return results


def _checkpoints_digest(run) -> str:
    from rnnctl.runs import CHECKPOINTS_FILE
    h = hashlib.sha256()
    with open(Path(run.path) / CHECKPOINTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def load_analysis(run_dir) -> dict[str, np.ndarray]:
    """Read a run's analysis.npz (`runs.RunError` if missing or damaged)."""
    from rnnctl.runs import read_npz
    return read_npz(Path(run_dir) / ANALYSIS_FILE)


# ----------------------------------------------------------------------------- claims

def _f(x, digits: int = 6):
    """A JSON-ready float rounded to `digits` significant digits (None for NaN/inf)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _fl(a, digits: int = 6):
    """Nested lists of `_f` floats (None for NaN)."""
    a = np.asarray(a, np.float64)
    return [_fl(x, digits) for x in a] if a.ndim else _f(a, digits)


def _nanmean(a, axis=0):
    a = np.asarray(a, np.float64)
    n = np.isfinite(a).sum(axis)
    s = np.where(np.isfinite(a), a, 0.0).sum(axis)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _nansd(a, axis=0):
    a = np.asarray(a, np.float64)
    m = _nanmean(a, axis)
    n = np.isfinite(a).sum(axis)
    d = np.where(np.isfinite(a), a - np.expand_dims(m, axis), 0.0)
    return np.where(n > 1, np.sqrt((d * d).sum(axis) / np.maximum(n - 1, 1)), np.nan)


def _t_ci(samples, confidence: float, axis: int = 0):
    """(mean, low, high) of a Student-t interval over `axis` ignoring NaN; NaN if < 2."""
    from scipy import stats
    a = np.asarray(samples, np.float64)
    n = np.isfinite(a).sum(axis)
    m, sd = _nanmean(a, axis), _nansd(a, axis)
    q = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
    half = q * sd / np.sqrt(np.maximum(n, 1))
    return m, m - half, m + half


def _groups(results, excluded: set[int]) -> dict[str, list[int]]:
    obs = results["agent_obs"].tolist()
    return {o: [i for i, x in enumerate(obs) if x == o and i not in excluded]
            for o in ("fo", "po")}


def _reward_to_go(results, po: list[int], key: str = "return_R"):
    """Pooled (d, g, seed) of the PO agents and the regression of g on d."""
    from rnnctl import analysis
    d = results["track_s_distance"][po]
    ret = results[key][po]
    reg = analysis.reward_to_go_regression(d, ret) if po else None
    g = ret[:, -1:] - ret
    seeds = np.broadcast_to(results["agent_seed"][po][:, None], d.shape)
    # the regression drops the last checkpoint's (0, 0) pair; so does the figure
    d, g, seeds = d[:, :-1].ravel(), g[:, :-1].ravel(), seeds[:, :-1].ravel()
    keep = np.isfinite(d) & np.isfinite(g)
    return d[keep], g[keep], seeds[keep], reg


def _tau_curve(results, idx: list[int]):
    """Seed-mean τ̄ curve of agents `idx` with its CLAIM_CONFIDENCE interval: Student t
    across seeds (2+ agents), else the agent's own interval over rollout steps."""
    if not idx:
        raise ValueError("no non-diverged agent")
    if len(idx) > 1:
        return _t_ci(results["tau_avg"][idx], CLAIM_CONFIDENCE)
    ci = results["tau_avg_ci"][idx[0]]
    return results["tau_avg"][idx[0]], ci[:, 0], ci[:, 1]


def _wrap_abs(theta):
    return np.abs((np.asarray(theta, np.float64) + np.pi) % (2 * np.pi) - np.pi)


def evaluate_claims(results: dict[str, np.ndarray], run) -> list[dict]:
    """The paper's five claims (SCIENCE.md §6), each decided by a fixed rule on numbers.

    Diverged agents are left out. Each claim is {"id", "claim", "rule", "holds", "measured",
    "stats", "figure"}: `holds` is a bool (False when the numbers needed are missing), and
    `measured` a one-line summary of the numbers behind the decision.
    """
    excluded = set(diverged_agents(run))
    groups = _groups(results, excluded)
    fo, po = groups["fo"], groups["po"]
    stages = results["stages"].astype(int)
    u_final = int(results["updates"][-1])
    claims = []

    # 1. sharpness -----------------------------------------------------------------------
    sh = results["sharpness"]
    st1: dict[str, Any] = {"stages": stages.tolist()}
    mean1 = {}
    for name, idx in (("fo", fo), ("po", po)):
        vals = sh[idx][:, stages] if idx else np.full((1, len(stages)), np.nan)
        mean1[name] = _nanmean(vals)
        st1[f"{name}_mean"], st1[f"{name}_sd"] = _fl(mean1[name]), _fl(_nansd(vals))
        st1[f"{name}_n_agents"] = len(idx)
    fo_m, po_m = mean1["fo"], mean1["po"]
    holds1 = bool(fo and po and fo_m[-1] > fo_m[0] and po_m[-1] > po_m[0]
                  and fo_m[-1] > po_m[-1])
    st1.update(fo_rises=bool(fo_m[-1] > fo_m[0]), po_rises=bool(po_m[-1] > po_m[0]),
               fo_final_above_po_final=bool(fo_m[-1] > po_m[-1]))
    claims.append(dict(
        id=1, claim="Policy sharpness rises with training; FO ends sharper than PO.",
        rule="Sharpness = fraction of visited (θ, θ̇) bins whose mean torque saturates "
             "(|u| ≥ 0.9·2 N·m). Mean over seeds at each stage; holds if final > initial "
             "for FO and for PO, and FO final > PO final.",
        holds=holds1, stats=st1, figure=f"{FIGURES_DIR}/{FIGURE_FILES['fig1b']}",
        measured=(f"FO {_fmt(fo_m[0])} → {_fmt(fo_m[-1])}, PO {_fmt(po_m[0])} → "
                  f"{_fmt(po_m[-1])} (seed means, update {stages[0]} → {stages[-1]}; "
                  f"{len(fo)} FO, {len(po)} PO agents)")))

    # 2. ring ------------------------------------------------------------------------------
    ring = results["ring"]
    rp = ring[po][:, stages] if po else np.full((0, len(stages)), np.nan)
    m2, sd2 = _nanmean(rp), _nansd(rp)
    base_input = float(_nanmean(results["ring_input"][po].ravel())) if po else float("nan")
    pcv = results["pc_var_ratio"][po][:, stages, :2].sum(-1) if po else rp
    gain = m2[-1] - m2[0]
    spread = np.nanmax([sd2[0], sd2[-1], 0.0]) if po else float("nan")
    holds2 = bool(po and np.isfinite(gain) and gain > spread)
    claims.append(dict(
        id=2, claim="In PO, the hidden states form a ring ordered by θ (ring score rises).",
        rule="Ring score = |circular correlation| between θ and the angle of the θ-binned "
             "mean hidden state in its top-2 PC plane (analysis.ring_score). PO seed mean "
             "per stage; holds if final − initial exceeds the seed spread (the larger "
             "standard deviation over seeds of the initial and final scores).",
        holds=holds2, figure=f"{FIGURES_DIR}/{FIGURE_FILES['fig1c']}",
        stats={"stages": stages.tolist(), "po_mean": _fl(m2), "po_sd": _fl(sd2),
               "gain": _f(gain), "seed_spread": _f(spread), "n_agents": len(po),
               "input_ring_score": _f(base_input),
               "untrained_ring_score": _f(m2[0]),
               "pc2_variance_ratio_mean": _fl(_nanmean(pcv)),
               "encoding": run.config.encoding},
        measured=(f"PO ring score {_fmt(m2[0])} ± {_fmt(sd2[0])} → {_fmt(m2[-1])} ± "
                  f"{_fmt(sd2[-1])} (seed mean ± sd, update {stages[0]} → {stages[-1]}; gain "
                  f"{_fmt(gain)} vs seed spread {_fmt(spread)}); the network input x itself "
                  f"scores {_fmt(base_input)} on the same rollouts (encoding "
                  f"{run.config.encoding!r}" + (": (cos θ, sin θ) is already a ring in θ)"
                                                if run.config.encoding == "cos_sin" else ")"))))

    # 3. fixed points appear: stable first; where they end ----------------------------------
    fs = results["first_stable"][po].astype(int) if po else np.zeros(0, int)
    fu = results["first_unstable"][po].astype(int) if po else np.zeros(0, int)
    ps = results["persistent_stable"][po].astype(int) if po else np.zeros(0, int)
    pu = results["persistent_unstable"][po].astype(int) if po else np.zeros(0, int)
    th_s = results["track_s_theta"][po][:, -1] if po else np.zeros(0)
    th_u = results["track_u_theta"][po][:, -1] if po else np.zeros(0)
    ip = lambda a: [int(v) for v in a]  # noqa: E731
    stable_first = (fs >= 0) & ((fu < 0) | (fs < fu))
    near_goal = np.isfinite(th_s) & (_wrap_abs(th_s) < NEAR_GOAL)
    near_hang = np.isfinite(th_u) & (_wrap_abs(th_u) > NEAR_HANGING)
    seed_ok = stable_first & near_goal & near_hang
    n_stable_ckpt = ip(results["fp_stable"][po].any(-1).sum(-1)) if po else []
    n_unstable_ckpt = (ip((results["fp_valid"][po] & ~results["fp_stable"][po]).any(-1).sum(-1))
                       if po else [])
    holds3 = bool(po and seed_ok.sum() > len(po) / 2)
    claims.append(dict(
        id=3, claim="A stable fixed point emerges before an unstable one; the stable one "
                    "ends near θ=0, the unstable one near θ=±π.",
        rule="Fixed points of h ↦ F(h, x*) at the goal input x* (θ=0, θ̇=0). Per PO seed: "
             "the first update with any stable FP precedes the first with an unstable one "
             "(or none ever appears), the tracked stable FP's θ at the final update has "
             "|θ| < π/4, and the tracked unstable FP's θ has |θ| > 3π/4; holds if more than "
             "half of the PO seeds satisfy all three.",
        holds=holds3, figure=f"{FIGURES_DIR}/{FIGURE_FILES['fig1c']}",
        stats={"seeds": ip(results["agent_seed"][po]) if po else [],
               "first_stable": ip(fs), "first_unstable": ip(fu),
               "persistent_stable": ip(ps), "persistent_unstable": ip(pu),
               "final_stable_theta": _fl(th_s), "final_unstable_theta": _fl(th_u),
               "stable_first": [bool(v) for v in stable_first],
               "stable_near_goal": [bool(v) for v in near_goal],
               "unstable_near_hanging": [bool(v) for v in near_hang],
               "checkpoints_with_stable": n_stable_ckpt,
               "checkpoints_with_unstable": n_unstable_ckpt,
               "n_seeds_ok": int(seed_ok.sum()), "n_seeds": len(po),
               "final_update": u_final},
        measured=(f"first stable FP at updates {ip(fs)}, first unstable at {ip(fu)} (−1: "
                  f"never); final stable θ {_fmt_list(th_s)}, unstable θ "
                  f"{_fmt_list(th_u)} rad; checkpoints with an unstable FP per seed: "
                  f"{n_unstable_ckpt} of {len(results['updates'])}; "
                  f"{int(seed_ok.sum())}/{len(po)} PO seeds "
                  f"meet all three conditions")))

    # 4. proximity vs reward-to-go ---------------------------------------------------------
    _, _, _, reg = _reward_to_go(results, po, "return_R")
    _, _, _, reg_eval = (_reward_to_go({**results, "eval_return":
                                        np.asarray(run.metrics["eval_return"], np.float64)},
                                       po, "eval_return")
                         if "eval_return" in run.metrics else (None, None, None, None))
    rd = reg.to_dict() if reg is not None else {}
    holds4 = bool(reg is not None and np.isfinite(reg.p_value) and reg.p_value < ALPHA
                  and reg.slope > 0)
    claims.append(dict(
        id=4, claim="The stable fixed point's distance to its final location correlates "
                    "with reward-to-go (significant, over 5 seeds).",
        rule="For each PO seed and update t < U: d_t = distance of the tracked stable FP to "
             "its final location, g_t = R_U − R_t with R_t the mean return of 10 "
             "deterministic episodes of checkpoint t (the policy-map rollouts). Pooled "
             "linear regression of g on d; holds if p < 0.05 and slope > 0.",
        holds=holds4, figure=f"{FIGURES_DIR}/{FIGURE_FILES['fig1d']}",
        stats={**{k: (_f(v) if k != "n" else int(v)) for k, v in rd.items()},
               "n_seeds": len(po), "return": "rollout_10_episodes",
               "eval_return_regression": ({k: (_f(v) if k != "n" else int(v))
                                           for k, v in reg_eval.to_dict().items()}
                                          if reg_eval is not None else None)},
        measured=(f"slope {_fmt(rd.get('slope'))} (return per hidden-state unit), r "
                  f"{_fmt(rd.get('r'))}, p {_fmt_p(rd.get('p_value'))}, n {rd.get('n', 0)} "
                  f"pairs from {len(po)} PO seeds" + (
                      f"; with the trainer's 16-episode eval_return as R: slope "
                      f"{_fmt(reg_eval.slope)}, r {_fmt(reg_eval.r)}, p "
                      f"{_fmt_p(reg_eval.p_value)}" if reg_eval is not None else ""))))

    # 5. timescales rise then fall ----------------------------------------------------------
    conf = CLAIM_CONFIDENCE
    tau = results["tau_avg"]
    st5: dict[str, Any] = {"confidence": conf}
    holds5 = False
    measured5 = "no PO agent"
    if po:
        curve, lo, hi = _tau_curve(results, po)
        ci_kind = (f"Student t across the {len(po)} PO seed means" if len(po) > 1
                   else "over rollout steps (one seed)")
        if np.isfinite(curve).any():
            peak = int(np.nanargmax(curve))
            inside = 0 < peak < len(curve) - 1
            above = bool(lo[peak] > hi[0] and lo[peak] > hi[-1])
            holds5 = bool(inside and above)
        else:
            peak, inside, above = -1, False, False
        per_seed = []
        for i in po:
            c, ci = tau[i], results["tau_avg_ci"][i]
            if np.isfinite(c).any():
                p_ = int(np.nanargmax(c))
                per_seed.append(bool(0 < p_ < len(c) - 1 and ci[p_, 0] > ci[0, 1]
                                     and ci[p_, 0] > ci[-1, 1]))
            else:
                per_seed.append(False)
        st5.update(ci_kind=ci_kind, peak_update=peak, peak_inside=bool(inside),
                   peak_above_both_ends=above,
                   tau_update0=_f(curve[0]), tau_update0_ci=[_f(lo[0]), _f(hi[0])],
                   tau_peak=_f(curve[peak]) if peak >= 0 else None,
                   tau_peak_ci=[_f(lo[peak]), _f(hi[peak])] if peak >= 0 else None,
                   tau_final=_f(curve[-1]), tau_final_ci=[_f(lo[-1]), _f(hi[-1])],
                   n_seeds=len(po), per_seed_step_ci_holds=per_seed,
                   per_seed_peak_update=[int(np.nanargmax(tau[i])) if np.isfinite(tau[i]).any()
                                         else -1 for i in po],
                   fo_tau_update0=_f(_nanmean(tau[fo][:, 0])) if fo else None,
                   fo_tau_peak_update=int(np.nanargmax(_nanmean(tau[fo]))) if fo else None,
                   fo_tau_peak=_f(np.nanmax(_nanmean(tau[fo]))) if fo else None,
                   fo_tau_final=_f(_nanmean(tau[fo][:, -1])) if fo else None,
                   unit="steps", dt_s=0.05)
        measured5 = (f"PO mean top-5 τ {_fmt(curve[0])} [{_fmt(lo[0])}, {_fmt(hi[0])}] steps "
                     f"at update 0, peak {_fmt(curve[peak]) if peak >= 0 else 'n/a'} "
                     f"[{_fmt(lo[peak])}, {_fmt(hi[peak])}] at update {peak}, final "
                     f"{_fmt(curve[-1])} [{_fmt(lo[-1])}, {_fmt(hi[-1])}] at update "
                     f"{len(curve) - 1} ({int(conf * 100)}% CI: {ci_kind}); "
                     f"{sum(per_seed)}/{len(po)} seeds show a rise then fall individually "
                     f"with the paper's per-step CI")
    claims.append(dict(
        id=5, claim="The top-5 integration timescales τ rise, then fall over training.",
        rule="τ̄_t = mean over rollout steps of the mean of the top-5 τ_i = |1/ln|λ_i|| of "
             "J_t = diag(1−h_t²)W_h. PO seed-mean curve with a 99% Student-t interval "
             "across seeds; holds if its maximum lies strictly between update 0 and the "
             "final update and its lower bound exceeds the upper bounds at both ends.",
        holds=holds5, stats=st5, figure=f"{FIGURES_DIR}/{FIGURE_FILES['fig1e']}",
        measured=measured5))
    return claims


def _nth(k: int) -> str:
    return "step" if k == 1 else f"{k}{'nd' if k == 2 else 'rd' if k == 3 else 'th'} step"


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    return f"{x:.{digits}g}" if math.isfinite(x) else "n/a"


def _fmt_p(p) -> str:
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    p = float(p)
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _fmt_list(a) -> str:
    return "[" + ", ".join(_fmt(v, 2) for v in np.asarray(a, np.float64).tolist()) + "]"


# ----------------------------------------------------------------------------- figures

def _representative(results, run, fig_seed: int | None) -> tuple[int, int | None, int | None]:
    """(seed, PO agent, FO agent) shown in Fig 1b–1d (non-diverged where possible)."""
    excluded = set(diverged_agents(run))
    seeds = results["agent_seed"].tolist()
    obs = results["agent_obs"].tolist()

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


def draw_figures(results: dict[str, np.ndarray], run, outdir, *,
                 options: AnalysisOptions | None = None, progress: bool = False,
                 timings: dict | None = None) -> dict[str, Path]:
    """Learning curves and Fig 1b–1e as PNGs in `outdir` (from `results` only).

    Returns:
      {figure key: path} for `FIGURE_FILES`.
    """
    from rnnctl import plotting

    opts = options or AnalysisOptions.from_dict(json.loads(str(results["options_json"])))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    timings = {} if timings is None else timings
    log = progress if isinstance(progress, _Log) else _Log(progress)
    stages = results["stages"].astype(int).tolist()
    seed, a_po, a_fo = _representative(results, run, opts.fig_seed)
    excluded = set(diverged_agents(run))
    groups = _groups(results, excluded)
    paths = {k: outdir / v for k, v in FIGURE_FILES.items()}

    def figure(key):
        return _stage(f"draw_figures: {FIGURE_FILES[key][:-4]}", timings, log)

    with figure("learning_curves"):
        ret = np.asarray(run.metrics["eval_return"], np.float64)
        plotting.learning_curves(ret, [o.upper() for o in results["agent_obs"].tolist()],
                                 path=paths["learning_curves"],
                                 ylabel="deterministic return (eval, 16 episodes)",
                                 title="Learning curves (all agents)")

    with figure("fig1b"):
        maps, sharp, rows = {}, {}, []
        for o, a in (("PO", a_po), ("FO", a_fo)):
            if a is None:
                continue
            label = f"{o} seed {seed}"
            maps[label] = results["stage_map_torque"][a]
            sharp[label] = results["sharpness"][a][stages]
            rows.append(label)
        if not rows:
            raise ValueError("no non-diverged agent to draw")
        plotting.fig1b_policy(maps, stages, theta_edges=results["map_theta_edges"],
                              theta_dot_edges=results["map_theta_dot_edges"],
                              sharpness=sharp, rows=rows, path=paths["fig1b"])

    a_geo = a_po if a_po is not None else a_fo
    with figure("fig1c"):
        proj = results["stage_proj"][a_geo][..., :2]
        mean, comp = results["stage_pca_mean"][a_geo], results["stage_pca_components"][a_geo]
        stable, unstable = [], []
        for j, c in enumerate(stages):
            x = results["fp_xstar"][a_geo, c]
            z = (x - mean[j]) @ comp[j, :2].T
            stable.append(z[results["fp_stable"][a_geo, c]])
            unstable.append(z[results["fp_valid"][a_geo, c] & ~results["fp_stable"][a_geo, c]])
        plotting.fig1c_geometry(proj, results["stage_theta"][a_geo], stages, stable=stable,
                                unstable=unstable, ring_score=results["ring"][a_geo][stages],
                                path=paths["fig1c"])

    with figure("fig1d"):
        # the final stage's PCs: one frame for the whole path
        mean = results["stage_pca_mean"][a_geo][-1]
        comp = results["stage_pca_components"][a_geo][-1]
        path_pc = (results["track_s_path"][a_geo] - mean) @ comp[:2].T
        d, g, seeds, reg = _reward_to_go(results, groups["po"], "return_R")
        nan = float("nan")
        plotting.fig1d_fixed_points(
            path_pc, results["return_R"][a_geo], d, g, seed_ids=seeds,
            slope=reg.slope if reg else nan, intercept=reg.intercept if reg else nan,
            r=reg.r if reg else nan, p=reg.p_value if reg else nan, path=paths["fig1d"])

    with figure("fig1e"):
        # PO as in the paper (FO when there is no PO agent); the same curve and interval
        # as claim 5: seed mean, 99% Student-t interval across seeds (over steps for one)
        o = "po" if groups["po"] else "fo"
        m, lo, hi = _tau_curve(results, groups[o])
        plotting.fig1e_timescales(results["updates"], m, lo, hi, dt=0.05, label=o.upper(),
                                  path=paths["fig1e"])
    return paths


# ----------------------------------------------------------------------------- summary, report

def _clean(obj):
    """JSON-ready copy: NumPy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def write_summary(summary: dict, path) -> None:
    """Write summary.json atomically, as strict JSON (NaN and inf become null)."""
    from rnnctl.runs import atomic_write
    data = (json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def _summary(run, results, claims, timing: dict, opts: AnalysisOptions) -> dict:
    excluded = set(diverged_agents(run))
    final = np.asarray(run.metrics["eval_return"], np.float64)[:, -1]
    fr = [{"agent": i, "seed": a["seed"], "obs": a["obs"], "eval_return": _f(final[i])}
          for i, a in enumerate(run.agents)]
    means, sds = {}, {}
    for o in ("fo", "po"):
        v = [final[i] for i, a in enumerate(run.agents) if a["obs"] == o and i not in excluded]
        means[o] = _f(np.mean(v)) if v else None
        sds[o] = _f(np.std(v, ddof=1)) if len(v) > 1 else None
    diverged = list(run.info.get("diverged", []) or [])
    known = {int(d["agent"]) for d in diverged}
    for i in excluded - known:  # flagged in the metrics only
        a = run.agents[i]
        diverged.append({"agent": i, "seed": a["seed"], "obs": a["obs"],
                         "update": int(np.flatnonzero(run.metrics["diverged"][i] > 0)[0])})
    seed, a_po, a_fo = _representative(results, run, opts.fig_seed)
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "run": str(run.path),
        "config": run.config.to_dict(),
        "agents": [{"agent": i, **a, "diverged": i in excluded} for i, a in enumerate(run.agents)],
        "final_return": fr,
        "final_return_mean": means,
        "final_return_sd": sds,
        "diverged": diverged,
        "excluded_from_claims": sorted(excluded),
        "claims": claims,
        "figures": {k: f"{FIGURES_DIR}/{v}" for k, v in FIGURE_FILES.items()},
        "figure_agents": {"seed": seed, "po_agent": a_po, "fo_agent": a_fo},
        "stages": results["stages"].astype(int).tolist(),
        "timing": timing,
        "analysis_options": opts.to_dict(),
        "analysis_notes": {
            "R_t": f"mean return of the first {opts.return_episodes} of the "
                   f"{opts.map_episodes} deterministic policy-map episodes of each checkpoint "
                   "(the same random starts at every checkpoint)",
            "timescales": f"every {_nth(opts.tau_stride)} of the {opts.episodes * 200} "
                          f"rollout steps ({int(results['tau_steps'])} eigen-decompositions "
                          f"per checkpoint), LAPACK sgeev in {opts.tau_workers} threads",
            "fixed_point_input": "goal observation x* (θ=0, θ̇=0)",
        },
    }


def write_report(summary: dict, path) -> None:
    """report.md for a person, from summary.json's content alone (written atomically)."""
    from rnnctl.runs import atomic_write
    s = _clean(summary)
    cfg = s["config"]
    t = s["timing"]
    fm, fsd = s["final_return_mean"], s.get("final_return_sd", {})
    n = {o: sum(1 for a in s["agents"] if a["obs"] == o) for o in ("fo", "po")}
    opts = s["analysis_options"]
    lines = [
        "# rnnctl analysis report",
        "",
        f"Run: `{s['run']}`",
        "",
        "## Run",
        "",
        f"- {len(s['agents'])} agents: {n['fo']} FO, {n['po']} PO (seeds "
        f"{sorted({a['seed'] for a in s['agents']})}); vanilla RNN, {cfg['hidden']} units, "
        f"input encoding `{cfg['encoding']}`",
        f"- recurrent PPO: {cfg['n_updates']} updates × {cfg['n_envs'] * cfg['rollout_len']} "
        f"environment steps per agent; lr {cfg['lr']}, γ {cfg['gamma']}, λ "
        f"{cfg['gae_lambda']}, {cfg['n_epochs']} epochs × {cfg['n_minibatches']} minibatches",
        f"- final deterministic return (eval, 16 episodes, update {cfg['n_updates']}): "
        f"FO {_fmt(fm.get('fo'), 4)} ± {_fmt(fsd.get('fo'), 3)}, PO {_fmt(fm.get('po'), 4)} "
        f"± {_fmt(fsd.get('po'), 3)} (mean ± sd over seeds)",
        f"- diverged agents: " + (", ".join(f"agent {d['agent']} (seed {d['seed']}, "
                                            f"{d['obs']}, update {d['update']})"
                                            for d in s["diverged"])
                                  + " — left out of every claim" if s["diverged"] else "none"),
        "",
        f"![learning curves]({s['figures']['learning_curves']})",
        "",
        "## Timing",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    rows = [("compile_s", "training: compile"), ("train_s", "training: updates"),
            *((f"{k}_s", f"analysis: {k.replace('_', ' ')}") for k in
              ("rollouts", "fixed_points", "fp_tracking", "timescales", "geometry",
               "policy_maps")),
            ("analysis_s", "analysis: all of the above (compile included)"),
            ("figures_s", "figures"),
            ("total_analysis_s", "analysis stage total (compute, save, claims, figures)")]
    for key, label in rows:
        if isinstance(t.get(key), (int, float)):
            lines.append(f"| {label} | {t[key]:.1f} |")
    if t.get("analysis_reused"):
        lines.append("\nThe analysis was loaded from analysis.npz (reuse), not recomputed.")
    if t.get("env_steps_per_s") is not None:
        lines.append(f"\nTraining throughput: {t['env_steps_per_s']:,.0f} environment steps "
                     "per second.")
    lines += [
        "",
        "## Analysis settings",
        "",
        f"- {opts['episodes']} deterministic episodes ({opts['episodes'] * 200} steps) per "
        f"checkpoint, the same random starts for every agent and checkpoint",
        f"- fixed points at the goal input x* (θ=0, θ̇=0): {opts['fp_init']} initial states "
        f"(visited states + noise {opts['fp_noise']}), {opts['fp_opt_steps']} Adam steps, "
        f"{opts['fp_newton_steps']} Newton steps, q < {opts['fp_tol_q']:g}",
        f"- timescales: {s['analysis_notes']['timescales']} (tau_stride "
        f"{opts['tau_stride']}; 1 = all steps, the paper's estimator)",
        f"- policy maps: {opts['map_episodes']} episodes per checkpoint, "
        f"{opts['map_bins']}×{opts['map_bins']} bins; R_t = "
        f"{s['analysis_notes']['R_t']}",
        f"- figures show seed {s['figure_agents']['seed']}; stages (updates) "
        f"{s['stages']}",
        "",
        "## The paper's claims",
        "",
        "Each claim is decided by the fixed rule stated with it (chosen before looking at "
        "any run); diverged agents are left out.",
        "",
        "| # | claim | verdict |",
        "|---|---|---|",
        *(f"| {c['id']} | {c['claim']} | {'holds' if c['holds'] else 'does not hold'} |"
          for c in s["claims"]),
        "",
    ]
    for c in s["claims"]:
        verdict = "**holds**" if c["holds"] else "**does not hold**"
        lines += [
            f"### Claim {c['id']}",
            "",
            f"**Paper:** {c['claim']}",
            "",
            f"**Rule:** {c['rule']}",
            "",
            f"**Measured:** {c['measured']}.",
            "",
            f"**Verdict:** {verdict}. Figure: [{c['figure']}]({c['figure']})",
            "",
            f"![claim {c['id']}]({c['figure']})",
            "",
        ]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


# ----------------------------------------------------------------------------- entry point

def analyse_run(run_dir, *, progress: bool = True, options: AnalysisOptions | None = None,
                reuse: bool = False) -> dict:
    """Analyse a saved run: analysis.npz, figures/*.png, summary.json and report.md in it.

    Args:
      run_dir: a complete run directory (`runs.save_run`, `experiment.train_to_dir`).
      progress: progress lines on stderr.
      options: `AnalysisOptions` (default `DEFAULT_OPTIONS`; `QUICK_OPTIONS` for a smoke
        test).
      reuse: if the run directory already holds an analysis.npz made with the same options
        from the same checkpoints, load it instead of recomputing (e.g. after a figure
        failed); otherwise compute as usual.
    Returns:
      The summary (what summary.json holds).
    Raises:
      PipelineError: a stage failed (its message names the stage, and the agent and
        checkpoint where known); files of earlier stages are kept.
    """
    from rnnctl.runs import load_run, write_npz

    log = _Log(progress)
    run_dir = Path(run_dir)
    timings: dict[str, float] = {}
    kept: list[str] = []
    opts = (options or DEFAULT_OPTIONS).validate().resolved()

    def guard(name):
        return _stage(name, timings, log)

    try:
        with guard("load"):
            run = load_run(run_dir)
        results = None
        if reuse and (run_dir / ANALYSIS_FILE).is_file():
            with guard("load_analysis"):
                try:
                    old = load_analysis(run_dir)
                    same = (str(old.get("options_json")) == json.dumps(opts.to_dict(),
                                                                        sort_keys=True)
                            and str(old.get("checkpoints_sha256")) == _checkpoints_digest(run))
                except Exception:
                    same = False
                if same:
                    results = old
                    log(f"reusing {run_dir / ANALYSIS_FILE}")
        if results is None:
            sub: dict[str, float] = {}
            t0 = time.perf_counter()
            with guard("compute_analysis"):
                results = compute_analysis(run, opts, progress=progress, timings=sub)
            timings.update({f"{k}": v for k, v in sub.items()})
            timings["compute_analysis"] = time.perf_counter() - t0
            with guard("save_analysis"):
                write_npz(run_dir / ANALYSIS_FILE, results)
            kept.append(ANALYSIS_FILE)
        else:
            kept.append(ANALYSIS_FILE)

        with guard("evaluate_claims"):
            claims = evaluate_claims(results, run)

        def timing_block(figures_s):
            info = run.info.get("timing", {}) or {}
            block = {"compile_s": info.get("compile_s"), "train_s": info.get("train_s"),
                     "env_steps_per_s": info.get("env_steps_per_s"),
                     "analysis_s": timings.get("compute_analysis",
                                               timings.get("load_analysis")),
                     "analysis_reused": "compute_analysis" not in timings,
                     "figures_s": figures_s}
            for k in ("rollouts", "fixed_points", "fp_tracking", "timescales", "geometry",
                      "policy_maps", "save_analysis", "evaluate_claims"):
                if k in timings:
                    block[f"{k}_s"] = timings[k]
            return block

        with guard("write_summary"):
            summary = _summary(run, results, claims, timing_block(None), opts)
            write_summary(summary, run_dir / SUMMARY_FILE)
        kept.append(SUMMARY_FILE)

        t0 = time.perf_counter()
        fig_t: dict[str, float] = {}
        draw_figures(results, run, run_dir / FIGURES_DIR, options=opts, progress=log,
                     timings=fig_t)
        figures_s = time.perf_counter() - t0
        kept.append(f"{FIGURES_DIR}/")

        with guard("write_report"):
            summary["timing"] = timing_block(figures_s)
            summary["timing"]["total_analysis_s"] = sum(
                v for k, v in timings.items()
                if k in ("load", "load_analysis", "compute_analysis", "save_analysis",
                         "evaluate_claims", "write_summary")) + figures_s
            write_summary(summary, run_dir / SUMMARY_FILE)
            write_report(summary, run_dir / REPORT_FILE)
    except PipelineError as e:
        e.kept = list(kept)
        if kept:
            e.args = (f"{e.args[0]} [kept in {run_dir}: {', '.join(kept)}]",)
        raise
    log("done: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()
                             if k in ("compute_analysis", "load_analysis", "evaluate_claims"))
        + f", figures {figures_s:.1f}s; wrote {run_dir / SUMMARY_FILE}, "
          f"{run_dir / REPORT_FILE}")
    return _clean(summary)
