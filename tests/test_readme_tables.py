"""The results and performance tables of README.md and docs/ are the ones the committed
summary.json and benchmark JSON files generate (python -m experiments.docs): a number or
verdict edited by hand in a table or in its JSON makes this fail."""
import json
from pathlib import Path

import pytest

from experiments import docs
from rnnctl.paper.tables import replace_between

MARKERS = docs.MARKERS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_each_table_matches_its_json(name):
    rel, start, end = MARKERS[name]
    text = (ROOT / rel).read_text()
    assert start in text and end in text
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == docs.tables()[name].strip()


def test_a_hand_edited_number_is_caught(tmp_path):
    """The check can fail: one effect changed in a copy of the atlas JSON changes its table."""
    atlas = json.loads((ROOT / "figures" / "atlas" / "summary.json").read_text())
    from rnnctl.paper.tables import atlas_table
    before = atlas_table(atlas)
    atlas["conditions"][0]["claims_v2"][1]["effect"] = 123.0
    assert atlas_table(atlas) != before
    assert replace_between("a<s>x<e>b", "<s>", "<e>", "y") == "a<s>\ny\n<e>b"


def test_a_changed_benchmark_json_changes_its_tables():
    train = json.loads((ROOT / "figures" / "bench" / "train.json").read_text())
    from rnnctl.bench import tables as T
    before = (T.readme_table(train), T.training_table(train))
    train["sb3_recurrent_ppo"]["env_steps_per_s"] *= 2
    after = (T.readme_table(train), T.training_table(train))
    assert before[0] != after[0] and before[1] != after[1]


def test_beyond_tables_are_generated_and_a_hand_edit_is_caught():
    """docs/beyond.md's cells and tasks tables are among the generated ones, and one number
    changed by hand in either (or in its JSON) makes the table differ from its JSON."""
    from rnnctl.paper import beyond_tables as B
    assert {"beyond-cells", "beyond-tasks"} <= set(MARKERS)
    generated = docs.tables()
    for name, number in (("beyond-cells", "−302"), ("beyond-tasks", "87.7")):
        rel, start, end = MARKERS[name]
        block = (ROOT / rel).read_text().split(start, 1)[1].split(end, 1)[0].strip()
        assert number in block
        assert block.replace(number, number[:-1] + "9", 1).strip() != generated[name].strip()
    cells = json.loads((ROOT / B.SOURCES["beyond-cells"][0]).read_text())
    before = B.cells_table(cells)
    cells["cells"]["gru"]["tau_avg"]["gmean"][2] *= 2       # the GRU's peak
    assert B.cells_table(cells) != before
    tasks = [(rel, json.loads((ROOT / rel).read_text())) for rel in B.SOURCES["beyond-tasks"]]
    before = B.tasks_table(tasks)
    tasks[-1][1]["settings"][0]["final_eval_return"]["mean"][-1] = 400.0
    assert B.tasks_table(tasks) != before


def test_readme_stays_a_first_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 220


def test_atlas_summary_records_seeds_budgets_rule_versions_and_curves():
    s = json.loads((ROOT / "figures" / "atlas" / "summary.json").read_text())
    assert isinstance(s["seeds"], list) and s["seeds"] == list(range(20, 40))
    assert sorted({c["updates"] for c in s["conditions"]}) == [100, 300]
    for c in s["conditions"]:
        assert c["seeds"] == s["seeds"]
        assert [cl["version"] for cl in c["claims"]] == ["v1"] * 5
        assert [cl["version"] for cl in c["claims_v2"]] == ["v2"] * 5
        for cl in c["claims"] + c["claims_v2"]:
            assert "holds" in cl and "p_value" in cl and "effect" in cl and "ci" in cl
        curves = c["curves"]
        assert len(curves["agents"]) == 2 * len(s["seeds"])
        for a in curves["agents"]:
            for k in ("eval_return", "return_R", "ring", "probe_contrast", "tau_avg",
                      "tau_ci_low", "tau_ci_high", "n_stable_goal", "n_unstable_goal"):
                assert len(a[k]) == len(curves["updates"]), k


def test_the_reference_summary_has_both_rule_versions_and_curves():
    s = json.loads((ROOT / "figures" / "summary.json").read_text())
    assert [c["version"] for c in s["claims"]] == ["v1"] * 5
    assert [c["version"] for c in s["claims_v2"]] == ["v2"] * 5
    assert len(s["curves"]["agents"]) == len(s["agents"])


def test_nulls_table_follows_its_json():
    """docs/methods.md's null-model table is generated: a changed draw fraction in the JSON
    changes the table, so a number edited by hand in the page fails the check above."""
    from rnnctl.paper import tables as T
    sources = [json.loads((ROOT / rel).read_text()) for rel in T.NULLS_SOURCES]
    before = T.nulls_table(*sources)
    assert "| shuffled checkpoints (200 draws) | v2 |" in before
    sources[1]["drift"]["v1"]["2"] = 0.5
    assert T.nulls_table(*sources) != before
