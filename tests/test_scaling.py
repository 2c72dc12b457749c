import math

import pytest

from relunet_support.errors import ConfigError
from relunet_support.network.scaling import alpha_beta, kappas, natural_time, regime


@pytest.mark.parametrize(
    "m, gamma, gamma_prime", [(800, 1.5, 0.0), (100, 1.0, 0.3), (40, 0.5, -0.4), (1000, 1.75, 0.25)]
)
def test_alpha_beta_matches_definitions(m, gamma, gamma_prime):
    alpha, beta1, beta2 = alpha_beta(m, gamma, gamma_prime)
    assert alpha == pytest.approx(m ** (gamma - gamma_prime), rel=1e-14)
    # κ = β1β2/α = m^-γ and κ' = β1/β2 = m^-γ' (the papers' sign convention)
    assert beta1 * beta2 / alpha == pytest.approx(m**-gamma, rel=1e-12)
    assert beta1 / beta2 == pytest.approx(m**-gamma_prime, rel=1e-12)
    assert kappas(m, gamma, gamma_prime) == pytest.approx((m**-gamma, m**-gamma_prime), rel=1e-14)


def test_seed_defaults():
    alpha, beta1, beta2 = alpha_beta(800, 1.5, 0.0)
    assert alpha == pytest.approx(800**1.5)
    assert beta1 == pytest.approx(1.0) and beta2 == pytest.approx(1.0)


def test_regimes():
    assert regime(1.5, 0.0) == "condensed"
    assert regime(0.5, 0.0) == "linear"
    assert regime(1.5, 0.8) == "linear"
    assert regime(1.0, -0.5) == "critical"
    assert regime(1.5, 0.5) == "critical"


def test_natural_time():
    assert natural_time(1000, 70.0, 800**1.5) == pytest.approx(70_000 / 800**1.5)


@pytest.mark.parametrize("m", [0, -3, 2.5, True])
def test_bad_width(m):
    with pytest.raises(ConfigError, match=r"m=.*positive integer"):
        alpha_beta(m, 1.5, 0.0)


@pytest.mark.parametrize("name, args", [("gamma", (10, math.nan, 0.0)), ("gamma_prime", (10, 1.5, math.inf))])
def test_bad_exponents(name, args):
    with pytest.raises(ConfigError, match=f"{name}=.*finite"):
        alpha_beta(*args)


@pytest.mark.parametrize(
    "gamma, gamma_prime, name, scale",
    [
        (1000, 0.0, "gamma=1000.0", "α = m^(γ−γ′) overflows"),
        (-1000, 0.0, "gamma=-1000.0", "α = m^(γ−γ′) underflows"),
        (1.5, 500, "gamma_prime=500.0", "α = m^(γ−γ′) underflows"),
        (200, 200, "gamma=200.0", "β₁ = √(κκ′α) underflows"),  # α = 1, but κκ′ = 10^−400
    ],
)
def test_scales_beyond_float64_name_the_exponent_m_and_the_scale(gamma, gamma_prime, name, scale):
    """No OverflowError or ZeroDivisionError: a ConfigError naming γ or γ′, m, the scale and the range."""
    for function in (alpha_beta, kappas):
        with pytest.raises(ConfigError) as info:
            function(10, gamma, gamma_prime)
        message = str(info.value)
        assert message.startswith(f"{name} is not allowed: ") and "at m=10" in message
        assert scale in message and "must stay below about 308.3" in message


def test_alpha_beta_gives_the_same_bits_as_the_formulas():
    """The range checks change no value: (α, β₁, β₂) and (κ, κ′) are the seed's formulas, bit for bit."""
    for m in (1, 2, 40, 800, 6400, 10**6):
        for gamma in (-3.0, 0.0, 0.5, 1.0, 1.5, 1.75, 3.0, 40.0):
            for gamma_prime in (-1.0, -0.4, 0.0, 0.25, 0.3, 1.0):
                alpha = float(m) ** (gamma - gamma_prime)
                kappa, kappa_prime = float(m) ** (-gamma), float(m) ** (-gamma_prime)
                expected = (alpha, math.sqrt(kappa * kappa_prime * alpha), math.sqrt(kappa * alpha / kappa_prime))
                assert alpha_beta(m, gamma, gamma_prime) == expected
                assert kappas(m, gamma, gamma_prime) == (kappa, kappa_prime)


def test_a_config_s_clock_is_the_natural_time():
    """One place for s = η·k/α_m: TrainConfig.clock is scaling.natural_time with the config's η and α."""
    import numpy as np

    from relunet_support.runs.config import TrainConfig

    config = TrainConfig(m=800, learning_rate=70.0, n_steps=10)
    steps = np.array([0, 1, 1000, 200_000])
    np.testing.assert_array_equal(config.clock(steps), 70.0 * steps / 800**1.5)
    assert config.clock(1) == config.normalised_learning_rate
