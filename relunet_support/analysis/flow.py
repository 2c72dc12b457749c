"""Is gradient descent at this η a faithful gradient flow?

The papers study gradient flow θ̇ = −∇R(θ); the suite runs GD, its Euler scheme with step η, whose
error is O(η). ``check_gradient_flow(run)`` re-runs the same initialisation with η/2 (twice the steps,
so the same times t = η·k) and compares the records: the difference between the two estimates half
the error of the run against the flow (Richardson: GD_η − GF ≈ 2·(GD_η − GD_η/2)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support import engine


@dataclass(frozen=True)
class FlowCheck:
    learning_rate: float
    normalised_learning_rate: float
    records_compared: int
    max_f_deviation: float  # max over records of |Δ f_min|, |Δ f_max| (GD at η vs GD at η/2)
    f_scale: float  # max |f| over the records, for scale
    max_risk_deviation: float  # max relative |Δ R| over records with R > 1e-10·R(0)

    @property
    def faithful(self) -> bool:
        """Within 1 % of f's scale and 5 % in risk: GD at this η tracks the gradient flow."""
        return self.max_f_deviation <= 0.01 * self.f_scale and self.max_risk_deviation <= 0.05

    def summary(self) -> str:
        verdict = "a faithful gradient flow" if self.faithful else "NOT a faithful gradient flow"
        return (
            f"GD at η = {self.learning_rate:g} (η/α = {self.normalised_learning_rate:.3g}) vs η/2 over "
            f"{self.records_compared} records: max |Δf| = {self.max_f_deviation:.2e} (max |f| = {self.f_scale:.3g}), "
            f"max relative ΔR = {self.max_risk_deviation:.2e} → {verdict}"
        )


def check_gradient_flow(run, factor: int = 2, backend: str = "numba") -> FlowCheck:
    """Re-run ``run``'s initialisation with η/factor over the same times and compare the records."""
    config = run.config
    rec = run.records
    steps = rec["step"][1:]
    x, y = config.training_data()
    a, w, b = (v.copy() for v in config.initial_parameters())
    finer = engine.advance(
        a,
        w,
        b,
        x,
        y,
        alpha=config.alpha,
        learning_rate=config.learning_rate / factor,
        n_steps=int(steps[-1]) * factor,
        record_offsets=steps * factor,
        interval=config.interval,
        backend=backend,
    ).records
    count = finer["risk"].size
    coarse = {name: rec[name][1 : count + 1] for name in ("risk", "f_min", "f_max")}
    f_dev = max(float(np.max(np.abs(coarse[k] - finer[k]), initial=0.0)) for k in ("f_min", "f_max"))
    f_scale = float(np.max(np.abs(np.concatenate((coarse["f_min"], coarse["f_max"]))), initial=0.0))
    meaningful = coarse["risk"] > 1e-10 * rec["risk"][0]
    risk_dev = float(
        np.max(np.abs(coarse["risk"] - finer["risk"])[meaningful] / coarse["risk"][meaningful], initial=0.0)
    )
    return FlowCheck(config.learning_rate, config.normalised_learning_rate, count, f_dev, f_scale, risk_dev)
