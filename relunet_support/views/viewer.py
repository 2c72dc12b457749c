"""``CondensationViewer`` (ipywidgets) scrubs through the snapshots of the runs in a folder.

The figure (``viewer_panels.Panels``, drawn with Agg, shown by ``FrameView``) and every artist are created once;
a slider tick reads one snapshot (lazily, from the run store), computes what it shows (``frames.frame``) and
only updates artists in place, then blits them over a cached background — no re-plotting, no flicker. When the
amplitude range changes only the two amplitude axes are drawn again over a cached static layer; a full draw
happens only for a new run or the log-amplitude toggle.

The frame computations and the panels are also here under their old names (``viewer.frame``,
``viewer.static_frames``, …), for the notebooks and tests that import them from this module.
"""

from __future__ import annotations

import html
import io
import os
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from IPython.display import display
from matplotlib import animation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from relunet_support.runs.store import Run
from relunet_support.views.frames import (
    carrying_neurons,
    compact_kink,
    frame,
    frame_indices,
    readable_runs,
    readout,
    run_label,
    run_title,
)
from relunet_support.views.frameview import FrameView
from relunet_support.views.viewer_panels import (
    DENSITY_BINS,
    NEGATIVE,
    POSITIVE,
    TITLE_SIZE,
    Panels,
    amplitude_limits,
    density_image,
    nice_ceiling,
    static_frames,
)

__all__ = [
    "DENSITY_BINS",
    "MAX_FPS",
    "NEGATIVE",
    "PLAY_CATCH_UP",
    "PLAY_MIN_GAP",
    "PLAY_SPEEDS",
    "POSITIVE",
    "CondensationViewer",
    "amplitude_limits",
    "carrying_neurons",
    "compact_kink",
    "density_image",
    "frame",
    "frame_indices",
    "nice_ceiling",
    "run_label",
    "run_title",
    "static_frames",
]

MAX_FPS = 25  # Play draws at most this many frames per second and skips snapshots beyond it
PLAY_SPEEDS = (2, 5, 10, 25, 50, 100, 200)  # snapshots per second
PLAY_CATCH_UP = 0.25  # s: Play makes up for slow frames up to this far behind its clock …
PLAY_MIN_GAP = 0.6  # … sending frames at least this fraction of a frame interval apart


class CondensationViewer:
    """Scrub through the snapshots of runs: pick a run, move the slider (or press Play).

    Controls: run picker (η, m, γ, γ′, seed, steps, status); snapshot slider (editable, counted from 0,
    as in the readout) with the step, t = η·k, s = η·k/α and the risk; Play at a chosen speed in
    snapshots per second (paced in the kernel by a background thread that moves the slider: above
    MAX_FPS frames per second it skips snapshots; it keeps to a clock, making up for a slow frame with
    the next ones); a log-time toggle — on, the slider walks the snapshots in order (they
    are log-spaced in time), off, it walks uniformly in time; a log-amplitude toggle; Refresh, which
    picks up snapshots of a run that is still training. Errors in callbacks are shown under the figure.

    The figure is drawn with Agg in the kernel and shown by a ``FrameView``: a full frame first, then
    each frame as a patch of the pixels that changed, applied in order by the browser, every one of
    them, so the canvas always shows exactly the frame drawn last. Why not ipympl's canvas: it also
    sends changed pixels, but the browser drops an image when the next one arrives before it is
    decoded (Play, fast scrubbing) and later differences are painted over stale pixels — ghost curves
    and markers of earlier frames (matplotlib issue #19116). Why not an ``ipywidgets.Image`` of whole
    PNG frames: it drops frames the same way (about one in ten during Play), and a whole PNG costs
    10–15 ms to encode and 25–35 ms to decode per frame.
    """

    def __init__(
        self,
        runs: Sequence[Run] | str | Path,
        run_index: int = 0,
        n_grid: int = 401,
        figsize=(11.5, 6.4),
        dpi: int = 100,
    ):
        # a folder: its readable runs, and a line for each run left out (damaged), shown above the picker
        self.runs, self.left_out = readable_runs(runs) if isinstance(runs, (str, Path)) else (list(runs), [])
        if not self.runs:
            found = f" ({len(self.left_out)} damaged: {self.left_out[0]})" if self.left_out else ""
            raise ValueError(
                f"runs={str(runs)!r} is not allowed: no readable run stores found there{found} (train some first, "
                "e.g. `make run`)"
            )
        several = [run for run in self.runs if run.config.dimension > 1]
        self.runs = [run for run in self.runs if run.config.dimension == 1]  # the panels draw f over x
        if not self.runs:
            raise ValueError(
                f"runs={str(runs)!r} is not allowed: the viewer draws runs of a 1-D input, and "
                f"{several[0].run_id} has inputs of dimension {several[0].config.dimension}; "
                "plots.direction_snapshots_figure(run) draws runs of any dimension"
            )
        if not 0 <= run_index < len(self.runs):
            raise ValueError(f"run_index={run_index!r} is not allowed: run_index must be in 0..{len(self.runs) - 1}")
        if any(abs(size * dpi - round(size * dpi)) > 1e-9 for size in figsize):
            # the image is shown pixel for pixel: its size must be whole pixels
            raise ValueError(f"figsize={figsize!r} with dpi={dpi!r} is not allowed: figsize × dpi must be whole pixels")
        self.n_grid = n_grid
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)  # Agg: the blitting and the raw pixels below need it
        grid = self.fig.add_gridspec(2, 2, left=0.065, right=0.985, bottom=0.085, top=0.92, wspace=0.17, hspace=0.34)
        self.axes = [self.fig.add_subplot(grid[i, j]) for i in (0, 1) for j in (0, 1)]
        width, height = (int(round(size * dpi)) for size in figsize)
        # pixel for pixel where the notebook is wide enough, scaled down (never cut) where it is not
        self.image = FrameView(width=width, height=height)
        self.picker = widgets.Dropdown(  # as wide as its longest entry (a fixed width cut the text)
            options=self._picker_options(), value=run_index, description="run",
            layout=widgets.Layout(width="auto", max_width="100%"),
        )  # fmt: skip
        self.slider = widgets.IntSlider(
            min=0,
            max=0,
            value=0,
            description="snapshot",
            continuous_update=True,
            readout=True,
            layout=widgets.Layout(width="40em"),
        )
        self.play = widgets.ToggleButton(
            value=False,
            description="play",
            icon="play",
            tooltip="play from the current snapshot at the chosen speed; press again to pause",
        )
        self._lock = threading.RLock()  # one frame drawn at a time (the slider's callbacks and the Play thread)
        self._player: threading.Thread | None = None
        self.speed = widgets.Dropdown(
            options=[(f"{v} snapshots/s", v) for v in PLAY_SPEEDS],
            value=10,
            description="speed",
            layout=widgets.Layout(width="auto"),
        )
        self.log_time = widgets.ToggleButton(
            value=True, description="log time", tooltip="on: snapshots in order (log-spaced); off: uniform in time"
        )
        self.log_amplitude = widgets.ToggleButton(
            value=False, description="log amplitude", tooltip="amplitude axis: log₁₀ |a|·‖(w, b)‖"
        )
        self.refresh_button = widgets.Button(description="refresh", tooltip="pick up new snapshots")
        # below the figure, two lines tall: a readout that wraps (a long condensation line) no longer moves it
        self.readout = widgets.HTML(layout=widgets.Layout(width="100%", min_height="3.2em"))
        self.errors = widgets.HTML()
        self._static = self._background = None  # the cached layers (see _on_draw)
        self.fig.canvas.mpl_connect("draw_event", self._on_draw)
        self._set_speed(self.speed.value)
        self._select(run_index)
        self.picker.observe(self._guarded(lambda change: self._select(change["new"])), names="value")
        self.slider.observe(self._guarded(lambda change: self.show(change["new"])), names="value")
        self.speed.observe(self._guarded(lambda change: self._set_speed(change["new"])), names="value")
        self.play.observe(self._guarded(lambda change: self._toggle_play(change["new"])), names="value")
        self.log_time.observe(self._guarded(lambda change: self._remap()), names="value")
        self.log_amplitude.observe(
            self._guarded(lambda change: self._select(self.picker.value, keep=True)), names="value"
        )
        self.refresh_button.on_click(self._guarded(lambda _: self.refresh()))
        wrap = widgets.Layout(flex_flow="row wrap")  # controls wrap onto a new line in a narrow notebook
        left_out = "".join(f"<div>left out: {html.escape(line)}</div>" for line in self.left_out)
        self.left_out_note = widgets.HTML(left_out, layout=widgets.Layout(display="block" if left_out else "none"))
        self.widget = widgets.VBox(
            [
                self.left_out_note,
                widgets.HBox([self.picker, self.refresh_button], layout=wrap),
                widgets.HBox([self.play, self.speed, self.slider], layout=wrap),
                widgets.HBox([self.log_time, self.log_amplitude], layout=wrap),
                self.image,
                self.readout,
                self.errors,
            ]
        )

    # ----- callbacks --------------------------------------------------------------------------------
    def _guarded(self, callback):
        """Run a widget callback; a failure is shown in the notebook (under the figure), not swallowed."""

        def wrapped(*args):
            try:
                callback(*args)
                self.errors.value = ""
            except Exception:
                self._show_error()

        return wrapped

    def _show_error(self) -> None:
        """The exception being handled, as a red traceback under the figure."""
        self.errors.value = (
            "<pre style='color:#b00020;white-space:pre-wrap'>" + html.escape(traceback.format_exc()) + "</pre>"
        )

    def _picker_options(self) -> list[tuple[str, int]]:
        return [(run_label(r), i) for i, r in enumerate(self.runs)]

    def _set_speed(self, snapshots_per_second: int) -> None:
        """Play at ``snapshots_per_second``: at most MAX_FPS frames per second, skipping snapshots beyond it."""
        self.frame_interval = 1.0 / min(snapshots_per_second, MAX_FPS)
        self.play_step = max(1, int(np.ceil(snapshots_per_second / MAX_FPS)))

    def _toggle_play(self, playing: bool) -> None:
        self.play.icon = "pause" if playing else "play"
        if playing and (self._player is None or not self._player.is_alive()):
            if self.slider.value >= self.slider.max:
                self.slider.value = 0  # at the end: play again from the start
            self._player = threading.Thread(target=self._play_loop, name="relunet-viewer-play", daemon=True)
            self._player.start()

    def _play_loop(self) -> None:
        """Advance the slider by ``play_step`` every ``frame_interval`` seconds until the end or until Play is
        pressed again. Frames keep to a clock: after a slow frame (a new amplitude range) the next ones
        follow at once, so the rate holds on average; when drawing falls behind by more than PLAY_CATCH_UP
        seconds, the clock restarts instead (Play then runs as fast as frames can be drawn)."""
        try:
            next_frame = started = time.perf_counter()
            while self.play.value:
                with self._lock:
                    if self.slider.value >= self.slider.max:
                        break
                    self.slider.value = min(self.slider.value + self.play_step, self.slider.max)  # draws it
                sent = time.perf_counter()
                next_frame += self.frame_interval
                if next_frame < sent - PLAY_CATCH_UP:
                    next_frame = sent
                # two frames no closer than PLAY_MIN_GAP of an interval (taking the next draw to last as long as
                # this one did): frames closer than a display refresh would be painted as one
                time.sleep(max(next_frame - sent, PLAY_MIN_GAP * self.frame_interval - (sent - started), 0.0))
                started = time.perf_counter()
            self.image.resend()  # a view opened during Play (a page reload) gets the last frame whole
        except Exception:
            self._show_error()
        finally:
            self.play.value = False

    def _positions(self) -> np.ndarray:
        """Snapshot index for each slider position (identity in log time; uniform in time otherwise)."""
        steps = self.run.snapshot_steps
        if self.log_time.value or len(steps) < 2:
            return np.arange(len(steps))
        targets = np.linspace(steps[0], steps[-1], len(steps))
        right = np.clip(np.searchsorted(steps, targets), 1, len(steps) - 1)
        nearer_left = (targets - steps[right - 1]) < (steps[right] - targets)
        # the snapshot shown now is one of the positions: switching the mode keeps it (it moved 120 → 118)
        positions = np.where(nearer_left, right - 1, right)
        current = min(getattr(self, "current_index", 0), len(steps) - 1)
        positions[np.argmin(np.abs(steps[positions] - steps[current]))] = current  # the nearest position in time
        return np.sort(positions)

    def _select(self, index: int, keep: bool = False) -> None:
        """Show run ``index`` from its first snapshot (``keep``: at the snapshot shown now)."""
        with self._lock:
            position = self.slider.value if keep else 0
            self.run = self.runs[index]
            for ax in self.axes:
                ax.clear()
            self.panels = Panels(self.axes, self.run, frame(self.run, 0, self.n_grid), self.log_amplitude.value)
            self.fig.suptitle(run_title(self.run), fontsize=TITLE_SIZE)
            for artist in [*self.panels.dynamic, *self._amplitude_axes]:
                artist.set_animated(True)  # drawn on top of a cached background (blitting)
            self._static = self._background = None
            self._remap(position=position)

    @property
    def _amplitude_axes(self) -> list:
        """The y axes (ticks, labels) of the two neuron panels: the only part of the figure besides the
        dynamic artists that changes between snapshots of a run (when the amplitude range does)."""
        return [ax.yaxis for ax in self.axes[:2]]

    def _on_draw(self, event) -> None:
        """After every full draw on screen: keep the static layer (the figure without the amplitude axes and
        the dynamic artists), add the amplitude axes and keep that as the background, then draw the dynamic
        artists on top. A file export (``save_animation``) draws every artist itself."""
        canvas = self.canvas
        if canvas.is_saving():
            return
        self._static = canvas.copy_from_bbox(self.fig.bbox)
        self._draw_background()
        for artist in self.panels.dynamic:
            artist.axes.draw_artist(artist)

    def _draw_background(self) -> None:
        """The amplitude axes over the static layer already on the canvas; kept as the background."""
        for axis in self._amplitude_axes:
            axis.axes.draw_artist(axis)
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _redraw(self, rescaled: bool) -> None:
        """Blit the dynamic artists over the cached background, then send the whole frame to the image.
        When the amplitude range changed, only the two amplitude axes are drawn again, over the static
        layer (a few ms; a full draw of the figure takes ~0.3 s, most of it text): a full draw happens
        only when the run or the log-amplitude setting changes."""
        canvas = self.canvas
        if self._static is None:
            canvas.draw()  # _on_draw keeps the layers and draws the dynamic artists
        else:
            if rescaled:
                canvas.restore_region(self._static)
                self._draw_background()
            else:
                canvas.restore_region(self._background)
            for artist in self.panels.dynamic:
                artist.axes.draw_artist(artist)
        self.image.show(np.asarray(canvas.buffer_rgba()))

    def _remap(self, position: int | None = None) -> None:
        current: int = getattr(self, "current_index", 0) if position is None else 0
        self.positions = self._positions()
        last = len(self.positions) - 1
        self.slider.max = last
        # in uniform time the slider counts positions, not snapshots (it said 'snapshot 300' at snapshot 515)
        self.slider.description = "snapshot" if self.log_time.value else "position"
        target = int(np.argmin(np.abs(self.positions - current))) if position is None else min(position, last)
        if self.slider.value == target:
            self.show(target)
        else:
            self.slider.value = target  # triggers show

    def show(self, position: int) -> None:
        """Draw snapshot ``positions[position]``: update the artists in place, then blit (or redraw)."""
        with self._lock:
            self.current_index = int(self.positions[position])
            fr = frame(self.run, self.current_index, self.n_grid)
            self.current_frame = fr
            self._redraw(self.panels.update(fr))  # the picture first, then the readout (its clusters take a while)
            text = readout(self.run, fr)
            if not self.log_time.value:
                text = f"uniform time: position {position}/{len(self.positions) - 1} → " + text
            self.readout.value = html.escape(text)

    def refresh(self) -> None:
        """Re-open the current run to pick up snapshots written since (a run still training)."""
        index = self.picker.value
        self.runs[index] = self.run = self.run.refresh()
        self.picker.options = self._picker_options()
        self.picker.value = index
        self._remap()

    def frame_pixels(self) -> np.ndarray:
        """The current frame rendered from scratch as a file export renders it — every artist in z-order,
        no cached layer — as RGBA pixels: what the blitted frame sent to the browser must equal."""
        buffer = io.BytesIO()
        self.canvas.print_raw(buffer)
        width, height = (int(round(size)) for size in self.fig.bbox.size)
        return np.frombuffer(buffer.getvalue(), dtype=np.uint8).reshape(height, width, 4).copy()

    # ----- export -----------------------------------------------------------------------------------
    def save_animation(self, path, fps: int = 10, positions: Sequence[int] | None = None) -> Path:
        """Write the current run as a GIF (Pillow) or an MP4 (ffmpeg), frame by frame over the slider
        positions; written to a temporary file and renamed, so no half-written file is left behind."""
        path = Path(path)
        suffix = path.suffix.lower()
        writer: animation.AbstractMovieWriter
        if suffix == ".gif":
            writer = animation.PillowWriter(fps=fps)
        elif suffix == ".mp4":
            if not animation.FFMpegWriter.isAvailable():
                raise ValueError(
                    f"path={str(path)!r} is not allowed: writing .mp4 needs ffmpeg, which is not "
                    "installed; use a .gif path"
                )
            writer = animation.FFMpegWriter(fps=fps)
        else:
            raise ValueError(f"path={str(path)!r} is not allowed: the file must end in .gif or .mp4")
        positions = list(range(len(self.positions))) if positions is None else list(positions)
        start = self.slider.value
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{suffix}")
        try:
            with writer.saving(self.fig, str(tmp), dpi=self.fig.dpi):
                for position in positions:
                    self.show(position)
                    writer.grab_frame()  # a full render of every artist (animated ones too, when saving)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            self.show(start)
        return path

    def _ipython_display_(self):
        display(self.widget)
