"""Fixed points over training (Fig 1c, 1d): what θ a fixed point represents, tracking one
across checkpoints, and proximity of the tracked point vs reward-to-go.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = ["fixed_point_theta", "FixedPointTrack", "track_fixed_points", "Regression",
           "reward_to_go_regression", "circular_mean"]


def circular_mean(theta: jax.Array, axis: int = -1) -> tuple[jax.Array, jax.Array]:
    """Circular mean and mean resultant length of angles.

    Args:
      theta: [..., n] angles (rad).
    Returns:
      (mean angle in [-π, π] [...], resultant length R in [0, 1] [...]; R near 1 means the
      angles agree, near 0 that they are spread around the circle).
    """
    c, s = jnp.mean(jnp.cos(theta), axis), jnp.mean(jnp.sin(theta), axis)
    return jnp.arctan2(s, c), jnp.hypot(c, s)


def fixed_point_theta(xstar: jax.Array, hidden_states: jax.Array, theta: jax.Array, *,
                      k: int = 10, return_resultant: bool = False):
    """The θ a fixed point represents: circular mean θ of the k nearest visited states.

    Args:
      xstar: [K, H] fixed points (or [H]).
      hidden_states: [..., H] visited hidden states (e.g. `Rollout.h` [E, T, H]).
      theta: [...] wrapped θ of the same samples (`Rollout.theta`).
      k: number of nearest visited states (Euclidean) to average.
      return_resultant: also return the mean resultant length R [K] of those k angles
        (near 1: the neighbours agree on θ; near 0: the point represents no single θ).
    Returns:
      θ [K] (or [] for one point) in [-π, π]; with `return_resultant`, (θ, R).
    """
    h = jnp.reshape(jnp.asarray(hidden_states), (-1, hidden_states.shape[-1]))
    th = jnp.reshape(jnp.asarray(theta), (-1,))
    pts = jnp.atleast_2d(xstar)
    # ‖a‖² + ‖b‖² − 2ab: no [K, N, H] intermediate (vmapped over 1000 checkpoints that
    # would be gigabytes); its rounding only matters for near-ties, which do not matter here.
    d2 = jnp.sum(pts**2, -1)[:, None] + jnp.sum(h**2, -1)[None, :] - 2.0 * pts @ h.T
    _, idx = jax.lax.top_k(-d2, k)
    mean, r = circular_mean(th[idx], axis=-1)
    if jnp.ndim(xstar) == 1:
        mean, r = mean[0], r[0]
    return (mean, r) if return_resultant else mean


@struct.dataclass
class DecodedTheta:
    """The θ a point of state space represents, read by a decoder, with its gates.

    Attributes:
      theta: [...] decoded angle atan2(ŝ, ĉ) in [-π, π].
      confidence: [...] length ‖(ĉ, ŝ)‖ of the decoded vector: near 1 where the decoder
        reads one angle, near 0 where the point lies between angles or off the visited set.
      distance: [...] distance to the nearest visited state, as a fraction of the visited
        cloud's RMS radius sqrt(mean ‖h − h̄‖²).
      r2: [] the decoder's R² on the visited states (how well h encodes θ at all).
    """

    theta: jax.Array
    confidence: jax.Array
    distance: jax.Array
    r2: jax.Array


def decode_theta(points: jax.Array, hidden_states: jax.Array, theta: jax.Array, *,
                 ridge: float = 1e-3) -> DecodedTheta:
    """The θ that points (e.g. fixed points) represent, from a linear decoder of (cos θ,
    sin θ) fitted on the visited states (ridge regression with intercept; docs/methods.md).

    Args:
      points: [K, H] points to label (or [H]).
      hidden_states: [..., H] visited states (e.g. `Rollout.h` [E, T, H]).
      theta: [...] wrapped θ of the same samples.
      ridge: ridge penalty, relative to the mean variance of a unit.
    Returns:
      `DecodedTheta` with fields [K] (or [] for one point), r2 [].
    """
    h = jnp.reshape(jnp.asarray(hidden_states), (-1, hidden_states.shape[-1]))
    th = jnp.reshape(jnp.asarray(theta), (-1,))
    y = jnp.stack([jnp.cos(th), jnp.sin(th)], -1)
    mu, y_mu = h.mean(0), y.mean(0)
    hc, yc = h - mu, y - y_mu
    cov = hc.T @ hc / h.shape[0]
    lam = ridge * jnp.trace(cov) / h.shape[-1] + 1e-12
    w = jnp.linalg.solve(cov + lam * jnp.eye(h.shape[-1], dtype=h.dtype), hc.T @ yc / h.shape[0])
    resid = yc - hc @ w
    r2 = 1.0 - jnp.sum(resid**2) / jnp.maximum(jnp.sum(yc**2), 1e-12)
    pts = jnp.atleast_2d(points)
    dec = (pts - mu) @ w + y_mu
    radius = jnp.sqrt(jnp.mean(jnp.sum(hc**2, -1)))
    d2 = jnp.sum(pts**2, -1)[:, None] + jnp.sum(h**2, -1)[None, :] - 2.0 * pts @ h.T
    dist = jnp.sqrt(jnp.maximum(jnp.min(d2, -1), 0.0)) / jnp.maximum(radius, 1e-12)
    out = DecodedTheta(theta=jnp.arctan2(dec[:, 1], dec[:, 0]),
                       confidence=jnp.hypot(dec[:, 0], dec[:, 1]), distance=dist, r2=r2)
    if jnp.ndim(points) == 1:
        out = out.replace(theta=out.theta[0], confidence=out.confidence[0],
                          distance=out.distance[0])
    return out


@struct.dataclass
class FixedPointTrack:
    """One fixed point followed across T checkpoints (leading batch axes under vmap).

    Attributes:
      index: [T] int slot of the tracked point in each checkpoint's `FixedPoints` (-1: none).
      path: [T, H] its location (NaN where none).
      distance: [T] Euclidean distance to its location at the start checkpoint `start`
        (the "final location"; NaN where none).
      theta: [T] the θ it represents (NaN where none or no θ was given).
      start: [] int checkpoint the track starts from (the last one with a point of the
        requested kind; -1 if no checkpoint has one).
      first_stable: [] int first checkpoint with any valid stable fixed point (-1: never).
      first_unstable: [] int first checkpoint with any valid unstable fixed point (-1: never).
      persistent_stable: [] int first checkpoint from which every later checkpoint has a
        stable fixed point (-1 if the last one has none): robust to flickering.
      persistent_unstable: [] int the same for unstable fixed points.
    """

    index: jax.Array
    path: jax.Array
    distance: jax.Array
    theta: jax.Array
    start: jax.Array
    first_stable: jax.Array
    first_unstable: jax.Array
    persistent_stable: jax.Array
    persistent_unstable: jax.Array


def _first(has: jax.Array) -> jax.Array:
    return jnp.where(has.any(), jnp.argmax(has), -1)


def _persistent(has: jax.Array) -> jax.Array:
    # Suffix-all: from t on every checkpoint has one.
    suffix = jnp.flip(jnp.cumprod(jnp.flip(has.astype(jnp.int32)))).astype(bool)
    return _first(suffix)


def track_fixed_points(fps, theta: jax.Array | None = None, *, stable: bool = True,
                       target_theta: float = 0.0) -> FixedPointTrack:
    """Follow one fixed point backwards through training, nearest neighbour to nearest.

    Rule. Start at the last checkpoint that has a valid fixed point of the requested kind
    (stable, or unstable with `stable=False`); there pick the one whose θ is circularly
    nearest `target_theta` (θ = 0, upright, by default) — or, without `theta`, the one with
    the lowest q. Then walk back one checkpoint at a time and pick the candidate nearest
    (Euclidean, in hidden space) to the last point picked; a checkpoint without a candidate
    gets NaN and the walk goes on from the last point picked. Also reports when stable and
    unstable fixed points (any, not only the tracked one) first appear.

    Args:
      fps: `FixedPoints` of one agent with fields [T, K, ...] (T checkpoints in order).
      theta: [T, K] θ each fixed point represents (`fixed_point_theta`), or None.
      stable: track a stable (True) or an unstable (False) fixed point.
      target_theta: where the start point should lie (e.g. π for the hanging unstable one).
    Returns:
      `FixedPointTrack` (vmap over agents for [A, ...]).
    """
    valid = jnp.asarray(fps.valid)
    is_stable = jnp.asarray(fps.is_stable)
    xstar = jnp.asarray(fps.xstar)
    n_ckpt = valid.shape[0]
    kind = is_stable if stable else valid & ~is_stable
    has = kind.any(-1)                                            # [T]
    start = jnp.where(has.any(), n_ckpt - 1 - jnp.argmax(jnp.flip(has)), -1)
    s = jnp.maximum(start, 0)
    if theta is not None:
        theta = jnp.asarray(theta)
        gap = jnp.abs((theta[s] - target_theta + jnp.pi) % (2 * jnp.pi) - jnp.pi)
        score = jnp.where(kind[s], gap, jnp.inf)
    else:
        score = jnp.where(kind[s], jnp.asarray(fps.qstar)[s], jnp.inf)
    ref0 = xstar[s, jnp.argmin(score)]

    def back(ref, t):
        d = jnp.sum((xstar[t] - ref) ** 2, -1)
        ok = kind[t] & (t <= start)
        i = jnp.argmin(jnp.where(ok, d, jnp.inf))
        found = ok.any()
        new_ref = jnp.where(found, xstar[t, i], ref)
        return new_ref, (jnp.where(found, i, -1), found)

    _, (index, found) = jax.lax.scan(back, ref0, jnp.arange(n_ckpt), reverse=True)
    safe = jnp.maximum(index, 0)
    path = jnp.where(found[:, None], xstar[jnp.arange(n_ckpt), safe], jnp.nan)
    distance = jnp.linalg.norm(path - path[s], axis=-1)
    if theta is not None:
        th = jnp.where(found, theta[jnp.arange(n_ckpt), safe], jnp.nan)
    else:
        th = jnp.full((n_ckpt,), jnp.nan, path.dtype)
    unstable = valid & ~is_stable
    return FixedPointTrack(index=index, path=path, distance=distance, theta=th, start=start,
                           first_stable=_first(is_stable.any(-1)),
                           first_unstable=_first(unstable.any(-1)),
                           persistent_stable=_persistent(is_stable.any(-1)),
                           persistent_unstable=_persistent(unstable.any(-1)))


@dataclass(frozen=True)
class Regression:
    """Pooled linear regression g = slope · d + intercept (scipy.stats.linregress).

    Attributes:
      slope, intercept: the fitted line.
      r: Pearson correlation of d and g.
      p_value: two-sided p-value of slope ≠ 0 (Wald test, t-distribution).
      stderr: standard error of the slope; intercept_stderr: of the intercept.
      n: number of (d, g) pairs used.
    """

    slope: float
    intercept: float
    r: float
    p_value: float
    stderr: float
    intercept_stderr: float
    n: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def reward_to_go_regression(distances, returns, *, include_final: bool = False) -> Regression:
    """Does the tracked stable fixed point's distance to its final location predict the
    reward still to be gained? (Fig 1d right; host-side, NumPy/SciPy.)

    For seed s and checkpoint t: d[s, t] = `FixedPointTrack.distance`, g[s, t] =
    R[s, final] − R[s, t] with R the return (the paper: a 10-episode average, e.g. the
    trainer's deterministic evaluation return). Pairs from all seeds are pooled, pairs
    with a NaN (no fixed point at t, or no return) are dropped, and g is regressed on d.

    Args:
      distances: [S, T] distances (NaN where no tracked point).
      returns: [S, T] returns per checkpoint.
      include_final: keep the last checkpoint's pair, which is (0, 0) by construction and
        so carries no information (default: dropped).
    Returns:
      `Regression` (floats; NaN fields if fewer than 3 pairs).
    """
    from scipy import stats  # lazy: keeps `from rnnctl import analysis` light

    d = np.asarray(distances, np.float64)
    ret = np.asarray(returns, np.float64)
    if d.shape != ret.shape or d.ndim != 2:
        raise ValueError(f"distances and returns must both be [S, T]; got {d.shape} and "
                         f"{ret.shape}")
    g = ret[:, -1:] - ret
    if not include_final:
        d, g = d[:, :-1], g[:, :-1]
    ok = np.isfinite(d) & np.isfinite(g)
    d, g = d[ok], g[ok]
    if d.size < 3 or np.ptp(d) == 0:
        nan = float("nan")
        return Regression(nan, nan, nan, nan, nan, nan, int(d.size))
    res = stats.linregress(d, g)
    return Regression(slope=float(res.slope), intercept=float(res.intercept),
                      r=float(res.rvalue), p_value=float(res.pvalue),
                      stderr=float(res.stderr), intercept_stderr=float(res.intercept_stderr),
                      n=int(d.size))
