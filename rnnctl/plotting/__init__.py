"""Figures (Fig 1b–e and learning curves): draw results, never compute them.

The only package of rnnctl that imports matplotlib (this module, and `beyond` for the
figures beyond the paper: the fixed-point manifold and the atlas). It builds `matplotlib.figure.Figure`
objects directly, so it needs no pyplot and never switches a notebook user's backend; a
returned Figure displays in Jupyter as it is, and `path=` writes a PNG (Agg canvas).

Inputs are plain NumPy arrays (or array-likes: JAX arrays, lists) and Python scalars, not
rnnctl dataclasses, so every function also works on synthetic inputs. NaN marks "missing"
everywhere (a bin never visited, a checkpoint without a fixed point) and is drawn as light
grey or skipped, never as a crash. Conventions: θ = 0 is upright (the goal), θ = ±π hanging;
θ̇ in [-8, 8] rad/s; torque in [-2, 2] N·m.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["fig_manifold", "atlas_grid", "fig_similarity_maps", "fig_flow_field",
           "fig_flow_stages", "fig_input_drive",
           "learning_curves",
           "fig1b_policy", "fig1c_geometry",
           "fig1d_fixed_points",
           "fig1e_timescales"]

WIDTH = 7.0            # inches: a two-column paper figure
DPI = 150
from rnnctl.analysis.policy import MAX_TORQUE  # noqa: E402  (N·m; torque-map colour limits)
NAN_COLOR = "0.85"     # light grey: bins never visited
TORQUE_CMAP = "RdBu_r"  # diverging: sign of the torque
THETA_CMAP = "hsv"     # cyclic, saturated: visible on white at every θ (twilight's ends are
                       # near-white, so the hanging states would vanish on a white page)
VALUE_CMAP = "viridis"  # sequential: returns

_STYLE = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False,
}
_PI_TICKS = [-np.pi, 0.0, np.pi]
_PI_LABELS = [r"$-\pi$", "0", r"$\pi$"]
_PI_TICKS5 = [-np.pi, -np.pi / 2, 0.0, np.pi / 2, np.pi]
_PI_LABELS5 = [r"$-\pi$", r"$-\pi/2$", "0", r"$\pi/2$", r"$\pi$"]
_THETA = r"$\theta$"
_THETA_DOT = r"$\dot{\theta}$"


# ---------------------------------------------------------------------------------------
# helpers


def _float(x, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric array-like: {err}") from None


def _require(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(msg)


def _new_figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained", dpi=100)


def _finish(fig: Figure, path) -> Figure:
    """Fix tick label sizes (ticks are created lazily, maybe outside our rc context) and save."""
    for ax in fig.axes:
        ax.tick_params(labelsize=_STYLE["xtick.labelsize"])
    if path is not None:
        _save_png(fig, path)
    return fig


def _save_png(fig: Figure, path) -> None:
    """Write a PNG atomically (`runs.atomic_write`: temp file, fsync, rename)."""
    from rnnctl.runs import atomic_write
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, facecolor="white"))


def _cmap(name: str):
    """A copy of a named colour map with NaN (bad) drawn light grey."""
    return mpl.colormaps[name].with_extremes(bad=NAN_COLOR)


def _finite_range(x: np.ndarray, default=(0.0, 1.0)) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return default
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _stage_title(stage, extra: str | None = None) -> str:
    try:
        title = f"update {int(stage)}" if float(stage).is_integer() else f"update {stage}"
    except (TypeError, ValueError):  # a label such as "final"
        title = f"update {stage}"
    return title if extra is None else f"{title}\n{extra}"


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "nan"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


# ---------------------------------------------------------------------------------------
# learning curves


def learning_curves(returns, groups: Sequence[str], updates=None, *, path=None,
                    ylabel: str = "deterministic return", title: str | None = None) -> Figure:
    """Return vs update per group: mean over agents, min–max band, faint agent lines.

    Args:
      returns: [A, U+1] return of each agent at each evaluation (NaN allowed); a 1-D
        [U+1] array is one agent.
      groups: A labels, one per agent (e.g. "FO"/"PO"); agents with the same label are
        averaged together, groups drawn in order of first appearance.
      updates: [U+1] x values (default 0..U).
      path: where to write the PNG (optional).
      ylabel: y-axis label.
      title: figure title (default "Learning curves").
    Returns:
      The Figure (one axes).
    """
    ret = _float(returns, "returns")
    if ret.ndim == 1:
        ret = ret[None]
    _require(ret.ndim == 2, f"returns must be [A, U+1]; got shape {ret.shape}")
    groups = [str(g) for g in ([groups] if isinstance(groups, str) else groups)]
    _require(len(groups) == ret.shape[0],
             f"groups has {len(groups)} labels but returns has {ret.shape[0]} agents")
    x = np.arange(ret.shape[1]) if updates is None else _float(updates, "updates")
    _require(x.shape == (ret.shape[1],),
             f"updates must be [{ret.shape[1]}] to match returns {ret.shape}; got {x.shape}")

    with mpl.rc_context(_STYLE):
        fig = _new_figure(3.0)
        ax = fig.add_subplot()
        colors = mpl.colormaps["tab10"].colors
        for i, group in enumerate(dict.fromkeys(groups)):
            c = colors[i % len(colors)]
            r = ret[np.array(groups) == group]
            for row in r:
                ax.plot(x, row, color=c, lw=0.6, alpha=0.3)
            seen = np.isfinite(r).any(0)
            # mean/min/max over agents only where some agent has a value (no all-NaN warnings)
            safe = np.where(np.isfinite(r), r, 0.0)
            n = np.isfinite(r).sum(0)
            mean = np.where(seen, safe.sum(0) / np.maximum(n, 1), np.nan)
            lo = np.where(seen, np.where(np.isfinite(r), r, np.inf).min(0), np.nan)
            hi = np.where(seen, np.where(np.isfinite(r), r, -np.inf).max(0), np.nan)
            ax.fill_between(x, lo, hi, where=seen, color=c, alpha=0.18, lw=0,
                            label=f"{group} min–max")
            ax.plot(x, mean, color=c, lw=1.8, label=f"{group} mean ({len(r)} agents)")
        ax.set_xlabel("update")
        ax.set_ylabel(ylabel)
        ax.set_title(title if title is not None else "Learning curves")
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(loc="lower right", frameon=False, ncols=2)
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Fig 1b: policy maps


def fig1b_policy(maps: Mapping[str, object], stages: Sequence, *, theta_edges, theta_dot_edges,
                 sharpness: Mapping[str, object] | None = None,
                 rows: Sequence[str] = ("PO", "FO"), path=None) -> Figure:
    """Mean torque over the (θ, θ̇) plane: one row per observability, one column per stage.

    Args:
      maps: row label -> [S, Bθ, Bθ̇] mean torque per bin (NaN = never visited, grey); the
        same [Bθ, Bθ̇] layout as `analysis.PolicyMap.torque`.
      stages: S update indices (column titles "update u").
      theta_edges: [Bθ + 1] bin edges in θ (rad), increasing.
      theta_dot_edges: [Bθ̇ + 1] bin edges in θ̇ (rad/s), increasing.
      sharpness: optional row label -> [S] decision-boundary sharpness, shown per panel.
      rows: row labels top to bottom (default PO over FO); each must be a key of `maps`.
      path: where to write the PNG (optional).
    Returns:
      The Figure: len(rows) × S map axes (row-major), then one shared colour bar axes.
    """
    rows = [rows] if isinstance(rows, str) else list(rows)
    _require(len(rows) > 0, "rows must name at least one map")
    missing = [r for r in rows if r not in maps]
    _require(not missing, f"rows {missing} not in maps (keys: {list(maps)})")
    stages = list(stages)
    n_s = len(stages)
    _require(n_s > 0, "stages must not be empty")
    te = _float(theta_edges, "theta_edges")
    tde = _float(theta_dot_edges, "theta_dot_edges")
    _require(te.ndim == 1 and te.size >= 2, f"theta_edges must be [Bθ+1]; got {te.shape}")
    _require(tde.ndim == 1 and tde.size >= 2,
             f"theta_dot_edges must be [Bθ̇+1]; got {tde.shape}")
    want = (n_s, te.size - 1, tde.size - 1)
    data = {}
    for r in rows:
        m = _float(maps[r], f"maps[{r!r}]")
        _require(m.shape == want, f"maps[{r!r}] must be [S, Bθ, Bθ̇] = {want} (from stages and "
                 f"edges); got {m.shape}")
        data[r] = m
    sharp = {}
    for r, s in (sharpness or {}).items():
        s = _float(s, f"sharpness[{r!r}]")
        _require(s.shape == (n_s,), f"sharpness[{r!r}] must be [{n_s}]; got {s.shape}")
        sharp[r] = s

    finite = np.concatenate([m[np.isfinite(m)] for m in data.values()])
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max",
              (True, True): "both"}[(bool((finite < -MAX_TORQUE).any()),
                                     bool((finite > MAX_TORQUE).any()))]
    cmap = _cmap(TORQUE_CMAP)
    norm = Normalize(-MAX_TORQUE, MAX_TORQUE)

    with mpl.rc_context(_STYLE):
        # square panels filling the width (minus labels and colour bar); height to match,
        # so that constrained layout leaves no empty band between rows
        panel = min(1.6, (WIDTH - 1.4) / n_s - 0.2)
        fig = _new_figure(len(rows) * (panel + 0.25) + 0.95)
        axes = fig.subplots(len(rows), n_s, squeeze=False, sharex=True, sharey=True)
        mesh = None
        for i, r in enumerate(rows):
            for j, stage in enumerate(stages):
                ax = axes[i, j]
                ax.set_facecolor(NAN_COLOR)
                # maps are [Bθ, Bθ̇]; pcolormesh wants [y, x] = [Bθ̇, Bθ]: θ across, θ̇ up
                mesh = ax.pcolormesh(te, tde, np.ma.masked_invalid(data[r][j]).T, cmap=cmap,
                                     norm=norm, shading="flat", rasterized=True)
                ax.set_xlim(te[0], te[-1])
                ax.set_ylim(tde[0], tde[-1])
                ax.set_box_aspect(1)
                extra = (f"sharpness {sharp[r][j]:.3g}" if r in sharp else None)
                ax.set_title(_stage_title(stage, extra) if i == 0 else (extra or ""),
                             fontsize=_STYLE["font.size"])
                ax.set_xticks(_PI_TICKS, _PI_LABELS)
                for s in ("top", "right"):
                    ax.spines[s].set_visible(True)
            axes[i, 0].set_ylabel(f"{r}\n{_THETA_DOT} (rad/s)")
        for ax in axes[-1]:
            ax.set_xlabel(f"{_THETA} (rad)")
        cb = fig.colorbar(mesh, ax=axes, shrink=0.9, aspect=25, extend=extend)
        cb.set_label("mean torque (N·m)")
        fig.legend(handles=[Patch(facecolor=NAN_COLOR, edgecolor="0.5", label="not visited")],
                   loc="outside lower right", frameon=False)
        fig.suptitle(f"Policy over training: mean torque on ({_THETA}, {_THETA_DOT}); "
                     f"{_THETA} = 0 upright")
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Fig 1c: hidden-state geometry


def fig1c_geometry(proj, theta, stages: Sequence, *, stable=None, unstable=None,
                   ring_score=None, path=None) -> Figure:
    """Hidden states in their top-2 PCs coloured by θ, with fixed points, one panel per stage.

    Args:
      proj: [S, N, 2] hidden states projected on each stage's top two principal components.
      theta: [S, N] wrapped θ (rad) of the same samples, for colour (cyclic colour map).
      stages: S update indices (panel titles "update u").
      stable: optional S arrays [K_s, 2] (K_s may be 0): stable fixed points in the same PCs
        (filled markers); or a mapping {input name: S arrays} for fixed points at several
        constant inputs (one marker shape and colour per input, named in the legend).
      unstable: the same for unstable fixed points (white-filled markers).
      ring_score: optional [S] ring scores, shown in the panel titles.
      path: where to write the PNG (optional).
    Returns:
      The Figure: S panel axes, then one shared θ colour bar axes.
    """
    z = _float(proj, "proj")
    th = _float(theta, "theta")
    stages = list(stages)
    n_s = len(stages)
    _require(z.ndim == 3 and z.shape[-1] == 2, f"proj must be [S, N, 2]; got {z.shape}")
    _require(z.shape[0] == n_s, f"proj has {z.shape[0]} stages but stages has {n_s}")
    _require(th.shape == z.shape[:2], f"theta must be [S, N] = {z.shape[:2]}; got {th.shape}")
    _require(n_s > 0, "stages must not be empty")

    def points(fps, name):
        if fps is None:
            return None
        _require(len(fps) == n_s, f"{name} must be a list of {n_s} arrays; got {len(fps)}")
        out = []
        for s, p in enumerate(fps):
            p = _float(p, f"{name}[{s}]")
            if p.size == 0:
                p = p.reshape(0, 2)
            _require(p.ndim == 2 and p.shape[1] == 2, f"{name}[{s}] must be [K, 2]; "
                     f"got {p.shape}")
            out.append(p)
        return out

    def by_input(fps, name):
        if fps is None:
            return None
        if isinstance(fps, Mapping):
            return {str(k): points(v, f"{name}[{k!r}]") for k, v in fps.items()}
        return {"": points(fps, name)}

    st, un = by_input(stable, "stable"), by_input(unstable, "unstable")
    rs = None
    if ring_score is not None:
        rs = _float(ring_score, "ring_score")
        _require(rs.shape == (n_s,), f"ring_score must be [{n_s}]; got {rs.shape}")

    cmap = _cmap(THETA_CMAP)
    norm = Normalize(-np.pi, np.pi)
    names = list(dict.fromkeys([*(st or {}), *(un or {})]))
    shapes = {n: m for n, m in zip(names, ("o", "s", "^", "D", "v", "P"))}
    colours = {n: c for n, c in zip(names, ("black", "tab:purple", "tab:red", "tab:green",
                                            "tab:brown", "tab:gray"))}

    def stable_kw(n):
        return dict(marker=shapes[n], s=55, c=colours[n], edgecolors="white", linewidths=0.8,
                    zorder=4)

    def unstable_kw(n):
        return dict(marker=shapes[n], s=60, c="white", edgecolors=colours[n], linewidths=1.4,
                    zorder=5)
    with mpl.rc_context(_STYLE):
        panel = min(2.0, (WIDTH - 1.2) / n_s - 0.3)  # as in fig1b: height fits the panels
        fig = _new_figure(panel + (1.3 if (st is not None or un is not None) else 1.05))
        axes = fig.subplots(1, n_s, squeeze=False)[0]
        sc = None
        for j, stage in enumerate(stages):
            ax = axes[j]
            sc = ax.scatter(z[j, :, 0], z[j, :, 1], c=th[j], cmap=cmap, norm=norm, s=3,
                            linewidths=0, alpha=0.7, rasterized=True, plotnonfinite=False)
            for n, pts in (st or {}).items():
                if len(pts[j]):
                    ax.scatter(pts[j][:, 0], pts[j][:, 1], **stable_kw(n))
            for n, pts in (un or {}).items():
                if len(pts[j]):
                    ax.scatter(pts[j][:, 0], pts[j][:, 1], **unstable_kw(n))
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_box_aspect(1)
            ax.set_title(_stage_title(stage, None if rs is None else f"ring score {rs[j]:.2f}"),
                         fontsize=_STYLE["font.size"])
            ax.set_xlabel("PC 1 (a.u.)")
            ax.locator_params(nbins=4 if n_s <= 4 else 3)
        axes[0].set_ylabel("PC 2 (a.u.)")
        cb = fig.colorbar(sc, ax=axes, shrink=0.9, aspect=20)
        cb.set_ticks(_PI_TICKS5, labels=_PI_LABELS5)
        cb.set_label(f"{_THETA} (rad), 0 = upright")
        handles = []
        for n in names:
            at = f" ({n} input)" if n else ""
            if st is not None and n in st:
                handles.append(Line2D([], [], ls="", marker=shapes[n], mfc=colours[n],
                                      mec="white", ms=7, label=f"stable{at}"))
            if un is not None and n in un:
                handles.append(Line2D([], [], ls="", marker=shapes[n], mfc="white",
                                      mec=colours[n], mew=1.4, ms=7, label=f"unstable{at}"))
        if handles:
            fig.legend(handles=handles, loc="outside lower center",
                       ncols=min(len(handles), 6), frameon=False)
        fig.suptitle("Hidden states in the top two PCs of each checkpoint, coloured by "
                     f"{_THETA}")
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Fig 1d: the stable fixed point over training, and proximity vs reward-to-go


def fig1d_fixed_points(path_pc, path_return, d, g, *, seed_ids=None, slope, intercept, r, p,
                       path=None) -> Figure:
    """Left: the stable fixed point's path in PC space coloured by return. Right: g vs d.

    Args:
      path_pc: [T, 2] the tracked stable fixed point in PC space at each checkpoint (NaN
        rows: no stable fixed point there, skipped).
      path_return: [T] 10-episode-average return at each checkpoint (colour).
      d: [N] distances of the stable fixed point to its final location (pooled over seeds).
      g: [N] reward-to-go R_final − R_t of the same pairs.
      seed_ids: optional [N] seed of each pair (one colour per seed).
      slope, intercept: the fitted line g = slope · d + intercept (drawn if finite).
      r, p: Pearson r and p-value of the fit (printed with n = finite (d, g) pairs drawn).
      path: where to write the PNG (optional).
    Returns:
      The Figure: path axes, return colour bar axes, regression axes.
    """
    pc = _float(path_pc, "path_pc")
    ret = _float(path_return, "path_return")
    d = _float(d, "d")
    g = _float(g, "g")
    _require(pc.ndim == 2 and pc.shape[1] == 2, f"path_pc must be [T, 2]; got {pc.shape}")
    _require(ret.shape == (pc.shape[0],),
             f"path_return must be [T] = [{pc.shape[0]}]; got {ret.shape}")
    _require(d.ndim == 1 and d.shape == g.shape,
             f"d and g must both be [N]; got {d.shape} and {g.shape}")
    seeds = None
    if seed_ids is not None:
        seeds = np.asarray(seed_ids)
        _require(seeds.shape == d.shape, f"seed_ids must be [N] = {d.shape}; got {seeds.shape}")
    slope, intercept, r, p = (float(v) for v in (slope, intercept, r, p))

    with mpl.rc_context(_STYLE):
        fig = _new_figure(3.1)
        ax_path, ax_reg = fig.subplots(1, 2, width_ratios=[1, 1.1])

        # left: the path, skipping checkpoints without a stable fixed point
        ok = np.isfinite(pc).all(1)
        q = pc[ok]
        vmin, vmax = _finite_range(ret[ok])
        norm = Normalize(vmin, vmax)
        if len(q):
            ax_path.plot(q[:, 0], q[:, 1], color="0.6", lw=0.8, zorder=1)
        sc = ax_path.scatter(q[:, 0], q[:, 1], c=ret[ok], cmap=_cmap(VALUE_CMAP), norm=norm,
                             s=18, edgecolors="none", zorder=2, plotnonfinite=True)
        if len(q):
            ax_path.scatter(*q[0], marker="s", s=70, facecolors="none", edgecolors="black",
                            linewidths=1.2, zorder=3, label="first checkpoint")
            ax_path.scatter(*q[-1], marker="*", s=140, c="black", zorder=3,
                            label="last checkpoint")
            ax_path.legend(loc="best", frameon=True, framealpha=0.8, handletextpad=0.3)
        else:
            ax_path.text(0.5, 0.5, "no stable fixed point", transform=ax_path.transAxes,
                         ha="center", va="center", color="0.4")
        ax_path.set_xlabel("PC 1 (a.u.)")
        ax_path.set_ylabel("PC 2 (a.u.)")
        ax_path.set_title("Stable fixed point over training")
        ax_path.locator_params(nbins=5)
        cb = fig.colorbar(sc, ax=ax_path, shrink=0.9, aspect=20)
        cb.set_label("return (10-episode mean)")

        # right: reward-to-go vs distance, pooled over seeds
        fin = np.isfinite(d) & np.isfinite(g)
        if seeds is None:
            ax_reg.scatter(d[fin], g[fin], s=12, color="tab:blue", alpha=0.7, edgecolors="none")
        else:
            colors = mpl.colormaps["tab10"].colors
            for k, s in enumerate(dict.fromkeys(seeds[fin].tolist())):
                m = fin & (seeds == s)
                ax_reg.scatter(d[m], g[m], s=12, color=colors[k % 10], alpha=0.75,
                               edgecolors="none", label=f"seed {s}")
        if np.isfinite(slope) and np.isfinite(intercept) and fin.any():
            xs = np.linspace(d[fin].min(), d[fin].max(), 2)
            ax_reg.plot(xs, slope * xs + intercept, color="black", lw=1.3,
                        label="linear fit")
        ax_reg.text(0.03, 0.97, f"r = {r:.2f}, p = {_fmt_p(p)}, n = {int(fin.sum())}",
                    transform=ax_reg.transAxes, ha="left", va="top",
                    bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.6", alpha=0.9))
        ax_reg.set_xlabel("distance d of stable FP to its final location\n"
                          "(hidden-state units)")
        ax_reg.set_ylabel(r"reward-to-go g = $R_\mathrm{final} - R_t$")
        ax_reg.set_title("Proximity vs reward-to-go (pooled)")
        ax_reg.grid(alpha=0.3, lw=0.5)
        if ax_reg.get_legend_handles_labels()[0]:
            ax_reg.legend(loc="lower right", frameon=True, framealpha=0.8, handletextpad=0.2,
                          markerscale=1.5,
                          ncols=2 if seeds is not None and len(set(seeds[fin].tolist())) > 4
                          else 1)
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Fig 1e: integration timescales


def fig1e_timescales(updates, tau_mean, ci_low, ci_high, *, dt: float | None = None, path=None,
                     label: str | Sequence[str] = "PO", summary: str = "mean, 99% CI",
                     top: int = 5, windows: Mapping[str, Sequence[float]] | None = None
                     ) -> Figure:
    """Top-k integration timescale τ vs update, with confidence error bars.

    Args:
      updates: [U+1] update index of each checkpoint.
      tau_mean: [U+1] (or [G, U+1] for G groups) mean top-5 τ in steps (NaN allowed).
      ci_low, ci_high: same shape: bounds of the 99% confidence interval of the mean.
      dt: seconds per step; if given, a right-hand axis shows τ in seconds.
      path: where to write the PNG (optional).
      label: group label (a list of G labels for [G, U+1] inputs).
      summary: what the curve and bars are, for the legend (e.g. "geometric mean, 95%
        bootstrap CI").
      top: k of the top-k τ (axis label).
      windows: optional {name: (first update, last update)} shaded on the axis (the
        windows a claim compares).
    Returns:
      The Figure (one axes; the seconds axis, if any, is a child of it).
    """
    x = _float(updates, "updates")
    mean, lo, hi = (_float(a, n) for a, n in ((tau_mean, "tau_mean"), (ci_low, "ci_low"),
                                              (ci_high, "ci_high")))
    _require(x.ndim == 1, f"updates must be [U+1]; got {x.shape}")
    _require(mean.shape == lo.shape == hi.shape,
             f"tau_mean, ci_low, ci_high must share a shape; got {mean.shape}, {lo.shape}, "
             f"{hi.shape}")
    one = mean.ndim == 1
    if one:
        mean, lo, hi = mean[None], lo[None], hi[None]
    _require(mean.ndim == 2 and mean.shape[1] == x.size,
             f"tau_mean must be [{x.size}] or [G, {x.size}] to match updates; got "
             f"{mean.shape if not one else mean.shape[1:]}")
    labels = [label] if isinstance(label, str) else [str(s) for s in label]
    _require(len(labels) == mean.shape[0],
             f"label must name the {mean.shape[0]} group(s); got {len(labels)}")
    if dt is not None:
        dt = float(dt)
        _require(dt > 0, f"dt must be positive; got {dt}")

    with mpl.rc_context(_STYLE):
        fig = _new_figure(3.0)
        ax = fig.add_subplot()
        colors = {"FO": "tab:blue", "PO": "tab:orange"}
        for k, (lab, m, l, h) in enumerate(zip(labels, mean, lo, hi)):
            # error bars are distances from the mean; NaN bounds draw no bar
            yerr = np.stack([np.clip(m - l, 0, None), np.clip(h - m, 0, None)])
            yerr = np.where(np.isfinite(yerr), yerr, 0.0)
            c = colors.get(lab, f"C{k}")
            ax.errorbar(x, m, yerr=yerr, color=c, marker="o", ms=3, lw=1.2, elinewidth=0.8,
                        capsize=2, label=f"{lab} ({summary})")
        for k, (name, (u0, u1)) in enumerate((windows or {}).items()):
            ax.axvspan(float(u0) - 0.5, float(u1) + 0.5, color=f"0.{85 + 4 * (k % 3)}",
                       zorder=0, lw=0)
            ax.text((float(u0) + float(u1)) / 2, 1.0, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7, color="0.35")
        ax.set_xlabel("update")
        ax.set_ylabel(rf"top-{top} integration timescale $\tau$ (steps)")
        ax.set_title(r"Stimulus integration timescales $\tau_i = |1/\ln|\lambda_i||$ "
                     "over training", pad=14 if windows else 6)   # above the window names
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(loc="best", frameon=False)
        if dt is not None:
            ax.spines["right"].set_visible(True)
            sec = ax.secondary_yaxis("right", functions=(lambda t: t * dt, lambda s: s / dt))
            sec.set_ylabel(rf"$\tau$ (s; dt = {dt:g} s)")
            sec.tick_params(labelsize=_STYLE["ytick.labelsize"])
        return _finish(fig, path)


# Figures beyond the paper (fixed-point manifold, atlas), in their own module.
from rnnctl.plotting.beyond import (atlas_grid, fig_flow_field, fig_flow_stages,  # noqa: E402
                                    fig_input_drive, fig_manifold, fig_similarity_maps)
