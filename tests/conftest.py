import numpy as np
import pytest

from relunet_support.engine import _cuda
from relunet_support.jobs import batch
from relunet_support.network import data, init, scaling

# as `relunet notebooks` does: nbformat's jsonschema need not build the IRI grammars (seconds per process)
batch._skip_iri_format_checks()

NO_GPU = _cuda.unavailable_reason()  # None where backend='cuda' can run
GPU_MARKS = (pytest.mark.gpu, pytest.mark.skipif(NO_GPU is not None, reason=f"device test: {NO_GPU}"))


def needs_gpu(test):
    """Marks a test ``gpu`` and skips it where backend='cuda' cannot run."""
    for mark in GPU_MARKS:
        test = mark(test)
    return test


@pytest.fixture
def seed_data():
    return data.load("seed")


def network(m=800, kind="symmetric", seed=0, gamma=1.5, gamma_prime=0.0):
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    a, w, b = init.initial_parameters(m, beta1, beta2, kind, np.random.default_rng(seed))
    return alpha, a, w, b
