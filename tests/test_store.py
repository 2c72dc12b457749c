"""What a run store records next to its results (zarr.json), and a store of format 2 under verify."""

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.train import train

ROOT = Path(__file__).resolve().parent.parent


# ----- zarr.json: what a run records next to its results --------------------------------------------------------


def test_zarr_json_records_config_hash_revision_versions_commit_status_times_and_scales(tmp_path):
    """User guide, Output layout: zarr.json holds the full config and its sha256, the engine revision, package
    versions, the git commit, the status, times, α, β₁, β₂ and η/α — with α = m^(γ−γ′), β₁ = m^−γ′, β₂ = 1,
    so that κ = β₁β₂/α = m^−γ and κ′ = β₁/β₂ = m^−γ′."""
    import numba
    import zarr

    import relunet_support
    from relunet_support.runs.revision import engine_revision

    m, gamma, gamma_prime, eta = 40, 1.75, 0.25, 150.0  # η/α = 0.59, inside the stability limit 0.8
    config = TrainConfig(
        m=m, learning_rate=eta, n_steps=300, n_records=50, n_snapshots=5, gamma=gamma, gamma_prime=0.25
    )
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run = train(config, tmp_path, progress=False)
    after = dt.datetime.now(dt.UTC)
    attrs = json.loads((run.path / "zarr.json").read_text())["attributes"]

    assert attrs["config"] == json.loads(json.dumps(config.identity()))  # every field but the later ones at default
    canonical = json.dumps(attrs["config"], sort_keys=True).encode()
    assert attrs["config_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert attrs["engine_revision"] == engine_revision() and len(attrs["engine_revision"]) >= 7
    versions = attrs["versions"]
    assert versions["relunet_support"] == relunet_support.__version__
    assert (versions["numpy"], versions["numba"], versions["zarr"]) == (
        np.__version__,
        numba.__version__,
        zarr.__version__,
    )
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except OSError:
        head = None
    if head is not None and head.returncode == 0:
        assert attrs["git_commit"] == head.stdout.strip() and len(attrs["git_commit"]) == 40
    else:  # not a git checkout (an sdist): nothing to record, nothing invented
        assert attrs["git_commit"] is None
    assert attrs["status"] == "complete"
    created, finished = (dt.datetime.fromisoformat(attrs[key]) for key in ("created", "finished"))
    assert before <= created <= finished <= after
    assert attrs["wall_seconds"] > 0 and attrs["steps_per_second"] == pytest.approx(300 / attrs["wall_seconds"])
    alpha, beta1, beta2 = m ** (gamma - gamma_prime), m**-gamma_prime, 1.0
    assert (attrs["alpha"], attrs["beta1"], attrs["beta2"]) == pytest.approx((alpha, beta1, beta2), rel=1e-12)
    assert attrs["beta1"] * attrs["beta2"] / attrs["alpha"] == pytest.approx(m**-gamma, rel=1e-12)  # κ
    assert attrs["beta1"] / attrs["beta2"] == pytest.approx(m**-gamma_prime, rel=1e-12)  # κ′
    assert attrs["normalised_learning_rate"] == pytest.approx(eta / alpha, rel=1e-12)


# ----- a store of format 2 under verify --------------------------------------------------------------------


def _as_format_2(path: Path) -> None:
    """Rewrite a fresh (format 3) run store as format 2 wrote it: format_version 2, no engine revision, every
    array without the crc32c checksum codec (the same shapes, chunks, fill values and data)."""
    import zarr
    from zarr.codecs import ZstdCodec

    group = zarr.open_group(zarr.storage.LocalStore(path), mode="r+")
    for folder in ("records", "snapshots", "checkpoint"):
        for name, array in list(group[folder].arrays()):
            values, chunks, fill = array[...], array.chunks, array.fill_value
            compressed = folder == "records" or name == "step"
            del group[folder][name]
            with zarr.config.set({"array.write_empty_chunks": True}):
                copy = group[folder].create_array(
                    name,
                    shape=values.shape,
                    chunks=chunks,
                    dtype=values.dtype,
                    fill_value=fill,
                    compressors=[ZstdCodec(level=0)] if compressed else None,
                )
                copy[...] = values
    document = json.loads((path / "zarr.json").read_text())
    del document["attributes"]["engine_revision"]
    document["attributes"]["format_version"] = 2
    (path / "zarr.json").write_text(json.dumps(document))


def test_verify_says_a_format_2_store_has_no_checksums(tmp_path, capsys):
    """User guide: a store of format ≤ 2 has no checksums, which `relunet verify` says (and it is still intact)."""
    from relunet_support.jobs import cli
    from relunet_support.runs.store import open_run

    run = train(TrainConfig(m=20, learning_rate=40.0, n_steps=200, n_records=40, n_snapshots=5), tmp_path / "runs",
                progress=False)  # fmt: skip
    assert cli.main(["verify", str(tmp_path / "runs")]) == 0
    assert "no checksums" not in capsys.readouterr().out  # format 3
    shutil.copytree(run.path, tmp_path / "old" / run.run_id)
    _as_format_2(tmp_path / "old" / run.run_id)
    old = open_run(tmp_path / "old" / run.run_id)
    assert old.format_version == 2 and old.engine_revision is None
    np.testing.assert_array_equal(old.records["risk"], run.records["risk"])  # the same data, without checksums
    assert cli.main(["verify", str(tmp_path / "old")]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if run.run_id in line)
    assert line.startswith("ok ") and "format 2, no checksums" in line and "unrecorded" in line
    assert "1 of 1 runs intact" in out
