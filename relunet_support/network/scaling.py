"""Initialisation scales from the exponents (γ, γ′), with the papers' sign convention.

Luo, Xu, Ma, Zhang (JMLR 22(71), 2021) and Chen, Li, Luo, Zhou, Xu (arXiv:2303.06561) define

    κ  = β₁β₂/α_m ,   γ  = −lim log κ  / log m   (so κ  = m^−γ),
    κ′ = β₁/β₂ ,      γ′ = −lim log κ′ / log m   (so κ′ = m^−γ′).

The seed notebook fixes α_m = m^(γ−γ′), which gives β₁ = √(κκ′α) = m^−γ′ and
β₂ = √(κα/κ′) = 1.
"""

from __future__ import annotations

import math
import numbers
import sys

from relunet_support.errors import invalid


def _check_m(m) -> int:
    if isinstance(m, bool) or not (isinstance(m, numbers.Integral) or float(m).is_integer()) or m < 1:
        raise invalid("m", m, "a positive integer (the number of hidden neurons)")
    return int(m)


def _check_exponent(name: str, value) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise invalid(name, value, "a finite real number")
    return value


def _power(m: int, exponent: float) -> float:
    """m^exponent, inf where it overflows (Python raises OverflowError there, but gives 0.0 on underflow)."""
    try:
        return float(m) ** exponent
    except OverflowError:
        return math.inf


def _scales(m, gamma, gamma_prime) -> tuple[float, float, float, float, float]:
    """(α, β₁, β₂, κ, κ′) for width m, each checked to be, with 1 over it, finite and > 0 in float64; else a
    ConfigError naming γ or γ′ (the larger in size), m and the scale that left float64's range."""
    m = _check_m(m)
    gamma = _check_exponent("gamma", gamma)
    gamma_prime = _check_exponent("gamma_prime", gamma_prime)
    alpha = _power(m, gamma - gamma_prime)
    kappa, kappa_prime = _power(m, -gamma), _power(m, -gamma_prime)
    _check_scale("α = m^(γ−γ′)", alpha, m, gamma, gamma_prime)
    _check_scale("κ = m^−γ", kappa, m, gamma, gamma_prime)
    _check_scale("κ′ = m^−γ′", kappa_prime, m, gamma, gamma_prime)
    beta1 = math.sqrt(kappa * kappa_prime * alpha)
    beta2 = math.sqrt(kappa * alpha / kappa_prime)
    _check_scale("β₁ = √(κκ′α)", beta1, m, gamma, gamma_prime)
    _check_scale("β₂ = √(κα/κ′)", beta2, m, gamma, gamma_prime)
    return alpha, beta1, beta2, kappa, kappa_prime


def _check_scale(label: str, value: float, m: int, gamma: float, gamma_prime: float) -> None:
    if 0 < value < math.inf and 1 / value < math.inf:
        return
    name, other = ("gamma_prime", "gamma") if abs(gamma_prime) > abs(gamma) else ("gamma", "gamma_prime")
    exponents = {"gamma": gamma, "gamma_prime": gamma_prime}
    bound = math.log(sys.float_info.max) / math.log(m)  # m > 1 here: 1^anything is 1
    raise invalid(
        name,
        exponents[name],
        f"such that α, β₁, β₂, κ and κ′ are finite and > 0 in float64 at m={m}, with {other}={exponents[other]!r}: "
        f"here {label} {'overflows' if value >= 1 else 'underflows'}; |γ|, |γ′|, |γ−γ′|, |γ+γ′| and 2|γ′| must "
        f"stay below about {bound:.4g}",
    )


def alpha_beta(m: int, gamma: float = 1.5, gamma_prime: float = 0.0, beta2: float = 1.0) -> tuple[float, float, float]:
    """Return (α_m, β₁, β₂) for width m and the initial scale ``beta2`` of the input weights (default 1).

    α_m = m^(γ−γ′)·s²,  κ = m^−γ,  κ′ = m^−γ′,  β₁ = √(κ κ′ m^(γ−γ′))·s,  β₂ = √(κ m^(γ−γ′) / κ′)·s with
    s = ``beta2``: κ = β₁β₂/α and κ′ = β₁/β₂ stay what (γ, γ′) say and only the overall scale changes
    (s = 1 is the seed's convention, to the bit). A scale beyond float64's range (e.g. γ = 1000) is a
    ConfigError naming the exponent, a ``beta2`` that is not a finite number > 0 one naming beta2.
    """
    alpha, beta1, beta2_unit, _, _ = _scales(m, gamma, gamma_prime)
    if isinstance(beta2, bool) or not (isinstance(beta2, numbers.Real) and 0 < beta2 < math.inf):
        raise invalid("beta2", beta2, "a finite number > 0 (the initial scale of the input weights)")
    scale = float(beta2)
    scaled = (alpha * scale * scale, beta1 * scale, beta2_unit * scale)
    for label, value in zip(("α = m^(γ−γ′)·β₂²", "β₁", "β₂"), scaled):
        if not (0 < value < math.inf and 1 / value < math.inf):
            raise invalid("beta2", beta2, f"such that {label} is finite and > 0 in float64 at m={m} (it is {value!r})")
    return scaled


def kappas(m: int, gamma: float, gamma_prime: float) -> tuple[float, float]:
    """Return (κ, κ′) = (m^−γ, m^−γ′)."""
    _, _, _, kappa, kappa_prime = _scales(m, gamma, gamma_prime)
    return kappa, kappa_prime


def regime(gamma: float, gamma_prime: float) -> str:
    """Name the Luo et al. (2021) regime of (γ, γ′): 'linear', 'critical' or 'condensed'.

    linear: γ < 1 or γ′ > γ − 1;  condensed: γ > 1 and γ′ < γ − 1;  critical: the boundary.
    """
    gamma = _check_exponent("gamma", gamma)
    gamma_prime = _check_exponent("gamma_prime", gamma_prime)
    if gamma < 1 or gamma_prime > gamma - 1:
        return "linear"
    if gamma > 1 and gamma_prime < gamma - 1:
        return "condensed"
    return "critical"


# Measured (bench/stability.md): at (γ, γ′) = (3/2, 0) GD on the seed data has a monotone risk up to
# η/α = 2.5 for m = 400 and 1600 (1.0 at m = 100); the risk rises at some steps from η/α = 3 on and every
# neuron dies from about η/α = 12. train() warns above this value.
STABLE_NORMALISED_LEARNING_RATE = 2.0


def stability_limit(m: int, gamma: float, gamma_prime: float) -> float:
    """The largest η/α considered stable: the measured 2.0 at γ′ = 0, γ > 1, carried to other (γ, γ′)
    by the Hessian's scale λ_max ∝ max(1, mκ)·max(κ′, 1/κ′)/α (docs/science.md §9: derived, not measured)."""
    kappa, kappa_prime = kappas(m, gamma, gamma_prime)
    return STABLE_NORMALISED_LEARNING_RATE / (max(1.0, m * kappa) * max(kappa_prime, 1.0 / kappa_prime))


def natural_time(step, learning_rate: float, alpha: float):
    """The theory's clock s = η·k/α_m (equal to κ·t̄ in the normalised model)."""
    return learning_rate * step / alpha
