"""Sweeps on Dask: an existing cluster given by its address, a LocalCluster sized to the machine."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from relunet_support.runs.train import train

ROOT = Path(__file__).resolve().parent.parent


# ----- sweeps on Dask: an existing cluster by its address, a LocalCluster sized to the machine --------------------


def _sweep_file(tmp_path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"runs_dir: {tmp_path / 'runs'}\ndefaults: {{n_steps: 300, n_records: 50, n_snapshots: 5}}\n"
        "grid: {m: [40, 60], learning_rate: [200.0]}\n"
    )
    return path


def _assert_sweep_stored(tmp_path) -> None:
    """Both runs of ``_sweep_file`` are complete in its out folder, bit for bit the runs trained here."""
    from relunet_support.jobs.sweep import load_sweep
    from relunet_support.runs.store import open_run

    configs, out = load_sweep(tmp_path / "sweep.yaml")
    for config in configs:
        stored = open_run(Path(out) / config.run_id())
        assert stored.status == "complete" and stored.config == config
        alone = train(config, tmp_path / "alone", progress=False)
        np.testing.assert_array_equal(stored.records["risk"], alone.records["risk"])
        np.testing.assert_array_equal(stored.snapshot(-1), alone.snapshot(-1))


def test_relunet_sweep_runs_on_an_existing_cluster_given_by_its_address(tmp_path, capsys):
    """User guide: `relunet sweep sweep.yaml --scheduler tcp://host:8786` runs the sweep on an existing Dask cluster:
    its tasks run on that cluster's worker, the runs are stored, and the cluster is left running."""
    from distributed import LocalCluster
    from distributed.client import _get_global_client

    from relunet_support.jobs.cli import main

    path = _sweep_file(tmp_path)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        assert main(["sweep", str(path), "--scheduler", address]) == 0
        assert _get_global_client() is None  # the Client the sweep made from the address is closed
        assert "2 complete" in capsys.readouterr().out
        ran = cluster.scheduler.task_prefixes
        assert "train_task" in ran and sum(ran["train_task"].state_counts.values()) >= 2  # on this cluster
        assert len(cluster.scheduler.workers) == 1 and cluster.status.name == "running"  # not closed by the sweep
    _assert_sweep_stored(tmp_path)


@pytest.mark.slow  # starts one worker process per core
def test_relunet_sweep_without_a_scheduler_starts_a_local_cluster_sized_to_the_machine(tmp_path, monkeypatch, capsys):
    """User guide: `relunet sweep sweep.yaml` uses a LocalCluster sized to the machine — one single-threaded worker
    process per core —, closed when the sweep is done."""
    import os

    from relunet_support.jobs import sweep
    from relunet_support.jobs.cli import main

    started = []
    real = sweep._client

    def recorded(scheduler):
        client, cluster, own_client = real(scheduler)
        threads = [w["nthreads"] for w in client.scheduler_info()["workers"].values()]
        started.append((scheduler, cluster, threads, set(client.run(os.getpid).values())))
        return client, cluster, own_client

    monkeypatch.setattr(sweep, "_client", recorded)
    assert main(["sweep", str(_sweep_file(tmp_path))]) == 0
    assert "2 complete" in capsys.readouterr().out
    ((scheduler, cluster, threads, pids),) = started
    assert scheduler is None and cluster is not None
    assert threads == [1] * (os.cpu_count() or 1)  # one worker per core, one thread each
    assert len(pids) == len(threads) and os.getpid() not in pids  # each in a process of its own
    assert cluster.status.name == "closed"
    _assert_sweep_stored(tmp_path)
