"""The time axes of the figures: the step index k rescaled by a run's width or clock.

The seed rescaled the step index k by 1, 1/m, 1/m², 1/ln m; the theory's clock is s = η·k/α_m (Luo et al. 2021;
at γ = 3/2 escapes happen at s ≈ ((γ−1)/(2G*)) ln m + C).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from relunet_support.network.scaling import kappas


def kernel_rate(config) -> float:
    """mκ(κ′ + 1/κ′) = m(β₁² + β₂²)/α: the scale of the tangent kernel on the clock s, i.e. how fast f moves
    per unit s while the network stays near its initialisation (the linear regime; docs/science.md §3)."""
    kappa, kappa_prime = kappas(config.m, config.gamma, config.gamma_prime)
    return config.m * kappa * (kappa_prime + 1.0 / kappa_prime)


# name -> (axis label, k ↦ rescaled time given the run's config and ŝ, its measured first escape)
CLOCKS: dict[str, tuple[str, Callable]] = {
    "k": ("step k", lambda k, c, shift: k),
    "k/m": ("k / m", lambda k, c, shift: k / c.m),
    "k/m²": ("k / m²", lambda k, c, shift: k / c.m**2),
    "k/ln m": ("k / ln m", lambda k, c, shift: k / math.log(c.m)),
    "s": ("s = η·k / α_m", lambda k, c, shift: c.clock(k)),
    "s/ln m": ("s / ln m", lambda k, c, shift: c.clock(k) / math.log(c.m)),
    "s−ŝ": ("s − ŝ(m)  (ŝ: measured first escape)", lambda k, c, shift: c.clock(k) - shift),
    "τ": (
        "τ = mκ(κ′ + 1/κ′)·s  (tangent kernel's time)",
        lambda k, c, shift: kernel_rate(c) * c.clock(k),
    ),
}
SEED_CLOCKS = ("k", "k/m", "k/m²", "k/ln m", "s")
SHIFTED = "s−ŝ"
# the clocks that should collapse the widths in each regime of Luo et al.'s phase diagram (docs/science.md §3):
# condensed — s, up to the escape's shift ∝ ln m; linear — τ (the kernel's time); critical — s and τ agree
REGIME_CLOCKS = {"condensed": ("s", "s/ln m", SHIFTED), "linear": ("k", "s", "τ"), "critical": ("k", "s", "τ")}


def rescaled_time(steps: np.ndarray, clock: str, config, shift: float = 0.0) -> np.ndarray:
    """The step indices of a run of ``config`` on one of the CLOCKS."""
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r} is not allowed: clock must be one of {', '.join(map(repr, CLOCKS))}")
    return CLOCKS[clock][1](np.asarray(steps, dtype=np.float64), config, shift)
