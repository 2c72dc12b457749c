"""Figures: pure functions that take runs (or numbers) and return matplotlib figures.

Time axes. The seed rescaled the step index k by 1, 1/m, 1/m², 1/ln m; the theory's clock is
s = η·k/α_m (Luo et al. 2021; at γ = 3/2 escapes happen at s ≈ ((γ−1)/(2G*)) ln m + C).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator, NullFormatter, NullLocator

from relunet_support.analysis.escapes import SlopeFit, first_escape_of
from relunet_support.network.scaling import kappas, regime


def kernel_rate(config) -> float:
    """mκ(κ′ + 1/κ′) = m(β₁² + β₂²)/α: the scale of the tangent kernel on the clock s, i.e. how fast f moves
    per unit s while the network stays near its initialisation (the linear regime; docs/science.md §3)."""
    kappa, kappa_prime = kappas(config.m, config.gamma, config.gamma_prime)
    return config.m * kappa * (kappa_prime + 1.0 / kappa_prime)


# name -> (axis label, k ↦ rescaled time given the run's config and ŝ, its measured first escape)
CLOCKS: dict[str, tuple[str, Callable]] = {
    "k": ("step k", lambda k, c, shift: k),
    "k/m": ("k / m", lambda k, c, shift: k / c.m),
    "k/m²": ("k / m²", lambda k, c, shift: k / c.m**2),
    "k/ln m": ("k / ln m", lambda k, c, shift: k / math.log(c.m)),
    "s": ("s = η·k / α_m", lambda k, c, shift: c.clock(k)),
    "s/ln m": ("s / ln m", lambda k, c, shift: c.clock(k) / math.log(c.m)),
    "s−ŝ": ("s − ŝ(m)  (ŝ: measured first escape)", lambda k, c, shift: c.clock(k) - shift),
    "τ": (
        "τ = mκ(κ′ + 1/κ′)·s  (tangent kernel's time)",
        lambda k, c, shift: kernel_rate(c) * c.clock(k),
    ),
}
SEED_CLOCKS = ("k", "k/m", "k/m²", "k/ln m", "s")
SHIFTED = "s−ŝ"
# the clocks that should collapse the widths in each regime of Luo et al.'s phase diagram (docs/science.md §3):
# condensed — s, up to the escape's shift ∝ ln m; linear — τ (the kernel's time); critical — s and τ agree
REGIME_CLOCKS = {"condensed": ("s", "s/ln m", SHIFTED), "linear": ("k", "s", "τ"), "critical": ("k", "s", "τ")}


def rescaled_time(steps: np.ndarray, clock: str, config, shift: float = 0.0) -> np.ndarray:
    """The step indices of a run of ``config`` on one of the CLOCKS."""
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r} is not allowed: clock must be one of {', '.join(map(repr, CLOCKS))}")
    return CLOCKS[clock][1](np.asarray(steps, dtype=np.float64), config, shift)


DRAWABLE = 1e100  # records beyond this (a diverged run's last steps) are left off the axes: their ranges overflow

# the paper figures' margins and gaps between panels, in inches (``fixed_margins``)
MARGINS = {"left": 0.75, "right": 0.15, "bottom": 0.55, "top": 0.3, "wspace": 0.85, "hspace": 0.6}


def fixed_margins(fig: Figure, **inches: float) -> None:
    """Margins and gaps in inches (``MARGINS``, any of them overridden by name), set once: constrained
    layout would measure every tick label of every panel again at each save (most of the time 04 took)."""
    unknown = sorted(set(inches) - set(MARGINS))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not allowed: the margins are {', '.join(MARGINS)}")
    left, right, bottom, top, wspace, hspace = ({**MARGINS, **inches}[name] for name in MARGINS)
    width, height = fig.get_size_inches()
    top += 0.3 if fig.get_suptitle() else 0.0
    grids = [spec.get_gridspec() for spec in (ax.get_subplotspec() for ax in fig.axes) if spec is not None]
    columns = max((grid.ncols for grid in grids), default=1)
    rows = max((grid.nrows for grid in grids), default=1)
    panel_width = (width - left - right - (columns - 1) * wspace) / columns
    panel_height = (height - top - bottom - (rows - 1) * hspace) / rows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace / panel_width,
        hspace=hspace / panel_height,
    )


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATH_POWER = re.compile(r"^\$\\mathdefault\{(-?)(?:([\d.]+)\\times)?(?:10\^\{(-?\d+)\}|([\d.]+))\}\$$")


def plain_power(label: str) -> str:
    """A log axis's mathtext tick label as plain text: '$\\mathdefault{-2\\times10^{-3}}$' → '−2×10⁻³'.
    (Laying out mathtext costs about 25 ms per distinct label, a fifth of notebook 04's time.)"""
    match = _MATH_POWER.match(label)
    if match is None:
        return label
    sign, coefficient, exponent, plain = match.groups()
    if plain is not None:
        return ("−" if sign else "") + plain
    power = "10" + exponent.translate(SUPERSCRIPTS)
    return ("−" if sign else "") + (f"{coefficient}×{power}" if coefficient else power)


class PlainPowerFormatter(Formatter):
    """The axis's own log formatter (which labels to show, and where), its labels written without mathtext."""

    def __init__(self, inner: Formatter):
        self.inner = inner

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs) -> None:
        self.inner.set_locs(locs)

    def __call__(self, x, pos=None) -> str:
        return plain_power(self.inner(x, pos))

    def format_data(self, value) -> str:
        return plain_power(self.inner.format_data(value))

    def format_data_short(self, value) -> str:
        return self.inner.format_data_short(value)


def plain_log_labels(fig: Figure) -> None:
    """Every log and symlog axis of ``fig`` labels its ticks in plain text (10⁻³), not mathtext."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() in ("log", "symlog"):
                for formatter, setter in (
                    (axis.get_major_formatter(), axis.set_major_formatter),
                    (axis.get_minor_formatter(), axis.set_minor_formatter),
                ):
                    if not isinstance(formatter, PlainPowerFormatter):
                        setter(PlainPowerFormatter(formatter))


def drop_minor_ticks(ax, decades: float = 3.0) -> None:
    """No minor ticks on a log axis that spans ``decades`` or more (they cost most of a figure's drawing
    and say nothing there); a shorter log axis keeps them, as its only labelled ticks may be minor ones."""
    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        low, high = sorted(limits)
        if axis.get_scale() == "log" and low > 0 and np.log10(high / low) >= decades:
            axis.set_minor_locator(NullLocator())


def width_colours(widths: Sequence[int]) -> dict[int, tuple]:
    """One viridis colour per width, in increasing order of width."""
    ordered = sorted(set(widths))
    cmap = plt.get_cmap("viridis")
    return {m: cmap(0.9 * i / max(len(ordered) - 1, 1)) for i, m in enumerate(ordered)}


def width_label(run) -> str:
    """A legend's entry for a run among its batch: 'm = 800', with the status when the run did not complete
    (dead or diverged runs are marked). The viewer's picker entry, which names everything, is
    ``viewer.run_label``."""
    label = f"m = {run.config.m}"
    if run.status != "complete":
        label += f" ({run.status} at step {run.step})" if run.status in ("dead", "diverged") else f" ({run.status})"
    return label


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


RISK_FLOOR = 1e-10


def settle_time(t: np.ndarray, values: np.ndarray, log: bool, tolerance: float = 0.01) -> float:
    """The first time after which ``values`` stay within ``tolerance`` of their final value, relative to
    their whole range (in log10 when ``log``, below RISK_FLOOR counting as the floor): where a curve
    stops changing on the plot."""
    values = np.asarray(values, dtype=np.float64)
    if log:
        values = np.log10(np.maximum(values, RISK_FLOOR))
    span = float(np.nanmax(values) - np.nanmin(values))
    if not np.isfinite(span) or span == 0 or t.size < 2:
        return float(t[-1])
    moving = np.nonzero(np.abs(values - values[-1]) > tolerance * span)[0]
    return float(t[min(moving[-1] + 1, t.size - 1)]) if moving.size else float(t[0])


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


@dataclass(frozen=True)
class EscapePanel:
    """One panel of ``escape_fit_figure``: the measured escape times (m, seed, ŝ), their fit against ln m (None
    with fewer than ``min_widths`` widths: then the panel says so instead of drawing a line), the theory's
    slope and how it is written."""

    name: str  # 'first escape ŝ₁'
    points: Sequence[tuple[int, int, float]]
    fit: SlopeFit | None
    theory_slope: float
    theory_formula: str  # '(γ − 1 − |γ′|)/(2G*)'
    min_widths: int = 2
    theory_name: str = "theory"  # how the legend calls the predicted slope ('hypothesis', …)
    refused: str = ""  # why no fit is drawn although there are points ('η/α beyond the stability limit …')


def escape_fit_figure(panels: Sequence[EscapePanel], title: str | None = None) -> Figure:
    """Each escape time ŝ(m) against ln m, side by side (one dot per run): the least-squares line with its
    slope's confidence interval as a band, and the theory's slope drawn through the points' centre (the
    theory fixes the slope, not the offset). A panel without a fit shows its points and says so."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        _escape_panel(ax, panel)
    if title:
        fig.suptitle(title, fontsize=10)
    fixed_margins(fig, top=0.35 if title else 0.2)
    plain_log_labels(fig)
    return fig


def _escape_panel(ax, panel: EscapePanel) -> None:
    usable = [(m, seed, t) for m, seed, t in panel.points if np.isfinite(t)]
    ln_m = np.log([m for m, _, _ in usable])
    s_hat = np.array([t for _, _, t in usable])
    seeds = len({seed for _, seed, _ in usable})
    ax.plot(ln_m, s_hat, "o", color="k", ms=4, alpha=0.5 if seeds > 1 else 1.0, label=f"measured ({len(usable)} runs)")
    if seeds > 1:  # several seeds per width: their median, which the eye should follow
        widths = sorted({m for m, _, _ in usable})
        medians = [float(np.median([t for m, _, t in usable if m == width])) for width in widths]
        ax.plot(np.log(widths), medians, "_", color="k", ms=14, mew=2, label=f"median per width (≤ {seeds} seeds)")
    ax.set_xlabel("ln m")
    ax.set_ylabel(f"{panel.name} (clock s = η·k/α)")
    ax.grid(True, alpha=0.3)
    reached = len({m for m, _, _ in usable})
    if panel.fit is None or reached < panel.min_widths or panel.refused:
        why = panel.refused or f"{reached} widths reach it; needs ≥ {panel.min_widths}"
        ax.set_title(f"{panel.name}: no fit ({why})", fontsize=9)
        if usable:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "no run reached it", transform=ax.transAxes, ha="center", va="center", fontsize=9)
        return
    fit = panel.fit
    grid = np.linspace(ln_m.min() - 0.1, ln_m.max() + 0.1, 50)
    centre_x, centre_y = float(ln_m.mean()), float(np.mean(s_hat))
    ax.plot(grid, fit.slope * grid + fit.intercept, color="tab:blue", lw=1.5, label=f"fit: slope {fit.slope:.3f}")
    if fit.has_interval:
        low = centre_y + fit.slope_low * (grid - centre_x)
        high = centre_y + fit.slope_high * (grid - centre_x)
        ax.fill_between(
            grid,
            np.minimum(low, high),
            np.maximum(low, high),
            color="tab:blue",
            alpha=0.15,
            lw=0,
            label=f"{100 * fit.confidence:g} % interval of the slope: {fit.slope_low:.3f} … {fit.slope_high:.3f}",
        )
    ax.plot(
        grid,
        centre_y + panel.theory_slope * (grid - centre_x),
        color="crimson",
        lw=1.5,
        ls="--",
        label=f"{panel.theory_name}: slope {panel.theory_formula} = {panel.theory_slope:.3f}",
    )
    ax.legend(fontsize=8, loc="best")


def phase_diagram(
    gamma: float | None = None,
    gamma_prime: float | None = None,
    ax=None,
    gamma_range=(0.0, 2.5),
    gamma_prime_range=(-1.0, 1.5),
):
    """Luo et al. (2021) phase diagram in the (γ, γ′) plane: linear (γ < 1 or γ′ > γ − 1), condensed
    (γ > 1 and γ′ < γ − 1), critical on the boundary; the given point is marked with its regime."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2), layout="constrained")
    g = np.linspace(gamma_range[0], gamma_range[1], 400)
    lo, hi = gamma_prime_range
    ax.fill_between(g, lo, hi, where=g <= 1, color="tab:blue", alpha=0.18, lw=0)
    ax.fill_between(g, np.clip(g - 1, lo, hi), hi, where=g >= 1, color="tab:blue", alpha=0.18, lw=0, label="linear")
    ax.fill_between(g, lo, np.clip(g - 1, lo, hi), where=g >= 1, color="tab:red", alpha=0.18, lw=0, label="condensed")
    ax.plot([1, 1], [lo, 0], color="k", lw=2, label="critical")
    ax.plot(g[g >= 1], np.clip(g[g >= 1] - 1, lo, hi), color="k", lw=2)
    ax.set_xlim(*gamma_range)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("γ  (κ = β₁β₂/α = m^−γ)")
    ax.set_ylabel("γ′  (κ′ = β₁/β₂ = m^−γ′)")
    for name, (gx, gy) in {"NTK": (0.5, 0.0), "mean field": (1.0, 0.0), "LeCun": (0.5, 0.5)}.items():
        ax.plot(gx, gy, "o", color="grey", ms=4)
        ax.annotate(name, (gx, gy), textcoords="offset points", xytext=(4, 4), fontsize=8, color="grey")
    if gamma is not None and gamma_prime is not None:
        ax.plot(
            gamma,
            gamma_prime,
            "*",
            color="gold",
            mec="k",
            ms=16,
            label=f"this run: ({gamma:g}, {gamma_prime:g}), {regime(gamma, gamma_prime)}",
        )
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Phase diagram (Luo et al. 2021)")
    return ax.figure


def condensation_figure(histories: dict, runs: Sequence, title: str | None = None) -> Figure:
    """Number of condensed orientation clusters (and the share of amplitude they carry) against s. A dead
    or diverged run is faded and dashed and ends in a red ✕ where it stopped: its clusters are those of
    a network that stopped training, not a result."""
    colours = width_colours([r.config.m for r in runs])
    fig, (ax_count, ax_share) = plt.subplots(1, 2, figsize=(11, 3.6))
    settled, first, last = [], [], []
    for run in sorted(runs, key=lambda r: r.config.m):
        hist = histories[run.run_id]
        s = run.config.clock(hist["step"])
        keep = s > 0
        stopped = run.status in ("dead", "diverged")
        style: dict = dict(color=colours[run.config.m], label=width_label(run), drawstyle="steps-post")
        if stopped:
            style.update(alpha=0.5, ls="--")
        for ax, field in ((ax_count, "n_condensed"), (ax_share, "condensed_share")):
            ax.plot(s[keep], hist[field][keep], **style)
            if stopped and keep.any():
                ax.plot(s[keep][-1:], hist[field][keep][-1:], marker="x", ms=8, mew=2, color="crimson", ls="none")
        if keep.sum() > 1 and not stopped:
            settled.append(
                max(settle_time(s[keep], hist[field][keep], log=False) for field in ("n_condensed", "condensed_share"))
            )
            first.append(float(s[keep][0]))
            last.append(float(s[keep][-1]))
    ax_count.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax, label in ((ax_count, "condensed orientation clusters"), (ax_share, "share of amplitude condensed")):
        ax.set_xscale("log")
        ax.set_xlabel("s = η·k / α_m (log)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if settled:  # from the first snapshot to a little after the last change, not to the end of training
            ax.set_xlim(min(first) / 1.5, max(min(max(last), 3 * max(settled)), 1.5 * min(first)))
    ax_share.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fixed_margins(fig)
    plain_log_labels(fig)
    return fig


def condensation_timing_figure(timings: dict, first_escapes: dict | None = None, title: str | None = None) -> Figure:
    """When the neurons condense, against ln m: for each width m, ``timings[m]`` (a ``condensation.Timing``)
    gives the s from which at least one cluster holds (the first condensation) and the s from which the
    final count holds (marked with that count); ``first_escapes[m]``, when given, the median first escape ŝ₁
    of that width, for comparison. Widths with no cluster at the end are named in the panel."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    widths = sorted(timings)
    ln_m = np.log(widths)
    first = np.array([timings[m].first for m in widths])
    final = np.array([timings[m].final for m in widths])
    ax.plot(ln_m, first, "o-", color="tab:blue", ms=5, zorder=3, label="first cluster (held from s to 2s)")
    ax.plot(
        ln_m,
        final,
        "s-",
        color="tab:red",
        ms=10,
        mfc="none",
        mew=1.5,
        label="final clusters (count beside), held from then on",
    )
    for x, y, m in zip(ln_m, final, widths):
        if np.isfinite(y):
            ax.annotate(f"{timings[m].final_count}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    if first_escapes:
        escaped = [m for m in widths if m in first_escapes and np.isfinite(first_escapes[m])]
        ax.plot(np.log(escaped), [first_escapes[m] for m in escaped], "k--", lw=1, label="first escape ŝ₁ (median)")
    never = [m for m in widths if not np.isfinite(timings[m].first)]
    if never:
        ax.text(
            0.02, 0.02, "no cluster at the end: m = " + ", ".join(map(str, never)), transform=ax.transAxes, fontsize=8
        )
    ax.set_yscale("log")
    ax.set_xlabel("ln m")
    ax.set_ylabel("s = η·k/α_m (log)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    if title:
        fig.suptitle(title, fontsize=10)
    fixed_margins(fig)
    plain_log_labels(fig)
    return fig


def rd_against_width_figure(widths, distances: dict, slopes: dict, theory_slopes: dict, title: str) -> Figure:
    """Luo et al.'s Fig. 3: RD(θ_w*) against the width m, log-log, one line per γ. ``distances[γ]`` is a
    (seeds × widths) array: the median over seeds is drawn with the range as error bars, and the legend
    gives the fitted slopes S_w (``slopes[γ]``, one per seed: their median and range) beside
    ``theory_slopes[γ]``."""
    widths = np.asarray(widths, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.6, 5.4), layout="constrained")
    for gamma, per_seed in distances.items():
        per_seed = np.atleast_2d(per_seed)
        gamma_slopes = np.atleast_1d(slopes[gamma])
        median = np.median(per_seed, axis=0)
        spread = f", range {gamma_slopes.min():.3f} … {gamma_slopes.max():.3f}" if len(gamma_slopes) > 1 else ""
        ax.errorbar(
            widths,
            median,
            yerr=(median - per_seed.min(axis=0), per_seed.max(axis=0) - median),
            fmt="o-",
            capsize=3,
            label=f"γ = {gamma:g}: S_w = {np.median(gamma_slopes):.3f}{spread} (theory {theory_slopes[gamma]:.3f})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(widths, [f"{m:g}" for m in widths])  # the widths themselves, not powers of ten
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width m")
    ax.set_ylabel("RD(θ_w*)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below the panel: hides no point
    ax.grid(True, which="major", alpha=0.3)
    plain_log_labels(fig)
    return fig


def crossing_figure(crossings: dict, theory_crossing, title: str) -> Figure:
    """Luo et al.'s Fig. 4: the measured γ where S_w changes sign, for each γ′ (``crossings[γ′]``), beside
    the theory's line γ = ``theory_crossing(γ′)``."""
    gamma_primes = np.array(list(crossings), dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.6, 4.2), layout="constrained")
    line = np.linspace(gamma_primes.min(), gamma_primes.max(), 200)
    ax.plot([theory_crossing(v) for v in line], line, color="k", lw=2, label="theory: S_w = 0")
    ax.plot(list(crossings.values()), gamma_primes, "o", color="crimson", ms=8, label="measured zero crossing of S_w")
    ax.set_xlabel("γ")
    ax.set_ylabel("γ′")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig


def slope_against_gamma_prime_figure(measured: dict, predicted: dict, limit: dict, bound: dict, title: str) -> Figure:
    """S_w against γ′, one colour per γ: the measured slopes (``measured[γ][γ′]`` = list over seeds: median and
    range), the derived finite-width prediction over the same widths (solid), the m → ∞ exponent (dashed) and the
    paper's upper-bound exponent where it differs (dotted). The dicts are keyed like ``measured``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    colours = plt.cm.viridis(np.linspace(0.1, 0.85, len(measured)))
    for colour, gamma in zip(colours, measured, strict=True):
        gamma_primes = np.array(list(measured[gamma]), dtype=np.float64)
        values = [np.asarray(v, dtype=np.float64) for v in measured[gamma].values()]
        medians = np.array([np.median(v) for v in values])
        spread = np.array(
            [[m - v.min() for m, v in zip(medians, values)], [v.max() - m for m, v in zip(medians, values)]]
        )
        ax.errorbar(
            gamma_primes, medians, yerr=spread, fmt="o", color=colour, ms=6, capsize=3, label=f"γ = {gamma:g}: measured"
        )
        ax.plot(gamma_primes, [predicted[gamma][g] for g in gamma_primes], "-", color=colour, lw=1.5)
        ax.plot(gamma_primes, [limit[gamma][g] for g in gamma_primes], "--", color=colour, lw=1)
        if any(abs(bound[gamma][g] - limit[gamma][g]) > 1e-9 for g in gamma_primes):
            ax.plot(gamma_primes, [bound[gamma][g] for g in gamma_primes], ":", color=colour, lw=1)
    ax.plot([], [], "-", color="grey", label="derived, at these widths")
    ax.plot([], [], "--", color="grey", label="derived, m → ∞")
    ax.plot([], [], ":", color="grey", label="paper's estimate (a bound for γ′ > 0)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("γ′")
    ax.set_ylabel("S_w = d ln RD(θ_w*) / d ln m")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, alpha=0.3)
    return fig


def cosine_heatmap(ax, w, b, order: np.ndarray, title: str):
    """Zhou et al.'s heat map on ``ax``: cos(u_j, u_k) of the neurons' directions u_j = (w_j, b_j)/‖(w_j, b_j)‖,
    rows and columns in ``order`` (neurons of one line side by side); returns the image (for a colour bar)."""
    from relunet_support.analysis.directions import cosine_similarity

    cosines = cosine_similarity(w, b)[np.ix_(order, order)]
    image = ax.imshow(cosines, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8.5)
    ax.set_xlabel("neuron (ordered by line)", fontsize=8)
    ax.set_ylabel("neuron", fontsize=8)
    ax.tick_params(labelsize=8)
    return image


def _multiplicity_text(activation: str) -> str:
    """'p = 2', or 'kink at 0' for ReLU and leaky ReLU (Zhou et al.'s multiplicity needs σ smooth at 0)."""
    from relunet_support.network import activations

    kind = activations.get(activation)
    return "kink at 0" if kind.piecewise_linear else f"p = {kind.multiplicity}"


def initial_condensation_heatmaps(stages: Sequence, title: str) -> Figure:
    """One cosine heat map per ``stages`` entry (an ``InitialStage``), side by side, with a shared colour bar;
    the neurons of each of its lines side by side (``initial_condensation.line_order``)."""
    from relunet_support.analysis.initial_condensation import line_order

    orders = [line_order(stage.lines, stage.w, stage.b) for stage in stages]
    fig, axes = plt.subplots(1, len(stages), figsize=(3.0 * len(stages) + 0.8, 3.4), layout="constrained")
    axes = np.atleast_1d(axes)
    image = None
    for ax, stage, order in zip(axes, stages, orders, strict=True):
        steps = "not ended" if stage.steps is None else f"step {stage.steps:,}"
        image = cosine_heatmap(
            ax,
            stage.w,
            stage.b,
            order,
            f"{stage.activation} ({_multiplicity_text(stage.activation)}), seed {stage.seed}\n"
            f"{steps}, η = {stage.learning_rate:g}: {len(stage.lines)} line(s)",
        )
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="cos(u_j, u_k)")
    fig.suptitle(title, fontsize=9)
    return fig


def line_counts_figure(counts: dict, multiplicities: dict, title: str) -> Figure:
    """The number of condensed lines at the end of the initial stage against the multiplicity p: one point per
    seed (``counts[activation]`` = list over seeds, slightly spread sideways), the median as a bar, and Zhou
    et al.'s bound 'at most p lines' as a staircase. ReLU (no multiplicity: not differentiable at 0) sits
    at its own position right of the others."""
    fig, ax = plt.subplots(figsize=(7.4, 4.0), layout="constrained")
    smooth = [name for name in counts if name not in ("relu", "leaky_relu")]
    positions = {name: float(multiplicities[name]) for name in smooth}
    top = max([*positions.values(), 1.0])
    for offset, name in enumerate(n for n in counts if n not in smooth):
        positions[name] = top + 1.5 + offset
    bound_p = np.arange(1, int(top) + 1)
    ax.step(np.r_[bound_p - 0.5, bound_p[-1] + 0.5], np.r_[bound_p, bound_p[-1]], where="post", color="k", lw=1)
    ax.plot([], [], "-", color="k", lw=1, label="Zhou et al.: at most p lines")
    ax.plot([], [], "-", color="k", lw=2.5, label="median over seeds")
    for name, values in counts.items():
        values = np.asarray(values, dtype=np.float64)
        spread = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
        ax.plot(positions[name] + spread, values, "o", ms=6, alpha=0.8, label=f"{name}: per seed")
        ax.hlines(np.median(values), positions[name] - 0.2, positions[name] + 0.2, color="k", lw=2)
    ax.set_xticks(
        list(positions.values()),
        [f"{n}\n{_multiplicity_text(n)}" for n in positions],
    )
    ax.set_ylabel("condensed lines at the end of the initial stage")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.3, max(top, max(max(v) for v in counts.values())) + 0.8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, alpha=0.3)
    return fig


def principal_directions(unit: np.ndarray) -> np.ndarray:
    """The two leading principal directions (rows, shape (2, d + 1)) of the neurons' unit directions, with ±u
    taken as one line (the second-moment matrix Σ_j u_j u_jᵀ, not centred: u and −u weigh the same); with
    fewer than two neurons (or directions), completed by coordinate axes orthogonal to the first."""
    _, _, rows = np.linalg.svd(unit, full_matrices=False)
    basis = list(rows[:2])
    for axis in np.eye(unit.shape[1]):  # m = 1: one principal direction; complete it to two
        if len(basis) == 2:
            break
        rest = axis - sum((axis @ v) * v for v in basis)
        if np.linalg.norm(rest) > 1e-6:
            basis.append(rest / np.linalg.norm(rest))
    return np.array(basis)


def _default_snapshots(run) -> list[tuple[int, str]]:
    """(snapshot index, role): the start; the last snapshot before the risk first falls to 0.99·R(0) (the
    end of the initial stage, as in notebook 06); log-midway from there to the end; the end."""
    steps = np.asarray(run.snapshot_steps)
    records = run.records
    at = np.clip(np.searchsorted(records["step"], steps, side="right") - 1, 0, len(records["step"]) - 1)
    fitted = np.flatnonzero(records["risk"][at] <= 0.99 * records["risk"][0])
    end = max(int(fitted[0]) - 1, 0) if fitted.size else len(steps) - 1
    middle = int(
        np.argmin(np.abs(np.log(np.maximum(steps, 1)) - np.log(np.sqrt(max(steps[end], 1) * max(steps[-1], 1)))))
    )
    chosen = {0: "start", end: "end of the initial stage", middle: "midway (log)", len(steps) - 1: "end"}
    return sorted(chosen.items())


def direction_snapshots_figure(run, indices: Sequence[int] | None = None, alignment: float = 0.99) -> Figure:
    """The neurons of a run of any input dimension at a few snapshots: per snapshot (a column) the heat map of
    cos(u_j, u_k) ordered by condensed line (``directions.lines``, every neuron weighing 1), and the unit
    directions projected on the two leading principal directions of the last snapshot's (fixed for all
    columns), coloured by sign(a_j) (red a > 0, blue a < 0), sized by amplitude; below, the risk with the
    snapshots marked and the number of condensed lines over time (``directions.line_count_history``).
    ``indices``: snapshot indices (default: the start; the end of the initial stage — the last snapshot
    before the risk first falls to 0.99·R(0), as in notebook 06; log-midway from there; the end). A dead or
    diverged run says so in the title; its risk is drawn where it is finite."""
    from relunet_support.analysis import directions
    from relunet_support.analysis.initial_condensation import line_order

    chosen = _default_snapshots(run) if indices is None else [(int(i), "") for i in indices]
    last = run.snapshot(len(run.snapshot_steps) - 1)
    axes_rows = principal_directions(directions.unit_directions(last[1], last[2])[0])
    fig = plt.figure(figsize=(max(2.9 * len(chosen), 8.0) + 0.6, 8.6), layout="constrained")
    grid = fig.add_gridspec(3, len(chosen), height_ratios=[1, 1, 0.7])
    config = run.config
    image = None
    heatmaps = []
    for column, (index, role) in enumerate(chosen):
        a, w, b = run.snapshot(index)
        step = int(run.snapshot_steps[index])
        found = directions.lines(a, w, b, alignment=alignment, mass=1.0, weighting="neurons")
        heatmap = fig.add_subplot(grid[0, column])
        heatmaps.append(heatmap)
        image = cosine_heatmap(
            heatmap, w, b, line_order(found, w, b), f"{role + ': ' if role else ''}step {step:,}\n{len(found)} line(s)"
        )
        for axis in (heatmap.xaxis, heatmap.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        unit, norms = directions.unit_directions(w, b)
        projected = unit @ axes_rows.T
        with np.errstate(over="ignore", invalid="ignore"):
            amplitude = np.nan_to_num(np.abs(a) * norms, nan=0.0, posinf=0.0)
        sizes = 4 + 40 * amplitude / amplitude.max() if amplitude.max() > 0 else np.full(a.shape, 4.0)
        ax = fig.add_subplot(grid[1, column])
        ax.add_patch(plt.Circle((0, 0), 1, fill=False, color="0.7", lw=0.8))
        ax.scatter(projected[:, 0], projected[:, 1], s=sizes, c=np.where(a > 0, "tab:red", "tab:blue"), alpha=0.6, lw=0)
        ax.set(xlim=(-1.08, 1.08), ylim=(-1.08, 1.08), aspect="equal")
        ax.set_xlabel("PC 1 of u_j (last snapshot)", fontsize=8)
        ax.set_ylabel("PC 2", fontsize=8)
        ax.tick_params(labelsize=8)
        if column == 0:
            ax.plot([], [], "o", color="tab:red", label="a_j > 0")
            ax.plot([], [], "o", color="tab:blue", label="a_j < 0")
            ax.legend(fontsize=6, loc="lower left", handletextpad=0.2)
    fig.colorbar(image, ax=heatmaps, shrink=0.8, label="cos(u_j, u_k)")
    ax = fig.add_subplot(grid[2, :])
    records = run.records
    shown = (records["risk"] > 0) & (records["risk"] < DRAWABLE)  # finite, and drawable on a log axis
    ax.loglog(np.maximum(records["step"][shown], 1), records["risk"][shown], color="k", lw=1, label="risk R")
    for index, _ in chosen:
        ax.axvline(max(int(run.snapshot_steps[index]), 1), color="tab:orange", lw=0.8, ls="--")
    ax.set_xlabel("step k (k = 0 drawn at 1; dashed: the snapshots above)")
    ax.set_ylabel("risk R")
    ax.grid(True, alpha=0.3)
    steps, counts = directions.line_count_history(run, alignment=alignment, mass=1.0, weighting="neurons")
    count_ax = ax.twinx()
    count_ax.step(np.maximum(steps, 1), counts, where="post", color="tab:green", lw=1.2)
    count_ax.set_ylabel("condensed lines", color="tab:green")
    count_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    count_ax.set_ylim(-0.2, max(int(counts.max()), 1) + 0.5)
    ax.plot([], [], "-", color="tab:green", label="condensed lines (right axis)")
    ax.legend(fontsize=7, loc="lower left")
    plain_log_labels(fig)
    status = run.status
    stopped = f" — {status.upper()} at step {run.step:,}: not a result" if status in ("dead", "diverged") else ""
    fig.suptitle(
        f"{config.activation}, d = {config.dimension}, m = {config.m}, η = {config.learning_rate:g}, "
        f"β₂ = {config.beta2:g}{stopped}\n{run.run_id}",
        fontsize=9,
        color="tab:red" if stopped else "k",
    )
    return fig


def save_figure(fig: Figure, folder, name: str, dpi: int = 110) -> list:
    """Write ``fig`` as ``<folder>/<name>.png`` and ``.svg`` (the layout computed once, for the PNG), each
    to a temporary file first and then renamed, so an interrupted save leaves no half-written figure;
    returns the two paths."""
    import os
    from pathlib import Path

    paths = []
    Path(folder).mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        path = Path(folder) / f"{name}.{suffix}"
        partial = path.with_name(f".{path.name}.partial")
        fig.savefig(partial, dpi=dpi, format=suffix)
        os.replace(partial, path)
        fig.set_layout_engine("none")  # the SVG keeps the PNG's layout
        paths.append(path)
    return paths
