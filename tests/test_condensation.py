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


def _groups(rng, orientations, weights, per_group=20, noise=0.01, background=200):
    """Tight groups of equal neurons at ``orientations`` carrying ``weights`` of the amplitude, among a light
    random background; returns (a, w, b) with unit-norm (w, b) so that amplitude = |a|."""
    theta = np.concatenate(
        [t + rng.normal(0, noise, per_group) for t in orientations] + [rng.uniform(-3, 3, background)]
    )
    a = np.concatenate([np.full(per_group, share / per_group) for share in weights] + [np.full(background, 1e-4)])
    return a, np.cos(theta), np.sin(theta)


@pytest.mark.parametrize("gap", [0.3, 0.5, 1.0])
def test_groups_three_tenths_of_a_radian_apart_are_resolved(gap):
    rng = np.random.default_rng(2)
    for heavier in (0.5, 0.7):  # equal and unequal groups
        clusters = condensation.orientation_clusters(*_groups(rng, [0.2, 0.2 + gap], [heavier, 1 - heavier]))
        assert len(clusters) == 2
        assert sorted(c.orientation for c in clusters) == pytest.approx([0.2, 0.2 + gap], abs=0.03)


def test_a_merged_cluster_is_reported_where_one_of_its_neurons_is():
    """Two groups 0.1 rad apart (below the resolution) merge; the reported orientation and kink are those of
    one of its neurons, never the empty middle the amplitude-weighted mean would give."""
    rng = np.random.default_rng(3)
    a, w, b = _groups(rng, [0.08, 0.18], [0.6, 0.4], noise=0.003, background=0)
    (merged,) = condensation.orientation_clusters(a, w, b)
    theta = np.arctan2(b, w)
    assert np.min(np.abs(theta - merged.orientation)) < 1e-12 and np.min(np.abs(-b / w - merged.kink)) < 1e-12
    mean = np.angle(np.sum(np.abs(a) * np.exp(1j * theta)))
    assert np.min(np.abs(theta - mean)) > 0.02  # the weighted mean lies between the groups, where no neuron is


def test_one_heavy_neuron_with_light_neighbours_is_no_cluster():
    rng = np.random.default_rng(4)
    theta = np.concatenate(([0.5], 0.5 + rng.normal(0, 0.01, 4), rng.uniform(-3, 3, 100)))
    a = np.concatenate(([100.0], np.full(4, 1.0), rng.normal(0, 0.1, 100)))
    assert condensation.orientation_clusters(a, np.cos(theta), np.sin(theta)) == []
    a[:5] = 20.0  # five neurons carrying it together: a cluster
    assert len(condensation.orientation_clusters(a, np.cos(theta), np.sin(theta))) == 1


@pytest.mark.parametrize("m", [20, 100])
@pytest.mark.parametrize("tails", ["gaussian", "heavy"])
def test_few_false_clusters_in_random_initialisations(m, tails):
    """Gaussian and heavy-tailed (Cauchy) amplitudes: at most 3 clusters in 300 draws at m = 20 and 100
    (bench/condensation.md counts 2000 draws of each up to m = 10⁴)."""
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(300):
        a = rng.normal(size=m) if tails == "gaussian" else rng.standard_t(1, size=m)
        found += bool(condensation.orientation_clusters(a, rng.normal(size=m), rng.normal(size=m)))
    assert found <= 3  # at most 1 %: bench/condensation.md measures 0.3 % (Gaussian, m = 20) over 2000 draws


def test_the_last_snapshot_says_how_much_amplitude_no_cluster_carries():
    rng = np.random.default_rng(6)
    a, w, b = _groups(rng, [0.2, 2.0], [0.45, 0.45], background=400)
    a[40:] = rng.normal(0, 0.1 / 400, 400)  # a light background carrying about a tenth
    text = condensation.describe(condensation.orientation_clusters(a, w, b), [-0.5, 0.5])
    rest = 1 - np.sum(np.abs(a[:40])) / np.sum(np.abs(a))
    assert text.endswith(f"{rest:.0%} of the amplitude in no counted cluster")


def test_the_timing_holds_through_a_flicker():
    s = np.array([1, 2, 3, 4, 5, 6, 8, 10, 14, 20, 30], dtype=float)
    counts = np.array([0, 1, 0, 1, 1, 1, 1, 1, 2, 2, 2])  # a one-snapshot dip at s = 3
    held = condensation.timing(s, counts)
    assert (held.first, held.final, held.final_count) == (4.0, 14.0, 2)
    dissolved = condensation.timing(s, [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0])  # a cluster that later dissolves
    assert dissolved.first == 3.0 and np.isnan(dissolved.final) and dissolved.final_count == 0
    assert np.isnan(condensation.timing(s, np.zeros(11)).first)
    flicker = condensation.timing(s, [0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0])  # never holds from s to 2s
    assert np.isnan(flicker.first)
