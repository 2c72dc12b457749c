"""Viewer benchmark: time per slider step and the memory needed to open a wide run.

- Slider step, kernel side, on ipympl's own canvas (no browser attached): from ``slider.value = k``
  (the callback reads the snapshot, computes the diagnostics, updates the artists in place and blits
  them over the cached background, which makes ipympl encode and send the PNG diff) to the canvas
  update; when an axis range had to grow, the full redraw that ipympl then performs is included.
  m = 1000, 10³ snapshots; sequential scrubbing and random jumps.
- Opening a run of m = 10⁵ with 10³ snapshots (2.4 GB on disk) and scrubbing it: the growth of the
  viewer process's peak memory (VmHWM), measured in a fresh process.
Writes bench/viewer.md (``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import numpy as np

OPEN_WIDE = textwrap.dedent("""
    import os, sys, time
    import matplotlib
    matplotlib.use("module://ipympl.backend_nbagg")
    from relunet_support.viewer import CondensationViewer
    before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    start = time.perf_counter()
    viewer = CondensationViewer(sys.argv[1])
    opened = time.perf_counter() - start
    times = []
    for position in (10, 500, 999, 3, 700, 250):
        start = time.perf_counter()
        viewer.slider.value = position
        if viewer._background is None:
            viewer.fig.canvas.draw()
        viewer.fig.canvas.get_diff_image()
        times.append(time.perf_counter() - start)
    peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print("RESULT", before, peak, opened, sorted(times)[len(times) // 2])
""")


def slider_steps(out: Path, m: int = 1000, samples: int = 100) -> dict:
    from relunet_support.train import TrainConfig, train
    from relunet_support.viewer import CondensationViewer

    config = TrainConfig(m=m, learning_rate=m ** 1.5, n_steps=20_000, n_snapshots=1000)
    run = train(config, out, progress=False)
    viewer = CondensationViewer([run])
    canvas = viewer.fig.canvas
    canvas.draw()
    canvas.get_diff_image()
    last = viewer.slider.max
    walks = {"sequential scrub (every position, forward then back)": [*range(0, last + 1), *range(last, -1, -1)],
             f"random jumps ({samples})": np.random.default_rng(0).integers(0, last + 1, samples)}
    results = {}
    for name, positions in walks.items():
        times, full = [], 0
        for position in positions:
            start = time.perf_counter()
            viewer.slider.value = int(position)
            if viewer._background is None:  # an axis range grew: ipympl redraws the whole figure
                canvas.draw()
                full += 1
            canvas.get_diff_image()
            times.append(time.perf_counter() - start)
        results[name] = {"ms": np.percentile(times, [50, 95, 100]) * 1e3, "steps": len(times), "full": full}
    return {"m": m, "snapshots": run.n_snapshots, "walks": results}


def open_wide(out: Path, m: int = 100_000) -> dict:
    from relunet_support.train import TrainConfig, train

    config = TrainConfig(m=m, learning_rate=float(m) ** 1.5, n_steps=999, snapshot_every=1, record_every=1)
    run = train(config, out, progress=False)
    on_disk = run.n_snapshots * m * 3 * 8
    result = subprocess.run([sys.executable, "-c", OPEN_WIDE, str(out)], capture_output=True, text=True, check=True)
    line = [line for line in result.stdout.splitlines() if line.startswith("RESULT")][-1].split()[1:]
    before, peak, opened, step = int(line[0]), int(line[1]), float(line[2]), float(line[3])
    return {"m": m, "snapshots": run.n_snapshots, "on_disk": on_disk, "growth": peak - before,
            "open_s": opened, "step_s": step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/viewer.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        steps = slider_steps(Path(folder) / "narrow")
        print(steps, flush=True)
        wide = open_wide(Path(folder) / "wide")
        print(wide, flush=True)
    lines = [
        "# Viewer benchmark",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores by `make bench` "
        "(`bench/bench_viewer.py`).",
        "",
        f"## Slider step, m = {steps['m']:,}, {steps['snapshots']} snapshots, ipympl canvas",
        "",
        "Callback to canvas update: read the snapshot, diagnostics, artists updated in place, blit, PNG diff "
        "encoded by ipympl (plus the full redraw when an axis range had to change — sequential scrubbing rarely needs one, random jumps between early and late snapshots often do).",
        "",
        "| walk | steps | median | 95th percentile | worst | full redraws |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {w['steps']} | {w['ms'][0]:.1f} ms | {w['ms'][1]:.1f} ms | {w['ms'][2]:.0f} ms | {w['full']} |"
          for name, w in steps["walks"].items()],
        "",
        "Target (issue 4): ≤ 50 ms per slider step at m = 1000.",
        "",
        f"## Opening a wide run: m = {wide['m']:,}, {wide['snapshots']} snapshots "
        f"({wide['on_disk'] / 2**30:.2f} GiB of snapshots on disk)",
        "",
        f"- peak memory of the viewer process grew by **{wide['growth'] / 2**20:.0f} MiB** while opening the run and "
        f"scrubbing to 6 snapshots ({100 * wide['growth'] / wide['on_disk']:.1f} % of the snapshots' size): "
        "snapshots are read one chunk at a time.",
        f"- opening took {wide['open_s']:.2f} s; a slider step with render {wide['step_s'] * 1e3:.0f} ms "
        "(two scatter plots of 10⁵ points).",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
