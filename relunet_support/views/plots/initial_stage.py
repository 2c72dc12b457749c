"""Notebook 06: the end of the initial stage (Zhou et al.) per activation — its cosine heat maps, and the
number of condensed lines against the multiplicity p."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from relunet_support.analysis.initial_condensation import line_order
from relunet_support.network import activations
from relunet_support.views.plots.neurons import cosine_heatmap


def _multiplicity_text(activation: str) -> str:
    """'p = 2', or 'kink at 0' for ReLU and leaky ReLU (Zhou et al.'s multiplicity needs σ smooth at 0)."""
    kind = activations.get(activation)
    return "kink at 0" if kind.piecewise_linear else f"p = {kind.multiplicity}"


def initial_condensation_heatmaps(stages: Sequence, title: str) -> Figure:
    """One cosine heat map per ``stages`` entry (an ``InitialStage``), side by side, with a shared colour bar;
    the neurons of each of its lines side by side (``initial_condensation.line_order``)."""
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
