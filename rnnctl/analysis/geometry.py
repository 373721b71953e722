"""Geometry of the hidden states (Fig 1c): PCA, a ring score and two companions.

The paper's PO agents lay their hidden states on a ring ordered by the pendulum angle θ.
`ring_score` makes that one number per checkpoint (definition in its docstring);
`participation_ratio` (how many dimensions the states fill: 2 for a planar ring) and
`theta_variance_explained` (how much of their spread θ alone accounts for) test the two
halves of the claim, "a ring" and "ordered by θ", separately.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["PCA", "pca", "theta_bin_means", "ring_score", "participation_ratio",
           "theta_variance_explained"]


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


def _theta_bin_index(theta: jax.Array, n_bins: int) -> jax.Array:
    """[N] bin of each flattened θ among `n_bins` equal bins over [-π, π)."""
    th = jnp.reshape(jnp.asarray(theta), (-1,))
    return jnp.clip(jnp.floor((th + jnp.pi) / (2 * jnp.pi) * n_bins).astype(jnp.int32),
                    0, n_bins - 1)


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
    idx = _theta_bin_index(theta, n_bins)
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


def ring_closure(h: jax.Array, theta: jax.Array, *, n_bins: int = 36) -> jax.Array:
    """Whether the states close into a ring across θ = ±π: a number in [0, 1].

    A ring is closed: the θ-binned mean states of the two bins beside ±π are as close as
    any two neighbouring bins. An arc or a line ordered by θ (an angle input read
    through a random map, whose two ends ±π are far apart) scores a high `ring_score` yet
    is open. closure = min(1, median distance between the means of neighbouring bins /
    distance between the means of the first and last bin); NaN if either end bin or every
    neighbouring pair is unvisited. A ring scores ≈ 1, a line through 36 bins ≈ 1/35.

    Args:
      h: [..., H] hidden states; theta: [...] their wrapped angles.
    Returns:
      [] closure (vmap for one per checkpoint).
    """
    means, counts, _ = theta_bin_means(h, theta, n_bins)
    vis = counts > 0
    step = jnp.linalg.norm(means[1:] - means[:-1], axis=-1)
    pair = vis[1:] & vis[:-1]
    med = jnp.nanmedian(jnp.where(pair, step, jnp.nan))
    seam = jnp.linalg.norm(means[0] - means[-1])
    ok = vis[0] & vis[-1] & pair.any()
    return jnp.where(ok, jnp.minimum(1.0, med / jnp.maximum(seam, 1e-12)), jnp.nan)


def participation_ratio(h: jax.Array) -> jax.Array:
    """Effective dimensionality of hidden states: (Σλ)² / Σλ² of their covariance.

    λ are the eigenvalues of the sample covariance C of the states; the ratio is computed
    as tr(C)² / ‖C‖²_F, which equals it for a symmetric C without an eigendecomposition.
    It is 1 for states on a line, 2 for a uniform circle in a plane, k for isotropic
    spread in k dimensions (H·N/(N + H) for N isotropic Gaussian samples in H dimensions),
    and independent of the scale. NaN when the states do not vary at all.

    Args:
      h: [..., H] hidden states; all leading axes are samples (e.g. `Rollout.h` [E, T, H]).
    Returns:
      [] participation ratio in [1, H] (vmap for one per checkpoint).
    """
    x = jnp.reshape(jnp.asarray(h), (-1, h.shape[-1]))
    xc = x - jnp.mean(x, axis=0)
    cov = xc.T @ xc / x.shape[0]           # the normalisation cancels in the ratio
    tr, fro2 = jnp.trace(cov), jnp.sum(cov * cov)
    return jnp.where(fro2 > 0, tr**2 / jnp.where(fro2 > 0, fro2, 1.0), jnp.nan)


def theta_variance_explained(h: jax.Array, theta: jax.Array, *, n_bins: int = 32
                             ) -> jax.Array:
    """Fraction of the hidden states' variance that θ explains (binned, like an R²).

    Bin θ into `n_bins` equal circular bins over [-π, π) (θ is wrapped first) and compare
    the spread of the states around their bin's mean with their spread around the grand
    mean:

        VE = 1 − Σ_b Σ_{i ∈ b} ‖h_i − mean_b(h)‖² / Σ_i ‖h_i − mean(h)‖².

    It is ≈ 1 when h is a function of θ alone (exactly 1 in the limit of narrow bins;
    a unit circle h = (cos θ, sin θ) with 32 bins loses ≈ (2π/32)²/12 ≈ 0.003), and 0
    when the bin means coincide. With finite bins it is slightly positive for states
    unrelated to θ: about (B − 1)/(N − 1) for B visited bins and N samples, the share of
    the noise that the B fitted bin means absorb. Unlike `ring_score` it weighs every
    sample (where the agent spends its time counts) and says nothing about the shape
    (a line ordered by θ also scores 1). Empty bins are ignored; NaN when h does not vary.

    Args:
      h: [..., H] hidden states (e.g. `Rollout.h` [E, T, H]).
      theta: [...] angles of the same samples (`Rollout.theta`).
      n_bins: θ bins over the circle.
    Returns:
      [] variance explained in [0, 1] (vmap for one per checkpoint).
    """
    x = jnp.reshape(jnp.asarray(h), (-1, h.shape[-1]))
    wrapped = jnp.mod(jnp.asarray(theta) + jnp.pi, 2 * jnp.pi) - jnp.pi
    means, _, _ = theta_bin_means(x, jnp.reshape(wrapped, (-1,)), n_bins)
    idx = _theta_bin_index(wrapped, n_bins)
    # Residuals rather than Σ‖h‖² − Σ n_b‖mean_b‖², which cancels badly in float32.
    within = jnp.sum((x - means[idx]) ** 2)
    total = jnp.sum((x - jnp.mean(x, axis=0)) ** 2)
    return jnp.where(total > 0, 1.0 - within / jnp.where(total > 0, total, 1.0), jnp.nan)
