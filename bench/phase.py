"""The phase diagram's exponent S_w, measured against the theory: RD(θ_w*) over widths on Luo et al.'s setup.

Every (γ, γ′) of the paper preset (γ ∈ {0.5, 1, 1.75}, γ′ = −0.4 … 0.4) plus points of the linear regime with
γ > 1 and of the condensed regime at γ′ < 0 that the preset lacks. For each: S_w = the slope of ln RD(θ_w*)
against ln m (``phase.slope_over_widths``) for several seeds, mean and 95 % interval over seeds, fitted over
all widths and over m ≥ 400; beside it the finite-width prediction (``phase.predicted_slope``: the frozen-feature
dynamics in the linear regime), the m → ∞ exponent (``phase.theory_slope``) and the paper's estimate
(``phase.paper_estimate``). Writes bench/phase.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from relunet_support.analysis import phase
from relunet_support.analysis.escapes import fit_line
from relunet_support.network.scaling import regime

EXTRA_POINTS = ((0.6, 0.4), (0.8, 0.5), (1.25, 0.2), (1.25, 0.5), (1.5, 0.8), (1.5, -0.3), (1.25, -0.4))
SEEDS = (0, 1, 2)
FIRST_LARGE = 2  # index of m = 400 in the preset's widths


def _interval(slopes: list[float]) -> str:
    mean = float(np.mean(slopes))
    half = stats.t.ppf(0.975, len(slopes) - 1) * float(np.std(slopes, ddof=1)) / math.sqrt(len(slopes))
    return f"{mean:.3f} ({mean - half:.3f} … {mean + half:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/phase.md")
    args = parser.parse_args()
    started = time.perf_counter()
    widths = np.array(phase.PAPER["widths"])
    points = [(g, gp) for g in phase.PAPER["gammas"] for gp in phase.PAPER["gamma_primes"]] + list(EXTRA_POINTS)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gamma, gamma_prime in points:
            distances = [
                phase.slope_over_widths(gamma, gamma_prime, widths, seed=seed, tol=phase.PAPER["tol"])[0]
                for seed in SEEDS
            ]
            slopes = [fit_line(np.log(widths), np.log(d)).slope for d in distances]
            large = [fit_line(np.log(widths[FIRST_LARGE:]), np.log(d[FIRST_LARGE:])).slope for d in distances]
            predicted = phase.predicted_slope(gamma, gamma_prime, widths)
            predicted_large = phase.predicted_slope(gamma, gamma_prime, widths[FIRST_LARGE:])
            drawn = (
                phase.predicted_slope(gamma, gamma_prime, widths, seeds=SEEDS)
                if gamma < 1 and regime(gamma, gamma_prime) == "linear"
                else float("nan")
            )
            if gamma == 1 and gamma_prime < 0:  # the critical line: the output-weight share at the start
                drawn = float(
                    np.mean(
                        [
                            fit_line(
                                np.log(widths),
                                [-math.log1p(phase.output_weight_share(gamma, gamma_prime, m, s)) for m in widths],
                            ).slope
                            for s in SEEDS
                        ]
                    )
                )
            drawn_text = "–" if math.isnan(drawn) else f"{drawn:.3f} ({float(np.mean(slopes)) - drawn:+.3f})"
            rows.append(
                f"| ({gamma:g}, {gamma_prime:g}) | {regime(gamma, gamma_prime)} | {_interval(slopes)} | "
                f"{predicted:.3f} | {float(np.mean(slopes)) - predicted:+.3f} | {drawn_text} | {_interval(large)} | "
                f"{predicted_large:.3f} | {phase.theory_slope(gamma, gamma_prime):.3f} | "
                f"{phase.paper_estimate(gamma, gamma_prime):.3f} |"
            )
            print(rows[-1], flush=True)
    lines = [
        "# The phase diagram's exponent S_w: measured against the theory",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/phase.py` in "
        f"{time.perf_counter() - started:.0f} s: Luo et al.'s setup (y = x², antisymmetric init, 2m neurons), GD "
        f"at half the stability limit until R < {phase.PAPER['tol']:g}, widths {', '.join(map(str, widths))}, seeds "
        f"{', '.join(map(str, SEEDS))}. S_w is the slope of ln RD(θ_w*) against ln m: the mean over seeds with a "
        f"95 % interval (Student t), fitted over all widths and over m ≥ {widths[FIRST_LARGE]}.",
        "",
        "- *predicted*: `phase.predicted_slope` over the same widths — in the linear regime the slope of the",
        "  frozen-feature dynamics (tangent kernel plus the growth of the a_j, docs/science.md §2), elsewhere the",
        "  m → ∞ exponent;",
        "- *drawn networks' kernel* (γ < 1): `phase.predicted_slope(..., seeds=(0, 1, 2))`, the slope of",
        "  `phase.linearised_distance` — the same networks, trained as their linearisation (the finite-m tangent",
        "  kernel of each draw), mean over the seeds; on the critical line γ = 1, γ′ < 0: the slope of",
        "  −ln(1 + x(m)), x = `phase.output_weight_share` at the start (if RD_w ≈ RD_∞/(1 + x(m))); in brackets,",
        "  measured minus it;",
        "- *m → ∞*: `phase.theory_slope`, the derived exponent;",
        "- *paper's estimate*: what relunet used before this derivation — in the linear regime γ − 1 − max(γ′, 0),",
        "  for γ′ > 0 the exponent of an upper bound, not of the measured slope.",
        "",
        "| (γ, γ′) | regime | measured S_w, all widths | predicted | measured − predicted | drawn networks' kernel "
        "(measured − it) | measured, m ≥ 400 | predicted, m ≥ 400 | m → ∞ | paper's estimate |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Where they differ (tested with these bounds in `tests/test_science.py`): at γ = 0.5, γ′ < 0 the fits that",
        "include m = 100, 200 are steeper than predicted; the finite-m kernel of the drawn networks (the column",
        "beside) takes up 40–50 % of that gap, the rest (up to 0.046) is not explained here — GD changing activation",
        "patterns (kinks crossing data points), which the linearisation leaves out, is a candidate not measured",
        "here. On the critical line γ = 1, γ′ < 0 the output-weight share of the fit at the start explains only",
        "a small part of the measured slopes (the column beside): how that share evolves in training, or another",
        "mechanism, is not derived. On and next to the",
        "critical line γ = 1 only the leading order S_w = 0 is derived; in the condensed regime the measured slope",
        "lies above the m → ∞ exponent by a correction of order 1/RD, which grows toward the boundary γ′ = γ − 1;",
        "at (1.25, −0.4) the branch γ + γ′ ≤ 1 (S_w = γ − 1) needs m^(γ+γ′−1) ≪ 1, which is 0.5 … 0.27 here, and the",
        "measured 0.32 sits between it and the other branch's (γ − 1 − γ′)/2 = 0.325.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
