"""The viewer's matplotlib panels: the neurons as (orientation, amplitude) and (kink, amplitude), f with the
data and the kinks of the neurons carrying f, and the risk curve with the snapshot marked. ``Panels`` creates
the figure's artists once and moves them to each ``Frame`` in place (``set_data``, or a density image above
DENSITY_ABOVE neurons). Every axis range depends on the run and the current snapshot only, so the picture of a
snapshot does not depend on how the viewer got there. ``static_frames`` draws a grid of frames for papermill
output.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.text import Text

from relunet_support.runs.store import Run
from relunet_support.views.frames import Frame, clock_and_risk, frame, frame_indices, run_title, when
from relunet_support.views.plots.style import DRAWABLE, drop_minor_ticks, fixed_margins, plain_log_labels

KINK_TICKS = (-10.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 10.0)
POSITIVE = np.array([0.84, 0.15, 0.16, 0.85])  # a_j > 0
NEGATIVE = np.array([0.12, 0.47, 0.71, 0.85])  # a_j < 0
DENSITY_ABOVE = 5_000  # wider runs draw the neuron panels as a density image instead of one marker per neuron
DENSITY_BINS = (120, 240)  # rows (amplitude) × columns (orientation or kink) of the density image
# font sizes in points, set on each artist (rcParams would be read at draw time, outside any rc_context)
TICK_SIZE, LABEL_SIZE, LEGEND_SIZE, TITLE_SIZE = 9, 10, 9, 11
NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


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


def _drawable(risk: float) -> float:
    """The risk where a log axis can draw it, else NaN (not drawn): a diverged run's last values overflow."""
    return risk if 0 < risk < DRAWABLE else np.nan


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
        # not clipped: the data sit on the interval's ends (x = ±½), where half of each marker was cut off
        ax_f.plot(self.x, self.y, "o", color="orange", ms=6, zorder=3, label="data", clip_on=False)
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
            drawn = rec["risk"][keep]
            if drawn.size and drawn.max() < 10 * drawn.min():  # under a decade (a dead run's flat risk): whole
                ax_risk.set_ylim(drawn.min() / 3, drawn.max() * 3)  # decades, not long labels over "risk R"
            # the frame says which snapshot it is, above the panel (inside, it sat over the risk curve)
            self.stamp = ax_risk.text(
                1.0, 1.02, "", transform=ax_risk.transAxes, ha="right", va="bottom", fontsize=TICK_SIZE, color="0.25"
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
