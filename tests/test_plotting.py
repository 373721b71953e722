"""rnnctl.plotting: every figure draws small synthetic inputs (NaN included) to a real PNG,
has the axes it promises, and rejects inconsistent shapes with a ValueError."""
import os
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnnctl import plotting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STAGES = [0, 10, 50, 100]


def _check_png(path, min_bytes=5_000):
    assert os.path.exists(path)
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_SIGNATURE
    assert os.path.getsize(path) > min_bytes
    # the atomic write leaves no temp file behind
    assert [p for p in os.listdir(os.path.dirname(path)) if p.endswith(".tmp")] == []


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _policy_inputs(rng, n_theta=16, n_theta_dot=12, stages=STAGES):
    te = np.linspace(-np.pi, np.pi, n_theta + 1)
    tde = np.linspace(-8.0, 8.0, n_theta_dot + 1)
    th = 0.5 * (te[1:] + te[:-1])
    maps = {}
    for row in ("PO", "FO"):
        m = -2.0 * np.tanh(np.sin(th)[None, :, None] * np.linspace(0.5, 4, len(stages))[:, None,
                                                                                     None])
        m = np.broadcast_to(m, (len(stages), n_theta, n_theta_dot)).copy()
        m[rng.random(m.shape) < 0.3] = np.nan  # unvisited bins
        maps[row] = m
    return maps, te, tde


def test_plotting_needs_no_pyplot():
    # plotting builds Figure objects directly: importing it must not pull in pyplot (which
    # would pick or switch a backend under a notebook user).
    code = ("import sys, rnnctl.plotting; "
            "sys.exit(1 if 'matplotlib.pyplot' in sys.modules else 0)")
    assert os.system(f'"{sys.executable}" -c "{code}"') == 0


def test_learning_curves(tmp_path, rng):
    ret = rng.normal(-500, 100, (4, 11))
    ret[0, 3:6] = np.nan
    ret[:, 7] = np.nan                      # a column with no value at all
    path = tmp_path / "lc.png"
    fig = plotting.learning_curves(ret, ["FO", "FO", "PO", "PO"], np.arange(0, 110, 10),
                                   path=path, title="test")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    _check_png(str(path))


def test_learning_curves_bad_shapes(rng):
    with pytest.raises(ValueError, match="groups"):
        plotting.learning_curves(np.zeros((3, 5)), ["FO", "PO"])
    with pytest.raises(ValueError, match="updates"):
        plotting.learning_curves(np.zeros((2, 5)), ["FO", "PO"], np.arange(4))


def test_fig1b_policy(tmp_path, rng):
    maps, te, tde = _policy_inputs(rng)
    path = tmp_path / "sub" / "fig1b.png"     # a missing folder is created
    fig = plotting.fig1b_policy(maps, STAGES, theta_edges=te, theta_dot_edges=tde,
                                sharpness={"PO": [0.1, 0.2, np.nan, 0.4],
                                           "FO": [0.2, 0.4, 0.6, 0.8]}, path=path)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 4               # 2 rows (PO, FO) × 4 stages
    assert len(fig.axes) == 2 * 4 + 1         # + one shared colour bar
    # PO on top: the first row's y label names it; x is θ over [-π, π], y is θ̇ over [-8, 8]
    assert panels[0].get_ylabel().startswith("PO")
    assert panels[4].get_ylabel().startswith("FO")
    assert np.allclose(panels[0].get_xlim(), (-np.pi, np.pi))
    assert np.allclose(panels[0].get_ylim(), (-8, 8))
    assert "update 100" in panels[3].get_title()
    _check_png(str(path))


def test_fig1b_policy_all_nan_and_bad_shapes(tmp_path, rng):
    maps, te, tde = _policy_inputs(rng)
    maps["PO"][:] = np.nan                     # a row never visited at all
    fig = plotting.fig1b_policy(maps, STAGES, theta_edges=te, theta_dot_edges=tde,
                                path=tmp_path / "nan.png")
    assert len(fig.axes) == 9
    with pytest.raises(ValueError, match="maps"):
        plotting.fig1b_policy(maps, STAGES[:3], theta_edges=te, theta_dot_edges=tde)
    with pytest.raises(ValueError, match="maps"):  # edges disagree with the map bins
        plotting.fig1b_policy(maps, STAGES, theta_edges=te[:-1], theta_dot_edges=tde)
    with pytest.raises(ValueError, match="rows"):
        plotting.fig1b_policy({"FO": maps["FO"]}, STAGES, theta_edges=te, theta_dot_edges=tde)
    with pytest.raises(ValueError, match="sharpness"):
        plotting.fig1b_policy(maps, STAGES, theta_edges=te, theta_dot_edges=tde,
                              sharpness={"PO": [1.0, 2.0]})


def test_fig1c_geometry(tmp_path, rng):
    n = 300
    theta = rng.uniform(-np.pi, np.pi, (4, n))
    proj = np.stack([np.cos(theta), np.sin(theta)], -1) + rng.normal(0, 0.1, (4, n, 2))
    proj[1, :10] = np.nan
    theta[2, :5] = np.nan
    stable = [np.zeros((0, 2)), [[1.0, 0.0]], [[1.0, 0.0]], [[1.0, 0.1], [0.9, 0.0]]]
    unstable = [np.zeros((0, 2)), np.zeros((0, 2)), [[-1.0, 0.0]], [[-1.0, 0.0]]]
    path = tmp_path / "fig1c.png"
    fig = plotting.fig1c_geometry(proj, theta, STAGES, stable=stable, unstable=unstable,
                                  ring_score=[0.1, np.nan, 0.7, 0.9], path=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 + 1             # 4 stages + θ colour bar
    _check_png(str(path))
    # without fixed points or scores
    fig = plotting.fig1c_geometry(proj, theta, STAGES)
    assert len(fig.axes) == 5


def test_fig1c_geometry_bad_shapes(rng):
    proj = rng.normal(size=(4, 20, 2))
    theta = rng.uniform(-np.pi, np.pi, (4, 20))
    with pytest.raises(ValueError, match="theta"):
        plotting.fig1c_geometry(proj, theta[:, :10], STAGES)
    with pytest.raises(ValueError, match="stages"):
        plotting.fig1c_geometry(proj, theta, STAGES[:3])
    with pytest.raises(ValueError, match="stable"):
        plotting.fig1c_geometry(proj, theta, STAGES, stable=[np.zeros((1, 2))] * 3)
    with pytest.raises(ValueError, match="unstable"):
        plotting.fig1c_geometry(proj, theta, STAGES, unstable=[np.zeros((1, 3))] * 4)


def test_fig1d_fixed_points(tmp_path, rng):
    t = 20
    path_pc = np.stack([np.linspace(0, 3, t), np.sin(np.arange(t) / 4)], -1)
    path_pc[:4] = np.nan                      # no stable fixed point early in training
    path_return = np.linspace(-1200, -200, t)
    path_return[10] = np.nan
    d = np.abs(rng.normal(2, 1, 50))
    g = 300 * d + rng.normal(0, 50, 50)
    d[3] = np.nan
    seeds = np.repeat(np.arange(5), 10)
    path = tmp_path / "fig1d.png"
    fig = plotting.fig1d_fixed_points(path_pc, path_return, d, g, seed_ids=seeds, slope=300.0,
                                      intercept=0.0, r=0.8, p=1e-12, path=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3                 # path, its return colour bar, regression
    texts = [tx.get_text() for ax in fig.axes for tx in ax.texts]
    assert any("r = 0.80" in s and "n = 49" in s for s in texts)
    _check_png(str(path))
    # degenerate: no stable point ever, NaN fit, no seed ids
    fig = plotting.fig1d_fixed_points(np.full((5, 2), np.nan), np.full(5, np.nan), d, g,
                                      slope=np.nan, intercept=np.nan, r=np.nan, p=np.nan)
    assert len(fig.axes) == 3


def test_fig1d_fixed_points_bad_shapes():
    ok = dict(slope=1.0, intercept=0.0, r=0.5, p=0.01)
    with pytest.raises(ValueError, match="path_return"):
        plotting.fig1d_fixed_points(np.zeros((5, 2)), np.zeros(4), np.zeros(3), np.zeros(3),
                                    **ok)
    with pytest.raises(ValueError, match="d and g"):
        plotting.fig1d_fixed_points(np.zeros((5, 2)), np.zeros(5), np.zeros(3), np.zeros(4),
                                    **ok)
    with pytest.raises(ValueError, match="seed_ids"):
        plotting.fig1d_fixed_points(np.zeros((5, 2)), np.zeros(5), np.zeros(3), np.zeros(3),
                                    seed_ids=[0, 1], **ok)


def test_fig1e_timescales(tmp_path):
    updates = np.arange(0, 101, 10)
    tau = 5 + 20 * np.exp(-((updates - 30) / 20.0) ** 2)
    lo, hi = tau - 2, tau + 2
    tau[2], lo[5], hi[6] = np.nan, np.nan, np.nan
    path = tmp_path / "fig1e.png"
    fig = plotting.fig1e_timescales(updates, tau, lo, hi, dt=0.05, path=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1                 # the seconds axis is a child of it
    assert len(fig.axes[0].child_axes) == 1
    _check_png(str(path))
    # several groups at once
    fig = plotting.fig1e_timescales(updates, np.stack([tau, tau / 2]), np.stack([lo, lo / 2]),
                                    np.stack([hi, hi / 2]), label=["PO", "FO"],
                                    path=tmp_path / "fig1e2.png")
    assert len(fig.axes) == 1
    _check_png(str(tmp_path / "fig1e2.png"))


def test_fig1e_timescales_bad_shapes():
    u = np.arange(5)
    with pytest.raises(ValueError, match="share a shape"):
        plotting.fig1e_timescales(u, np.ones(5), np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match="match updates"):
        plotting.fig1e_timescales(u, np.ones(6), np.ones(6), np.ones(6))
    with pytest.raises(ValueError, match="label"):
        plotting.fig1e_timescales(u, np.ones((2, 5)), np.ones((2, 5)), np.ones((2, 5)),
                                  label="PO")


def test_fig_flow_field(tmp_path):
    u, v = np.meshgrid(np.linspace(-1, 1, 12), np.linspace(-2, 2, 10), indexing="ij")
    coords = np.stack([u, v], -1)                                  # [12, 10, 2]
    flow = np.stack([-u, 0.5 * v], -1)                             # a saddle at 0
    speed = 0.5 * (flow ** 2).sum(-1)
    path = tmp_path / "flow.png"
    fig = plotting.fig_flow_field(coords, speed, flow,
                                  trajectory=np.stack([np.linspace(-1, 0, 20)] * 2, -1),
                                  fixed_points=[[0.0, 0.0], [0.5, 0.5]], stable=[False, True],
                                  slow_points=[[0.3, -1.0]], title="saddle", path=path)
    assert isinstance(fig, Figure) and len(fig.axes) == 2         # axes + colour bar
    _check_png(path)
    with pytest.raises(ValueError, match="speed"):
        plotting.fig_flow_field(coords, speed[:3], flow)
    with pytest.raises(ValueError, match="flow"):
        plotting.fig_flow_field(coords, speed, flow[..., :1])


def test_fig_flow_stages_and_input_drive(tmp_path):
    u, v = np.meshgrid(np.linspace(-1, 1, 8), np.linspace(-2, 2, 8), indexing="ij")
    coords = np.stack([np.stack([u, v], -1)] * 2)                  # [2, 8, 8, 2]
    flow = np.stack([np.stack([-u, 0.5 * v], -1), np.stack([-u, -v], -1)])
    speed = 0.5 * (flow ** 2).sum(-1)
    path = tmp_path / "stages.png"
    fig = plotting.fig_flow_stages(
        [0, 10], coords, speed, flow, trajectories=[np.zeros((2, 5, 2))] * 2,
        fixed_points=[np.zeros((1, 2)), np.zeros((0, 2))], stable=[[False], []],
        slow_points=[np.zeros((0, 2)), [[0.3, -1.0]]], label="PO seed 0", q_max=1e-4,
        path=path)
    assert len(fig.axes) == 3                                      # 2 panels + colour bar
    _check_png(path)
    with pytest.raises(ValueError, match="one entry per stage"):
        plotting.fig_flow_stages([0], coords, speed, flow)
    with pytest.raises(ValueError, match="trajectories"):
        plotting.fig_flow_stages([0, 10], coords, speed, flow, trajectories=[None])
    x = np.arange(5)
    c = (np.linspace(0, 1, 5), np.linspace(0, 1, 5) - 0.1, np.linspace(0, 1, 5) + 0.1)
    fig = plotting.fig_input_drive(x, [{"title": "a", "ylabel": "y", "curves": {"FO": c,
                                                                            "PO top-5": c}},
                                       {"title": "b", "ylabel": "y", "log": True,
                                        "curves": {"PO": c}}], title="t",
                                   path=tmp_path / "drive.png")
    assert len(fig.axes) == 2
    _check_png(tmp_path / "drive.png")
    with pytest.raises(ValueError, match="curve 'FO'"):
        plotting.fig_input_drive(x, [{"title": "a", "ylabel": "y",
                                      "curves": {"FO": (c[0][:3], c[1], c[2])}}])


def test_fig_similarity_maps(tmp_path):
    rng = np.random.default_rng(0)
    emb = {"DSA": rng.normal(size=(4, 3, 2)), "Procrustes": rng.normal(size=(4, 3, 2))}
    emb["DSA"][1, 2] = np.nan                                      # a missing system
    path = tmp_path / "maps.png"
    fig = plotting.fig_similarity_maps(emb, [0, 50, 100], ["FO", "PO", "FO", "PO"],
                                       title="t", path=path)
    assert len(fig.axes) == 3                                      # 2 panels + colour bar
    _check_png(path)
    with pytest.raises(ValueError, match="DSA"):
        plotting.fig_similarity_maps({"DSA": np.zeros((4, 2, 2))}, [0, 50, 100], ["FO"] * 4)


def _rendered(fig):
    """Draw `fig` on an Agg canvas; its renderer (for the drawn extents of its artists)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_fig1e_title_clears_the_window_names():
    updates = np.arange(0, 101, 10)
    tau = 5 + 20 * np.exp(-((updates - 30) / 20.0) ** 2)
    fig = plotting.fig1e_timescales(updates, tau, tau - 2, tau + 2, dt=0.05,
                                    windows={"update0": (0, 0), "middle": (10, 50),
                                             "end": (90, 100)})
    renderer = _rendered(fig)
    ax = fig.axes[0]
    title = ax.title.get_window_extent(renderer)
    names = [t for t in ax.texts if t.get_text() in ("update0", "middle", "end")]
    assert len(names) == 3
    for t in names:
        assert not title.overlaps(t.get_window_extent(renderer)), t.get_text()

