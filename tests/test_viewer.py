import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from relunet_support import diagnostics, model
from relunet_support.train import TrainConfig, train
from relunet_support.viewer import CondensationViewer, compact_kink, frame_indices, static_frames


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    config = TrainConfig(m=60, learning_rate=60 ** 1.5, n_steps=4000, n_records=400, n_snapshots=50)
    return train(config, tmp_path_factory.mktemp("runs"), progress=False)


def test_frame_indices_span_the_run():
    steps = np.unique(np.rint(np.geomspace(1, 200_000, 900))).astype(int)
    steps = np.concatenate(([0], steps))
    picks = frame_indices(steps, 6)
    assert picks[0] == 0 and picks[-1] == len(steps) - 1 and np.all(np.diff(picks) > 0) and len(picks) == 6
    assert steps[picks[1]] == pytest.approx(200, rel=0.05)


def test_compact_kink_keeps_infinite_kinks_at_the_edges():
    values = compact_kink(diagnostics.kinks(np.array([1.0, 0.0, 0.0, 2.0]), np.array([0.5, 1.0, -1.0, 0.0])))
    np.testing.assert_allclose(values, [np.arctan(-0.5), -np.pi / 2, np.pi / 2, 0.0])


def test_slider_sets_every_panel_to_the_snapshot(small_run):
    viewer = CondensationViewer([small_run])
    assert viewer.slider.max == small_run.n_snapshots - 1
    for k in (small_run.n_snapshots - 1, 7, 0):
        viewer.slider.value = k
        a, w, b = small_run.snapshot(k)
        amplitude = np.abs(a) * np.hypot(w, b)  # per neuron, not one global norm
        np.testing.assert_allclose(viewer.panels.orient.get_offsets()[:, 0], np.arctan2(b, w))
        np.testing.assert_allclose(viewer.panels.orient.get_offsets()[:, 1], amplitude)
        np.testing.assert_allclose(viewer.panels.kink.get_offsets()[:, 0], compact_kink(-b / w))
        grid, f = viewer.panels.curve.get_data()
        np.testing.assert_allclose(f, model.forward(a, w, b, grid, small_run.config.alpha))
        assert viewer.readout.value == f"step {small_run.snapshot_steps[k]}"


def test_static_frames(small_run):
    fig = static_frames(small_run, 4)
    assert len(fig.axes) == 12
