"""Numbers after a resume are right (issue 25).

A resumed process trains only the updates after the last saved chunk, so its env steps/s
is those updates' steps over its own training time: it was the whole run's steps over
the resumed part's time (89,347 reported, 29,956 true). config.json's timing record (which
summary.json and report.md copy) holds that figure, and the whole run's, from the
training time each chunk file records, part by part.

The interruption is a Ctrl-C delivered while a chunk is being written (the shielded
moment): that chunk is saved, and training stops, exactly as with a real one.
"""
import numpy as np
import pytest

from rnnctl import _interrupt, runs
from rnnctl.experiment import Interrupted, make_agents, train_to_dir


def _interrupt_after_update(monkeypatch, stop_at: int) -> None:
    """The next training call is Ctrl-C'd while it saves the chunk ending at `stop_at`."""
    real = runs.write_npz

    def write_then_ctrl_c(path, arrays):
        real(path, arrays)
        if "updates_done" in arrays and int(arrays["updates_done"]) == stop_at:
            _interrupt.on_sigint()          # shielded: noted, raised once the chunk is saved
    monkeypatch.setattr(runs, "write_npz", write_then_ctrl_c)


def _steps(config, agents, updates):
    return len(agents) * updates * config.steps_per_update


@pytest.fixture(scope="module")
def agents():
    return make_agents([0], ["fo", "po"])


@pytest.fixture()
def interrupted(tmp_path, tiny_config, agents, monkeypatch):
    """A run of 3 updates in chunks of 1, stopped once update 1 is saved."""
    out = tmp_path / "run"
    _interrupt_after_update(monkeypatch, 1)
    with pytest.raises(Interrupted) as err:
        train_to_dir(tiny_config, agents, out, progress=False, chunk=1)
    monkeypatch.undo()
    assert err.value.updates_done == 1
    return out


def test_resumed_run_reports_its_own_steps_over_its_own_time(interrupted, tiny_config,
                                                             agents):
    path, result = train_to_dir(tiny_config, agents, interrupted, progress=False, chunk=1,
                                resume=True)
    trained = _steps(tiny_config, agents, tiny_config.n_updates - 1)     # updates 2 and 3
    assert result.env_steps == trained                    # what the sweep's console prints
    t = runs.read_json(path / runs.CONFIG_FILE)["info"]["timing"]
    assert t["resumed"] is True and t["resumed_at"] == 1
    assert t["env_steps"] == trained and t["train_s"] == result.train_s > 0
    assert t["env_steps_per_s"] == pytest.approx(trained / t["train_s"])
    # the whole run: every update's steps over both processes' training time
    whole = t["run"]
    assert whole["env_steps"] == _steps(tiny_config, agents, tiny_config.n_updates)
    first, second = whole["parts"]
    assert first["updates"] == [1, 1] and second["updates"] == [2, 3]
    assert first["env_steps"] == _steps(tiny_config, agents, 1) and first["train_s"] > 0
    assert second["env_steps"] == trained
    assert second["train_s"] == pytest.approx(t["train_s"])
    assert whole["train_s"] == pytest.approx(first["train_s"] + second["train_s"])
    assert whole["env_steps_per_s"] == pytest.approx(whole["env_steps"] / whole["train_s"])


def test_resume_of_chunks_without_recorded_times_still_reports_its_own_rate(
        interrupted, tiny_config, agents):
    # chunks saved before their training time was recorded: the whole run's time is unknown
    for f in (interrupted / "partial").glob("chunk_*.npz"):
        arrays = runs.read_npz(f)
        runs.write_npz(f, {k: v for k, v in arrays.items() if not k.startswith("timing/")})
    path, result = train_to_dir(tiny_config, agents, interrupted, progress=False, chunk=1,
                                resume=True)
    t = runs.read_json(path / runs.CONFIG_FILE)["info"]["timing"]
    trained = _steps(tiny_config, agents, tiny_config.n_updates - 1)
    assert result.env_steps == t["env_steps"] == trained
    assert t["env_steps_per_s"] == pytest.approx(trained / t["train_s"])
    assert t["run"]["train_s"] is None and t["run"]["env_steps_per_s"] is None
    assert [p["updates"] for p in t["run"]["parts"]] == [[2, 3]]


def test_uninterrupted_run_is_one_part_equal_to_the_whole(tmp_path, tiny_config, agents):
    path, result = train_to_dir(tiny_config, agents, tmp_path / "run", progress=False,
                                chunk=2)
    t = runs.read_json(path / runs.CONFIG_FILE)["info"]["timing"]
    steps = _steps(tiny_config, agents, tiny_config.n_updates)
    assert result.env_steps == t["env_steps"] == t["run"]["env_steps"] == steps
    assert t["resumed"] is False and t["resumed_at"] == 0
    part, = t["run"]["parts"]
    assert part["updates"] == [1, tiny_config.n_updates] and part["env_steps"] == steps
    assert t["run"]["train_s"] == pytest.approx(t["train_s"])
    assert t["env_steps_per_s"] == pytest.approx(t["run"]["env_steps_per_s"])
    assert np.isfinite(t["env_steps_per_s"])
