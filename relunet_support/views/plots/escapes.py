"""Notebook 04: the measured escape times ŝ(m) against ln m, their fitted line and the theory's slope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from relunet_support.analysis.escapes import SlopeFit
from relunet_support.views.plots.style import fixed_margins, plain_log_labels


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
