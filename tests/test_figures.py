"""What the figures claim: where stopped runs end in the risk curves, the phase figures' preset and seeds."""

import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.train import DeadNetworkWarning, DivergedRunWarning, UnstableLearningRateWarning, train

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.slow  # notebook 05's cells run
def test_the_phase_figures_state_their_preset(tmp_path, monkeypatch):
    """User guide: every figure of 05 says its preset (and its widths and tolerance)."""
    titles = _phase_notebook_titles(tmp_path, monkeypatch, [0, 1, 2])
    for name, title in titles.items():
        assert "reduced preset" in title and "200, 400, 800, 1600" in title and "1e-06" in title, (name, title)


@pytest.mark.slow  # notebook 05's cells run
def test_the_phase_figures_state_their_seeds(tmp_path, monkeypatch):
    """User guide: every figure of 05 says its seeds — with seeds [7, 9] each title must name 7 and 9 (Fig. 4,
    computed from the first seed only, names that one)."""

    titles = _phase_notebook_titles(tmp_path, monkeypatch, [7, 9])
    assert "seed 7" in titles["crossing_figure"]
    for name in ("rd_against_width_figure", "slope_against_gamma_prime_figure"):
        named = re.findall(r"\d+", titles[name].split("\n")[0].split("—")[-1])  # the numbers after the dash
        assert {"7", "9"} <= set(named), (name, titles[name])
