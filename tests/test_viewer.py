import matplotlib

matplotlib.use("Agg")


import numpy as np
import pytest
from PIL import Image

from relunet_support.analysis import diagnostics
from relunet_support.network import model
from relunet_support.runs.train import TrainConfig, train
from relunet_support.views import viewer as viewer_module
from relunet_support.views.viewer import CondensationViewer, compact_kink, frame, frame_indices, static_frames


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    config = TrainConfig(m=60, learning_rate=60**1.5, n_steps=4000, n_records=400, n_snapshots=50)
    return train(config, tmp_path_factory.mktemp("runs"), progress=False)


def test_frame_indices_span_the_run():
    steps = np.concatenate(([0], np.unique(np.rint(np.geomspace(1, 200_000, 900))).astype(int)))
    picks = frame_indices(steps, 6)
    assert picks[0] == 0 and picks[-1] == len(steps) - 1 and np.all(np.diff(picks) > 0) and len(picks) == 6
    assert steps[picks[1]] == pytest.approx(200, rel=0.05)


def test_compact_kink_keeps_infinite_kinks_at_the_edges():
    values = compact_kink(diagnostics.kinks(np.array([1.0, 0.0, 0.0, 2.0]), np.array([0.5, 1.0, -1.0, 0.0])))
    np.testing.assert_allclose(values, [np.arctan(-0.5), -np.pi / 2, np.pi / 2, 0.0])


def test_viewer_opens_at_the_first_snapshot_and_the_slider_agrees_with_the_readout(small_run):
    viewer = CondensationViewer([small_run])
    assert viewer.slider.value == 0 and viewer.current_index == 0
    assert viewer.readout.value.startswith(f"snapshot 0/{small_run.n_snapshots - 1} · step 0 ")
    viewer.slider.value = viewer.slider.max
    assert viewer.readout.value.startswith(f"snapshot {viewer.slider.max}/{viewer.slider.max} · ")
    assert viewer.picker.options[0][0] == (
        f"η = {small_run.config.learning_rate:g} (η/α = 1) · m = 60 · γ = 1.5, γ′ = 0 · symmetric init · seed 0 · "
        "data: seed · 4,000 steps · complete"
    )  # config.describe(), then the steps and the status


def test_slider_sets_every_panel_to_the_snapshot(small_run):
    viewer = CondensationViewer([small_run])
    assert viewer.slider.max == small_run.n_snapshots - 1
    x, y = small_run.config.training_data()
    for k in (small_run.n_snapshots - 1, 7, 0, 23):
        viewer.slider.value = k
        a, w, b = small_run.snapshot(k)
        amplitude = np.abs(a) * np.hypot(w, b)  # per neuron, not one global norm
        order = np.concatenate((np.nonzero(a <= 0)[0], np.nonzero(a > 0)[0]))  # a ≤ 0 drawn first, a > 0 on top
        p = viewer.panels
        orientation, height, positive = p.markers(0)
        np.testing.assert_allclose(orientation, np.arctan2(b, w)[order])
        np.testing.assert_allclose(height, amplitude[order])
        np.testing.assert_array_equal(positive, (a > 0)[order])
        kink, height, _ = p.markers(1)
        np.testing.assert_allclose(kink, np.arctan(-b / w)[order])
        np.testing.assert_allclose(height, amplitude[order])
        np.testing.assert_array_equal(p.neurons[0][1].get_color(), viewer_module.POSITIVE)  # red = positive a
        grid, f = p.curve.get_data()
        np.testing.assert_allclose(f, model.forward(a, w, b, grid, small_run.config.alpha), rtol=1e-10, atol=1e-14)
        step = small_run.snapshot_steps[k]
        risk_at = small_run.records["risk"][list(small_run.records["step"]).index(step)]
        assert p.risk_marker.get_data()[1][0] == pytest.approx(risk_at)
        assert p.risk_marker.get_data()[1][0] == pytest.approx(model.risk(a, w, b, x, y, small_run.config.alpha))
        assert viewer.readout.value.startswith(f"snapshot {k}/{small_run.n_snapshots - 1} · step {step:,} · t = η·k = ")
        assert "condensed" in viewer.readout.value
        assert viewer.axes[0].get_ylim() == viewer_module.amplitude_limits(amplitude, log=False)


def test_log_amplitude_draws_log10_of_the_amplitudes(small_run):
    viewer = CondensationViewer([small_run])
    viewer.slider.value = 30
    viewer.log_amplitude.value = True
    assert viewer.slider.value == 30  # the toggle keeps the snapshot
    a, w, b = small_run.snapshot(30)
    _, height, _ = viewer.panels.markers(0)
    low, high = viewer.axes[0].get_ylim()
    assert high == np.ceil(np.log10(diagnostics.amplitudes(a, w, b).max()))
    np.testing.assert_allclose(np.sort(height), np.sort(np.maximum(np.log10(diagnostics.amplitudes(a, w, b)), low)))


def test_the_picture_of_a_snapshot_does_not_depend_on_the_path_to_it(small_run):
    """Axis ranges are functions of the snapshot: a jump and a scrub to the same snapshot look the same."""
    jumped = CondensationViewer([small_run], figsize=(6, 4), dpi=50)
    jumped.slider.value = 40
    scrubbed = CondensationViewer([small_run], figsize=(6, 4), dpi=50)
    for position in [*range(0, 49), 45, 41, 40]:
        scrubbed.slider.value = position
    np.testing.assert_array_equal(jumped.frame_pixels(), scrubbed.frame_pixels())


def test_the_frame_sent_equals_a_full_render_and_a_rescale_draws_only_the_amplitude_axes(small_run):
    """The blitted frame (static layer + amplitude axes + dynamic artists) is pixel for pixel a full render;
    across amplitude rescales and the log toggle the figure is drawn in full only when the layers change."""
    viewer = CondensationViewer([small_run], figsize=(6, 4), dpi=50)
    canvas = viewer.fig.canvas
    full_draws = []
    draw = canvas.draw
    canvas.draw = lambda: (full_draws.append(1), draw())[1]
    tops = set()
    for position in [*range(0, 50, 2), 17, 3, 44]:
        viewer.slider.value = position
        tops.add(viewer.axes[0].get_ylim()[1])
        if position in (17, 44):
            np.testing.assert_array_equal(viewer.image.pixels, viewer.frame_pixels())
    assert len(tops) >= 5 and full_draws == []  # several amplitude ranges, none needing a full draw
    viewer.log_amplitude.value = True  # new axis scale: one full draw
    viewer.slider.value = 30
    np.testing.assert_array_equal(viewer.image.pixels, viewer.frame_pixels())
    assert len(full_draws) == 1


def test_play_speed_skips_snapshots_above_the_frame_rate_cap(small_run):
    assert viewer_module.MAX_FPS == 25  # user guide: the kernel sends at most 25 frames per second
    viewer = CondensationViewer([small_run])
    viewer.speed.value = 5
    assert (viewer.frame_interval, viewer.play_step) == (0.2, 1)
    viewer.speed.value = 100
    assert viewer.frame_interval == 1 / viewer_module.MAX_FPS and viewer.play_step == 100 // viewer_module.MAX_FPS
    for speed, interval, step in ((25, 0.04, 1), (50, 0.04, 2), (100, 0.04, 4), (200, 0.04, 8)):
        viewer.speed.value = speed  # 25 frames per second, every 1, 2, 4, 8-th snapshot
        assert (viewer.frame_interval, viewer.play_step) == (pytest.approx(interval), step), speed


def test_play_walks_to_the_end_and_stops(small_run):
    import time

    viewer = CondensationViewer([small_run])
    viewer.speed.value = 200  # MAX_FPS frames per second, several snapshots a frame
    viewer.slider.value = 3
    viewer.play.value = True
    deadline = time.time() + 20
    while viewer.play.value and time.time() < deadline:
        time.sleep(0.02)
    assert not viewer.play.value and viewer.slider.value == viewer.slider.max
    assert viewer.current_index == small_run.n_snapshots - 1 and not viewer.errors.value
    viewer.play.value = True  # at the end: starts again from the first snapshot
    time.sleep(0.05)
    viewer.play.value = False  # pause
    viewer._player.join(5)
    paused_at = viewer.slider.value
    time.sleep(0.2)
    assert viewer.slider.value == paused_at < viewer.slider.max


def test_kink_marks_only_for_the_neurons_carrying_f(small_run):
    first = frame(small_run, 0)
    assert first.carrier_kinks.size == 0  # at small initialisation f ≈ 0: nobody carries it
    last = frame(small_run, small_run.n_snapshots - 1)
    lo, hi = small_run.config.interval
    a, w, b = small_run.snapshot(small_run.n_snapshots - 1)
    kinks = diagnostics.kinks(w, b)
    inside = (kinks > lo) & (kinks < hi)
    assert 0 < last.carrier_kinks.size < inside.sum()
    np.testing.assert_allclose(
        last.f_at_kinks, model.forward(a, w, b, last.carrier_kinks, small_run.config.alpha), rtol=1e-10, atol=1e-14
    )


def test_carrying_neurons_take_the_fewest_carrying_the_mass():
    a = np.array([1.0, 0.1, 0.01, -2.0])
    w = np.array([1.0, 1.0, 1.0, -1.0])
    b = np.zeros(4)
    # reach c_j = |a_j|·max((w_j lo + b_j)_+, (w_j hi + b_j)_+) = |a_j|/2: 0.5, 0.05, 0.005, 1.0
    carrying = viewer_module.carrying_neurons(a, w, b, 1.0, (-0.5, 0.5), f_size=1.0, target_size=1.0)
    np.testing.assert_array_equal(carrying, [True, False, False, True])  # 1.5 of 1.555 ≥ 90 %
    assert not viewer_module.carrying_neurons(a, w, b, 1.0, (-0.5, 0.5), f_size=0.01, target_size=1.0).any()


def test_nice_ceiling_and_amplitude_limits():
    assert [viewer_module.nice_ceiling(v) for v in (0.9, 1.0, 1.2, 2.5, 6.0, 8.0, 1234.0)] == [
        1.0,
        1.0,
        1.5,
        3.0,
        7.5,
        10.0,
        1500.0,
    ]
    assert viewer_module.amplitude_limits(np.array([0.0, 0.5, 0.95]), log=False) == (0.0, 1.0)
    assert viewer_module.amplitude_limits(np.array([0.0, 1e-3, 20.0]), log=True) == (-3.0, 2.0)


def test_wide_runs_draw_a_density_image(tmp_path):
    run = train(TrainConfig(m=6_000, learning_rate=6_000**1.5, n_steps=200, n_snapshots=5), tmp_path, progress=False)
    viewer = CondensationViewer([run], figsize=(6, 4), dpi=50)
    viewer.slider.value = 4
    assert viewer.panels.dense
    image = viewer.panels.neurons[0][0].get_array()
    assert image.shape == (*viewer_module.DENSITY_BINS, 4) and image.dtype == np.uint8
    assert np.any(image[..., 1] < 255) and set(np.unique(image[..., 3])) == {0, 255}  # shaded bins; empty ones clear


@pytest.mark.parametrize(("m", "dense"), [(5_000, False), (5_001, True)])
def test_runs_wider_than_5000_neurons_are_drawn_as_a_density_image(tmp_path, m, dense):
    """User guide: runs wider than 5,000 neurons are drawn as a density image (m = 5000: one marker per neuron)."""
    config = TrainConfig(m=m, learning_rate=100.0, n_steps=2, n_records=3, n_snapshots=2, init="gaussian")
    run = train(config, tmp_path, progress=False)
    viewer = CondensationViewer([run], figsize=(6, 4), dpi=50)
    viewer.slider.value = 1
    assert viewer.panels.dense is dense
    if dense:
        (image,) = viewer.panels.neurons[0]
        assert image.get_array().shape == (*viewer_module.DENSITY_BINS, 4)
    else:
        orientation, _, _ = viewer.panels.markers(0)
        assert orientation.size == m  # every neuron a point


def test_the_readout_gives_the_clock_s_and_the_risk_of_the_snapshot(small_run):
    """The readout's s = η·k/α and R, against the snapshot's step and the risk of its parameters."""
    import re

    viewer = CondensationViewer([small_run])
    config = small_run.config
    x, y = config.training_data()
    alpha = 60**1.5  # α_m = m^(γ−γ′) at γ = 3/2, γ′ = 0
    for k in (0, 11, small_run.n_snapshots - 1):
        viewer.slider.value = k
        text = viewer.readout.value
        s = float(re.search(r"s = η·k/α = ([-+0-9.e]+)", text).group(1))
        risk = float(re.search(r" R = ([-+0-9.e]+)", text).group(1))
        step = int(small_run.snapshot_steps[k])
        assert s == pytest.approx(config.learning_rate * step / alpha, rel=1e-3, abs=1e-12), text
        assert risk == pytest.approx(model.risk(*small_run.snapshot(k), x, y, alpha), rel=5e-3), text


def test_density_image_counts_each_neuron_in_its_bin():
    x = np.array([0.1, 0.1, 0.9, 0.5])
    y = np.array([0.1, 0.1, 0.9, 2.0])  # the last one is off the range
    image = viewer_module.density_image(x, y, np.array([True, True, False, True]), (0, 1), (0, 1), bins=(2, 2))
    rgb = image[..., :3] / 255
    np.testing.assert_allclose(rgb[0, 0], 1 - (1 - viewer_module.POSITIVE[:3]), atol=0.5 / 255)  # fullest: full red
    np.testing.assert_allclose(
        rgb[1, 1], 1 - np.log1p(1) / np.log1p(2) * (1 - viewer_module.NEGATIVE[:3]), atol=0.5 / 255
    )
    np.testing.assert_allclose(rgb[0, 1], 1.0)
    assert image[0, 1, 3] == 0 and image[0, 0, 3] == image[1, 1, 3] == 255  # an empty bin is transparent


def test_fractional_pixel_sizes_are_refused(small_run):
    with pytest.raises(ValueError, match="figsize × dpi must be whole pixels"):
        CondensationViewer([small_run], figsize=(6.6, 4), dpi=96)


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
    from relunet_support import engine

    real = engine.advance
    calls = {"n": 0}

    def stop_after_ten(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    engine.advance = stop_after_ten
    try:
        with pytest.raises(KeyboardInterrupt):
            train(config, tmp_path, progress=False, checkpoint_seconds=0.0)
    finally:
        engine.advance = real
    viewer = CondensationViewer(tmp_path)
    partial = viewer.slider.max
    train(config, tmp_path, progress=False)
    viewer.refresh()
    assert viewer.slider.max > partial and viewer.slider.max == config.snapshot_steps().size - 1
    assert viewer.picker.options[0][0].endswith("2,000 steps · complete")


@pytest.mark.slow  # an animation rendered and written
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
from relunet_support.views.viewer import CondensationViewer
page = os.sysconf("SC_PAGE_SIZE")
before = int(open("/proc/self/statm").read().split()[1]) * page
viewer = CondensationViewer(sys.argv[1])
for position in (50, 400, 3, 200):
    viewer.slider.value = position
# VmHWM: this process's own peak (ru_maxrss would count the forked parent's memory)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(before, peak)
"""


@pytest.mark.slow  # writes 192 MB of snapshots
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

    from relunet_support.views import plots

    runs = [
        train(
            TrainConfig(m=m, learning_rate=500.0, n_steps=1500, n_records=200, n_snapshots=5, seed=s),
            tmp_path,
            progress=False,
        )
        for m in (40, 80)
        for s in (0, 1, 2)
    ]
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


def test_paper_figures_read_as_such(tmp_path):
    from matplotlib.ticker import MaxNLocator

    from relunet_support.analysis import escapes
    from relunet_support.views import plots

    runs = [
        train(
            TrainConfig(m=m, learning_rate=500.0, n_steps=20_000, n_records=300, n_snapshots=10),
            tmp_path,
            progress=False,
        )
        for m in (60, 100, 140)
    ]
    fig = plots.scaling_figure(runs, "extremes", clocks=("k", "s"))
    ax = fig.axes[0]
    lowest = min(r.records["f_min"][r.records["step"] >= 1].min() for r in runs)  # step 0: not on a log k axis
    assert ax.get_yscale() == ("log" if lowest > 0 else "symlog")  # symlog only when some drawn min f ≤ 0
    styles = {line.get_linestyle() for line in ax.get_lines() if line.get_color() != "grey"}
    assert len(styles) == 2  # max f solid, min f dashed
    x, y = runs[0].config.training_data()
    targets = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
    assert targets == pytest.approx([y.min(), y.max()])
    assert ax.get_xlim()[1] < 20_000  # trimmed after the curves settle, not at the last step
    theory = plots.theory_clocks_figure(runs, "risk")
    assert len([a for a in theory.axes if a.get_visible() and a.axison]) == 3 and theory.axes[0].get_legend()
    assert theory.axes[2].get_xscale() == "linear"  # s − ŝ
    points = [(r.config.m, 0, escapes.first_escape_of(r)) for r in runs]
    fit = escapes.fit_line(np.log([m for m, _, _ in points]), [t for _, _, t in points])
    second = [(m, 0, float("nan")) for m, _, _ in points]  # no second escape measured: the panel says so
    figure = plots.escape_fit_figure(
        [
            plots.EscapePanel("first escape", points, fit, 1.76, "(γ−1)/(2G*)"),
            plots.EscapePanel("second", second, None, 29.5, "…"),
        ]
    )
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert any("theory" in label and "1.760" in label for label in labels) and any(
        "interval" in label for label in labels
    )
    assert len(figure.axes) == 2 and "no fit" in figure.axes[1].get_title()
    one = plots.one_width_figure(runs[:1])
    assert len(one.axes) == 2 and one.axes[0].get_yscale() == "log" and one.axes[0].get_ylabel() == "risk R"
    from relunet_support.analysis import condensation

    histories = {r.run_id: condensation.history(r) for r in runs}
    counts = plots.condensation_figure(histories, runs).axes[0]
    assert isinstance(counts.yaxis.get_major_locator(), MaxNLocator)
    assert all(float(t).is_integer() for t in counts.get_yticks())
    left, right = counts.get_xlim()
    s_end = max(r.config.learning_rate * r.snapshot_steps[-1] / r.config.alpha for r in runs)
    assert 0 < left < right <= s_end


def test_settle_time_is_where_a_curve_stops_changing():
    from relunet_support.views.plots import settle_time

    t = np.arange(1.0, 101.0)
    values = np.where(t < 30, 1.0 - t / 30, 0.0)
    assert settle_time(t, values, log=False) == 30.0
    assert settle_time(t, np.ones(100), log=False) == 100.0  # flat: nothing to trim
    risk = np.maximum(10.0**-t, 1e-40)
    assert settle_time(t, risk, log=True) == 10.0  # below the drawn floor of 1e-10 nothing changes


def test_a_damaged_run_is_left_out_and_a_damaged_snapshot_named(tmp_path):
    import warnings

    from relunet_support.errors import CorruptRunError
    from relunet_support.runs.store import UnreadableRunWarning, list_runs

    for m in (40, 60):
        train(TrainConfig(m=m, learning_rate=200.0, n_steps=300, n_snapshots=20), tmp_path, progress=False)
    broken, damaged = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    (broken / "zarr.json").write_text("{ not json")
    with pytest.warns(UnreadableRunWarning, match=broken.name):
        runs = list_runs(tmp_path)
    assert [r.path for r in runs] == [damaged]  # the other run still opens
    chunks = [p for p in (damaged / "snapshots" / "w").rglob("*") if p.is_file() and p.name != "zarr.json"]
    chunks[0].write_bytes(chunks[0].read_bytes()[:50])
    with pytest.raises(CorruptRunError, match=f"{damaged.name}.*snapshots/w chunk 0: fails its checksum"):
        for index in range(runs[0].n_snapshots):
            runs[0].snapshot(index)
    with warnings.catch_warnings(), pytest.raises(CorruptRunError, match=f"{damaged.name}.*fails its checksum"):
        warnings.simplefilter("ignore", UnreadableRunWarning)
        CondensationViewer(tmp_path)  # its first snapshot is damaged: a clear error, not zarr's


def test_switching_the_time_mode_keeps_the_snapshot_and_the_slider_says_what_it_counts(small_run):
    """Browser nits: in uniform time the slider said 'snapshot 300' at snapshot 515, and switching the mode moved
    the frame from snapshot 120 to 118."""
    viewer = CondensationViewer([small_run])
    shown = small_run.n_snapshots // 3
    viewer.slider.value = shown
    for log_time in (False, True, False):
        viewer.log_time.value = log_time
        assert viewer.current_index == shown
        assert viewer.slider.description == ("snapshot" if log_time else "position")
    assert viewer.positions[viewer.slider.value] == shown
