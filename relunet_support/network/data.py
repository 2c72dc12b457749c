"""Named 1-D data sets and validation of user data.

- ``"seed"``: x = (−1/2, −1/6, 1/6, 1/2), y = (1/4, 1/30, 1/30, 1/4) (the seed notebook; the points
  lie on the V shape y = (13/20)|x| − 3/40).
- ``"luo2021"``: the same x with y = x² (Luo et al. 2021, Figs. 2–4).
- ``"custom"``: arrays given by the user.
"""

from __future__ import annotations

import numpy as np

from relunet_support.errors import invalid

_SEED_X = (-1 / 2, -1 / 6, 1 / 6, 1 / 2)

DATASETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "seed": (_SEED_X, (1 / 4, 1 / 30, 1 / 30, 1 / 4)),
    "luo2021": (_SEED_X, tuple(x * x for x in _SEED_X)),
}
CUSTOM = "custom"


def validate_arrays(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) as finite float64 vectors of equal, non-zero length, or raise ConfigError."""
    x_arr = np.asarray(x, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    if x_arr.ndim != 1 or x_arr.size == 0:
        raise invalid("x", x, "a non-empty 1-D sequence of numbers")
    if y_arr.ndim != 1 or y_arr.size == 0:
        raise invalid("y", y, "a non-empty 1-D sequence of numbers")
    if x_arr.size != y_arr.size:
        raise invalid("y", y, f"of the same length as x ({x_arr.size} points), not {y_arr.size}")
    if not np.all(np.isfinite(x_arr)):
        raise invalid("x", x, "finite numbers")
    if not np.all(np.isfinite(y_arr)):
        raise invalid("y", y, "finite numbers")
    return x_arr, y_arr


def load(dataset: str = "seed", x=None, y=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the (x, y) arrays of a named data set, or of user arrays when dataset == "custom"."""
    allowed = ", ".join(repr(name) for name in [*DATASETS, CUSTOM])
    if dataset == CUSTOM:
        if x is None or y is None:
            raise invalid("x", x, "given together with y when dataset='custom'")
        return validate_arrays(x, y)
    if dataset not in DATASETS:
        raise invalid("dataset", dataset, f"one of {allowed}")
    if x is not None or y is not None:
        raise invalid("dataset", dataset, "'custom' when x and y are given")
    return validate_arrays(*DATASETS[dataset])
