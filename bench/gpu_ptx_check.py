"""Compile the cuda backend's kernels (every activation, d = 1 and 5) for a GPU architecture without a GPU, and
report their registers.

    pip install 'numba-cuda[cu13]'          # NVVM and NVRTC from PyPI (not in the dev extra)
    python bench/gpu_ptx_check.py --cc 9.0 --threads 256 [--ptxas ptxas]

numba-cuda types device functions for the current device; with no device, this script tells it the
compute capability instead (a patch of numba-cuda's dispatcher, for this check only). Each kernel's
PTX is then assembled by ``ptxas -v`` (CUDA toolkit) for its registers and spills, if ptxas is found
(without the launch bounds the kernels get on a GPU, which cap the registers per thread).
This catches typing and compile errors in the kernels before a GPU session, which the CUDA simulator
(it runs the kernels as Python) cannot.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", default="9.0", help="compute capability, e.g. 9.0 (H100/H200)")
    parser.add_argument("--threads", type=int, default=256)
    parser.add_argument("--n", type=int, default=4, help="data points")
    parser.add_argument("--ptxas", default=shutil.which("ptxas"))
    parser.add_argument("--out", help="also write the report to this markdown file (e.g. bench/gpu_ptx.md)")
    args = parser.parse_args()
    cc = tuple(int(v) for v in args.cc.split("."))

    import numba.cuda.dispatcher as dispatcher
    from numba import boolean, cuda, float64, int64
    from numba import types as nt

    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    from relunet_support.engine._cuda_kernels import build

    matrix, vector = nt.Array(float64, 2, "C"), nt.Array(float64, 1, "C")
    partials, control = nt.Array(float64, 4, "C"), nt.Array(int64, 1, "C")
    steps = (matrix, matrix, matrix, vector, vector, float64, float64, int64, int64, boolean, partials, control)
    signatures = {
        "forward": (matrix, matrix, matrix, vector, int64, partials),
        "persistent": steps,
        "resident": steps,
        "stepwise": steps,
        "finish": (vector, float64, int64, boolean, partials, control, matrix),
    }
    failed = False
    reports = []
    # 1-D ReLU with and without the mirror, then every other activation and ReLU with d of 1 and 5
    variants = [("relu", 1, False), ("relu", 1, True), ("relu", 5, False)] + [
        (activation, d, False) for activation in ("leaky_relu", "tanh", "xtanh", "x2tanh") for d in (1, 5)
    ]
    for activation, d, mirror in variants:
        kernels = build(args.n, mirror, args.threads, 1, activation, d)
        for name, signature in signatures.items():
            ptx, _ = cuda.compile_ptx(kernels[name].py_func, signature, cc=cc)
            report = f"{name:10s} {activation:10s} d={d} mirror={mirror!s:5s} PTX {len(ptx):6d} chars"
            if args.ptxas:
                with tempfile.TemporaryDirectory() as folder:
                    source = Path(folder) / "kernel.ptx"
                    # an older ptxas accepts the newer PTX ISA version number for this code
                    source.write_text(re.sub(r"^\.version \d+\.\d+", ".version 8.0", ptx, flags=re.M))
                    result = subprocess.run(
                        [
                            args.ptxas,
                            f"-arch=sm_{cc[0]}{cc[1]}",
                            "-v",
                            "--compile-only",
                            str(source),
                            "-o",
                            str(Path(folder) / "kernel.cubin"),
                        ],
                        capture_output=True,
                        text=True,
                    )
                usage = re.findall(r"Used \d+ registers|\d+ bytes spill stores", result.stderr)
                failed |= result.returncode != 0
                report += f": {', '.join(usage)}" if result.returncode == 0 else f": ptxas failed\n{result.stderr}"
            print(report, flush=True)
            reports.append(report)
    if args.out:
        import datetime as dt

        import numba_cuda

        lines = [
            "# The cuda kernels compiled for a GPU without one",
            "",
            f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/gpu_ptx_check.py --cc {args.cc} "
            f"--threads {args.threads} --n {args.n}` (numba-cuda {numba_cuda.__version__}; ptxas: "
            f"{args.ptxas or 'not found'}): each kernel's PTX for sm_{cc[0]}{cc[1]}, assembled by ptxas without the "
            "launch bounds it gets on a GPU. "
            + ("Every kernel compiled." if not failed else "**Some kernels failed to compile.**"),
            "",
            "```",
            *reports,
            "```",
            "",
        ]
        Path(args.out).write_text("\n".join(lines))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
