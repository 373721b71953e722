import json
import os
import subprocess
import sys
import zipfile

import jax
import numpy as np
import pytest

import rnnctl
from rnnctl.config import TrainConfig
from rnnctl.networks import param_shapes
from rnnctl.runs import FORMAT_VERSION, RunError, load_run, read_npz, save_run, write_npz


def _fake_run(tmp_path, A=2, U=3):
    rng = np.random.default_rng(0)
    config = TrainConfig(n_updates=U, hidden=4, head_hidden=3)
    params = rnnctl.runs.unflatten_params({   # every leaf, shaped as `config` says
        k: rng.normal(size=(A, U + 1, *s)).astype(np.float32)
        for k, s in param_shapes(config).items()})
    metrics = {"eval_return": rng.normal(size=(A, U + 1)),
               "policy_loss": np.where(np.arange(U + 1) == 0, np.nan, 1.0) * np.ones((A, 1))}
    agents = [{"seed": 0, "obs": "fo"}, {"seed": 0, "obs": "po"}][:A]
    save_run(tmp_path / "run", config, agents, params, metrics)
    return tmp_path / "run", config, agents, params, metrics


def test_save_load_round_trip(tmp_path):
    path, config, agents, params, metrics = _fake_run(tmp_path)
    run = rnnctl.load_run(path)
    assert run.config == config
    assert run.agents == agents
    for k, v in metrics.items():
        np.testing.assert_array_equal(run.metrics[k], v)
    p = run.params(1, 2)
    np.testing.assert_array_equal(p["rnn"]["W_h"], params["rnn"]["W_h"][1, 2])
    np.testing.assert_array_equal(run.params(0)["actor"]["log_std"],
                                  params["actor"]["log_std"][0, -1])
    stacked = run.stacked_params()
    assert jax.tree.structure(stacked) == jax.tree.structure(params)
    assert run.agent_index(0, "po") == 1
    with pytest.raises(IndexError, match="out of range"):
        run.params(0, 4)
    # no temporary files are left behind
    assert sorted(os.listdir(path)) == ["checkpoints.npz", "config.json", "metrics.npz"]


def test_missing_run_dir_and_missing_file(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="not a run directory"):
        load_run(tmp_path / "empty")
    path, *_ = _fake_run(tmp_path)
    (path / "metrics.npz").unlink()
    with pytest.raises(RunError, match=r"metrics.npz: file is missing"):
        load_run(path)


def test_truncated_checkpoint_gives_one_line_error(tmp_path):
    path, *_ = _fake_run(tmp_path)
    data = (path / "checkpoints.npz").read_bytes()
    (path / "checkpoints.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunError) as err:      # the headers are checked on opening
        load_run(path)
    msg = str(err.value)
    assert "checkpoints.npz" in msg and "truncated or corrupt" in msg and "\n" not in msg


def test_truncated_config_and_other_format_version(tmp_path):
    path, *_ = _fake_run(tmp_path)
    text = (path / "config.json").read_text()
    (path / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(RunError, match=r"config.json: not valid JSON"):
        load_run(path)
    meta = json.loads(text)
    meta["format_version"] = FORMAT_VERSION + 1
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match=rf"config.json: format version {FORMAT_VERSION + 1}"):
        load_run(path)


def test_npz_from_another_version_is_refused(tmp_path):
    f = tmp_path / "m.npz"
    np.savez(f, a=np.ones(3), __format_version__=np.asarray(FORMAT_VERSION + 1))
    with pytest.raises(RunError, match="m.npz: format version"):
        read_npz(f)
    np.savez(f, a=np.ones(3))
    with pytest.raises(RunError, match="no format version"):
        read_npz(f)
    write_npz(f, {"a": np.arange(3)})
    np.testing.assert_array_equal(read_npz(f)["a"], np.arange(3))


def test_no_pickle_on_disk(tmp_path):
    path, *_ = _fake_run(tmp_path)
    for name in ("checkpoints.npz", "metrics.npz"):
        with zipfile.ZipFile(path / name) as z:
            for member in z.namelist():
                header = z.read(member)[:10]
                assert header.startswith(b"\x93NUMPY"), member
        np.load(path / name, allow_pickle=False)   # would raise on object arrays


def test_incomplete_run_error_carries_the_path_not_the_cli(tmp_path):
    from rnnctl.runs import RunIncomplete, write_run_meta
    write_run_meta(tmp_path / "run", TrainConfig(n_updates=2), [{"seed": 0, "obs": "po"}],
                   status="training")
    with pytest.raises(RunIncomplete, match="incomplete") as err:
        load_run(tmp_path / "run")
    assert err.value.path == tmp_path / "run"
    assert "python -m" not in str(err.value) and "--resume" not in str(err.value)


def test_flatten_params_keys_and_round_trip():
    from rnnctl.runs import flatten_params, unflatten_params
    tree = {"rnn": {"W_h": np.ones((2, 2)), "b": np.zeros(2)},
            "actor": {"mean": {"kernel": np.arange(3.0)}}}
    flat = flatten_params(tree)
    assert sorted(flat) == ["actor/mean/kernel", "rnn/W_h", "rnn/b"]
    assert all(isinstance(v, np.ndarray) for v in flat.values())
    back = unflatten_params(flat)
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    np.testing.assert_array_equal(back["actor"]["mean"]["kernel"], np.arange(3.0))


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    from rnnctl.runs import atomic_write, write_json
    f = tmp_path / "a.json"
    write_json(f, {"v": 1})

    def broken(fileobj):
        fileobj.write(b"{\"v\": ")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(f, broken)
    assert json.loads(f.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.json"]            # no temporary file left


def test_diverged_agents_from_metrics_and_info():
    from rnnctl.runs import diverged_agents
    agents = [{"seed": 0, "obs": "fo", "hyper": {"lr": 1.0}},
              {"seed": 0, "obs": "po", "hyper": {"lr": 1.0}},
              {"seed": 1, "obs": "fo", "hyper": {"lr": 1.0}}]
    flags = np.zeros((3, 5))
    flags[1, 3:] = 1                                     # agent 1 diverged at update 3
    assert diverged_agents(agents, {"diverged": flags}) == [
        {"agent": 1, "seed": 0, "obs": "po", "hyper": {"lr": 1.0}, "update": 3}]
    # a record in run.info alone (e.g. metrics without flags) counts as well
    info = {"diverged": [{"agent": 2, "seed": 1, "obs": "fo", "update": 2}]}
    got = diverged_agents(agents, {"diverged": flags}, info)
    assert [(d["agent"], d["update"]) for d in got] == [(1, 3), (2, 2)]
    assert diverged_agents(agents[:1], {"eval_return": np.zeros((1, 5))}) == []


def test_run_lists_its_diverged_agents(tmp_path):
    path, config, agents, params, metrics = _fake_run(tmp_path)
    assert load_run(path).diverged_agents() == []
    metrics["diverged"] = np.zeros((2, 4))
    metrics["diverged"][0, 2:] = 1
    save_run(tmp_path / "run2", config, agents, params, metrics)
    assert load_run(tmp_path / "run2").diverged_agents() == [
        {"agent": 0, "seed": 0, "obs": "fo", "update": 2}]
