"""How the condensation counts depend on the detector's thresholds.

For each threshold of ``condensation.orientation_clusters`` varied alone around its default: on random
initial parameters (the false positives: 40 draws each of m = 100, 1000, 10 000, Gaussian and symmetric
init), and on the seed study at η/α = 0.05, m = 1000, seeds 0–2, up to s = 300: the first s with a condensed
cluster (the first escape is at ŝ₁ ≈ 7), the count on the first plateau (s = 50) and at the end (s = 300).
Writes bench/condensation.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from relunet_support.analysis import condensation, escapes
from relunet_support.network import init
from relunet_support.runs.train import TrainConfig, train

DEFAULTS = {
    "mass": 0.9,
    "bandwidth": 0.1,
    "max_spread": 0.3,
    "min_weight": 0.05,
    "concentration": 3.0,
    "significance": 4.0,
}
VARIATIONS = {
    "mass": (0.8, 0.95),
    "bandwidth": (0.05, 0.2),
    "max_spread": (0.2, 0.4),
    "min_weight": (0.03, 0.1),
    "concentration": (2.0, 5.0),
    "significance": (2.0, 6.0),
}
RATE = 0.05


def false_positives(thresholds: dict) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    found = draws = 0
    for m in (100, 1000, 10_000):
        for kind in ("gaussian", "symmetric"):
            for _ in range(40):
                a, w, b = init.initial_parameters(m, 1.0, 1.0, kind, rng)
                found += bool(condensation.orientation_clusters(a, w, b, **thresholds))
                draws += 1
    return found, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/condensation.md")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = [("defaults", DEFAULTS)] + [
        (f"{name} = {value:g}", {**DEFAULTS, name: value}) for name, values in VARIATIONS.items() for value in values
    ]
    with tempfile.TemporaryDirectory() as scratch:
        runs = [
            train(
                TrainConfig.from_normalised(1000, RATE, 6000, seed=seed, n_records=3000, n_snapshots=300),
                scratch,
                progress=False,
            )
            for seed in range(3)
        ]
        first_escapes = [escapes.first_escape_of(run) for run in runs]
        rows = []
        for label, thresholds in settings:
            found, draws = false_positives(thresholds)
            firsts, plateau_counts, final_counts = [], [], []
            for run in runs:
                s = RATE * run.snapshot_steps
                counts = [len(condensation.orientation_clusters(*run.snapshot(i), **thresholds)) for i in range(s.size)]
                condensed = [time for time, count in zip(s, counts) if count]
                firsts.append(condensed[0] if condensed else float("nan"))
                plateau_counts.append(counts[int(np.argmin(abs(s - 50)))])
                final_counts.append(counts[-1])
            rows.append(
                f"| {label} | {found} of {draws} | {', '.join(f'{t:.3g}' for t in firsts)} | "
                f"{', '.join(map(str, plateau_counts))} | {', '.join(map(str, final_counts))} |"
            )
    lines = [
        "# Condensation counts against the detector's thresholds",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/condensation.py` in "
        f"{time.perf_counter() - started:.0f} s. Defaults: "
        + ", ".join(f"{k} = {v:g}" for k, v in DEFAULTS.items())
        + f", min_size = 3. Seed study runs: m = 1000, η/α = {RATE}, seeds 0, 1, 2; their first escapes ŝ₁ = "
        + ", ".join(f"{t:.3g}" for t in first_escapes)
        + ".",
        "",
        "| thresholds | random inits with a cluster (false positives) | first s with a cluster | "
        "clusters at s = 50 (plateau) | clusters at s = 300 |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
