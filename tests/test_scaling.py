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
