"""Time scales of the condensed regime: G*, plateaus and escapes in a risk curve, and the fit of
the first-escape time against ln m.

Theory (Luo et al. 2021; Chen et al. 2023; derivation in docs/science.md §4–5): on the clock s = η·k/α_m the
network first stays small and escapes at

    s₁(m) ≈ ((γ − 1 − |γ′|) / (2 G*)) · ln m + C,    G* = max_θ |G(θ)|,  G(θ) = (1/n) Σ_i y_i (cos θ x_i + sin θ)_+ ,

then rests on a plateau (a saddle: the condensed neurons form a network of one or two neurons at a minimum
of its risk R*) and escapes again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from relunet_support.errors import invalid


def growth_function(x, target, theta) -> np.ndarray:
    """G(θ) = (1/n) Σ_i t_i (cos θ · x_i + sin θ)_+ for each θ: the growth rate of a small balanced neuron
    (|a| = ‖(w, b)‖) of direction (w, b) ∝ (cos θ, sin θ): |a| and ‖(w, b)‖ each grow like exp(±G s), so its
    amplitude |a|·‖(w, b)‖ grows like exp(±2G s) (+ for a > 0, − for a < 0; docs/science.md §4), while the
    network is fitting the targets t (the data y while the network is small; the residuals y − f on a plateau)."""
    x = np.asarray(x, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    pre = np.multiply.outer(np.cos(theta), x) + np.sin(theta)[..., None]
    return np.mean(np.asarray(target, dtype=np.float64) * np.maximum(pre, 0.0), axis=-1)


def g_star(x, y) -> tuple[float, float]:
    """Exact G* = max(max_θ G(θ), −min_θ G(θ)) and its direction θ (``growth_function``; targets y).

    A small neuron grows at rate +G(θ) when a > 0 and −G(θ) when a < 0 (its direction turns towards the
    maximum, resp. the minimum, of G), so the fastest growth — the first escape — is at rate
    max(max G, −min G): for data with negative targets the neurons with a < 0 escape first. The active set
    {i : w x_i + b > 0} is constant between the 2n angles where w x_i + b = 0; on each such sector
    G = c₁ cos θ + c₂ sin θ (c₁ = mean(y x 1), c₂ = mean(y 1)), whose extremes over the sector are at
    θ = atan2(±c₂, ±c₁) when they lie inside, else at an end. All candidates are evaluated.
    ``growth_sign(x, y)`` says which sign of a escapes.
    """
    value, theta, _ = _extreme_growth(x, y)
    return value, theta


def growth_sign(x, y) -> int:
    """+1 when the neurons with a > 0 escape first (max G ≥ −min G), −1 when those with a < 0 do."""
    return _extreme_growth(x, y)[2]


def _growth_candidates(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Every direction where G can reach an extreme (sector ends and the sectors' stationary points), and G there."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    boundaries = np.mod(np.concatenate((np.arctan2(-x, 1.0), np.arctan2(x, -1.0))), 2 * np.pi)
    boundaries = np.unique(np.concatenate((boundaries, [0.0])))
    ends = np.append(boundaries, boundaries[0] + 2 * np.pi)
    candidates = list(boundaries)
    for lo, hi in zip(ends[:-1], ends[1:]):
        mid = 0.5 * (lo + hi)
        active = np.cos(mid) * x + np.sin(mid) > 0
        c1, c2 = np.mean(y * x * active), np.mean(y * active)
        for direction in (math.atan2(c2, c1), math.atan2(-c2, -c1)):  # the sector's maximum and minimum
            theta = np.mod(direction, 2 * np.pi)
            for shift in (0.0, 2 * np.pi):
                if lo <= theta + shift <= hi:
                    candidates.append(theta + shift)
    theta = np.mod(np.array(candidates) + np.pi, 2 * np.pi) - np.pi
    return theta, growth_function(x, y, theta)


def _extreme_growth(x, y) -> tuple[float, float, int]:
    theta, values = _growth_candidates(x, y)
    high, low = int(np.argmax(values)), int(np.argmin(values))
    sign = 1 if values[high] >= -values[low] else -1
    best = high if sign > 0 else low
    return float(sign * values[best]), float(theta[best]), sign


def escape_directions(x, y, tolerance: float = 1e-9) -> tuple[np.ndarray, int]:
    """All directions θ (distinct, in (−π, π]) where the growth σ·G(θ) reaches G* (within ``tolerance``
    relative), and σ: for mirror-symmetric data G(θ) = G(π − θ), so both θ* and π − θ* escape together."""
    value, _, sign = _extreme_growth(x, y)
    theta, values = _growth_candidates(x, y)
    best = theta[sign * values >= value * (1 - tolerance)]
    distinct: list[float] = []
    for t in np.sort(best):
        if not any(abs(math.remainder(t - u, 2 * math.pi)) < 1e-9 for u in distinct):
            distinct.append(float(t))
    return np.array(distinct), sign


def plateau(x, y) -> tuple[float, np.ndarray]:
    """The plateau after the first escape: its risk R* and the network's values f* on the data.

    When the escaping neurons have condensed (their directions are the ``escape_directions`` θ*_k, their
    sign σ) and grown, the network is the K-neuron network f(x) = Σ_k c_k (cos θ_k · x + sin θ_k)_+ with
    σ c_k ≥ 0, near a minimum of its risk R = (1/2n) Σ_i (f(x_i) − y_i)²: the saddle the full network rests
    at until the next escape. It is found by L-BFGS from θ_k = θ*_k and the least-squares amplitudes there.
    For the seed data (θ* = π/2, all points active) it is the best constant, R* = (1/2n) Σ (y_i − ȳ)².
    """
    from scipy.optimize import minimize  # imported here: only the theory needs it

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    directions, sign = escape_directions(x, y)

    def features(theta):
        return np.maximum(np.multiply.outer(np.cos(theta), x) + np.sin(theta)[:, None], 0.0)  # (K, n)

    def risk_and_gradient(params):
        count = params.size // 2
        amplitude, theta = params[:count], params[count:]
        phi = features(theta)
        residual = amplitude @ phi - y
        slope = (np.multiply.outer(-np.sin(theta), x) + np.cos(theta)[:, None]) * (phi > 0)
        grad_amplitude = phi @ residual / x.size
        grad_theta = amplitude * (slope @ residual) / x.size
        return 0.5 * float(np.mean(residual**2)), np.concatenate((grad_amplitude, grad_theta))

    start_amplitude = np.linalg.lstsq(features(directions).T, y, rcond=None)[0]
    start_amplitude = np.maximum(sign * start_amplitude, 0.0) * sign
    bounds = [(0.0, None) if sign > 0 else (None, 0.0)] * directions.size + [(None, None)] * directions.size
    result = minimize(
        risk_and_gradient,
        np.concatenate((start_amplitude, directions)),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 10_000},
    )
    count = directions.size
    values = result.x[:count] @ features(result.x[count:])
    return 0.5 * float(np.mean((values - y) ** 2)), values


def has_escape_phase(gamma: float, gamma_prime: float) -> bool:
    """Whether the network starts in the small-output phase it escapes from: mκ·max(κ′, 1/κ′) → 0 as m grows,
    i.e. γ − 1 − |γ′| > 0 (docs/science.md §4)."""
    return gamma - 1 - abs(gamma_prime) > 0


def predicted_escape_slope(gamma: float, gamma_prime: float, x, y) -> float:
    """d s₁ / d ln m = (γ − 1 − |γ′|) / (2 G*), for γ − 1 − |γ′| > 0 (``has_escape_phase``); a ConfigError
    elsewhere (there is no escape phase, and the formula's slope, ≤ 0, means nothing) and when G* = 0 (all
    targets zero: nothing escapes)."""
    if not has_escape_phase(gamma, gamma_prime):
        raise invalid(
            "(gamma, gamma_prime)",
            (gamma, gamma_prime),
            "a point with γ − 1 − |γ′| > 0: elsewhere the network does not start in a small-output phase, so it "
            "has no escape time to predict",
        )
    value = g_star(x, y)[0]
    if value <= 0:
        raise invalid("y", np.asarray(y).tolist(), "targets with G* > 0 (not all zero): with G* = 0 nothing escapes")
    return (gamma - 1 - abs(gamma_prime)) / (2 * value)


def second_growth_rate(x, y) -> tuple[float, float]:
    """G₂* and its direction: ``g_star`` on the residuals y − f* of the first plateau (``plateau``), the
    rate at which small neurons grow while the network rests there."""
    _, values = plateau(x, y)
    return g_star(x, np.asarray(y, dtype=np.float64) - values)


def predicted_second_escape_slope(gamma: float, gamma_prime: float, x, y) -> float:
    """d s₂ / d ln m = (γ − 1 − |γ′|)·(1/(2G*) + 1/(2G₂*)): the second escape comes when neurons growing at
    G₂* from the initial scale reach O(1), counted from the first escape (docs/science.md §6). That those
    neurons keep their initial scale through the first phase is a hypothesis, not derived: an approximation
    for m ≲ 10⁴, where fits over m = 250 … 16 000 agree with it; the local slope keeps rising beyond
    (bench/escapes.md), towards ``straggler_second_escape_slope``."""
    first = predicted_escape_slope(gamma, gamma_prime, x, y)
    rate = second_growth_rate(x, y)[0]
    if rate <= 0:
        raise invalid("y", np.asarray(y).tolist(), "targets that the first plateau does not fit exactly (G₂* > 0)")
    return first + (gamma - 1 - abs(gamma_prime)) / (2 * rate)


def straggler_pool_rate(x, y) -> float:
    """c = G′ at the edge of the dead sector: the rate at which the pool of neurons that escape second thins
    during the first phase — for mirror-symmetric data with positive targets, the stragglers sit near the
    saddle whose kink is at the outermost data point x_o (a ≈ 0), where G′ = (1/n)·y_o·√(1 + x_o²)
    (√5/32 ≈ 0.070 for the seed data). The project's own hypothesis (docs/science.md §6), not derived."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or not np.allclose(np.sort(x), np.sort(-x)) or not np.all(y > 0):
        raise invalid("(x, y)", (x.tolist(), y.tolist()), "mirror-symmetric 1-D data with positive targets")
    outer = int(np.argmax(x))
    return float(y[outer] * math.sqrt(1 + x[outer] ** 2) / x.size)


def straggler_second_escape_slope(gamma: float, gamma_prime: float, x, y) -> float:
    """The hypothesised large-m slope of ŝ₂: (γ − 1 − |γ′|)·[1/(2G*) + (1 + c/(2G*))/(2G₂*)], with c the
    ``straggler_pool_rate``: the neurons that escape second start the plateau below their initial scale,
    by the factor m^(−(γ−1−|γ′|)·c/(2G*)) the first phase thinned them by (about 36.3 for the seed data,
    against 29.46 for ``predicted_second_escape_slope``). A hypothesis measured in bench/escapes.md."""
    first = predicted_escape_slope(gamma, gamma_prime, x, y)
    rate = second_growth_rate(x, y)[0]
    thinning = straggler_pool_rate(x, y) / (2 * g_star(x, y)[0])
    return first + (gamma - 1 - abs(gamma_prime)) * (1 + thinning) / (2 * rate)


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
            end = crossing(s, risk, (1 - drop) * level, start=j)
            escaped = math.isfinite(end)
            end = end if escaped else float(s[-1])
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
    risk = np.asarray(risk, dtype=np.float64)
    return crossing(s, risk, (1 - drop) * risk[0])


def crossing(s, risk, level: float, start: int = 0) -> float:
    """The first s (from index ``start`` on) where the risk falls below ``level``, interpolated linearly in
    (s, ln R) between the records on either side — not the record's s, which would quantise escape times to
    the record spacing (and, at large η, to whole GD steps); nan if it never does."""
    s = np.asarray(s, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    below = np.nonzero(risk[start:] < level)[0]
    if not below.size:
        return float("nan")
    i = start + int(below[0])
    if i == 0 or not (risk[i - 1] > 0 and risk[i] > 0):
        return float(s[i])
    before, after = math.log(risk[i - 1]), math.log(risk[i])
    fraction = (before - math.log(level)) / (before - after) if before > after else 1.0
    return float(s[i - 1] + min(max(fraction, 0.0), 1.0) * (s[i] - s[i - 1]))


def second_escape(s, risk, drop: float = 0.1, min_decades: float = 0.3) -> float:
    """ŝ₂: where the risk leaves the first plateau after the first escape (``plateaus``: the first s with
    R < (1 − drop)·level after it); nan when there is no such plateau or the risk never leaves it."""
    s = np.asarray(s, dtype=np.float64)
    after = first_escape(s, risk)
    if not math.isfinite(after):
        return float("nan")
    found = [p for p in plateaus(s, risk, drop=drop, min_decades=min_decades) if p.start >= after]
    return found[0].end if found and found[0].escaped else float("nan")


def second_escape_of(run) -> float:
    """ŝ₂ of a run on the clock s = η·k/α."""
    rec = run.records
    return second_escape(run.config.clock(rec["step"]), rec["risk"])


def first_escape_of(run) -> float:
    """ŝ of a run (a store's records) on the clock s = η·k/α: ``first_escape`` of its risk."""
    rec = run.records
    return first_escape(run.config.clock(rec["step"]), rec["risk"])


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


def fit_escape_times(points, min_widths: int = 2) -> SlopeFit | None:
    """The fit of escape times against ln m from (m, seed, ŝ) points, its interval clustered by seed
    (``fit_line``); points without an escape (nan) are left out; None with fewer than ``min_widths`` widths."""
    usable = [(m, seed, t) for m, seed, t in points if math.isfinite(t)]
    if len({m for m, _, _ in usable}) < min_widths:
        return None
    widths, seeds, times = zip(*usable)
    return fit_line(np.log(widths), times, clusters=seeds)


def fit_line(x, y, confidence: float = 0.95, clusters=None) -> SlopeFit:
    """Least-squares y = slope·x + intercept with a Student-t confidence interval on the slope.

    Repeated x values (several seeds per width) give the scatter the interval is estimated from.
    With only 2 points the line passes through both, there is no scatter, and the interval is
    undefined: slope_low and slope_high are nan, ``has_interval`` is False, ``describe()`` says so.

    ``clusters`` (one label per point, e.g. the seed): points of one cluster may be correlated — a seed's
    networks at several widths share their first neurons — so the slope's standard error is the
    cluster-robust one, (XᵀX)⁻¹ [Σ_g X_gᵀ e_g e_gᵀ X_g] (XᵀX)⁻¹ · G/(G − 1) · (N − 1)/(N − 2) with G clusters,
    and the t quantile has G − 1 degrees of freedom (needs G ≥ 2 and N ≥ 3).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    labels = None if clusters is None else np.asarray(clusters)
    if labels is not None and labels.shape != x.shape:
        raise invalid("clusters", labels.shape, f"one label per point, shape {x.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    labels = None if labels is None else labels[keep]
    if x.size < 2 or np.ptp(x) == 0:
        raise invalid("x", x.tolist(), "at least two distinct finite values to fit a line")
    slope, intercept = np.polyfit(x, y, 1)
    groups = None if labels is None else np.unique(labels)
    from scipy.special import stdtrit  # the Student-t quantile; imported here (0.3 s) only when needed

    residual = y - (slope * x + intercept)
    if x.size > 2 and groups is not None and groups.size >= 2:
        design = np.column_stack([np.ones_like(x), x])
        bread = np.linalg.inv(design.T @ design)
        scores = np.array([design[labels == g].T @ residual[labels == g] for g in groups])
        covariance = bread @ (scores.T @ scores) @ bread
        covariance *= groups.size / (groups.size - 1) * (x.size - 1) / (x.size - 2)
        stderr = math.sqrt(float(covariance[1, 1]))
        quantile = float(stdtrit(groups.size - 1, 0.5 + confidence / 2))
    elif x.size > 2:
        sigma = math.sqrt(float(residual @ residual) / (x.size - 2))
        stderr = sigma / math.sqrt(float(np.sum((x - x.mean()) ** 2)))
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
