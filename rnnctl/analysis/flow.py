"""Flow fields of the autonomous map h ↦ F(h, x) on a plane of state space, with its speed.

At a constant input x the cell is a map F; its flow F(h) − h says where a state moves in
one step and its speed q(h) = ½‖F(h) − h‖² how fast (q = 0 at fixed points, small at slow
points; Sussillo & Barak 2013). `flow_field` evaluates both on a grid of a 2-D plane
through state space (by default the plane of the top-2 principal components through the
mean visited state, `pca_plane`): the flow is projected onto the plane, the speed is that
of the full state. Slow points themselves are marked on a fixed-point search by
`FixedPoints.slow_points`.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = ["Plane", "FlowField", "pca_plane", "plane_grid", "flow_field"]

#: Largest |B Bᵀ − I| entry accepted for a plane's basis B.
ORTHONORMAL_TOL = 1e-4


@struct.dataclass
class Plane:
    """An affine 2-D plane of state space: origin + u·basis[0] + v·basis[1].

    Attributes:
      origin: [S] a point of the plane.
      basis: [2, S] orthonormal rows spanning it.
    """

    origin: jax.Array
    basis: jax.Array

    def project(self, h: jax.Array) -> jax.Array:
        """Plane coordinates of states: h [..., S] → [..., 2] (orthogonal projection)."""
        return (h - self.origin) @ self.basis.T

    def lift(self, coords: jax.Array) -> jax.Array:
        """States of plane coordinates: coords [..., 2] → [..., S]."""
        return self.origin + coords @ self.basis


@struct.dataclass
class FlowField:
    """The flow of h ↦ F(h, x) on a grid of a plane (leading batch axes under vmap).

    Attributes:
      coords: [*G, 2] plane coordinates of the grid points (the `grid` argument).
      speed: [*G] q(h) = ½‖F(h, x) − h‖² of the full state at each grid point.
      flow: [*G, 2] F(h, x) − h projected onto the plane's basis.
      plane: the `Plane`.
    """

    coords: jax.Array
    speed: jax.Array
    flow: jax.Array
    plane: Plane


def pca_plane(states: jax.Array) -> Plane:
    """The plane of the top-2 principal components through the mean of visited states.

    Args:
      states: [..., S] visited states (all leading axes are samples, e.g. `Rollout.h`).
    Returns:
      `Plane` with origin [S] the mean and basis [2, S] the first two components.
    """
    from rnnctl.analysis.geometry import pca

    res = pca(states, n_components=2)
    return Plane(origin=res.mean, basis=res.components)


def plane_grid(plane: Plane, states: jax.Array, n: int = 32, margin: float = 0.1
               ) -> jax.Array:
    """A regular n × n grid covering the projection of `states` on `plane`.

    Args:
      plane: the `Plane`.
      states: [..., S] states whose projection the grid must cover.
      n: points per side.
      margin: fraction of each side's range added on both ends.
    Returns:
      [n, n, 2] plane coordinates, [i, j] = (u_i, v_j).
    """
    p = plane.project(jnp.reshape(states, (-1, states.shape[-1])))
    lo, hi = p.min(0), p.max(0)
    pad = margin * (hi - lo)
    u = jnp.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    v = jnp.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    return jnp.stack(jnp.meshgrid(u, v, indexing="ij"), -1)


def _check_plane(plane: Plane, size: int) -> None:
    origin, basis = jnp.asarray(plane.origin), jnp.asarray(plane.basis)
    if origin.shape != (size,) or basis.shape != (2, size):
        raise ValueError(f"plane must have origin [{size}] and basis [2, {size}], got "
                         f"{origin.shape} and {basis.shape}")
    if isinstance(basis, jax.core.Tracer):      # traced under jit/vmap: not checkable
        return
    b = np.asarray(basis, np.float64)
    off = float(np.abs(b @ b.T - np.eye(2)).max())
    if not off <= ORTHONORMAL_TOL:
        raise ValueError(f"plane basis rows are not orthonormal (max |B Bᵀ − I| = {off:.3g} "
                         f"> {ORTHONORMAL_TOL})")


def flow_field(cell: Callable[[jax.Array, jax.Array], jax.Array], x: jax.typing.ArrayLike,
               plane: Plane | None, grid: jax.typing.ArrayLike, *,
               states: jax.Array | None = None) -> FlowField:
    """Speed and in-plane flow of h ↦ cell(h, x) at every point of a grid of a plane.

    Works under `jit` and `vmap` (`cell` may close over traced parameters). The plane is
    checked for orthonormal rows when it is concrete (not traced).

    Args:
      cell: pure `cell(h [S], x [I]) -> h' [S]`, e.g. `rnn_cell(params)`.
      x: [I] constant input.
      plane: `Plane` of state size S; None: `pca_plane(states)`.
      grid: [*G, 2] plane coordinates (e.g. `plane_grid`, [n, n, 2]).
      states: [..., S] visited states; needed only when `plane` is None.
    Returns:
      `FlowField` with fields [*G, ...].
    Raises:
      ValueError: a plane that is not orthonormal or of the wrong size, a grid whose last
        axis is not 2, or plane None without states (message names the argument).
    """
    if plane is None:
        if states is None:
            raise ValueError("plane is None: pass states (visited states [..., S]) for the "
                             "default PCA plane")
        plane = pca_plane(states)
    grid = jnp.asarray(grid)
    if grid.ndim < 1 or grid.shape[-1] != 2:
        raise ValueError(f"grid must be plane coordinates [..., 2], got shape {grid.shape}")
    x = jnp.asarray(x, jnp.asarray(plane.origin).dtype)
    if x.ndim != 1:
        raise ValueError(f"x must be one input vector [I], got shape {x.shape}")
    origin = jnp.asarray(plane.origin)
    _check_plane(plane, origin.shape[-1] if origin.ndim else 0)
    try:
        out = jax.eval_shape(cell, origin, x)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != origin.shape:
        raise ValueError(f"plane origin {origin.shape} or x {x.shape} does not fit the cell "
                         f"(cell(origin, x) must be a state of the origin's shape)")
    flat = grid.reshape(-1, 2)
    h = plane.lift(flat.astype(plane.origin.dtype))
    d = jax.vmap(lambda s: cell(s, x))(h) - h
    speed = 0.5 * jnp.sum(d * d, -1)
    flow = d @ plane.basis.T
    return FlowField(coords=grid, speed=speed.reshape(grid.shape[:-1]),
                     flow=flow.reshape(grid.shape), plane=plane)
