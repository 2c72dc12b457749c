"""The record schedule: log-spaced and uniform steps, or every k-th step when asked."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.schedule import steps_schedule

ROOT = Path(__file__).resolve().parent.parent


# ----- the record schedule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_steps", "n_points"), [(200_000, 1000), (3000, 300), (10**7, 10_000)])
def test_the_record_schedule_is_log_spaced_steps_and_uniform_steps(n_steps, n_points):
    """User guide: records at log-spaced ∪ uniform steps, sorted, each once, from step 0 to the last step."""
    config = TrainConfig(m=2, learning_rate=1.0, n_steps=n_steps, n_records=n_points, n_snapshots=2)
    for steps in (steps_schedule(n_steps, n_points), config.record_steps()):  # the runs' records: with 2 snapshots
        assert steps[0] == 0 and steps[-1] == n_steps and np.all(np.diff(steps) > 0)  # sorted, unique
        assert n_points / 2 < steps.size <= n_points + 3
        # log-spaced: about (n_points/2)/log10(n_steps) steps in every decade, the first steps all there
        per_decade = n_points / 2 / math.log10(n_steps)
        assert set(range(1, 10)) <= set(steps.tolist())
        for decade in range(2, int(math.log10(n_steps))):
            inside = np.count_nonzero((steps >= 10**decade) & (steps < 10 ** (decade + 1)))
            assert inside >= 0.8 * min(per_decade, 9 * 10**decade), (decade, inside)
        # uniform: no gap anywhere wider than an even spacing of n_points/2 points (log spacing alone leaves
        # gaps of several percent of n_steps at the end)
        assert np.diff(steps).max() <= n_steps / (n_points / 2 - 1) + 1
        late = steps[steps > n_steps / 2]
        assert late.size >= 0.9 * (n_points / 4)  # the uniform half's share of the second half of the run


def test_the_schedule_takes_every_step_or_every_kth_when_asked():
    np.testing.assert_array_equal(steps_schedule(50, 100), np.arange(51))
    np.testing.assert_array_equal(steps_schedule(95, 10, every=10), [*range(0, 91, 10), 95])
