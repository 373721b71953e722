"""Initialisations of the recurrent cell: ranges and spectral radii."""
import jax
import numpy as np
import pytest

from rnnctl import networks
from rnnctl.config import ConfigError, TrainConfig


def _stack(init, n=16, hidden=64):
    keys = jax.random.split(jax.random.key(0), n)
    return jax.tree.map(np.asarray, jax.vmap(lambda k: networks.init_rnn(k, 2, hidden, init))(keys))


def _rho(w_h):
    return np.abs(np.linalg.eigvals(w_h)).max(-1)


def test_torch_uniform_range_and_radius():
    p = _stack("torch_uniform")
    bound = 1 / np.sqrt(64)
    for name in ("W_h", "W_x", "b"):
        assert np.abs(p[name]).max() <= bound
        assert np.abs(p[name]).max() > 0.95 * bound          # fills the range
        assert abs(p[name].mean()) < 0.01
    # U(±1/√H) has variance 1/(3H): ρ ≈ 1/√3 ≈ 0.58 (circular law), a bit above at H=64
    assert 0.5 < _rho(p["W_h"]).mean() < 0.7
    assert np.all(p["b"] != 0)


def test_normal_radius_near_one_and_zero_bias():
    p = _stack("normal")
    assert 0.95 < _rho(p["W_h"]).mean() < 1.2
    assert np.all(p["b"] == 0)


def test_orthogonal_all_eigenvalues_on_unit_circle():
    p = _stack("orthogonal", n=4)
    lam = np.abs(np.linalg.eigvals(p["W_h"]))
    np.testing.assert_allclose(lam, 1.0, atol=1e-4)


def test_unknown_init_rejected():
    with pytest.raises(ConfigError, match="rnn_init"):
        TrainConfig(rnn_init="xavier").validate()
    with pytest.raises(ValueError, match="rnn_init"):
        networks.init_rnn(jax.random.key(0), 2, 8, "xavier")


def test_paper_default_and_old_runs():
    cfg = TrainConfig()
    assert (cfg.rnn_init, cfg.encoding) == ("torch_uniform", "angle")
    # a config.json saved before rnn_init existed was initialised with N(0, 1/H)
    old = cfg.to_dict()
    del old["rnn_init"]
    assert TrainConfig.from_dict(old).rnn_init == "normal"
