"""The analysis of a run as one typed object, and its versioned file (`analysis.npz`).

Axes: A agents, C analysed checkpoints, S figure stages, X fixed-point inputs (goal, zero,
hanging), K fixed-point slots (`fp_max_points`), M manifold inputs (`manifold_inputs`),
K' manifold slots (`manifold_max_points`), H hidden units, N rollout steps per checkpoint (episodes × 200),
B policy-map bins, k `tau_top`, G flow-field grid points per side (`flow_grid`). NaN (False, or -1 for indices) marks "none", and every
checkpoint of a diverged agent from its first non-finite update on.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from flax import struct

__all__ = ["AnalysisResults", "ANALYSIS_FILE", "RESULTS_FORMAT_VERSION", "load_analysis"]

ANALYSIS_FILE = "analysis.npz"
#: Version of the analysis.npz layout; a file of another version is recomputed, not read.
RESULTS_FORMAT_VERSION = 6


@struct.dataclass
class AnalysisResults:
    """Every analysis of docs/methods.md §4 for every agent and analysed checkpoint (NumPy).

    Attributes:
      updates: [C] update index of each analysed checkpoint.
      stages: [S] updates shown in the figures and compared in claims 1–2.
      usable: [A, C] bool: finite parameters, before the agent diverged.
      agent_seed: [A] seed. agent_obs: [A] "fo" / "po".
      roll_return: [A, C] mean return of the analysis rollouts.
      return_R: [A, C] R_t: mean return of the first `return_episodes` map episodes.
      fp_inputs: [X] names of the constant inputs x* of the fixed-point search.
      fp_xstar: [A, C, X, K, H] fixed-point slots at each input.
      fp_valid: [A, C, X, K] bool. fp_stable: [A, C, X, K] bool: valid and stable.
      fp_qstar: [A, C, X, K] speed q. fp_max_abs_eig: [A, C, X, K] max |λ| of ∂F/∂h.
      fp_theta: [A, C, X, K] θ a fixed point represents (circular mean of nearest states).
      fp_theta_dec: [A, C, X, K] θ read by a linear decoder of (cos θ, sin θ) fitted on
        the checkpoint's visited states (`analysis.decode_theta`); fp_theta_conf: its
        confidence (length of the decoded vector); fp_dist_visited: the point's distance
        to the nearest visited state / the visited cloud's RMS radius.
      fp_decoder_r2: [A, C] R² of that decoder on the visited states.
      track_s_path: [A, C, H] the stable fixed point at the goal input tracked back from
        the end (target θ = 0). track_s_distance: [A, C] its distance to its final
        location (d_t). track_s_theta: [A, C] its θ. track_s_index: [A, C] its slot (-1).
      track_s_start: [A] checkpoint (position) the track starts from.
      fp_slow: [A, C, X, K] bool: the slot ended at a slow point, not a fixed point
        (`FixedPoints.slow_points` with q ≤ `slow_q_max`); its location is fp_xstar.
      drive_fp: [A, C, k] input drive ‖l_iᵀ J_inp diag(m)‖ of the k slowest stable modes
        of the linear system at the tracked stable point (track_s_path, goal input), over
        the inputs the agent observes (mask m); NaN: no point or fewer stable modes.
      drive_fp_aligned: [A, C, k] the same normalised, / (‖l_i‖ ‖J_inp diag(m)‖₂) ∈ [0, 1].
      drive_fp_tau: [A, C, k] those modes' τ (steps). drive_fp_gain: [A, C] ‖J_inp diag(m)‖₂.
      drive_traj, drive_traj_aligned: [A, C, k] the same at the rollouts' visited states
        and inputs, averaged over every `drive_stride`-th step; drive_traj_gain: [A, C].
      drive_steps: [] rollout steps per checkpoint averaged in drive_traj.
      manifold_theta_in: [M] the ring of input angles θ_in.
      manifold_valid, manifold_stable: [A, S, M, K'] bool: fixed points at input θ_in, at
        each stage. manifold_theta: [A, S, M, K'] the θ each represents.
      manifold_proj: [A, S, M, K', 3] those fixed points in the stage's top-3 PCs.
      tau_avg: [A, C] mean over steps of the per-step mean of the top-k τ (steps).
      tau_avg_ci: [A, C, 2] its `tau_confidence` interval over steps.
      tau_mean: [A, C, k] mean over steps of the i-th largest τ; tau_ci: [A, C, k, 2].
      tau_frac_capped: [A, C] fraction of τ clipped at 1e4 steps.
      tau_steps: [] steps per checkpoint used for τ.
      tau_step: [A, C, N'] per-step mean of the top-k τ at the N' analysed steps (NaN: no
        stable mode), for step-level intervals (block bootstrap, rules v2).
      tau_unstable_frac: [A, C] fraction of analysed steps with a mode |λ| > 1.
      saturation: [A, C] mean of 1 − h² over the rollout steps (1: linear, 0: saturated).
      h_mean: [A, C, H] mean visited hidden state.
      param_dist_final: [A, C] Euclidean distance of all parameters to the last analysed
        checkpoint's.
      ring: [A, C] ring score of h. ring_input: [A, C] ring score of the input x.
      ring_drift: [A, C] ring score of the drift control: the agent's update-0 network
        moved along one random direction by training's distance ‖θ_t − θ_0‖.
      ring_closure, ring_closure_input: [A, C] whether h (and x) close into a ring across
        θ = ±π (`analysis.ring_closure`; NaN if an end bin was not visited).
      participation_ratio: [A, C] (Σλ)²/Σλ² of the covariance of h (dimensionality).
      theta_var_explained: [A, C] fraction of the variance of h explained by θ.
      pc_var_ratio: [A, C, 3] explained variance ratio of the top 3 PCs.
      stage_pca_mean: [A, S, H]. stage_pca_components: [A, S, 3, H].
      stage_proj: [A, S, N, 3] hidden states in the stage's top-3 PCs.
      stage_theta: [A, S, N] θ of those states.
      stage_flow_coords: [A, S, G, G, 2] grid of the stage's top-2 PC plane (the plane of
        stage_proj's first two coordinates) covering its visited states.
      stage_flow_speed: [A, S, G, G] speed q = ½‖F(h, x_goal) − h‖² there; stage_flow:
        [A, S, G, G, 2] F(h, x_goal) − h projected on the plane (G = 0: not computed).
      sharpness: [A, C] policy-map sharpness (saturated fraction of visited bins).
      boundary_contrast: [A, C] torque jump across the sign boundary of the map / 2·max.
      map_visited_frac: [A, C] fraction of map bins visited.
      stage_map_torque: [A, S, B, B] policy maps at the stages (NaN: not visited).
      map_theta_edges, map_theta_dot_edges: [B + 1] bin edges.
      probe_contrast: [A, C] boundary contrast of the probe map near upright (|θ| < π/2,
        no seam; `analysis.upright_contrast`). probe_near_zero: [A, C] fraction of its bins
        with |θ| < π/2 whose |torque| < 0.1·max; probe_near_zero_hanging: the same for
        |θ| ≥ 3π/4. stage_probe_torque: [A, S, P, P] probe maps at the stages.
      probe_contrast_drift: [A, C] the upright contrast of the drift control's probe map
        (see ring_drift).
      probe_theta_centers, probe_theta_dot_centers: [P] the probe grid.
      options_json: [] the `AnalysisOptions` as JSON.
      checkpoints_sha256: [] digest of the checkpoints.npz analysed.
    """

    updates: np.ndarray
    stages: np.ndarray
    usable: np.ndarray
    agent_seed: np.ndarray
    agent_obs: np.ndarray
    roll_return: np.ndarray
    return_R: np.ndarray
    fp_inputs: np.ndarray
    fp_xstar: np.ndarray
    fp_valid: np.ndarray
    fp_stable: np.ndarray
    fp_qstar: np.ndarray
    fp_max_abs_eig: np.ndarray
    fp_theta: np.ndarray
    fp_theta_dec: np.ndarray
    fp_theta_conf: np.ndarray
    fp_dist_visited: np.ndarray
    fp_decoder_r2: np.ndarray
    track_s_path: np.ndarray
    track_s_distance: np.ndarray
    track_s_theta: np.ndarray
    track_s_index: np.ndarray
    track_s_start: np.ndarray
    fp_slow: np.ndarray
    drive_fp: np.ndarray
    drive_fp_aligned: np.ndarray
    drive_fp_tau: np.ndarray
    drive_fp_gain: np.ndarray
    drive_traj: np.ndarray
    drive_traj_aligned: np.ndarray
    drive_traj_gain: np.ndarray
    drive_steps: np.ndarray
    manifold_theta_in: np.ndarray
    manifold_valid: np.ndarray
    manifold_stable: np.ndarray
    manifold_theta: np.ndarray
    manifold_proj: np.ndarray
    tau_avg: np.ndarray
    tau_avg_ci: np.ndarray
    tau_mean: np.ndarray
    tau_ci: np.ndarray
    tau_frac_capped: np.ndarray
    tau_steps: np.ndarray
    tau_step: np.ndarray
    tau_unstable_frac: np.ndarray
    saturation: np.ndarray
    h_mean: np.ndarray
    param_dist_final: np.ndarray
    ring: np.ndarray
    ring_input: np.ndarray
    ring_drift: np.ndarray
    ring_closure: np.ndarray
    ring_closure_input: np.ndarray
    participation_ratio: np.ndarray
    theta_var_explained: np.ndarray
    pc_var_ratio: np.ndarray
    stage_pca_mean: np.ndarray
    stage_pca_components: np.ndarray
    stage_proj: np.ndarray
    stage_theta: np.ndarray
    stage_flow_coords: np.ndarray
    stage_flow_speed: np.ndarray
    stage_flow: np.ndarray
    sharpness: np.ndarray
    boundary_contrast: np.ndarray
    map_visited_frac: np.ndarray
    stage_map_torque: np.ndarray
    map_theta_edges: np.ndarray
    map_theta_dot_edges: np.ndarray
    probe_contrast: np.ndarray
    probe_near_zero: np.ndarray
    probe_near_zero_hanging: np.ndarray
    stage_probe_torque: np.ndarray
    probe_contrast_drift: np.ndarray
    probe_theta_centers: np.ndarray
    probe_theta_dot_centers: np.ndarray
    options_json: np.ndarray
    checkpoints_sha256: np.ndarray

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def n_agents(self) -> int:
        return int(self.agent_seed.shape[0])

    def agents_of(self, obs: str, exclude=()) -> list[int]:
        """Indices of the agents with observability `obs`, minus `exclude`."""
        ex = set(exclude)
        return [i for i, o in enumerate(self.agent_obs.tolist()) if o == obs and i not in ex]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in self.field_names()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], where: str = "analysis") -> "AnalysisResults":
        """Build from a {field: array} mapping; `ValueError` naming the missing fields."""
        missing = [n for n in cls.field_names() if n not in arrays]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        return cls(**{n: np.asarray(arrays[n]) for n in cls.field_names()})

    def save(self, path) -> None:
        """Write atomically as `.npz` with the format version (never pickle)."""
        from rnnctl.runs import write_npz
        arrays = self.to_arrays()
        arrays["results_format_version"] = np.asarray(RESULTS_FORMAT_VERSION)
        write_npz(path, arrays)

    @classmethod
    def load(cls, path) -> "AnalysisResults":
        """Read a file written by `save`; `runs.RunError` if missing, damaged or of another
        format version."""
        from rnnctl.runs import RunError, read_npz
        arrays = read_npz(path)
        version = int(arrays.get("results_format_version", -1))
        if version != RESULTS_FORMAT_VERSION:
            raise RunError(f"{path}: analysis format version {version}, expected "
                           f"{RESULTS_FORMAT_VERSION}; re-run the analysis")
        try:
            return cls.from_arrays(arrays, str(path))
        except ValueError as e:
            raise RunError(str(e)) from e


def load_analysis(run_dir) -> AnalysisResults:
    """A run's analysis.npz as `AnalysisResults` (`runs.RunError` if missing or damaged)."""
    return AnalysisResults.load(Path(run_dir) / ANALYSIS_FILE)
