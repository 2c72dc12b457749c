import math

import numpy as np
import pytest

from relunet_support.analysis import escapes
from relunet_support.errors import ConfigError
from relunet_support.network import data


def test_g_star_of_the_data_sets():
    value, theta = escapes.g_star(*data.load("seed"))
    assert value == pytest.approx(17 / 120, rel=1e-12) and theta == pytest.approx(math.pi / 2)
    assert escapes.g_star(*data.load("luo2021"))[0] == pytest.approx(5 / 36, rel=1e-12)
    assert escapes.predicted_escape_slope(1.5, 0.0, *data.load("seed")) == pytest.approx(0.5 / (2 * 17 / 120))


def test_g_star_against_a_dense_search():
    """Random, asymmetric data with targets of both signs: G* = max(max G, −min G) of a dense grid, within
    the grid's resolution, attained at the direction returned, with the sign of a that escapes."""
    rng = np.random.default_rng(4)
    theta = np.linspace(-np.pi, np.pi, 100_001)
    signs = set()
    for _ in range(20):
        x, y = rng.uniform(-1, 1, 5), rng.normal(size=5)
        dense = escapes.growth_function(x, y, theta)
        expected = max(dense.max(), -dense.min())
        value, best = escapes.g_star(x, y)
        sign = escapes.growth_sign(x, y)
        assert expected - 1e-9 <= value <= expected + 1e-4  # the grid misses a corner extreme by O(grid step)
        assert sign * escapes.growth_function(x, y, best) == pytest.approx(value, abs=1e-12)
        signs.add(sign)
    assert signs == {1, -1}


def test_g_star_with_negative_targets():
    """y → −y: the same rate, now for neurons with a < 0 (the escape is not slower, the slope is finite)."""
    x, y = data.load("seed")
    assert escapes.g_star(x, -y) == pytest.approx(escapes.g_star(x, y), rel=1e-12)
    assert (escapes.growth_sign(x, y), escapes.growth_sign(x, -y)) == (1, -1)
    assert escapes.predicted_escape_slope(1.5, 0.0, x, -y) == pytest.approx(0.5 / (2 * 17 / 120))
    with pytest.raises(ValueError, match="G\\* > 0"):
        escapes.predicted_escape_slope(1.5, 0.0, x, 0 * y)


def planted_curve():
    """R = 1.6e-2 until s ≈ 8, a drop to 5.9e-3 (centred at s = 10), a plateau to s ≈ 100, then decay."""
    s = np.concatenate(([0.0], np.geomspace(0.01, 1000, 3000)))
    first = 5.9e-3 + (1.6e-2 - 5.9e-3) / (1 + np.exp(np.minimum((s - 10) / 0.5, 700)))
    decay = np.where(s > 100, np.exp(-(s - 100) / 20), 1.0)
    return s, first * decay


def test_plateaus_and_escapes_on_a_planted_curve():
    s, risk = planted_curve()
    found = escapes.plateaus(s, risk)
    assert len(found) == 2
    assert found[0].level == pytest.approx(1.6e-2, rel=0.01) and found[0].escaped
    assert 9 < found[0].end < 10
    assert found[1].level == pytest.approx(5.9e-3, rel=0.01) and found[1].escaped
    assert 100 < found[1].end < 105 and found[1].start < 15
    assert 9.5 < escapes.first_escape(s, risk) < 10.5
    flat = np.full_like(s, 1e-2)
    assert math.isnan(escapes.first_escape(s, flat))
    assert escapes.plateaus(s, flat)[0].escaped is False


def test_slope_fit_recovers_power_laws_with_an_honest_interval():
    m = np.array([100, 200, 400, 800, 1600] * 8, dtype=float)
    exact = escapes.fit_line(np.log(m), np.log(3.0 * m**0.375))
    assert exact.slope == pytest.approx(0.375, abs=1e-12) and exact.intercept == pytest.approx(math.log(3.0))
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        noisy = 1.76 * np.log(m) - 4.6 + rng.normal(0, 0.5, m.size)
        fit = escapes.fit_line(np.log(m), noisy)
        covered += fit.slope_low <= 1.76 <= fit.slope_high
    assert 180 <= covered <= 199  # a 95 % interval covers the truth about 95 % of the time
    with pytest.raises(ValueError, match="two distinct"):
        escapes.fit_line([1.0, 1.0], [2.0, 3.0])


def test_the_interval_uses_the_student_t_quantile():
    # three points on a line but one: 1 degree of freedom, t_0.975(1) = 12.706 (tables)
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.1, 1.9])
    fit = escapes.fit_line(x, y)
    residual = y - (fit.slope * x + fit.intercept)
    stderr = np.sqrt(residual @ residual / 1) / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert (fit.slope_high - fit.slope) / stderr == pytest.approx(12.706, abs=1e-3)


def test_the_flow_verdict_is_monotone_in_the_learning_rate(tmp_path):
    """The estimated errors against the flow grow with η (Euler: linearly), so the verdict flips once: η/α
    0.05 … 0.8 faithful, 3.2 not (m = 200, up to s = 300: both escapes; bench/flow.md)."""
    import warnings

    from relunet_support.analysis.flow import check_gradient_flow
    from relunet_support.runs.train import TrainConfig, train

    checks = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rate in (0.05, 0.2, 0.8, 3.2):
            config = TrainConfig.from_normalised(200, rate, math.ceil(300 / rate), n_records=2000, n_snapshots=2)
            checks.append(check_gradient_flow(train(config, tmp_path, progress=False)))
    for quantity in ("max_log_risk_deviation", "max_f_deviation"):
        values = [getattr(check, quantity) for check in checks]
        assert values == sorted(values) and values[-1] > 20 * values[0], quantity
        assert values[1] / values[0] == pytest.approx(4, rel=0.1)  # linear in η
    first_escape_errors = [check.escape_deviations[0] for check in checks]
    assert first_escape_errors == sorted(first_escape_errors)
    assert [check.faithful for check in checks] == [True, True, True, False]
    assert "NOT a faithful" in checks[-1].summary() and "ŝ₁ off by" in checks[0].summary()


def test_first_escape_is_where_the_risk_falls_below_seven_tenths_of_its_start():
    """R = 0.02 up to s = 1, then R = 0.02·exp(−(s − 1)/10): R < f·R(0) first at s = 1 + 10 ln(1/f), so the
    fractions 0.8, 0.7 and 0.6 give 3.23, 4.57 and 6.11 — the first escape must be the 0.7 one."""
    s = np.concatenate(([0.0], np.geomspace(0.01, 100, 4000)))
    risk = 0.02 * np.exp(-np.maximum(s - 1, 0.0) / 10)
    expected = {fraction: 1 + 10 * math.log(1 / fraction) for fraction in (0.8, 0.7, 0.6)}
    assert escapes.first_escape(s, risk) == pytest.approx(expected[0.7], abs=0.01)
    assert min(abs(expected[0.7] - expected[f]) for f in (0.8, 0.6)) > 1  # the three are far apart


def plateau_then_decay():
    """R = 1 until s ≈ 10, a sharp drop to the plateau R = 0.3 (flat from s ≈ 12 to 100), then
    R = 0.3·exp(−(s − 100)/100): R < f·0.3 first at s = 100 + 100 ln(1/f)."""
    s = np.concatenate(([0.0], np.geomspace(0.01, 1000, 6000)))
    drop = 0.3 + 0.7 / (1 + np.exp(np.minimum((s - 10) / 0.2, 700)))
    return s, drop * np.exp(-np.maximum(s - 100, 0.0) / 100)


def test_second_escape_is_where_the_risk_falls_below_nine_tenths_of_the_first_plateau():
    s, risk = plateau_then_decay()
    assert escapes.first_escape(s, risk) == pytest.approx(10, abs=0.5)  # the plateau at 1 is not the first plateau
    expected = {fraction: 100 + 100 * math.log(1 / fraction) for fraction in (0.95, 0.9, 0.8)}  # 105.1, 110.5, 122.3
    assert escapes.second_escape(s, risk) == pytest.approx(expected[0.9], abs=0.3)
    assert min(abs(expected[0.9] - expected[f]) for f in (0.95, 0.8)) > 5  # the three are far apart
    assert escapes.second_escape(s, risk, drop=0.2) == pytest.approx(expected[0.8], abs=0.3)
    flat_after = np.where(s > 100, 0.3, risk)  # the risk never leaves the plateau: no second escape
    assert math.isnan(escapes.second_escape(s, flat_after))


@pytest.mark.parametrize("gamma, gamma_prime", [(1.25, -0.4), (1.0, 0.0), (0.5, 0.0), (1.5, 0.5), (1.5, -0.6)])
def test_the_escape_slope_is_refused_where_there_is_no_escape_phase(gamma, gamma_prime):
    """γ − 1 − |γ′| ≤ 0: the network does not start small; the formula's slope (≤ 0) would mean nothing."""
    assert not escapes.has_escape_phase(gamma, gamma_prime)
    with pytest.raises(ConfigError, match=r"γ − 1 − \|γ′\| > 0"):
        escapes.predicted_escape_slope(gamma, gamma_prime, *data.load("seed"))
    assert escapes.has_escape_phase(1.5, 0.4) and escapes.predicted_escape_slope(1.5, 0.4, *data.load("seed")) > 0


def test_the_straggler_hypothesis_of_the_seed_data():
    """c = G′ at the dead sector's edge = (1/n)·y_o·√(1 + x_o²) = √5/32 for the seed data; the asymptote
    (γ − 1)[1/(2G*) + (1 + c/(2G*))/(2G₂*)] ≈ 36.29 at (3/2, 0)."""
    x, y = data.load("seed")
    assert escapes.straggler_pool_rate(x, y) == pytest.approx(5**0.5 / 32, rel=1e-12)
    g, g2, c = 17 / 120, escapes.second_growth_rate(x, y)[0], 5**0.5 / 32
    expected = 0.5 * (1 / (2 * g) + (1 + c / (2 * g)) / (2 * g2))
    assert escapes.straggler_second_escape_slope(1.5, 0.0, x, y) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(36.29, abs=0.01)
    with pytest.raises(ConfigError, match="mirror-symmetric"):
        escapes.straggler_pool_rate([0.1, 0.2, 0.5], [1.0, 1.0, 1.0])


def test_a_clustered_interval_widens_when_a_cluster_moves_together():
    """Clusters (seeds) whose points share an offset: the cluster-robust interval is wider than the plain one
    and has G − 1 degrees of freedom; with independent points it agrees with the plain one roughly."""
    rng = np.random.default_rng(0)
    widths = np.log([200, 400, 800, 1600] * 12)
    seeds = np.repeat(np.arange(12), 4)
    shared = rng.normal(0, 0.5, 12)[seeds] * (widths - widths.mean())  # each seed's own slope error
    y = 1.7 * widths + shared + rng.normal(0, 0.1, widths.size)
    plain, clustered = escapes.fit_line(widths, y), escapes.fit_line(widths, y, clusters=seeds)
    assert clustered.slope == pytest.approx(plain.slope)
    assert clustered.slope_high - clustered.slope_low > 2 * (plain.slope_high - plain.slope_low)
    independent = 1.7 * widths + rng.normal(0, 0.3, widths.size)
    ratio = np.ptp([*escapes.fit_line(widths, independent, clusters=seeds).__dict__.values()][2:4]) / np.ptp(
        [*escapes.fit_line(widths, independent).__dict__.values()][2:4]
    )
    assert 0.5 < ratio < 2
    with pytest.raises(ConfigError, match="clusters"):
        escapes.fit_line(widths, y, clusters=seeds[:-1])


@pytest.mark.parametrize("dimension", [1, 2])
def test_the_flow_check_reruns_the_run_s_own_network_for_every_activation(tmp_path, dimension):
    """A tanh run (d = 1, and d = 2 with no extremes recorded): the check re-runs a tanh network of the run's
    dimension — at η/α = 0.2 the run is a faithful flow (re-running ReLU, as the check once did, put ŝ₁ off by
    ~100 %) — and the numba reference agrees with the numpy one; at η/α = 3.2 it is not faithful."""
    import warnings

    from relunet_support.analysis.flow import check_gradient_flow
    from relunet_support.runs.train import TrainConfig, train

    data = {}
    if dimension == 2:
        x = ((-0.5, 0.2), (-1 / 6, -0.3), (1 / 6, 0.4), (0.5, -0.1))
        data = {"dataset": "custom", "x": x, "y": (0.25, 1 / 30, 1 / 30, 0.25)}
    checks = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # η/α = 3.2: beyond the stability limit, on purpose
        for rate in (0.2, 3.2):
            config = TrainConfig.from_normalised(
                60, rate, math.ceil(100 / rate), n_records=500, n_snapshots=2, activation="tanh", **data
            )
            checks.append(check_gradient_flow(train(config, tmp_path, progress=False)))
    faithful, rough = checks
    assert faithful.faithful and not rough.faithful
    assert faithful.escape_deviations[0] < 0.01 and faithful.max_log_risk_deviation < 0.01
    assert math.isnan(faithful.f_scale) == (dimension == 2)
    assert ("f not compared" in faithful.summary()) == (dimension == 2)
    config = TrainConfig.from_normalised(60, 0.2, 500, n_records=500, n_snapshots=2, activation="tanh", **data)
    reference = check_gradient_flow(train(config, tmp_path, progress=False), backend="numpy")
    assert reference.max_log_risk_deviation == pytest.approx(faithful.max_log_risk_deviation, rel=1e-6)
    assert reference.escape_deviations[0] == pytest.approx(faithful.escape_deviations[0], rel=1e-6)
