"""Linearised dynamics (Fig 1e): eigenvalues, timescales τ, confidence intervals.

A discrete-time linear mode with eigenvalue λ decays (|λ| < 1) or grows (|λ| > 1) by a
factor e every τ = |1 / ln|λ|| steps. Along a trajectory the recurrence Jacobian is
J_t = ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_h (h_t = tanh(W_h h_{t−1} + W_x x_t + b)), and the
paper's "integration timescale" is the mean over 1000 rollout steps of the top-5 τ of J_t.

Guards (τ is a function of |λ| only):
  * |λ| = 1 exactly gives τ = inf (a perfect integrator); `timescales` returns inf, and
    `integration_timescales` clips τ at `max_tau` (default 1e4 steps, 50 episodes) so that
    a single marginal mode cannot turn a mean into inf, and reports the clipped fraction.
  * λ = 0 (e.g. a saturated unit, 1 − h² = 0) gives ln 0 = −inf and τ = 0: no memory.
  * NaN eigenvalues (invalid fixed-point slots) give NaN τ, which sorts last.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import struct

from rnnctl.analysis.fixed_points import sort_eigvals

__all__ = ["timescales", "recurrent_jacobians", "Timescales", "integration_timescales",
           "timescales_from_eigvals", "mean_ci", "sort_eigvals"]


def timescales(eigvals: jax.Array, top: int = 5, dt: float | None = None) -> jax.Array:
    """Timescales τ = |1 / ln|λ|| of eigenvalues, largest first.

    Args:
      eigvals: [..., H] eigenvalues (real or complex; any order).
      top: how many of the largest τ to return (≤ H).
      dt: seconds per step; None returns τ in steps.
    Returns:
      [..., top] τ sorted descending (inf for |λ| = 1, 0 for λ = 0, NaN last).
    """
    if top > eigvals.shape[-1]:
        raise ValueError(f"top={top} exceeds the {eigvals.shape[-1]} eigenvalues")
    mag = jnp.abs(eigvals)
    # 1/|ln 1| = 1/0 = inf and 1/|ln 0| = 1/inf = 0 are the limits we want; no NaN arises.
    tau = 1.0 / jnp.abs(jnp.log(mag))
    tau = -jnp.sort(-tau, axis=-1)[..., :top]  # descending; NaN sorts last either way
    return tau if dt is None else tau * dt


def recurrent_jacobians(params, h: jax.Array) -> jax.Array:
    """J_t = diag(1 − h_t²) W_h at hidden states h_t (the derivative of the step into h_t).

    Args:
      params: an agent's parameters (uses params["rnn"]["W_h"]) or W_h itself [H, H].
      h: [..., H] hidden states (post-update, as in `Rollout.h`).
    Returns:
      [..., H, H] Jacobians.
    """
    w_h = params["rnn"]["W_h"] if isinstance(params, Mapping) else jnp.asarray(params)
    return (1.0 - h * h)[..., :, None] * w_h


def mean_ci(samples: jax.Array, confidence: float = 0.99, axis: int = 0
            ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Mean and two-sided Student-t confidence interval of i.i.d. samples.

    mean ± t_{(1+c)/2, n−1} · s / √n, with s the sample standard deviation (ddof = 1).
    The sample count n along `axis` is static, so the t quantile is computed once on the
    host (scipy) and the function stays jit/vmap-able.

    Args:
      samples: [..., n, ...] samples along `axis`.
      confidence: coverage c of the interval.
      axis: the sample axis.
    Returns:
      (mean, low, high), each with `axis` removed.
    """
    from scipy import stats  # lazy: scipy.stats is a slow import

    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"a confidence interval needs at least 2 samples, got {n}")
    mean = jnp.mean(samples, axis=axis)
    sem = jnp.std(samples, axis=axis, ddof=1) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sem
    return mean, mean - half, mean + half


@struct.dataclass
class Timescales:
    """Integration timescales of one agent at one checkpoint (leading batch axes under vmap).

    Attributes:
      tau: [S, k] the top-k τ at each of the S analysed steps, descending.
      mean: [k] mean over steps of the i-th largest τ.
      ci: [k, 2] (low, high) confidence interval of `mean`.
      avg: [] mean over steps of the per-step average of the top-k τ (one number per
        checkpoint: the paper's curve).
      avg_ci: [2] confidence interval of `avg` from the S per-step averages.
      frac_capped: [] fraction of the τ values in `tau` clipped at `max_tau`.
    """

    tau: jax.Array
    mean: jax.Array
    ci: jax.Array
    avg: jax.Array
    avg_ci: jax.Array
    frac_capped: jax.Array


def integration_timescales(params, h: jax.Array, *, top: int = 5, dt: float | None = None,
                           confidence: float = 0.99, max_tau: float | None = 1e4,
                           stride: int = 1) -> Timescales:
    """The paper's timescale estimate: top-k τ of J_t = diag(1 − h_t²) W_h along rollouts.

    For each analysed step t, the eigenvalues of J_t give τ_i = |1/ln|λ_i||; the k largest
    are kept, then averaged over steps with a Student-t confidence interval (`mean_ci`).
    The interval treats the steps as independent samples; consecutive steps of one
    episode are correlated, so the nominal coverage is optimistic (the interval is too
    narrow) — compare checkpoints by their means, and read the intervals as a lower bound
    on the uncertainty. Cost: one LAPACK eigen-decomposition (~0.4 ms for H = 64) per step;
    `stride` analyses every stride-th step.

    Args:
      params: an agent's parameters (uses params["rnn"]["W_h"]) or W_h [H, H].
      h: [..., H] hidden states of the rollout (e.g. `Rollout.h` [E, T, H] = 5 × 200
        steps); all leading axes are steps, flattened in order.
      top: k, timescales kept per step.
      dt: seconds per step (`envs.DT` = 0.05); None gives τ in steps.
      confidence: coverage of the intervals (0.99).
      max_tau: clip τ at this many steps before averaging (None: no clipping; a mode with
        |λ| = 1 then makes the mean inf). Applied before the `dt` conversion.
      stride: analyse every stride-th step.
    Returns:
      `Timescales`; vmap over checkpoints for [C, ...] fields.
    """
    steps = jnp.reshape(jnp.asarray(h), (-1, h.shape[-1]))[::stride]
    lam = jnp.linalg.eigvals(recurrent_jacobians(params, steps))
    return timescales_from_eigvals(lam, top=top, dt=dt, confidence=confidence,
                                   max_tau=max_tau)


def timescales_from_eigvals(eigvals: jax.Array, *, top: int = 5, dt: float | None = None,
                            confidence: float = 0.99, max_tau: float | None = 1e4
                            ) -> Timescales:
    """`integration_timescales` from eigenvalues already computed (e.g. by a host solver).

    The eigen-decompositions dominate the cost of `integration_timescales`; this is its
    second half, so that the eigenvalues of J_t may come from elsewhere (NumPy in threads,
    another device) and still be summarised by exactly the same rule.

    Args:
      eigvals: [S, H] eigenvalues of J_t at S steps (any order).
      top, dt, confidence, max_tau: as in `integration_timescales`.
    Returns:
      `Timescales` (vmap over checkpoints for [C, ...] fields).
    """
    tau = timescales(jnp.asarray(eigvals), top=top)
    if max_tau is not None:
        frac_capped = jnp.mean(tau > max_tau)
        tau = jnp.minimum(tau, max_tau)
    else:
        frac_capped = jnp.zeros((), tau.dtype)
    if dt is not None:
        tau = tau * dt
    mean, low, high = mean_ci(tau, confidence, axis=0)
    avg, avg_low, avg_high = mean_ci(tau.mean(-1), confidence, axis=0)
    return Timescales(tau=tau, mean=mean, ci=jnp.stack([low, high], -1), avg=avg,
                      avg_ci=jnp.stack([avg_low, avg_high]), frac_capped=frac_capped)
