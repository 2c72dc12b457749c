"""The cuda backend.

Its kernels run here, on the CPU, under numba's CUDA simulator: every scenario of
``cuda_simulator_runs.py`` is compared with the numpy reference. Where no GPU is, asking for the
backend must fail clearly and write nothing. The device tests need a GPU and are the only tests
skipped without one (with the records test of test_engine.py; on a GPU machine:
``bash bench/gpu_device_check.sh``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relunet_support.engine import Dynamics, _cuda, advance, descend
from relunet_support.errors import BackendUnavailable

from .conftest import NO_GPU, needs_gpu, network
from .cuda_simulator_runs import _flat, general_scenarios, scenarios

RECORD_NAMES = ("risk", "f_min", "f_max", "rd_w", "rd_a")


def relative_error(u, v) -> float:
    return float(np.max(np.abs(u - v)) / np.max(np.abs(v)))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict:
    """Both groups of scenarios, each in its own simulator process, the two at once."""
    folder = tmp_path_factory.mktemp("cudasim")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    script = Path(__file__).with_name("cuda_simulator_runs.py")
    processes = {
        group: subprocess.Popen(
            [sys.executable, str(script), str(folder / f"{group}.npz"), group],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for group in ("relu", "general")
    }
    runs = {}
    for group, process in processes.items():
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-4000:]
        with np.load(folder / f"{group}.npz", allow_pickle=False) as saved:
            runs.update(saved)
    return runs


def numpy_reference(name: str):
    """(final state, (steps, written, status), records) of a scenario by the numpy backend."""
    call, a, w, b, x, y, alpha, eta, n_steps, offsets, activation = scenarios()[name]
    if call == "descend":
        return (
            _flat(descend(a, w, b, Dynamics(x, y, alpha, eta, activation=activation, backend="numpy"), n_steps)),
            None,
            None,
        )
    state = [v.copy() for v in (a, w, b)]
    with np.errstate(all="ignore"):
        advanced = advance(
            *state,
            Dynamics(x, y, alpha, eta, activation=activation, backend="numpy"),
            n_steps=n_steps,
            record_offsets=offsets,
            initial=(a, w, b),
        )
    records = advanced.records
    return _flat(state), (advanced.steps, records["risk"].size, advanced.status), records


@pytest.mark.parametrize(
    "name",
    [
        "plain",
        "mirrored",
        "three_points",
        "ensemble",
        "plain_persistent",
        "plain_resident",
        "ensemble_resident",
        "long_persistent",
    ],
)
@pytest.mark.slow
def test_simulated_kernels_match_numpy(simulated, name):
    expected, _, _ = numpy_reference(name)
    start = _flat(scenarios()[name][1:4])
    assert relative_error(simulated[name], expected) <= 1e-12
    assert relative_error(simulated[name], start) > 1e-3  # the parameters did move


@pytest.mark.parametrize("name", [name for name, s in general_scenarios().items() if s[0] == "descend"])
@pytest.mark.slow  # the CUDA simulator
def test_simulated_general_kernels_match_numpy(simulated, name):
    """Every activation and d ∈ {1, 2, 3, 5}: within 1e-12 of the numpy reference (after 2000 steps for the
    long runs), on one block, several blocks with a ragged last chunk, the resident cache, an ensemble."""
    expected, _, _ = numpy_reference(name)
    assert relative_error(simulated[name], expected) <= 1e-12
    assert relative_error(simulated[name], _flat(scenarios()[name][1:4])) > 1e-3  # the parameters did move


@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_runs_are_deterministic_and_members_independent(simulated):
    np.testing.assert_array_equal(simulated["plain"], simulated["plain_again"])
    np.testing.assert_array_equal(simulated["ensemble"][:, 1], simulated["ensemble_member_1_alone"])
    np.testing.assert_array_equal(simulated["tanh_d2_ensemble"][1], simulated["tanh_d2_ensemble_member_1_alone"])


@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_resident_kernel_is_the_persistent_kernel_bit_for_bit(simulated):
    """Keeping the chunk in shared memory changes where the numbers live, not one bit of them."""
    np.testing.assert_array_equal(simulated["plain_resident"], simulated["plain_persistent"])


@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_mirror_stays_exact(simulated):
    a, w, b = simulated["mirrored"]
    np.testing.assert_array_equal(a[:12], a[12:])
    np.testing.assert_array_equal(w[:12], -w[12:])
    np.testing.assert_array_equal(b[:12], b[12:])


@pytest.mark.parametrize(
    "name, outcome",
    [
        ("records", (20, 4, 0)),
        ("records_mirrored", (12, 2, 0)),
        ("records_resident", (20, 4, 0)),
        ("dead", (3, 2, 2)),
        ("dead_resident", (3, 2, 2)),
        ("dead_at_start", (0, 0, 2)),
        ("diverged", (1, 0, 1)),
        ("tanh_d1_records", (20, 3, 0)),
        ("relu_d2_records", (20, 2, 0)),
        ("x2tanh_d2_diverged", (1, 0, 1)),
        ("relu_d2_dead_at_start", (0, 0, 2)),
    ],
)
@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_advance_matches_numpy(simulated, name, outcome):
    """Steps, status, records and the final state, against the numpy reference; the expected outcome
    (steps, records written, status) pins what each scenario is about (complete, dead, diverged)."""
    state, reference_outcome, records = numpy_reference(name)
    assert tuple(simulated[f"{name}_outcome"]) == reference_outcome == outcome
    written = outcome[1]
    for key in RECORD_NAMES:
        np.testing.assert_allclose(simulated[f"{name}_{key}"][:written], records[key], rtol=1e-11, err_msg=key)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(simulated[name], state, rtol=1e-12, atol=1e-300)


@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_record_steps_change_no_bit(simulated):
    """advance stops the GPU at each record step; the arithmetic is the same as one long run."""
    np.testing.assert_array_equal(simulated["records"], simulated["records_unsegmented"])


@pytest.mark.parametrize(
    "option, value, allowed",
    [
        ("mode", "fast", "'auto', 'resident', 'persistent', 'stepwise'"),
        ("threads", 48, "power of two"),
        ("blocks_per_sm", 0, "positive integer"),
    ],
)
def test_launch_options_are_checked_first(seed_data, option, value, allowed):
    from relunet_support.errors import ConfigError

    alpha, a, w, b = network(m=8)
    with pytest.raises(ConfigError, match=f"{option}={value!r} is not allowed: .*{allowed}"):
        _cuda.DeviceState(a, w, b, *seed_data, alpha, 1.0, **{option: value})


# --- where no GPU is --------------------------------------------------------------------------


@pytest.mark.skipif(NO_GPU is None, reason="a GPU is here")
def test_without_a_gpu_the_error_says_why_and_what_to_do(seed_data):
    alpha, a, w, b = network(m=8)
    with pytest.raises(
        BackendUnavailable,
        match=r"backend='cuda' is not available here: .*relunet\[gpu\].*"
        r"backend='numba'",
    ):
        descend(a, w, b, Dynamics(*seed_data, alpha, 1.0, backend="cuda"), 1)


@pytest.mark.slow  # the command line in a child process
@pytest.mark.skipif(NO_GPU is None, reason="a GPU is here")
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_without_a_gpu_train_writes_nothing_and_the_cli_exits_2(tmp_path, activation):
    from relunet_support.runs.train import TrainConfig, train

    config = TrainConfig(m=40, learning_rate=100.0, n_steps=10, backend="cuda", activation=activation)
    with pytest.raises(BackendUnavailable):
        train(config, tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()  # no folder, no lock file
    result = subprocess.run(
        [
            sys.executable,
            *"-m relunet_support.jobs.cli train --m 40 --learning-rate 100 --steps 10 --backend cuda --out".split(),
            str(tmp_path / "cli"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "backend='cuda' is not available here" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cli").exists()


# --- on a GPU ---------------------------------------------------------------------------------


@needs_gpu
@pytest.mark.parametrize("kind", ["symmetric", "gaussian"])
def test_gpu_matches_numpy_after_2000_steps(seed_data, kind):
    x, y = seed_data
    alpha, a, w, b = network(m=800, kind=kind)
    gpu = np.stack(descend(a, w, b, Dynamics(x, y, alpha, 70.0, backend="cuda"), 2000))
    reference = np.stack(descend(a, w, b, Dynamics(x, y, alpha, 70.0, backend="numpy"), 2000))
    assert relative_error(gpu, reference) <= 1e-12
    assert relative_error(gpu, np.stack((a, w, b))) > 1e-6


@needs_gpu
def test_gpu_ensemble_and_wide_network_match_numba(seed_data):
    x, y = seed_data
    rng = np.random.default_rng(4)
    members = rng.normal(size=(3, 16, 800)) * np.array([1e-3, 1.0, 1.0])[:, None, None]
    gpu = np.stack(descend(*members, Dynamics(x, y, 800**1.5, 500.0, backend="cuda"), 300))
    cpu = np.stack(descend(*members, Dynamics(x, y, 800**1.5, 500.0, backend="numba"), 300))
    assert relative_error(gpu, cpu) <= 1e-12
    alone = np.stack(descend(*members[:, 5], Dynamics(x, y, 800**1.5, 500.0, backend="cuda"), 300))
    np.testing.assert_array_equal(gpu[:, 5], alone)
    alpha, a, w, b = network(m=200_000, kind="gaussian", seed=2)
    gpu = np.stack(descend(a, w, b, Dynamics(x, y, alpha, alpha, backend="cuda"), 100))
    cpu = np.stack(descend(a, w, b, Dynamics(x, y, alpha, alpha, backend="numba"), 100))
    assert relative_error(gpu, cpu) <= 1e-12


@needs_gpu
def test_gpu_is_deterministic_and_launch_modes_agree_bit_for_bit(seed_data):
    x, y = seed_data
    alpha, a, w, b = network(m=50_000, kind="gaussian", seed=1)
    finals = []
    for mode in ("persistent", "persistent", "stepwise"):
        state = _cuda.DeviceState(a, w, b, x, y, alpha, 0.5 * alpha, mode=mode)
        state.run(200)
        finals.append(np.stack(state.to_host()))
    np.testing.assert_array_equal(finals[0], finals[1])
    np.testing.assert_array_equal(finals[0], finals[2])


@needs_gpu
def test_gpu_training_matches_numba_training(tmp_path):
    from relunet_support.runs.train import TrainConfig, train  # (the run store needs zarr)

    runs = {
        backend: train(
            TrainConfig(m=200, learning_rate=1000.0, n_steps=3000, n_records=50, n_snapshots=5, backend=backend),
            tmp_path / backend,
            progress=False,
        )
        for backend in ("cuda", "numba")
    }
    assert runs["cuda"].status == runs["numba"].status == "complete"
    assert "cuda_device" in runs["cuda"].attrs["versions"] and runs["cuda"].run_id != runs["numba"].run_id
    for name in ("risk", "f_min", "f_max"):
        np.testing.assert_allclose(runs["cuda"].records[name], runs["numba"].records[name], rtol=1e-10, err_msg=name)


@needs_gpu
@pytest.mark.parametrize(
    "activation, d", [("relu", 2), ("leaky_relu", 5), ("tanh", 1), ("tanh", 5), ("xtanh", 2), ("x2tanh", 5)]
)
def test_gpu_general_kernels_match_numpy_after_2000_steps(activation, d):
    """Every activation, d of 1, 2 and 5, on the device (several blocks, the default launch), against the
    reference (six variants: each compiles its own kernels, seconds apiece on a device)."""
    from .cuda_simulator_runs import _general, _inputs

    a, w, b = _general(300, d, 5)
    x, y = _inputs(12, d, 5)
    eta = 0.02 if activation == "x2tanh" else 0.3
    gpu = _flat(descend(a, w, b, Dynamics(x, y, 30.0, eta * 30.0, activation=activation, backend="cuda"), 2000))
    reference = _flat(descend(a, w, b, Dynamics(x, y, 30.0, eta * 30.0, activation=activation, backend="numpy"), 2000))
    assert relative_error(gpu, reference) <= 1e-12
    assert relative_error(gpu, _flat((a, w, b))) > 1e-4


def five_dimensional_tanh_config(m: int, n: int, n_steps: int, backend: str):
    """Zhou et al.'s setting (d = 5, y = Σ_k 3.5 sin(5 x_k + 1), tanh) at a small size."""
    from relunet_support.runs.train import TrainConfig

    x = np.random.default_rng(0).uniform(-1.0, 1.0, (n, 5))
    y = np.sum(3.5 * np.sin(5.0 * x + 1.0), axis=1)
    return TrainConfig.from_normalised(
        m=m, normalised_learning_rate=0.3, n_steps=n_steps, gamma=0.5, init="gaussian", dataset="custom",
        x=x.tolist(), y=y.tolist(), activation="tanh", beta2=0.5, n_snapshots=3, n_records=10, backend=backend,
    )  # fmt: skip


def assert_trained_alike(cuda_run, numba_run) -> None:
    assert cuda_run.status == numba_run.status == "complete"
    assert cuda_run.attrs["config"]["backend"] == "cuda" and "cuda_device" in cuda_run.attrs["versions"]
    np.testing.assert_allclose(cuda_run.records["risk"], numba_run.records["risk"], rtol=1e-10)
    assert cuda_run.records["risk"][-1] < 0.9 * cuda_run.records["risk"][0]  # it trained
    last = cuda_run.n_snapshots - 1
    for got, expected in zip(cuda_run.snapshot(last), numba_run.snapshot(last)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))


_TRAIN_SIMULATED = """
import sys
from relunet_support.engine import _cuda
from relunet_support.runs.train import train
from tests.cuda_simulator_runs import thread_safe_simulated_shared_arrays
from tests.test_cuda import five_dimensional_tanh_config

sys.setswitchinterval(5e-5)
thread_safe_simulated_shared_arrays()
on_device = _cuda._on_device
# blocks of 4 simulated threads rather than the GPU's 256 (the simulator runs each as a Python thread)
_cuda._on_device = lambda *args, **kwargs: on_device(*args[:4], {"threads": 4, **args[4]}, *args[5:], **kwargs)
train(five_dimensional_tanh_config(6, 10, 40, "cuda"), sys.argv[1], progress=False)
"""


@pytest.mark.slow  # the CUDA simulator, in a subprocess
def test_simulated_train_runs_a_five_dimensional_tanh_network_like_numba(tmp_path):
    """train() with backend='cuda' for an activation other than ReLU and d = 5, through the run store."""
    from relunet_support.runs.store import open_run
    from relunet_support.runs.train import train

    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-c", _TRAIN_SIMULATED, str(tmp_path / "cuda")],
        cwd=Path(__file__).parents[1], env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    cuda_run = open_run(tmp_path / "cuda" / five_dimensional_tanh_config(6, 10, 40, "cuda").run_id())
    numba_run = train(five_dimensional_tanh_config(6, 10, 40, "numba"), tmp_path / "numba", progress=False)
    assert_trained_alike(cuda_run, numba_run)


@needs_gpu
def test_gpu_trains_a_five_dimensional_tanh_network_like_numba(tmp_path):
    """The same on the device, at the benchmark's size (d = 5, n = 80, m = 1000)."""
    from relunet_support.runs.train import train

    runs = {
        backend: train(five_dimensional_tanh_config(1000, 80, 2000, backend), tmp_path / backend, progress=False)
        for backend in ("cuda", "numba")
    }
    assert_trained_alike(runs["cuda"], runs["numba"])
