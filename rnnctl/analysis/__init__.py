"""What a notebook imports: `from rnnctl import analysis`.

Every quantity is defined in docs/methods.md §4. Functions are pure, take batch-first arrays and
return `flax.struct` dataclasses with documented shapes, so each works on one agent at one
checkpoint and under `jax.vmap` over checkpoints and agents:

    from rnnctl import analysis
    roll = jax.vmap(lambda p: analysis.rollout(p, obs="po", key=key))(params)    # [C, E, T]
    fps = jax.vmap(lambda p, h0: analysis.find_fixed_points(
        analysis.rnn_cell(p), x_star, h0))(params, init_states)                  # [C, K]
    tau = jax.vmap(analysis.integration_timescales)(params, roll.h)               # [C, ...]

Paper figure ↔ module: rollouts (all figures) `rnnctl.rollout`; Fig 1b `policy`;
Fig 1c `geometry`, `fixed_points`; Fig 1d `dynamics`; Fig 1e `linearize` (τ along rollouts)
and `linear_system` (the function `linearize`: J_rec, J_inp, modes and their input drive),
`input_drive` (the observed input's drive of the slowest stable modes).

Importing this package loads jax, optax and flax only; `rollout` (which needs the
environment, gymnax) loads on first use.
"""
from rnnctl.analysis.dynamics import (DecodedTheta, FixedPointTrack, Regression, circular_mean,
                                      decode_theta,
                                      fixed_point_theta, reward_to_go_regression,
                                      track_fixed_points)
from rnnctl.analysis.fixed_points import (FixedPoints, continue_fixed_points,
                                          find_fixed_points, rnn_cell,
                                          sample_initial_states, sort_eigvals, speed)
from rnnctl.analysis.flow import FlowField, Plane, flow_field, pca_plane, plane_grid
from rnnctl.analysis.geometry import (PCA, participation_ratio, pca, ring_closure, ring_score,
                                      theta_bin_means, theta_variance_explained)
from rnnctl.analysis.linearize import (Timescales, cell_jacobians, eigvals_host,
                                       integration_timescales,
                                       mean_ci, recurrent_jacobians, timescales,
                                       timescales_from_eigvals, timescales_host)
# After the `linearize` module: the package attribute `analysis.linearize` is the function
# (the module stays importable as `rnnctl.analysis.linearize`).
from rnnctl.analysis.linear_system import Linearization, linearize, linearize_agents
from rnnctl.analysis.input_drive import (InputDrive, input_drive, input_drive_along,
                                         input_drive_at, step_points)
from rnnctl.analysis.policy import PolicyMap, boundary_contrast, policy_map, sharpness
from rnnctl.analysis.probe import (ProbeHistories, near_zero_fraction, probe_histories,
                                   probe_torque, upright_contrast)
# `stats.mean_ci` (NumPy, NaN-aware) is reached as `analysis.stats.mean_ci`: the name
# `mean_ci` here is the jittable one from `linearize`.
from rnnctl.analysis import stats
# Dynamical similarity across networks: `analysis.similarity.dsa(trajectories, n_delays, rank)`.
from rnnctl.analysis import similarity
from rnnctl.analysis.stats import (GeometricMeanCI, MeanCI, SignCount, Stat,
                                   geometric_mean_ci, one_sample_test, paired_test,
                                   sign_count)

__all__ = [
    # rollouts (rnnctl.rollout, loaded lazily)
    "Rollout", "rollout", "goal_input", "hanging_input", "constant_input",
    "fixed_point_inputs", "FP_INPUTS",
    # fixed points
    "FixedPoints", "find_fixed_points", "continue_fixed_points", "rnn_cell",
    "sample_initial_states", "speed", "sort_eigvals",
    # linearisation and timescales
    "timescales", "integration_timescales", "timescales_from_eigvals", "Timescales",
    "recurrent_jacobians", "cell_jacobians", "mean_ci", "eigvals_host", "timescales_host",
    "Linearization", "linearize", "linearize_agents",
    # input drive of the slowest modes (at fixed points and along trajectories)
    "InputDrive", "input_drive", "input_drive_at", "input_drive_along", "step_points",
    # flow fields (slow points: FixedPoints.slow_points)
    "FlowField", "Plane", "flow_field", "pca_plane", "plane_grid",
    # geometry
    "PCA", "pca", "ring_score", "ring_closure", "theta_bin_means", "participation_ratio",
    "theta_variance_explained",
    # policy
    "PolicyMap", "policy_map", "sharpness", "boundary_contrast",
    # policy maps on shared probe histories (claim 1, rules v2)
    "ProbeHistories", "probe_histories", "probe_torque", "upright_contrast",
    "near_zero_fraction",
    # across-seed statistics for the claims (host-side NumPy/SciPy)
    "stats", "Stat", "paired_test", "one_sample_test", "geometric_mean_ci",
    "GeometricMeanCI", "MeanCI", "sign_count", "SignCount",
    # similarity of many networks' dynamics (DSA) and state geometry
    "similarity",
    # dynamics over training
    "fixed_point_theta", "decode_theta", "DecodedTheta", "circular_mean", "track_fixed_points", "FixedPointTrack",
    "reward_to_go_regression", "Regression",
]

_LAZY = {"Rollout", "rollout", "goal_input", "hanging_input", "constant_input",
         "fixed_point_inputs", "FP_INPUTS"}


def __getattr__(name):
    # The rollout needs gymnax, which is slow to import; load it only when asked for.
    if name in _LAZY:
        from rnnctl import rollout as _rollout_module
        return getattr(_rollout_module, name)
    raise AttributeError(f"module 'rnnctl.analysis' has no attribute {name!r}")
