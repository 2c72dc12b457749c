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

from relunet_support.engine import _cuda, advance, descend
from relunet_support.errors import BackendUnavailable

from .conftest import NO_GPU, needs_gpu, network
from .cuda_simulator_runs import scenarios

RECORD_NAMES = ("risk", "f_min", "f_max", "rd_w", "rd_a")


def relative_error(u, v) -> float:
    return float(np.max(np.abs(u - v)) / np.max(np.abs(v)))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("cudasim") / "runs.npz"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    script = Path(__file__).with_name("cuda_simulator_runs.py")
    result = subprocess.run(
        [sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with np.load(out, allow_pickle=False) as runs:
        return dict(runs)


def numpy_reference(name: str):
    """(final state, (steps, written, status), records) of a scenario by the numpy backend."""
    call, a, w, b, x, y, alpha, eta, n_steps, offsets = scenarios()[name]
    if call == "descend":
        return np.stack(descend(a, w, b, x, y, alpha, eta, n_steps, backend="numpy")), None, None
    state = [v.copy() for v in (a, w, b)]
    with np.errstate(all="ignore"):
        advanced = advance(
            *state,
            x,
            y,
            alpha=alpha,
            learning_rate=eta,
            n_steps=n_steps,
            record_offsets=offsets,
            backend="numpy",
            initial=(a, w, b),
        )
    records = advanced.records
    return np.stack(state), (advanced.steps, records["risk"].size, advanced.status), records


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
    start = np.stack(scenarios()[name][1:4])
    assert relative_error(simulated[name], expected) <= 1e-12
    assert relative_error(simulated[name], start) > 1e-3  # the parameters did move


@pytest.mark.slow  # the CUDA simulator: about 30 s for the module's runs
def test_simulated_runs_are_deterministic_and_members_independent(simulated):
    np.testing.assert_array_equal(simulated["plain"], simulated["plain_again"])
    np.testing.assert_array_equal(simulated["ensemble"][:, 1], simulated["ensemble_member_1_alone"])


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
        descend(a, w, b, *seed_data, alpha, 1.0, 1, backend="cuda")


@pytest.mark.skipif(NO_GPU is None, reason="a GPU is here")
def test_without_a_gpu_train_writes_nothing_and_the_cli_exits_2(tmp_path):
    from relunet_support.runs.train import TrainConfig, train

    config = TrainConfig(m=40, learning_rate=100.0, n_steps=10, backend="cuda")
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
    gpu = np.stack(descend(a, w, b, x, y, alpha, 70.0, 2000, backend="cuda"))
    reference = np.stack(descend(a, w, b, x, y, alpha, 70.0, 2000, backend="numpy"))
    assert relative_error(gpu, reference) <= 1e-12
    assert relative_error(gpu, np.stack((a, w, b))) > 1e-6


@needs_gpu
def test_gpu_ensemble_and_wide_network_match_numba(seed_data):
    x, y = seed_data
    rng = np.random.default_rng(4)
    members = rng.normal(size=(3, 16, 800)) * np.array([1e-3, 1.0, 1.0])[:, None, None]
    gpu = np.stack(descend(*members, x, y, 800**1.5, 500.0, 300, backend="cuda"))
    cpu = np.stack(descend(*members, x, y, 800**1.5, 500.0, 300, backend="numba"))
    assert relative_error(gpu, cpu) <= 1e-12
    alone = np.stack(descend(*members[:, 5], x, y, 800**1.5, 500.0, 300, backend="cuda"))
    np.testing.assert_array_equal(gpu[:, 5], alone)
    alpha, a, w, b = network(m=200_000, kind="gaussian", seed=2)
    gpu = np.stack(descend(a, w, b, x, y, alpha, alpha, 100, backend="cuda"))
    cpu = np.stack(descend(a, w, b, x, y, alpha, alpha, 100, backend="numba"))
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
