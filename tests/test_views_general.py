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
    heatmaps = [ax for ax in fig.axes if ax.get_title().startswith("step ")]
    assert len(heatmaps) >= 3 and heatmaps[0].get_title() == "step 0: 0 line(s)"  # random at the start
    assert any(" 1 line(s)" in ax.get_title() for ax in heatmaps)  # tanh: one line in the initial stage
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
