"""Neuron views. Each neuron j is a point (orientation atan2(b_j, w_j), amplitude A_j = |a_j|·‖(w_j, b_j)‖)
and (kink −b_j/w_j on a compactified axis, A_j), beside f, the data and the risk curve.

``CondensationViewer`` (ipywidgets + ipympl, ``%matplotlib widget``) scrubs through the snapshots of
the runs in a folder. The figure and every artist are created once; a slider tick reads one snapshot
(lazily, from the run store), computes its diagnostics and only updates artists in place
(``set_offsets`` / ``set_data``), then blits them over a cached background (a full ``draw_idle``
only when an axis range changes) — no re-plotting, no flicker. ``static_frames``
draws a grid of frames for papermill output.
"""

from __future__ import annotations

import html
import os
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import condensation, diagnostics
from .store import Run, list_runs

KINK_TICKS = (-10.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 10.0)
ACTIVE_FRACTION = 0.01  # kinks of neurons carrying ≥ 1 % of the largest amplitude are marked on f
POSITIVE = np.array([0.84, 0.15, 0.16, 0.85])  # a_j > 0
NEGATIVE = np.array([0.12, 0.47, 0.71, 0.85])  # a_j < 0


def compact_kink(kinks: np.ndarray) -> np.ndarray:
    """arctan(kink): a bounded coordinate in which kinks running off to ±∞ (w → 0) stay visible at ±π/2."""
    return np.arctan(np.nan_to_num(np.asarray(kinks, dtype=np.float64), nan=np.inf))


@dataclass(frozen=True)
class Frame:
    """Everything one snapshot shows."""

    index: int
    step: int
    orientation: np.ndarray
    amplitude: np.ndarray
    kink: np.ndarray          # compactified, arctan(−b/w)
    positive: np.ndarray      # a_j > 0
    grid: np.ndarray
    f: np.ndarray             # f on the grid, exact
    active_kinks: np.ndarray  # kinks inside the interval of neurons with amplitude ≥ 1 % of the largest
    f_at_kinks: np.ndarray
    risk: float
    condensation: str  # the condensed orientation clusters and where their kinks sit


def frame(run: Run, index: int, n_grid: int = 401) -> Frame:
    """Diagnostics of snapshot ``index`` (memory O(m + n_grid), whatever the width)."""
    a, w, b = run.snapshot(index)
    config = run.config
    lo, hi = config.interval
    grid = np.linspace(lo, hi, n_grid)
    amplitude = diagnostics.amplitudes(a, w, b)
    kinks = diagnostics.kinks(w, b)
    strong = (amplitude >= ACTIVE_FRACTION * amplitude.max()) & (kinks > lo) & (kinks < hi)
    active_kinks = np.sort(kinks[strong])
    step = int(run.snapshot_steps[index])
    records = run.records
    at = min(int(np.searchsorted(records["step"], step)), len(records["step"]) - 1)
    return Frame(index=index, step=step, orientation=diagnostics.orientations(w, b), amplitude=amplitude,
                 kink=compact_kink(kinks), positive=a > 0, grid=grid,
                 f=diagnostics.function_values(a, w, b, config.alpha, grid), active_kinks=active_kinks,
                 f_at_kinks=diagnostics.function_values(a, w, b, config.alpha, active_kinks),
                 risk=float(records["risk"][at]),
                 condensation=condensation.describe(condensation.orientation_clusters(a, w, b),
                                                    config.training_data()[0]))


def frame_indices(snapshot_steps: np.ndarray, n_frames: int) -> np.ndarray:
    """Snapshot indices for a static grid: the first snapshot, then the ones nearest to steps spaced
    logarithmically over the last three decades of the run (where alignment, escapes and
    convergence happen), always ending with the last snapshot."""
    last = int(snapshot_steps[-1])
    if n_frames < 2 or last == 0 or len(snapshot_steps) <= n_frames:
        return np.arange(len(snapshot_steps))[: max(n_frames, 1)]
    targets = np.geomspace(max(last / 1000, 1), last, n_frames - 1)
    picks = [0] + [int(np.argmin(np.abs(snapshot_steps - t))) for t in targets]
    return np.unique(picks)


def readout(run: Run, fr: Frame) -> str:
    """'step 12,245 · t = η·k = 8.57e+05 · s = η·k/α = 37.88 · snapshot 501/886 · 2 condensed: …'."""
    c = run.config
    return (f"step {fr.step:,} · t = η·k = {c.learning_rate * fr.step:.4g} · "
            f"s = η·k/α = {c.learning_rate * fr.step / c.alpha:.4g} · snapshot {fr.index + 1}/{run.n_snapshots} · "
            f"{fr.condensation}")


class Panels:
    """The panels of one frame — neuron orientations, kinks, f, and (optionally) the risk — created
    once and updated in place by ``update``."""

    def __init__(self, axes, run: Run, first: Frame):
        self.axes = list(axes)
        self.run = run
        self.x, self.y = run.config.training_data()
        colours = self._colours(first.positive)
        ax_orient, ax_kink, ax_f = self.axes[:3]
        self.orient = ax_orient.scatter(first.orientation, first.amplitude, s=7, c=colours, linewidths=0)
        ax_orient.set_xlim(-np.pi, np.pi)
        ax_orient.set_xticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]), ["−π", "−π/2", "0", "π/2", "π"])
        ax_orient.set_xlabel("orientation atan2(b, w)")
        ax_orient.set_ylabel("amplitude |a|·‖(w, b)‖")
        self.kink = ax_kink.scatter(first.kink, first.amplitude, s=7, c=colours, linewidths=0)
        ax_kink.set_xlim(-np.pi / 2 - 0.05, np.pi / 2 + 0.05)
        ax_kink.set_xticks(np.arctan(KINK_TICKS), [f"{t:g}" for t in KINK_TICKS], fontsize=7)
        for xi in self.x:
            ax_kink.axvline(np.arctan(xi), color="orange", lw=0.8, alpha=0.8)
        ax_kink.set_xlabel("kink −b/w (arctan axis, ±∞ at the edges; data x in orange)")
        (self.curve,) = ax_f.plot(first.grid, first.f, color="k", lw=1.5, label="f")
        (self.kink_marks,) = ax_f.plot(first.active_kinks, first.f_at_kinks, "|", color="crimson", ms=12, mew=1.5,
                                       label="kinks of active neurons")
        ax_f.plot(self.x, self.y, "o", color="orange", ms=6, zorder=3, label="data")
        ax_f.set_xlim(*run.config.interval)
        ax_f.set_xlabel("x")
        ax_f.set_ylabel("f(x)")
        ax_f.legend(fontsize=7, loc="upper center")
        self.risk_marker = None
        if len(self.axes) > 3:
            ax_risk = self.axes[3]
            rec = run.records
            keep = rec["step"] > 0
            self._clock = run.config.learning_rate / run.config.alpha  # s = η·k/α
            ax_risk.loglog(self._clock * rec["step"][keep], rec["risk"][keep], color="k", lw=1.2)
            (self.risk_marker,) = ax_risk.plot([self._clock * max(first.step, 1)], [first.risk], "o", color="crimson", ms=7)
            ax_risk.set_xlabel("s = η·k/α (log)")
            ax_risk.set_ylabel("risk R")
            ax_risk.grid(True, alpha=0.3)
        self._amplitude_top = 0.0
        rec = run.records
        self._f_range = (float(min(rec["f_min"].min(), self.y.min())), float(max(rec["f_max"].max(), self.y.max())))
        span = max(self._f_range[1] - self._f_range[0], 1e-12)
        self._f_range = (self._f_range[0] - 0.05 * span, self._f_range[1] + 0.05 * span)
        ax_f.set_ylim(*self._f_range)
        self.update(first)

    @staticmethod
    def _colours(positive: np.ndarray) -> np.ndarray:
        return np.where(positive[:, None], POSITIVE, NEGATIVE)

    @property
    def dynamic(self) -> list:
        """The artists that change from frame to frame (the rest of the figure is a fixed background)."""
        artists = [self.orient, self.kink, self.curve, self.kink_marks]
        return artists + ([self.risk_marker] if self.risk_marker is not None else [])

    def update(self, fr: Frame) -> bool:
        """Move the artists to frame ``fr``; returns True when an axis range had to change."""
        colours = self._colours(fr.positive)
        self.orient.set_offsets(np.column_stack((fr.orientation, fr.amplitude)))
        self.kink.set_offsets(np.column_stack((fr.kink, fr.amplitude)))
        self.orient.set_facecolors(colours)
        self.kink.set_facecolors(colours)
        self.curve.set_data(fr.grid, fr.f)
        self.kink_marks.set_data(fr.active_kinks, fr.f_at_kinks)
        if self.risk_marker is not None:
            self.risk_marker.set_data([self._clock * max(fr.step, 1)], [fr.risk])
        # Axis ranges change rarely, so most frames are a cheap blit: f's range is fixed from the run's
        # exact extremes (records) and the data; the amplitude range grows with 50 % headroom and
        # shrinks only when the points would fill less than a tenth of it.
        rescaled = False
        top = float(fr.amplitude.max()) if fr.amplitude.size else 1.0
        if not 0.1 * self._amplitude_top <= top <= self._amplitude_top:
            self._amplitude_top = 1.5 * max(top, 1e-300)
            for ax in self.axes[:2]:
                ax.set_ylim(0, self._amplitude_top)
            rescaled = True
        low = min(float(fr.f.min()), self._f_range[0])
        high = max(float(fr.f.max()), self._f_range[1])
        if (low, high) != self._f_range:
            span = max(high - low, 1e-12)
            self._f_range = (low - 0.05 * span, high + 0.05 * span)
            self.axes[2].set_ylim(*self._f_range)
            rescaled = True
        return rescaled


def static_frames(run: Run, n_frames: int = 6) -> plt.Figure:
    """A grid of about ``n_frames`` snapshots (see ``frame_indices``): orientations, kinks, f."""
    picks = frame_indices(run.snapshot_steps, n_frames)
    fig, axes = plt.subplots(len(picks), 3, figsize=(13, 3.0 * len(picks)), squeeze=False, layout="constrained")
    for row, index in zip(axes, picks):
        fr = frame(run, int(index))
        Panels(row, run, fr)
        row[2].set_title(readout(run, fr), fontsize=8)
    fig.suptitle(f"{run.run_id} ({run.status})", fontsize=10)
    return fig


class CondensationViewer:
    """Scrub through the snapshots of runs: pick a run, move the slider (or press Play).

    Controls: run picker; snapshot slider (editable readout) with the step, t = η·k and s = η·k/α;
    Play (linked to the slider in the browser with ``jslink``); a log-time toggle — on, the slider
    walks the snapshots in order (they are log-spaced in time), off, it walks uniformly in time;
    Refresh, which picks up snapshots of a run that is still training. Errors in callbacks are shown
    under the figure.
    """

    def __init__(self, runs: Sequence[Run] | str | Path, run_index: int = 0, n_grid: int = 401,
                 figsize=(10, 6.2), dpi: int = 72):
        import ipywidgets as widgets

        self.runs = list_runs(runs) if isinstance(runs, (str, Path)) else list(runs)
        if not self.runs:
            raise ValueError(f"runs={runs!r} is not allowed: no runs found to view")
        if not 0 <= run_index < len(self.runs):
            raise ValueError(f"run_index={run_index!r} is not allowed: run_index must be in 0..{len(self.runs) - 1}")
        self.n_grid = n_grid
        with plt.ioff():
            self.fig, axes = plt.subplots(2, 2, figsize=figsize, dpi=dpi, layout="constrained")
        self.axes = [axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]]
        self.picker = widgets.Dropdown(options=[(self.label(r), i) for i, r in enumerate(self.runs)],
                                       value=run_index, description="run", layout=widgets.Layout(width="34em"))
        self.slider = widgets.IntSlider(min=0, max=0, value=0, description="snapshot", continuous_update=True,
                                        readout=True, layout=widgets.Layout(width="30em"))
        self.play = widgets.Play(min=0, max=0, interval=120, description="play")
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.log_time = widgets.ToggleButton(value=True, description="log time",
                                             tooltip="on: snapshots in order (log-spaced); off: uniform in time")
        self.refresh_button = widgets.Button(description="refresh", tooltip="pick up new snapshots")
        self.readout = widgets.Label()
        self.errors = widgets.HTML()
        self._background = None
        self.fig.canvas.mpl_connect("draw_event", self._on_draw)
        self._select(run_index)
        self.picker.observe(self._guarded(lambda change: self._select(change["new"])), names="value")
        self.slider.observe(self._guarded(lambda change: self.show(change["new"])), names="value")
        self.log_time.observe(self._guarded(lambda change: self._remap()), names="value")
        self.refresh_button.on_click(self._guarded(lambda _: self.refresh()))
        canvas = self.fig.canvas
        if not isinstance(canvas, widgets.DOMWidget):  # not ipympl (Agg in tests, inline): no live canvas
            canvas = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.picker, self.refresh_button]),
            widgets.HBox([self.play, self.slider, self.log_time]),
            self.readout, canvas, self.errors])

    # ----- callbacks --------------------------------------------------------------------------------
    def _guarded(self, callback):
        """Run a widget callback; a failure is shown in the notebook (under the figure), not swallowed."""
        def wrapped(*args):
            try:
                callback(*args)
                self.errors.value = ""
            except Exception:
                self.errors.value = ("<pre style='color:#b00020;white-space:pre-wrap'>"
                                     + html.escape(traceback.format_exc()) + "</pre>")
        return wrapped

    @staticmethod
    def label(run: Run) -> str:
        c = run.config
        return (f"η={c.learning_rate:g}  m={c.m}  γ={c.gamma:g}  γ′={c.gamma_prime:g}  seed={c.seed}  "
                f"[{run.status}]")

    def _positions(self) -> np.ndarray:
        """Snapshot index for each slider position (identity in log time; uniform in time otherwise)."""
        steps = self.run.snapshot_steps
        if self.log_time.value or len(steps) < 2:
            return np.arange(len(steps))
        targets = np.linspace(steps[0], steps[-1], len(steps))
        right = np.clip(np.searchsorted(steps, targets), 1, len(steps) - 1)
        nearer_left = (targets - steps[right - 1]) < (steps[right] - targets)
        return np.where(nearer_left, right - 1, right)

    def _select(self, index: int) -> None:
        self.run = self.runs[index]
        for ax in self.axes:
            ax.clear()
        self.panels = Panels(self.axes, self.run, frame(self.run, 0, self.n_grid))
        for artist in self.panels.dynamic:
            artist.set_animated(True)  # drawn on top of a cached background (blitting)
        self.fig.suptitle(self.run.run_id, fontsize=9)
        self._background = None
        self._remap(position=0)

    def _on_draw(self, event) -> None:
        """After every full draw: keep the background, freeze the layout, draw the dynamic artists."""
        canvas = self.fig.canvas
        if self.fig.get_layout_engine() is not None:
            self.fig.set_layout_engine("none")  # laid out once; re-running it every frame costs ~80 ms
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        for artist in self.panels.dynamic:
            artist.axes.draw_artist(artist)

    def _redraw(self, rescaled: bool) -> None:
        """Blit the dynamic artists over the cached background; a full redraw when axes changed."""
        canvas = self.fig.canvas
        if rescaled or self._background is None:
            self._background = None
            canvas.draw_idle()
            return
        canvas.restore_region(self._background)
        for artist in self.panels.dynamic:
            artist.axes.draw_artist(artist)
        canvas.blit(self.fig.bbox)

    def _remap(self, position: int | None = None) -> None:
        current = self.current_index if position is None and hasattr(self, "current_index") else 0
        self.positions = self._positions()
        last = len(self.positions) - 1
        self.slider.max = last
        self.play.max = last
        target = int(np.argmin(np.abs(self.positions - current))) if position is None else position
        if self.slider.value == target:
            self.show(target)
        else:
            self.slider.value = target  # triggers show

    def show(self, position: int) -> None:
        """Draw snapshot ``positions[position]``: update the artists in place, then draw_idle."""
        self.current_index = int(self.positions[position])
        fr = frame(self.run, self.current_index, self.n_grid)
        self.current_frame = fr
        rescaled = self.panels.update(fr)
        self.readout.value = readout(self.run, fr)
        self._redraw(rescaled)

    def refresh(self) -> None:
        """Re-open the current run to pick up snapshots written since (a run still training)."""
        index = self.picker.value
        self.runs[index] = self.run = self.run.refresh()
        self.picker.options = [(self.label(r), i) for i, r in enumerate(self.runs)]
        self._remap()

    # ----- export -----------------------------------------------------------------------------------
    def save_animation(self, path, fps: int = 10, positions: Sequence[int] | None = None) -> Path:
        """Write the current run as a GIF (Pillow) or an MP4 (ffmpeg), frame by frame over the slider
        positions; written to a temporary file and renamed, so no half-written file is left behind."""
        from matplotlib import animation

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".gif":
            writer = animation.PillowWriter(fps=fps)
        elif suffix == ".mp4":
            if not animation.FFMpegWriter.isAvailable():
                raise ValueError(f"path={str(path)!r} is not allowed: writing .mp4 needs ffmpeg, which is not "
                                 "installed; use a .gif path")
            writer = animation.FFMpegWriter(fps=fps)
        else:
            raise ValueError(f"path={str(path)!r} is not allowed: the file must end in .gif or .mp4")
        positions = list(range(len(self.positions))) if positions is None else list(positions)
        start = self.slider.value
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{suffix}")
        animated = self.panels.dynamic
        for artist in animated:
            artist.set_animated(False)  # every frame is a full render
        try:
            with writer.saving(self.fig, str(tmp), dpi=self.fig.dpi):
                for position in positions:
                    self.show(position)
                    writer.grab_frame()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            for artist in animated:
                artist.set_animated(True)
            self._background = None
            self.show(start)
        return path

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
