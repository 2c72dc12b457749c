"""The study's answer page: index.md / index.html from the run stores."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from relunet_support.analysis import escapes
from relunet_support.jobs.study import study_from_dict
from relunet_support.runs.train import UnstableLearningRateWarning, ensure_runs, train
from relunet_support.views.report import index_markdown, summarise_batch, write_index


@pytest.fixture(scope="module")
def study_and_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    study = study_from_dict(
        {
            "defaults": {"n_records": 300, "n_snapshots": 10, "escape_seeds": 3},
            "batches": [
                {"learning_rate": 500, "widths": [60, 100, 140], "n_steps": 4000},
                {"learning_rate": 500, "widths": [80], "n_steps": 4000},
                {"learning_rate": 250, "widths": [60, 100, 140], "n_steps": 8000},
            ],
        }
    )
    for batch in study.batches:
        for config in batch.configs():
            train(config, out / "runs", progress=False)
    return study, out


def test_the_escape_fit_is_measured_over_every_escape_seed(study_and_runs):
    study, out = study_and_runs
    summary = summarise_batch(study.batches[0], study.tags()[0], out / "runs")
    assert [(m, seed) for m, seed, _ in summary.escapes] == [(m, seed) for m in (60, 100, 140) for seed in (0, 1, 2)]
    assert not summary.missing and (out / "escapes").is_dir()  # kept beside the runs
    for run in summary.runs:  # the escape seed that is the batch's run escapes where its records say
        own = next(t for m, seed, t in summary.escapes if m == run.config.m and seed == run.config.seed)
        assert own == pytest.approx(escapes.first_escape_of(run), abs=0.02)
    expected = escapes.fit_line(
        np.log([m for m, _, _ in summary.escapes]),
        [t for _, _, t in summary.escapes],
        clusters=[seed for _, seed, _ in summary.escapes],
    )
    assert summary.fit.slope == pytest.approx(expected.slope) and summary.fit.n_points == 9
    assert summary.fit.slope_low == pytest.approx(expected.slope_low)  # the interval clustered by seed
    assert summary.theory_slope == pytest.approx(0.5 / (2 * 17 / 120))  # (γ − 1)/(2G*), G* = 17/120


def test_batches_that_differ_only_in_eta_are_compared_and_pooled(study_and_runs):
    """η = 500 and 250 train the same 9 networks: their ŝ₁ are paired, the pooled fit is the fit of their means."""
    study, out = study_and_runs
    first, _, second = (summarise_batch(b, t, out / "runs") for b, t in zip(study.batches, study.tags()))
    text = index_markdown(study, out)
    means = [(t1 + t2) / 2 for (_, _, t1), (_, _, t2) in zip(first.escapes, second.escapes)]
    pooled = escapes.fit_line(
        np.log([m for m, _, _ in first.escapes]), means, clusters=[seed for _, seed, _ in first.escapes]
    )
    gap = max(abs(t1 - t2) for (_, _, t1), (_, _, t2) in zip(first.escapes, second.escapes))
    assert f"differ by at most {gap:.3f}" in text and f"**dŝ₁/d ln m = {pooled.slope:.3f}**" in text
    agree = all(pooled.slope_low <= s.fit.slope <= pooled.slope_high for s in (first, second))
    assert ("they agree" in text) == agree and ("they disagree" in text) == (not agree)
    assert "m = 60 … 140, 9 networks" in text


def test_index_names_the_numbers_and_the_missing(study_and_runs, tmp_path):
    study, out = study_and_runs
    text = index_markdown(study, out)
    fit = summarise_batch(study.batches[0], study.tags()[0], out / "runs").fit
    assert f"**{fit.slope:.3f}**" in text and f"{fit.slope_low:.3f} … {fit.slope_high:.3f}" in text
    assert "needs ≥ 2 widths" in text  # the one-width batch
    summary = summarise_batch(study.batches[0], study.tags()[0], out / "runs")
    assert all(f"| {m} | " in text and f"| {t:.3f} |" in text for m, seed, t in summary.escapes if seed == 0)
    assert "2 condensed" in text or "no condensed orientation" in text
    elsewhere = index_markdown(study, tmp_path)  # no runs there: listed as missing, no run's row invented
    assert "Missing run stores" in elsewhere and not [
        line for line in elsewhere.splitlines() if line.startswith("| 60 |")
    ]
    assert "| 3 × 3 |" in elsewhere  # the escape seeds are measured all the same (trained here, up to their escape)


def test_the_index_shows_the_study_wide_figures_that_exist(study_and_runs, tmp_path):
    study, out = study_and_runs
    assert "## The phase diagram and the initial condensation" not in index_markdown(study, out)  # none made yet
    (tmp_path / "figures").mkdir()
    for name in ("phase_slopes_reduced.png", "initial_condensation_lines_reduced.png"):
        (tmp_path / "figures" / name).write_bytes(b"\x89PNG")
    text = index_markdown(study, tmp_path).split("## The phase diagram and the initial condensation")[1]
    assert "(figures/phase_slopes_reduced.png)" in text and "(figures/initial_condensation_lines_reduced.png)" in text
    assert "phase_rd_vs_m" not in text.split("## Every figure")[0]  # only what exists is shown


def test_write_index_writes_markdown_and_html_atomically(study_and_runs):
    study, out = study_and_runs
    md, html = write_index(study, out)
    assert md.read_text().startswith("# relunet — study results")
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<table>" in page and "</html>" in page
    assert not [p for p in out.iterdir() if p.name.startswith(".index")]  # no temporary file left


def test_a_dead_run_reports_no_condensation(tmp_path):
    """Every neuron of m = 40 at η = 4000 dies at step 2: its clusters are not a result, in the index nor
    in the condensation figure (faded, dashed, a red ✕ where it stopped)."""
    from relunet_support.analysis import condensation
    from relunet_support.views import plots

    study = study_from_dict({"batches": [{"learning_rate": 4000, "widths": [40, 60], "n_steps": 200}]})
    with pytest.warns(UnstableLearningRateWarning):  # η/α = 16 and 8.6: meant to be beyond the limit
        runs = ensure_runs(study.batches[0].configs(), tmp_path / "runs", progress=False)
    assert runs[0].status == "dead"
    assert condensation.orientation_clusters(*runs[0].snapshot(-1))  # clusters exist in its parameters …
    row = next(line for line in index_markdown(study, tmp_path).splitlines() if line.startswith("| 40 |"))
    assert "training stopped: not a result" in row and "condensed" not in row  # … but are not reported
    histories = {r.run_id: condensation.history(r) for r in runs}
    fig = plots.condensation_figure(histories, runs)
    crosses = [line for line in fig.axes[0].get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_color() == "crimson"


def test_the_index_shows_the_condensation_timing_of_each_run(study_and_runs):
    from relunet_support.analysis import condensation

    study, out = study_and_runs
    summary = summarise_batch(study.batches[0], study.tags()[0], out / "runs")
    text = index_markdown(study, out)
    for run in summary.runs:
        history = condensation.history(run, every=max(1, run.n_snapshots // 150))
        held = condensation.timing(500 * history["step"] / run.config.alpha, history["n_condensed"])
        stored = summary.timings[run.config.m]
        assert np.allclose([stored.first, stored.final], [held.first, held.final], equal_nan=True)
        assert stored.final_count == held.final_count
        row = next(line for line in text.splitlines() if line.startswith(f"| {run.config.m} |"))
        expected = "–" if held.first != held.first else f"{held.first:.4g}; {held.final_count} from {held.final:.4g}"
        assert f"| {expected} |" in row


def test_the_index_scrubs_the_strip_when_there_is_one(study_and_runs, tmp_path):
    import shutil

    from relunet_support.views import strip

    study, out = study_and_runs
    shutil.copytree(out / "runs", tmp_path / "runs")
    run = summarise_batch(study.batches[0], study.tags()[0], tmp_path / "runs").runs[-1]
    assert "frame by frame" not in index_markdown(study, tmp_path)
    strip.write_strip(run, tmp_path / "strip", n_frames=4)
    md, html = write_index(study, tmp_path)
    assert "## Condensation, frame by frame" in md.read_text() and "(strip/00.png)" in md.read_text()
    page = html.read_text()
    assert "id='strip-slider'" in page and "strip/00.png" in page and strip.START not in page


def test_a_batch_that_cannot_be_summarised_is_named_and_the_page_still_written(study_and_runs, tmp_path, monkeypatch):
    from relunet_support.views import report

    study, out = study_and_runs
    real = report.summarise_batch

    def failing(batch, tag, runs_dir):
        if tag == study.tags()[1]:
            raise OSError("Is a directory: escapes/m80_x.json")
        return real(batch, tag, runs_dir)

    monkeypatch.setattr(report, "summarise_batch", failing)
    md, _ = write_index(study, out)
    text = md.read_text()
    assert "## Batches that could not be summarised" in text and "Is a directory" in text
    assert "**Do the learning rates agree?**" in text  # the other batches are there


def test_a_run_still_falling_when_its_steps_ran_out_says_so():
    from types import SimpleNamespace

    from relunet_support.views.report import _status

    steps = np.arange(0, 1001, 10)
    falling = SimpleNamespace(status="complete", records={"step": steps, "risk": np.exp(-steps / 100.0)})
    flat = SimpleNamespace(status="complete", records={"step": steps, "risk": np.maximum(np.exp(-steps / 10.0), 1e-9)})
    assert "still falling" in _status(falling) and "÷" in _status(falling)
    assert _status(flat) == "complete"
    dead = SimpleNamespace(status="dead", step=2, records={"step": steps, "risk": np.ones(steps.size)})
    assert _status(dead) == "**dead** at step 2"
