"""The notebooks' results, checked here rather than in assert cells the reader wades through: each notebook's
py:percent source is run in this process with its parameters replaced (as papermill injects them), and its
namespace is examined. The smoke batch (test_batch.py) runs the same notebooks through papermill."""

import os
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from relunet_support.jobs.study import load_study
from relunet_support.views.frames import frame

matplotlib.use("agg")
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ROOT = NOTEBOOKS.parent


def run_notebook(name: str, **parameters) -> dict:
    """The namespace after running notebook ``name``'s code cells in order, its parameters cell followed by
    ``parameters`` (papermill's injected cell), from the notebooks folder (where its relative paths start)."""
    source = (NOTEBOOKS / f"{name}.py").read_text()
    cells = re.split(r"^# %%(.*)$", source, flags=re.M)
    namespace: dict = {"__name__": f"notebook_{name}"}
    here = os.getcwd()
    os.chdir(NOTEBOOKS)
    try:
        for header, body in zip(cells[1::2], cells[2::2]):
            if "[markdown]" in header:
                continue
            exec(compile(body, f"{name}.py", "exec"), namespace)
            if "parameters" in header:
                namespace.update(parameters)
    finally:
        os.chdir(here)
        matplotlib.pyplot.close("all")
    return namespace


def _smoke_parameters(notebook: str, output_dir: Path) -> dict:
    study = load_study(ROOT / "studies" / "smoke.yaml")
    return study.batches[0].parameters(notebook, output_dir)


@pytest.mark.slow
def test_01_the_model_s_gradients_symmetries_and_the_o_eta_drift():
    ns = run_notebook("01_theory")
    assert ns["gradient_error"] < 1e-5
    drifts = ns["drifts"]
    assert 1.7 < drifts[0.2] / drifts[0.1] < 2.3, drifts  # O(η): 1.99 … 2.02 measured over m = 200 … 2000, 3 seeds
    model, grid, alpha, initial = ns["model"], ns["grid"], ns["alpha"], ns["initial"]
    assert np.max(np.abs(model.forward(*initial["antisymmetric"], grid, alpha))) < 1e-12
    np.testing.assert_allclose(
        model.forward(*initial["symmetric"], grid, alpha), model.forward(*initial["symmetric"], -grid, alpha),
        rtol=1e-10, atol=1e-14,
    )  # fmt: skip
    assert np.isclose(ns["kappa"], ns["beta1"] * ns["beta2"] / alpha)
    assert np.isclose(ns["kappa_prime"], ns["beta1"] / ns["beta2"])


@pytest.mark.slow
def test_01_below_the_stability_limit_only_the_smaller_step_drifts_less():
    """γ = 0.5: η/α = 0.2 is beyond the stability limit, so the drift need not halve; it still shrinks."""
    drifts = run_notebook("01_theory", gamma=0.5, m=200)["drifts"]
    assert 0 < drifts[0.1] < 0.7 * drifts[0.2], drifts


@pytest.mark.slow
def test_02_and_04_on_the_smoke_batch(tmp_path):
    trained = run_notebook("02_train", **_smoke_parameters("02_train", tmp_path))
    runs, widths = trained["runs"], trained["widths"]
    assert len(runs) == len(widths) and trained["flow_check"].records_compared > 0
    for run in runs:
        records = run.records
        assert run.status == "complete" and run.step == trained["n_steps"] == records["step"][-1]
        assert len({len(v) for v in records.values()}) == 1 and np.all(np.isfinite(records["risk"]))
    drawn = run_notebook("04_scaling_plots", **_smoke_parameters("04_scaling_plots", tmp_path))
    saved = drawn["saved"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in saved)
    expected = 12 + 2 * (len(drawn["timings"]) > 1)  # 2 widths with an escape phase: every figure, SVG and PNG
    assert len(saved) == expected and all(drawn["tag"] in p.name for p in saved)
    assert len(drawn["escape_points"]) == len(widths) * len(drawn["escape_seeds"])
    assert all(t > 0 for _, _, t in drawn["escape_points"] if np.isfinite(t))
    assert [r.run_id for r in drawn["runs"]] == [r.run_id for r in runs]  # 04 read back 02's runs


@pytest.mark.slow
def test_02_and_04_take_a_batch_given_by_eta_over_alpha(tmp_path):
    """A batch of η/α: the notebooks' own η (their default, 1000) must not stay set beside it."""
    from relunet_support.jobs.study import study_from_dict

    batch = study_from_dict(
        {"batches": [{"normalised_learning_rate": 0.5, "widths": [20, 40], "n_steps": 60, "n_records": 20,
                      "n_snapshots": 5, "escape_seeds": 2}]}
    ).batches[0]  # fmt: skip
    trained = run_notebook("02_train", **batch.parameters("02_train", tmp_path))
    assert [run.config.normalised_learning_rate for run in trained["runs"]] == pytest.approx([0.5, 0.5])
    drawn = run_notebook("04_scaling_plots", **batch.parameters("04_scaling_plots", tmp_path))
    assert drawn["tag"] == "nlr0.5_m20-40" and drawn["label"] == "η/α = 0.5"


@pytest.mark.slow
def test_03_static_frames_are_the_snapshots(tmp_path):
    ns = run_notebook("03_condensation_viewer", output_dir=str(tmp_path), interactive=False, n_frames=2)
    run = ns["run"]
    last = frame(run, run.n_snapshots - 1)
    a, w, b = run.snapshot(run.n_snapshots - 1)
    np.testing.assert_allclose(last.amplitude, np.abs(a) * np.sqrt(w**2 + b**2))
    np.testing.assert_allclose(last.orientation, np.arctan2(b, w))
    assert np.all(np.abs(last.kink) <= np.pi / 2)


@pytest.mark.slow
def test_05_the_reduced_phase_diagram_finds_the_boundary(tmp_path):
    ns = run_notebook("05_phase_diagram", output_dir=str(tmp_path))
    results, crossings, phase = ns["results"], ns["crossings"], ns["phase"]
    assert results[min(results)][1] < 0 < results[max(results)][1]  # linear at γ = 0.5, condensed at γ = 1.75
    # the reduced preset fits the crossings from two widths: measured within 0.1 of the boundary, allowed 0.15
    assert all(abs(crossings[g] - phase.theory_crossing(g)) < 0.15 for g in crossings), crossings
    predicted, slopes = ns["predicted"], ns["slopes_by_gamma"]
    assert all(
        abs(np.median(v) - predicted[g][gp]) < 0.1 for g in (0.5, 1.75) for gp, v in slopes[g].items() if gp >= 0
    ), slopes
    assert all(p.exists() and p.stat().st_size > 1000 for p in ns["fig3_paths"] + ns["slope_paths"] + ns["fig4_paths"])


@pytest.mark.slow
def test_06_initial_condensation_counts_the_lines_the_multiplicity_allows(tmp_path):
    ns = run_notebook("06_initial_condensation", output_dir=str(tmp_path))
    counts, multiplicities, stages, closest = ns["counts"], ns["multiplicities"], ns["stages"], ns["closest"]
    assert all(c <= multiplicities[a] for a in ("tanh", "xtanh", "x2tanh") for c in counts[a]), counts
    assert all(c == 1 for c in counts["tanh"]), counts  # p = 1: one line, along ±g
    assert all(closest(stage, (ns["g"],)) > 0.999 for stage in stages["tanh"])
    assert all(closest(stage, (ns["top"], ns["bottom"])) > 0.99 for stage in stages["xtanh"] if stage.lines)
    assert all(stage.steps is not None for runs in stages.values() for stage in runs)
    # the odd data: M indefinite, and x·tanh x forms its two lines along M's extreme eigenvectors
    assert ns["odd_spectrum"][0] < 0 < ns["odd_spectrum"][-1] and ns["spectrum"][-1] < 0
    odd_counts = ns["odd_counts"]
    assert all(c == 2 for c in odd_counts["xtanh"]) and all(c == 1 for c in odd_counts["tanh"]), odd_counts
    assert all(
        max(abs(float(line.direction @ v)) for v in (ns["odd_top"], ns["odd_bottom"])) > 0.99
        for stage in ns["odd_stages"]["xtanh"]
        for line in stage.lines
    )
    paths = ns["heatmap_paths"] + ns["count_paths"] + ns["odd_heatmap_paths"] + ns["odd_count_paths"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
