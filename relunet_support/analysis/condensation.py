"""Condensation: clusters of input-weight orientations among the neurons that carry the amplitude.

Each neuron j has orientation θ_j = atan2(b_j, w_j) and amplitude A_j = |a_j|·‖(w_j, b_j)‖. Take the
fewest neurons that carry ``mass`` (default 90 %) of Σ A_j, sort their orientations on the circle and
split them where consecutive orientations are more than ``gap`` apart. A cluster is *condensed* when
its angular width is below ``max_width``, it has at least ``min_size`` neurons, it carries at least
``min_weight`` of the amplitude, and that is ``concentration`` times more than orientations spread
uniformly would put in an arc of its width (so random initial orientations give no cluster).
A condensed cluster at orientation θ puts the kinks of its neurons at −b/w = −tan θ (±∞ when θ = ±π/2,
i.e. w = 0: a constant piece).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support.analysis import diagnostics


@dataclass(frozen=True)
class Cluster:
    orientation: float  # amplitude-weighted circular mean of θ
    width: float  # angular extent of its members
    weight: float  # its share of the total amplitude
    size: int  # number of neurons
    sign: int  # sign of Σ a_j over its members
    kink: float  # −tan(orientation): where its neurons' kinks sit (±inf for w = 0)

    @property
    def condensed(self) -> bool:
        return self.width < 0.2

    def nearest(self, x) -> tuple[float, float]:
        """(data point, distance) nearest to the cluster's kink (inf distance for a kink at ±∞)."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(self.kink):
            return float("nan"), float("inf")
        i = int(np.argmin(np.abs(x - self.kink)))
        return float(x[i]), float(abs(x[i] - self.kink))


def orientation_clusters(
    a,
    w,
    b,
    mass: float = 0.9,
    gap: float = 0.05,
    max_width: float = 0.2,
    min_weight: float = 0.05,
    min_size: int = 3,
    concentration: float = 5.0,
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
    by_angle = np.argsort(theta)
    theta, members = theta[by_angle], members[by_angle]
    gaps = np.diff(np.concatenate((theta, [theta[0] + 2 * np.pi])))
    cuts = np.nonzero(gaps > gap)[0]
    if cuts.size == 0:  # one connected ring: nothing is condensed
        return []
    # groups run from one cut to the next, going round the circle
    starts = (cuts + 1) % theta.size
    clusters = []
    for start, stop in zip(starts, np.roll(cuts, -1)):
        index = (
            np.arange(start, stop + 1)
            if start <= stop
            else np.concatenate((np.arange(start, theta.size), np.arange(0, stop + 1)))
        )
        angles = theta[index]
        weights = amplitude[members[index]]
        centre = float(np.angle(np.sum(weights * np.exp(1j * angles))))
        width = float(np.max(np.abs(np.angle(np.exp(1j * (angles - centre))))) * 2)
        share = float(weights.sum() / total)
        uniform_share = (width + gap) / (2 * np.pi)
        if (
            width < max_width
            and index.size >= min_size
            and share >= min_weight
            and share >= concentration * uniform_share
        ):
            with np.errstate(over="ignore"):
                kink = -np.tan(centre) if abs(abs(centre) - np.pi / 2) > 1e-12 else np.inf
            clusters.append(
                Cluster(centre, width, share, int(index.size), int(np.sign(a[members[index]].sum())), float(kink))
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
