"""Which steps get recorded: the union of log-spaced and uniform steps, first and last always kept."""

from __future__ import annotations

import numpy as np

from relunet_support.errors import invalid


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


def check_points(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise invalid(name, value, "an integer ≥ 2 (first and last steps are always kept)")
    return int(value)


def check_every(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid(name, value, "None or a positive integer number of steps")
    return int(value)
