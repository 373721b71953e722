"""Exported training programs (`rnnctl.aot`): a later start loads them instead of tracing,
any change to what they depend on makes a new entry, and a damaged entry is rebuilt."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import aot


@pytest.fixture
def cache_dir(tmp_path):
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    jax.config.update("jax_compilation_cache_dir", previous)


def _program(traces):
    def f(tree, scale):
        traces.append(1)                  # runs only while jax traces f
        return {"y": tree["x"] * scale + 1.0, "key": jax.random.split(tree["key"])[0]}
    return f


def _args(n=3):
    return ({"x": jnp.arange(n, dtype=jnp.float32), "key": jax.random.key(0)},
            jnp.float32(2.0))


def _check(out, n=3):
    np.testing.assert_array_equal(out["y"], 2.0 * np.arange(n) + 1.0)
    np.testing.assert_array_equal(jax.random.key_data(out["key"]),
                                  jax.random.key_data(jax.random.split(jax.random.key(0))[0]))


def test_a_stored_program_is_loaded_without_tracing(cache_dir):
    traces = []
    f = _program(traces)
    _check(aot.compiled("t", f, _args(), key={"hidden": 64})(*_args()))
    assert len(traces) == 1
    assert len(list((cache_dir / "exported").glob("t-*.jaxexport"))) == 1
    # what a new process does: the same name, key and shapes load the stored program
    _check(aot.compiled("t", f, _args(), key={"hidden": 64})(*_args()))
    assert len(traces) == 1


def test_a_change_of_key_or_shape_makes_a_new_entry(cache_dir):
    traces = []
    f = _program(traces)
    aot.compiled("t", f, _args(), key={"hidden": 64})
    aot.compiled("t", f, _args(), key={"hidden": 32})
    _check(aot.compiled("t", f, _args(4), key={"hidden": 64})(*_args(4)), n=4)
    assert len(traces) == 3
    assert len(list((cache_dir / "exported").glob("t-*.jaxexport"))) == 3


def test_a_damaged_entry_is_rebuilt(cache_dir):
    traces = []
    f = _program(traces)
    aot.compiled("t", f, _args(), key=1)
    (entry,) = (cache_dir / "exported").glob("t-*.jaxexport")
    entry.write_bytes(b"not a program")
    _check(aot.compiled("t", f, _args(), key=1)(*_args()))
    assert len(traces) == 2
    _check(aot.compiled("t", f, _args(), key=1)(*_args()))   # the rebuilt one loads
    assert len(traces) == 2


def test_without_the_compilation_cache_nothing_is_stored(tmp_path, monkeypatch):
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.chdir(tmp_path)
    try:
        assert aot.export_dir() is None
        _check(aot.compiled("t", _program([]), _args(), key=1)(*_args()))
        assert list(tmp_path.rglob("*.jaxexport")) == []
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
