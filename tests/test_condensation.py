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
        assert 30 <= cluster.size <= 50 and cluster.spread < 0.05  # the lightest members may fall outside 90 %
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


def test_no_cluster_in_random_initial_parameters_even_for_few_neurons():
    from relunet_support.network import init

    rng = np.random.default_rng(0)
    for m in (100, 1000):
        for kind in ("gaussian", "symmetric"):
            for _ in range(40):
                assert condensation.orientation_clusters(*init.initial_parameters(m, 1.0, 1.0, kind, rng)) == []


def test_the_first_condensation_is_counted_from_the_first_plateau(tmp_path):
    """The seed study at η/α = 0.05, m = 1000: no cluster at the start, the neurons around θ = π/2 (w ≈ 0,
    spread ≈ 0.2 rad) as one cluster on the first plateau (s = 50), two clusters with kinks near ±1/6 at the
    end of the second escape (bench/condensation.md)."""
    from relunet_support.runs.train import TrainConfig, train

    config = TrainConfig.from_normalised(1000, 0.05, 6000, n_records=300, n_snapshots=61)
    run = train(config, tmp_path, progress=False)
    at = {round(0.05 * int(step)): index for index, step in enumerate(run.snapshot_steps)}
    assert condensation.orientation_clusters(*run.snapshot(at[0])) == []
    (plateau,) = condensation.orientation_clusters(*run.snapshot(at[50]))
    assert abs(plateau.orientation - np.pi / 2) < 0.05 and plateau.weight > 0.5 and 0.1 < plateau.spread < 0.3
    assert "w≈0" in condensation.describe([plateau], config.training_data()[0])
    final = condensation.orientation_clusters(*run.snapshot(-1))
    assert len(final) == 2 and sorted(np.sign([c.kink for c in final])) == [-1, 1]
    assert all(0.05 < abs(c.kink) < 1 / 6 + 0.01 for c in final)  # moving out towards the data points ±1/6
