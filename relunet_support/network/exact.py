"""The exact extremes of f over an interval, compiled: what the engines record while training and
``diagnostics.extremes`` computes afterwards. A leaf that imports numba (so analysis that never asks for
extremes, e.g. notebook 04 reading finished runs, does not import it)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def extremes_exact(a, w, b, inv_alpha, lo, hi):
    """Exact (min, max) of f(x) = (1/α) Σ_j a_j (w_j x + b_j)_+ over [lo, hi].

    f is continuous and piecewise linear with kinks at −b_j/w_j, so its extremes over the interval
    are attained at lo, hi or a kink inside. Write f = (A x + B)/α on each piece, with
    A = Σ_active a_j w_j and B = Σ_active a_j b_j; walking the sorted kinks from left to right,
    neuron j switches on (w_j > 0) or off (w_j < 0) at its kink.
    """
    m = a.size
    mid = 0.5 * (lo + hi)
    kink_pos = np.empty(m)
    kink_idx = np.empty(m, dtype=np.int64)
    n_inside = 0
    slope = 0.0
    intercept = 0.0
    for j in range(m):
        wj = w[j]
        inside = False
        if wj != 0.0:
            kink = -b[j] / wj
            if kink > lo and kink < hi:
                inside = True
                kink_pos[n_inside] = kink
                kink_idx[n_inside] = j
                n_inside += 1
                if wj < 0.0:  # active left of its kink
                    slope += a[j] * wj
                    intercept += a[j] * b[j]
        if not inside and wj * mid + b[j] > 0.0:  # one sign on the whole interval
            slope += a[j] * wj
            intercept += a[j] * b[j]
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
            if w[j] > 0.0:
                slope += a[j] * w[j]
                intercept += a[j] * b[j]
            else:
                slope -= a[j] * w[j]
                intercept -= a[j] * b[j]
    f_hi = (slope * hi + intercept) * inv_alpha
    f_min = min(f_min, f_hi)
    f_max = max(f_max, f_hi)
    return f_min, f_max
