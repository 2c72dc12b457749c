"""The numpy reference stepper: θ ← θ − η ∇R(θ) with the gradients of ``model.py``, one Python step at a time."""

from __future__ import annotations

import numpy as np

from relunet_support.engine._kernels import STATUS_DEAD, STATUS_DIVERGED, STATUS_OK
from relunet_support.network import exact, model


def _step(a, w, b, dynamics):
    """θ ← θ − η ∇R(θ), in place."""
    grad_a, grad_w, grad_b = model.gradients(a, w, b, dynamics.x, dynamics.y, dynamics.alpha, dynamics.activation)
    a -= dynamics.learning_rate * grad_a
    w -= dynamics.learning_rate * grad_w
    b -= dynamics.learning_rate * grad_b


def _active_pairs(w, b, x, activation="relu") -> int:
    """How many (point, neuron) pairs pass a gradient: ReLU's with w_j·x_i + b_j > 0; every pair otherwise."""
    pre = model.preactivations(w, b, x)
    return int(np.count_nonzero(pre > 0)) if activation == "relu" else pre.size


def descend_plain(a, w, b, dynamics, n_steps):
    for _ in range(n_steps):
        _step(a, w, b, dynamics)


def take_record(
    records: dict, index: int, a, w, b, risk: float, alpha: float, interval, initial, activation: str = "relu"
) -> None:
    """Record ``index`` of ``records`` (arrays by name) from the state: the risk, the extremes of f over
    ``interval`` (1-D inputs: ``network/exact.py``; NaN for d > 1) and, when ``initial`` = (a₀, w₀, b₀) is
    given, the relative distances."""
    records["risk"][index] = risk
    if np.ndim(w) == np.ndim(a):  # a 1-D input
        records["f_min"][index], records["f_max"][index] = exact.extremes(
            a, w, b, 1.0 / alpha, interval[0], interval[1], activation
        )
    if initial is not None:
        records["rd_w"][index] = model.relative_distance((w, b), (initial[1], initial[2]))
        records["rd_a"][index] = model.relative_distance(a, initial[0])


def advance(a, w, b, dynamics, *, n_steps, record_offsets, records, initial=None):
    """The generated kernels' ``advance`` step by step in numpy: (steps taken, records written, status)."""
    x, y, alpha, activation = dynamics.x, dynamics.y, dynamics.alpha, dynamics.activation
    if _active_pairs(w, b, x, activation) == 0:
        return 0, 0, STATUS_DEAD
    written = 0
    for step in range(1, n_steps + 1):
        _step(a, w, b, dynamics)
        risk = model.risk(a, w, b, x, y, alpha, activation)
        if not (np.isfinite(risk) and np.all(np.isfinite(a)) and np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            return step, written, STATUS_DIVERGED
        if written < record_offsets.size and record_offsets[written] == step:
            take_record(records, written, a, w, b, risk, alpha, dynamics.interval, initial, activation)
            written += 1
        if _active_pairs(w, b, x, activation) == 0:
            return step, written, STATUS_DEAD
    return n_steps, written, STATUS_OK
