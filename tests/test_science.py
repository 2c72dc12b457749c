"""Regression tests of the science's headline claims: each trains small networks and compares a measured
number with the theory's (docs/science.md). Fast enough for `make test` (each under 20 s on 2 cores)."""

import dataclasses

import numpy as np
import pytest

from relunet_support import TrainConfig, train
from relunet_support.analysis import escapes

GAMMA, GAMMA_PRIME, SMALL_RATE = 1.5, 0.0, 0.05  # the seed's regime, η/α small: GD close to the flow


@pytest.mark.slow  # a science fit (about 4 s)
def test_the_first_escape_slope_is_the_theory_s(tmp_path):
    """ŝ₁ against ln m for m = 400 … 25 600 (4 seeds each) has slope (γ − 1 − |γ′|)/(2G*) within ±5 %
    (measured 1.778 against 1.765)."""
    fit = _escape_slope(tmp_path, escapes.first_escape_of, (400, 1600, 6400, 25600), 4, n_steps=400, n_records=401)
    theory = escapes.predicted_escape_slope(GAMMA, GAMMA_PRIME, *TrainConfig(2, 1.0, 1).training_data())
    assert fit.n_points == 16 and fit.slope == pytest.approx(theory, rel=0.05)


def _escape_slope(tmp_path, escape_of, widths, n_seeds, n_steps, n_records) -> escapes.SlopeFit:
    """The fit against ln m of ``escape_of(run)`` over ``widths`` × ``n_seeds`` seeds at η/α = 0.05."""
    points = []
    for m in widths:
        for seed in range(n_seeds):
            config = TrainConfig.from_normalised(m, SMALL_RATE, n_steps, seed=seed, n_records=n_records, n_snapshots=2)
            points.append((m, escape_of(train(config, tmp_path, progress=False))))
    return escapes.fit_line(np.log([m for m, _ in points]), [s for _, s in points])


def _measured_plateau(tmp_path, n_steps, min_decades=0.3, **options) -> tuple[float, float]:
    config = TrainConfig.from_normalised(8000, SMALL_RATE, n_steps, n_records=3000, n_snapshots=2, **options)
    run = train(config, tmp_path, progress=False)
    s = SMALL_RATE * run.records["step"]
    after_escape = [p for p in escapes.plateaus(s, run.records["risk"], min_decades=min_decades) if p.start > 1.0]
    return after_escape[0].level, escapes.plateau(*config.training_data())[0]


@pytest.mark.parametrize(
    "options",
    [
        {},  # the seed's data: R* = (1/2n) Σ (y − ȳ)²
        {"dataset": "luo2021", "init": "gaussian"},
        {"dataset": "custom", "x": (-0.5, -1 / 6, 1 / 6, 0.5), "y": (-0.25, -1 / 30, -1 / 30, -0.25)},  # y < 0
    ],
)
def test_the_plateau_after_the_first_escape_is_r_star(tmp_path, options):
    """The risk's plateau after the first escape (m = 8000) is the theory's R* within 3 % (measured 1 %)."""
    measured, theory = _measured_plateau(tmp_path, 3000, **options)
    assert measured == pytest.approx(theory, rel=0.03)


def test_r_star_on_asymmetric_data(tmp_path):
    """Six random points, asymmetric, targets of both signs: the K-neuron saddle's risk is the plateau's."""
    rng = np.random.default_rng(1)
    x, y = np.sort(rng.uniform(-1, 1, 6)), 0.3 * rng.normal(size=6)
    data = {"dataset": "custom", "x": tuple(x), "y": tuple(y)}
    measured, theory = _measured_plateau(tmp_path, 4000, min_decades=0.15, **data)
    assert theory < 0.5 * np.mean(y**2) * 0.7  # a real plateau, well below the initial risk
    assert measured == pytest.approx(theory, rel=0.03)


@pytest.mark.slow  # a science fit (about 3 s)
def test_the_second_escape_slope_is_the_prediction_s(tmp_path):
    """ŝ₂ (the risk leaving the plateau R*) against ln m, m = 250 … 16 000, 3 seeds each: slope within 10 % of
    (γ − 1)(1/(2G*) + 1/(2G₂*)) (measured 29.22 against 29.46; bench/escapes.md)."""
    fit = _escape_slope(tmp_path, escapes.second_escape_of, (250, 1000, 4000, 16000), 3, n_steps=6000, n_records=3000)
    assert fit.n_points == 12  # every run has its second escape
    prediction = escapes.predicted_second_escape_slope(GAMMA, GAMMA_PRIME, *TrainConfig(2, 1.0, 1).training_data())
    assert fit.slope == pytest.approx(prediction, rel=0.10)


def test_the_kernel_clock_collapses_the_widths_in_the_linear_regime(tmp_path):
    """(γ, γ′) = (3/4, 0), f₀ ≡ 0, one η for every width: the risk is the same function of τ = mκ(κ′ + 1/κ′)·s
    (within 10 % up to τ = 3) but not of the step k; 04 draws the linear regime on k, s and τ."""
    from relunet_support import plots

    runs, on_tau, on_steps = [], [], []
    for m in (100, 400, 1600):
        config = TrainConfig(m=m, learning_rate=0.5, n_steps=1, gamma=0.75, init="antisymmetric")
        steps = int(np.ceil(20 / (plots.kernel_rate(config) * config.learning_rate / config.alpha)))
        config = dataclasses.replace(config, n_steps=steps, n_records=600, n_snapshots=2)
        run = train(config, tmp_path, progress=False)
        tau = plots.rescaled_time(run.records["step"], "τ", config)
        on_tau.append(np.interp([0.3, 1.0, 3.0], tau, run.records["risk"]))
        on_steps.append(np.interp(30, run.records["step"], run.records["risk"]))
        runs.append(run)
    on_tau = np.array(on_tau)
    assert np.all(on_tau.max(axis=0) / on_tau.min(axis=0) < 1.1)
    assert max(on_steps) / min(on_steps) > 1.4
    figure = plots.theory_clocks_figure(runs, "risk")
    assert [ax.get_xlabel().split(" ")[0] for ax in figure.axes[:3]] == ["step", "s", "τ"]


def test_the_seed_study_ends_with_kinks_at_the_inner_data_points(tmp_path):
    """The seed notebook's setting (η = 1000, m = 200, 300 000 steps): the risk converges and the neurons carrying
    the amplitude end in two clusters whose kinks sit at x = ±1/6 (the interpolant of the data is even and
    piecewise linear with kinks there)."""
    from relunet_support.analysis import condensation

    run = train(TrainConfig(m=200, learning_rate=1000.0, n_steps=300_000), tmp_path, progress=False)
    assert run.status == "complete" and run.records["risk"][-1] < 1e-20
    clusters = condensation.orientation_clusters(*run.snapshot(-1))
    assert len(clusters) == 2
    assert sorted(c.kink for c in clusters) == pytest.approx([-1 / 6, 1 / 6], abs=2e-3)


@pytest.mark.parametrize(
    ("gamma_prime", "gammas"),
    [(-0.3, (0.8, 0.9, 1.0, 1.1, 1.2)), (0.0, (0.8, 0.9, 1.0, 1.1, 1.2)), (0.4, (1.2, 1.3, 1.4, 1.5, 1.6))],
)
def test_the_phase_boundary_is_where_s_w_changes_sign(gamma_prime, gammas):
    """On Luo et al.'s setup (widths 100 … 800) S_w changes sign within 0.1 of the regime boundary, γ = 1 for
    γ′ ≤ 0 and γ = 1 + γ′ for γ′ > 0 (measured 0.97, 1.07, 1.48)."""
    from relunet_support.analysis import phase

    slopes = [phase.slope_over_widths(g, gamma_prime, (100, 200, 400, 800), tol=1e-5)[1] for g in gammas]
    assert phase.zero_crossing(gammas, slopes) == pytest.approx(phase.theory_crossing(gamma_prime), abs=0.1)


# The paper preset (widths 100 … 6400, tolerance 1e-6), 3 seeds: how far the seed-mean S_w may lie from
# ``phase.predicted_slope`` (bench/phase.md has every value). 0.05 where the derivation holds at these widths;
# the known exceptions carry their own bound and reason:
# - γ = 0.5, γ′ < 0: the m = 100, 200 fits carry a non-linear correction (RD up to 40 % above the frozen-feature
#   value at m = 100, < 1 % at 6400): the fit over 400 … 6400 is within 0.05, the fit over 100 … 6400 within 0.09;
# - γ = 1, γ′ ≤ 0 is the critical line, where only the leading order (S_w = 0) is derived, and γ = 1, γ′ > 0 sits
#   next to it (the a_j change by O(1) there): within 0.1;
# - γ = 1.75, γ′ = 0.4: the condensed regime's O(1/RD) correction with RD ≈ 1 … 3: within 0.06.
def _phase_tolerance(gamma: float, gamma_prime: float) -> float:
    if gamma == 1.0:
        return 0.1
    if gamma == 0.5 and gamma_prime < 0:
        return 0.09
    if gamma == 1.75 and gamma_prime > 0.35:
        return 0.06
    return 0.05


@pytest.mark.slow
@pytest.mark.parametrize("gamma", [0.5, 1.0, 1.75])
def test_the_rd_slopes_of_the_paper_preset_are_the_derived_ones(gamma):
    from relunet_support.analysis import phase

    widths = np.array(phase.PAPER["widths"])
    misses = []
    for gamma_prime in phase.PAPER["gamma_primes"]:
        distances = [
            phase.slope_over_widths(gamma, gamma_prime, widths, seed, phase.PAPER["tol"])[0] for seed in range(3)
        ]
        for first in (0, 2) if gamma == 0.5 and gamma_prime < 0 else (0,):
            fitted = np.mean([escapes.fit_line(np.log(widths[first:]), np.log(d[first:])).slope for d in distances])
            predicted = phase.predicted_slope(gamma, gamma_prime, widths[first:])
            tolerance = 0.05 if first else _phase_tolerance(gamma, gamma_prime)
            if abs(fitted - predicted) > tolerance:
                misses.append(
                    f"γ′ = {gamma_prime}, m ≥ {widths[first]}: {fitted:.3f} vs {predicted:.3f} (±{tolerance})"
                )
    assert not misses, misses


@pytest.mark.slow
def test_the_local_second_escape_slope_lies_between_the_approximation_and_the_straggler_hypothesis(tmp_path):
    """m = 16 000 → 64 000, 3 seeds, η/α = 0.05: the local slope of ŝ₂ has risen above the approximation
    (γ − 1)(1/(2G*) + 1/(2G₂*)) = 29.46 and stays below the straggler-pool asymptote 36.29 (measured 33.38,
    interval 29.25 … 37.51: three seeds cannot tell the two apart; bench/escapes.md)."""
    fit = _escape_slope(tmp_path, escapes.second_escape_of, (16000, 64000), 3, n_steps=8000, n_records=4000)
    data = TrainConfig(2, 1.0, 1).training_data()
    approximation = escapes.predicted_second_escape_slope(GAMMA, GAMMA_PRIME, *data)
    hypothesis = escapes.straggler_second_escape_slope(GAMMA, GAMMA_PRIME, *data)
    assert fit.n_points == 6 and approximation < fit.slope < hypothesis


@pytest.mark.slow
def test_the_default_study_answers_the_first_escape_slope_within_two_tenths(tmp_path):
    """The default study's three η batches: 32 seeds at m = 200 … 2000 each, their 95 % intervals (clustered by
    seed) at most ±0.2
    wide, the same networks' ŝ₁ within 0.2 of each other across η, the pooled slope 1.60 (measured 1.596) —
    below the large-m 1.765, which `test_the_first_escape_slope_is_the_theory_s` reaches at m = 400 … 25 600."""
    from pathlib import Path

    from relunet_support.jobs.study import load_study
    from relunet_support.views.report import pooled_comparison, summarise_batch

    study = load_study(Path(__file__).resolve().parents[1] / "studies" / "default.yaml")
    summaries = [summarise_batch(b, t, tmp_path / "runs") for b, t in zip(study.batches, study.tags())][1:4]
    for summary in summaries:
        assert len(summary.seeds) >= 8 and summary.fit.n_points == len(summary.seeds) * 6
        assert summary.fit.slope_high - summary.fit.slope_low <= 0.4
    values = np.array([[t for _, _, t in s.escapes] for s in summaries])
    assert np.max(np.ptp(values, axis=0)) < 0.2  # the same networks at η = 4000, 2000, 1000
    pooled = escapes.fit_line(
        np.log([m for m, _, _ in summaries[0].escapes]),
        values.mean(axis=0),
        clusters=[seed for _, seed, _ in summaries[0].escapes],
    )
    assert pooled.slope_high - pooled.slope_low <= 0.4 and pooled.slope == pytest.approx(1.60, abs=0.02)
    assert "they agree" in "\n".join(pooled_comparison(summaries))
