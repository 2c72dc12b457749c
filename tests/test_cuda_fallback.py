"""The cuda backend without a cooperative launch: one launch per step, with a warning (CUDA simulator)."""

import json
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


# ----- the cuda backend: without a cooperative launch, one launch per step (with a warning) ----------------------

# Run under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) in a subprocess. The simulator itself takes the
# stepwise path without asking; here `_cuda.simulated` answers False so that the launch plan asks the "device"
# (the simulator's, given 2 multiprocessors) for a cooperative grid, and the persistent kernel's compile fails the
# way it does where the driver cannot link the grid barrier. Prints JSON: the warnings, the mode and launch counts,
# and the final states of the fallback run, of the simulator's own stepwise run (the same grid) and of its
# cooperative (persistent) run.
_COOPERATIVE_FALLBACK = """
import json, sys, warnings
import numpy as np
from numba.cuda.simulator.cudadrv.devices import FakeCUDADevice
from relunet_support.engine import Dynamics, _cuda
from tests.cuda_simulator_runs import THREADS, X_SEED, Y_SEED, _network, thread_safe_simulated_shared_arrays

sys.setswitchinterval(5e-5)
thread_safe_simulated_shared_arrays()
assert _cuda.simulated()
FakeCUDADevice.MULTIPROCESSOR_COUNT = 2
kernels = _cuda.kernels(X_SEED.size, False, THREADS)  # the dict every DeviceState of these sizes uses
launches = {"stepwise": 0, "persistent": 0}

class Counted:
    def __init__(self, name, kernel, refuse=False):
        self.name, self.kernel, self.refuse = name, kernel, refuse
    def __getitem__(self, configuration):
        launches[self.name] += 1
        return self.kernel[configuration]
    def compile(self, signature):
        if self.refuse:
            raise RuntimeError("cannot link the grid barrier: libcudadevrt.a not found")
        return self.kernel.compile(signature)

real = dict(kernels)
kernels["stepwise"] = Counted("stepwise", real["stepwise"])
kernels["persistent"] = Counted("persistent", real["persistent"], refuse=True)
a, w, b = _network(26, "gaussian", 0)
n_steps, out = 25, {}
_cuda.simulated = lambda: False  # a device, not the simulator: ask it for a cooperative launch
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    state = _cuda.DeviceState(a, w, b, X_SEED, Y_SEED, 5.0, 2.0, threads=THREADS)
    out["mode"], out["grid"] = state.mode, list(state.grid)
    state.run(n_steps)
    fallback = np.stack(state.to_host())
    guarded = [v.copy() for v in (a, w, b)]  # advance (train's path): the run stops on its own at n_steps
    records = {key: np.full(3, np.nan) for key in ("risk", "f_min", "f_max", "rd_w", "rd_a")}
    outcome = _cuda.advance(*guarded, Dynamics(X_SEED, Y_SEED, 5.0, 2.0, backend="cuda"), n_steps=n_steps,
                            record_offsets=np.array([1, 7, n_steps]), records=records, initial=(a, w, b),
                            threads=THREADS)
out["warnings"] = [[type(c.message).__name__, str(c.message)] for c in caught]
out["launches"] = dict(launches)
_cuda.simulated = lambda: True
kernels.update(real)
plain = [v.copy() for v in (a, w, b)]
_cuda.descend(*plain, Dynamics(X_SEED, Y_SEED, 5.0, 2.0), n_steps, threads=THREADS)  # the simulator's stepwise run
cooperative = [v.copy() for v in (a, w, b)]
_cuda.descend(*cooperative, Dynamics(X_SEED, Y_SEED, 5.0, 2.0), n_steps, threads=THREADS, mode="persistent")
out.update(start=np.stack((a, w, b)).tolist(), fallback=fallback.tolist(), guarded=np.stack(guarded).tolist(),
           outcome=list(outcome), records={k: v.tolist() for k, v in records.items()},
           stepwise=np.stack(plain).tolist(), cooperative=np.stack(cooperative).tolist())
print(json.dumps(out))
"""


@pytest.mark.slow  # the CUDA simulator, in a subprocess
def test_cuda_without_a_cooperative_launch_falls_back_to_one_launch_per_step_with_a_warning():
    """User guide (GPU engine): where the device or driver cannot launch cooperatively, it falls back to one launch per
    step, with a warning — and computes what the cooperative launch computes (1e-12, the user guide's tolerance), bit
    for bit the simulator's own stepwise run on the same grid; `advance` (train's path) too, records and all."""
    import os
    import sys

    from relunet_support.engine import Dynamics, advance, descend
    from tests.cuda_simulator_runs import X_SEED, Y_SEED

    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-c", _COOPERATIVE_FALLBACK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    warned = [message for kind, message in seen["warnings"] if kind == "RuntimeWarning"]
    assert len(warned) == 2 and all(
        "cooperative launch unavailable" in m and "libcudadevrt" in m and "one launch per step" in m for m in warned
    ), seen["warnings"]  # once for descend's state, once for advance's
    assert seen["mode"] == "stepwise" and seen["grid"] == [4, 1]
    assert seen["launches"]["persistent"] == 0 and seen["launches"]["stepwise"] == 2 * 25  # one launch per step
    start, fallback, cooperative = (np.array(seen[key]) for key in ("start", "fallback", "cooperative"))
    reference = np.stack(descend(*start, Dynamics(X_SEED, Y_SEED, 5.0, 2.0, backend="numpy"), 25))
    assert np.max(np.abs(fallback - start)) > 1e-3  # it did train
    for other in (cooperative, reference):
        assert np.max(np.abs(fallback - other)) <= 1e-12 * np.max(np.abs(other))
    np.testing.assert_array_equal(fallback, np.array(seen["stepwise"]))  # the same grid: the same bits
    state = [v.copy() for v in start]
    advanced = advance(
        *state,
        Dynamics(X_SEED, Y_SEED, 5.0, 2.0, backend="numpy"),
        n_steps=25,
        record_offsets=np.array([1, 7, 25]),
        initial=tuple(start),
    )
    assert seen["outcome"] == [advanced.steps, 3, advanced.status] == [25, 3, 0]
    np.testing.assert_array_equal(np.array(seen["guarded"]), fallback)
    for key, values in seen["records"].items():
        np.testing.assert_allclose(values, advanced.records[key], rtol=1e-11, err_msg=key)
