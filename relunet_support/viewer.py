"""Neuron views: each neuron j as a point (orientation atan2(b_j, w_j), amplitude |a_j|·‖(w_j, b_j)‖) and
(kink −b_j/w_j, amplitude), beside f and the data. ``CondensationViewer`` scrubs through a run's
snapshots with ipywidgets, updating the artists in place; ``static_frames`` draws a grid of frames
for papermill output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import diagnostics, model
from .store import Run, list_runs

KINK_TICKS = (-10.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 10.0)


def compact_kink(kinks: np.ndarray) -> np.ndarray:
    """arctan(kink): a bounded coordinate in which kinks running off to ±∞ (w → 0) stay visible at ±π/2."""
    with np.errstate(invalid="ignore"):
        return np.arctan(np.nan_to_num(kinks, nan=np.inf))


@dataclass(frozen=True)
class Frame:
    """What one snapshot shows."""

    step: int
    orientation: np.ndarray
    amplitude: np.ndarray
    kink: np.ndarray        # compactified, arctan(−b/w)
    positive: np.ndarray    # sign of a_j > 0
    grid: np.ndarray
    f: np.ndarray


def frame(run: Run, index: int, n_grid: int = 401) -> Frame:
    a, w, b = run.snapshot(index)
    lo, hi = run.config.interval
    grid = np.linspace(lo, hi, n_grid)
    return Frame(step=int(run.snapshot_steps[index]), orientation=diagnostics.orientations(w, b),
                 amplitude=diagnostics.amplitudes(a, w, b), kink=compact_kink(diagnostics.kinks(w, b)),
                 positive=a > 0, grid=grid, f=model.forward(a, w, b, grid, run.config.alpha))


def _colours(positive: np.ndarray) -> np.ndarray:
    return np.where(positive[:, None], np.array([[0.84, 0.15, 0.16, 0.8]]), np.array([[0.12, 0.47, 0.71, 0.8]]))


class _Panels:
    """The three panels of one frame, created once and updated in place."""

    def __init__(self, axes, run: Run, first: Frame):
        self.run = run
        x, y = run.config.training_data()
        ax_orient, ax_kink, ax_f = axes
        self.orient = ax_orient.scatter(first.orientation, first.amplitude, s=8, c=_colours(first.positive))
        ax_orient.set_xlim(-np.pi, np.pi)
        ax_orient.set_xlabel("orientation atan2(b, w)")
        ax_orient.set_ylabel("amplitude |a|·‖(w, b)‖")
        self.kink = ax_kink.scatter(first.kink, first.amplitude, s=8, c=_colours(first.positive))
        ax_kink.set_xlim(-np.pi / 2 - 0.05, np.pi / 2 + 0.05)
        ax_kink.set_xticks(np.arctan(KINK_TICKS), [f"{t:g}" for t in KINK_TICKS], fontsize=7)
        for xi in x:
            ax_kink.axvline(np.arctan(xi), color="orange", lw=0.8, alpha=0.7)
        ax_kink.set_xlabel("kink −b/w (arctan scale; data x in orange)")
        (self.curve,) = ax_f.plot(first.grid, first.f, color="k", lw=1.5)
        ax_f.scatter(x, y, color="orange", zorder=3, label="data")
        ax_f.set_xlabel("x")
        ax_f.set_ylabel("f(x)")
        self.axes = axes
        self.title = ax_f.set_title("")
        self.update(first)

    def update(self, fr: Frame) -> None:
        self.orient.set_offsets(np.column_stack((fr.orientation, fr.amplitude)))
        self.kink.set_offsets(np.column_stack((fr.kink, fr.amplitude)))
        self.orient.set_facecolors(_colours(fr.positive))
        self.kink.set_facecolors(_colours(fr.positive))
        self.curve.set_data(fr.grid, fr.f)
        top = max(float(fr.amplitude.max()) * 1.08, 1e-12)
        for ax in self.axes[:2]:
            ax.set_ylim(0, top)
        ys = np.concatenate((fr.f, self.run.config.training_data()[1]))
        pad = 0.08 * (ys.max() - ys.min() + 1e-12)
        self.axes[2].set_ylim(ys.min() - pad, ys.max() + pad)
        c = self.run.config
        self.title.set_text(f"step {fr.step}, s = ηk/α = {c.learning_rate * fr.step / c.alpha:.4g}")


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


def static_frames(run: Run, n_frames: int = 6) -> plt.Figure:
    """A grid of about ``n_frames`` snapshots (see ``frame_indices``), three panels each."""
    picks = frame_indices(run.snapshot_steps, n_frames)
    fig, axes = plt.subplots(len(picks), 3, figsize=(13, 3.0 * len(picks)), squeeze=False, layout="constrained")
    for row, index in zip(axes, picks):
        _Panels(row, run, frame(run, int(index)))
    fig.suptitle(f"{run.run_id} ({run.status})", fontsize=10)
    return fig


class CondensationViewer:
    """Scrub through the snapshots of the runs in a folder: pick a run, move the slider.

    The figure and its artists are created once; a slider change only sets offsets and data and
    calls ``draw_idle`` (no re-plotting, no flicker). Use with ``%matplotlib widget``.
    """

    def __init__(self, runs: Sequence[Run] | str | Path, run_index: int = 0):
        import ipywidgets as widgets

        self.runs = list_runs(runs) if isinstance(runs, (str, Path)) else list(runs)
        if not self.runs:
            raise ValueError(f"runs={runs!r} is not allowed: no runs found to view")
        self.output = widgets.Output()
        with plt.ioff():
            self.fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
        self.axes = axes
        self.picker = widgets.Dropdown(
            options=[(self._label(r), i) for i, r in enumerate(self.runs)], value=run_index, description="run")
        self.slider = widgets.IntSlider(min=0, max=0, value=0, description="snapshot", continuous_update=True)
        self.readout = widgets.Label()
        self._select(run_index)
        self.picker.observe(self.output.capture()(lambda change: self._select(change["new"])), names="value")
        self.slider.observe(self.output.capture()(lambda change: self.show(change["new"])), names="value")
        canvas = self.fig.canvas
        if not isinstance(canvas, widgets.DOMWidget):  # not ipympl (e.g. Agg in tests): a static view
            canvas = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.picker, self.slider, self.readout]), canvas, self.output])

    @staticmethod
    def _label(run: Run) -> str:
        c = run.config
        return f"η={c.learning_rate:g} m={c.m} γ={c.gamma:g} γ′={c.gamma_prime:g} seed={c.seed} [{run.status}]"

    def _select(self, index: int) -> None:
        self.run = self.runs[index]
        for ax in self.axes:
            ax.clear()
        self.panels = _Panels(self.axes, self.run, frame(self.run, 0))
        self.slider.max = self.run.n_snapshots - 1
        if self.slider.value == 0:
            self.show(0)
        else:
            self.slider.value = 0

    def show(self, index: int) -> None:
        fr = frame(self.run, index)
        self.panels.update(fr)
        self.readout.value = f"step {fr.step}"
        self.fig.canvas.draw_idle()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
