import numpy as np
import pytest

from relunet_support.analysis import condensation


def planted(rng, orientations, per_cluster=50, noise=0.005, background=300):
    theta = np.concatenate([np.full(per_cluster, t) + rng.normal(0, noise, per_cluster) for t in orientations])
    radius = np.concatenate([rng.uniform(1, 2, per_cluster) for _ in orientations])
    a = np.concatenate(
        [np.full(per_cluster, s) * rng.uniform(5, 10, per_cluster) for s in (1, 1, -1)[: len(orientations)]]
    )
    # many small neurons everywhere, carrying little amplitude
    theta = np.concatenate((theta, rng.uniform(-np.pi, np.pi, background)))
    radius = np.concatenate((radius, rng.uniform(0.01, 0.02, background)))
    a = np.concatenate((a, rng.normal(0, 0.01, background)))
    return a, radius * np.cos(theta), radius * np.sin(theta)


def test_planted_orientations_are_found_with_their_kinks():
    rng = np.random.default_rng(0)
    at_data = np.arctan2(1 / 6, -1.0)  # (w, b) ∝ (−1, 1/6): kink at −b/w = +1/6
    orientations = [np.arctan2(-1 / 6, 1.0), at_data, np.pi / 2]
    a, w, b = planted(rng, orientations)
    clusters = condensation.orientation_clusters(a, w, b)
    assert len(clusters) == 3
    found = sorted(clusters, key=lambda c: c.orientation)
    for cluster, expected in zip(found, sorted(orientations)):
        assert cluster.orientation == pytest.approx(expected, abs=0.01)
        assert 30 <= cluster.size <= 50 and cluster.width < 0.1  # the lightest members may fall outside 90 %
    kinks = sorted(c.kink for c in clusters if abs(c.kink) < 100)
    assert kinks == pytest.approx([1 / 6, 1 / 6], abs=0.02)  # −tan(atan2(−1/6, 1)) = tan(atan2(1/6, −1)) = 1/6
    x = np.array([-0.5, -1 / 6, 1 / 6, 0.5])
    text = condensation.describe(clusters, x)
    assert text.startswith("3 condensed") and "data +0.167" in text and "w≈0" in text


def test_spread_orientations_are_not_condensed():
    rng = np.random.default_rng(1)
    theta = rng.uniform(-np.pi, np.pi, 2000)
    a = rng.normal(size=2000)
    assert condensation.orientation_clusters(a, np.cos(theta), np.sin(theta)) == []


def test_history_on_a_run(tmp_path):
    from relunet_support.runs.train import TrainConfig, train

    run = train(TrainConfig(m=200, learning_rate=2000.0, n_steps=30_000, n_snapshots=30), tmp_path, progress=False)
    hist = condensation.history(run)
    assert hist["n_condensed"][0] == 0  # random initial orientations
    assert hist["n_condensed"][-1] >= 2 and hist["condensed_share"][-1] > 0.8
