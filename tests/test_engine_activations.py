"""Every activation and input dimension: the reference's gradients, the compiled kernels against the
reference, the vectorised tanh, and the activations' multiplicities."""

import numpy as np
import pytest
from numba import njit

from relunet_support import engine
from relunet_support.engine import STATUS_DEAD, STATUS_DIVERGED, STATUS_OK
from relunet_support.engine._vecmath import tanh as vector_tanh
from relunet_support.errors import ConfigError
from relunet_support.network import activations, model

ACTIVATIONS = list(activations.ACTIVATIONS)
DIMENSIONS = (1, 2, 5)


def problem(d: int, m: int = 12, n: int = 9, seed: int = 0):
    """A small network and data: x of shape (n,) for d = 1, else (n, d); w of shape (m,) or (m, d)."""
    rng = np.random.default_rng(seed)
    shape = (n,) if d == 1 else (n, d)
    x = rng.uniform(-1.0, 1.0, shape)
    y = rng.normal(0.0, 0.5, n)
    a = rng.normal(0.0, 1.0, m)
    w = rng.normal(0.0, 1.0, (m,) if d == 1 else (m, d))
    b = rng.normal(0.0, 1.0, m)
    return a, w, b, x, y


def relative_gap(left, right) -> float:
    return max(float(np.max(np.abs(u - v)) / np.max(np.abs(v))) for u, v in zip(left, right))


@pytest.mark.parametrize("d", DIMENSIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_central_differences(activation, d):
    for seed in range(3):
        a, w, b, x, y = problem(d, m=6, n=5, seed=seed)
        analytic = model.gradients(a, w, b, x, y, 1.7, activation)
        numeric = model.central_differences(a, w, b, x, y, 1.7, activation=activation)
        # a kink within h of a data point makes the risk non-differentiable there: leave those neurons out
        smooth = np.abs(model.preactivations(w, b, x)).min(axis=0) > 1e-4
        for g_analytic, g_numeric in zip(analytic, numeric):
            assert g_analytic.shape == g_numeric.shape
            np.testing.assert_allclose(g_analytic[smooth], g_numeric[smooth], rtol=1e-5, atol=1e-8)
            assert np.abs(g_analytic).max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("d", DIMENSIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_compiled_kernel_is_the_reference_after_2000_steps(activation, d):
    a, w, b, x, y = problem(d)
    start = model.risk(a, w, b, x, y, 3.0, activation)
    compiled = engine.descend(a, w, b, engine.Dynamics(x, y, 3.0, 0.05, activation=activation), 2000)
    reference = engine.descend(a, w, b, engine.Dynamics(x, y, 3.0, 0.05, activation=activation, backend="numpy"), 2000)
    assert relative_gap(compiled, reference) <= 1e-12
    assert model.risk(*reference, x, y, 3.0, activation) < 0.5 * start  # it trained


def test_inputs_of_many_coordinates_use_loops_and_still_agree():
    """Above ``UNROLLED_DIMENSIONS`` the general kernel loops over the coordinates (unrolled, d = 200 took
    minutes to compile): the same numbers as the reference."""
    from relunet_support.engine._general_kernel_text import UNROLLED_DIMENSIONS, _general_source

    d = UNROLLED_DIMENSIONS + 1
    marker = "z = bj + _dot(wj, xt, i)"
    assert marker in _general_source("tanh", d) and marker not in _general_source("tanh", d - 1)
    a, w, b, x, y = problem(d, n=30)
    start = model.risk(a, w, b, x, y, 3.0, "tanh")
    compiled = engine.descend(a, w, b, engine.Dynamics(x, y, 3.0, 0.02, activation="tanh"), 2000)
    reference = engine.descend(a, w, b, engine.Dynamics(x, y, 3.0, 0.02, activation="tanh", backend="numpy"), 2000)
    assert relative_gap(compiled, reference) <= 1e-12
    assert model.risk(*reference, x, y, 3.0, "tanh") < 0.5 * start


def test_relu_on_more_1d_points_than_unrolled_records_the_exact_extremes():
    """Beyond ``UNROLLED_POINTS`` 1-D points the general kernel runs ReLU (unrolled, n = 200 took minutes to
    compile): the same state and the same exact min and max of f as the reference."""
    from relunet_support.engine._kernel_text import UNROLLED_POINTS

    a, w, b, x, y = problem(1, m=30, n=UNROLLED_POINTS + 1)
    runs = []
    for backend in ("numba", "numpy"):
        state = [v.copy() for v in (a, w, b)]
        result = engine.advance(
            *state,
            engine.Dynamics(x, y, 3.0, 0.05, backend=backend),
            n_steps=500,
            record_offsets=[100, 500],
            initial=(a, w, b),
        )
        runs.append((state, result.records))
    assert relative_gap(runs[0][0], runs[1][0]) <= 1e-12
    for name in ("f_min", "f_max", "risk"):
        assert np.all(np.isfinite(runs[0][1][name]))
        np.testing.assert_allclose(runs[0][1][name], runs[1][1][name], rtol=1e-11)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_advance_records_what_the_reference_records(activation):
    a, w, b, x, y = problem(5)
    offsets = np.array([1, 10, 100, 700])
    states, results = [], []
    for backend in ("numba", "numpy"):
        state = [v.copy() for v in (a, w, b)]
        result = engine.advance(
            *state,
            engine.Dynamics(x, y, 3.0, 0.05, activation=activation, backend=backend),
            n_steps=700,
            record_offsets=offsets,
            initial=(a, w, b),
        )
        states.append(state)
        results.append(result)
    compiled, reference = results
    assert compiled.steps == reference.steps == 700 and compiled.status == reference.status == STATUS_OK
    assert relative_gap(*states) <= 1e-12
    for name in ("risk", "rd_w", "rd_a"):
        np.testing.assert_allclose(compiled.records[name], reference.records[name], rtol=1e-11)
    assert compiled.records["risk"][-1] == pytest.approx(model.risk(*states[1], x, y, 3.0, activation), rel=1e-11)
    assert compiled.records["rd_w"][-1] == pytest.approx(model.relative_distance(states[1][1:], (w, b)), rel=1e-11)
    # the extremes of f over an interval are exact for 1-D ReLU networks only: not recorded here
    assert np.isnan(compiled.records["f_min"]).all() and np.isnan(reference.records["f_max"]).all()


def test_ensemble_members_are_their_single_runs():
    members = [problem(5, seed=seed) for seed in range(3)]
    x, y = members[0][3:]
    stacked = [np.stack([member[k] for member in members]) for k in range(3)]
    together = engine.descend(*stacked, engine.Dynamics(x, y, 3.0, 0.05, activation="xtanh"), 300)
    for s, member in enumerate(members):
        alone = engine.descend(*member[:3], engine.Dynamics(x, y, 3.0, 0.05, activation="xtanh"), 300)
        for k in range(3):
            np.testing.assert_array_equal(together[k][s], alone[k])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_relu_network_on_d_dimensional_inputs_dies_and_a_tanh_one_diverges(backend):
    a, w, b, x, y = problem(5)
    dead_b = np.full_like(b, -10.0)  # every neuron off on every point
    result = engine.advance(
        a.copy(), w.copy(), dead_b, engine.Dynamics(x, y, 3.0, 0.05, backend=backend), n_steps=10, record_offsets=[5]
    )
    assert (result.steps, result.status) == (0, STATUS_DEAD)
    leaky = engine.advance(
        a.copy(),
        w.copy(),
        dead_b.copy(),
        engine.Dynamics(x, y, 3.0, 0.05, activation="leaky_relu", backend=backend),
        n_steps=10,
        record_offsets=[5],
    )
    assert (leaky.steps, leaky.status) == (10, STATUS_OK)  # leaky ReLU never dies
    diverged = engine.advance(
        a.copy(),
        w.copy(),
        b.copy(),
        engine.Dynamics(x, 1e6 * y, 0.01, 1e3, activation="x2tanh", backend=backend),
        n_steps=50,
        record_offsets=[40],
    )
    assert diverged.status == STATUS_DIVERGED and diverged.steps < 50


def test_shapes_and_names_are_checked():
    a, w, b, x, y = problem(2)
    with pytest.raises(ConfigError, match=r"w=\(12,\) is not allowed: w must be of shape \(12, 2\)"):
        engine.descend(a, w[:, 0], b, engine.Dynamics(x, y, 3.0, 0.05), 1)
    with pytest.raises(ConfigError, match="activation='softplus' is not allowed: activation must be one of 'relu'"):
        engine.descend(a, w, b, engine.Dynamics(x, y, 3.0, 0.05, activation="softplus"), 1)
    with pytest.raises(ConfigError, match="w="):
        model.forward(a, w[:, :1].repeat(3, axis=1), b, x, 3.0)
    with pytest.raises(ConfigError, match=r"y=\(8,\) is not allowed: y must be of shape \(9,\)"):
        engine.descend(a, w, b, engine.Dynamics(x, y[:-1], 3.0, 0.05, activation="tanh"), 1)
    with pytest.raises(ConfigError, match="alpha=0.0 is not allowed"):
        engine.descend(a, w, b, engine.Dynamics(x, y, 0.0, 0.05), 1)
    with pytest.raises(ConfigError, match=r"b=\(13,\) is not allowed: b must be of the shape of a"):
        engine.descend(a, w, np.ones(13), engine.Dynamics(x, y, 3.0, 0.05), 1)
    # advance works in place: a view or another dtype would be copied and lost, so it is refused
    for bad, given in ((np.asfortranarray(w), "non-contiguous float64 array"), (w.astype(np.float32), "float32 array")):
        with pytest.raises(ConfigError, match=f"w='{given}' is not allowed: w must be a C-contiguous float64"):
            engine.advance(a, bad, b, engine.Dynamics(x, y, 3.0, 0.05), n_steps=1, record_offsets=[1])


@njit
def _vector_tanh_of(values, out):
    for i in range(values.size):
        out[i] = vector_tanh(values[i])


def test_the_vectorised_tanh_is_within_4_ulp_of_numpy():
    rng = np.random.default_rng(0)
    tiny = np.geomspace(1e-300, 1.0, 20_000)
    values = np.concatenate([np.linspace(-25.0, 25.0, 400_001), rng.normal(0.0, 3.0, 200_000), tiny, -tiny,
                             [0.0, -0.0, 19.0, 19.07, 40.0, 1e300, -1e300]])  # fmt: skip
    ours = np.empty_like(values)
    _vector_tanh_of(values, ours)
    expected = np.tanh(values)
    ulps = np.abs(ours - expected) / np.spacing(np.abs(expected))
    assert ulps.max() <= 4 and ulps.mean() < 1.0
    assert np.array_equal(np.signbit(ours[values != 0]), np.signbit(values[values != 0]))


def test_multiplicities_are_the_order_of_the_first_nonzero_derivative_at_zero():
    """σ(h) ~ c·h^p as h → 0 with c ≠ 0 (from the right: ReLU and leaky ReLU have a kink at 0)."""
    h = np.array([1e-2, 1e-3])
    for activation in activations.ACTIVATIONS.values():
        p = activation.multiplicity
        ratio = activation.value(h) / h**p
        assert abs(ratio[1]) > 0.5 and abs(ratio[1] - ratio[0]) < 0.05 * abs(ratio[1]), activation.name
        assert abs(activation.value(h[1:]) / h[1:] ** (p - 1))[0] < 0.01 or p == 1
    assert [a.multiplicity for a in activations.ACTIVATIONS.values()] == [1, 1, 1, 2, 3]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_derivatives_are_those_of_the_values(activation):
    sigma = activations.get(activation)
    z = np.linspace(-3.0, 3.0, 601)
    z = z[np.abs(z) > 1e-3]
    numeric = (sigma.value(z + 1e-6) - sigma.value(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(sigma.derivative(z), numeric, rtol=1e-7, atol=1e-9)
