"""Neuron views. Each neuron j is a point (orientation atan2(b_j, w_j), amplitude A_j = |a_j|·‖(w_j, b_j)‖)
and (kink −b_j/w_j on a compactified axis, A_j), beside f, the data and the risk curve.

``CondensationViewer`` (ipywidgets; the figure drawn with Agg, shown by ``FrameView``) scrubs through the snapshots of
the runs in a folder. The figure and every artist are created once; a slider tick reads one snapshot
(lazily, from the run store), computes its diagnostics and only updates artists in place
(``set_offsets`` / ``set_data``, or a density image above DENSITY_ABOVE neurons), then blits them
over a cached background — no re-plotting, no flicker. When the amplitude range changes only the two
amplitude axes are drawn again over a cached static layer; a full draw happens only for a new run or
the log-amplitude toggle. Every axis range depends on the run and the current snapshot only, so the picture of a
snapshot does not depend on how the slider got there. ``static_frames`` draws a grid of frames for
papermill output.
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
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from relunet_support.analysis import condensation, diagnostics
from relunet_support.network import model
from relunet_support.runs.store import Run, list_runs
from relunet_support.views.frameview import FrameView
from relunet_support.views.plots import DRAWABLE, drop_minor_ticks, fixed_margins, plain_log_labels

KINK_TICKS = (-10.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 10.0)
POSITIVE = np.array([0.84, 0.15, 0.16, 0.85])  # a_j > 0
NEGATIVE = np.array([0.12, 0.47, 0.71, 0.85])  # a_j < 0
DENSITY_ABOVE = 5_000  # wider runs draw the neuron panels as a density image instead of one marker per neuron
DENSITY_BINS = (120, 240)  # rows (amplitude) × columns (orientation or kink) of the density image
CARRIED_MASS = 0.9  # kink marks: the fewest neurons carrying 90 % of Σ_j c_j …
CARRIED_FLOOR = 0.02  # … once max |f| reaches 2 % of max |y| (before that f ≈ 0 and no neuron carries it)
MAX_FPS = 25  # Play draws at most this many frames per second and skips snapshots beyond it
PLAY_SPEEDS = (2, 5, 10, 25, 50, 100, 200)  # snapshots per second
PLAY_CATCH_UP = 0.25  # s: Play makes up for slow frames up to this far behind its clock …
PLAY_MIN_GAP = 0.6  # … sending frames at least this fraction of a frame interval apart
# font sizes in points, set on each artist (rcParams would be read at draw time, outside any rc_context)
TICK_SIZE, LABEL_SIZE, LEGEND_SIZE, TITLE_SIZE = 9, 10, 9, 11
NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


def compact_kink(kinks: np.ndarray) -> np.ndarray:
    """arctan(kink): a bounded coordinate in which kinks running off to ±∞ (w → 0) stay visible at ±π/2."""
    return np.arctan(np.nan_to_num(np.asarray(kinks, dtype=np.float64), nan=np.inf))


def carrying_neurons(
    a, w, b, alpha: float, interval: tuple[float, float], f_size: float, target_size: float
) -> np.ndarray:
    """Which neurons carry f on the interval [lo, hi] (a boolean mask).

    While max |f| on the interval (``f_size``) is below CARRIED_FLOOR·max |y| (``target_size``) — f is
    still ≈ 0, as under small initialisation — no neuron does. Afterwards, neuron j adds at most
    c_j = |a_j|·max((w_j·lo + b_j)_+, (w_j·hi + b_j)_+)/α to |f| on the interval, and the fewest
    neurons carrying CARRIED_MASS of Σ_j c_j carry f.
    """
    if not f_size >= CARRIED_FLOOR * target_size:
        return np.zeros(np.shape(a), dtype=bool)
    lo, hi = interval
    reach = np.abs(a) * np.maximum(np.maximum(w * lo + b, 0.0), np.maximum(w * hi + b, 0.0)) / alpha
    return diagnostics.heaviest(reach, CARRIED_MASS)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7.5 × 10^k that is ≥ value (axis tops that change in steps)."""
    value = max(float(value), 1e-300)
    decade = 10.0 ** np.floor(np.log10(value))
    return next(step * decade for step in NICE_STEPS if step * decade >= value * (1 - 1e-12))


def amplitude_limits(amplitude: np.ndarray, log: bool) -> tuple[float, float]:
    """The amplitude axis of a frame, a function of that frame only (so a jump and a scrub to the same
    snapshot draw the same picture): (0, nice top) with 5 % headroom, or, on the log axis (log10 A),
    whole decades from the smallest amplitude (at most 8 decades below the largest) to the largest."""
    positive = amplitude[amplitude > 0]
    top = float(positive.max()) if positive.size else 1.0
    if not log:
        return 0.0, nice_ceiling(1.05 * top)
    high = np.ceil(np.log10(top) + 1e-9)
    low = np.floor(np.log10(max(float(positive.min()) if positive.size else top, top * 1e-8)))
    return float(low), float(max(high, low + 1))


def density_image(
    x: np.ndarray, y: np.ndarray, positive: np.ndarray, x_range, y_range, bins: tuple[int, int] = DENSITY_BINS
) -> np.ndarray:
    """An RGBA image (uint8; rows from the bottom) of where the neurons are: per bin, the log count of
    neurons with a > 0 shades towards red and of a < 0 towards blue; empty bins are transparent; neurons off
    the range are left out. (Agg draws a uint8 RGBA image about 3× faster than a float RGB one.)"""
    rows, columns = bins
    column = np.floor((x - x_range[0]) / (x_range[1] - x_range[0]) * columns)
    row = np.floor((y - y_range[0]) / (y_range[1] - y_range[0]) * rows)
    inside = (column >= 0) & (column < columns) & (row >= 0) & (row < rows)
    cell = (row[inside] * columns + column[inside]).astype(np.int64)
    sign = positive[inside]
    counts = np.stack(
        [np.bincount(cell[sign], minlength=rows * columns), np.bincount(cell[~sign], minlength=rows * columns)]
    ).reshape(2, rows, columns)
    shade = np.log1p(counts) / np.log1p(max(int(counts.max()), 1))
    rgb = 1.0 - shade[0, ..., None] * (1.0 - POSITIVE[:3]) - shade[1, ..., None] * (1.0 - NEGATIVE[:3])
    rgba = np.empty((rows, columns, 4), dtype=np.uint8)
    rgba[..., :3] = np.rint(np.clip(rgb, 0.0, 1.0) * 255)
    rgba[..., 3] = np.where(counts.sum(axis=0) > 0, 255, 0)  # empty bins let the panel's lines show through
    return rgba


@dataclass(frozen=True)
class Frame:
    """Everything one snapshot shows."""

    index: int
    step: int
    orientation: np.ndarray
    amplitude: np.ndarray
    kink: np.ndarray  # compactified, arctan(−b/w)
    positive: np.ndarray  # a_j > 0
    grid: np.ndarray
    f: np.ndarray  # f on the grid, exact
    carrier_kinks: np.ndarray  # kinks inside the interval of the neurons that carry f (``carrying_neurons``)
    f_at_kinks: np.ndarray
    risk: float
    parameters: tuple[np.ndarray, np.ndarray, np.ndarray]  # (a, w, b)
    data_x: np.ndarray

    @cached_property
    def condensation(self) -> str:
        """The condensed orientation clusters and where their kinks sit (computed when first asked for:
        the viewer sends the picture first)."""
        clusters = condensation.orientation_clusters(
            *self.parameters, orientation=self.orientation, amplitude=self.amplitude
        )
        return condensation.describe(clusters, self.data_x)


def frame(run: Run, index: int, n_grid: int = 401) -> Frame:
    """Diagnostics of snapshot ``index`` (memory O(m + n_grid), whatever the width)."""
    a, w, b = run.snapshot(index)
    config = run.config
    lo, hi = config.interval
    grid = np.linspace(lo, hi, n_grid)
    x, y = config.training_data()
    kinks = diagnostics.kinks(w, b)  # for a smooth σ: where each neuron's pre-activation is 0 (its centre)
    if config.activation == "relu":
        evaluate = diagnostics.function_evaluator(a, w, b, config.alpha, within=(lo, hi))
    else:
        evaluate = partial(model.forward, a, w, b, alpha=config.alpha, activation=config.activation)
    f = evaluate(grid)
    carrying = carrying_neurons(a, w, b, config.alpha, (lo, hi), float(np.max(np.abs(f))), float(np.max(np.abs(y))))
    carrier_kinks = np.unique(kinks[carrying & (kinks > lo) & (kinks < hi)].round(4))  # one mark per position
    step = int(run.snapshot_steps[index])
    records = run.records
    at = min(int(np.searchsorted(records["step"], step)), len(records["step"]) - 1)
    return Frame(
        index=index,
        step=step,
        orientation=diagnostics.orientations(w, b),
        amplitude=diagnostics.amplitudes(a, w, b),
        kink=compact_kink(kinks),
        positive=a > 0,
        grid=grid,
        f=f,
        carrier_kinks=carrier_kinks,
        f_at_kinks=evaluate(np.clip(carrier_kinks, lo, hi)),
        risk=float(records["risk"][at]),
        parameters=(a, w, b),
        data_x=x,
    )


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


def when(run: Run, fr: Frame) -> str:
    """'snapshot 501/885 · step 12,245 · t = η·k = 8.57e+05' (snapshots counted from 0, as on the slider)."""
    return (
        f"snapshot {fr.index}/{run.n_snapshots - 1} · step {fr.step:,} · "
        f"t = η·k = {run.config.learning_rate * fr.step:.4g}"
    )


def clock_and_risk(run: Run, fr: Frame) -> str:
    """'s = η·k/α = 37.88 · R = 0.00123'."""
    c = run.config
    return f"s = η·k/α = {c.clock(fr.step):.4g} · R = {fr.risk:.3g}"


def readout(run: Run, fr: Frame) -> str:
    """'snapshot 501/885 · step 12,245 · t = η·k = 8.57e+05 · s = η·k/α = 37.88 · R = 0.00123 · 2 condensed: …'."""
    return f"{when(run, fr)} · {clock_and_risk(run, fr)} · {fr.condensation}"


def _drawable(risk: float) -> float:
    """The risk where a log axis can draw it, else NaN (not drawn): a diverged run's last values overflow."""
    return risk if 0 < risk < DRAWABLE else np.nan


def run_title(run: Run) -> str:
    """E.g. 'η = 1000 (η/α = 0.354) · m = 200 · γ = 1.5, γ′ = 0 · symmetric init · seed 0 · data: seed —
    complete, 3,000 steps'."""
    c = run.config
    status = f"{run.status}, {run.step:,} steps" if run.status == "complete" else f"{run.status} at step {run.step:,}"
    return (
        f"η = {c.learning_rate:g} (η/α = {c.normalised_learning_rate:.3g}) · m = {c.m:,} · γ = {c.gamma:g}, "
        f"γ′ = {c.gamma_prime:g}{_model_text(c)} · {c.init} init · seed {c.seed} · data: {c.dataset} — {status}"
    )


def _model_text(config) -> str:
    """' · tanh · β₂=0.001' where the activation or β₂ is not the default ('' for the seed's ReLU, β₂ = 1)."""
    parts = ([config.activation] if config.activation != "relu" else []) + (
        [f"β₂={config.beta2:g}"] if config.beta2 != 1.0 else []
    )
    return "".join(f" · {part}" for part in parts)


def run_label(run: Run) -> str:
    """The run picker's entry: 'η=1000 · m=200 · γ=1.5 · γ′=0 · seed 0 · 3,000 steps · complete'."""
    c = run.config
    return (
        f"η={c.learning_rate:g} · m={c.m:,} · γ={c.gamma:g} · γ′={c.gamma_prime:g}{_model_text(c)} · seed {c.seed} · "
        f"{c.init} · data {c.dataset} · {run.step:,} steps · {run.status}"
    )


class Panels:
    """The panels of one frame — neuron orientations, kinks, f, and (optionally) the risk — created
    once and updated in place by ``update``. Above DENSITY_ABOVE neurons the two neuron panels are
    density images. Every axis range is a function of the run and the current frame only."""

    def __init__(self, axes, run: Run, first: Frame, log_amplitude: bool = False):
        self.axes = list(axes)
        self.run = run
        self.log_amplitude = log_amplitude
        self.dense = run.config.m > DENSITY_ABOVE
        self.x, self.y = run.config.training_data()
        ax_orient, ax_kink, ax_f = self.axes[:3]
        self.x_ranges = ((-np.pi, np.pi), (-np.pi / 2 - 0.05, np.pi / 2 + 0.05))
        self._amplitude_range = amplitude_limits(first.amplitude, log_amplitude)
        # per neuron panel: a density image, or two marker lines (a < 0, then a > 0 on top): Agg stamps
        # one marker per line far faster than it draws a scatter plot's per-point paths
        self.neurons = [self._neuron_artists(ax, x_range) for ax, x_range in zip((ax_orient, ax_kink), self.x_ranges)]
        ax_orient.set_xticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]), ["−π", "−π/2", "0", "π/2", "π"])
        ax_orient.set_xlabel("orientation atan2(b, w)")
        ax_kink.set_xticks(np.arctan(KINK_TICKS), [f"{t:g}" for t in KINK_TICKS])
        for xi in self.x:
            ax_kink.axvline(np.arctan(xi), color="orange", lw=0.8, alpha=0.8)
        ax_kink.set_xlabel("kink −b/w (arctan axis, ±∞ at the edges; data x in orange)")
        for ax, x_range in zip((ax_orient, ax_kink), self.x_ranges):
            ax.set_xlim(*x_range)
            ax.set_ylabel("log₁₀ amplitude" if log_amplitude else "amplitude |a|·‖(w, b)‖")
            ax.set_ylim(*self._amplitude_range)
        sign_key = [
            plt.Line2D([], [], ls="none", label="density of neurons:" if self.dense else "each point a neuron:"),
            plt.Line2D([], [], ls="none", marker="o", ms=6, color=POSITIVE, label="a > 0"),
            plt.Line2D([], [], ls="none", marker="o", ms=6, color=NEGATIVE, label="a < 0"),
        ]
        # one row above the panel, not in it: the neurons are drawn over whatever the panel holds
        ax_orient.legend(
            handles=sign_key,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=3,
            frameon=False,
            fontsize=LEGEND_SIZE,
            borderaxespad=0.1,
            borderpad=0.0,
            handlelength=0.8,
            handletextpad=0.3,
            columnspacing=1.0,
        )
        (self.curve,) = ax_f.plot(first.grid, first.f, color="k", lw=1.5, label="f")
        (self.kink_marks,) = ax_f.plot(
            first.carrier_kinks,
            first.f_at_kinks,
            "|",
            color="crimson",
            ms=12,
            mew=1.5,
            label="kinks of neurons carrying f",
        )
        ax_f.plot(self.x, self.y, "o", color="orange", ms=6, zorder=3, label="data")
        ax_f.set_xlim(*run.config.interval)
        ax_f.set_xlabel("x")
        ax_f.set_ylabel("f(x)")
        ax_f.legend(loc="upper center", ncols=3, frameon=False, fontsize=LEGEND_SIZE)
        rec = run.records
        # a diverged run's last records may be huge: the axes take the drawable values (|v| < DRAWABLE) only
        f_min = rec["f_min"][np.abs(rec["f_min"]) < DRAWABLE]
        f_max = rec["f_max"][np.abs(rec["f_max"]) < DRAWABLE]
        low = float(min(np.min(f_min, initial=np.inf), self.y.min()))
        high = float(max(np.max(f_max, initial=-np.inf), self.y.max()))
        span = max(high - low, 1e-12)
        ax_f.set_ylim(low - 0.05 * span, high + 0.25 * span)  # room above for the legend
        self.risk_marker: Line2D | None = None
        self.stamp: Text | None = None
        if len(self.axes) > 3:
            ax_risk = self.axes[3]
            keep = (rec["step"] > 0) & (rec["risk"] > 0) & (rec["risk"] < DRAWABLE)  # drawable on log axes
            self._clock = run.config.clock(1)  # s per step: s = η·k/α
            every = max(1, int(keep.sum()) // 2000)  # ≤ ~2000 points: the same curve, drawn faster
            ax_risk.loglog(self._clock * rec["step"][keep][::every], rec["risk"][keep][::every], color="k", lw=1.2)
            drop_minor_ticks(ax_risk)
            plain_log_labels(ax_risk.figure)
            (self.risk_marker,) = ax_risk.plot(
                [self._clock * max(first.step, 1)], [_drawable(first.risk)], "o", color="crimson", ms=7
            )
            ax_risk.set_xlabel("s = η·k/α (log)")
            ax_risk.set_ylabel("risk R")
            ax_risk.grid(True, alpha=0.3)
            # the frame says which snapshot it is (the readout above the figure may run ahead during Play)
            self.stamp = ax_risk.text(
                0.98, 0.95, "", transform=ax_risk.transAxes, ha="right", va="top", fontsize=TICK_SIZE, color="0.25"
            )
        for ax in self.axes:
            ax.tick_params(labelsize=TICK_SIZE)
            ax.xaxis.label.set_size(LABEL_SIZE)
            ax.yaxis.label.set_size(LABEL_SIZE)
        self.update(first)

    def _neuron_artists(self, ax, x_range) -> tuple:
        if self.dense:
            return (
                ax.imshow(
                    np.full((*DENSITY_BINS, 4), 255, np.uint8),
                    origin="lower",
                    aspect="auto",
                    interpolation="nearest",
                    extent=(*x_range, *self._amplitude_range),
                ),
            )
        return tuple(
            ax.plot([], [], ls="none", marker="o", ms=2.6, mew=0, color=colour)[0] for colour in (NEGATIVE, POSITIVE)
        )

    @property
    def dynamic(self) -> list:
        """The artists that change from frame to frame (the rest of the figure is a fixed background)."""
        artists = [*self.neurons[0], *self.neurons[1], self.curve, self.kink_marks]
        return artists + ([self.risk_marker, self.stamp] if self.risk_marker is not None else [])

    def markers(self, panel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, a > 0) of the neuron markers drawn in panel 0 (orientation) or 1 (kink): the neurons
        with a ≤ 0 first, then those with a > 0 (not available in density mode)."""
        negative, positive = self.neurons[panel]
        (xn, yn), (xp, yp) = negative.get_data(), positive.get_data()
        return (
            np.concatenate((xn, xp)),
            np.concatenate((yn, yp)),
            np.concatenate((np.zeros(len(xn), bool), np.ones(len(xp), bool))),
        )

    def amplitude_coordinate(self, amplitude: np.ndarray) -> np.ndarray:
        """The y coordinate of each neuron: its amplitude, or log₁₀ of it (0 drawn at the axis bottom)."""
        if not self.log_amplitude:
            return amplitude
        with np.errstate(divide="ignore"):
            return np.maximum(np.log10(amplitude), self._amplitude_range[0])

    def update(self, fr: Frame) -> bool:
        """Move the artists to frame ``fr``; returns True when the amplitude axis changed (a full redraw)."""
        limits = amplitude_limits(fr.amplitude, self.log_amplitude)
        rescaled = limits != tuple(self.axes[0].get_ylim())
        self._amplitude_range = limits
        height = self.amplitude_coordinate(fr.amplitude)
        for artists, ax, x_range, position in zip(
            self.neurons, self.axes[:2], self.x_ranges, (fr.orientation, fr.kink)
        ):
            if rescaled:
                ax.set_ylim(*limits)
            if self.dense:
                artists[0].set_data(density_image(position, height, fr.positive, x_range, limits))
                artists[0].set_extent((*x_range, *limits))
            else:
                negative, positive = artists
                negative.set_data(position[~fr.positive], height[~fr.positive])
                positive.set_data(position[fr.positive], height[fr.positive])
        self.curve.set_data(fr.grid, fr.f)
        self.kink_marks.set_data(fr.carrier_kinks, fr.f_at_kinks)
        if self.risk_marker is not None and self.stamp is not None:
            self.risk_marker.set_data([self._clock * max(fr.step, 1)], [_drawable(fr.risk)])
            self.stamp.set_text(f"snapshot {fr.index} · step {fr.step:,}")
        return rescaled


def static_frames(run: Run, n_frames: int = 6) -> plt.Figure:
    """A grid of about ``n_frames`` snapshots (see ``frame_indices``): orientations, kinks, f."""
    picks = frame_indices(run.snapshot_steps, n_frames)
    fig, axes = plt.subplots(len(picks), 3, figsize=(14, 3.4 * len(picks) + 0.4), squeeze=False)
    for number, (row, index) in enumerate(zip(axes, picks)):
        fr = frame(run, int(index))
        Panels(row, run, fr)
        if number:  # the sign key (above the first orientation panel) once
            row[0].get_legend().remove()
        row[1].set_title(when(run, fr), fontsize=LEGEND_SIZE, loc="left")
        row[2].set_title(f"{clock_and_risk(run, fr)}\n{fr.condensation}", fontsize=LEGEND_SIZE - 0.5)
    fig.suptitle(run_title(run), fontsize=TITLE_SIZE)
    fixed_margins(fig, left=0.8, right=0.6, bottom=0.55, top=0.6, wspace=0.8, hspace=1.0)
    plain_log_labels(fig)
    return fig


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
        import ipywidgets as widgets

        self.runs = list_runs(runs) if isinstance(runs, (str, Path)) else list(runs)
        if not self.runs:
            raise ValueError(
                f"runs={str(runs)!r} is not allowed: no run stores found there (train some first, e.g. `make run`)"
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
        self.picker = widgets.Dropdown(
            options=self._picker_options(), value=run_index, description="run", layout=widgets.Layout(width="46em")
        )
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
            layout=widgets.Layout(width="16em"),
        )
        self.log_time = widgets.ToggleButton(
            value=True, description="log time", tooltip="on: snapshots in order (log-spaced); off: uniform in time"
        )
        self.log_amplitude = widgets.ToggleButton(
            value=False, description="log amplitude", tooltip="amplitude axis: log₁₀ |a|·‖(w, b)‖"
        )
        self.refresh_button = widgets.Button(description="refresh", tooltip="pick up new snapshots")
        self.readout = widgets.HTML(layout=widgets.Layout(width="100%"))  # wraps a long condensation line
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
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.picker, self.refresh_button], layout=wrap),
                widgets.HBox([self.play, self.speed, self.slider], layout=wrap),
                widgets.HBox([self.log_time, self.log_amplitude], layout=wrap),
                self.readout,
                self.image,
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
        return np.where(nearer_left, right - 1, right)

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
        from matplotlib import animation

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
        from IPython.display import display

        display(self.widget)
