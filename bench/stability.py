"""Measure the largest stable normalised learning rate η/α of GD at (γ, γ′) = (3/2, 0).

For each width m and η/α on a grid, train the seed data (mirror-symmetric init, seed 0) up to the
natural time s = η·k/α = 3000 (past the second escape and into convergence), recording the risk at every step. A run counts as stable when it
completes (no dead network, no divergence) and its risk never increases from one step to the next
by more than 1e-9 relative (while the risk is above 1e-20: below, rounding noise). The largest stable η/α found for every width is the limit
``relunet_support.network.scaling.STABLE_NORMALISED_LEARNING_RATE``. Writes bench/stability.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np

from relunet_support.errors import TrainingDiverged
from relunet_support.runs.train import TrainConfig, train

WIDTHS = (100, 400, 1600)
GRID = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)


def classify(m: int, eta0: float, out: Path, seed: int = 0) -> str:
    n_steps = math.ceil(3000 / eta0)
    config = TrainConfig(m=m, learning_rate=eta0 * m**1.5, n_steps=n_steps, record_every=1, n_snapshots=2, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            run = train(config, out, progress=False)
        except TrainingDiverged:
            return "diverged"
    risk = run.records["risk"]
    if run.status != "complete":
        return f"{run.status} at step {run.step}"
    # rises once the risk is at rounding level (≲ 1e-20) are noise, not instability
    rises = np.nonzero((risk[1:] > risk[:-1] * (1 + 1e-9)) & (risk[:-1] > 1e-20))[0]
    final = f"final R {risk[-1]:.0e}"
    return f"stable ({final})" if rises.size == 0 else f"risk rises at {rises.size} steps ({final})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/stability.md")
    args = parser.parse_args()
    table = {}
    with tempfile.TemporaryDirectory() as folder:
        for m in WIDTHS:
            for eta0 in GRID:
                table[m, eta0] = classify(m, eta0, Path(folder))
                print(m, eta0, table[m, eta0], flush=True)
    limits = {
        m: max([eta0 for eta0 in GRID if table[m, eta0].startswith("stable")], default=float("nan")) for m in WIDTHS
    }
    lines = [
        "# Stability of gradient descent in natural units (γ = 3/2, γ′ = 0)",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/stability.py` "
        "(seed data, mirror-symmetric init, seed 0, up to s = η·k/α = 3000, risk recorded every step).",
        "",
        "| η/α | " + " | ".join(f"m = {m}" for m in WIDTHS) + " |",
        "|---|" + "---|" * len(WIDTHS),
    ]
    for eta0 in GRID:
        lines.append(f"| {eta0:g} | " + " | ".join(table[m, eta0] for m in WIDTHS) + " |")
    lines += [
        "",
        "Largest η/α with a monotone risk: " + ", ".join(f"m = {m}: {limits[m]:g}" for m in WIDTHS) + ".",
        "",
        "`relunet_support.network.scaling.STABLE_NORMALISED_LEARNING_RATE` = 2: `train()` warns above it (the risk",
        "then rises at some steps, though it may still converge); beyond about 10 every neuron dies.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
