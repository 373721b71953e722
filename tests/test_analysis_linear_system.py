"""The linear system at an expansion point: Taylor error O(ε²), closed forms, modes we chose."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis, networks


def _params(cell, hidden=6, n_in=2, seed=0):
    return networks.init_params(jax.random.key(seed), n_in, hidden, 8, cell=cell)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_one_step_error_is_second_order(kind):
    """‖F(h_e + εΔh, x_e + εΔx) − linear prediction‖ shrinks 4× when ε halves."""
    params = _params(kind)
    cell = analysis.rnn_cell(params)
    size = networks.state_size(params)
    rng = np.random.default_rng(1)
    h_e = jnp.asarray(rng.normal(0, 0.5, size), jnp.float32)
    x_e = jnp.asarray(rng.normal(0, 1.0, 2), jnp.float32)
    dh = jnp.asarray(rng.normal(size=size), jnp.float32)
    dx = jnp.asarray(rng.normal(size=2), jnp.float32)
    lin = analysis.linearize(cell, h_e, x_e)

    def err(eps):
        return float(jnp.linalg.norm(cell(h_e + eps * dh, x_e + eps * dx)
                                     - lin.predict(eps * dh, eps * dx)))

    e1, e2 = err(0.04), err(0.02)
    assert 3.3 < e1 / e2 < 4.7, (e1, e2)
    # and the first-order term matters: without J_inp the error is only O(ε)
    no_inp = float(jnp.linalg.norm(cell(h_e + 0.02 * dh, x_e + 0.02 * dx)
                                   - lin.F_e - lin.J_rec @ (0.02 * dh)))
    assert no_inp > 10 * e2


def test_vanilla_rnn_closed_form_equals_jacfwd():
    params = _params("rnn")
    rng = np.random.default_rng(2)
    h_e = jnp.asarray(rng.normal(0, 0.5, 6), jnp.float32)
    x_e = jnp.asarray(rng.normal(0, 1.0, 2), jnp.float32)
    lin = analysis.linearize(analysis.rnn_cell(params), h_e, x_e)
    gain = 1.0 - lin.F_e ** 2                               # diag(1 − h'²)
    np.testing.assert_allclose(lin.J_rec, gain[:, None] * params["rnn"]["W_h"], atol=1e-6)
    np.testing.assert_allclose(lin.J_inp, gain[:, None] * params["rnn"]["W_x"], atol=1e-6)
    np.testing.assert_allclose(lin.J_rec, analysis.recurrent_jacobians(params, lin.F_e),
                               atol=1e-6)


def test_modes_of_a_linear_cell_we_chose():
    """cell(h, x) = A h + B x with A = R diag(λ) R⁻¹: eigenvalues, τ and drive known."""
    lam = np.array([0.5, 0.95, -0.8, 0.2])
    r = np.array([[1.0, 0.3, 0.0, 0.2], [0.0, 1.0, 0.5, 0.0],
                  [0.2, 0.0, 1.0, 0.1], [0.0, 0.4, 0.0, 1.0]])
    a = r @ np.diag(lam) @ np.linalg.inv(r)
    b = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.5]])
    cell = lambda h, x: jnp.asarray(a, jnp.float32) @ h + jnp.asarray(b, jnp.float32) @ x
    lin = analysis.linearize(cell, jnp.zeros(4), jnp.zeros(2))
    order = np.argsort(-np.abs(lam))                        # |λ| descending
    np.testing.assert_allclose(lin.eigvals.real, lam[order], atol=1e-5)
    np.testing.assert_allclose(lin.tau, 1 / np.abs(np.log(np.abs(lam[order]))), rtol=1e-4)
    # drive of mode i: ‖(R⁻¹ B)_i‖ with r_i scaled to unit norm (l_i scales inversely)
    want = np.linalg.norm(np.linalg.inv(r) @ b, axis=1) * np.linalg.norm(r, axis=0)
    np.testing.assert_allclose(lin.input_drive, want[order], rtol=1e-4)
    np.testing.assert_array_equal(lin.stable, np.abs(lam[order]) < 1)


def test_left_and_right_eigenvectors_are_dual():
    params = _params("gru", hidden=5)
    lin = analysis.linearize(analysis.rnn_cell(params), 0.3 * jnp.ones(5), jnp.ones(2))
    j = np.asarray(lin.J_rec, np.complex64)
    right, left, lam = np.asarray(lin.right), np.asarray(lin.left), np.asarray(lin.eigvals)
    np.testing.assert_allclose(left.T @ right, np.eye(5), atol=1e-4)        # l_iᵀ r_j = δ_ij
    np.testing.assert_allclose(j @ right, right * lam, atol=1e-5)           # J r = λ r
    np.testing.assert_allclose(left.T @ j, lam[:, None] * left.T, atol=1e-4)  # lᵀ J = λ lᵀ
    np.testing.assert_allclose(np.linalg.norm(right, axis=0), 1.0, atol=1e-5)
    assert np.all(np.diff(np.abs(lam)) <= 1e-6)                             # sorted


def test_batched_over_agents_checkpoints_points():
    a, c, k = 2, 3, 4
    params = jax.vmap(jax.vmap(lambda s: _params("lstm", hidden=3, seed=s)))(
        jnp.arange(a * c).reshape(a, c))
    keys = jax.random.split(jax.random.key(3), 2)
    h = 0.5 * jax.random.normal(keys[0], (a, c, k, 6))       # LSTM state [c, h]: S = 6
    x = jax.random.normal(keys[1], (a, c, k, 2))
    h = h.at[1, 2, 0].set(jnp.nan)                          # one bad point
    lin = analysis.linearize_agents(params, h, x)
    assert lin.J_rec.shape == (a, c, k, 6, 6) and lin.J_inp.shape == (a, c, k, 6, 2)
    assert lin.eigvals.shape == (a, c, k, 6) and lin.right.shape == (a, c, k, 6, 6)
    assert lin.tau.shape == lin.input_drive.shape == (a, c, k, 6)
    assert lin.valid.shape == (a, c, k)
    # the NaN point is marked, not propagated
    assert not bool(lin.valid[1, 2, 0]) and bool(lin.valid.sum() == a * c * k - 1)
    assert np.all(np.isnan(lin.eigvals[1, 2, 0]))
    assert np.all(np.isfinite(lin.input_drive[1, 2, 1:]))
    one = analysis.linearize(analysis.rnn_cell(jax.tree.map(lambda v: v[0, 1], params)),
                             h[0, 1, 2], x[0, 1, 2])
    np.testing.assert_allclose(lin.J_rec[0, 1, 2], one.J_rec, atol=1e-6)
    np.testing.assert_allclose(lin.input_drive[0, 1, 2], one.input_drive, rtol=1e-4)
    # a shared input [I] broadcasts over points
    shared = analysis.linearize_agents(params, h, jnp.ones(2))
    assert shared.x_e.shape == (a, c, k, 2)


def test_bad_input_refused_naming_the_argument():
    params = _params("rnn")
    cell = analysis.rnn_cell(params)
    cases = [((jnp.zeros((2, 6)), jnp.zeros(2)), "h_e"),
             ((jnp.zeros(6), jnp.zeros((1, 2))), "x_e"),
             ((jnp.zeros(5), jnp.zeros(2)), "h_e")]
    for args, name in cases:
        with pytest.raises(ValueError, match=name) as info:
            analysis.linearize(cell, *args)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="h_e"):
        analysis.linearize_agents(params, jnp.zeros((4, 5)), jnp.zeros(2))
    with pytest.raises(ValueError, match="x_e"):
        analysis.linearize_agents(params, jnp.zeros((4, 6)), jnp.zeros((3, 2)))
