"""Figures beyond the paper: the fixed-point manifold over a ring of inputs, the atlas of
claims × conditions, maps of many agents' dynamics over training, and flow fields with
fixed and slow points. Same style and helpers as the paper's figures."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from rnnctl.plotting import (_PI_LABELS5, _PI_TICKS5, _STYLE, _THETA, WIDTH, _finish,
                             _float, _new_figure, _require, _stage_title)

__all__ = ["fig_manifold", "atlas_grid", "fig_similarity_maps", "fig_flow_field",
           "fig_flow_stages", "fig_input_drive"]


# ---------------------------------------------------------------------------------------
# Beyond the paper: the fixed-point manifold over a ring of constant inputs


def fig_manifold(theta_in, stages: Sequence, fp_theta, stable, valid, *, label: str = "",
                 path=None) -> Figure:
    """Fixed points as a function of a constant input angle, one panel per stage.

    Each fixed point at input θ_in is drawn at (θ_in, the θ it represents): stable ones
    filled, unstable ones hollow. A diagonal line means the network holds one attractor
    per input angle (a ring of attractors); a flat band means the inputs are ignored.

    Args:
      theta_in: [M] input angles (rad).
      stages: S update indices (panel titles).
      fp_theta: [S, M, K] θ each fixed point represents (NaN: none).
      stable, valid: [S, M, K] bool.
      label: agent label for the title.
      path: where to write the PNG (optional).
    Returns:
      The Figure: S panel axes.
    """
    x = _float(theta_in, "theta_in")
    th = _float(fp_theta, "fp_theta")
    stages = list(stages)
    n_s = len(stages)
    _require(x.ndim == 1, f"theta_in must be [M]; got {x.shape}")
    _require(th.ndim == 3 and th.shape[:2] == (n_s, x.size),
             f"fp_theta must be [{n_s}, {x.size}, K]; got {th.shape}")
    st = np.asarray(stable, bool)
    ok = np.asarray(valid, bool) & np.isfinite(th)
    _require(st.shape == th.shape and ok.shape == th.shape,
             "stable and valid must have fp_theta's shape")
    xx = np.broadcast_to(x[None, :, None], th.shape)
    with mpl.rc_context(_STYLE):
        panel = min(2.0, (WIDTH - 0.6) / n_s - 0.3)
        fig = _new_figure(panel + 1.25)
        axes = fig.subplots(1, n_s, squeeze=False, sharey=True)[0]
        for j, stage in enumerate(stages):
            ax = axes[j]
            s_, u_ = ok[j] & st[j], ok[j] & ~st[j]
            ax.scatter(xx[j][s_], th[j][s_], s=12, c="black", lw=0, zorder=3)
            ax.scatter(xx[j][u_], th[j][u_], s=14, facecolors="white", edgecolors="tab:red",
                       lw=0.9, zorder=4)
            ax.set_xlim(-np.pi, np.pi)
            ax.set_ylim(-np.pi, np.pi)
            ax.set_xticks(_PI_TICKS5, labels=_PI_LABELS5)
            ax.set_yticks(_PI_TICKS5, labels=_PI_LABELS5)
            ax.set_box_aspect(1)
            ax.set_title(_stage_title(stage), fontsize=_STYLE["font.size"])
            ax.set_xlabel(f"input {_THETA}")
            ax.grid(alpha=0.3, lw=0.5)
        axes[0].set_ylabel(f"{_THETA} a fixed point represents")
        handles = [Line2D([], [], ls="", marker="o", mfc="black", mec="black", ms=5,
                          label="stable"),
                   Line2D([], [], ls="", marker="o", mfc="white", mec="tab:red", ms=5,
                          label="unstable")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        fig.suptitle("Fixed points along a ring of constant inputs" + (f" ({label})"
                                                                       if label else ""))
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# The atlas: claims × conditions


def atlas_grid(cells, rows: Sequence[str], cols: Sequence[str], *, title: str = "",
               path=None) -> Figure:
    """A table of verdicts: one row per claim, one column per condition.

    Args:
      cells: [C cols][R rows] dicts {"holds": bool, "effect": float|None,
        "ci": [lo, hi]|None, "p": float|None}.
      rows: R claim labels. cols: C condition labels.
      title: the figure title.
      path: where to write the PNG (optional).
    Returns:
      The Figure (one axes).
    """
    n_c, n_r = len(cols), len(rows)
    _require(len(cells) == n_c and all(len(c) == n_r for c in cells),
             f"cells must be [{n_c}][{n_r}]")

    def f(x, d=3):
        return "n/a" if x is None or not np.isfinite(float(x)) else f"{float(x):.{d}g}"

    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(1.6 + 1.25 * n_c, 0.62 * n_r + 1.3), layout="constrained",
                     dpi=100)
        ax = fig.add_subplot()
        for i, col in enumerate(cells):
            for j, cell in enumerate(col):
                ok = bool(cell.get("holds"))
                ax.add_patch(Rectangle((i, j), 1, 1, lw=0.8, ec="white",
                                                   fc="#9ed89e" if ok else "#eeeeee"))
                ci = cell.get("ci") or [None, None]
                ax.text(i + 0.5, j + 0.5, f"{'holds' if ok else 'does not hold'}\n"
                        f"{f(cell.get('effect'), 2)}\n[{f(ci[0], 2)}, {f(ci[1], 2)}]\n"
                        f"p {f(cell.get('p'), 2)}", ha="center", va="center", fontsize=6.5,
                        weight="bold" if ok else "normal")
        ax.set_xlim(0, n_c)
        ax.set_ylim(n_r, 0)
        ax.set_xticks(np.arange(n_c) + 0.5, labels=list(cols), fontsize=7)
        ax.set_yticks(np.arange(n_r) + 0.5, labels=list(rows), fontsize=7)
        ax.tick_params(length=0)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.xaxis.tick_top()
        if title:
            fig.suptitle(title)
        return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Beyond the paper: every agent × checkpoint embedded by the distance of their dynamics


#: Line colours of the groups of `fig_similarity_maps`, in order of first appearance.
GROUP_COLORS = ("0.35", "tab:red", "tab:blue", "tab:green")


def fig_similarity_maps(embeddings: dict, updates, groups: Sequence[str], *, title: str = "",
                        path=None) -> Figure:
    """2-D embeddings (e.g. MDS) of agents × checkpoints, one panel per distance.

    Each agent is a line through its checkpoints in training order, its points coloured
    by update (viridis), the line coloured and dashed by its group (e.g. FO grey solid,
    PO red dashed); the
    first checkpoint is a hollow circle, the last a filled square.

    Args:
      embeddings: {panel title: [A, C, 2] coordinates} (NaN: a missing system, skipped).
      updates: [C] update index of each checkpoint (the colour).
      groups: A labels, one per agent (e.g. "FO"/"PO"; the legend).
      title: figure title.
      path: where to write the PNG (optional).
    Returns:
      The Figure: one axes per embedding.
    """
    u = _float(updates, "updates")
    groups = list(groups)
    names = list(embeddings)
    _require(len(names) > 0, "embeddings must hold at least one panel")
    embs = [_float(embeddings[k], f"embeddings[{k!r}]") for k in names]
    for k, e in zip(names, embs):
        _require(e.ndim == 3 and e.shape == (len(groups), u.size, 2),
                 f"embeddings[{k!r}] must be [{len(groups)}, {u.size}, 2]; got {e.shape}")
    styles = ["-", "--", ":", "-."]
    order = list(dict.fromkeys(groups))
    norm = mpl.colors.Normalize(float(np.nanmin(u)), float(np.nanmax(u)))
    cmap = mpl.colormaps["viridis"]
    with mpl.rc_context(_STYLE):
        fig = _new_figure(3.3)
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name, e in zip(axes, names, embs):
            for a, g in enumerate(groups):
                ok = np.all(np.isfinite(e[a]), -1)
                if not ok.any():
                    continue
                xy, uu = e[a][ok], u[ok]
                gi = order.index(g)
                ax.plot(xy[:, 0], xy[:, 1], styles[gi % len(styles)],
                        color=GROUP_COLORS[gi % len(GROUP_COLORS)], lw=0.8, alpha=0.8,
                        zorder=1)
                ax.scatter(xy[:, 0], xy[:, 1], c=cmap(norm(uu)), s=10, lw=0, zorder=2)
                ax.scatter(xy[:1, 0], xy[:1, 1], s=28, facecolors="none",
                           edgecolors=cmap(norm(uu[:1])), lw=0.9, zorder=3)
                ax.scatter(xy[-1:, 0], xy[-1:, 1], s=22, marker="s",
                           c=cmap(norm(uu[-1:])), lw=0, zorder=3)
            ax.set_title(name)
            ax.set_xlabel("MDS 1")
            ax.set_ylabel("MDS 2")
            ax.set_aspect("equal", adjustable="datalim")
        handles = [Line2D([], [], ls=styles[i % len(styles)],
                          color=GROUP_COLORS[i % len(GROUP_COLORS)], label=g)
                   for i, g in enumerate(order)]
        axes[0].legend(handles=handles, loc="best", frameon=False)
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=list(axes), label="update", shrink=0.8)
        if title:
            fig.suptitle(title)
    return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# Beyond the paper: the flow field on a plane, with fixed points, slow points, trajectory


def _check_flow(coords, speed, flow) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy = _float(coords, "coords")
    q = _float(speed, "speed")
    f = _float(flow, "flow")
    _require(xy.ndim == 3 and xy.shape[-1] == 2, f"coords must be [G1, G2, 2]; got {xy.shape}")
    _require(q.shape == xy.shape[:2], f"speed must be {xy.shape[:2]}; got {q.shape}")
    _require(f.shape == xy.shape, f"flow must be {xy.shape}; got {f.shape}")
    return xy, q, f


def _log_speed(q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(q > 0, q, np.nan))


def _flow_panel(ax, xy, q, f, *, trajectory=None, fixed_points=None, stable=None,
                slow_points=None, norm=None, legend: bool = True):
    """One flow-field panel on `ax`: log-speed mesh, streamlines and the points over it;
    returns the mesh (for a colour bar)."""
    u, v = xy[:, 0, 0], xy[0, :, 1]
    mesh = ax.pcolormesh(u, v, _log_speed(q).T, shading="nearest", cmap="magma_r", norm=norm)
    ok = np.isfinite(f).all(-1)
    if ok.all() and u.size > 1 and v.size > 1:
        ax.streamplot(u, v, f[..., 0].T, f[..., 1].T, color="0.3", linewidth=0.5,
                      density=1.0, arrowsize=0.6)
    if trajectory is not None:
        tr = _float(trajectory, "trajectory").reshape(-1, *np.shape(trajectory)[-2:])
        for seg in tr:
            ax.plot(seg[:, 0], seg[:, 1], color="tab:blue", lw=0.6, alpha=0.7)
    if fixed_points is not None:
        fp = _float(fixed_points, "fixed_points").reshape(-1, 2)
        st = (np.ones(len(fp), bool) if stable is None
              else np.asarray(stable, bool).reshape(-1))
        _require(st.shape == (len(fp),), "stable must have one entry per fixed point")
        ax.scatter(fp[st, 0], fp[st, 1], s=30, c="black", zorder=4, label="stable")
        ax.scatter(fp[~st, 0], fp[~st, 1], s=30, facecolors="white", edgecolors="black",
                   zorder=4, label="unstable")
    if slow_points is not None:
        sp = _float(slow_points, "slow_points").reshape(-1, 2)
        ax.scatter(sp[:, 0], sp[:, 1], s=30, marker="x", c="tab:green", zorder=4,
                   label="slow")
    if legend and (fixed_points is not None or slow_points is not None):
        ax.legend(loc="best", frameon=False)
    ax.set_xlim(u.min(), u.max())
    ax.set_ylim(v.min(), v.max())
    return mesh


def fig_flow_field(coords, speed, flow, *, trajectory=None, fixed_points=None, stable=None,
                   slow_points=None, title: str = "", path=None) -> Figure:
    """Speed q (log colour) and flow streamlines on a plane, with the points over it.

    Args:
      coords: [G1, G2, 2] plane coordinates of a regular grid ([i, j] = (u_i, v_j), as
        `analysis.plane_grid`).
      speed: [G1, G2] q = ½‖F(h) − h‖² (drawn as log10 q).
      flow: [G1, G2, 2] F(h) − h projected on the plane.
      trajectory: optional [T, 2] (or [E, T, 2]) plane coordinates of visited states.
      fixed_points: optional [K, 2] plane coordinates; `stable` [K] bool fills the stable
        ones (hollow: unstable).
      slow_points: optional [M, 2] plane coordinates (drawn as crosses).
      title: axes title.
      path: where to write the PNG (optional).
    Returns:
      The Figure (one axes and a colour bar).
    """
    xy, q, f = _check_flow(coords, speed, flow)
    with mpl.rc_context(_STYLE):
        fig = _new_figure(3.6)
        ax = fig.subplots()
        mesh = _flow_panel(ax, xy, q, f, trajectory=trajectory, fixed_points=fixed_points,
                           stable=stable, slow_points=slow_points)
        fig.colorbar(mesh, ax=ax, label="log10 speed q")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        if title:
            ax.set_title(title)
    return _finish(fig, path)


def fig_flow_stages(stages: Sequence, coords, speed, flow, *, trajectories=None,
                    fixed_points=None, stable=None, slow_points=None, label: str = "",
                    q_max: float | None = None, path=None) -> Figure:
    """Flow fields at several training stages, one panel per stage, one log-speed scale.

    Args:
      stages: S update indices (panel titles).
      coords: [S, G, G, 2] each stage's grid on its own plane (top-2 PCs).
      speed: [S, G, G] q = ½‖F(h) − h‖²; flow: [S, G, G, 2] F(h) − h on the plane.
      trajectories: optional S arrays [..., T, 2]: visited states on each plane.
      fixed_points: optional S arrays [K_s, 2]; stable: S bool arrays [K_s].
      slow_points: optional S arrays [M_s, 2].
      label: agent label for the title.
      q_max: the slow-point threshold, stated in the title.
      path: where to write the PNG (optional).
    Returns:
      The Figure: S panel axes and one colour bar.
    """
    xy, q, f = (_float(a, n) for a, n in ((coords, "coords"), (speed, "speed"),
                                          (flow, "flow")))
    n = len(stages)
    _require(n > 0 and xy.shape[:1] == q.shape[:1] == f.shape[:1] == (n,),
             f"coords, speed and flow must have one entry per stage ({n}); got "
             f"{xy.shape}, {q.shape}, {f.shape}")
    for name, seq in (("trajectories", trajectories), ("fixed_points", fixed_points),
                      ("stable", stable), ("slow_points", slow_points)):
        _require(seq is None or len(seq) == n, f"{name} must have one entry per stage ({n})")
    logq = _log_speed(q)
    lo, hi = (np.nanmin(logq), np.nanmax(logq)) if np.isfinite(logq).any() else (-1.0, 0.0)
    norm = mpl.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    with mpl.rc_context(_STYLE):
        fig = _new_figure(2.6)
        axes = np.atleast_1d(fig.subplots(1, n))
        mesh = None
        for j, ax in enumerate(axes):
            sx, sq, sf = _check_flow(xy[j], q[j], f[j])
            mesh = _flow_panel(ax, sx, sq, sf,
                               trajectory=None if trajectories is None else trajectories[j],
                               fixed_points=None if fixed_points is None else fixed_points[j],
                               stable=None if stable is None else stable[j],
                               slow_points=None if slow_points is None else slow_points[j],
                               norm=norm, legend=False)
            ax.set_title(_stage_title(stages[j]))
            ax.set_xlabel("PC 1")
            if j == 0:
                ax.set_ylabel("PC 2")
        fig.colorbar(mesh, ax=list(axes), label=r"$\log_{10}$ speed $q$", shrink=0.9)
        handles = [Line2D([], [], color="tab:blue", lw=0.8, label="trajectory"),
                   Line2D([], [], ls="", marker="o", color="black", label="stable fixed point"),
                   Line2D([], [], ls="", marker="o", mfc="white", mec="black",
                          label="unstable fixed point"),
                   Line2D([], [], ls="", marker="x", color="tab:green",
                          label="slow point" + (f" (q ≤ {q_max:g})" if q_max else ""))]
        fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
        fig.suptitle(f"Flow F(h) − h at the goal input on each stage's top-2 PC plane"
                     + (f" — {label}" if label else ""))
    return _finish(fig, path)


def fig_input_drive(updates, panels: Sequence[Mapping], *, title: str = "", path=None
                    ) -> Figure:
    """Curves over training with confidence bands, one panel each (input drive of the
    slowest modes: normalised alignment and raw drive).

    Args:
      updates: [C] update index of each checkpoint.
      panels: each {"title": str, "ylabel": str, "log": bool (optional), "curves":
        {label: (mean [C], low [C], high [C])}}; a label starting with "FO" is blue, "PO"
        orange; one containing "top" or "rollouts" is dashed.
      title: figure title.
      path: where to write the PNG (optional).
    Returns:
      The Figure: one axes per panel.
    """
    x = _float(updates, "updates")
    _require(x.ndim == 1, f"updates must be [C]; got {x.shape}")
    _require(len(panels) > 0, "panels must not be empty")
    colors = {"FO": "tab:blue", "PO": "tab:orange"}
    with mpl.rc_context(_STYLE):
        fig = _new_figure(2.8)
        axes = np.atleast_1d(fig.subplots(1, len(panels)))
        for ax, panel in zip(axes, panels):
            for k, (lab, (m, lo, hi)) in enumerate(panel["curves"].items()):
                m, lo, hi = (_float(a, lab) for a in (m, lo, hi))
                _require(m.shape == lo.shape == hi.shape == x.shape,
                         f"curve {lab!r} must be three [{x.size}] arrays")
                c = colors.get(str(lab)[:2], f"C{k}")
                ls = "--" if ("top" in str(lab) or "rollouts" in str(lab)) else "-"
                ax.plot(x, m, color=c, ls=ls, lw=1.2, label=lab)
                ax.fill_between(x, lo, hi, color=c, alpha=0.15, lw=0)
            if panel.get("log"):
                ax.set_yscale("log")
            ax.set_title(panel["title"])
            ax.set_xlabel("update")
            ax.set_ylabel(panel["ylabel"])
            ax.grid(alpha=0.3, lw=0.5)
            ax.legend(loc="best", frameon=False, fontsize=7)
        if title:
            fig.suptitle(title)
    return _finish(fig, path)
