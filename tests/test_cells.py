"""GRU and LSTM cells and categorical heads (issue 13).

The cells are checked against flax's own `GRUCell`/`LSTMCell` (an independent
implementation of the same equations), their Jacobians along trajectories against
`jax.jacfwd`, and the fixed-point finder on cells whose fixed points and eigenvalues are
known in closed form.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnctl import analysis, networks

H, I = 6, 3


def _params(cell, key=0, rnn_init="torch_uniform"):
    return networks.init_params(jax.random.key(key), I, H, 8, rnn_init=rnn_init, cell=cell)


@pytest.mark.parametrize("cell,gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
@pytest.mark.parametrize("rnn_init", ["torch_uniform", "normal", "orthogonal"])
def test_cell_shapes_and_type(cell, gates, rnn_init):
    p = _params(cell, rnn_init=rnn_init)
    assert p["rnn"]["W_h"].shape == (gates * H, H)
    assert p["rnn"]["W_x"].shape == (gates * H, I)
    assert networks.cell_type(p) == cell
    size = 2 * H if cell == "lstm" else H
    assert networks.state_size(p) == size
    s = networks.cell(p, jnp.zeros((5, size)), jnp.ones((5, I)))
    assert s.shape == (5, size) and np.isfinite(np.asarray(s)).all()


def test_rnn_init_unchanged_by_the_cell_option():
    """The vanilla RNN draws what it drew before cells existed (same key, same numbers)."""
    for init in ("torch_uniform", "normal", "orthogonal"):
        a = networks.init_rnn(jax.random.key(3), I, H, init)
        b = networks.init_rnn(jax.random.key(3), I, H, init, cell="rnn")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_gru_matches_flax_gru_cell():
    x, h = jax.random.normal(jax.random.key(1), (4, I)), jax.random.normal(jax.random.key(2), (4, H))
    ref = nn.GRUCell(features=H)
    fp = ref.init(jax.random.key(0), h, x)["params"]
    zeros = jnp.zeros((H,))
    ours = {"rnn": {
        "W_x": jnp.concatenate([fp[g]["kernel"].T for g in ("ir", "iz", "in")]),
        "W_h": jnp.concatenate([fp[g]["kernel"].T for g in ("hr", "hz", "hn")]),
        "b": jnp.concatenate([fp[g]["bias"] for g in ("ir", "iz", "in")]),
        "b_h": jnp.concatenate([zeros, zeros, fp["hn"]["bias"]])}}   # flax: no hr/hz bias
    expected, _ = ref.apply({"params": fp}, h, x)
    np.testing.assert_allclose(networks.cell(ours, h, x), expected, rtol=1e-5, atol=1e-6)


def test_lstm_matches_flax_lstm_cell():
    x = jax.random.normal(jax.random.key(1), (4, I))
    c, h = jax.random.normal(jax.random.key(2), (2, 4, H))
    ref = nn.LSTMCell(features=H)
    fp = ref.init(jax.random.key(0), (c, h), x)["params"]
    ours = {"rnn": {
        "W_x": jnp.concatenate([fp[g]["kernel"].T for g in ("ii", "if", "ig", "io")]),
        "W_h": jnp.concatenate([fp[g]["kernel"].T for g in ("hi", "hf", "hg", "ho")]),
        "b": jnp.concatenate([fp[g]["bias"] for g in ("hi", "hf", "hg", "ho")])}}
    (c2, h2), _ = ref.apply({"params": fp}, (c, h), x)
    out = networks.cell(ours, jnp.concatenate([c, h], -1), x)
    np.testing.assert_allclose(out, jnp.concatenate([c2, h2], -1), rtol=1e-5, atol=1e-6)
    assert networks.readout(ours, out).shape == (4, H)
    np.testing.assert_allclose(networks.readout(ours, out), h2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_cell_jacobians_along_a_trajectory_match_jacfwd(cell):
    """J_t = ∂F(s_{t−1}, x_t)/∂s_{t−1} with s_{−1} = 0; the RNN's closed form included."""
    p = _params(cell, rnn_init="normal")
    xs = jax.random.normal(jax.random.key(5), (2, 7, I))

    def run(x_seq):
        return jax.lax.scan(lambda s, x: (networks.cell(p, s, x),) * 2,
                            jnp.zeros((networks.state_size(p),)), x_seq)[1]

    hs = jax.vmap(run)(xs)                                             # [2, 7, S]
    got = analysis.cell_jacobians(p, hs, xs)
    prev = jnp.concatenate([jnp.zeros_like(hs[:, :1]), hs[:, :-1]], 1)
    want = jax.vmap(jax.vmap(lambda s, x: jax.jacfwd(lambda z: networks.cell(p, z, x))(s)))(
        prev, xs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _constant_cell(cell):
    """W_h = W_x = 0: every gate is a constant, so the fixed point and J are known."""
    p = _params(cell)
    b = jax.random.normal(jax.random.key(9), p["rnn"]["b"].shape)
    p["rnn"] = {**jax.tree.map(jnp.zeros_like, p["rnn"]), "b": b}
    return p, np.asarray(b)


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_fixed_points_of_gated_cells_with_known_answers(cell):
    p, b = _constant_cell(cell)
    if cell == "gru":          # h* = n = tanh(b_n); J = diag(z), z = σ(b_z)
        h_star = np.tanh(b[2 * H:])
        eig = np.sort(_sig(b[H:2 * H]))[::-1]
    else:                      # c* = i g / (1 − f), h* = o tanh(c*); eig: f (H), 0 (H)
        i, f, g, o = _sig(b[:H]), _sig(b[H:2 * H]), np.tanh(b[2 * H:3 * H]), _sig(b[3 * H:])
        c_star = i * g / (1 - f)
        h_star = np.concatenate([c_star, o * np.tanh(c_star)])
        eig = np.concatenate([np.sort(f)[::-1], np.zeros(H)])
    size = networks.state_size(p)
    init = jax.random.normal(jax.random.key(1), (16, size))
    fps = analysis.find_fixed_points(analysis.rnn_cell(p), jnp.zeros((I,)), init,
                                     max_points=4).get_unique()
    assert len(fps.xstar) == 1
    np.testing.assert_allclose(fps.xstar[0], h_star, atol=1e-4)
    np.testing.assert_allclose(np.abs(fps.eigvals[0]), eig, atol=1e-4)
    assert bool(fps.is_stable[0])
    # and the timescales of those eigenvalues: τ = 1/|ln λ| of the largest
    tau = analysis.timescales(jnp.asarray(fps.eigvals[0]), top=1)
    np.testing.assert_allclose(tau, [1.0 / abs(np.log(eig[0]))], rtol=1e-3)


def test_timescales_host_of_a_gated_cell_equal_the_direct_estimate():
    p = _params("gru", rnn_init="normal")
    xs = jax.random.normal(jax.random.key(5), (2, 10, I))
    hs = jax.vmap(lambda xx: jax.lax.scan(lambda s, x: (networks.cell(p, s, x),) * 2,
                                          jnp.zeros((H,)), xx)[1])(xs)
    stack = jax.tree.map(lambda a: a[None], p)
    host = analysis.timescales_host(stack, hs[None], x=xs[None], top=3)
    lam = jnp.linalg.eigvals(analysis.cell_jacobians(p, hs, xs).reshape(-1, H, H))
    direct = analysis.timescales_from_eigvals(lam, top=3)
    np.testing.assert_allclose(host["tau_avg"][0], direct.avg, rtol=1e-4)
    with pytest.raises(ValueError, match="needs the inputs"):
        analysis.timescales_host(stack, hs[None], top=3)


def test_categorical_head_log_probs_entropy_and_mode():
    p = networks.init_params(jax.random.key(0), I, H, 8, action=("discrete", 3))
    assert networks.is_discrete(p) and "log_std" not in p["actor"]
    h = jax.random.normal(jax.random.key(1), (5, H))
    logits, log_std = networks.policy(p, h)
    assert log_std is None and logits.shape == (5, 3)
    dist = networks.distribution(logits, log_std)
    actions = jnp.array([0, 1, 2, 1, 0])
    ref = jax.nn.log_softmax(logits)[jnp.arange(5), actions]
    np.testing.assert_allclose(dist.log_prob(actions), ref, rtol=1e-6)
    probs = jax.nn.softmax(logits)
    np.testing.assert_allclose(dist.entropy(), -(probs * jnp.log(probs)).sum(-1), rtol=1e-5)
    np.testing.assert_array_equal(networks.mode(p, h), jnp.argmax(logits, -1))


def test_box_head_of_several_dimensions():
    p = networks.init_params(jax.random.key(0), I, H, 8, action=("box", 2))
    mean, log_std = networks.policy(p, jnp.zeros((4, H)))
    assert mean.shape == (4, 2) and log_std.shape == (2,)
    a = jnp.ones((4, 2))
    lp = networks.distribution(mean, log_std).log_prob(a)
    ref = jax.scipy.stats.norm.logpdf(a, mean, jnp.exp(log_std)).sum(-1)
    np.testing.assert_allclose(lp, ref, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_sequence_and_its_backward_pass_match_autodiff_of_a_scanned_cell(cell):
    """`networks.sequence` (input term before the loop, W_h laid out once, a hand-written
    backward pass with the weight gradients after the loop) computes the states and the
    gradients of a plain `lax.scan` of `cell` differentiated by jax: equal in float64 to
    rounding, through episode resets, for every cell; `loop_cell` equals `cell`. (The
    trainer's tests run it under vmap.)"""
    L, B = 9, 3
    g = networks.GATES[cell]
    s_dim = 2 * H if cell == "lstm" else H
    rng = np.random.default_rng(4)
    p = {"rnn": {"W_h": rng.normal(0, 0.5, (g * H, H)), "W_x": rng.normal(0, 0.5, (g * H, I)),
                 "b": rng.normal(0, 0.2, g * H)}}
    if cell == "gru":
        p["rnn"]["b_h"] = rng.normal(0, 0.2, g * H)
    x, s0, w = rng.normal(size=(L, B, I)), rng.normal(0, 0.5, (B, s_dim)), rng.normal(size=(L, B, s_dim))
    start = np.zeros((L, B), bool)
    start[3, 0] = start[0, 2] = True                      # episode resets inside and at t = 0

    def scanned(p, s0):
        def body(s, inp):
            s = networks.cell(p, networks.reset_hidden(s, inp[1]), inp[0])
            return s, s
        return jax.lax.scan(body, s0, (x, start))[1]

    ours = lambda p, s0: networks.sequence(p, s0, x, start)

    @jax.jit
    def both(p, s0):
        out = {}
        for name, run in (("ours", ours), ("scanned", scanned)):
            loss = lambda p, s0: jnp.sum(jnp.sin(run(p, s0)) * w)
            out[name] = (run(p, s0), jax.grad(loss, argnums=(0, 1))(p, s0))
        gx = networks.input_term(p, x[0])
        cells = (networks.loop_cell(p, networks.loop_weights(p), s0, gx),
                 networks.cell(p, s0, x[0]))
        return out, cells

    with jax.enable_x64(True):
        out, cells = both(p, s0)
    (s_ours, g_ours), (s_want, g_want) = out["ours"], out["scanned"]
    assert s_ours.dtype == np.float64
    np.testing.assert_allclose(s_ours, s_want, rtol=0, atol=1e-13)
    assert jax.tree.structure(g_ours) == jax.tree.structure(g_want)
    for got, want in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_want)):
        assert np.abs(np.asarray(want)).max() > 1e-3         # gradients that can fail
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cells[0], cells[1], rtol=0, atol=1e-14)
