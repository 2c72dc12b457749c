"""The cuda backend's kernels run under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), on the CPU.

``python tests/cuda_simulator_runs.py OUT.npz GROUP`` runs every scenario of ``scenarios()[GROUP]``
('relu': the 1-D ReLU kernels; 'general': the other activations and inputs of d > 1) and saves what
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


def _inputs(n, d, seed):
    """n points uniform in [−1, 1]^d (shape (n,) for d = 1) and targets y = sin(3 Σ_k x_k)."""
    x = np.random.default_rng(100 + seed).uniform(-1.0, 1.0, (n, d))
    return (x[:, 0] if d == 1 else x), np.sin(3.0 * x.sum(axis=1))


def _general(m, d, seed, scale=(1.0, 1.0, 1.0)):
    """a, b (m,) and w (m,) for d = 1, (m, d) otherwise, standard normal times ``scale``."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, m))
    w = rng.normal(size=(m, d))
    return a * scale[0], (w[:, 0] if d == 1 else w) * scale[1], b * scale[2]


def general_scenarios() -> dict:
    """name → (kind of call, a, w, b, x, y, alpha, learning_rate, n_steps, record offsets, activation):
    every activation for 2000 steps on one block (the issue's ≤ 1e-12 check; d of 1, 2 and 5 among them),
    then several blocks with a ragged chunk, the resident cache, an ensemble, records, and the guards."""
    ensemble = [np.stack(v) for v in zip(*[_general(9, 2, s) for s in (21, 22, 23)])]
    tanh_d1, relu_d2 = _general(10, 1, 17), _general(6, 2, 20)
    huge_a, zero_wb = _general(8, 2, 18, (1e150, 1.0, 1.0)), _general(8, 2, 19, (1.0, 0.0, 0.0))
    return {
        "long_relu_d2": ("descend", *_general(6, 2, 10), *_inputs(6, 2, 0), 3.0, 0.3, 2000, None, "relu"),
        "long_leaky_relu_d5": ("descend", *_general(6, 5, 11), *_inputs(6, 5, 1), 3.0, 0.3, 2000, None, "leaky_relu"),
        "long_tanh_d5": ("descend", *_general(6, 5, 12), *_inputs(6, 5, 2), 3.0, 0.3, 2000, None, "tanh"),
        "long_xtanh_d1": ("descend", *_general(6, 1, 13), *_inputs(6, 1, 3), 3.0, 0.1, 2000, None, "xtanh"),
        "long_x2tanh_d2": ("descend", *_general(6, 2, 14), *_inputs(6, 2, 4), 3.0, 0.02, 2000, None, "x2tanh"),
        "tanh_d2_blocks": ("descend", *_general(13, 2, 15), *_inputs(5, 2, 5), 3.0, 1.0, 30, None, "tanh"),
        "xtanh_d3_resident": ("descend", *_general(10, 3, 16), *_inputs(5, 3, 6), 3.0, 0.5, 30, None, "xtanh"),
        "tanh_d2_ensemble": ("descend", *ensemble, *_inputs(5, 2, 7), 3.0, 1.0, 20, None, "tanh"),
        "tanh_d1_records": ("advance", *tanh_d1, *_inputs(5, 1, 8), 3.0, 1.0, 20, np.array([1, 5, 20]), "tanh"),
        "relu_d2_records": ("advance", *relu_d2, *_inputs(5, 2, 9), 3.0, 1.0, 20, np.array([2, 20]), "relu"),
        "x2tanh_d2_diverged": ("advance", *huge_a, *_inputs(5, 2, 10), 1.0, 1.0, 10, np.array([1, 2]), "x2tanh"),
        "relu_d2_dead_at_start": ("advance", *zero_wb, *_inputs(5, 2, 11), 3.0, 1.0, 5, np.array([1]), "relu"),
    }


def scenarios() -> dict:
    """name → (kind of call, a, w, b, x, y, alpha, learning_rate, n_steps, record offsets, activation):
    the 1-D ReLU scenarios and ``general_scenarios()``."""
    return {**{name: (*s, "relu") for name, s in relu_scenarios().items()}, **general_scenarios()}


GROUPS = {"relu": lambda: {name: (*s, "relu") for name, s in relu_scenarios().items()}, "general": general_scenarios}


def relu_scenarios() -> dict:
    """name → (kind of call, a, w, b, x, y, alpha, learning_rate, n_steps, record offsets) for 1-D ReLU."""
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
    """The scenario's launch mode: its name's suffix (the long runs: persistent), else the simulator's default
    (stepwise)."""
    if name.startswith("long"):
        return "persistent"
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


def _run_all(path: str, group: str) -> None:
    sys.setswitchinterval(5e-5)  # the simulator's scheduler polls its threads: switch often
    from relunet_support.engine import Dynamics, _cuda

    assert _cuda.simulated(), "run with NUMBA_ENABLE_CUDASIM=1"
    thread_safe_simulated_shared_arrays()
    out = {}
    for name, (call, a, w, b, x, y, alpha, eta, n_steps, offsets, activation) in GROUPS[group]().items():
        state = [v.copy() for v in (a, w, b)]
        # one thread per block for the long runs: the simulator's barriers cost less (they stay one block)
        launch = dict(threads=1 if name.startswith("long") else THREADS, mode=launch_mode(name))
        dynamics = Dynamics(x, y, alpha, eta, activation=activation, backend="cuda")
        if call == "descend":
            _cuda.descend(*state, dynamics, n_steps, **launch)
            if name == "plain":  # twice: deterministic; and one network of the ensemble alone
                again = [v.copy() for v in (a, w, b)]
                _cuda.descend(*again, dynamics, n_steps, threads=THREADS)
                out["plain_again"] = np.stack(again)
            if name in ("ensemble", "tanh_d2_ensemble"):
                alone = [v[1].copy() for v in (a, w, b)]
                _cuda.descend(*alone, dynamics, n_steps, threads=THREADS)
                out[f"{name}_member_1_alone"] = _flat(alone)
        else:
            records = {key: np.full(offsets.size, np.nan) for key in ("risk", "f_min", "f_max", "rd_w", "rd_a")}
            with np.errstate(all="ignore"):
                steps, written, status = _cuda.advance(
                    *state,
                    dynamics,
                    n_steps=n_steps,
                    record_offsets=offsets,
                    records=records,
                    initial=(a, w, b),
                    **launch,
                )
            out[f"{name}_outcome"] = np.array([steps, written, status])
            for key, values in records.items():
                out[f"{name}_{key}"] = values
            if name == "records":  # the same steps without records: launch boundaries change nothing
                plain = [v.copy() for v in (a, w, b)]
                _cuda.descend(*plain, dynamics, n_steps, threads=THREADS)
                out["records_unsegmented"] = np.stack(plain)
        out[name] = _flat(state)
    np.savez(path, **out)


def _flat(state) -> np.ndarray:
    """(a, w, b) as one array: stacked when w has a's shape, else concatenated along the last axis of
    (a, b and w with its coordinate axis folded into the neurons' one)."""
    a, w, b = state
    if np.shape(w) == np.shape(a):
        return np.stack(state)
    return np.concatenate((a, b, np.reshape(w, (*np.shape(a)[:-1], -1))), axis=-1)


if __name__ == "__main__":
    _run_all(sys.argv[1], sys.argv[2])
