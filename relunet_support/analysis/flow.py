"""Is gradient descent at this η a faithful gradient flow?

The papers study gradient flow θ̇ = −∇R(θ); the suite runs GD, its Euler scheme with step η, whose
error against the flow is O(η). ``check_gradient_flow(run)`` re-runs the same initialisation with a step
η/q (q = 8 by default: q times the steps, the same times t = η·k) and estimates the run's error against
the flow by Richardson extrapolation of a first-order method:

    GD_η − GF ≈ (GD_η − GD_η/q) · q/(q − 1).

It compares what the science reads off a run while the network learns (up to the record where R falls
a decade below 10⁻³·R(0)): the escape times ŝ₁ and ŝ₂ (relative error), the risk (error of ln R over the
records where R ≥ 10⁻³·R(0) — the escapes and plateaus, not the converged tail, whose relative error grows
with time for any η) and f's extremes (error against max |f|). The estimates of ln R, f and ŝ₁ grow
linearly with η, so the verdict changes once along η (bench/flow.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from relunet_support import engine
from relunet_support.analysis import escapes

# the tolerances of a faithful flow
F_TOLERANCE = 0.01  # |Δf| ≤ 1 % of max |f|
LOG_RISK_TOLERANCE = 0.05  # |Δ ln R| ≤ 0.05 (5 % relative) while R ≥ RISK_FLOOR·R(0)
ESCAPE_TOLERANCE = 0.02  # |Δŝ|/ŝ ≤ 2 %
RISK_FLOOR = 1e-3


@dataclass(frozen=True)
class FlowCheck:
    learning_rate: float
    normalised_learning_rate: float
    factor: int  # the reference step is η/factor
    records_compared: int
    max_f_deviation: float  # estimated max |f_GD − f_flow| over the records (f_min and f_max); nan for d > 1
    f_scale: float  # max |f| over the records, for scale
    max_log_risk_deviation: float  # estimated max |ln R_GD − ln R_flow| where R ≥ RISK_FLOOR·R(0)
    escape_deviations: tuple[float, float]  # estimated |Δŝ₁|/ŝ₁, |Δŝ₂|/ŝ₂ (nan where the escape is not seen)

    @property
    def faithful(self) -> bool:
        """All within tolerance: |Δf| ≤ 1 % of max |f|, |Δ ln R| ≤ 0.05, escape times within 2 %."""
        escapes_ok = all(not math.isfinite(d) or d <= ESCAPE_TOLERANCE for d in self.escape_deviations)
        f_ok = math.isnan(self.f_scale) or self.max_f_deviation <= F_TOLERANCE * self.f_scale  # nan: not recorded
        return f_ok and self.max_log_risk_deviation <= LOG_RISK_TOLERANCE and escapes_ok

    def summary(self) -> str:
        verdict = "a faithful gradient flow" if self.faithful else "NOT a faithful gradient flow"
        first, second = (f"{100 * d:.2g} %" if math.isfinite(d) else "not seen" for d in self.escape_deviations)
        f_text = (
            "f not compared (no extremes recorded for d > 1)"
            if math.isnan(self.f_scale)
            else f"max |Δf| = {self.max_f_deviation:.2e} (max |f| = {self.f_scale:.3g})"
        )
        return (
            f"GD at η = {self.learning_rate:g} (η/α = {self.normalised_learning_rate:.3g}) against the flow "
            f"(estimated from η/{self.factor}, {self.records_compared} records): ŝ₁ off by {first}, ŝ₂ by {second}, "
            f"max |Δ ln R| = {self.max_log_risk_deviation:.2e}, {f_text} → {verdict} "
            "(tolerances: escapes 2 %, ln R 0.05, f 1 %)"
        )


def check_gradient_flow(run, factor: int = 8, backend: str = "numba") -> FlowCheck:
    """Re-run ``run``'s initialisation — its network, data, activation and input dimension — with η/factor
    over the same times and estimate the run's error against the gradient flow (module docstring); f's
    extremes are compared where the run records them (1-D inputs)."""
    if not (isinstance(factor, int) and factor >= 2):
        raise ValueError(f"factor={factor!r} is not allowed: factor must be an integer ≥ 2")
    config = run.config
    rec = run.records
    steps = rec["step"][1:]
    # compared while the network learns: up to the record a decade below the floor (the converged tail, often
    # most of a run's steps, would only make the reference costly)
    settled = np.nonzero(rec["risk"][1:] < 0.1 * RISK_FLOOR * rec["risk"][0])[0]
    if settled.size:
        steps = steps[: settled[0] + 1]
    a, w, b = (v.copy() for v in config.initial_parameters())
    finer_dynamics = config.dynamics().replace(learning_rate=config.learning_rate / factor, backend=backend)
    finer = engine.advance(
        a, w, b, finer_dynamics, n_steps=int(steps[-1]) * factor, record_offsets=steps * factor
    ).records
    count = finer["risk"].size
    extrapolate = factor / (factor - 1)
    coarse = {name: rec[name][1 : count + 1] for name in ("risk", "f_min", "f_max")}
    if config.records_extremes:
        f_dev = extrapolate * max(float(np.max(np.abs(coarse[k] - finer[k]), initial=0.0)) for k in ("f_min", "f_max"))
        f_scale = float(np.max(np.abs(np.concatenate((coarse["f_min"], coarse["f_max"]))), initial=0.0))
    else:  # inputs of dimension d > 1: no extremes of f are recorded, so f is not compared
        f_dev, f_scale = float("nan"), float("nan")
    dynamic = finer["risk"] >= RISK_FLOOR * rec["risk"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gap = np.abs(np.log(coarse["risk"][dynamic]) - np.log(finer["risk"][dynamic]))
    log_risk_dev = extrapolate * float(np.max(log_gap, initial=0.0))
    s = config.clock(steps[:count])
    escape_devs = []
    for measure in (escapes.first_escape, escapes.second_escape):
        run_time = measure(np.append(0.0, s), np.append(rec["risk"][0], coarse["risk"]))
        reference = measure(np.append(0.0, s), np.append(rec["risk"][0], finer["risk"]))
        escape_devs.append(extrapolate * abs(run_time - reference) / reference if reference > 0 else float("nan"))
    return FlowCheck(
        config.learning_rate,
        config.normalised_learning_rate,
        factor,
        count,
        f_dev,
        f_scale,
        log_risk_dev,
        (escape_devs[0], escape_devs[1]),
    )
