import numpy as np
import pytest

from relunet_support import data, init, scaling


@pytest.fixture
def seed_data():
    return data.load("seed")


def network(m=800, kind="symmetric", seed=0, gamma=1.5, gamma_prime=0.0):
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    a, w, b = init.initial_parameters(m, beta1, beta2, kind, np.random.default_rng(seed))
    return alpha, a, w, b
