"""experiments.dynamics (rnnctl dynamics) on small saved runs: files, shapes, and the summary's
structure, for one run of FO/PO agents and for two runs of different cells."""
import rnnctl  # noqa: F401  (safe XLA flags before jax starts)

import json

import numpy as np

from experiments import dynamics
from rnnctl import runs
from rnnctl.config import TrainConfig
from rnnctl.experiment import make_agents
from rnnctl.networks import param_shapes


def _random_run(path, cell="rnn", obs=("fo", "po")):
    """2 seeds × `obs` agents × 3 checkpoints of random 8-unit networks of `cell`."""
    config = TrainConfig(n_updates=2, hidden=8, head_hidden=8, cell=cell)
    agents = make_agents([0, 1], list(obs))
    rng = np.random.default_rng(0)
    a, c = len(agents), config.n_updates + 1
    params = runs.unflatten_params({k: rng.normal(0, 0.5, (a, c, *s)).astype(np.float32)
                                    for k, s in param_shapes(config).items()})
    return runs.save_run(path, config, agents, params,
                         {"eval_return": np.zeros((a, c), np.float32)})


SMALL = ["--checkpoints", "3", "--episodes", "1", "--steps", "30", "--n-delays", "2",
         "--rank", "4", "--n-starts", "2", "--n-steps", "20"]


def test_dynamics_writes_distances_embeddings_summary_and_figure(tmp_path):
    run = _random_run(tmp_path / "run")
    out = tmp_path / "out"
    assert dynamics.main([str(run), "--out", str(out), *SMALL]) == 0
    z = runs.read_npz(out / "dynamics.npz")
    for name in ("dsa", "procrustes"):
        d = z[name]
        assert d.shape == (12, 12) and np.all(np.isfinite(d))
        np.testing.assert_allclose(d, d.T, atol=1e-6)
        np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-6)
    assert z["embedding_dsa"].shape == (4, 3, 2)
    assert list(z["updates"]) == [0, 1, 2]
    saved = json.loads((out / "summary.json").read_text())
    assert saved["systems"] == 12 and saved["settings"] == ["FO", "PO"]
    assert saved["provenance"]["machine"]["cores"] >= 1
    for dist in ("DSA", "Procrustes"):
        s = saved[dist]
        assert s["between_seeds_first"]["PO"]["n"] == 2
        pair = s["between_settings_last"]["FO vs PO"]
        assert pair["between"]["n"] == 2 and len(pair["between"]["ci95"]) == 2
    assert (out / "dynamics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "| FO | " in report and "| FO vs PO | DSA |" in report and "dynamics.png" in report
    assert not (run / "dynamics").exists()            # nothing written into the run


def test_dynamics_compares_runs_of_different_cells_and_state_sizes(tmp_path):
    """An RNN run (state H = 8) and an LSTM run ([c, h]: 16) in one map; zero-padding the
    RNN's states leaves its distances to the other RNN systems as they are alone."""
    rnn = _random_run(tmp_path / "rnn", "rnn", ("po",))
    lstm = _random_run(tmp_path / "lstm", "lstm", ("po",))
    out, alone = tmp_path / "both", tmp_path / "alone"
    assert dynamics.main([str(rnn), str(lstm), "--out", str(out), *SMALL]) == 0
    assert dynamics.main([str(rnn), "--out", str(alone), *SMALL]) == 0
    saved = json.loads((out / "summary.json").read_text())
    assert saved["settings"] == ["RNN", "LSTM"] and saved["systems"] == 12
    assert saved["state_sizes"] == {str(rnn): 8, str(lstm): 16}
    for dist in ("DSA", "Procrustes"):
        assert saved[dist]["between_settings_last"]["RNN vs LSTM"]["between"]["n"] == 2
    both, one = runs.read_npz(out / "dynamics.npz"), runs.read_npz(alone / "dynamics.npz")
    np.testing.assert_allclose(both["procrustes"][:6, :6], one["procrustes"], atol=1e-5)
    np.testing.assert_allclose(both["dsa"][:6, :6], one["dsa"], rtol=1e-3, atol=1e-4)


def test_dynamics_refuses_a_missing_run_in_one_line(tmp_path, capsys):
    assert dynamics.main([str(tmp_path / "nothing"), *SMALL]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{dynamics.PROG}: error:"), err


def test_bench_dsa_entry_point_is_the_module_and_writes_its_json(tmp_path):
    """A tiny benchmark: measured times, all distances finite, provenance recorded; the
    reference part is skipped here (no pairs asked)."""
    import importlib

    from experiments import bench_dsa
    assert bench_dsa is importlib.import_module("rnnctl.bench.dsa")
    out = tmp_path / "dsa.json"
    assert bench_dsa.main(["--systems", "3", "--hidden", "4", "--episodes", "1", "--steps",
                           "20", "--n-delays", "2", "--rank", "3", "--n-starts", "2",
                           "--n-steps", "6", "--reference-pairs", "0",
                           "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["pairs"] == 3 and saved["all_finite"] and saved["total_s"] > 0
    assert saved["total_cpu_s"] > 0 and "reference" not in saved
    for key in ("commit", "versions", "machine", "load_average"):
        assert key in saved["provenance"]
