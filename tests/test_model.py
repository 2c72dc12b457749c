import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relunet_support.network import model

from .conftest import network


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12))
def test_gradients_match_central_differences(seed, m):
    rng = np.random.default_rng(seed)
    a, w, b = rng.normal(size=(3, m))
    x = rng.uniform(-1, 1, 5)
    y = rng.normal(size=5)
    alpha = 1.7
    analytic = model.gradients(a, w, b, x, y, alpha)
    numeric = model.central_differences(a, w, b, x, y, alpha)
    for g_analytic, g_numeric in zip(analytic, numeric):
        # kinks within h of a data point make the risk non-differentiable there: skip those neurons
        pre = np.abs(np.outer(x, w) + b).min(axis=0)
        smooth = pre > 1e-4
        np.testing.assert_allclose(g_analytic[smooth], g_numeric[smooth], rtol=1e-5, atol=1e-8)


def test_gradients_are_not_trivially_zero(seed_data):
    alpha, a, w, b = network(m=20, kind="gaussian")
    grads = model.gradients(a, w, b, *seed_data, alpha)
    assert all(np.abs(g).max() > 0 for g in grads)


def test_ensemble_axis_matches_members(seed_data):
    x, y = seed_data
    rng = np.random.default_rng(3)
    a, w, b = rng.normal(size=(3, 4, 30))
    f = model.forward(a, w, b, x, 2.0)
    r = model.risk(a, w, b, x, y, 2.0)
    g = model.gradients(a, w, b, x, y, 2.0)
    assert f.shape == (4, x.size) and r.shape == (4,)
    for s in range(4):
        np.testing.assert_array_equal(f[s], model.forward(a[s], w[s], b[s], x, 2.0))
        assert r[s] == model.risk(a[s], w[s], b[s], x, y, 2.0)
        for k in range(3):
            np.testing.assert_allclose(g[k][s], model.gradients(a[s], w[s], b[s], x, y, 2.0)[k], rtol=1e-15)


def test_forward_formula():
    a, w, b = np.array([2.0, -1.0]), np.array([1.0, -2.0]), np.array([0.0, 1.0])
    x = np.array([-1.0, 0.25, 1.0])
    # f(x) = (2·relu(x) − relu(−2x + 1)) / 4
    expected = (2 * np.maximum(x, 0) - np.maximum(-2 * x + 1, 0)) / 4
    np.testing.assert_allclose(model.forward(a, w, b, x, 4.0), expected, rtol=1e-15)
    assert model.risk(a, w, b, x, expected + 1.0, 4.0) == pytest.approx(0.5)
