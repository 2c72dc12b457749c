import matplotlib

matplotlib.use("Agg")

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from relunet_support import diagnostics, model
from relunet_support.train import TrainConfig, train
from relunet_support.viewer import CondensationViewer, compact_kink, frame_indices, static_frames


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    config = TrainConfig(m=60, learning_rate=60 ** 1.5, n_steps=4000, n_records=400, n_snapshots=50)
    return train(config, tmp_path_factory.mktemp("runs"), progress=False)


def test_frame_indices_span_the_run():
    steps = np.concatenate(([0], np.unique(np.rint(np.geomspace(1, 200_000, 900))).astype(int)))
    picks = frame_indices(steps, 6)
    assert picks[0] == 0 and picks[-1] == len(steps) - 1 and np.all(np.diff(picks) > 0) and len(picks) == 6
    assert steps[picks[1]] == pytest.approx(200, rel=0.05)


def test_compact_kink_keeps_infinite_kinks_at_the_edges():
    values = compact_kink(diagnostics.kinks(np.array([1.0, 0.0, 0.0, 2.0]), np.array([0.5, 1.0, -1.0, 0.0])))
    np.testing.assert_allclose(values, [np.arctan(-0.5), -np.pi / 2, np.pi / 2, 0.0])


def test_slider_sets_every_panel_to_the_snapshot(small_run):
    viewer = CondensationViewer([small_run])
    assert viewer.slider.max == small_run.n_snapshots - 1
    x, y = small_run.config.training_data()
    for k in (small_run.n_snapshots - 1, 7, 0, 23):
        viewer.slider.value = k
        a, w, b = small_run.snapshot(k)
        amplitude = np.abs(a) * np.hypot(w, b)  # per neuron, not one global norm
        p = viewer.panels
        np.testing.assert_allclose(p.orient.get_offsets()[:, 0], np.arctan2(b, w))
        np.testing.assert_allclose(p.orient.get_offsets()[:, 1], amplitude)
        np.testing.assert_allclose(p.kink.get_offsets()[:, 0], np.arctan(-b / w))
        np.testing.assert_allclose(p.kink.get_offsets()[:, 1], amplitude)
        np.testing.assert_array_equal(p.orient.get_facecolors()[:, 0] > 0.5, a > 0)  # red = positive a
        grid, f = p.curve.get_data()
        np.testing.assert_allclose(f, model.forward(a, w, b, grid, small_run.config.alpha), rtol=1e-10, atol=1e-14)
        step = small_run.snapshot_steps[k]
        risk_at = small_run.records["risk"][list(small_run.records["step"]).index(step)]
        assert p.risk_marker.get_data()[1][0] == pytest.approx(risk_at)
        assert p.risk_marker.get_data()[1][0] == pytest.approx(model.risk(a, w, b, x, y, small_run.config.alpha))
        assert viewer.readout.value.startswith(f"step {step:,} · t = η·k = ")
        assert f"snapshot {k + 1}/{small_run.n_snapshots}" in viewer.readout.value
        assert "condensed" in viewer.readout.value


def test_linear_time_toggle_walks_uniformly_in_time(small_run):
    viewer = CondensationViewer([small_run])
    viewer.log_time.value = False
    steps = small_run.snapshot_steps[viewer.positions]
    assert steps[0] == 0 and steps[-1] == small_run.config.n_steps
    assert np.all(np.diff(steps) >= 0)
    gaps = np.diff(np.linspace(0, small_run.config.n_steps, len(steps)))
    middle = len(steps) // 2
    assert abs(steps[middle] - middle * gaps[0]) <= np.max(np.diff(small_run.snapshot_steps))


def test_errors_in_callbacks_are_shown(small_run, monkeypatch):
    viewer = CondensationViewer([small_run])
    monkeypatch.setattr(viewer.run, "snapshot", lambda index: (_ for _ in ()).throw(OSError("disk gone")))
    viewer.slider.value = 5
    assert "OSError: disk gone" in viewer.errors.value


def test_refresh_picks_up_new_snapshots(tmp_path):
    config = TrainConfig(m=40, learning_rate=200.0, n_steps=2000, n_snapshots=40)
    import relunet_support.train as train_module

    real = train_module.engine.advance
    calls = {"n": 0}

    def stop_after_ten(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    train_module.engine.advance = stop_after_ten
    try:
        with pytest.raises(KeyboardInterrupt):
            train(config, tmp_path, progress=False, checkpoint_seconds=0.0)
    finally:
        train_module.engine.advance = real
    viewer = CondensationViewer(tmp_path)
    partial = viewer.slider.max
    train(config, tmp_path, progress=False)
    viewer.refresh()
    assert viewer.slider.max > partial and viewer.slider.max == config.snapshot_steps().size - 1
    assert "[complete]" in viewer.picker.options[0][0]


def test_save_animation_gif(small_run, tmp_path):
    viewer = CondensationViewer([small_run], figsize=(6, 4), dpi=40)
    path = viewer.save_animation(tmp_path / "run.gif", positions=[0, 10, small_run.n_snapshots - 1])
    with Image.open(path) as gif:
        assert gif.n_frames == 3
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]
    with pytest.raises(ValueError, match="must end in .gif or .mp4"):
        viewer.save_animation(tmp_path / "run.avi")


def test_static_frames(small_run):
    fig = static_frames(small_run, 4)
    assert len(fig.axes) == 12


LAZY_SCRIPT = """
import os, sys
import matplotlib
matplotlib.use("Agg")
from relunet_support.viewer import CondensationViewer
page = os.sysconf("SC_PAGE_SIZE")
before = int(open("/proc/self/statm").read().split()[1]) * page
viewer = CondensationViewer(sys.argv[1])
for position in (50, 400, 3, 200):
    viewer.slider.value = position
# VmHWM: this process's own peak (ru_maxrss would count the forked parent's memory)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(before, peak)
"""


def test_opening_a_wide_run_reads_snapshots_lazily(tmp_path):
    import subprocess
    import sys

    config = TrainConfig(m=20_000, learning_rate=1e4, n_steps=400, snapshot_every=1, record_every=1)
    run = train(config, tmp_path, progress=False)
    total = run.n_snapshots * config.m * 3 * 8  # 192 MB of snapshots on disk
    out = subprocess.run([sys.executable, "-c", LAZY_SCRIPT, str(tmp_path)], capture_output=True, text=True, check=True)
    before, peak = map(int, out.stdout.split())
    assert peak - before < total / 4, (peak - before, total)  # loading them all would need > total


def test_scaling_figure_draws_bands_over_seeds(tmp_path):
    from matplotlib.collections import PolyCollection

    from relunet_support import plots

    runs = [train(TrainConfig(m=m, learning_rate=500.0, n_steps=1500, n_records=200, n_snapshots=5, seed=s), tmp_path,
                  progress=False) for m in (40, 80) for s in (0, 1, 2)]
    fig = plots.scaling_figure(runs, "risk", clocks=("s", "s−ŝ"))
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # one band per width
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2  # one median per width
    t, median = lines[0].get_data()
    risks = np.array([r.records["risk"] for r in runs[:3]])
    np.testing.assert_allclose(median, np.median(risks, axis=0)[1:])  # step 0 is off the log axis
    legend = [text.get_text() for text in fig.axes[-1].get_legend().get_texts()]
    assert legend == ["m = 40: median and range of 3 seeds", "m = 80: median and range of 3 seeds"]
