"""Policy maps probed on shared observation histories (claim 1, rules v2; docs/methods.md §4).

A rollout-based policy map (`policy.policy_map`) bins the states an agent visits itself, so
two agents, or one agent at two checkpoints, are compared on different bins, and an agent
that pumps longer fills more of the map. A probe map removes that confound: every agent and
checkpoint reads the same histories. For each bin centre (θ, θ̇) of a grid, the history is
the unforced pendulum's last `steps` states that end there (integrated backwards through
the task's own update); the network reads their observations from h = 0, and the map's
value at the bin is the mean torque after the last one.

Pure and light (no gymnax): the caller turns the states into observations.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from rnnctl.analysis.policy import MAX_TORQUE, boundary_contrast

__all__ = ["ProbeHistories", "probe_histories", "probe_torque", "upright_contrast",
           "near_zero_fraction", "UPRIGHT", "HANGING"]

#: Where the paper looks: the decision boundary near upright, |θ| < UPRIGHT (the ±π input
#: seam is outside it).
UPRIGHT = math.pi / 2
#: The hanging region |θ| ≥ HANGING (descriptive only).
HANGING = 3 * math.pi / 4


@struct.dataclass
class ProbeHistories:
    """Unforced pendulum histories ending at every bin centre of a (θ, θ̇) grid.

    Attributes:
      theta: [Bθ, Bθ̇, W] wrapped angle at each step (the last step is the bin centre).
      theta_dot: [Bθ, Bθ̇, W] angular velocity.
      theta_centers: [Bθ] bin centres over [-π, π). theta_dot_centers: [Bθ̇] over the range.
    """

    theta: jax.Array
    theta_dot: jax.Array
    theta_centers: jax.Array
    theta_dot_centers: jax.Array


def probe_histories(n_theta: int = 32, n_theta_dot: int = 32, steps: int = 20, *,
                    g: float = 10.0, m: float = 1.0, l: float = 1.0, dt: float = 0.05,
                    max_speed: float = 8.0) -> ProbeHistories:
    """The unforced histories of `steps` states that end at each (θ, θ̇) bin centre.

    gymnax's Pendulum steps θ̇' = clip(θ̇ + (3g/(2l)·sin θ + 3u/(m l²))·dt, ±max_speed),
    θ' = θ + θ̇'·dt. With u = 0 this inverts exactly (away from the speed clip):
    θ = θ' − θ̇'·dt, θ̇ = θ̇' − 3g/(2l)·sin θ·dt, which builds each history backwards from
    its end. θ̇ is clipped to ±max_speed on the way back.

    Args:
      n_theta, n_theta_dot: the grid (bin centres over [-π, π) × [-max_speed, max_speed]).
      steps: W, states per history (the last is the bin centre).
      g, m, l, dt, max_speed: the pendulum's physics (gymnax defaults).
    Returns:
      `ProbeHistories` with [Bθ, Bθ̇, W] arrays.
    """
    if steps < 1 or n_theta < 2 or n_theta_dot < 2:
        raise ValueError("probe_histories: need steps >= 1 and at least 2 bins per axis")
    del m  # the unforced update does not depend on the mass
    th_edges = jnp.linspace(-jnp.pi, jnp.pi, n_theta + 1)
    thd_edges = jnp.linspace(-max_speed, max_speed, n_theta_dot + 1)
    th_c = 0.5 * (th_edges[1:] + th_edges[:-1])
    thd_c = 0.5 * (thd_edges[1:] + thd_edges[:-1])
    th_end, thd_end = jnp.meshgrid(th_c, thd_c, indexing="ij")

    def back(carry, _):
        th, thd = carry
        th_prev = th - thd * dt
        thd_prev = jnp.clip(thd - 3.0 * g / (2.0 * l) * jnp.sin(th_prev) * dt,
                            -max_speed, max_speed)
        return (th_prev, thd_prev), (th_prev, thd_prev)

    _, (th_b, thd_b) = jax.lax.scan(back, (th_end, thd_end), None, length=steps - 1)
    # scan emitted the states from the second-last back to the first: reverse, append end
    theta = jnp.concatenate([th_b[::-1], th_end[None]], 0)
    theta_dot = jnp.concatenate([thd_b[::-1], thd_end[None]], 0)
    wrap = lambda a: (a + jnp.pi) % (2 * jnp.pi) - jnp.pi
    return ProbeHistories(theta=jnp.moveaxis(wrap(theta), 0, -1),
                          theta_dot=jnp.moveaxis(theta_dot, 0, -1),
                          theta_centers=th_c, theta_dot_centers=thd_c)


def probe_torque(params, x: jax.Array, *, max_torque: float = MAX_TORQUE) -> jax.Array:
    """The torque an agent applies at the end of each probe history.

    Args:
      params: one agent's parameters (any cell with a Gaussian policy head).
      x: [..., W, I] network inputs of the histories (the task's observations of
        `ProbeHistories` states, in the agent's encoding and observability).
      max_torque: the actuator limit; the mean action is clipped to it, as the pendulum is.
    Returns:
      [...] torque after reading the last input, from h = 0 at the first.
    """
    from rnnctl import networks
    lead = x.shape[:-2]
    xs = jnp.moveaxis(x.reshape((-1,) + x.shape[-2:]), 1, 0)          # [W, N, I]
    h0 = jnp.zeros((xs.shape[1], networks.state_size(params)), xs.dtype)
    h, _ = jax.lax.scan(lambda h, xt: (networks.cell(params, h, xt), None), h0, xs)
    mean = networks.mode(params, h)
    return jnp.clip(mean, -max_torque, max_torque).reshape(lead)


def upright_contrast(torque: jax.Array, theta_centers: jax.Array, *, limit: float = UPRIGHT,
                     max_torque: float = MAX_TORQUE) -> jax.Array:
    """Sharpness of the decision boundary near upright: `policy.boundary_contrast` of the
    map restricted to |θ| < limit, θ not wrapped (the ±π input seam excluded).

    Args:
      torque: [..., Bθ, Bθ̇] map (NaN bins ignored). theta_centers: [Bθ].
    Returns:
      [...] mean |u₁ − u₂| / (2·max_torque) over neighbouring bins of opposite sign, or NaN.
    """
    inside = (jnp.abs(theta_centers) < limit)[:, None]
    return boundary_contrast(jnp.where(inside, torque, jnp.nan), max_torque=max_torque,
                             wrap_theta=False)


def near_zero_fraction(torque: jax.Array, theta_centers: jax.Array, *, lo: float = 0.0,
                       hi: float = UPRIGHT, tol: float = 0.1,
                       max_torque: float = MAX_TORQUE) -> jax.Array:
    """Fraction of the map's bins with lo ≤ |θ| < hi whose |torque| < tol·max_torque.

    Args:
      torque: [..., Bθ, Bθ̇] map (NaN bins ignored). theta_centers: [Bθ].
    Returns:
      [...] fraction in [0, 1], or NaN if no bin lies in the band.
    """
    a = jnp.abs(theta_centers)
    band = ((a >= lo) & (a < hi))[:, None] & ~jnp.isnan(torque)
    small = band & (jnp.abs(jnp.where(band, torque, 0.0)) < tol * max_torque)
    n = band.sum(axis=(-2, -1))
    return jnp.where(n > 0, small.sum(axis=(-2, -1)) / jnp.maximum(n, 1), jnp.nan)
