"""The reference mathematics in plain numpy: the readable specification the engines are tested against.

Parameters a, b have shape (m,) or (S, m) (an ensemble of S networks). Inputs are 1-D, x of shape (n,)
with w of the shape of a, or d-dimensional, x of shape (n, d) with w of shape (m, d) or (S, m, d);
y has shape (n,). With σ the activation (``activations.py``; ReLU by default):

    pre_ij = w_j·x_i + b_j
    f(x_i) = (1/α) Σ_j a_j σ(pre_ij)
    R      = 1/(2n) Σ_i (f(x_i) − y_i)²
    ∂R/∂a_j = (1/(nα)) Σ_i r_i σ(pre_ij)
    ∂R/∂w_j = (1/(nα)) Σ_i r_i a_j σ'(pre_ij) x_i
    ∂R/∂b_j = (1/(nα)) Σ_i r_i a_j σ'(pre_ij)          with r_i = f(x_i) − y_i.

The derivative of a kink at 0 is taken from the left (0 for ReLU).
"""

from __future__ import annotations

import numpy as np

from relunet_support.errors import invalid
from relunet_support.network.activations import get as activation_named


def preactivations(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """pre[..., i, j] = w_j·x_i + b_j (x of shape (n,) or (n, d))."""
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[:, None] * w[..., None, :] + b[..., None, :]
    if x.ndim != 2 or w.ndim < 2 or w.shape[-1] != x.shape[1] or w.shape[:-1] != b.shape:
        raise invalid(
            "w", w.shape, f"of shape {b.shape + x.shape[1:]} for inputs x of shape {x.shape} and b of shape {b.shape}"
        )
    return np.einsum("ik,...jk->...ij", x, w) + b[..., None, :]


def forward(a, w, b, x, alpha: float, activation: str = "relu") -> np.ndarray:
    """f(x_i) = (1/α) Σ_j a_j σ(w_j·x_i + b_j) ; shape (..., n)."""
    hidden = activation_named(activation).value(preactivations(w, b, x))
    return np.einsum("...j,...ij->...i", np.asarray(a, dtype=np.float64), hidden) / alpha


def risk(a, w, b, x, y, alpha: float, activation: str = "relu") -> np.ndarray | float:
    """R = 1/(2n) Σ_i (f(x_i) − y_i)²; a float, or shape (S,) for an ensemble."""
    residual = forward(a, w, b, x, alpha, activation) - np.asarray(y, dtype=np.float64)
    value = 0.5 * np.mean(residual**2, axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def gradients(a, w, b, x, y, alpha: float, activation: str = "relu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(∂R/∂a, ∂R/∂w, ∂R/∂b), with the shapes of a, w and b."""
    sigma = activation_named(activation)
    a = np.asarray(a, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    pre = preactivations(w, b, x)
    hidden = sigma.value(pre)
    slope = sigma.derivative(pre)
    residual = np.einsum("...j,...ij->...i", a, hidden) / alpha - np.asarray(y, dtype=np.float64)
    scale = 1.0 / (x.shape[0] * alpha)
    grad_a = scale * np.einsum("...i,...ij->...j", residual, hidden)
    grad_b = scale * a * np.einsum("...i,...ij->...j", residual, slope)
    if x.ndim == 1:
        grad_w = scale * a * np.einsum("...i,i,...ij->...j", residual, x, slope)
    else:
        grad_w = scale * a[..., None] * np.einsum("...i,ik,...ij->...jk", residual, x, slope)
    return grad_a, grad_w, grad_b


def central_differences(
    a, w, b, x, y, alpha: float, h: float = 1e-6, activation: str = "relu"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(∂R/∂a, ∂R/∂w, ∂R/∂b) by central differences, (R(θ + h e_k) − R(θ − h e_k)) / (2h), one
    parameter at a time — to check ``gradients`` (exact except where a kink sits within h of a data point)."""
    parameters = [np.array(v, dtype=np.float64) for v in (a, w, b)]
    estimates = []
    for k in range(3):
        estimate = np.empty_like(parameters[k])
        for j in range(parameters[k].size):
            plus = [p.copy() for p in parameters]
            minus = [p.copy() for p in parameters]
            plus[k].flat[j] += h
            minus[k].flat[j] -= h
            rise = risk(plus[0], plus[1], plus[2], x, y, alpha, activation)
            fall = risk(minus[0], minus[1], minus[2], x, y, alpha, activation)
            estimate.flat[j] = (rise - fall) / (2 * h)
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
