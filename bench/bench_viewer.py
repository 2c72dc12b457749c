"""Viewer benchmark: time per slider step, kernel side and in the browser, and the memory needed to open a wide run.

- Slider step, kernel side (no browser attached): from ``slider.value = k`` (the callback reads the
  snapshot, computes the diagnostics, updates the artists in place, blits them over the cached
  background and encodes the full frame the viewer's image sends) to its return; when the amplitude axis changed, the full redraw is included. m = 1000, 10³ snapshots;
  sequential scrubbing and random jumps. Beside it, the PNG encoding of one frame by ipympl's own
  encoder (PIL) and by ``fastpng`` (the viewer's), measured in the same run.
- In the browser (``bench/browser_viewer.py``): key press on the slider to the new frame shown, and
  Play's repaints per second, at m = 1000 and at m = 10⁵ (density image).
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

matplotlib.use("Agg")

import numpy as np

OPEN_WIDE = textwrap.dedent("""
    import os, sys, time
    import matplotlib
    matplotlib.use("Agg")
    from relunet_support.viewer import CondensationViewer
    before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    start = time.perf_counter()
    viewer = CondensationViewer(sys.argv[1])
    opened = time.perf_counter() - start
    times = []
    for position in (10, 500, 999, 3, 700, 250):
        start = time.perf_counter()
        viewer.slider.value = position  # the frame is drawn and its image encoded inside
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
    draws = {"n": 0}
    draw = canvas.draw

    def counted_draw():
        draws["n"] += 1
        draw()

    canvas.draw = counted_draw
    canvas.draw()
    last = viewer.slider.max
    walks = {"sequential scrub (every position, forward then back)": [*range(0, last + 1), *range(last, -1, -1)],
             f"random jumps ({samples})": np.random.default_rng(0).integers(0, last + 1, samples)}
    results = {}
    for name, positions in walks.items():
        times, first_draw = [], draws["n"]
        for position in positions:
            start = time.perf_counter()
            viewer.slider.value = int(position)  # blit (or full draw when the amplitude axis changed) + image
            times.append(time.perf_counter() - start)
        full = draws["n"] - first_draw
        results[name] = {"ms": np.percentile(times, [50, 95, 100]) * 1e3, "steps": len(times), "full": full}
    return {"m": m, "snapshots": run.n_snapshots, "walks": results, "png": png_encoders(viewer)}


def png_encoders(viewer) -> dict:
    """ms to encode one full frame of the viewer: PIL as ipympl calls it, and fastpng."""
    import io

    from PIL import Image

    from relunet_support.fastpng import encode_png

    pixels = viewer.frame_pixels()
    times = {}
    for name, encode in (("PIL (ipympl's encoder)", lambda: Image.fromarray(pixels).save(io.BytesIO(), format="png")),
                         ("fastpng (the viewer's)", lambda: encode_png(pixels))):
        runs = []
        for _ in range(30):
            start = time.perf_counter()
            encode()
            runs.append(time.perf_counter() - start)
        times[name] = float(np.median(runs) * 1e3)
    return {"pixels": pixels.shape[:2], "ms": times}


def browser(folder: Path) -> dict:
    """Slider-to-repaint latency and Play's frame rate in Chromium, m = 1000 and m = 10⁵."""
    import browser_viewer

    from relunet_support.train import TrainConfig, train

    if not browser_viewer.available():
        return {}
    results = {}
    for m, config in ((1000, TrainConfig(m=1000, learning_rate=1000 ** 1.5, n_steps=20_000, n_snapshots=1000)),
                      (100_000, TrainConfig(m=100_000, learning_rate=1e5 ** 1.5, n_steps=300, n_snapshots=100))):
        case = folder / f"browser_m{m}"
        train(config, case / "outputs" / "runs", progress=False)
        results[m] = browser_viewer.measure(case)
        print(m, results[m], flush=True)
    return results


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
        in_browser = browser(Path(folder))
    lines = [
        "# Viewer benchmark",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores by `make bench` "
        "(`bench/bench_viewer.py`).",
        "",
        "## In the browser: slider step to the new frame shown (JupyterLab + Chromium, Playwright)",
        "",
        "The right-arrow key on the focused slider handle, one snapshot per press; the time from the key press "
        "to the next frame decoded in the viewer's image (its load event, hooked in the page), over 60 presses. "
        "Then Play at 20 snapshots/s for 6 s from snapshot 300: readout updates (frames the kernel sent) and "
        "image loads (frames the browser decoded and showed) per second.",
        "",
        "| run | median | 95th percentile | worst | Play at 20/s: frames sent by the kernel per s | frames shown per s |",
        "|---|---|---|---|---|---|",
        *[f"| m = {m:,}{' (density image)' if m > 5000 else ''} | {r['latency_ms'][0]:.0f} ms | "
          f"{r['latency_ms'][1]:.0f} ms | {r['latency_ms'][2]:.0f} ms | {r['sent_fps']:.1f} | "
          f"{r['play_fps']:.1f} |" for m, r in in_browser.items()],
        *([] if in_browser else ["| not measured: Chromium is not installed (apt-get install chromium) | | | | | |"]),
        "",
        "Targets (issue 10): ≥ 20 frames/s at m = 1000 in the browser; a slider step at m = 10⁵ ≤ 150 ms. "
        "Frames sent are counted by the readout's text changes, which the browser may report together, "
        "so they can read slightly below the frames shown.",
        "",
        f"## Slider step, kernel side: m = {steps['m']:,}, {steps['snapshots']} snapshots",
        "",
        "From `slider.value = k` to the callback's return: read the snapshot, diagnostics, artists updated in place, "
        "blit, the whole frame encoded as the PNG the viewer's image sends (plus the full redraw when the amplitude axis changed — the axis top moves "
        "in steps of 1, 1.5, 2, 3, 5, 7.5 × 10^k, so sequential scrubbing rarely needs one, random jumps more often).",
        "",
        "| walk | steps | median | 95th percentile | worst | full redraws |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {w['steps']} | {w['ms'][0]:.1f} ms | {w['ms'][1]:.1f} ms | {w['ms'][2]:.0f} ms | {w['full']} |"
          for name, w in steps["walks"].items()],
        "",
        f"Encoding one full {steps['png']['pixels'][1]} × {steps['png']['pixels'][0]} frame (median of 30): "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in steps["png"]["ms"].items())
        + f" — fastpng is {list(steps['png']['ms'].values())[0] / list(steps['png']['ms'].values())[1]:.1f}× faster.",
        "",
        f"## Opening a wide run: m = {wide['m']:,}, {wide['snapshots']} snapshots "
        f"({wide['on_disk'] / 2**30:.2f} GiB of snapshots on disk)",
        "",
        f"- peak memory of the viewer process grew by **{wide['growth'] / 2**20:.0f} MiB** while opening the run and "
        f"scrubbing to 6 snapshots ({100 * wide['growth'] / wide['on_disk']:.1f} % of the snapshots' size): "
        "snapshots are read one chunk at a time.",
        f"- opening took {wide['open_s']:.2f} s; a slider step with render {wide['step_s'] * 1e3:.0f} ms, kernel side "
        "(the neuron panels are density images above 5,000 neurons).",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
