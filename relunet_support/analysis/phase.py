"""Luo et al. (2021) phase diagram, measured: the relative distance of the input weights at the end of
training, RD(θ_w*) = ‖θ_w* − θ_w(0)‖/‖θ_w(0)‖ with θ_w = all (w_j, b_j), and its slope over widths

    S_w = lim log RD(θ_w*) / log m      (S_w < 0: linear regime, S_w > 0: condensed).

The paper's setup: 4 points x = (−1/2, −1/6, 1/6, 1/2), y = x²; anti-symmetric initialisation with the
paper's width convention (m drawn neurons (a, w, b) plus their m twins (−a, w, b): 2m neurons, f₀ ≡ 0,
and α, β₁, β₂ computed from m); gradient descent until the risk is below a tolerance.

Theory for S_w (docs/science.md §2, from the paper's estimates): S_w = γ − 1 in the linear regime at
γ′ = 0, (γ − 1 − γ′)/2 in the condensed regime with γ + γ′ > 1, so S_w changes sign on γ = 1 for γ′ ≤ 0
and on γ′ = γ − 1 for γ′ > 0. For γ′ > 0 the value is the exponent of the paper's upper bound, not the
measured slope (it gives the sign of S_w, not its value).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from relunet_support import engine
from relunet_support.analysis import diagnostics
from relunet_support.analysis.escapes import fit_line
from relunet_support.network import data, init, scaling

# reduced defaults (quick) and the paper-sized preset (the paper's range of widths and γ′; its exact
# list of widths is not known to us)
REDUCED = {
    "widths": (50, 100, 200, 400),
    "gammas": (0.5, 1.0, 1.75),
    "gamma_primes": (-0.4, 0.0, 0.4),
    "crossing_gammas": (0.7, 1.0, 1.3, 1.6),
    "crossing_widths": (50, 200),
    "tol": 1e-4,
}
PAPER = {
    "widths": (100, 200, 400, 800, 1600, 3200, 6400),
    "gammas": (0.5, 1.0, 1.75),
    "gamma_primes": (-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4),
    "crossing_gammas": (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8),
    "crossing_widths": (100, 400, 1600),
    "tol": 1e-6,
}


def theory_slope(gamma: float, gamma_prime: float) -> float:
    """The derived S_w for (γ, γ′)."""
    if gamma > 1 and gamma_prime < gamma - 1:  # condensed
        return (gamma - 1 - gamma_prime) / 2 if gamma + gamma_prime > 1 else gamma - 1
    return gamma - 1 - max(gamma_prime, 0.0)  # linear (γ′ > γ − 1 or γ < 1)


def theory_crossing(gamma_prime: float) -> float:
    """γ where the derived S_w changes sign: 1 for γ′ ≤ 0, 1 + γ′ for γ′ > 0."""
    return 1.0 + max(gamma_prime, 0.0)


def final_relative_distance(
    gamma: float,
    gamma_prime: float,
    m: int,
    seed: int = 0,
    tol: float = 1e-5,
    max_steps: int = 3_000_000,
    chunk: int = 2000,
) -> float:
    """RD(θ_w*) after GD on Luo et al.'s setup has brought the risk below ``tol`` (see the module docstring).

    m counts width as the paper does (2m neurons). The step is half the stability limit,
    η = ½·stability_limit(m, γ, γ′)·α_m. Warns when the tolerance is not reached within ``max_steps``.
    """
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    x, y = data.load("luo2021")
    a, w, b = init.initial_parameters(2 * m, beta1, beta2, "antisymmetric", np.random.default_rng(seed))
    w0, b0 = w.copy(), b.copy()
    eta = 0.5 * scaling.stability_limit(m, gamma, gamma_prime) * alpha
    done_steps, risk = 0, math.inf
    while done_steps < max_steps:
        advanced = engine.advance(
            a, w, b, x, y, alpha=alpha, learning_rate=eta, n_steps=chunk, record_offsets=np.array([chunk])
        )
        done_steps += advanced.steps
        status, records = advanced.status, advanced.records
        if status == engine.STATUS_DIVERGED:
            raise FloatingPointError(
                f"GD diverged at (γ, γ′, m) = ({gamma}, {gamma_prime}, {m}) with η/α = {eta / alpha:.3g}"
            )
        if status == engine.STATUS_DEAD:
            raise RuntimeError(f"every neuron died at (γ, γ′, m) = ({gamma}, {gamma_prime}, {m})")
        risk = float(records["risk"][-1])
        if risk < tol:
            break
    else:
        warnings.warn(
            f"(γ, γ′, m) = ({gamma}, {gamma_prime}, {m}): risk {risk:.3g} still above tol {tol:g} after "
            f"{done_steps} steps",
            RuntimeWarning,
            stacklevel=2,
        )
    return diagnostics.relative_distance((w, b), (w0, b0))


def slope_over_widths(gamma: float, gamma_prime: float, widths, seed: int = 0, tol: float = 1e-5):
    """(RD per width, fitted S_w) — the log-log slope of RD(θ_w*) against m."""
    distances = np.array([final_relative_distance(gamma, gamma_prime, m, seed, tol) for m in widths])
    return distances, fit_line(np.log(widths), np.log(distances)).slope


def zero_crossing(gammas, slopes) -> float:
    """γ where S_w(γ) changes sign, by linear interpolation between neighbouring γ (nan if it does not)."""
    gammas, slopes = np.asarray(gammas, dtype=float), np.asarray(slopes, dtype=float)
    for i in range(len(gammas) - 1):
        if slopes[i] == 0:
            return float(gammas[i])
        if slopes[i] * slopes[i + 1] < 0:
            return float(gammas[i] - slopes[i] * (gammas[i + 1] - gammas[i]) / (slopes[i + 1] - slopes[i]))
    return float("nan")
