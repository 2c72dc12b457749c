"""The extremes of f over an interval, compiled: what the engines record while training and
``diagnostics.extremes`` computes afterwards. A leaf that imports numba (so analysis that never asks for
extremes, e.g. notebook 04 reading finished runs, does not import it).

- ReLU and leaky ReLU (1-D input): f is piecewise linear, its extremes are exact (``extremes_exact``).
- tanh, x·tanh x, x²·tanh x (1-D input): ``extremes_smooth`` — f on a grid of ``SMOOTH_GRID`` points, each grid
  extremum refined by golden-section search in its two neighbouring cells. Every value returned is a value
  f attains, and it is at least the grid's, so the error is at most M₂h²/8 (h the grid step,
  M₂ = (1/α) Σ_j |a_j| w_j² sup|σ''| ≥ max |f''|: f' = 0 at an interior extremum, and the nearest grid point is
  within h/2); where an extremum is alone in its two cells the search finds it to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from relunet_support.network.activations import LEAKY_SLOPE, SMOOTH_GRID, SMOOTH_KINDS
from relunet_support.numba_cache import guard_numba_cache

guard_numba_cache()  # before the cached functions below are defined


def extremes(a, w, b, inv_alpha: float, lo: float, hi: float, activation: str = "relu") -> tuple[float, float]:
    """(min f, max f) over [lo, hi] of one network of a 1-D input (float64 arrays a, w, b of shape (m,)):
    ``extremes_exact`` for ReLU and leaky ReLU, ``extremes_smooth`` for the tanh family; (NaN, NaN) when a
    parameter is not finite (the kink walk would skip such a neuron)."""
    if not (np.isfinite(a).all() and np.isfinite(w).all() and np.isfinite(b).all()):
        return np.nan, np.nan
    if activation in SMOOTH_KINDS:
        return extremes_smooth(a, w, b, inv_alpha, lo, hi, SMOOTH_KINDS[activation], SMOOTH_GRID)
    return extremes_exact(a, w, b, inv_alpha, lo, hi, LEAKY_SLOPE if activation == "leaky_relu" else 0.0)


@njit(cache=True)
def extremes_exact(a, w, b, inv_alpha, lo, hi, leak=0.0):
    """Exact (min, max) of f(x) = (1/α) Σ_j a_j σ(w_j x + b_j) over [lo, hi], σ(z) = max(z, 0) + leak·min(z, 0)
    (ReLU: leak = 0; leaky ReLU: its slope λ).

    σ(z) = leak·z + (1 − leak)·z₊, so f is continuous and piecewise linear with kinks at −b_j/w_j, and its
    extremes over the interval are attained at lo, hi or a kink inside. Write f = (A x + B)/α on each
    piece, with A = leak·Σ_j a_j w_j + (1 − leak)·Σ_active a_j w_j and B likewise with b_j; walking the
    sorted kinks from left to right, neuron j switches on (w_j > 0) or off (w_j < 0) at its kink.
    """
    m = a.size
    mid = 0.5 * (lo + hi)
    kink_pos = np.empty(m)
    kink_idx = np.empty(m, dtype=np.int64)
    n_inside = 0
    slope = 0.0
    intercept = 0.0
    on = 1.0 - leak
    if leak != 0.0:
        for j in range(m):
            slope += leak * a[j] * w[j]
            intercept += leak * a[j] * b[j]
    for j in range(m):
        wj = w[j]
        aj = a[j] * on
        inside = False
        if wj != 0.0:
            kink = -b[j] / wj
            if kink > lo and kink < hi:
                inside = True
                kink_pos[n_inside] = kink
                kink_idx[n_inside] = j
                n_inside += 1
                if wj < 0.0:  # active left of its kink
                    slope += aj * wj
                    intercept += aj * b[j]
        if not inside and wj * mid + b[j] > 0.0:  # one sign on the whole interval
            slope += aj * wj
            intercept += aj * b[j]
    f_lo = (slope * lo + intercept) * inv_alpha
    f_min = f_lo
    f_max = f_lo
    if n_inside > 0:
        order = np.argsort(kink_pos[:n_inside])
        for t in range(n_inside):
            j = kink_idx[order[t]]
            kink = kink_pos[order[t]]
            value = (slope * kink + intercept) * inv_alpha
            f_min = min(f_min, value)
            f_max = max(f_max, value)
            aj = a[j] * on
            if w[j] > 0.0:
                slope += aj * w[j]
                intercept += aj * b[j]
            else:
                slope -= aj * w[j]
                intercept -= aj * b[j]
    f_hi = (slope * hi + intercept) * inv_alpha
    f_min = min(f_min, f_hi)
    f_max = max(f_max, f_hi)
    return f_min, f_max


@njit(cache=True)
def smooth_value(a, w, b, inv_alpha, x, kind):
    """f(x) = (1/α) Σ_j a_j σ(w_j x + b_j) at one point for σ = tanh (kind 1), z·tanh z (2), z²·tanh z (3)."""
    total = 0.0
    for j in range(a.size):
        z = w[j] * x + b[j]
        t = np.tanh(z)
        if kind == 1:
            total += a[j] * t
        elif kind == 2:
            total += a[j] * z * t
        else:
            total += a[j] * z * z * t
    return total * inv_alpha


@njit(cache=True)
def _golden(a, w, b, inv_alpha, left, right, kind, sign):
    """The largest value of sign·f found by golden-section search on [left, right] (60 shrinks by 0.618)."""
    ratio = 0.6180339887498949
    x1 = right - ratio * (right - left)
    x2 = left + ratio * (right - left)
    f1 = sign * smooth_value(a, w, b, inv_alpha, x1, kind)
    f2 = sign * smooth_value(a, w, b, inv_alpha, x2, kind)
    for _ in range(60):
        if f1 >= f2:
            right, x2, f2 = x2, x1, f1
            x1 = right - ratio * (right - left)
            f1 = sign * smooth_value(a, w, b, inv_alpha, x1, kind)
        else:
            left, x1, f1 = x1, x2, f2
            x2 = left + ratio * (right - left)
            f2 = sign * smooth_value(a, w, b, inv_alpha, x2, kind)
    return max(f1, f2)


@njit(cache=True)
def extremes_smooth(a, w, b, inv_alpha, lo, hi, kind, points=513):
    """(min, max) of f over [lo, hi] for a smooth σ (``kind`` as in ``smooth_value``): the grid of ``points``
    points, each grid-local extremum refined by golden-section search over its two neighbouring cells
    (error at most M₂h²/8, see the module's docstring)."""
    grid = np.linspace(lo, hi, points)
    values = np.empty(points)
    for k in range(points):
        values[k] = smooth_value(a, w, b, inv_alpha, grid[k], kind)
    f_min = values.min()
    f_max = values.max()
    # an end point above (below) its neighbour may hide a peak (dip) inside the first (last) cell
    if values[0] >= values[1]:
        f_max = max(f_max, _golden(a, w, b, inv_alpha, grid[0], grid[1], kind, 1.0))
    if values[0] <= values[1]:
        f_min = min(f_min, -_golden(a, w, b, inv_alpha, grid[0], grid[1], kind, -1.0))
    if values[points - 1] >= values[points - 2]:
        f_max = max(f_max, _golden(a, w, b, inv_alpha, grid[points - 2], grid[points - 1], kind, 1.0))
    if values[points - 1] <= values[points - 2]:
        f_min = min(f_min, -_golden(a, w, b, inv_alpha, grid[points - 2], grid[points - 1], kind, -1.0))
    for k in range(1, points - 1):
        if values[k] >= values[k - 1] and values[k] >= values[k + 1] and values[k] > min(values[k - 1], values[k + 1]):
            f_max = max(f_max, _golden(a, w, b, inv_alpha, grid[k - 1], grid[k + 1], kind, 1.0))
        if values[k] <= values[k - 1] and values[k] <= values[k + 1] and values[k] < max(values[k - 1], values[k + 1]):
            f_min = min(f_min, -_golden(a, w, b, inv_alpha, grid[k - 1], grid[k + 1], kind, -1.0))
    return f_min, f_max
