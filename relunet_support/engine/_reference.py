"""The numpy reference stepper: θ ← θ − η ∇R(θ) with the gradients of ``model.py``, one Python step at a time."""

from __future__ import annotations

import numpy as np

from .. import model
from ..exact import extremes_exact
from ._kernels import STATUS_DEAD, STATUS_DIVERGED, STATUS_OK


def _step(a, w, b, x, y, alpha, learning_rate):
    grad_a, grad_w, grad_b = model.gradients(a, w, b, x, y, alpha)
    a -= learning_rate * grad_a
    w -= learning_rate * grad_w
    b -= learning_rate * grad_b


def _active_pairs(w, b, x) -> int:
    return int(np.count_nonzero(np.outer(x, w) + b > 0))


def descend_plain(a, w, b, x, y, alpha, learning_rate, n_steps):
    for _ in range(n_steps):
        _step(a, w, b, x, y, alpha, learning_rate)


def advance(
    a,
    w,
    b,
    x,
    y,
    alpha,
    learning_rate,
    n_steps,
    record_offsets,
    record_risk,
    record_f_min,
    record_f_max,
    lo,
    hi,
    record_rd_w,
    record_rd_a,
    initial=None,
):
    """Same contract as the generated kernels' ``advance``."""
    active = _active_pairs(w, b, x)
    if active == 0:
        return 0, 0, STATUS_DEAD, active
    written = 0
    for step in range(1, n_steps + 1):
        _step(a, w, b, x, y, alpha, learning_rate)
        risk = model.risk(a, w, b, x, y, alpha)
        finite = np.isfinite(risk) and np.all(np.isfinite(a)) and np.all(np.isfinite(w)) and np.all(np.isfinite(b))
        active = _active_pairs(w, b, x)
        if not finite:
            return step, written, STATUS_DIVERGED, active
        if written < record_offsets.size and record_offsets[written] == step:
            record_risk[written] = risk
            record_f_min[written], record_f_max[written] = extremes_exact(a, w, b, 1.0 / alpha, lo, hi)
            if initial is not None:
                a0, w0, b0 = initial
                record_rd_w[written] = model.relative_distance((w, b), (w0, b0))
                record_rd_a[written] = model.relative_distance(a, a0)
            written += 1
        if active == 0:
            return step, written, STATUS_DEAD, active
    return n_steps, written, STATUS_OK, active
