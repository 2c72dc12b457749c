"""`make run` benchmark: the default study from an empty output folder, end to end (train, every
notebook, index), as `make run` runs it (chains side by side, one kernel per chain reset between its
notebooks), with a new kernel for every notebook (``--fresh-kernels``), and, as the baseline in the same
run, one notebook at a time each in a new kernel (``--jobs 1 --fresh-kernels``, how it first ran). The
numba kernels are compiled beforehand (as ``make`` does at install), so all measure the run, not the
compiler. Writes bench/run.md (``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_study(output: Path, *options: str) -> tuple[float, list[tuple[str, float]], str]:
    """Wall seconds of `relunet notebooks studies/default.yaml`, each notebook's seconds, the last line."""
    command = [
        str(Path(sys.executable).parent / "relunet"),
        "notebooks",
        str(ROOT / "studies" / "default.yaml"),
        "--output",
        str(output),
        *options,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    notebooks = [
        (match[1], float(match[2])) for match in re.finditer(r"\] (\S+ \S+): done in ([\d.]+) s", result.stdout)
    ]
    return seconds, notebooks, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/run.md")
    args = parser.parse_args()
    from relunet_support import engine

    engine.precompile([4])
    with tempfile.TemporaryDirectory() as folder:
        parallel, notebooks, last = run_study(Path(folder) / "parallel")
        print(f"make run {parallel:.1f} s", flush=True)
        fresh, fresh_notebooks, _ = run_study(Path(folder) / "fresh", "--fresh-kernels")
        print(f"a new kernel per notebook {fresh:.1f} s", flush=True)
        serial, serial_notebooks, _ = run_study(Path(folder) / "serial", "--jobs", "1", "--fresh-kernels")
        print(f"one at a time {serial:.1f} s", flush=True)
    lines = [
        "# `make run` benchmark",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores by `make bench` "
        "(`bench/bench_run.py`): `relunet notebooks studies/default.yaml` into an empty folder (every run trained, "
        "every notebook executed, `index.html` written), numba kernels already compiled.",
        "",
        "| how | wall time | notebooks |",
        "|---|---|---|",
        f"| `make run`: chains side by side (one per core), each in one kernel reset between its notebooks "
        f"| **{parallel:.0f} s** | {len(notebooks)} |",
        f"| chains side by side, a new kernel for every notebook (`--fresh-kernels`) | {fresh:.0f} s "
        f"| {len(fresh_notebooks)} |",
        f"| one notebook at a time, each in a new kernel (`--jobs 1 --fresh-kernels`), baseline | {serial:.0f} s "
        f"| {len(serial_notebooks)} |",
        "",
        f"Ratios: `make run` is {serial / parallel:.2f}× faster than the baseline, and {fresh / parallel:.2f}× faster "
        "than with a new kernel per notebook. Target (issue 10): `make run` ≤ 60 s after the install on 2 cores "
        "(before that issue it took 2–3.5 min, every notebook one after another).",
        "",
        "Each notebook as `make run` runs it (the first of a chain includes its kernel's start-up and imports):",
        "",
        "| notebook | seconds |",
        "|---|---|",
        *[f"| {name} | {seconds:.1f} |" for name, seconds in notebooks],
        "",
        f"Last line printed: `{last}`",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
