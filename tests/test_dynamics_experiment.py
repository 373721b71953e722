"""experiments.dynamics on a small saved run: files, shapes, and the summary's structure."""
import rnnctl  # noqa: F401  (safe XLA flags before jax starts)

import json

import numpy as np

from experiments import dynamics
from rnnctl import runs
from rnnctl.config import TrainConfig
from rnnctl.experiment import make_agents
from rnnctl.networks import param_shapes


def _random_run(path):
    """4 agents (2 seeds × FO/PO) × 3 checkpoints of random 8-unit networks."""
    config = TrainConfig(n_updates=2, hidden=8, head_hidden=8)
    agents = make_agents([0, 1], ["fo", "po"])
    rng = np.random.default_rng(0)
    a, c = len(agents), config.n_updates + 1
    params = runs.unflatten_params({k: rng.normal(0, 0.5, (a, c, *s)).astype(np.float32)
                                    for k, s in param_shapes(config).items()})
    return runs.save_run(path, config, agents, params,
                         {"eval_return": np.zeros((a, c), np.float32)})


def test_dynamics_writes_distances_embeddings_summary_and_figure(tmp_path):
    run = _random_run(tmp_path / "run")
    out = tmp_path / "out"
    summary = dynamics.main([str(run), "--out", str(out), "--checkpoints", "3",
                             "--episodes", "1", "--steps", "30", "--n-delays", "2",
                             "--rank", "4", "--n-starts", "2", "--n-steps", "20"])
    z = runs.read_npz(out / "dynamics.npz")
    for name in ("dsa", "procrustes"):
        d = z[name]
        assert d.shape == (12, 12) and np.all(np.isfinite(d))
        np.testing.assert_allclose(d, d.T, atol=1e-6)
        np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-6)
    assert z["embedding_dsa"].shape == (4, 3, 2)
    assert list(z["updates"]) == [0, 1, 2]
    saved = json.loads((out / "summary.json").read_text())
    assert saved["systems"] == summary["systems"] == 12
    for dist in ("DSA", "Procrustes"):
        s = saved[dist]
        assert s["between_seeds_first"]["po"]["n"] == 2
        assert s["fo_po_last"]["n"] == 2 and len(s["fo_po_last"]["ci95"]) == 2
    assert (out / "dynamics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run / "dynamics").exists()            # nothing written into the run

