"""What users look at, computed from parameters: exact extremes of f, per-neuron geometry, invariants.

Parameters a, w, b have shape (m,) or (S, m); per-neuron results keep that shape.
"""

from __future__ import annotations

import math

import numpy as np

from relunet_support.errors import invalid
from relunet_support.network.model import relative_distance  # noqa: F401 (also this module's)


def extremes(a, w, b, alpha: float, lo: float = -0.5, hi: float = 0.5, activation: str = "relu"):
    """(min f, max f) over [lo, hi] for f(x) = (1/α) Σ_j a_j σ(w_j x + b_j) of a 1-D input.

    ReLU and leaky ReLU: f is piecewise linear, so the extremes are attained at lo, hi or a kink −b_j/w_j
    inside the interval; these are evaluated exactly (no grid). tanh, x·tanh x, x²·tanh x: a grid refined by
    golden-section search, within M₂h²/8 of the true values (``network/exact.py``). A network with a
    non-finite parameter gives (NaN, NaN). Returns floats, or (S,) arrays for an ensemble.
    """
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise invalid("(lo, hi)", (lo, hi), "a finite interval with lo < hi")
    from relunet_support.network import activations, exact  # compiled: numba is imported on the first call

    activations.get(activation)  # a ConfigError naming an unknown one
    a, w, b = (np.ascontiguousarray(v, dtype=np.float64) for v in (a, w, b))
    if w.ndim != a.ndim:
        raise invalid("w", f"<array of shape {w.shape}>", "the weights of a 1-D input (extremes are over an interval)")
    if not (a.shape == w.shape == b.shape and a.ndim in (1, 2)):
        shapes = f"a {a.shape}, w {w.shape}, b {b.shape}"
        raise invalid("(a, w, b)", shapes, "arrays of one shape, (m,) or (S, m) for an ensemble")
    if not (isinstance(alpha, (int, float, np.floating)) and math.isfinite(alpha) and alpha > 0):
        raise invalid("alpha", alpha, "a positive finite number")
    if a.ndim == 1:
        return exact.extremes(a, w, b, 1.0 / alpha, float(lo), float(hi), activation)
    values = np.array(
        [exact.extremes(*member, 1.0 / alpha, float(lo), float(hi), activation) for member in zip(a, w, b)]
    )
    return values[:, 0], values[:, 1]


def orientations(w, b) -> np.ndarray:
    """Orientation of each neuron's input weights, atan2(b_j, w_j) ∈ (−π, π]; stays finite when w_j → 0."""
    return np.arctan2(b, w)


def amplitudes(a, w, b) -> np.ndarray:
    """Per-neuron amplitude A_j = |a_j|·‖(w_j, b_j)‖ (Luo et al. 2021), not a global norm."""
    return np.abs(a) * np.hypot(w, b)


def heaviest(values, mass: float) -> np.ndarray:
    """The fewest entries of ``values`` (≥ 0) whose sum reaches ``mass``·Σ values — the largest ones —
    as a boolean mask; entries tied with the smallest one taken are all taken (mirrored neurons come in
    tied pairs). All False when Σ values is 0. (One sort of the values, no argsort.)"""
    values = np.asarray(values, dtype=np.float64)
    total = float(values.sum())
    if not total > 0:
        return np.zeros(values.shape, dtype=bool)
    descending = np.sort(values, axis=None)[::-1]
    count = min(int(np.searchsorted(np.cumsum(descending), mass * total)) + 1, descending.size)
    return values >= descending[count - 1]


def kinks(w, b) -> np.ndarray:
    """Kink positions −b_j/w_j (±inf when w_j = 0 and b_j ≠ 0, nan when both are 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.asarray(b, dtype=np.float64) / np.asarray(w, dtype=np.float64)


def conserved(a, w, b) -> np.ndarray:
    """a_j² − w_j² − b_j², constant in time under gradient flow (ReLU is 1-homogeneous); GD drifts by O(η)."""
    a, w, b = (np.asarray(v, dtype=np.float64) for v in (a, w, b))
    return a * a - w * w - b * b


def function_values(a, w, b, alpha: float, points) -> np.ndarray:
    """f at many points, exactly, in O((m + p) log m) time and O(m + p) memory (no m × p matrix).

    f(x) = (A(x)·x + B(x))/α with A = Σ_active a_j w_j, B = Σ_active a_j b_j piecewise constant:
    start from the neurons active left of every point, then add each neuron's change of (A, B) at
    its kink −b_j/w_j (switching on when w_j > 0, off when w_j < 0) by a cumulative sum over the
    sorted kinks (``function_evaluator`` keeps that sorted form to evaluate f at more points).
    """
    return function_evaluator(a, w, b, alpha)(points)


def function_evaluator(a, w, b, alpha: float, within: tuple[float, float] | None = None):
    """f as a function of the points, with the kinks sorted once (see ``function_values``).

    ``within=(lo, hi)``: the points will lie in [lo, hi] (others are refused), so the state of every
    neuron at lo is summed directly and only the kinks in (lo, hi] are sorted — for wide networks most
    kinks lie outside the interval.
    """
    a, w, b = (np.asarray(v, dtype=np.float64) for v in (a, w, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(w != 0, -b / w, np.inf)
    moving = np.isfinite(kink)
    if within is None:
        # far left of every point and kink: active iff w < 0 (kinked neurons) or b > 0 (w = 0)
        start_active = np.where(moving, w < 0, b > 0)
        passing = moving
    else:
        lo, hi = within
        # at x = lo: w > 0 is on once lo is past its kink, w < 0 while lo is before it; w = 0 iff b > 0
        start_active = np.where(moving, np.where(w > 0, kink <= lo, kink > lo), b > 0)
        passing = moving & (kink > lo) & (kink <= hi)
    slope0 = np.sum(np.where(start_active, a * w, 0.0))
    intercept0 = np.sum(np.where(start_active, a * b, 0.0))
    sorted_kinks = kink[passing]
    order = np.argsort(sorted_kinks)
    sorted_kinks = sorted_kinks[order]
    sign = np.sign(w[passing])[order]  # +1: switches on at its kink, −1: switches off
    d_slope = np.concatenate(([0.0], np.cumsum(sign * (a * w)[passing][order])))
    d_intercept = np.concatenate(([0.0], np.cumsum(sign * (a * b)[passing][order])))

    def f(points) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if within is not None and points.size and not (points.min() >= within[0] and points.max() <= within[1]):
            raise invalid("points", (float(points.min()), float(points.max())), f"inside [{within[0]}, {within[1]}]")
        passed = np.searchsorted(sorted_kinks, points, side="right")
        return ((slope0 + d_slope[passed]) * points + intercept0 + d_intercept[passed]) / alpha

    return f
