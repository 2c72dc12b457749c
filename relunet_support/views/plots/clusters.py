"""Notebook 04: the condensed orientation clusters — their number and share of amplitude against s, and
when they form against ln m."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from relunet_support.views.plots.style import fixed_margins, plain_log_labels, settle_time, width_colours, width_label


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
