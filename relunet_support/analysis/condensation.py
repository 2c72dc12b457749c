"""Condensation: clusters of input-weight orientations among the neurons that carry the amplitude.

Each neuron j has orientation θ_j = atan2(b_j, w_j) on the circle and amplitude A_j = |a_j|·‖(w_j, b_j)‖.
Take the fewest neurons that carry ``mass`` (default 90 %) of Σ A_j and spread their amplitude on the circle
with a Gaussian kernel of width ``bandwidth``; the minima of that density split the circle into arcs, one
around each peak. The neurons of an arc form a cluster, *condensed* when

- its spread — the amplitude-weighted circular standard deviation of its orientations — is at most
  ``max_spread``,
- it is carried by several neurons — its effective number of neurons (Σ A)²/Σ A² over its members is at
  least ``min_size``, so one heavy neuron with a few light neighbours is no cluster — and it carries at
  least ``min_weight`` of the total amplitude,
- that share is ``concentration`` times what orientations spread uniformly would put in an arc of
  width 4·spread + bandwidth, p, and exceeds p by ``significance`` standard deviations of the share such
  an arc would get by chance, √(p(1 − p)/N_eff) with N_eff = (Σ A)²/Σ A² the effective number of heavy
  neurons (so random initial orientations give no cluster, even for a few dozen neurons).

Counted this way, the first condensation of the seed study — the neurons gathering around θ = π/2 (w ≈ 0:
their kinks run off to infinity, a constant piece on the data) with a spread of about 0.2 rad while the
network rests on its first plateau — is a cluster from the first escape on. A cluster is reported at the
amplitude-weighted median of its members' orientations, θ, so its kink −b/w = −tan θ (±∞ when θ = ±π/2) is
the kink of one of its neurons, never a point between two groups that the density merged.

Resolution: two groups of neurons 0.3 rad apart (3 bandwidths) are two clusters; closer ones may merge
into one. Clusters carrying less than ``min_weight`` of the amplitude are not counted — a floor: among few
heavy neurons the significance test asks for more; ``describe`` says how
much of the amplitude lies outside the counted clusters. The false-positive rate on random initial
parameters and the sensitivity of the counts to these thresholds are measured in bench/condensation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.analysis import diagnostics

_BINS = 720  # the density's grid on the circle (0.5° per bin)


@dataclass(frozen=True)
class Cluster:
    orientation: float  # amplitude-weighted median of its members' θ: the orientation of one of its neurons
    spread: float  # amplitude-weighted circular standard deviation of its members' θ
    weight: float  # its share of the total amplitude
    size: int  # number of neurons
    sign: int  # sign of Σ a_j over its members
    kink: float  # −tan(orientation): the kink of one of its neurons (±inf for w = 0)

    def nearest(self, x) -> tuple[float, float]:
        """(data point, distance) nearest to the cluster's kink (inf distance for a kink at ±∞)."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(self.kink):
            return float("nan"), float("inf")
        i = int(np.argmin(np.abs(x - self.kink)))
        return float(x[i]), float(abs(x[i] - self.kink))


def _arcs(theta: np.ndarray, weights: np.ndarray, bandwidth: float) -> np.ndarray:
    """The arc (0, 1, …) of each orientation: the circle split at the minima of the amplitude density
    (a weighted histogram convolved with a wrapped Gaussian of width ``bandwidth``, by FFT)."""
    bins = ((theta + np.pi) / (2 * np.pi) * _BINS).astype(np.int64) % _BINS
    histogram = np.bincount(bins, weights=weights, minlength=_BINS)
    offsets = np.angle(np.exp(1j * 2 * np.pi * np.arange(_BINS) / _BINS))
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2)
    density = np.fft.irfft(np.fft.rfft(histogram) * np.fft.rfft(kernel), _BINS)
    density[density < 1e-12 * density.max()] = 0.0
    falling = density < np.roll(density, 1)  # lower than the bin before
    minima = np.flatnonzero(~falling & np.roll(falling, 1))  # the first bin that stops falling
    if minima.size == 0:
        return np.zeros(theta.size, dtype=np.int64)  # one peak: one arc, the whole circle
    return np.searchsorted(minima, bins, side="right") % minima.size


def orientation_clusters(
    a,
    w,
    b,
    mass: float = 0.9,
    bandwidth: float = 0.1,
    max_spread: float = 0.3,
    min_weight: float = 0.05,
    min_size: int = 3,
    concentration: float = 3.0,
    significance: float = 5.0,
    *,
    orientation: np.ndarray | None = None,
    amplitude: np.ndarray | None = None,
) -> list[Cluster]:
    """Condensed orientation clusters, heaviest first (see the module docstring). ``orientation`` and
    ``amplitude``: the per-neuron θ_j and A_j when the caller has them already (saves recomputing them)."""
    a, w, b = (np.asarray(v, dtype=np.float64) for v in (a, w, b))
    if amplitude is None:
        amplitude = diagnostics.amplitudes(a, w, b)
    total = float(amplitude.sum())
    if total <= 0:
        return []
    members = np.flatnonzero(diagnostics.heaviest(amplitude, mass))
    theta = orientation[members] if orientation is not None else diagnostics.orientations(w[members], b[members])
    weights = amplitude[members]
    effective_count = float(weights.sum() ** 2 / np.sum(weights**2))
    arcs = _arcs(theta, weights, bandwidth)
    clusters = []
    for arc in np.unique(arcs):
        inside = arcs == arc
        angles, arc_weights = theta[inside], weights[inside]
        mean = float(np.angle(np.sum(arc_weights * np.exp(1j * angles))))
        deviations = np.angle(np.exp(1j * (angles - mean)))
        spread = float(np.sqrt(np.sum(arc_weights * deviations**2) / arc_weights.sum()))
        share = float(arc_weights.sum() / total)
        uniform_share = min(1.0, (4 * spread + bandwidth) / (2 * np.pi))
        carriers = float(arc_weights.sum() ** 2 / np.sum(arc_weights**2))  # its effective number of neurons
        if (
            spread <= max_spread
            and carriers >= min_size
            and share >= min_weight
            and share >= concentration * uniform_share
            and share - uniform_share >= significance * np.sqrt(uniform_share * (1 - uniform_share) / effective_count)
        ):
            order = np.argsort(deviations)  # the amplitude-weighted median: the orientation of one of its neurons
            median = int(order[np.searchsorted(np.cumsum(arc_weights[order]), 0.5 * arc_weights.sum())])
            centre = float(angles[median])
            with np.errstate(over="ignore"):
                kink = -np.tan(centre) if abs(abs(centre) - np.pi / 2) > 1e-12 else np.inf
            members_a = a[members[inside]]
            clusters.append(
                Cluster(centre, spread, share, int(inside.sum()), int(np.sign(members_a.sum())), float(kink))
            )
    return sorted(clusters, key=lambda c: -c.weight)


def describe(clusters: list[Cluster], x) -> str:
    """'2 condensed: kink −0.167 (data −0.167, 45%), kink +0.167 (data +0.167, 45%); 10% of the amplitude
    in no counted cluster'. A cluster whose kink lies more than ten times the data's reach from the origin
    (|kink| > 10·max|x|; ±∞ for w = 0) is 'w≈0': its neurons are nearly constant on the data."""
    if not clusters:
        return "no condensed orientation"
    far = 10 * float(np.max(np.abs(np.asarray(x, dtype=np.float64))))
    parts = []
    for c in clusters:
        if not np.isfinite(c.kink) or abs(c.kink) > far:
            parts.append(f"w≈0 (flat, {c.weight:.0%})")
        else:
            point, distance = c.nearest(x)
            parts.append(f"kink {c.kink:+.3f} (data {point:+.3f}, {c.weight:.0%})")
    rest = 1 - sum(c.weight for c in clusters)
    return f"{len(clusters)} condensed: " + ", ".join(parts) + f"; {rest:.0%} of the amplitude in no counted cluster"


@dataclass(frozen=True)
class Timing:
    """When a run condensed, read from its cluster counts so that a count which flickers for a snapshot or
    two while a cluster sits at a threshold does not move the answer: ``first`` is the earliest s from which
    at least one cluster is counted at every snapshot up to ``hold``·s (or to the end of the curve), ``final``
    the earliest s from which the count equals its last value, ``final_count``, at every later snapshot;
    nan where there is none."""

    first: float
    final: float
    final_count: int


def timing(s, counts, hold: float = 2.0) -> Timing:
    """``Timing`` of a count history: ``counts[k]`` condensed clusters at time ``s[k]`` (increasing, > 0 past
    the first entry); a first cluster must hold from s to ``hold``·s."""
    s = np.asarray(s, dtype=np.float64)
    counts = np.asarray(counts)
    if s.size == 0:
        return Timing(float("nan"), float("nan"), 0)
    condensed = counts >= 1
    broken = np.flatnonzero(~condensed)  # indices with no cluster
    first = float("nan")
    for k in np.flatnonzero(condensed):
        horizon = np.searchsorted(s, hold * s[k], side="right")  # the snapshots in [s_k, hold·s_k]
        if not np.any((broken > k) & (broken < horizon)):
            first = float(s[k])
            break
    final_count = int(counts[-1])
    changed = np.flatnonzero(counts != final_count)
    final = float(s[changed[-1] + 1] if changed.size else s[0]) if final_count else float("nan")
    return Timing(first, final, final_count)


def run_timing(run, history: dict[str, np.ndarray]) -> Timing:
    """``timing`` of a run's ``history`` on the run's clock s = η·k/α."""
    return timing(run.config.clock(history["step"]), history["n_condensed"])


def sparse_history(run) -> dict[str, np.ndarray]:
    """``history`` at about 150 snapshots, evenly among the run's: enough for the counts over time and
    ``run_timing`` (what notebook 04 draws and the study's index reports)."""
    return history(run, every=max(1, run.n_snapshots // 150))


def history(run, every: int = 1) -> dict[str, np.ndarray]:
    """Number of condensed clusters and the share of amplitude they carry at every ``every``-th snapshot
    (snapshots are read one at a time)."""
    indices = np.arange(0, run.n_snapshots, every)
    counts = np.empty(indices.size, dtype=np.int64)
    shares = np.empty(indices.size)
    for k, index in enumerate(indices):
        clusters = orientation_clusters(*run.snapshot(int(index)))
        counts[k] = len(clusters)
        shares[k] = sum(c.weight for c in clusters)
    return {"step": run.snapshot_steps[indices], "n_condensed": counts, "condensed_share": shares}
