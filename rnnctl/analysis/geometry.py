"""Geometry of the hidden states (Fig 1c): PCA and a ring score.

The paper's PO agents lay their hidden states on a ring ordered by the pendulum angle θ.
`ring_score` makes that one number per checkpoint (definition in its docstring).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["PCA", "pca", "theta_bin_means", "ring_score"]


@struct.dataclass
class PCA:
    """Principal components of hidden states (leading batch axes under vmap).

    Attributes:
      mean: [H] sample mean.
      components: [n, H] unit principal axes, by decreasing variance; the sign of each is
        fixed so that its largest-magnitude loading is positive (deterministic).
      explained_variance: [n] variance along each axis.
      explained_variance_ratio: [n] fraction of the total variance.
    """

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array

    def transform(self, h: jax.Array) -> jax.Array:
        """Project hidden states [..., H] onto the components → [..., n]."""
        return (h - self.mean) @ self.components.T


def _weighted_pca(x: jax.Array, w: jax.Array, n_components: int) -> PCA:
    w = w / jnp.sum(w)
    mean = w @ x
    xc = x - mean
    cov = (xc * w[:, None]).T @ xc
    var, vecs = jnp.linalg.eigh(cov)                       # ascending
    var, vecs = var[::-1], vecs[:, ::-1].T                 # [H], [H, H] rows = axes
    var = jnp.maximum(var, 0.0)
    pivot = jnp.take_along_axis(vecs, jnp.argmax(jnp.abs(vecs), -1)[:, None], -1)
    vecs = vecs * jnp.where(pivot < 0, -1.0, 1.0)
    total = jnp.sum(var)
    return PCA(mean=mean, components=vecs[:n_components],
               explained_variance=var[:n_components],
               explained_variance_ratio=var[:n_components] / jnp.where(total > 0, total, 1.0))


def pca(h: jax.Array, n_components: int = 3) -> PCA:
    """PCA of hidden states (eigen-decomposition of their covariance).

    Args:
      h: [..., H] hidden states; all leading axes are samples (e.g. `Rollout.h` [E, T, H]).
      n_components: n ≤ H components to keep.
    Returns:
      `PCA`; `result.transform(h)` gives the [..., n] projection for plotting.
    """
    x = jnp.reshape(jnp.asarray(h), (-1, h.shape[-1]))
    if not 0 < n_components <= x.shape[-1]:
        raise ValueError(f"n_components must lie in [1, {x.shape[-1]}], got {n_components}")
    return _weighted_pca(x, jnp.ones(x.shape[0], x.dtype), n_components)


def theta_bin_means(h: jax.Array, theta: jax.Array, n_bins: int = 36
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Mean hidden state per θ bin (the population's tuning to θ).

    Args:
      h: [..., H] hidden states.
      theta: [...] wrapped angles in [-π, π) of the same samples.
      n_bins: equal-width bins over [-π, π).
    Returns:
      (means [n_bins, H] (0 where empty), counts [n_bins], centers [n_bins]).
    """
    x = jnp.reshape(jnp.asarray(h), (-1, h.shape[-1]))
    th = jnp.reshape(jnp.asarray(theta), (-1,))
    idx = jnp.clip(jnp.floor((th + jnp.pi) / (2 * jnp.pi) * n_bins).astype(jnp.int32),
                   0, n_bins - 1)
    counts = jnp.zeros(n_bins, x.dtype).at[idx].add(1.0)
    sums = jnp.zeros((n_bins, x.shape[-1]), x.dtype).at[idx].add(x)
    means = sums / jnp.maximum(counts, 1.0)[:, None]
    centers = -jnp.pi + (jnp.arange(n_bins) + 0.5) * (2 * jnp.pi / n_bins)
    return means, counts, centers


def ring_score(h: jax.Array, theta: jax.Array, *, n_bins: int = 36) -> jax.Array:
    """How well the hidden states form a ring ordered by θ: a number in [0, 1].

    Definition. Average the hidden states in `n_bins` equal θ bins (so that a trained
    agent's long stays at the top, θ ≈ 0, do not outweigh the rest of the circle); take
    the two leading principal axes of the visited bins' means and let φ_b be the angle of
    bin b's mean in that plane. The score is the absolute Fisher–Lee circular-circular
    correlation between φ and the bin centres θ, over pairs of visited bins:

        ρ = Σ_{b,c} sin(φ_b − φ_c) sin(θ_b − θ_c)
            / √(Σ_{b,c} sin²(φ_b − φ_c) · Σ_{b,c} sin²(θ_b − θ_c)),   score = |ρ|.

    It is 1 when the states go once around a circle in step with θ, for any rotation or
    reflection of the plane, and stays high for an ellipse (a circle squashed to 40 % of its
    width: ≈ 0.95). It is ≈ 0 when the angle in the plane does not follow θ (shuffled θ,
    noise: ≈ 0.02 for 36 bins), and low for θ encoded along a line (the two half-lines
    have φ − φ' ∈ {0, π}, whose sines vanish; only the noisy bins near the centre count:
    ≈ 0.05-0.35), which a first-harmonic measure such as |mean e^{i(φ − θ)}| would score
    2/π ≈ 0.64. Bins that no sample visited are ignored.

    Note: with the "cos_sin" encoding the input itself is a ring in θ, so even an untrained
    network's hidden states (driven by cos θ, sin θ) score high; the score is informative
    about learned structure for the "angle" encoding, or relative to the input's score.

    Args:
      h: [..., H] hidden states (e.g. `Rollout.h` [E, T, H]).
      theta: [...] wrapped angles of the same samples (`Rollout.theta`).
      n_bins: θ bins over [-π, π).
    Returns:
      [] score in [0, 1] (vmap for one per checkpoint).
    """
    means, counts, centers = theta_bin_means(h, theta, n_bins)
    w = (counts > 0).astype(means.dtype)
    # Empty bins get weight 0 in the principal axes and in the correlation.
    z = _weighted_pca(means, w, 2).transform(means)
    phi = jnp.arctan2(z[:, 1], z[:, 0])
    ww = w[:, None] * w[None, :]
    s_phi = jnp.sin(phi[:, None] - phi[None, :])
    s_th = jnp.sin(centers[:, None] - centers[None, :])
    num = jnp.sum(ww * s_phi * s_th)
    den = jnp.sqrt(jnp.sum(ww * s_phi**2) * jnp.sum(ww * s_th**2))
    return jnp.where(den > 0, jnp.abs(num) / jnp.where(den > 0, den, 1.0), 0.0)
