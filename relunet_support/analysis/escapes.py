"""Time scales of the condensed regime: G*, plateaus and escapes in a risk curve, and the fit of
the first-escape time against ln m.

Theory (Luo et al. 2021; Chen et al. 2023; derivation in SCIENCE.md §5): on the clock s = η·k/α_m the
network first stays small and escapes at

    s₁(m) ≈ ((γ − 1 − |γ′|) / (2 G*)) · ln m + C,    G* = max_{‖(w, b)‖ = 1} (1/n) Σ_i y_i (w x_i + b)_+ ,

then follows plateaus (saddles) and further escapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from relunet_support.errors import invalid


def g_star(x, y) -> tuple[float, float]:
    """Exact G* = max over unit (w, b) = (cos θ, sin θ) of G(θ) = (1/n) Σ y_i (w x_i + b)_+, and its θ.

    The active set {i : w x_i + b > 0} is constant between the 2n angles where w x_i + b = 0; on each
    such sector G = c₁ cos θ + c₂ sin θ (c₁ = mean(y x 1), c₂ = mean(y 1)), whose maximum over the sector
    is at θ* = atan2(c₂, c₁) when it lies inside, else at an end. All candidates are evaluated.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def value(theta):
        return float(np.mean(y * np.maximum(np.cos(theta) * x + np.sin(theta), 0.0)))

    boundaries = np.mod(np.concatenate((np.arctan2(-x, 1.0), np.arctan2(x, -1.0))), 2 * np.pi)
    boundaries = np.unique(np.concatenate((boundaries, [0.0])))
    ends = np.append(boundaries, boundaries[0] + 2 * np.pi)
    candidates = list(boundaries)
    for lo, hi in zip(ends[:-1], ends[1:]):
        mid = 0.5 * (lo + hi)
        active = np.cos(mid) * x + np.sin(mid) > 0
        c1, c2 = np.mean(y * x * active), np.mean(y * active)
        theta = np.mod(math.atan2(c2, c1), 2 * np.pi)
        for shift in (0.0, 2 * np.pi):
            if lo <= theta + shift <= hi:
                candidates.append(theta + shift)
    values = [value(t) for t in candidates]
    best = int(np.argmax(values))
    return values[best], float(np.mod(candidates[best] + np.pi, 2 * np.pi) - np.pi)


def predicted_escape_slope(gamma: float, gamma_prime: float, x, y) -> float:
    """d s₁ / d ln m = (γ − 1 − |γ′|) / (2 G*)."""
    return (gamma - 1 - abs(gamma_prime)) / (2 * g_star(x, y)[0])


@dataclass(frozen=True)
class Plateau:
    """A stretch of the risk curve where |d ln R / d ln s| stays small."""

    start: float  # s where it begins
    end: float  # s where the risk leaves it (an escape), or the end of the curve
    level: float  # median risk on it
    escaped: bool  # True when the risk left it downwards before the end of the curve


def plateaus(s, risk, flatness: float = 0.05, min_decades: float = 0.3, drop: float = 0.1) -> list[Plateau]:
    """Plateaus and escapes of a risk curve R(s) (s > 0, increasing).

    A plateau is a maximal run of points where |d ln R / d ln s| < ``flatness`` spanning at least
    ``min_decades`` decades of s; its escape time is the first s after it where R < (1 − drop)·level,
    with level the median risk on the plateau.
    """
    s = np.asarray(s, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    keep = (s > 0) & np.isfinite(risk) & (risk > 0)
    s, risk = s[keep], risk[keep]
    if s.size < 3:
        return []
    log_s, log_r = np.log(s), np.log(risk)
    slope = np.gradient(log_r, log_s)
    flat = np.abs(slope) < flatness
    found = []
    i = 0
    while i < s.size:
        if not flat[i]:
            i += 1
            continue
        j = i
        while j + 1 < s.size and flat[j + 1]:
            j += 1
        if log_s[j] - log_s[i] >= min_decades * math.log(10):
            level = float(np.median(risk[i : j + 1]))
            below = np.nonzero(risk[j:] < (1 - drop) * level)[0]
            escaped = below.size > 0
            end = float(s[j + below[0]]) if escaped else float(s[-1])
            found.append(Plateau(float(s[i]), end, level, escaped))
        i = j + 1
    return found


def first_escape(s, risk, drop: float = 0.3) -> float:
    """ŝ: the first s at which the risk has left the small-output phase, R(s) < (1 − drop)·R(0); nan if never.

    The threshold is a fixed fraction of the initial risk, so ŝ(m) inherits the ln m law of the
    escape whatever the fraction; 0.3 is past the slow initial decrease of the alignment phase
    (measured on the seed study: 10 % gives a slope of 0.8 against the theory's 1.76, 30 % gives
    1.68 and 50 % 1.92 for m = 200 … 1000 at η = 1000, one seed).
    """
    s = np.asarray(s, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    below = np.nonzero(risk < (1 - drop) * risk[0])[0]
    return float(s[below[0]]) if below.size else float("nan")


def first_escape_of(run) -> float:
    """ŝ of a run (a store's records) on the clock s = η·k/α: ``first_escape`` of its risk."""
    rec = run.records
    return first_escape(run.config.learning_rate * rec["step"] / run.config.alpha, rec["risk"])


@dataclass(frozen=True)
class SlopeFit:
    slope: float
    intercept: float
    slope_low: float  # confidence interval of the slope (nan when undefined: fewer than 3 points)
    slope_high: float
    n_points: int
    confidence: float = 0.95

    @property
    def has_interval(self) -> bool:
        """The t interval needs at least 3 points (n − 2 ≥ 1 degrees of freedom for the scatter)."""
        return self.n_points >= 3 and math.isfinite(self.slope_low) and math.isfinite(self.slope_high)

    def describe(self, name: str = "dŝ/d ln m", points: str = "runs") -> str:
        """One line: 'dŝ/d ln m = 0.123 (95 % interval 0.1 … 0.2, 5 runs)', or, with 2 points,
        'dŝ/d ln m = 0.123 (no interval: needs ≥ 3 runs, got 2)' (never a 'nan … nan' interval)."""
        if not self.has_interval:
            return f"{name} = {self.slope:.3f} (no interval: needs ≥ 3 {points}, got {self.n_points})"
        return (
            f"{name} = {self.slope:.3f} ({100 * self.confidence:g} % interval {self.slope_low:.3f} … "
            f"{self.slope_high:.3f}, {self.n_points} {points})"
        )


def fit_line(x, y, confidence: float = 0.95) -> SlopeFit:
    """Least-squares y = slope·x + intercept with a Student-t confidence interval on the slope.

    Repeated x values (several seeds per width) give the scatter the interval is estimated from.
    With only 2 points the line passes through both, there is no scatter, and the interval is
    undefined: slope_low and slope_high are nan, ``has_interval`` is False, ``describe()`` says so.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2 or np.ptp(x) == 0:
        raise invalid("x", x.tolist(), "at least two distinct finite values to fit a line")
    slope, intercept = np.polyfit(x, y, 1)
    if x.size > 2:
        residual = y - (slope * x + intercept)
        sigma = math.sqrt(float(residual @ residual) / (x.size - 2))
        stderr = sigma / math.sqrt(float(np.sum((x - x.mean()) ** 2)))
        from scipy.special import stdtrit  # the Student-t quantile; imported here (0.3 s) only when needed

        quantile = float(stdtrit(x.size - 2, 0.5 + confidence / 2))
    else:
        stderr, quantile = float("nan"), float("nan")
    return SlopeFit(
        float(slope),
        float(intercept),
        float(slope - quantile * stderr),
        float(slope + quantile * stderr),
        int(x.size),
        float(confidence),
    )
