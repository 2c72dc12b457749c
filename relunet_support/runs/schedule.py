"""Which steps get recorded: the union of log-spaced and uniform steps, first and last always kept."""

from __future__ import annotations

import numpy as np


def steps_schedule(n_steps: int, n_points: int, every: int | None = None) -> np.ndarray:
    """Sorted unique steps in [0, n_steps], always containing 0 and n_steps.

    With ``every`` set: 0, every, 2·every, … plus n_steps. Otherwise about ``n_points`` steps: half
    log-spaced from 1 to n_steps (early dynamics), half uniform (for linear time axes); all steps
    when n_points ≥ n_steps + 1.
    """
    if every is not None:
        steps = np.arange(0, n_steps + 1, every, dtype=np.int64)
    elif n_points >= n_steps + 1:
        steps = np.arange(0, n_steps + 1, dtype=np.int64)
    else:
        n_log = n_points // 2
        log_part = np.rint(np.geomspace(1, n_steps, max(n_log, 1)))
        uniform_part = np.rint(np.linspace(0, n_steps, max(n_points - n_log, 2)))
        steps = np.concatenate((log_part, uniform_part)).astype(np.int64)
    return np.union1d(steps, np.array([0, n_steps], dtype=np.int64))
