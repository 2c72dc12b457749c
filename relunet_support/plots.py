"""Figures: pure functions that take runs (or numbers) and return matplotlib figures.

Time axes. The seed rescaled the step index k by 1, 1/m, 1/m², 1/ln m; the theory's clock is
s = η·k/α_m (Luo et al. 2021; at γ = 3/2 escapes happen at s ≈ ((γ−1)/(2G*)) ln m + C).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .scaling import regime

# name -> (axis label, k ↦ rescaled time given (m, η, α, ŝ)); ŝ is the run's measured first escape
CLOCKS: dict[str, tuple[str, object]] = {
    "k": ("step k", lambda k, m, eta, alpha, shift: k),
    "k/m": ("k / m", lambda k, m, eta, alpha, shift: k / m),
    "k/m²": ("k / m²", lambda k, m, eta, alpha, shift: k / m**2),
    "k/ln m": ("k / ln m", lambda k, m, eta, alpha, shift: k / math.log(m)),
    "s": ("s = η·k / α_m", lambda k, m, eta, alpha, shift: eta * k / alpha),
    "s/ln m": ("s / ln m", lambda k, m, eta, alpha, shift: eta * k / alpha / math.log(m)),
    "s−ŝ": ("s − ŝ(m)  (ŝ: measured first escape)", lambda k, m, eta, alpha, shift: eta * k / alpha - shift),
}
SEED_CLOCKS = ("k", "k/m", "k/m²", "k/ln m", "s")
SHIFTED = "s−ŝ"


def rescaled_time(steps: np.ndarray, clock: str, m: int, learning_rate: float, alpha: float,
                  shift: float = 0.0) -> np.ndarray:
    """The step indices on one of the CLOCKS."""
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r} is not allowed: clock must be one of {', '.join(map(repr, CLOCKS))}")
    return CLOCKS[clock][1](np.asarray(steps, dtype=np.float64), m, learning_rate, alpha, shift)


def first_escape_of(run) -> float:
    """ŝ of a run on the clock s = η·k/α (``escapes.first_escape``)."""
    from .escapes import first_escape

    rec = run.records
    return first_escape(run.config.learning_rate * rec["step"] / run.config.alpha, rec["risk"])


def width_colours(widths: Sequence[int]) -> dict[int, tuple]:
    """One viridis colour per width, in increasing order of width."""
    ordered = sorted(set(widths))
    cmap = plt.get_cmap("viridis")
    return {m: cmap(0.9 * i / max(len(ordered) - 1, 1)) for i, m in enumerate(ordered)}


def run_label(run) -> str:
    """'m = 800', with the status when the run did not complete (dead or diverged runs are marked)."""
    label = f"m = {run.config.m}"
    if run.status != "complete":
        label += f" ({run.status} at step {run.step})" if run.status in ("dead", "diverged") else f" ({run.status})"
    return label


def _times(run, clock):
    config = run.config
    shift = first_escape_of(run) if clock == SHIFTED else 0.0
    return rescaled_time(run.records["step"], clock, config.m, config.learning_rate, config.alpha, shift)


def _draw_series(ax, run, clock, values_list, colour, log_time):
    t = _times(run, clock)
    keep = t > 0 if log_time and clock != SHIFTED else slice(None)  # step 0 has no place on a log axis
    bad = run.status in ("dead", "diverged")
    for values in values_list:
        ax.plot(t[keep], values[keep], color=colour, lw=1.2, ls="--" if bad else "-")
        if bad:  # the run stops here: mark the end instead of drawing a fake plateau
            ax.plot(t[-1:], values[-1:], marker="x", ms=8, mew=2, color="crimson", ls="none")


def _draw_band(ax, group, clock, fields, colour, log_time):
    """Several seeds of one width: their median as a line and their min–max range as a band, on the
    first seed's time points (the others interpolated onto them)."""
    t = _times(group[0], clock)
    keep = t > 0 if log_time and clock != SHIFTED else np.ones(t.size, dtype=bool)
    for field in fields:
        stack = np.array([np.interp(t, _times(run, clock), run.records[field]) for run in group])
        ax.fill_between(t[keep], stack.min(axis=0)[keep], stack.max(axis=0)[keep], color=colour, alpha=0.25, lw=0)
        ax.plot(t[keep], np.median(stack, axis=0)[keep], color=colour, lw=1.2)


RISK_FLOOR = 1e-10


def scaling_figure(runs: Sequence, quantity: str = "extremes", clocks: Sequence[str] = SEED_CLOCKS,
                   title: str | None = None, log_time: bool = True, columns: int = 3) -> Figure:
    """Min and max of f over the interval (quantity='extremes', symlog y) or the risk (quantity='risk',
    log y, drawn down to 1e-10) against each rescaled time (log x by default), one panel per clock, one
    colour per width. Several seeds of a width are drawn as their median with a min–max band. Dead and
    diverged runs are dashed, end in a red ✕ at the step where they stopped and say so in the legend."""
    if quantity not in ("extremes", "risk"):
        raise ValueError(f"quantity={quantity!r} is not allowed: quantity must be 'extremes' or 'risk'")
    colours = width_colours([r.config.m for r in runs])
    ordered = sorted(runs, key=lambda r: (r.config.m, r.config.seed))
    seeds = {}
    for run in ordered:
        if run.status == "complete":
            seeds.setdefault(run.config.m, []).append(run)
    banded = {m: group for m, group in seeds.items() if len(group) > 1}
    rows = -(-(len(clocks) + 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False, layout="constrained")
    panels = axes.ravel()
    fields = ("f_min", "f_max") if quantity == "extremes" else ("risk",)
    for ax, clock in zip(panels, clocks):
        for m, group in banded.items():
            _draw_band(ax, group, clock, fields, colours[m], log_time)
        for run in ordered:
            if run.config.m in banded and run.status == "complete":
                continue
            _draw_series(ax, run, clock, [run.records[f] for f in fields], colours[run.config.m], log_time)
        ax.set_xlabel(CLOCKS[clock][0] + (" (log)" if log_time else ""))
        if log_time:
            ax.set_xscale("symlog", linthresh=1.0) if clock == SHIFTED else ax.set_xscale("log")
        if quantity == "risk":
            ax.set_yscale("log")
            ax.set_ylim(bottom=max(ax.get_ylim()[0], RISK_FLOOR))
            ax.set_ylabel("risk R")
        else:
            ax.set_yscale("symlog", linthresh=1e-6)  # log for |f| > 1e-6, linear through 0 (f_min may be < 0)
            ax.set_ylabel("min f and max f on [−1/2, 1/2]")
        ax.grid(True, alpha=0.3)
    legend_ax = panels[len(clocks)]
    legend_ax.axis("off")
    handles = [plt.Line2D([], [], color=colours[m], label=f"m = {m}: median and range of {len(g)} seeds")
               for m, g in banded.items()]
    handles += [plt.Line2D([], [], color=colours[r.config.m], ls="--" if r.status in ("dead", "diverged") else "-",
                           label=run_label(r)) for r in ordered
                if not (r.config.m in banded and r.status == "complete")]
    legend_ax.legend(handles=handles, loc="center", title="width")
    for ax in panels[len(clocks) + 1:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def risk_curves(runs: Sequence, clock: str = "s") -> Figure:
    """Quick look: risk against one clock (log-log), one colour per width, legend beside it."""
    return scaling_figure(runs, "risk", clocks=(clock,), columns=2)


def phase_diagram(gamma: float | None = None, gamma_prime: float | None = None, ax=None,
                  gamma_range=(0.0, 2.5), gamma_prime_range=(-1.0, 1.5)):
    """Luo et al. (2021) phase diagram in the (γ, γ′) plane: linear (γ < 1 or γ′ > γ − 1), condensed
    (γ > 1 and γ′ < γ − 1), critical on the boundary; the given point is marked with its regime."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2), layout="constrained")
    g = np.linspace(*gamma_range, 400)
    lo, hi = gamma_prime_range
    ax.fill_between(g, lo, hi, where=g <= 1, color="tab:blue", alpha=0.18, lw=0)
    ax.fill_between(g, np.clip(g - 1, lo, hi), hi, where=g >= 1, color="tab:blue", alpha=0.18, lw=0,
                    label="linear")
    ax.fill_between(g, lo, np.clip(g - 1, lo, hi), where=g >= 1, color="tab:red", alpha=0.18, lw=0,
                    label="condensed")
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
        ax.plot(gamma, gamma_prime, "*", color="gold", mec="k", ms=16,
                label=f"this run: ({gamma:g}, {gamma_prime:g}), {regime(gamma, gamma_prime)}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Phase diagram (Luo et al. 2021)")
    return ax.figure


def condensation_figure(histories: dict, runs: Sequence) -> Figure:
    """Number of condensed orientation clusters (and the share of amplitude they carry) against s."""
    colours = width_colours([r.config.m for r in runs])
    fig, (ax_count, ax_share) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for run in sorted(runs, key=lambda r: r.config.m):
        hist = histories[run.run_id]
        s = run.config.learning_rate * hist["step"] / run.config.alpha
        keep = s > 0
        style = dict(color=colours[run.config.m], label=run_label(run), drawstyle="steps-post")
        ax_count.plot(s[keep], hist["n_condensed"][keep], **style)
        ax_share.plot(s[keep], hist["condensed_share"][keep], **style)
    for ax, label in ((ax_count, "condensed orientation clusters"), (ax_share, "share of amplitude condensed")):
        ax.set_xscale("log")
        ax.set_xlabel("s = η·k / α_m (log)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    ax_share.legend(fontsize=8)
    return fig
