"""Claims of README.md and the notebooks that no other test holds: what a run store records, the record
schedule, how stopped runs are drawn, what the phase-diagram figures say, and a format-2 store under verify."""

import datetime as dt
import hashlib
import json
import math
import shutil
import subprocess
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.schedule import steps_schedule
from relunet_support.runs.train import DeadNetworkWarning, DivergedRunWarning, UnstableLearningRateWarning, train

ROOT = Path(__file__).resolve().parent.parent


# ----- zarr.json: what a run records next to its results --------------------------------------------------------


def test_zarr_json_records_config_hash_revision_versions_commit_status_times_and_scales(tmp_path):
    """README, Output layout: zarr.json holds the full config and its sha256, the engine revision, package
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


# ----- the record schedule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_steps", "n_points"), [(200_000, 1000), (3000, 300), (10**7, 10_000)])
def test_the_record_schedule_is_log_spaced_steps_and_uniform_steps(n_steps, n_points):
    """README: records at log-spaced ∪ uniform steps, sorted, each once, from step 0 to the last step."""
    config = TrainConfig(m=2, learning_rate=1.0, n_steps=n_steps, n_records=n_points, n_snapshots=2)
    for steps in (steps_schedule(n_steps, n_points), config.record_steps()):  # the runs' records: with 2 snapshots
        assert steps[0] == 0 and steps[-1] == n_steps and np.all(np.diff(steps) > 0)  # sorted, unique
        assert n_points / 2 < steps.size <= n_points + 3
        # log-spaced: about (n_points/2)/log10(n_steps) steps in every decade, the first steps all there
        per_decade = n_points / 2 / math.log10(n_steps)
        assert set(range(1, 10)) <= set(steps.tolist())
        for decade in range(2, int(math.log10(n_steps))):
            inside = np.count_nonzero((steps >= 10**decade) & (steps < 10 ** (decade + 1)))
            assert inside >= 0.8 * min(per_decade, 9 * 10**decade), (decade, inside)
        # uniform: no gap anywhere wider than an even spacing of n_points/2 points (log spacing alone leaves
        # gaps of several percent of n_steps at the end)
        assert np.diff(steps).max() <= n_steps / (n_points / 2 - 1) + 1
        late = steps[steps > n_steps / 2]
        assert late.size >= 0.9 * (n_points / 4)  # the uniform half's share of the second half of the run


def test_the_schedule_takes_every_step_or_every_kth_when_asked():
    np.testing.assert_array_equal(steps_schedule(50, 100), np.arange(51))
    np.testing.assert_array_equal(steps_schedule(95, 10, every=10), [*range(0, 91, 10), 95])


# ----- stopped runs in the risk curves ------------------------------------------------------------------------


def test_risk_curves_mark_where_dead_and_diverged_runs_stopped(tmp_path):
    """Notebook 02: dead and diverged runs end in a red ✕ where they stopped (one per stopped run, at its last
    record) and are drawn apart from complete runs (faded); a complete run gets no ✕."""
    from relunet_support.views import plots

    complete = TrainConfig(m=60, learning_rate=500.0, n_steps=300, n_records=50, n_snapshots=5)
    dead = TrainConfig(m=40, learning_rate=4000.0, n_steps=200, n_records=50, n_snapshots=5)  # dies at step 2
    diverged = TrainConfig(
        m=20, learning_rate=1.0, n_steps=200, n_records=201, n_snapshots=5, init="gaussian", dataset="custom",
        x=(-100.0, 100.0), y=(1.0, 1.0),
    )  # fmt: skip
    with warnings.catch_warnings():
        for kind in (DeadNetworkWarning, DivergedRunWarning, UnstableLearningRateWarning):
            warnings.simplefilter("ignore", kind)
        runs = [train(config, tmp_path, progress=False) for config in (complete, dead, diverged)]
    assert [r.status for r in runs] == ["complete", "dead", "diverged"]
    assert runs[2].records["step"][-1] > 1  # something to draw on the log clock before it stopped
    fig = plots.risk_curves(runs, clock="s")
    ax = fig.axes[0]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 2 and all(line.get_color() == "crimson" for line in crosses)
    ends = sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in crosses)
    expected = sorted(
        (r.config.learning_rate * r.records["step"][-1] / r.config.alpha, r.records["risk"][-1]) for r in runs[1:]
    )
    assert [x for x, _ in ends] == pytest.approx([x for x, _ in expected])
    assert [y for _, y in ends] == pytest.approx([y for _, y in expected])
    curves = {line.get_color(): line for line in ax.get_lines() if line.get_marker() != "x" and len(line.get_xdata())}
    colours = plots.width_colours([r.config.m for r in runs])
    assert curves[colours[60]].get_alpha() in (None, 1)  # the complete run: full colour
    assert all(curves[colours[r.config.m]].get_alpha() < 1 for r in runs[1:])  # the stopped ones: faded
    plt.close(fig)


# ----- the phase-diagram figures say their preset and their seeds ----------------------------------------------


def _phase_notebook_titles(tmp_path, monkeypatch, seeds) -> dict:
    """Notebook 05's cells as they are, with the trainings replaced by the derived slopes (fast) and the three
    figure functions recorded: {figure function: title}."""
    import jupytext

    from relunet_support.analysis import phase
    from relunet_support.views import plots

    def slope_over_widths(gamma, gamma_prime, widths, seed=0, tol=1e-5):
        return np.full(len(widths), 0.1), phase.theory_slope(gamma, gamma_prime)

    monkeypatch.setattr(phase, "slope_over_widths", slope_over_widths)
    monkeypatch.setattr(
        phase, "predicted_slope", lambda gamma, gamma_prime, widths: phase.theory_slope(gamma, gamma_prime)
    )
    titles = {}
    for name in ("rd_against_width_figure", "slope_against_gamma_prime_figure", "crossing_figure"):
        real = getattr(plots, name)

        def recorded(*args, real=real, name=name, **kwargs):
            titles[name] = kwargs["title"]
            return real(*args, **kwargs)

        monkeypatch.setattr(plots, name, recorded)
    notebook = jupytext.read(ROOT / "notebooks" / "05_phase_diagram.py")
    namespace = {"__name__": "__notebook__"}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source += f"\nseeds = {seeds!r}\noutput_dir = {str(tmp_path)!r}\n"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # plt.show() under Agg
            exec(compile(source, "05_phase_diagram.py", "exec"), namespace)
    plt.close("all")
    assert len(titles) == 3
    return titles


def test_the_phase_figures_state_their_preset(tmp_path, monkeypatch):
    """README: every figure of 05 says its preset (and its widths and tolerance)."""
    titles = _phase_notebook_titles(tmp_path, monkeypatch, [0, 1, 2])
    for name, title in titles.items():
        assert "reduced preset" in title and "200, 400, 800, 1600" in title and "1e-06" in title, (name, title)


def test_the_phase_figures_state_their_seeds(tmp_path, monkeypatch):
    """README: every figure of 05 says its seeds — with seeds [7, 9] each title must name 7 and 9 (Fig. 4,
    computed from the first seed only, names that one)."""
    import re

    titles = _phase_notebook_titles(tmp_path, monkeypatch, [7, 9])
    assert "seed 7" in titles["crossing_figure"]
    for name in ("rd_against_width_figure", "slope_against_gamma_prime_figure"):
        named = re.findall(r"\d+", titles[name].split("\n")[0].split("—")[-1])  # the numbers after the dash
        assert {"7", "9"} <= set(named), (name, titles[name])


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
    """README: a store of format ≤ 2 has no checksums, which `relunet verify` says (and it is still intact)."""
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
