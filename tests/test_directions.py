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
    found = directions.lines(a, w, b, min_size=2)
    assert [line.size for line in found] == [3, 2]
    similarity = directions.cosine_similarity(w, b)
    assert similarity[0, 1] == -1.0 and similarity[0, 3] == 0.0 and np.allclose(np.diag(similarity), 1.0)


def test_thresholds_are_checked_and_a_silent_network_has_no_line():
    with pytest.raises(ConfigError, match="alignment=1.5 is not allowed"):
        directions.lines(np.ones(3), np.ones((3, 2)), np.ones(3), alignment=1.5)
    with pytest.raises(ConfigError, match="mass=0 is not allowed"):
        directions.lines(np.ones(3), np.ones((3, 2)), np.ones(3), mass=0)
    assert directions.lines(np.zeros(3), np.ones((3, 2)), np.ones(3)) == []
