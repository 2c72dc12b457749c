"""The reference mathematics in plain numpy: the readable specification the engines are tested against.

Parameters a, w, b have shape (m,) or (S, m) (an ensemble of S networks); x, y have shape (n,).

    pre_ij = w_j x_i + b_j
    f(x_i) = (1/α) Σ_j a_j (pre_ij)_+
    R      = 1/(2n) Σ_i (f(x_i) − y_i)²
    ∂R/∂a_j = (1/(nα)) Σ_i r_i (pre_ij)_+
    ∂R/∂w_j = (1/(nα)) Σ_i r_i a_j x_i 1[pre_ij > 0]
    ∂R/∂b_j = (1/(nα)) Σ_i r_i a_j 1[pre_ij > 0]          with r_i = f(x_i) − y_i.

The derivative of (·)_+ at 0 is taken as 0.
"""

from __future__ import annotations

import numpy as np

from relunet_support.errors import invalid


def _preactivations(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """pre[..., i, j] = w_j x_i + b_j."""
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] * w[..., None, :] + b[..., None, :]


def forward(a, w, b, x, alpha: float) -> np.ndarray:
    """f(x_i) = (1/α) Σ_j a_j (w_j x_i + b_j)_+ ; shape (..., n)."""
    relu = np.maximum(_preactivations(w, b, x), 0.0)
    return np.einsum("...j,...ij->...i", np.asarray(a, dtype=np.float64), relu) / alpha


def risk(a, w, b, x, y, alpha: float) -> np.ndarray | float:
    """R = 1/(2n) Σ_i (f(x_i) − y_i)²; a float, or shape (S,) for an ensemble."""
    residual = forward(a, w, b, x, alpha) - np.asarray(y, dtype=np.float64)
    value = 0.5 * np.mean(residual**2, axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def gradients(a, w, b, x, y, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(∂R/∂a, ∂R/∂w, ∂R/∂b), each with the shape of a."""
    a = np.asarray(a, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    pre = _preactivations(w, b, x)
    relu = np.maximum(pre, 0.0)
    active = (pre > 0).astype(np.float64)
    residual = np.einsum("...j,...ij->...i", a, relu) / alpha - np.asarray(y, dtype=np.float64)
    scale = 1.0 / (x.size * alpha)
    grad_a = scale * np.einsum("...i,...ij->...j", residual, relu)
    grad_w = scale * a * np.einsum("...i,i,...ij->...j", residual, x, active)
    grad_b = scale * a * np.einsum("...i,...ij->...j", residual, active)
    return grad_a, grad_w, grad_b


def central_differences(a, w, b, x, y, alpha: float, h: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(∂R/∂a, ∂R/∂w, ∂R/∂b) by central differences, (R(θ + h e_k) − R(θ − h e_k)) / (2h), one
    parameter at a time — to check ``gradients`` (exact except where a kink sits within h of a data point)."""
    parameters = [np.array(v, dtype=np.float64) for v in (a, w, b)]
    estimates = []
    for k in range(3):
        estimate = np.empty_like(parameters[k])
        for j in range(parameters[k].size):
            plus = [p.copy() for p in parameters]
            minus = [p.copy() for p in parameters]
            plus[k][j] += h
            minus[k][j] -= h
            estimate[j] = (
                risk(plus[0], plus[1], plus[2], x, y, alpha) - risk(minus[0], minus[1], minus[2], x, y, alpha)
            ) / (2 * h)
        estimates.append(estimate)
    return estimates[0], estimates[1], estimates[2]


def relative_distance(current, initial) -> float:
    """RD = ‖θ − θ₀‖ / ‖θ₀‖ over all the given arrays (e.g. (w, b) for RD_w, a for RD_a)."""
    if isinstance(current, np.ndarray):
        current, initial = (current,), (initial,)
    now = np.concatenate([np.ravel(v) for v in current])
    start = np.concatenate([np.ravel(v) for v in initial])
    if now.shape != start.shape:
        raise invalid("current", now.shape, f"the same shape as initial {start.shape}")
    return float(np.linalg.norm(now - start) / np.linalg.norm(start))
