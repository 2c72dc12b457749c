"""Condensation by direction in any dimension: planted lines are found, random directions are not."""

import numpy as np
import pytest

from relunet_support.analysis import directions
from relunet_support.errors import ConfigError


def planted(lines_, per_line: int, d: int, noise: float, seed: int = 0, signs: bool = True):
    """Neurons on ``lines_`` random lines through the origin of ℝ^(d+1) (each neuron on ±u with a random sign
    when ``signs``), directions perturbed by ``noise``; plus 20 light neurons in random directions."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(lines_, d + 1))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    rows, amplitudes = [], []
    for axis in axes:
        for _ in range(per_line):
            sign = rng.choice([-1.0, 1.0]) if signs else 1.0
            rows.append(sign * axis * rng.uniform(1, 2) + rng.normal(0, noise, d + 1))
            amplitudes.append(rng.uniform(1, 2))
    for _ in range(20):
        rows.append(rng.normal(size=d + 1) * 1e-3)
        amplitudes.append(1e-3)
    rows = np.array(rows)
    w, b = rows[:, :d], rows[:, d]
    a = np.array(amplitudes) / np.linalg.norm(rows, axis=1)
    return a, (w[:, 0] if d == 1 else w), b, axes


@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_planted_lines_are_found_with_their_directions(d, count):
    a, w, b, axes = planted(count, per_line=15, d=d, noise=0.01, seed=d * 10 + count)
    found = directions.lines(a, w, b)
    assert len(found) == count
    assert {int(j) for line in found for j in line.members} <= set(range(15 * count))  # no light neuron
    assert all(line.size >= 10 for line in found)  # the heavy neurons carry 90 %: most of each line's 15
    for line in found:
        assert max(abs(line.direction @ axis) for axis in axes) > 0.999
        on_axis = {int(j) // 15 for j in line.members}
        assert len(on_axis) == 1  # one planted line each
    assert sum(line.weight for line in found) == pytest.approx(1.0, abs=0.02)


def test_random_directions_make_no_line():
    rng = np.random.default_rng(4)
    for d in (2, 5):
        found = directions.lines(rng.normal(size=60), rng.normal(size=(60, d)), rng.normal(size=60))
        assert found == []


def test_two_directions_of_one_line_count_once_and_orthogonal_ones_twice():
    w = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b = np.zeros(5)
    a = np.ones(5)
    found = directions.lines(a, w, b, min_size=2, significance=0, false_rate=0.5)  # the signs, not the statistics
    assert [line.size for line in found] == [3, 2]
    similarity = directions.cosine_similarity(w, b)
    assert similarity[0, 1] == -1.0 and similarity[0, 3] == 0.0 and np.allclose(np.diag(similarity), 1.0)


def test_thresholds_are_checked_and_a_silent_network_has_no_line():
    with pytest.raises(ConfigError, match="alignment=1.5 is not allowed"):
        directions.lines(np.ones(3), np.ones((3, 2)), np.ones(3), alignment=1.5)
    with pytest.raises(ConfigError, match="mass=0 is not allowed"):
        directions.lines(np.ones(3), np.ones((3, 2)), np.ones(3), mass=0)
    assert directions.lines(np.zeros(3), np.ones((3, 2)), np.ones(3)) == []


def test_a_line_a_little_wider_than_the_alignment_is_one_line():
    """Directions spread over 0.15 rad (|cos| down to 0.989 < 0.99): the greedy pass from the heaviest (at one edge)
    leaves the far edge as a second group; its direction is within 0.99 of the first's, so they are one line."""
    angles = np.linspace(0.0, 0.15, 100)
    w = np.column_stack([np.cos(angles), np.sin(angles)]) * np.where(np.arange(100) % 2, 1.0, -1.0)[:, None]
    b = np.zeros(100)
    a = np.ones(100)
    a[0] = 3.0  # the heaviest sits at the edge
    found = directions.lines(a, w, b, mass=1.0)
    assert len(found) == 1 and found[0].size == 100
    assert abs(found[0].direction @ [np.cos(0.075), np.sin(0.075), 0.0]) > 0.999


def test_lines_take_tiny_huge_and_broken_neurons():
    rng = np.random.default_rng(1)
    line = np.array([0.6, 0.0, 0.8])
    rows = np.sign(rng.normal(size=(40, 1))) * line + 1e-4 * rng.normal(size=(40, 3))
    rows = np.vstack([rows, rng.normal(size=(10, 3))])
    for scale in (1e300, 1e-320, 1.0):
        found = directions.lines(np.ones(50), scale * rows[:, :2], scale * rows[:, 2], mass=1.0)
        assert len(found) == 1 and found[0].size == 40, scale
    broken = rows.copy()
    broken[45] = np.nan
    a = np.ones(50)
    a[44] = np.inf
    for weighting in ("amplitude", "neurons"):
        found = directions.lines(a, broken[:, :2], broken[:, 2], mass=1.0, weighting=weighting)
        assert len(found) == 1 and found[0].size == 40, weighting
    for bad in ({"min_size": 0}, {"significance": -1.0}, {"significance": float("nan")}, {"false_rate": 0}):
        with pytest.raises(ConfigError):
            directions.lines(a, rows[:, :2], rows[:, 2], **bad)
    with pytest.raises(ConfigError, match="a="):
        directions.lines(np.ones(3), rows[:, :2], rows[:, 2], weighting="neurons")
    assert directions.lines(np.ones(0), np.ones((0, 2)), np.ones(0)) == []


def test_a_close_pair_among_few_random_neurons_is_not_a_line():
    """20 random directions in d = 3 hold a pair within |cos| 0.99 about one draw in four: never a line."""
    rng = np.random.default_rng(0)
    paired = 0
    for _ in range(200):
        w, b = rng.normal(size=(20, 3)), rng.normal(size=20)
        unit, _ = directions.unit_directions(w, b)
        close = np.abs(unit @ unit.T) >= 0.99
        np.fill_diagonal(close, False)
        paired += bool(close.any())
        assert directions.lines(np.ones(20), w, b, mass=1.0, weighting="neurons") == []
    assert paired > 20  # the case arose
