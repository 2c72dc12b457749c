"""One object for the dynamics: every TrainConfig field either changes the numbers training computes or is
declared bookkeeping (``config.BOOKKEEPING_FIELDS``), and ``TrainConfig.dynamics()`` is what the engine takes."""

import dataclasses

import numpy as np
import pytest

from relunet_support.engine import KERNEL_SCALARS, Dynamics, advance
from relunet_support.errors import ConfigError
from relunet_support.network import data
from relunet_support.runs.config import BOOKKEEPING_FIELDS, TrainConfig
from relunet_support.runs.train import train

SEED_X, SEED_Y = (tuple(v.tolist()) for v in data.load("seed"))
BASE = dict(
    m=20, learning_rate=40.0, n_steps=300, n_records=20, n_snapshots=5, init="gaussian", dataset="custom",
    x=SEED_X, y=SEED_Y,
)  # fmt: skip
# For each field, a change of it (and of what must change with it): a new field without an entry fails below.
CHANGES = {
    "m": {"m": 24},
    "learning_rate": {"learning_rate": 60.0},
    "n_steps": {"n_steps": 301},
    "gamma": {"gamma": 1.4},
    "gamma_prime": {"gamma_prime": 0.1},
    "init": {"init": "symmetric"},
    "seed": {"seed": 1},
    "dataset": {"dataset": "luo2021", "x": None, "y": None},
    "x": {"x": (-0.5, -0.2, 0.2, 0.5)},
    "y": {"y": (0.25, 0.05, 0.05, 0.25)},
    "n_records": {"n_records": 31},
    "n_snapshots": {"n_snapshots": 7},
    "record_every": {"record_every": 7},
    "snapshot_every": {"snapshot_every": 100},
    "interval": {"interval": (-1.0, 2.0)},
    "backend": {"backend": "numpy"},
    "activation": {"activation": "tanh"},
    "beta2": {"beta2": 0.5},
}


def _trained(tmp_path, **changes) -> np.ndarray:
    """The final parameters of BASE with ``changes``, trained through train() (a, w, b concatenated)."""
    run = train(TrainConfig(**{**BASE, **changes}), tmp_path, progress=False)
    assert run.status == "complete"
    return np.concatenate([np.ravel(v) for v in run.checkpoint_state()])


def test_every_field_has_a_change_and_a_side():
    names = [field.name for field in dataclasses.fields(TrainConfig)]
    assert sorted(CHANGES) == sorted(names), "a new TrainConfig field needs a change here"
    assert set(BOOKKEEPING_FIELDS) <= set(names)


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_field_changes_the_trained_numbers_unless_it_is_bookkeeping(tmp_path, name):
    """Trained through train(), a changed field moves the final parameters — or, declared bookkeeping, leaves
    them bit for bit (the numpy backend, and the snapshot schedule at which the fused loop restarts: to 1e-12).
    A field that changes the dynamics but never reaches the step fails here (the flow check once re-ran every
    run as a ReLU network), and so does one the compiled kernels take differently from the numpy reference (a
    weight decay that the kernels' skip of inactive neurons left out)."""
    reference = _trained(tmp_path / "base")
    changed = _trained(tmp_path / "changed", **CHANGES[name])
    if name in ("backend", "n_snapshots", "snapshot_every"):  # another order of the same sums
        np.testing.assert_allclose(changed, reference, rtol=1e-12, atol=1e-15)
    elif name in BOOKKEEPING_FIELDS:
        np.testing.assert_array_equal(changed, reference)
    else:
        assert changed.shape != reference.shape or not np.allclose(changed, reference, rtol=1e-6, atol=0), name
        by_numpy = _trained(tmp_path / "numpy", **CHANGES[name], backend="numpy")
        np.testing.assert_allclose(changed, by_numpy, rtol=1e-10, atol=1e-14 * np.max(np.abs(by_numpy)))


def test_the_config_s_dynamics_is_what_training_steps():
    """train()'s final state is engine.advance of TrainConfig.dynamics() from the initial parameters."""
    config = TrainConfig(**{**BASE, "activation": "xtanh", "n_snapshots": 2})
    dynamics = config.dynamics()
    assert (dynamics.alpha, dynamics.learning_rate, dynamics.activation) == (
        config.alpha, config.learning_rate, "xtanh"
    )  # fmt: skip
    assert KERNEL_SCALARS[:2] == ("alpha", "learning_rate")  # the kernels' first two scalar arguments
    assert dynamics.kernel_scalars == tuple(getattr(dynamics, name) for name in KERNEL_SCALARS)
    state = [v.copy() for v in config.initial_parameters()]
    advance(*state, dynamics, n_steps=config.n_steps, record_offsets=[config.n_steps])
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        run = train(config, folder, progress=False)
        for trained, stepped in zip(run.checkpoint_state(), state):
            np.testing.assert_array_equal(trained, stepped)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"alpha": 0.0}, "alpha=0.0 is not allowed: alpha must be a finite number > 0"),
        ({"learning_rate": float("inf")}, "learning_rate=inf is not allowed"),
        ({"learning_rate": True}, "learning_rate=True is not allowed"),
        ({"activation": "softplus"}, "activation='softplus'"),
        ({"backend": "gpu"}, "backend='gpu'"),
        ({"y": (1.0, 2.0)}, r"y=\(2,\) is not allowed"),
        ({"x": ((0.0, float("nan")),) * 4}, "x='array with nan at flat index 1'"),
    ],
)
def test_bad_dynamics_are_named(changes, message):
    values = {**dict(x=SEED_X, y=SEED_Y, alpha=8.0, learning_rate=1.0), **changes}
    with pytest.raises(ConfigError, match=message):
        Dynamics(**values)


def test_advance_refuses_what_is_not_a_dynamics():
    a = np.ones(4)
    with pytest.raises(ConfigError, match="dynamics='dict' is not allowed"):
        advance(a, a.copy(), a.copy(), {"alpha": 1.0}, n_steps=1, record_offsets=[1])
