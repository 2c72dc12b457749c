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
2. lines whose directions are within ``alignment`` of each other are one line (a line a little wider than
   ``alignment`` is not split);
3. a line is *condensed* when it holds at least ``min_size`` neurons, carries a share w ≥ ``min_weight`` of the
   heavy neurons' amplitude, and is unlikely under chance. With N = N_eff = (Σ A)²/Σ A² the effective number
   of heavy neurons, k = w·N its effective count and q = I_{1−τ²}(d/2, 1/2) the share of S^d within |cos| ≥
   τ = ``alignment`` of a line (the regularised incomplete beta function; 1 % for d = 2 and τ = 0.99):
   w ≥ q + ``significance``·√(q(1 − q)/N), and the chance that a random direction has k − 1 of the N − 1
   others that close, P(Bin(N − 1, q) ≥ k − 1), is at most ``false_rate`` (the normal bound alone lets a
   close pair through where q is tiny: 20 random neurons in d = 3 hold one in about one draw of four).
   Random directions thus give no condensed line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.analysis.diagnostics import heaviest
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
    columns = w if w.ndim == 2 else w[:, None]
    rows = np.column_stack([columns, np.asarray(b, dtype=np.float64)])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # each row divided by its largest entry first: no overflow at 1e300, no underflow at 1e-320
        largest = np.max(np.abs(rows), axis=1, initial=0.0)
        scaled = np.where(largest[:, None] > 0, rows / largest[:, None], 0.0)
        length = np.linalg.norm(scaled, axis=1)
        norms = largest * length
        unit = np.where((largest[:, None] > 0) & np.isfinite(scaled), scaled / length[:, None], 0.0)
    unit[~np.isfinite(unit).all(axis=1)] = 0.0  # a neuron with a non-finite weight has no direction
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
    false_rate: float = 1e-3,
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
    if not (isinstance(min_size, (int, np.integer)) and min_size >= 1):
        raise invalid("min_size", min_size, "a positive integer: the fewest neurons a line may hold")
    if not (np.isfinite(significance) and significance >= 0 and 0 < false_rate < 1 and 0 <= min_weight <= 1):
        raise invalid(
            "(significance, false_rate, min_weight)",
            (significance, false_rate, min_weight),
            "a number ≥ 0, a probability in (0, 1) and a share in [0, 1]",
        )
    unit, norms = unit_directions(w, b)
    a = np.asarray(a, dtype=np.float64)
    if a.shape != norms.shape:
        raise invalid("a", f"<array of shape {a.shape}>", f"one output weight per neuron, shape {norms.shape}")
    has_direction = np.any(unit != 0.0, axis=1) & np.isfinite(a)
    with np.errstate(over="ignore", invalid="ignore"):
        amplitude = np.abs(a) * norms if weighting == "amplitude" else np.ones_like(norms)
    amplitude = np.where(has_direction & np.isfinite(amplitude), amplitude, 0.0)  # non-finite neurons weigh 0
    if not amplitude.max(initial=0.0) > 0:
        return []
    amplitude = amplitude / amplitude.max()  # only shares matter: no overflow in Σ A², no denormals
    order = np.argsort(amplitude)[::-1]  # heaviest first
    heavy = order[heaviest(amplitude, mass)[order]]
    heavy_total = amplitude[heavy].sum()
    chance = float(betainc(unit.shape[1] / 2 - 0.5, 0.5, 1 - alignment**2))  # share of S^d near a line
    effective = heavy_total**2 / np.sum(amplitude[heavy] ** 2)
    least = max(min_weight, chance + significance * np.sqrt(chance * (1 - chance) / effective))

    def unlikely(weight: float) -> bool:
        """P(Bin(N − 1, q) ≥ k − 1) ≤ false_rate with k = weight·N (P(X ≥ t) = I_q(t, N − t) for real t)."""
        others = weight * effective - 1.0
        if others <= 0 or effective <= 1:
            return False
        if others > effective - 1.0 - 1e-9:
            return chance ** (effective - 1.0) <= false_rate
        return float(betainc(others, effective - others, chance)) <= false_rate

    free = np.ones(heavy.size, dtype=bool)
    groups = []
    for start in range(heavy.size):  # heaviest first
        if free[start]:
            joined = free & (np.abs(unit[heavy] @ unit[heavy[start]]) >= alignment)
            free &= ~joined
            groups.append(heavy[joined])

    def direction(members: np.ndarray) -> np.ndarray:
        """The amplitude-weighted mean of the members' directions, signs aligned to the heaviest."""
        signs = np.where(unit[members] @ unit[members[0]] < 0, -1.0, 1.0)
        mean = (signs * amplitude[members]) @ unit[members]
        return mean / np.linalg.norm(mean)

    merged = True
    while merged and len(groups) > 1:  # groups whose directions are within ``alignment``: one line
        merged = False
        directions = np.array([direction(g) for g in groups])
        close = np.abs(directions @ directions.T) >= alignment
        np.fill_diagonal(close, False)
        if close.any():
            first, second = (int(i) for i in np.argwhere(close)[0])
            groups[first] = np.concatenate([groups[first], groups[second]])
            del groups[second]
            merged = True
    found = []
    for members in groups:
        weight = amplitude[members].sum() / heavy_total
        if weight >= least and members.size >= min_size and unlikely(weight):
            found.append(Line(direction(members), float(weight), int(members.size), members))
    return sorted(found, key=lambda line: -line.weight)


def line_count_history(run, max_snapshots: int = 200, **options) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): the number of condensed lines (``lines(a, w, b, **options)``) at up to ``max_snapshots``
    snapshots of a run, spread evenly over its snapshot indices (which are log-spaced in time), the first and
    the last always included."""
    total = len(run.snapshot_steps)
    picks = np.unique(np.linspace(0, total - 1, min(total, max_snapshots)).round().astype(int))
    counts = np.array([len(lines(*run.snapshot(int(i)), **options)) for i in picks])
    return np.asarray(run.snapshot_steps)[picks], counts
