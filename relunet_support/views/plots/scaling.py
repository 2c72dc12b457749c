"""Notebooks 02 and 04: the risk, or max f and min f, of runs of several widths against rescaled time (the
``clocks``), one colour per width, several seeds of a width as a median with a band."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from relunet_support.analysis.escapes import first_escape_of
from relunet_support.network.scaling import regime
from relunet_support.views.plots.clocks import CLOCKS, REGIME_CLOCKS, SEED_CLOCKS, SHIFTED, rescaled_time
from relunet_support.views.plots.style import (
    RISK_FLOOR,
    drop_minor_ticks,
    fixed_margins,
    plain_log_labels,
    settle_time,
    width_colours,
    width_label,
)


def _times(run, clock):
    config = run.config
    shift = first_escape_of(run) if clock == SHIFTED else 0.0
    return rescaled_time(run.records["step"], clock, config, shift)


MAX_POINTS = 2000  # points drawn per curve (records are log-spaced: every k-th one stays log-spaced)


def _thin(mask: np.ndarray) -> np.ndarray:
    """Indices of at most about MAX_POINTS of the records selected by ``mask``, evenly among them, the last one kept:
    a figure of 10⁴-point curves saves several times faster and looks the same."""
    index = np.nonzero(mask)[0]
    if index.size <= MAX_POINTS:
        return index
    return np.unique(np.append(index[:: -(-index.size // MAX_POINTS)], index[-1]))


FIELD_STYLE = {"risk": {}, "f_max": {"lw": 1.4}, "f_min": {"lw": 1.0, "alpha": 0.8, "dashes": (4, 1.5)}}


def _draw_series(ax, run, clock, fields, colour, log_time, log_values=False):
    t = _times(run, clock)
    keep = _thin(t > 0 if log_time and clock != SHIFTED else np.ones(t.size, dtype=bool))  # no step 0 on a log axis
    bad = run.status in ("dead", "diverged")
    for field in fields:
        values = run.records[field]
        style = {"lw": 1.2, **FIELD_STYLE[field]}
        if bad:
            style.update(alpha=0.6)
        ax.plot(t[keep], values[keep], color=colour, **style)
        if bad and log_values and not values[-1] > 0:  # it ends at f ≤ 0, below a log axis: the ✕ at its foot
            ax.plot(t[-1:], [0.0], marker="x", ms=8, mew=2, color="crimson", ls="none", clip_on=False,
                    transform=ax.get_xaxis_transform())  # fmt: skip
        elif bad:  # the run stops here: mark the end instead of drawing a fake plateau
            ax.plot(t[-1:], values[-1:], marker="x", ms=8, mew=2, color="crimson", ls="none")


def _draw_band(ax, group, clock, fields, colour, log_time):
    """Several seeds of one width: their median as a line and their min–max range as a band, on the
    first seed's time points (the others interpolated onto them)."""
    t = _times(group[0], clock)
    keep = _thin(t > 0 if log_time and clock != SHIFTED else np.ones(t.size, dtype=bool))
    for field in fields:
        stack = np.array([np.interp(t, _times(run, clock), run.records[field]) for run in group])
        ax.fill_between(t[keep], stack.min(axis=0)[keep], stack.max(axis=0)[keep], color=colour, alpha=0.25, lw=0)
        ax.plot(t[keep], np.median(stack, axis=0)[keep], color=colour, **{"lw": 1.2, **FIELD_STYLE[field]})


def _trim_time_axis(ax, runs, clock, fields, log_time: bool, log_values: bool) -> None:
    """Cut the time axis a little after the last curve has settled (``settle_time``), not at the end of training."""
    ends, starts, lasts = [], [], []
    for run in runs:
        t = _times(run, clock)
        positive = (t > 0 if log_time and clock != SHIFTED else np.ones(t.size, dtype=bool)) & np.isfinite(t)
        if positive.sum() < 2:  # also a run without a measured escape, on s − ŝ
            continue
        starts.append(float(t[positive][0]))
        lasts.append(float(t[positive][-1]))
        ends.append(max(settle_time(t[positive], run.records[field][positive], log_values) for field in fields))
    if not ends:
        return
    end, last = max(ends), max(lasts)
    if clock == SHIFTED:
        right = min(last, end + 0.5 * (end - min(starts)))
        ax.set_xlim(left=min(starts) - 0.02 * (right - min(starts)))
    else:
        right = min(last, end * 3.0) if log_time else min(last, end * 1.2)
    if right > min(starts):
        ax.set_xlim(right=right)


def _results(runs) -> list:
    """The runs that are results: not dead or diverged (all of them if none is)."""
    return [run for run in runs if run.status not in ("dead", "diverged")] or list(runs)


def _lowest(runs, first_step: int) -> float:
    """The lowest min f over the records from ``first_step`` on (1 where a log time axis leaves out step 0)."""
    return min(float(np.nanmin(run.records["f_min"][run.records["step"] >= first_step])) for run in runs)


def _positive_results(runs, first_step: int) -> bool:
    """Whether min f stays > 0 (from ``first_step`` on) in every run that is a result (then: a log axis)."""
    return _lowest(_results(runs), first_step) > 0


def _value_scale(ax, runs, quantity: str, first_step: int = 0) -> bool:
    """Log y for the risk and for positive extremes — positive in the runs that are results: a dead or
    diverged run's fall to f ≤ 0 goes below the axis, its ✕ at the axis' foot — symlog only when a complete
    run has min f ≤ 0 (then from 1.5 × its lowest value); True for log."""
    if quantity == "risk":
        ax.set_yscale("log")
        top = max(float(np.nanmax(run.records["risk"])) for run in runs)
        ax.set_ylim(max(ax.get_ylim()[0], RISK_FLOOR), 2 * top)
        return True
    results = _results(runs)
    lowest = _lowest(results, first_step)
    if lowest > 0:  # the runs that are results stay positive: a stopped run's fall to 0 is below the axis
        ax.set_yscale("log")
        ax.set_ylim(lowest / 2, 2 * max(float(np.nanmax(run.records["f_max"])) for run in results))
        return True
    ax.set_yscale("symlog", linthresh=1e-4)  # f_min ≤ 0 somewhere: log for |f| > 1e-4, linear through 0
    # no empty decades below the lowest value (autoscale pads a symlog axis to the next decade)
    ax.set_ylim(1.5 * lowest, 2 * max(float(np.nanmax(run.records["f_max"])) for run in results))
    return False


def _legend_handles(runs, banded, colours, quantity: str) -> list:
    handles = [
        plt.Line2D([], [], color=colours[m], label=f"m = {m}: median and range of {len(g)} seeds")
        for m, g in banded.items()
    ]
    handles += [
        plt.Line2D(
            [],
            [],
            color=colours[r.config.m],
            alpha=0.6 if r.status in ("dead", "diverged") else 1,
            label=width_label(r),
        )
        for r in runs
        if not (r.config.m in banded and r.status == "complete")
    ]
    if quantity == "extremes":
        handles += [
            plt.Line2D([], [], color="k", lw=1.4, label="max f"),
            plt.Line2D([], [], color="k", lw=1.0, dashes=(4, 1.5), label="min f"),
            plt.Line2D([], [], color="grey", lw=1, ls=":", label="max y, min y (targets)"),
        ]
    if any(r.status in ("dead", "diverged") for r in runs):
        handles.append(
            plt.Line2D([], [], color="crimson", marker="x", ls="none", mew=2, label="run stopped (dead / diverged)")
        )
    return handles


def _runs_by_width(runs: Sequence) -> tuple[list, dict, dict]:
    """(runs ordered by width and seed, {width: its complete runs when there are several seeds}, colours)."""
    colours = width_colours([r.config.m for r in runs])
    ordered = sorted(runs, key=lambda r: (r.config.m, r.config.seed))
    seeds: dict[int, list] = {}
    for run in ordered:
        if run.status == "complete":
            seeds.setdefault(run.config.m, []).append(run)
    return ordered, {m: group for m, group in seeds.items() if len(group) > 1}, colours


def _draw_panel(ax, ordered, banded, colours, quantity: str, clock: str, log_time: bool) -> None:
    """One panel of ``scaling_figure``: every width's curves against one clock, axes scaled and trimmed."""
    fields = ("f_min", "f_max") if quantity == "extremes" else ("risk",)
    first_step = 1 if log_time and clock != SHIFTED else 0  # step 0 has no place on a log time axis
    log_values = quantity == "risk" or _positive_results(ordered, first_step)
    for m, group in banded.items():
        _draw_band(ax, group, clock, fields, colours[m], log_time)
    for run in ordered:
        if run.config.m in banded and run.status == "complete":
            continue
        _draw_series(ax, run, clock, fields, colours[run.config.m], log_time, log_values)
    log_axis = log_time and clock != SHIFTED
    ax.set_xlabel(CLOCKS[clock][0] + (" (log)" if log_axis else ""))
    if log_axis:
        ax.set_xscale("log")
    _value_scale(ax, ordered, quantity, first_step)
    if quantity == "extremes":
        _, y = ordered[0].config.training_data()
        for target in (y.max(), y.min()):
            ax.axhline(target, color="grey", lw=1, ls=":", zorder=0)
        ax.set_ylabel("max f, min f on [−½, ½]")
    else:
        ax.set_ylabel("risk R")
    _trim_time_axis(ax, ordered, clock, fields, log_time, log_values)
    drop_minor_ticks(ax)
    ax.grid(True, alpha=0.3)


def scaling_figure(
    runs: Sequence,
    quantity: str = "extremes",
    clocks: Sequence[str] = SEED_CLOCKS,
    title: str | None = None,
    log_time: bool = True,
    columns: int = 3,
    legend_inside: bool = False,
) -> Figure:
    """Min and max of f over the interval (quantity='extremes') or the risk (quantity='risk', drawn
    down to 1e-10) against each rescaled time, one panel per clock, one colour per width.

    Time axes are log (linear for s − ŝ) and end a little after the last curve has stopped changing.
    Extremes: log y when every min f is positive (symlog only otherwise), max f solid, min f dashed,
    the targets' max y and min y as dotted reference lines. Several seeds of a width are drawn as their
    median with a min–max band. Dead and diverged runs are faded and end in a red ✕ at the step where
    they stopped. The legend takes a panel of its own, or sits in the first panel (``legend_inside``).
    """
    if quantity not in ("extremes", "risk"):
        raise ValueError(f"quantity={quantity!r} is not allowed: quantity must be 'extremes' or 'risk'")
    ordered, banded, colours = _runs_by_width(runs)
    panels_needed = len(clocks) + (0 if legend_inside else 1)
    columns = min(columns, panels_needed)
    rows = -(-panels_needed // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.3 * rows + (0.3 if title else 0)), squeeze=False)
    panels = axes.ravel()
    for ax, clock in zip(panels, clocks):
        _draw_panel(ax, ordered, banded, colours, quantity, clock, log_time)
    handles = _legend_handles(ordered, banded, colours, quantity)
    if legend_inside:
        panels[0].legend(handles=handles, fontsize=7.5, loc="best", framealpha=0.85)
    else:
        legend_ax = panels[len(clocks)]
        legend_ax.axis("off")
        legend_ax.legend(handles=handles, loc="center", title="width", fontsize=9)
    for ax in panels[panels_needed:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fixed_margins(fig)
    plain_log_labels(fig)
    return fig


def theory_clocks_figure(runs: Sequence, quantity: str, title: str | None = None) -> Figure:
    """``quantity`` against the clocks of the runs' regime (``REGIME_CLOCKS``: s, s/ln m and s − ŝ(m) when
    condensed; k, s and the kernel's τ when linear or critical) in one compact row, legend in the first panel."""
    config = runs[0].config
    clocks = REGIME_CLOCKS[regime(config.gamma, config.gamma_prime)]
    return scaling_figure(runs, quantity, clocks=clocks, columns=3, title=title, legend_inside=True)


def risk_curves(runs: Sequence, clock: str = "s") -> Figure:
    """Quick look: risk against one clock (log-log), one colour per width, legend in the panel."""
    return scaling_figure(runs, "risk", clocks=(clock,), columns=1, legend_inside=True)


def one_width_figure(runs: Sequence, title: str | None = None) -> Figure:
    """A batch of one width: its risk and its extremes against s = η·k/α side by side (the rescalings of
    k by m, m², ln m would only relabel the same curve)."""
    ordered, banded, colours = _runs_by_width(runs)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9 if title else 3.6))
    for ax, quantity in zip(axes, ("risk", "extremes")):
        _draw_panel(ax, ordered, banded, colours, quantity, "s", True)
        ax.legend(handles=_legend_handles(ordered, banded, colours, quantity), fontsize=7.5, loc="best")
    if title:
        fig.suptitle(title)
    fixed_margins(fig)
    plain_log_labels(fig)
    return fig
