"""Condensation: clusters of input-weight orientations among the neurons that carry the amplitude.

Each neuron j has orientation θ_j = atan2(b_j, w_j) on the circle and amplitude A_j = |a_j|·‖(w_j, b_j)‖.
Take the fewest neurons that carry ``mass`` (default 90 %) of Σ A_j and spread their amplitude on the circle
with a Gaussian kernel of width ``bandwidth``; the minima of that density split the circle into arcs, one
around each peak. The neurons of an arc form a cluster, *condensed* when

- its spread — the amplitude-weighted circular standard deviation of its orientations — is at most
  ``max_spread``,
- it has at least ``min_size`` neurons and carries at least ``min_weight`` of the total amplitude,
- that share is ``concentration`` times what orientations spread uniformly would put in an arc of
  width 4·spread + bandwidth, p, and exceeds p by ``significance`` standard deviations of the share such
  an arc would get by chance, √(p(1 − p)/N_eff) with N_eff = (Σ A)²/Σ A² the effective number of heavy
  neurons (so random initial orientations give no cluster, even for a few dozen neurons).

Counted this way, the first condensation of the seed study — the neurons gathering around θ = π/2 (w ≈ 0:
their kinks run off to infinity, a constant piece on the data) with a spread of about 0.2 rad while the
network rests on its first plateau — is a cluster from the first escape on. A condensed cluster at
orientation θ puts its neurons' kinks at −b/w = −tan θ (±∞ when θ = ±π/2). The sensitivity of the counts
to these thresholds is measured in bench/condensation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.analysis import diagnostics

_BINS = 720  # the density's grid on the circle (0.5° per bin)


@dataclass(frozen=True)
class Cluster:
    orientation: float  # amplitude-weighted circular mean of θ
    spread: float  # amplitude-weighted circular standard deviation of its members' θ
    weight: float  # its share of the total amplitude
    size: int  # number of neurons
    sign: int  # sign of Σ a_j over its members
    kink: float  # −tan(orientation): where its neurons' kinks sit (±inf for w = 0)

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
    significance: float = 4.0,
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
        centre = float(np.angle(np.sum(arc_weights * np.exp(1j * angles))))
        deviations = np.angle(np.exp(1j * (angles - centre)))
        spread = float(np.sqrt(np.sum(arc_weights * deviations**2) / arc_weights.sum()))
        share = float(arc_weights.sum() / total)
        uniform_share = min(1.0, (4 * spread + bandwidth) / (2 * np.pi))
        if (
            spread <= max_spread
            and inside.sum() >= min_size
            and share >= min_weight
            and share >= concentration * uniform_share
            and share - uniform_share >= significance * np.sqrt(uniform_share * (1 - uniform_share) / effective_count)
        ):
            with np.errstate(over="ignore"):
                kink = -np.tan(centre) if abs(abs(centre) - np.pi / 2) > 1e-12 else np.inf
            members_a = a[members[inside]]
            clusters.append(
                Cluster(centre, spread, share, int(inside.sum()), int(np.sign(members_a.sum())), float(kink))
            )
    return sorted(clusters, key=lambda c: -c.weight)


def describe(clusters: list[Cluster], x) -> str:
    """'3 condensed: kink −0.167 (x = −0.167), kink 0.167 (x = 0.167), w = 0 (constant)'."""
    if not clusters:
        return "no condensed orientation"
    parts = []
    for c in clusters:
        if not np.isfinite(c.kink) or abs(c.kink) > 1e3:
            parts.append(f"w≈0 (flat, {c.weight:.0%})")
        else:
            point, distance = c.nearest(x)
            parts.append(f"kink {c.kink:+.3f} (data {point:+.3f}, {c.weight:.0%})")
    return f"{len(clusters)} condensed: " + ", ".join(parts)


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
