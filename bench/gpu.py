"""GPU benchmark: µs per GD step of the cuda backend against JAX (jit + lax.scan, float64), same run.

    python bench/gpu.py --out bench/gpu.md          # on a machine with an NVIDIA GPU (a few minutes)
    NUMBA_ENABLE_CUDASIM=1 python bench/gpu.py --smoke --out /tmp/gpu.md   # the script itself, on a CPU

For m ∈ {800, 10⁴, 10⁵, 10⁶} and S ∈ {1, 64} networks trained together (seed data, n = 4, γ = 3/2,
η = α, Gaussian init: every neuron simulated, as JAX does), each engine first runs 200 steps from the
same start (their final states are compared), then a timed stretch of steps sized to ~0.3 s.
Memory bandwidth: a device-to-device copy, bytes read + written, measured in the same run. The
cuda backend reads and writes (a, w, b) once per step: 48 bytes per neuron-step.

Targets (issue 6, on an H100/H200): m = 10⁶, S = 1 at ≤ 15 µs per step and ≥ 3× faster than JAX;
m = 10⁶, S = 64 at ≥ 70 % of the measured bandwidth. The table names the card.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX shares the GPU with numba-cuda

from relunet_support.engine import _cuda  # noqa: E402
from relunet_support.network import init, scaling  # noqa: E402

X = np.array([-1 / 2, -1 / 6, 1 / 6, 1 / 2])
Y = np.array([1 / 4, 1 / 30, 1 / 30, 1 / 4])
BYTES_PER_NEURON_STEP = 48  # a, w, b: 8 bytes each, read and written
CHECK_STEPS = 200
# (mode, threads per block, blocks per SM) tried at m = 10⁶ (the default: auto, 256, 2). 'resident'
# needs the network to fit in the grid's shared memory (S = 1 only): within 48 KiB per block with
# many blocks, or with fewer blocks after the opt-in to more shared memory (e.g. 512 threads, 1 per SM).
CONFIGURATIONS = [
    ("auto", 256, 2),
    ("persistent", 256, 1),
    ("persistent", 128, 4),
    ("persistent", 256, 4),
    ("resident", 512, 1),
    ("resident", 256, 2),
    ("resident", 128, 5),
    ("resident", 64, 8),
    ("stepwise", 256, 2),
]


def start(m: int, members: int, kind: str = "gaussian") -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    alpha, beta1, beta2 = scaling.alpha_beta(m, 1.5, 0.0)
    params = [init.initial_parameters(m, beta1, beta2, kind, np.random.default_rng(seed)) for seed in range(members)]
    a, w, b = (np.stack(v) for v in zip(*params))
    return alpha, a, w, b


def seconds(run, sync) -> float:
    sync()
    began = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - began


def measured_bandwidth(cuda, n_bytes: int) -> float:
    """Bytes per second of a device-to-device copy, counting bytes read and written (best of 5)."""
    source = cuda.to_device(np.ones(n_bytes // 8))
    target = cuda.device_array_like(source)
    best = min(seconds(lambda: target.copy_to_device(source), cuda.synchronize) for _ in range(5))
    return 2 * n_bytes / best


def timed_steps(engine, budget_s: float) -> tuple[float, int]:
    """µs per step over a stretch of steps sized, from a short trial, to take about budget_s."""
    trial_steps = engine.chunk
    engine.prepare(trial_steps)
    trial = seconds(lambda: engine.run(trial_steps), engine.sync)
    n_steps = max(trial_steps, min(200_000, int(budget_s / trial * trial_steps)))
    n_steps -= n_steps % engine.chunk
    engine.prepare(n_steps)
    return seconds(lambda: engine.run(n_steps), engine.sync) / n_steps * 1e6, n_steps


class Relunet:
    chunk = 20  # steps per timed trial (any number of steps is one launch)

    threads = _cuda.DEFAULT_THREADS

    def __init__(self, alpha, a, w, b, mirror=False, **options):
        options.setdefault("threads", self.threads)
        self.state = _cuda.DeviceState(a, w, b, X, Y, alpha, alpha, mirror=mirror, **options)

    def prepare(self, n_steps):
        pass

    def run(self, n_steps):
        self.state.run(n_steps)

    def sync(self):
        self.state.synchronize()

    def result(self):
        return np.stack(self.state.to_host())


class Jax:
    """The same GD step written for XLA: vmap over members, lax.scan over steps, jit, float64."""

    def __init__(self, alpha, a, w, b):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        x, y = jnp.asarray(X), jnp.asarray(Y)
        scale = alpha / (alpha * X.size)  # η c_i = η r_i /(nα) with η = α

        def step(theta, _):
            def one(a, w, b):
                pre = w[:, None] * x[None, :] + b[:, None]
                act = jnp.maximum(pre, 0.0)
                coef = (act.T @ a / alpha - y) * scale
                on = (pre > 0.0).astype(pre.dtype)
                return a - act @ coef, w - a * (on @ (coef * x)), b - a * (on @ coef)

            return jax.vmap(one)(*theta), None

        # one compiled scan of `chunk` steps, called n/chunk times (the dispatch cost is then < 1 %)
        self.chunk = min(CHECK_STEPS, 200 if a.size <= 10**6 else 100)
        self.scan = jax.jit(lambda theta: jax.lax.scan(step, theta, None, length=self.chunk)[0])
        self.theta = tuple(jnp.asarray(v) for v in (a, w, b))
        self.scan(self.theta)[0].block_until_ready()  # compile before any timing

    def prepare(self, n_steps):
        assert n_steps % self.chunk == 0

    def run(self, n_steps):
        for _ in range(n_steps // self.chunk):
            self.theta = self.scan(self.theta)

    def sync(self):
        self.theta[0].block_until_ready()

    def result(self):
        return np.stack([np.asarray(v) for v in self.theta])


def measure(engine_factory, alpha, a, w, b, budget_s):
    """(µs per step, steps timed, final state after CHECK_STEPS steps from the start, the engine)."""
    engine = engine_factory(alpha, a, w, b)
    engine.run(CHECK_STEPS)
    engine.sync()
    result = engine.result()
    us, n_steps = timed_steps(engine, budget_s)
    return us, n_steps, result, engine


def card(cuda) -> str:
    if _cuda.simulated():
        return "numba CUDA simulator (CPU) — a smoke run, not a measurement"
    return f"{_cuda.describe()['cuda_device']}, {cuda.get_current_device().MULTIPROCESSOR_COUNT} SMs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/gpu.md")
    parser.add_argument("--widths", default="800,10000,100000,1000000")
    parser.add_argument("--members", default="1,64")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per timed stretch")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the script (simulator)")
    args = parser.parse_args()
    if args.smoke:
        args.widths, args.members, args.budget = "32", "1,2", 0.05
        Relunet.threads = 4  # the simulator runs a Python thread per GPU thread
        global CHECK_STEPS
        CHECK_STEPS = 10
    from numba import cuda

    reason = _cuda.unavailable_reason()
    if reason:
        sys.exit(f"bench/gpu.py: {reason}")
    try:
        import jax

        jax_version = jax.__version__
    except ImportError:
        jax, jax_version = None, None
    widths = [int(v) for v in args.widths.split(",")]
    member_counts = [int(v) for v in args.members.split(",")]
    bandwidth = measured_bandwidth(cuda, 2**20 if args.smoke else 2**30)
    print(f"{card(cuda)}; copy bandwidth {bandwidth / 1e9:.0f} GB/s", flush=True)

    rows = []
    for members in member_counts:
        for m in widths:
            alpha, a, w, b = start(m, members)
            row = {"m": m, "S": members}
            row["relunet_us"], row["relunet_steps"], ours, engine = measure(Relunet, alpha, a, w, b, args.budget)
            row["mode"] = engine.state.mode  # what 'auto' chose
            if members == 1:  # the project's default init: mirror-symmetric, half the neurons simulated
                alpha_s, a_s, w_s, b_s = start(m, 1, "symmetric")
                row["mirrored_us"], *_ = measure(
                    lambda *p: Relunet(*p, mirror=True),
                    alpha_s,
                    a_s[:, : m // 2],
                    w_s[:, : m // 2],
                    b_s[:, : m // 2],
                    args.budget,
                )
            if jax is not None:
                try:
                    row["jax_us"], row["jax_steps"], theirs, _ = measure(Jax, alpha, a, w, b, args.budget)
                    row["max_relative_difference"] = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
                except Exception as error:  # noqa: BLE001 - e.g. out of memory: reported, the rest goes on
                    row["jax_error"] = f"{type(error).__name__}: {str(error)[:200]}"
            row["bandwidth_fraction"] = BYTES_PER_NEURON_STEP * members * m / (row["relunet_us"] * 1e-6) / bandwidth
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_table(args.out, card(cuda), bandwidth, rows, [], None, jax_version)  # partial results kept

    sweep = []
    sweep_width = widths[-1] if args.smoke else 1_000_000
    if sweep_width in widths:  # launch configurations for m = 10⁶
        for members in member_counts:
            alpha, a, w, b = start(sweep_width, members)
            for mode, threads, blocks_per_sm in CONFIGURATIONS:
                if mode in ("stepwise", "resident") and members > 1:
                    continue
                threads = Relunet.threads if args.smoke else threads
                chosen = mode
                try:
                    us, _, _, engine = measure(
                        lambda *p, mode=mode, threads=threads, blocks_per_sm=blocks_per_sm: Relunet(
                            *p, mode=mode, threads=threads, blocks_per_sm=blocks_per_sm
                        ),
                        alpha,
                        a,
                        w,
                        b,
                        args.budget,
                    )
                    us = f"{us:.3g} ({100 * BYTES_PER_NEURON_STEP * members * sweep_width / (us * 1e-6) / bandwidth:.0f} %)"
                    if mode == "auto":
                        chosen = f"auto → {engine.state.mode}"
                except Exception as error:  # noqa: BLE001 - a configuration the card refuses is reported
                    us = f"failed: {type(error).__name__}: {error}"
                sweep.append((members, chosen, threads, blocks_per_sm, us))
                print(sweep[-1], flush=True)
                write_table(args.out, card(cuda), bandwidth, rows, sweep, sweep_width, jax_version)

    write_table(args.out, card(cuda), bandwidth, rows, sweep, sweep_width, jax_version)
    print(f"wrote {args.out}")


def write_table(path, card_name, bandwidth, rows, sweep, sweep_width, jax_version) -> None:
    import numba

    def fmt(value):
        return "—" if value is None else f"{value:.3g}"

    lines = [
        "# GPU benchmark",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on **{card_name}** by `bench/gpu.py`; "
        f"Python {platform.python_version()}, numba {numba.__version__}, JAX {jax_version or 'not installed'}. "
        f"Device-to-device copy: **{bandwidth / 1e9:.0f} GB/s** (read + written). All numbers from this one run.",
        "",
        "µs per GD step (seed data, n = 4, γ = 3/2, η = α, Gaussian init; S networks trained together; "
        f"relunet launch mode: {', '.join(sorted({str(row['mode']) for row in rows}))}, "
        f"{_cuda.DEFAULT_THREADS} threads per block, {_cuda.DEFAULT_BLOCKS_PER_SM} blocks per SM).",
        "",
        "| m | S | relunet cuda | relunet, mirrored init (m/2 simulated) | JAX jit + scan | relunet vs JAX | "
        f"bandwidth used | max rel. diff. vs JAX after {CHECK_STEPS} steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        speedup = f"**{row['jax_us'] / row['relunet_us']:.1f}×**" if "jax_us" in row else "—"
        jax_us = row["jax_error"] if "jax_error" in row else fmt(row.get("jax_us"))
        lines.append(
            f"| {row['m']:,} | {row['S']} | {fmt(row['relunet_us'])} | {fmt(row.get('mirrored_us'))} | "
            f"{jax_us} | {speedup} | {100 * row['bandwidth_fraction']:.0f} % | "
            f"{fmt(row.get('max_relative_difference'))} |"
        )
    if sweep:
        lines += [
            "",
            f"Launch configurations at m = {sweep_width:,} (µs per step, and the share of the bandwidth):",
            "",
            "| S | mode | threads per block | blocks per SM | µs per step (bandwidth) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {members} | {mode} | {threads} | {blocks} | {us} |" for members, mode, threads, blocks, us in sweep
        ]
    by_key = {(row["m"], row["S"]): row for row in rows}
    lines += ["", "Targets (issue 6, H100/H200):", ""]
    single, ensemble = by_key.get((1_000_000, 1)), by_key.get((1_000_000, 64))
    if single:
        ratio = single["jax_us"] / single["relunet_us"] if "jax_us" in single else float("nan")
        verdict = "met" if single["relunet_us"] <= 15 and ratio >= 3 else "NOT met"
        lines.append(
            f"- m = 10⁶, S = 1: {single['relunet_us']:.3g} µs per step (≤ 15) and {ratio:.1f}× JAX (≥ 3): "
            f"**{verdict}**."
        )
    if ensemble:
        verdict = "met" if ensemble["bandwidth_fraction"] >= 0.7 else "NOT met"
        lines.append(
            f"- m = 10⁶, S = 64: {100 * ensemble['bandwidth_fraction']:.0f} % of the measured bandwidth "
            f"(≥ 70 %): **{verdict}**."
        )
    lines.append("")
    tmp = Path(f"{path}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
