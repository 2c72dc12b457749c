import numpy as np
import pytest

from relunet_support.analysis import phase
from relunet_support.network import data, init, scaling


def test_final_relative_distance_follows_the_regimes():
    linear = [phase.final_relative_distance(0.5, 0.0, m, tol=1e-4) for m in (50, 400)]
    condensed = [phase.final_relative_distance(1.75, 0.0, m, tol=1e-4) for m in (50, 400)]
    assert linear[1] < linear[0] < 0.1  # RD → 0 with m in the linear regime
    assert condensed[1] > condensed[0] > 1.0  # RD grows with m in the condensed regime
    assert phase.final_relative_distance(0.5, 0.0, 50, tol=1e-4) == linear[0]  # deterministic for a seed
    assert phase.final_relative_distance(0.5, 0.0, 50, seed=1, tol=1e-4) != linear[0]


def test_the_crossings():
    assert phase.theory_crossing(-0.3) == 1.0 and phase.theory_crossing(0.4) == pytest.approx(1.4)
    assert phase.zero_crossing([0.5, 1.0, 1.5], [-0.5, -0.1, 0.3]) == pytest.approx(1.125)
    assert np.isnan(phase.zero_crossing([0.5, 1.0], [0.2, 0.3]))


@pytest.mark.parametrize(
    ("gamma", "gamma_prime"), [(0.5, -0.3), (0.5, 0.0), (0.5, 0.2), (0.8, 0.5), (1.0, 0.3), (1.25, 0.5), (1.5, 0.8)]
)
def test_the_exponent_is_the_large_width_limit_of_the_frozen_feature_dynamics(gamma, gamma_prime):
    """Two derivations agree: the scaling argument's m → ∞ exponent (``theory_slope``) and the slope of the
    frozen-feature dynamics (``predicted_distance``, solved numerically) at m = 10¹² … 10¹³."""
    assert phase.predicted_slope(gamma, gamma_prime, (10**12, 10**13)) == pytest.approx(
        phase.theory_slope(gamma, gamma_prime), abs=2e-3
    )


def test_the_exponent_is_continuous_across_the_regime_lines():
    """S_w → 0 on both sides of the boundary (γ = 1 for γ′ ≤ 0, γ′ = γ − 1 for γ′ > 0) and the two condensed
    branches meet on γ + γ′ = 1."""
    eps = 1e-9
    for gamma_prime in (-0.4, -0.1, 0.0):
        assert (
            abs(phase.theory_slope(1 - eps, gamma_prime)) < 1e-6
            and abs(phase.theory_slope(1 + eps, gamma_prime)) < 1e-6
        )
    for gamma in (1.2, 1.5, 1.75):
        on_line = gamma - 1
        assert (
            abs(phase.theory_slope(gamma, on_line - eps)) < 1e-6
            and abs(phase.theory_slope(gamma, on_line + eps)) < 1e-6
        )
    for gamma in (1.2, 1.5):
        assert phase.theory_slope(gamma, 1 - gamma - eps) == pytest.approx(phase.theory_slope(gamma, 1 - gamma + eps))


def test_the_feature_moments_match_the_arc_cosine_kernel():
    """K_a by quadrature equals the closed form (|x̃_i||x̃_k|/2π)(sin θ + (π − θ) cos θ) of Cho & Saul."""
    x, _ = data.load("luo2021")
    feature_kernel, weight_kernel, _ = phase._feature_moments(x.tobytes())
    inputs = np.stack([x, np.ones_like(x)], axis=1)
    norms = np.linalg.norm(inputs, axis=1)
    cross = np.abs(np.subtract.outer(inputs[:, 0], inputs[:, 0]))  # |x̃_i × x̃_k| with a common second entry 1
    angles = np.arctan2(cross, inputs @ inputs.T)
    cosines = np.cos(angles)
    closed = np.outer(norms, norms) / (2 * np.pi) * (np.sin(angles) + (np.pi - angles) * cosines)
    assert feature_kernel == pytest.approx(closed, rel=1e-12)
    assert weight_kernel == pytest.approx(inputs @ inputs.T * (np.pi - angles) / (2 * np.pi), rel=1e-12)


def test_the_predicted_distance_is_the_minimum_norm_change_of_a_wide_network():
    """At γ = 0.5 (a barely moves) the prediction equals the minimum-norm solution of the linearised network
    J·Δθ = y, computed from actual draws at m = 20 000 (mean of 3 seeds, within 3 %)."""
    x, y = data.load("luo2021")
    m, gamma, gamma_prime = 20_000, 0.5, 0.2
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    distances = []
    for seed in range(3):
        a, w, b = init.initial_parameters(2 * m, beta1, beta2, "antisymmetric", np.random.default_rng(seed))
        pre = np.outer(w, x) + b[:, None]
        active = pre > 0
        jacobian = np.hstack([np.maximum(pre, 0).T, (a[:, None] * active * x).T, (a[:, None] * active).T]) / alpha
        change = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T, y)
        moved = change[2 * m :]
        distances.append(np.sqrt(moved @ moved / (w @ w + b @ b)))
    assert phase.predicted_distance(gamma, gamma_prime, m) == pytest.approx(np.mean(distances), rel=0.03)


def test_in_the_condensed_regime_rd_squared_is_alpha_times_the_path_norm_over_4m():
    """The derivation of (γ − 1 − γ′)/2: the grown neurons balance (|a_j| ≈ ‖u_j‖), so Σ‖Δu_j‖² ≈ α·P with
    P = Σ|a_j|‖u_j‖/α the path norm of the learned function, and ‖θ_w(0)‖² ≈ 4m: RD² ≈ αP/(4m). Measured at
    (1.75, 0): the ratio RD/√(αP/4m) is 0.95 at m = 400 and 0.97 at m = 3200; P changes by < 1 %."""
    ratios, path_norms = [], []
    for m in (400, 3200):
        network = phase.trained_network(1.75, 0.0, m)
        a, w, b = network.final
        path_norm = float(np.sum(np.abs(a) * np.hypot(w, b)) / network.alpha)
        distance = network.relative_distance()
        ratios.append(distance / np.sqrt(network.alpha * path_norm / (4 * m)))
        path_norms.append(path_norm)
    assert 0.9 < ratios[0] < ratios[1] < 1.0
    assert path_norms[1] == pytest.approx(path_norms[0], rel=0.02)


@pytest.mark.parametrize("widths", [[], [100], [100, 100], [100, -5], [100, 100.5], ["a", 3], [100, True], None, 5])
def test_widths_that_cannot_give_a_slope_are_refused_by_name(widths):
    from relunet_support.errors import ConfigError

    with pytest.raises(ConfigError, match="widths=.*at least two distinct positive integers"):
        phase.predicted_slope(0.5, 0.2, widths)
    with pytest.raises(ConfigError, match="widths="):
        phase.slope_over_widths(0.5, 0.2, widths)


def test_trained_network_counts_m_as_the_paper_steps_at_half_the_stability_limit_and_stops_below_tol(monkeypatch):
    """Luo et al.'s convention: m drawn neurons and their m twins (−a, w, b) — 2m neurons, f₀ ≡ 0, α from m;
    η = ½·stability limit·α (at γ′ = 0, γ > 1 the limit is η/α = 2: η = α); GD until the risk is below tol."""
    from relunet_support import engine
    from relunet_support.network import model

    calls = []
    real = engine.advance

    def recorded(a, w, b, dynamics, **kwargs):
        advanced = real(a, w, b, dynamics, **kwargs)
        calls.append((a.size, dynamics.alpha, dynamics.learning_rate, float(advanced.records["risk"][-1])))
        return advanced

    monkeypatch.setattr(engine, "advance", recorded)
    m, tol = 30, 1e-4
    network = phase.trained_network(1.75, 0.0, m, tol=tol, chunk=20)
    alpha = m**1.75  # α_m = m^(γ−γ′) of the drawn width m, not of the 2m neurons
    assert network.alpha == pytest.approx(alpha, rel=1e-12)
    for size, step_alpha, eta, _ in calls:
        assert (size, step_alpha, eta) == (2 * m, pytest.approx(alpha, rel=1e-12), pytest.approx(alpha, rel=1e-12))
    a, w, b = network.initial
    np.testing.assert_array_equal(a[m:], -a[:m])  # the twins: (−a, w, b)
    np.testing.assert_array_equal(w[m:], w[:m])
    np.testing.assert_array_equal(b[m:], b[:m])
    x, y = data.load("luo2021")
    assert np.max(np.abs(model.forward(a, w, b, np.linspace(-1, 1, 101), alpha))) < 1e-12  # f₀ ≡ 0
    assert x.tolist() == pytest.approx([-1 / 2, -1 / 6, 1 / 6, 1 / 2]) and y.tolist() == pytest.approx(list(x**2))
    final_risk = model.risk(*network.final, x, y, alpha)
    assert final_risk < tol and final_risk == pytest.approx(calls[-1][3], rel=1e-9)
    assert len(calls) > 1 and all(risk >= tol for *_, risk in calls[:-1])  # stops at the first chunk below tol
    assert calls[-2][3] < 2 * tol  # chunks of 20 steps: the risk falls by < 2× in one, so R < tol is resolved


def test_the_presets_are_those_notebook_05_states():
    """Notebook 05: 'reduced version (widths 200 … 1600, three γ′, tolerance 1e-6)', 'paper-sized preset
    (widths 100 … 6400, nine γ′, tolerance 1e-6)', γ ∈ {0.5, 1, 1.75}; user guide: 27 points in the paper preset."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "notebooks" / "05_phase_diagram.py").read_text()
    words = {"two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "nine": 9}
    stated = re.findall(r"widths (\d+) … (\d+), (\w+) γ′, tolerance ([0-9.e-]+)", text)
    assert len(stated) == 2, stated
    for preset, (low, high, count, tol) in zip((phase.REDUCED, phase.PAPER), stated, strict=True):
        assert (preset["widths"][0], preset["widths"][-1]) == (int(low), int(high))
        assert list(preset["widths"]) == sorted(preset["widths"])
        assert len(preset["gamma_primes"]) == words[count] and preset["tol"] == float(tol)
        assert preset["gammas"] == (0.5, 1.0, 1.75)  # Fig. 3: γ ∈ {0.5, 1, 1.75}
        assert 0.0 in preset["gamma_primes"]  # Fig. 3 is the γ′ = 0 slice
    assert "γ ∈ {0.5, 1, 1.75}" in text
    assert len(phase.PAPER["gammas"]) * len(phase.PAPER["gamma_primes"]) == 27


def test_the_linearised_distance_is_the_minimum_norm_fit_of_the_drawn_network():
    """Δθ = Jᵀ(JJᵀ)⁻¹y of the very network trained_network draws: it fits the data exactly under the linear
    model and is the least-squares minimum-norm solution; its slope over widths is the drawn-kernel prediction."""
    w, b, jacobian_a, jacobian_w, jacobian_b, y = phase._drawn_linearisation(0.5, -0.4, 100, seed=1)
    _, beta1, beta2 = scaling.alpha_beta(100, 0.5, -0.4)
    a, w0, b0 = init.initial_parameters(200, beta1, beta2, "antisymmetric", np.random.default_rng(1))
    np.testing.assert_array_equal(w, w0)  # the same draw as trained_network's
    jacobian = np.hstack([jacobian_a, jacobian_w, jacobian_b])
    change = np.linalg.lstsq(jacobian, y, rcond=None)[0]  # minimum norm
    np.testing.assert_allclose(jacobian @ change, y, rtol=1e-9, atol=1e-12)
    expected = np.linalg.norm(change[200:]) / np.linalg.norm(np.concatenate([w0, b0]))
    assert phase.linearised_distance(0.5, -0.4, 100, seed=1) == pytest.approx(expected, rel=1e-8)
    widths = (100, 400, 1600)
    slope = np.mean(
        [np.polyfit(np.log(widths), np.log([phase.linearised_distance(0.5, -0.4, m, s) for m in widths]), 1)[0]
         for s in (0, 1)]
    )  # fmt: skip
    assert phase.predicted_slope(0.5, -0.4, widths, seeds=(0, 1)) == pytest.approx(slope, rel=1e-12)
    assert phase.predicted_slope(0.5, -0.4, widths) != pytest.approx(slope, abs=0.01)  # the m → ∞ kernel differs


def test_the_output_weight_share_shrinks_like_m_to_the_two_gamma_prime():
    widths = np.array([200, 800, 3200])
    shares = [phase.output_weight_share(1.0, -0.4, int(m), seed=0) for m in widths]
    assert np.polyfit(np.log(widths), np.log(shares), 1)[0] == pytest.approx(-0.8, abs=0.15)
