"""The cuda backend's kernels run under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), on the CPU.

``python tests/cuda_simulator_runs.py OUT.npz`` runs every scenario of ``scenarios()`` and saves what
the kernels computed; ``tests/test_cuda.py`` compares it with the numpy reference. The simulator runs
each GPU thread as a Python thread, so the networks are small and the blocks have 4 threads — enough
for several blocks per network, several neurons per thread and a ragged last chunk. The simulator can
synchronise only a one-block grid, so the persistent and resident kernels run one block per member.
"""

from __future__ import annotations

import sys

import numpy as np

THREADS = 4
X_SEED = np.array([-0.5, -1 / 6, 1 / 6, 0.5])
Y_SEED = np.array([0.25, 1 / 30, 1 / 30, 0.25])


def _network(m, kind, seed, scale=(1.0, 1.0, 1.0)):
    rng = np.random.default_rng(seed)
    if kind == "symmetric":
        a, w, b = rng.normal(size=(3, m // 2))
        return np.concatenate((a, a)) * scale[0], np.concatenate((w, -w)) * scale[1], np.concatenate((b, b)) * scale[2]
    a, w, b = rng.normal(size=(3, m))
    return a * scale[0], w * scale[1], b * scale[2]


def scenarios() -> dict:
    """name → (kind of call, a, w, b, x, y, alpha, learning_rate, n_steps, record offsets)."""
    x3 = np.array([-0.7, 0.1, 0.4])
    y3 = np.array([0.3, -0.2, 0.5])
    alpha24 = 24**1.5
    # a mirrored network all of whose neurons die at step 3 (the tests expect that outcome)
    dead = ("advance", *_network(24, "symmetric", 0, (1.0, 1.0, 1.0)), X_SEED, Y_SEED, alpha24,
            2000.0 * alpha24 / 117.57550765359255, 10, np.array([1, 3, 5]))  # fmt: skip
    ensemble = [np.stack(v) for v in zip(*[_network(20, "gaussian", s) for s in range(3)])]
    return {
        "plain": ("descend", *_network(26, "gaussian", 0), X_SEED, Y_SEED, 5.0, 2.0, 25, None),
        "mirrored": ("descend", *_network(24, "symmetric", 1), X_SEED, Y_SEED, 5.0, 2.0, 25, None),
        "three_points": ("descend", *_network(18, "gaussian", 2), x3, y3, 4.0, 6.0, 25, None),
        "ensemble": ("descend", *ensemble, X_SEED, Y_SEED, 5.0, 2.0, 15, None),
        "plain_persistent": ("descend", *_network(26, "gaussian", 0), X_SEED, Y_SEED, 5.0, 2.0, 25, None),
        "plain_resident": ("descend", *_network(26, "gaussian", 0), X_SEED, Y_SEED, 5.0, 2.0, 25, None),
        "ensemble_resident": ("descend", *ensemble, X_SEED, Y_SEED, 5.0, 2.0, 15, None),
        # the accuracy check, ≤ 1e-12 after 2000 steps (one launch: persistent)
        "long_persistent": ("descend", *_network(64, "gaussian", 7), X_SEED, Y_SEED, 512.0, 256.0, 2000, None),
        "records": ("advance", *_network(26, "gaussian", 3), X_SEED, Y_SEED, 5.0, 2.0, 20, np.array([1, 2, 7, 20])),
        "records_mirrored": ("advance", *_network(24, "symmetric", 4), X_SEED, Y_SEED, 5.0, 2.0, 12, np.array([3, 12])),
        "records_resident": (
            "advance",
            *_network(26, "gaussian", 3),
            X_SEED,
            Y_SEED,
            5.0,
            2.0,
            20,
            np.array([1, 2, 7, 20]),
        ),
        "dead": dead,
        "dead_at_start": (
            "advance",
            *_network(16, "gaussian", 5, (1.0, 0.0, 0.0)),
            X_SEED,
            Y_SEED,
            5.0,
            1.0,
            5,
            np.array([1, 2]),
        ),
        "diverged": (
            "advance",
            *_network(24, "gaussian", 6, (1e150, 1.0, 1.0)),
            X_SEED,
            Y_SEED,
            1.0,
            1.0,
            10,
            np.array([1, 2, 3]),
        ),
        "dead_resident": dead,  # the same network on the resident kernel
    }


def launch_mode(name: str) -> str:
    """The scenario's launch mode: its name's suffix, else the simulator's default (stepwise)."""
    for mode in ("persistent", "resident"):
        if name.endswith(mode):
            return mode
    return "auto"


def thread_safe_simulated_shared_arrays() -> None:
    """Work around a race in numba-cuda's CUDA simulator: ``cuda.shared.array`` looks its block's
    array up in a dict by the calling line and creates it when missing, unlocked, so two threads can
    each create their own array and then no longer share it (seen in the tests: a block's reduction
    went wrong in about 1 run in 10 under load). The same lookup, under a lock."""
    import sys
    import threading

    import numpy as np
    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    lock = threading.Lock()
    dynamic = kernelapi.FakeCUDAShared.array

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return dynamic(self, shape, dtype, alignment)  # no dict there
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            if key not in self._allocations:
                self._allocations[key] = np.empty(shape, dtype)
            return self._allocations[key]

    kernelapi.FakeCUDAShared.array = array


def _run_all(path: str) -> None:
    sys.setswitchinterval(5e-5)  # the simulator's scheduler polls its threads: switch often
    from relunet_support.engine import _cuda

    assert _cuda.simulated(), "run with NUMBA_ENABLE_CUDASIM=1"
    thread_safe_simulated_shared_arrays()
    out = {}
    for name, (call, a, w, b, x, y, alpha, eta, n_steps, offsets) in scenarios().items():
        state = [v.copy() for v in (a, w, b)]
        launch = dict(threads=THREADS, mode=launch_mode(name))
        if call == "descend":
            _cuda.descend(*state, x, y, alpha, eta, n_steps, **launch)
            if name == "plain":  # twice: deterministic; and one network of the ensemble alone
                again = [v.copy() for v in (a, w, b)]
                _cuda.descend(*again, x, y, alpha, eta, n_steps, threads=THREADS)
                out["plain_again"] = np.stack(again)
            if name == "ensemble":
                alone = [v[1].copy() for v in (a, w, b)]
                _cuda.descend(*alone, x, y, alpha, eta, n_steps, threads=THREADS)
                out["ensemble_member_1_alone"] = np.stack(alone)
        else:
            records = {key: np.full(offsets.size, np.nan) for key in ("risk", "f_min", "f_max", "rd_w", "rd_a")}
            with np.errstate(all="ignore"):
                steps, written, status = _cuda.advance(
                    *state,
                    x,
                    y,
                    alpha=alpha,
                    learning_rate=eta,
                    n_steps=n_steps,
                    record_offsets=offsets,
                    records=records,
                    interval=(-0.5, 0.5),
                    initial=(a, w, b),
                    **launch,
                )
            out[f"{name}_outcome"] = np.array([steps, written, status])
            for key, values in records.items():
                out[f"{name}_{key}"] = values
            if name == "records":  # the same steps without records: launch boundaries change nothing
                plain = [v.copy() for v in (a, w, b)]
                _cuda.descend(*plain, x, y, alpha, eta, n_steps, threads=THREADS)
                out["records_unsegmented"] = np.stack(plain)
        out[name] = np.stack(state)
    np.savez(path, **out)


if __name__ == "__main__":
    _run_all(sys.argv[1])
