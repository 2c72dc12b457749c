"""Condensation by direction, for inputs of any dimension d: how many lines through the origin the input
weights of the heavy neurons gather on.

Each neuron j has the direction u_j = (w_j, b_j)/‖(w_j, b_j)‖ ∈ S^d and the amplitude A_j = |a_j|·‖(w_j, b_j)‖.
Two neurons lie on the same line when |cos(u_j, u_k)| = |u_j·u_k| is at least ``alignment`` (u and −u are one
line: Zhou et al., NeurIPS 2022, count the initial condensation of an activation of multiplicity p as at most p
lines, 2p directions). Among the fewest neurons that carry ``mass`` of Σ A_j
(``weighting="neurons"``: every neuron with a direction weighs 1 instead of A_j — the view of Zhou et al.'s heat
maps, where every neuron counts however small it still is):

1. the heaviest neuron not yet in a line starts a line; every other such neuron within ``alignment`` of it
   joins; repeat until every heavy neuron is in a line;
2. a line is *condensed* when it holds at least ``min_size`` neurons and carries a share of the heavy
   neurons' amplitude of at least ``min_weight`` and of at least q + ``significance``·√(q(1 − q)/N_eff): q is
   the share that directions spread uniformly on S^d would put within |cos| ≥ ``alignment`` of a line,
   q = I_{1−τ²}(d/2, 1/2) (the regularised incomplete beta function; 1 % for d = 2 and τ = 0.99), and
   N_eff = (Σ A)²/Σ A² is the effective number of heavy neurons. Random initial directions thus give no
   condensed line, however many pairs happen to be close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.errors import invalid


@dataclass(frozen=True)
class Line:
    """A line through the origin the heavy neurons gather on: its ``direction`` (unit vector in ℝ^(d+1), the
    amplitude-weighted mean of its members' directions, signs aligned to the first), its share ``weight`` of
    the heavy amplitude, its ``size`` and its ``members`` (neuron indices)."""

    direction: np.ndarray
    weight: float
    size: int
    members: np.ndarray


def unit_directions(w, b) -> tuple[np.ndarray, np.ndarray]:
    """(u, ‖(w, b)‖): the rows (w_j, b_j)/‖(w_j, b_j)‖, shape (m, d + 1), and their norms; w of shape (m,) or
    (m, d). A neuron with w_j = 0 and b_j = 0 has no direction: its row is 0."""
    w = np.asarray(w, dtype=np.float64)
    rows = np.column_stack([w.reshape(w.shape[0], -1), np.asarray(b, dtype=np.float64)])
    norms = np.linalg.norm(rows, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(norms[:, None] > 0, rows / norms[:, None], 0.0)
    return unit, norms


def cosine_similarity(w, b) -> np.ndarray:
    """The m × m matrix u_j·u_k of the neurons' directions (what the viewer draws as a heat map)."""
    unit, _ = unit_directions(w, b)
    return unit @ unit.T


def lines(
    a,
    w,
    b,
    *,
    alignment: float = 0.99,
    mass: float = 0.9,
    min_weight: float = 0.05,
    min_size: int = 2,
    significance: float = 4.0,
    weighting: str = "amplitude",
) -> list[Line]:
    """The condensed lines of the network (a, w, b), the heaviest (largest ``weight``) first (see the module's
    docstring)."""
    from scipy.special import betainc

    if not 0 < alignment < 1:
        raise invalid("alignment", alignment, "a number in (0, 1): the least |cos| between directions on one line")
    if not 0 < mass <= 1:
        raise invalid("mass", mass, "a number in (0, 1]: the share of the amplitude the heavy neurons carry")
    if weighting not in ("amplitude", "neurons"):
        raise invalid("weighting", weighting, "'amplitude' (A_j = |a_j|·‖(w_j, b_j)‖) or 'neurons' (1 each)")
    unit, norms = unit_directions(w, b)
    if weighting == "amplitude":
        amplitude = np.abs(np.asarray(a, dtype=np.float64)) * norms
    else:
        amplitude = (norms > 0).astype(np.float64)
    total = amplitude.sum()
    if not np.isfinite(total) or total <= 0:
        return []
    order = np.argsort(amplitude)[::-1]
    heavy = order[: int(np.searchsorted(np.cumsum(amplitude[order]), mass * total)) + 1]
    heavy_total = amplitude[heavy].sum()
    chance = float(betainc(unit.shape[1] / 2 - 0.5, 0.5, 1 - alignment**2))  # share of S^d near a line
    effective = heavy_total**2 / np.sum(amplitude[heavy] ** 2)
    least = max(min_weight, chance + significance * np.sqrt(chance * (1 - chance) / effective))
    free = np.ones(heavy.size, dtype=bool)
    found = []
    for start in range(heavy.size):  # heaviest first
        if not free[start]:
            continue
        cosines = unit[heavy] @ unit[heavy[start]]
        joined = free & (np.abs(cosines) >= alignment)
        free &= ~joined
        members = heavy[joined]
        weight = amplitude[members].sum() / heavy_total
        if weight >= least and members.size >= min_size:
            signs = np.where(cosines[joined] < 0, -1.0, 1.0)
            mean = (signs * amplitude[members]) @ unit[members]
            found.append(Line(mean / np.linalg.norm(mean), float(weight), int(members.size), members))
    return sorted(found, key=lambda line: -line.weight)


def line_count_history(run, max_snapshots: int = 200, **options) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): the number of condensed lines (``lines(a, w, b, **options)``) at up to ``max_snapshots``
    snapshots of a run, spread evenly over its snapshot indices (which are log-spaced in time), the first and
    the last always included."""
    total = len(run.snapshot_steps)
    picks = np.unique(np.linspace(0, total - 1, min(total, max_snapshots)).round().astype(int))
    counts = np.array([len(lines(*run.snapshot(int(i)), **options)) for i in picks])
    return np.asarray(run.snapshot_steps)[picks], counts
