"""Linearised dynamics (Fig 1e): eigenvalues, timescales τ, confidence intervals.

A discrete-time linear mode with eigenvalue λ decays (|λ| < 1) or grows (|λ| > 1) by a
factor e every τ = |1 / ln|λ|| steps. Along a trajectory the recurrence Jacobian is
J_t = ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_h (h_t = tanh(W_h h_{t−1} + W_x x_t + b)), and the
paper's "integration timescale" is the mean over 1000 rollout steps of the top-5 τ of J_t.

Only stable modes (|λ| < 1) have a timescale in the paper's sense (the time over which a
perturbation decays); unstable modes are left out (NaN) by default.

Guards (τ is a function of |λ| only):
  * |λ| → 1⁻ gives τ → inf (a near-perfect integrator); `integration_timescales` clips τ
    at `max_tau` (default 1e4 steps, 50 episodes) so that a single marginal mode cannot
    turn a mean into inf, and reports the clipped fraction.
  * λ = 0 (e.g. a saturated unit, 1 − h² = 0) gives ln 0 = −inf and τ = 0: no memory.
  * NaN eigenvalues (invalid fixed-point slots) give NaN τ, which sorts last.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from rnnctl.analysis.fixed_points import sort_eigvals

__all__ = ["timescales", "recurrent_jacobians", "cell_jacobians", "Timescales", "integration_timescales",
           "timescales_from_eigvals", "mean_ci", "sort_eigvals", "eigvals_host",
           "timescales_host"]


def timescales(eigvals: jax.Array, top: int = 5, dt: float | None = None, *,
               stable_only: bool = True) -> jax.Array:
    """Timescales τ = |1 / ln|λ|| of eigenvalues, largest first.

    Args:
      eigvals: [..., H] eigenvalues (real or complex; any order).
      top: how many of the largest τ to return (≤ H).
      dt: seconds per step; None returns τ in steps.
      stable_only: keep only stable (decaying) modes, |λ| < 1, as the paper defines τ;
        the others become NaN (sorted last). False keeps every mode (a growing mode's τ
        is its e-folding time of growth).
    Returns:
      [..., top] τ sorted descending (inf for |λ| = 1 when not `stable_only`, 0 for
      λ = 0, NaN last).
    """
    if top > eigvals.shape[-1]:
        raise ValueError(f"top={top} exceeds the {eigvals.shape[-1]} eigenvalues")
    mag = jnp.abs(eigvals)
    # 1/|ln 1| = 1/0 = inf and 1/|ln 0| = 1/inf = 0 are the limits we want; no NaN arises.
    tau = 1.0 / jnp.abs(jnp.log(mag))
    if stable_only:
        tau = jnp.where(mag < 1.0, tau, jnp.nan)
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


def cell_jacobians(params, h: jax.Array, x: jax.Array) -> jax.Array:
    """J_t = ∂F(s_{t−1}, x_t)/∂s_{t−1} along trajectories of any cell (RNN, GRU, LSTM).

    The vanilla RNN takes the closed form diag(1 − h_t²) W_h (`recurrent_jacobians`); the
    other cells differentiate the cell with `jax.jacfwd` at (s_{t−1}, x_t), with s_{−1} = 0
    (each trajectory starts from the zero state, as rollouts do).

    Args:
      params: an agent's parameters.
      h: [..., T, S] cell states after each step (`Rollout.h`, `Episodes.h`).
      x: [..., T, I] inputs of each step.
    Returns:
      [..., T, S, S] Jacobians.
    """
    from rnnctl import networks  # lazy: keeps `from rnnctl import analysis` light
    if networks.cell_type(params) == "rnn":
        return recurrent_jacobians(params, h)
    prev = _previous_states(h)
    jac = _jacfwd_steps(params, prev.reshape(-1, prev.shape[-1]), x.reshape(-1, x.shape[-1]))
    return jac.reshape(prev.shape[:-1] + jac.shape[-2:])


def _previous_states(h: jax.Array) -> jax.Array:
    """s_{t−1} for every step of trajectories h [..., T, S], with s_{−1} = 0."""
    return jnp.concatenate([jnp.zeros_like(h[..., :1, :]), h[..., :-1, :]], axis=-2)


def _jacfwd_steps(params, prev: jax.Array, x: jax.Array) -> jax.Array:
    """∂F(s, x)/∂s by `jax.jacfwd` at N steps: prev [N, S], x [N, I] → [N, S, S]."""
    from rnnctl import networks
    return jax.vmap(lambda s, xx: networks.state_jacobian(params, s, xx))(prev, x)


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


def _nan_mean_ci(samples: jax.Array, confidence: float):
    """`mean_ci` over axis 0 ignoring NaN. The t quantile uses the static sample count
    (the valid count is dynamic under jit); with hundreds of steps the difference from
    the exact quantile is negligible."""
    from scipy import stats  # lazy: scipy.stats is a slow import

    n_static = samples.shape[0]
    if n_static < 2:
        raise ValueError(f"a confidence interval needs at least 2 samples, got {n_static}")
    n = jnp.sum(jnp.isfinite(samples), axis=0)
    mean = jnp.nanmean(samples, axis=0)
    sd = jnp.sqrt(jnp.nansum((samples - mean) ** 2, axis=0) / jnp.maximum(n - 1, 1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n_static - 1)) * sd / jnp.sqrt(
        jnp.maximum(n, 1))
    half = jnp.where(n > 1, half, jnp.nan)
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
    tau = timescales(jnp.asarray(eigvals), top=top)          # unstable modes: NaN
    if max_tau is not None:
        frac_capped = jnp.mean(tau > max_tau)
        tau = jnp.minimum(tau, max_tau)
    else:
        frac_capped = jnp.zeros((), tau.dtype)
    if dt is not None:
        tau = tau * dt
    # A step with fewer than k stable modes averages those it has; a step with none is
    # left out (NaN) of the means over steps.
    mean, low, high = _nan_mean_ci(tau, confidence)
    avg, avg_low, avg_high = _nan_mean_ci(jnp.nanmean(tau, -1), confidence)
    return Timescales(tau=tau, mean=mean, ci=jnp.stack([low, high], -1), avg=avg,
                      avg_ci=jnp.stack([avg_low, avg_high]), frac_capped=frac_capped)


@partial(jax.jit, static_argnames=("top", "confidence"))
def _tau_summary(lam, top: int, confidence: float):
    return jax.vmap(lambda l: timescales_from_eigvals(l, top=top, confidence=confidence))(lam)


# ------------------------------------------------------------------ host eigen solver
# The eigen-decompositions of J_t dominate the analysis; on a CPU they run fastest in
# LAPACK called from threads with the GIL released.

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


def timescales_host(w_h, h, *, x=None, valid=None, top: int = 5, stride: int = 1,
                    confidence: float = 0.99, workers: int = 1, on_error=None
                    ) -> dict[str, np.ndarray]:
    """Integration timescales at every checkpoint, eigenvalues on the host in threads.

    The same estimator as `analysis.integration_timescales` (J_t = diag(1 − h_t²) W_h at
    every `stride`-th step, top-k τ per step, mean and Student-t interval over steps;
    `analysis.timescales_from_eigvals` does the summary), but the eigen-decompositions run
    through `eigvals_host` (float32 LAPACK, the GIL released), one checkpoint per task in
    `workers` threads: LAPACK's geev is single-threaded and dominates the cost (about
    0.35 ms per 64×64 matrix per core; jax's batched eigvals runs on one core).

    Any other cell (GRU, LSTM) gets its Jacobians J_t = ∂F(s_{t−1}, x_t)/∂s_{t−1} from
    `cell_jacobians` (`jax.jacfwd`, on the device), and the same summary.

    Args:
      w_h: [C, H, H] recurrent weights of a vanilla RNN per checkpoint, or the agent's
        parameters with leaves [C, ...] (any cell; a vanilla RNN's take the closed form).
      h: [C, E, T, S] rollout cell states per checkpoint.
      x: [C, E, T, I] rollout inputs; needed for cells other than the vanilla RNN.
      valid: optional [C, E, T] bool: steps to use (e.g. `Episodes.alive`); the others
        are left out of the means, as a step without a stable mode is.
      on_error: optional callable(checkpoint, exception) -> exception to raise instead.
    Returns:
      {"tau_mean" [C, k], "tau_ci" [C, k, 2], "tau_avg" [C], "tau_avg_ci" [C, 2],
       "tau_frac_capped" [C], "tau_step" [C, S] (the per-step mean of the top-k τ at the
       S analysed steps, NaN at a step without a stable mode), "tau_unstable_frac" [C]
       (fraction of steps with a mode |λ| > 1)} as NumPy arrays (τ in steps).
    """
    jac_of = None
    if isinstance(w_h, Mapping):
        from rnnctl import networks
        if networks.cell_type(w_h) == "rnn":
            w_h = w_h["rnn"]["W_h"]
        else:
            if x is None:
                raise ValueError(f"a {networks.cell_type(w_h)} cell needs the inputs x")
            params, xs = w_h, jnp.asarray(x)
            jac_of = lambda c: np.asarray(_strided_jacobians(
                jax.tree.map(lambda v: v[c], params), jnp.asarray(h[c]), xs[c], stride))
    w_h = None if jac_of is not None else np.asarray(w_h)
    h = np.asarray(h)
    n_ckpt, size = h.shape[0], h.shape[-1]
    steps = h.reshape(n_ckpt, -1, size)[:, ::stride]

    def eig(c):
        try:
            if jac_of is not None:
                return eigvals_host(jac_of(c))
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
    if valid is not None:   # NaN eigenvalues give NaN τ, which the summary leaves out
        keep = np.asarray(valid, bool).reshape(n_ckpt, -1)[:, ::stride]
        lam = np.where(keep[..., None], lam, np.nan + 0j).astype(lam.dtype)
    ts = _tau_summary(jnp.asarray(lam), top, float(confidence))
    with np.errstate(invalid="ignore"):
        mod = np.abs(lam).max(-1)                               # [C, S] NaN where left out
        unstable = np.where(np.isfinite(mod), mod > 1.0, np.nan)
        tau = np.asarray(ts.tau, np.float64)
        n_ok = np.isfinite(tau).sum(-1)
        tau_step = np.where(n_ok > 0, np.nansum(np.nan_to_num(tau, nan=0.0), -1)
                            / np.maximum(n_ok, 1), np.nan)
    return {"tau_mean": np.asarray(ts.mean), "tau_ci": np.asarray(ts.ci),
            "tau_avg": np.asarray(ts.avg), "tau_avg_ci": np.asarray(ts.avg_ci),
            "tau_frac_capped": np.asarray(ts.frac_capped),
            "tau_step": tau_step.astype(np.float32),
            "tau_unstable_frac": np.nanmean(unstable, -1).astype(np.float32)}


@partial(jax.jit, static_argnames=("stride",))
def _strided_jacobians(params, h, x, stride: int):
    """`cell_jacobians` of one checkpoint's rollouts h [E, T, S], x [E, T, I], flattened
    over steps in order and strided (only the kept steps are differentiated): [N, S, S]."""
    prev = _previous_states(h)
    return _jacfwd_steps(params, prev.reshape(-1, prev.shape[-1])[::stride],
                         x.reshape(-1, x.shape[-1])[::stride])
