"""Views of runs beyond 1-D ReLU: the direction figure for any d; the viewer: f for a smooth σ, d > 1 refused."""

import numpy as np
import pytest

from relunet_support import TrainConfig, train
from relunet_support.analysis.initial_condensation import zhou_data
from relunet_support.network import model
from relunet_support.runs.store import open_run
from relunet_support.views import plots, viewer


def _tanh_run(tmp_path, d: int, m: int = 40, n: int = 30):
    x, y = zhou_data(n=n, d=d)
    config = TrainConfig(
        m=m,
        learning_rate=0.005,
        n_steps=3000,
        gamma=3.0,
        init="gaussian",
        dataset="custom",
        x=[list(row) for row in x] if d > 1 else list(x[:, 0]),
        y=list(y),
        activation="tanh",
        beta2=1e-3,
    )
    return open_run(train(config, tmp_path / "runs", progress=False).path)


def test_the_direction_figure_shows_the_condensation_of_a_5d_run(tmp_path):
    run = _tanh_run(tmp_path, 5, m=100, n=80)
    fig = plots.direction_snapshots_figure(run)
    heatmaps = [ax for ax in fig.axes if "line(s)" in ax.get_title()]
    titles = [ax.get_title() for ax in heatmaps]
    assert len(heatmaps) == 4 and titles[0] == "start: step 0\n0 line(s)"  # random at the start
    assert titles[1].startswith("end of the initial stage: ") and titles[3].startswith("end: step 3,000")
    steps = [int(t.split("step ")[1].split("\n")[0].replace(",", "")) for t in titles]
    risk = run.records["risk"]
    at = np.searchsorted(run.records["step"], steps[1], side="right") - 1
    assert risk[at] > 0.99 * risk[0] and np.min(risk[run.records["step"] <= steps[2]]) <= 0.99 * risk[0]
    assert any("\n1 line(s)" in t for t in titles)  # tanh: one line once the initial stage is over
    scatters = [ax for ax in fig.axes if ax.get_xlabel().startswith("PC 1")]
    assert len(scatters) == len(heatmaps)
    points = scatters[0].collections[0].get_offsets()
    assert points.shape == (100, 2) and np.all(np.hypot(*np.asarray(points).T) <= 1 + 1e-12)  # unit directions
    colours = scatters[0].collections[0].get_facecolors()
    assert len({tuple(np.round(c[:3], 3)) for c in colours}) == 2  # sign(a): two colours
    assert "tanh, d = 5" in fig._suptitle.get_text()
    (counts_axis,) = [ax for ax in fig.axes if ax.get_ylabel() == "condensed lines"]
    steps, counts = (np.asarray(v) for v in counts_axis.lines[0].get_data())
    assert counts[0] == 0 and counts.max() >= 1 and np.all(np.diff(steps) > 0)  # none at the start, then lines


def test_principal_directions_treat_opposite_directions_as_one_line():
    rng = np.random.default_rng(0)
    line = np.array([0.6, 0.8, 0.0])
    unit = np.sign(rng.normal(size=(50, 1))) * line + 0.01 * rng.normal(size=(50, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    assert abs(plots.principal_directions(unit)[0] @ line) > 0.999


def test_the_viewer_draws_f_of_a_smooth_activation_and_refuses_several_dimensions(tmp_path):
    run = _tanh_run(tmp_path, 1)
    frame = viewer.frame(run, len(run.snapshot_steps) - 1)
    a, w, b = frame.parameters
    np.testing.assert_allclose(
        frame.f, model.forward(a, w, b, frame.grid, run.config.alpha, activation="tanh"), rtol=1e-12, atol=1e-14
    )
    assert abs(frame.f).max() > 0.1  # trained: f is not the ReLU formula's (which would differ), it fits data
    pytest.importorskip("ipywidgets")
    five = _tanh_run(tmp_path / "five", 5)
    with pytest.raises(ValueError, match="dimension 5.*direction_snapshots_figure"):
        viewer.CondensationViewer([five])
    shown = viewer.CondensationViewer([five, run])  # the 1-D run is shown, the 5-D one left out
    assert [r.run_id for r in shown.runs] == [run.run_id]


def test_the_direction_figure_takes_one_neuron_and_says_a_run_diverged(tmp_path):
    x, y = zhou_data(n=20, d=3)
    base = dict(n_steps=400, gamma=3.0, init="gaussian", dataset="custom", x=[list(r) for r in x], y=list(y))
    single = open_run(
        train(TrainConfig(m=1, learning_rate=0.005, activation="tanh", **base), tmp_path, progress=False).path
    )
    fig = plots.direction_snapshots_figure(single)
    (scatter, *_) = [ax for ax in fig.axes if ax.get_xlabel().startswith("PC 1")]
    assert np.asarray(scatter.collections[0].get_offsets()).shape == (1, 2)
    with pytest.warns(Warning):  # η far beyond the stable range: unstable, then diverged
        diverged = train(TrainConfig(m=20, learning_rate=1e6, activation="x2tanh", **base), tmp_path, progress=False)
    diverged = open_run(diverged.path)
    assert diverged.status == "diverged"
    title = plots.direction_snapshots_figure(diverged)._suptitle
    assert "DIVERGED at step" in title.get_text() and "not a result" in title.get_text()


def test_the_viewer_opens_a_diverged_smooth_run_and_names_its_activation(tmp_path):
    pytest.importorskip("ipywidgets")
    config = TrainConfig(m=20, learning_rate=2e13, n_steps=400, activation="tanh", beta2=0.5, init="gaussian")
    with pytest.warns(Warning):  # η/α ≈ 10¹²
        run = open_run(train(config, tmp_path, progress=False).path)
    assert run.status == "diverged"
    shown = viewer.CondensationViewer([run])
    assert shown.frame_pixels().size  # drawn: the overflowing records are left off the log axes
    assert "tanh" in viewer.run_label(run) and "β₂ = 0.5" in viewer.run_label(run)
    assert "tanh" in viewer.run_title(run) and "diverged" in viewer.run_title(run)
