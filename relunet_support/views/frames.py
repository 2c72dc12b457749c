"""What one snapshot of a run shows, as numbers — no matplotlib, no widgets: each neuron j as a point
(orientation atan2(b_j, w_j), amplitude A_j = |a_j|·‖(w_j, b_j)‖) and (kink −b_j/w_j on a compactified axis, A_j);
f on the interval and the kinks of the neurons that carry it; the risk; the condensed clusters. Also which
snapshots a static grid shows, and the texts that name a run and a frame. The viewer's panels
(``viewer_panels``), the widget (``viewer``) and the index's strip (``strip``) draw these.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from relunet_support.analysis import condensation, diagnostics
from relunet_support.errors import NotARunError
from relunet_support.network import model
from relunet_support.runs.store import Run, run_sort_key, scan_runs

CARRIED_MASS = 0.9  # kink marks: the fewest neurons carrying 90 % of Σ_j c_j …
CARRIED_FLOOR = 0.02  # … once max |f| reaches 2 % of max |y| (before that f ≈ 0 and no neuron carries it)


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


def run_title(run: Run) -> str:
    """``config.describe()`` and how the run ended: '… · data: seed — complete, 3,000 steps'."""
    status = f"{run.status}, {run.step:,} steps" if run.status == "complete" else f"{run.status} at step {run.step:,}"
    return f"{run.config.describe()} — {status}"


def run_label(run: Run) -> str:
    """The run picker's entry: ``config.describe()``, its steps and status."""
    return f"{run.config.describe()} · {run.step:,} steps · {run.status}"


def readable_runs(folder) -> tuple[list[Run], list[str]]:
    """The runs of ``folder`` whose records can be read, sorted as ``list_runs`` sorts them, and one line for each
    run left out, saying why (a damaged store, a damaged records chunk): one bad run does not hide the others."""
    runs, left_out = [], []
    for path, found in scan_runs(folder):
        try:
            if not isinstance(found, Run):
                raise found
            _ = found.records  # read and checksummed here, not when the run is first drawn
            runs.append(found)
        except NotARunError as error:
            left_out.append(f"{path.name}: {error}")
    return sorted(runs, key=run_sort_key), left_out
