"""Initial condensation (notebook 06): the data, the end of the initial stage, the lines against the theory."""

import numpy as np
import pytest

from relunet_support import engine
from relunet_support.analysis import directions
from relunet_support.analysis import initial_condensation as initial
from relunet_support.errors import ConfigError
from relunet_support.network import model
from relunet_support.network.init import initial_parameters


def test_zhou_data_is_their_target_on_the_cube():
    x, y = initial.zhou_data(n=80, d=5, seed=0)
    assert x.shape == (80, 5) and y.shape == (80,)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    np.testing.assert_allclose(y, [sum(3.5 * np.sin(5 * v + 1) for v in row) for row in x], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(initial.zhou_data(seed=0)[0], x)
    assert not np.array_equal(initial.zhou_data(seed=1)[0], x)
    with pytest.raises(ConfigError, match="d=0"):
        initial.zhou_data(d=0)


def test_the_stage_ends_at_the_last_step_with_less_than_the_fraction_fitted():
    x, y = initial.zhou_data(n=20, d=3)
    a, w, b = initial_parameters(30, 0.3, 1e-4, "gaussian", 0, dimension=3)
    (a_end, w_end, b_end), steps = initial.end_of_initial_stage(a, w, b, x, y, "tanh", 1e-4, fraction=0.01)
    r0 = model.risk(a, w, b, x, y, 1.0, activation="tanh")
    assert steps is not None and steps > 60  # chunks of steps // 50 > 1 were taken
    # step by step from the start: the same state, the risk above 0.99·R(0) there and not one step later
    state = engine.descend(a, w, b, engine.Dynamics(x, y, 1.0, 1e-4, activation="tanh"), steps)
    for got, expected in zip((a_end, w_end, b_end), state):
        np.testing.assert_array_equal(got, expected)
    assert model.risk(*state, x, y, 1.0, activation="tanh") > 0.99 * r0
    after = engine.descend(*state, engine.Dynamics(x, y, 1.0, 1e-4, activation="tanh"), 1)
    assert model.risk(*after, x, y, 1.0, activation="tanh") <= 0.99 * r0
    _, never = initial.end_of_initial_stage(a, w, b, x, y, "tanh", 1e-12, max_steps=100)
    assert never is None
    with pytest.raises(ConfigError, match="fraction=1.5"):
        initial.end_of_initial_stage(a, w, b, x, y, "tanh", 1e-4, fraction=1.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_tanh_condenses_on_one_line_along_g(seed):
    """p = 1: every direction moves along ±g = ±(1/n) Σ y_i x̃_i; one line holds nearly all neurons."""
    x, y = initial.zhou_data()
    stage = initial.run_initial_stage(x, y, "tanh", m=60, beta1=0.3, beta2=1e-5, seed=seed)
    assert stage.steps >= 300 and stage.multiplicity == 1
    assert len(stage.lines) == 1 and stage.lines[0].size >= 50
    assert abs(stage.lines[0].direction @ initial.linear_direction(x, y)) > 0.999
    assert stage.final_risk > 0.99 * stage.initial_risk


def test_xtanh_lines_are_eigenvectors_of_the_moment_matrix():
    """p = 2: dω/dt = 2a M ω turns neurons to M's extreme eigenvectors; at most 2 lines."""
    x, y = initial.zhou_data()
    top, bottom = initial.quadratic_directions(x, y)
    moment = np.column_stack([x, np.ones(len(y))]).T @ (np.column_stack([x, np.ones(len(y))]) * y[:, None]) / len(y)
    np.testing.assert_allclose(moment @ top, (top @ moment @ top) * top, atol=1e-12)
    assert top @ moment @ top > bottom @ moment @ bottom
    stage = initial.run_initial_stage(x, y, "xtanh", m=100, beta1=0.3, beta2=1e-5, seed=0)
    assert stage.multiplicity == 2 and 1 <= len(stage.lines) <= 2
    assert max(abs(stage.lines[0].direction @ v) for v in (top, bottom)) > 0.99


def test_random_directions_make_no_line_and_weighting_is_checked():
    a, w, b = initial_parameters(200, 1.0, 1.0, "gaussian", 3, dimension=5)
    assert directions.lines(a, w, b, mass=1.0, weighting="neurons") == []
    with pytest.raises(ConfigError, match="weighting='mass'"):
        directions.lines(a, w, b, weighting="mass")


def test_line_order_groups_each_line_by_side():
    rng = np.random.default_rng(0)
    direction = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    signs = np.where(rng.random(30) < 0.5, -1.0, 1.0)
    rows = np.vstack([signs[:, None] * direction + 1e-4 * rng.normal(size=(30, 3)), rng.normal(size=(20, 3))])
    order_source = rng.permutation(50)
    rows = rows[order_source]
    w, b = rows[:, :2], rows[:, 2]
    found = directions.lines(np.ones(50), w, b, mass=1.0, weighting="neurons")
    assert len(found) == 1 and found[0].size == 30
    order = initial.line_order(found, w, b)
    assert sorted(order) == list(range(50))
    side = np.sign(rows[order[:30]] @ found[0].direction)
    assert set(order[:30]) == set(found[0].members)
    assert np.all(np.diff(side) <= 0)  # those along the line first, then the opposite ones
    with pytest.raises(ConfigError, match="beta2=0"):
        initial.run_initial_stage(*initial.zhou_data(), "tanh", m=10, beta1=0.3, beta2=0, seed=0)


def test_wider_networks_need_a_smaller_beta2_for_one_tanh_line():
    """06: the line forms while m·β₁β₂ ≪ 0.01; at m = 1000, β₂ = 10⁻⁵ leaves part of the neurons off the line
    when the stage ends, β₂ = 10⁻⁶ puts nearly all on it."""
    x, y = initial.zhou_data()
    loose = initial.run_initial_stage(x, y, "tanh", m=1000, beta1=0.3, beta2=1e-5, seed=0)
    tight = initial.run_initial_stage(x, y, "tanh", m=1000, beta1=0.3, beta2=1e-6, seed=0)
    assert loose.lines[0].size < 600
    assert len(tight.lines) == 1 and tight.lines[0].size > 900


@pytest.mark.parametrize(
    "change, named",
    [
        ({"m": 0}, "m=0"),
        ({"m": 2.5}, "m=2.5"),
        ({"seed": -1}, "seed=-1"),
        ({"beta1": 1e300}, r"\(beta1, beta2\)="),
        ({"x": [[0.0, np.nan]] * 4}, "x="),
        ({"y": [1.0, 2.0]}, "y="),
    ],
)
def test_run_initial_stage_names_a_bad_value(change, named):
    values = {"x": [[0.1, 0.2]] * 4, "y": [1.0, 0.5, 0.2, 0.1], "m": 4, "beta1": 0.3, "beta2": 1e-3, "seed": 0}
    values.update(change)
    x, y = values.pop("x"), values.pop("y")
    with pytest.raises(ConfigError, match=named):
        initial.run_initial_stage(x, y, "tanh", **values)


def test_the_odd_data_make_m_indefinite_and_xtanh_forms_two_lines():
    """Points mirrored through the origin, odd target: M = [[0, g], [gᵀ, 0]], eigenvalues ±‖g‖; x·tanh x
    condenses on two lines, one along each extreme eigenvector (Zhou et al.'s target: M < 0, one line)."""
    x, y = initial.odd_data(n=80, d=5, seed=0)
    np.testing.assert_array_equal(x[40:], -x[:40])
    np.testing.assert_allclose(y[40:], -y[:40], rtol=1e-12)
    g = x.T @ y / len(y)
    spectrum = initial.quadratic_spectrum(x, y)
    assert spectrum[-1] == pytest.approx(np.linalg.norm(g)) and spectrum[0] == pytest.approx(-np.linalg.norm(g))
    assert initial.quadratic_spectrum(*initial.zhou_data())[-1] < 0  # negative definite: one p = 2 line there
    top, bottom = initial.quadratic_directions(x, y)
    stage = initial.run_initial_stage(x, y, "xtanh", m=100, beta1=0.3, beta2=1e-5, seed=0)
    assert len(stage.lines) == 2
    along = sorted(max(abs(line.direction @ top), abs(line.direction @ bottom)) for line in stage.lines)
    assert along[0] > 0.99 and abs(stage.lines[0].direction @ stage.lines[1].direction) < 0.1  # two distinct lines
    tanh = initial.run_initial_stage(x, y, "tanh", m=100, beta1=0.3, beta2=1e-5, seed=0)
    assert len(tanh.lines) == 1  # p = 1: one line along (g, 0)
    with pytest.raises(ConfigError, match="n=81"):
        initial.odd_data(n=81)
