import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import envs
from rnnctl.config import ConfigError


def test_po_input_does_not_depend_on_theta_dot():
    mask = envs.obs_mask("po")
    raw = jnp.array([[0.6, 0.8, -7.0], [0.6, 0.8, 3.0], [0.6, 0.8, jnp.nan]])
    x = envs.observe(raw, mask, theta_dot_scale=0.125)
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0], x[2])
    np.testing.assert_allclose(x[0], [0.6, 0.8, 0.0], rtol=1e-6)
    assert x[0, 2] == 0.0
    # and the gradient of the PO input with respect to θ̇ is exactly zero
    g = jax.grad(lambda td: envs.observe(jnp.array([0.6, 0.8, td]), mask).sum())(2.0)
    assert g == 0.0


def test_fo_input_keeps_scaled_theta_dot():
    x = envs.observe(jnp.array([0.6, 0.8, -4.0]), envs.obs_mask("fo"), theta_dot_scale=0.125)
    np.testing.assert_allclose(x, [0.6, 0.8, -0.5])


def test_angle_encoding_is_wrapped_theta():
    theta = 3 * jnp.pi / 4 + 4 * jnp.pi          # unwrapped, as gymnax keeps it
    obs, _ = envs.state_from(theta, 1.5)
    x = envs.observe(obs, envs.obs_mask("fo", "angle"), "angle", 1.0)
    np.testing.assert_allclose(x, [3 * np.pi / 4, 1.5], rtol=1e-5)
    x_po = envs.observe(obs, envs.obs_mask("po", "angle"), "angle", 1.0)
    np.testing.assert_allclose(x_po, [3 * np.pi / 4, 0.0], rtol=1e-5)


def test_wrap_angle_range():
    th = jnp.linspace(-20, 20, 1001)
    w = envs.wrap_angle(th)
    assert float(w.min()) >= -np.pi and float(w.max()) < np.pi
    np.testing.assert_allclose(np.cos(w), np.cos(th), atol=1e-5)


def test_step_truncates_at_200_and_never_terminates():
    obs, state = envs.reset(jax.random.key(0))
    truncs, terms = [], []
    for t in range(201):
        res = envs.step(jax.random.key(t), state, jnp.array([0.5]))
        state = res.state
        truncs.append(bool(res.truncated))
        terms.append(bool(res.terminated))
    assert not any(terms)
    assert [i for i, v in enumerate(truncs) if v] == [envs.EPISODE_LEN - 1]


def test_bad_settings_raise_one_line():
    with pytest.raises(ConfigError, match="obs must be one of"):
        envs.obs_mask("xy")
    with pytest.raises(ConfigError, match="encoding"):
        envs.input_dim("polar")


def test_gymnax_rendering_modules_load_only_when_used():
    # gymnax imports seaborn (and with it scipy.stats, pandas) and matplotlib.pyplot for
    # rendering only; the command-line tools defer them (rnnctl.cli.prepare, never
    # `import rnnctl`), and they still work when used
    code = textwrap.dedent("""
        import sys
        from rnnctl.cli import prepare
        prepare()
        import rnnctl.envs
        assert "scipy.stats" not in sys.modules and "pandas" not in sys.modules
        from gymnax.environments.bsuite import catch
        import seaborn as sns
        assert len(sns.color_palette("cubehelix", 3)) == 3
        assert type(sys.modules["seaborn"]).__name__ == "module"   # the real one now
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = catch.plt.subplots()
        assert sys.modules["matplotlib.pyplot"].subplots is plt.subplots
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
