"""The neurons' directions u_j = (w_j, b_j)/‖(w_j, b_j)‖ in a run of any input dimension: their cosine heat
map, ordered by condensed line, and their snapshots projected on two principal directions beside the risk and
the number of condensed lines."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from relunet_support.analysis import directions
from relunet_support.analysis.directions import cosine_similarity
from relunet_support.analysis.initial_condensation import line_order
from relunet_support.views.plots.style import DRAWABLE, plain_log_labels


def cosine_heatmap(ax, w, b, order: np.ndarray, title: str):
    """Zhou et al.'s heat map on ``ax``: cos(u_j, u_k) of the neurons' directions u_j = (w_j, b_j)/‖(w_j, b_j)‖,
    rows and columns in ``order`` (neurons of one line side by side); returns the image (for a colour bar)."""
    cosines = cosine_similarity(w, b)[np.ix_(order, order)]
    image = ax.imshow(cosines, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8.5)
    ax.set_xlabel("neuron (ordered by line)", fontsize=8)
    ax.set_ylabel("neuron", fontsize=8)
    ax.tick_params(labelsize=8)
    return image


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
