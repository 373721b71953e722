"""A tiny atlas end to end: 2 conditions (two initialisations, one program) × 2 seeds."""
import json

import numpy as np

from experiments import atlas


def test_tiny_atlas_end_to_end(tmp_path, capsys):
    out = tmp_path / "atlas"
    rc = atlas.main(["--seeds", "2", "--updates", "3", "--inits", "torch_uniform,normal",
                     "--encodings", "angle", "--quick", "--quiet", "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    conds = summary["conditions"]
    assert summary["provenance"]["versions"]["gymnax"] and summary["provenance"]["machine"]
    assert [(c["rnn_init"], c["encoding"]) for c in conds] == [("torch_uniform", "angle"),
                                                               ("normal", "angle")]
    for c in conds:
        assert len(c["agents"]) == 4                      # 2 seeds × FO/PO
        assert [cl["id"] for cl in c["claims"]] == [1, 2, 3, 4, 5]
        for cl in c["claims"]:
            assert isinstance(cl["holds"], bool) and "p_value" in cl and "ci" in cl
    # the two initialisations are what they say: ρ(W_h) ≈ 0.6 vs ≈ 1
    rho = {c["rnn_init"]: c["rho_w_h_init_mean"] for c in conds}
    assert rho["torch_uniform"] < 0.8 < rho["normal"]
    assert (out / "atlas.png").stat().st_size > 5_000
    report = (out / "report.md").read_text()
    assert "torch_uniform, angle" in report and "normal, angle" in report
    # one run directory (one compiled program) for both initialisations
    run = json.loads((out / "angle" / "config.json").read_text())
    assert sorted({a["rnn_init"] for a in run["agents"]}) == ["normal", "torch_uniform"]
    # re-running continues: nothing is retrained or recomputed
    assert atlas.main(["--seeds", "2", "--updates", "3", "--inits", "torch_uniform,normal",
                       "--encodings", "angle", "--quick", "--quiet", "--out", str(out)]) == 0
    again = json.loads((out / "summary.json").read_text())
    assert [c["claims"] for c in again["conditions"]] == [c["claims"] for c in conds]
    assert np.isfinite(again["timing"]["total (s)"])


def test_atlas_rejects_bad_input(capsys):
    import pytest
    with pytest.raises(SystemExit) as e:
        atlas.main(["--inits", "xavier"])
    assert e.value.code == 2
    assert "xavier" in capsys.readouterr().err
