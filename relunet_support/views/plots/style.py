"""What every figure shares: fixed margins, plain-text log tick labels, sparse minor ticks, one colour and
one legend entry per width, where a curve stops changing (for trimming time axes), and saving as PNG and SVG."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, NullLocator

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
    ``frames.run_label``."""
    label = f"m = {run.config.m}"
    if run.status != "complete":
        label += f" ({run.status} at step {run.step})" if run.status in ("dead", "diverged") else f" ({run.status})"
    return label


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


def save_figure(fig: Figure, folder, name: str, dpi: int = 110) -> list:
    """Write ``fig`` as ``<folder>/<name>.png`` and ``.svg`` (the layout computed once, for the PNG), each
    to a temporary file first and then renamed, so an interrupted save leaves no half-written figure;
    returns the two paths."""
    paths = []
    Path(folder).mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        path = Path(folder) / f"{name}.{suffix}"
        # a temporary name of its own: two processes saving the same figure never share one (the last rename wins)
        partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
        try:
            fig.savefig(partial, dpi=dpi, format=suffix)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        fig.set_layout_engine("none")  # the SVG keeps the PNG's layout
        paths.append(path)
    return paths
