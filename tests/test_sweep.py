import numpy as np
import pytest

from relunet_support.jobs.sweep import SweepError, grid, load_sweep, run_sweep

from .test_train import assert_same_run


def small_grid():
    return grid(m=[40, 80], learning_rate=[300.0], n_steps=3000, seed=[0, 1], n_records=300, n_snapshots=20)


def test_grid_is_the_cartesian_product():
    configs = small_grid()
    assert [(c.m, c.seed) for c in configs] == [(40, 0), (40, 1), (80, 0), (80, 1)]
    with pytest.raises(SweepError, match="unknown key"):
        grid(m=[40], widths=[1])
    with pytest.raises(ValueError, match="m=41 is not allowed"):
        grid(m=[40, 41], learning_rate=1.0, n_steps=10)


def test_sweep_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("runs_dir: somewhere\ndefaults: {n_steps: 100}\ngrid: {m: [40, 60], learning_rate: [1, 2]}\n")
    configs, out = load_sweep(path)
    assert len(configs) == 4 and out == "somewhere" and {c.n_steps for c in configs} == {100}
    path.write_text("grid: [1, 2")
    with pytest.raises(SweepError, match="not valid YAML"):
        load_sweep(path)
    path.write_text("grid: {m: [40]}\nextra: 1\n")
    with pytest.raises(SweepError, match="unknown key"):
        load_sweep(path)


@pytest.mark.slow
def test_local_cluster_sweep_equals_serial_and_reports_failures(tmp_path):
    from distributed import Client, LocalCluster

    configs = small_grid()
    blocked = configs[1]
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / blocked.run_id()).write_text("not a run")  # this task must fail, the others finish
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        results = run_sweep(configs, tmp_path / "dask", scheduler=client, progress=False)
    assert [r.status for r in results] == ["complete", None, "complete", "complete"]
    assert "is not a run folder" in results[1].error
    serial = run_sweep(configs, tmp_path / "serial", serial=True, progress=False)
    assert all(r.status == "complete" for r in serial)
    for on_dask, alone in zip(results, serial):
        if on_dask.status:
            assert_same_run(on_dask.open(), alone.open())
    # a rerun skips the complete runs (and still reports the blocked one)
    again = run_sweep(configs, tmp_path / "dask", serial=True, progress=False)
    assert [r.status for r in again] == ["complete", None, "complete", "complete"]
    np.testing.assert_array_equal(again[0].open().records["risk"], results[0].open().records["risk"])


def test_cli_sweep(tmp_path, capsys):
    from relunet_support.jobs.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"runs_dir: {tmp_path / 'runs'}\ndefaults: {{n_steps: 500, n_snapshots: 5}}\n"
        "grid: {m: [40, 60], learning_rate: [200.0]}\n"
    )
    assert main(["sweep", str(path), "--serial"]) == 0
    assert "2 complete" in capsys.readouterr().out
    path.write_text("grid: {m: [-3], learning_rate: [1.0], n_steps: [1]}\n")
    assert main(["sweep", str(path)]) == 2
    assert "m=-3 is not allowed" in capsys.readouterr().err


GRID = "grid: {m: [40], learning_rate: [1.0], n_steps: [10]}\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("runs_dir: [1]\n" + GRID, "runs_dir=[1] is not allowed: runs_dir must be a folder path (text)"),
        ("runs_dir: 5\n" + GRID, "runs_dir=5 is not allowed: runs_dir must be a folder path (text)"),
        ("defaults: [1]\n" + GRID, "defaults=[1] is not allowed: defaults must be a mapping"),
        ("defaults: []\n" + GRID, "defaults=[] is not allowed: defaults must be a mapping"),
        ("defaults: {seed: 1}\ngrid: {m: [40], learning_rate: [1.0], n_steps: [10], seed: [2]}\n", "seed is in both"),
        ("grid: {m: [40], m: [60], learning_rate: [1.0], n_steps: [10]}\n", "'m' is given twice in one mapping"),
        ("grid: {m: [40, 40.0], learning_rate: [1.0], n_steps: [10]}\n", "m=[40, 40.0] is not allowed: m must be"),
        ("grid: {m: [40], learning_rate: [1.0, 2, 1], n_steps: [10]}\n", "learning_rate=[1.0, 2, 1] is not allowed"),
        ("grid: {m: [], learning_rate: [1.0], n_steps: [10]}\n", "the sweep has no runs: m is an empty list"),
    ],
)
def test_a_bad_sweep_file_is_one_error_naming_the_file_and_the_key(tmp_path, capsys, text, message):
    from relunet_support.jobs.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert str(info.value).startswith(f"sweep file {str(path)!r}: ") and message in str(info.value)
    assert main(["sweep", str(path), "--serial", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err == f"relunet: error: {info.value}\n" and not (tmp_path / "runs").exists()
