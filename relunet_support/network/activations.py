"""The activations σ a network may use, each with its derivative and its multiplicity p.

    relu        σ(z) = max(z, 0)                 σ'(z) = 1[z > 0]                          p = 1
    leaky_relu  σ(z) = z (z > 0), λz (z ≤ 0)     σ'(z) = 1 (z > 0), λ (z ≤ 0), λ = 0.01     p = 1
    tanh        σ(z) = tanh z                    σ'(z) = 1 − tanh² z                       p = 1
    xtanh       σ(z) = z tanh z                  σ'(z) = tanh z + z (1 − tanh² z)          p = 2
    x2tanh      σ(z) = z² tanh z                 σ'(z) = 2z tanh z + z² (1 − tanh² z)      p = 3

The multiplicity p (Zhou et al., NeurIPS 2022) is the order of the first non-zero derivative of σ at 0:
σ⁽ᵏ⁾(0) = 0 for k < p and σ⁽ᵖ⁾(0) ≠ 0 (z tanh z = z² − z⁴/3 + …, z² tanh z = z³ − …). Under small
initialisation the input weights of a network with such σ condense in the initial stage onto at most p
lines through the origin. ReLU and leaky ReLU are not differentiable at 0; they behave like p = 1
(one slope on each side) and are recorded so. The derivative of a kink at 0 is taken from the left
(1[z > 0]: 0 for ReLU, λ for leaky ReLU), as the engines do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.errors import invalid

LEAKY_SLOPE = 0.01  # λ of leaky_relu (PyTorch's default)
# the extremes of f for the smooth activations (network/exact.py's extremes_smooth): their code there, the grid
# (h = (hi − lo)/512) and sup_z |σ''(z)| rounded up, which bounds the error by M₂h²/8
SMOOTH_KINDS = {"tanh": 1, "xtanh": 2, "x2tanh": 3}
SMOOTH_GRID = 513
SECOND_DERIVATIVE_BOUND = {"tanh": 0.7699, "xtanh": 2.0, "x2tanh": 2.642}


@dataclass(frozen=True)
class Activation:
    """One activation: its ``name``, ``multiplicity`` p and whether it is piecewise linear (then f is
    piecewise linear in a 1-D input and its extremes over an interval are exact at the kinks)."""

    name: str
    multiplicity: int
    piecewise_linear: bool
    formula: str

    def value(self, z: np.ndarray) -> np.ndarray:
        """σ(z), elementwise."""
        return _value(self.name, np.asarray(z, dtype=np.float64))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """σ'(z), elementwise (left derivative at a kink)."""
        return _derivative(self.name, np.asarray(z, dtype=np.float64))


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", 1, True, "max(z, 0)"),
    "leaky_relu": Activation("leaky_relu", 1, True, f"z if z > 0 else {LEAKY_SLOPE}·z"),
    "tanh": Activation("tanh", 1, False, "tanh z"),
    "xtanh": Activation("xtanh", 2, False, "z·tanh z"),
    "x2tanh": Activation("x2tanh", 3, False, "z²·tanh z"),
}


def get(name: str) -> Activation:
    """The activation called ``name``, or ConfigError naming the allowed ones."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise invalid("activation", name, "one of " + ", ".join(repr(k) for k in ACTIVATIONS))
    return ACTIVATIONS[name]


def _value(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0.0, z, LEAKY_SLOPE * z)
    t = np.tanh(z)
    if name == "tanh":
        return t
    if name == "xtanh":
        return z * t
    return z * z * t  # x2tanh


def _derivative(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (z > 0.0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0.0, 1.0, LEAKY_SLOPE)
    t = np.tanh(z)
    sech2 = 1.0 - t * t
    if name == "tanh":
        return sech2
    if name == "xtanh":
        return t + z * sech2
    return 2.0 * z * t + z * z * sech2  # x2tanh
