"""Every setting of the paper's analysis of a run, and of the rules that decide its claims.

`AnalysisOptions` fixes what is computed (saved with the results: re-analysis with other
options recomputes); `ClaimOptions` fixes how the claims are decided from those results
(changing it never needs a recomputation). Both are frozen: thresholds are chosen before
looking at any run and never tuned to make a claim pass.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

__all__ = ["AnalysisOptions", "ClaimOptions", "DEFAULT_OPTIONS", "QUICK_OPTIONS",
           "DEFAULT_CLAIM_OPTIONS", "default_stages"]


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
      fp_continue: fresh starts per checkpoint of the search by continuation: the
        checkpoints are searched in order, each from the previous checkpoint's fixed
        points plus this many fresh starts (`stages.fixed_points_continued_agent`), and
        the fixed-point manifold's inputs in order around the ring likewise; 0: every
        checkpoint (and manifold input) searched independently from fp_init
        (manifold_fp_init) fresh starts, as the atlas was analysed.
      fp_carry: slots refined at a continued checkpoint and carried to the next (at most
        fp_max_points; the valid points first; the other slots are returned empty).
      fp_chains: the continuation runs in this many chains of consecutive checkpoints side
        by side; each chain's first checkpoint gets the independent search.
      fp_start_strata: the search's initial states are stratified over this many equal θ
        bins of the visited states (0: uniform over visited steps), so that the rarely
        visited hanging region is searched (rules v2; docs/methods.md).
      probe_bins, probe_steps: the probe policy map (claim 1, rules v2): a
        probe_bins × probe_bins grid over [-π, π) × [-8, 8], each bin read after an
        unforced history of probe_steps states ending there (`analysis.probe_histories`).
      manifold_inputs: M, constant inputs θ on a ring [-π, π) at which fixed points are
        searched at every stage (the fixed-point manifold; 0: off).
      manifold_fp_init, manifold_max_points: initial states and slots of those searches.
      checkpoint_stride: analyse every k-th update (plus the last one and every stage);
        1 = all (a large sweep, e.g. the atlas, analyses a subset).
      tau_top: the k largest τ per step (the paper: 5).
      tau_stride: analyse every tau_stride-th rollout step for the timescales.
      tau_workers: threads for the eigen-decompositions (None: os.cpu_count()).
      tau_confidence: coverage of the timescale intervals (the paper: 0.99).
      drive_stride: the input drive along trajectories linearises the cell at every
        drive_stride-th step of each episode (`analysis.input_drive_along`; 50: 4 steps of
        each 200-step episode).
      flow_grid: points per side of the flow-field grid at the figure stages (0: off).
      slow_q_max: largest speed q of a slow point (`FixedPoints.slow_points`).
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
    fp_newton_steps: int = 12
    fp_max_points: int = 32
    fp_tol_q: float = 1e-10
    fp_theta_k: int = 10
    fp_continue: int = 16
    fp_carry: int = 16
    fp_chains: int = 4
    fp_start_strata: int = 8
    probe_bins: int = 32
    probe_steps: int = 20
    manifold_inputs: int = 32
    manifold_fp_init: int = 64
    manifold_max_points: int = 8
    checkpoint_stride: int = 1
    tau_top: int = 5
    tau_stride: int = 2
    tau_workers: int | None = None
    tau_confidence: float = 0.99
    drive_stride: int = 50
    flow_grid: int = 32
    slow_q_max: float = 1e-4
    stages: tuple[int, ...] | None = None
    fig_seed: int | None = None

    def validate(self) -> "AnalysisOptions":
        """Raise ValueError (one line, naming the field) for an invalid setting."""
        for name in ("episodes", "map_episodes", "map_bins", "return_episodes", "fp_init",
                     "fp_opt_steps", "fp_max_points", "fp_theta_k", "tau_top", "tau_stride",
                     "manifold_fp_init", "manifold_max_points", "checkpoint_stride",
                     "drive_stride"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"AnalysisOptions.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.manifold_inputs, int) or self.manifold_inputs < 0:
            raise ValueError("AnalysisOptions.manifold_inputs must be a non-negative integer")
        for name in ("fp_continue", "fp_carry", "fp_chains"):
            v = getattr(self, name)
            low = 0 if name == "fp_continue" else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"AnalysisOptions.{name} must be a "
                                 f"{'non-negative' if low == 0 else 'positive'} integer, "
                                 f"got {v!r}")
        if not isinstance(self.fp_start_strata, int) or self.fp_start_strata < 0:
            raise ValueError("AnalysisOptions.fp_start_strata must be a non-negative integer")
        for name in ("probe_bins", "probe_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (2 if name == "probe_bins" else 1):
                raise ValueError(f"AnalysisOptions.{name} must be an integer >= "
                                 f"{2 if name == 'probe_bins' else 1}, got {v!r}")
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
        if (not isinstance(self.flow_grid, int) or isinstance(self.flow_grid, bool)
                or self.flow_grid < 0 or self.flow_grid == 1):
            raise ValueError(f"AnalysisOptions.flow_grid must be 0 (off) or an integer >= 2, "
                             f"got {self.flow_grid!r}")
        if not self.slow_q_max > self.fp_tol_q:
            raise ValueError(f"AnalysisOptions.slow_q_max ({self.slow_q_max}) must exceed "
                             f"fp_tol_q ({self.fp_tol_q})")
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
                                fp_max_points=8, tau_stride=4, drive_stride=25,
                                flow_grid=16,
                                manifold_inputs=8, probe_bins=16, probe_steps=10,
                                manifold_fp_init=16, manifold_max_points=4,
                                fp_continue=8, fp_carry=4, fp_chains=2)


def default_stages(n_updates: int) -> tuple[int, ...]:
    """About 0, 10 %, 25 %, 50 % and 100 % of `n_updates` (distinct, sorted; 0 and U kept)."""
    return tuple(sorted({int(round(f * n_updates)) for f in (0.0, 0.1, 0.25, 0.5, 1.0)}))


@dataclass(frozen=True)
class ClaimOptions:
    """The fixed thresholds of the claim rules (`rnnctl.paper.claims`).

    Attributes:
      near_goal: claim 3: the stable fixed point "ends near θ = 0" if |θ| < near_goal.
      near_hanging: claim 3: the unstable one "ends near ±π" if |θ| > near_hanging.
      alpha: significance level of every test.
      ci_level: coverage of every reported confidence interval (two-sided).
      persist: claim 3: a kind of fixed point "emerges" at the first analysed checkpoint
        from which it exists at this many consecutive checkpoints.
      learning_start: claim 2: learning starts at the first checkpoint with this fraction
        of the seed's return gain.
      tau_middle: claim 5: the early-to-middle window, as fractions of the updates.
      tau_end_updates: claim 5: the final window, the last this many updates.

    Rules v2 (docs/methods.md §7, `rnnctl.paper.claims_v2`):
      final_updates: "the end of training" = the analysed checkpoints of the last this
        many updates, averaged (claims 1, 2, 5).
      persist_updates: claim 3: a location-qualified point "exists from update u" if it
        exists at every analysed checkpoint of updates u..u + persist_updates.
      theta_confidence: claim 3: a fixed point's decoded θ counts only if the decoded
        vector is at least this long.
      theta_distance: claim 3: ... and the point lies within this fraction of the visited
        cloud's RMS radius of a visited state.
      tau_blocks: claim 5: contiguous blocks per checkpoint of the block bootstrap over
        correlated rollout steps.
      tau_resamples: claim 5: bootstrap resamples.
      tau_level: claim 5: coverage of the step-level intervals (the paper's 99 %).
    """

    near_goal: float = math.pi / 4
    near_hanging: float = 3 * math.pi / 4
    alpha: float = 0.05
    ci_level: float = 0.95
    persist: int = 3
    learning_start: float = 0.1
    tau_middle: tuple[float, float] = (0.1, 0.5)
    tau_end_updates: int = 10
    final_updates: int = 10
    persist_updates: int = 10
    theta_confidence: float = 0.5
    theta_distance: float = 0.5
    tau_blocks: int = 20
    tau_resamples: int = 2000
    tau_level: float = 0.99

    def validate(self) -> "ClaimOptions":
        if not 0 < self.near_goal < self.near_hanging <= math.pi:
            raise ValueError("ClaimOptions: need 0 < near_goal < near_hanging <= π")
        if not 0 < self.alpha < 1 or not 0 < self.ci_level < 1:
            raise ValueError("ClaimOptions: alpha and ci_level must lie in (0, 1)")
        if not isinstance(self.persist, int) or self.persist < 1:
            raise ValueError("ClaimOptions.persist must be a positive integer")
        if not 0 <= self.tau_middle[0] < self.tau_middle[1] <= 1:
            raise ValueError("ClaimOptions.tau_middle must be (lo, hi) with 0 <= lo < hi <= 1")
        for name in ("tau_end_updates", "final_updates", "persist_updates", "tau_blocks",
                     "tau_resamples"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"ClaimOptions.{name} must be a positive integer")
        if not 0 < self.theta_confidence < 1 or not self.theta_distance > 0:
            raise ValueError("ClaimOptions: theta_confidence must lie in (0, 1) and "
                             "theta_distance be positive")
        if not 0 < self.tau_level < 1:
            raise ValueError("ClaimOptions.tau_level must lie in (0, 1)")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tau_middle"] = list(self.tau_middle)
        return d


DEFAULT_CLAIM_OPTIONS = ClaimOptions()
