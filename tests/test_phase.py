import numpy as np
import pytest

from relunet_support.analysis import phase


def test_final_relative_distance_follows_the_regimes():
    linear = [phase.final_relative_distance(0.5, 0.0, m, tol=1e-4) for m in (50, 400)]
    condensed = [phase.final_relative_distance(1.75, 0.0, m, tol=1e-4) for m in (50, 400)]
    assert linear[1] < linear[0] < 0.1  # RD → 0 with m in the linear regime
    assert condensed[1] > condensed[0] > 1.0  # RD grows with m in the condensed regime
    assert phase.final_relative_distance(0.5, 0.0, 50, tol=1e-4) == linear[0]  # deterministic for a seed
    assert phase.final_relative_distance(0.5, 0.0, 50, seed=1, tol=1e-4) != linear[0]


def test_theory_and_crossings():
    assert phase.theory_slope(0.5, 0.0) == -0.5 and phase.theory_slope(1.75, 0.0) == 0.375
    assert phase.theory_slope(1.5, 0.8) == pytest.approx(-0.3)
    assert phase.theory_crossing(-0.3) == 1.0 and phase.theory_crossing(0.4) == pytest.approx(1.4)
    assert phase.zero_crossing([0.5, 1.0, 1.5], [-0.5, -0.1, 0.3]) == pytest.approx(1.125)
    assert np.isnan(phase.zero_crossing([0.5, 1.0], [0.2, 0.3]))
