"""First escapes of seed ensembles (``seed_escapes``): the same numbers as full training runs, the reasons
a seed has none, and a cache that never hands back a damaged or foreign result."""

import dataclasses
import json
import math

import numpy as np
import pytest

from relunet_support.analysis import escapes, seed_escapes
from relunet_support.errors import ConfigError
from relunet_support.runs.config import TrainConfig
from relunet_support.runs.train import train

SEEDS = (0, 3, 5)


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """The same networks trained one by one by ``train``, recording the risk at every step."""
    out = tmp_path_factory.mktemp("runs")
    config = TrainConfig(m=100, learning_rate=200.0, n_steps=600, record_every=1, n_snapshots=2)
    return config, [train(dataclasses.replace(config, seed=seed), out, progress=False) for seed in SEEDS]


def test_each_seed_escapes_where_its_own_training_run_does(full_runs):
    """With one step per point of the curve the ensemble and ``train`` see the same risks: ŝ₁ agrees to
    rounding; at the default resolution (a few steps per point) to the interpolation's error."""
    config, runs = full_runs
    expected = np.array([escapes.first_escape_of(run) for run in runs])
    assert np.all(np.isfinite(expected)) and np.ptp(expected) > 0.1  # seeds differ: a mix-up would show
    every_step = seed_escapes.seed_escapes(config, SEEDS, resolution=config.learning_rate / config.alpha)
    assert every_step.first_escapes == pytest.approx(expected, rel=1e-9)
    assert every_step.reasons == ("", "", "")
    default = seed_escapes.seed_escapes(config, SEEDS)
    assert default.first_escapes == pytest.approx(expected, abs=0.01)


def test_a_seed_that_never_escapes_says_why():
    dead = TrainConfig(m=40, learning_rate=4000.0, n_steps=2000)  # η/α = 16: every neuron dies (test_report)
    result = seed_escapes.seed_escapes(dead, (0,))
    assert math.isnan(result.first_escapes[0]) and result.reasons == ("stuck",)
    short = seed_escapes.seed_escapes(TrainConfig(m=200, learning_rate=100.0, n_steps=5), (0, 1))
    assert np.isnan(short.first_escapes).all() and short.reasons == ("not within n_steps",) * 2
    wild = TrainConfig(  # the run test_train diverges
        m=20, learning_rate=1e3, n_steps=100, init="gaussian", dataset="custom", x=(-1e153, 1e153), y=(1.0, 1.0)
    )
    assert seed_escapes.seed_escapes(wild, (0,)).reasons == ("diverged",)


def test_a_cache_that_cannot_be_kept_costs_a_measurement_not_the_result(tmp_path):
    """A folder where the cache file should be, or a file where its folder should be: the result, and a warning."""
    config = TrainConfig(m=60, learning_rate=100.0, n_steps=2000)
    expected = seed_escapes.seed_escapes(config, (0,)).first_escapes
    seed_escapes.cached_seed_escapes(config, (0,), tmp_path / "escapes")
    (path,) = (tmp_path / "escapes").glob("m60_*.json")
    path.unlink()
    path.mkdir()
    with pytest.warns(RuntimeWarning) as caught:
        redone = seed_escapes.cached_seed_escapes(config, (0,), tmp_path / "escapes")
    assert np.array_equal(redone.first_escapes, expected)
    said = [str(warning.message) for warning in caught]
    assert any("damaged or altered" in text for text in said) and any("could not keep" in text for text in said)
    (tmp_path / "file").write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="could not keep the escape cache"):
        assert np.array_equal(seed_escapes.cached_seed_escapes(config, (0,), tmp_path / "file").first_escapes, expected)


@pytest.mark.parametrize("resolution", [0, -1, 1.5, 1e300, 10**400, float("nan"), True, "0.1"])
def test_a_resolution_that_would_misplace_the_escape_is_refused(resolution):
    with pytest.raises(ConfigError, match="resolution=.* is not allowed: resolution must be a spacing"):
        seed_escapes.seed_escapes(TrainConfig(m=20, learning_rate=10.0, n_steps=10), (0,), resolution=resolution)


@pytest.mark.parametrize("seeds", [(), (1, 1), (-1,), (1.5,), (True,), "ab", 3])
def test_bad_seeds_are_named(seeds):
    with pytest.raises(ConfigError, match="escape_seeds"):
        seed_escapes.seed_escapes(TrainConfig(m=20, learning_rate=10.0, n_steps=10), seeds)


def test_the_cache_reads_back_and_never_trusts_a_damaged_file(tmp_path, monkeypatch):
    config = TrainConfig(m=60, learning_rate=100.0, n_steps=2000)
    first = seed_escapes.cached_seed_escapes(config, (0, 1), tmp_path)
    (path,) = tmp_path.glob("m60_*.json")
    stored = json.loads(path.read_text())
    assert stored["key"]["seeds"] == [0, 1] and "seed" not in stored["key"]["config"]
    assert stored["versions"]["numpy"] == np.__version__ and stored["key"]["engine_revision"]
    calls = []
    measure = seed_escapes.seed_escapes
    monkeypatch.setattr(seed_escapes, "seed_escapes", lambda *a, **k: calls.append(1) or measure(*a, **k))
    again = seed_escapes.cached_seed_escapes(config, (0, 1), tmp_path)
    assert calls == [] and np.array_equal(again.first_escapes, first.first_escapes)  # read back, not trained
    for damage in (
        lambda text: text.replace(str(stored["first_escapes"][0])[:6], "9.9999"),  # an edited number
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: "[1, 2]",  # not ours
    ):
        path.write_text(damage(json.dumps(stored)))
        with pytest.warns(RuntimeWarning, match="damaged or altered: measured again"):
            redone = seed_escapes.cached_seed_escapes(config, (0, 1), tmp_path)
        assert np.array_equal(redone.first_escapes, first.first_escapes)
    assert len(calls) == 3 and json.loads(path.read_text())["checksum"] == stored["checksum"]
    other = seed_escapes.cached_seed_escapes(dataclasses.replace(config, learning_rate=50.0), (0, 1), tmp_path)
    assert len(calls) == 4 and len(list(tmp_path.glob("m60_*.json"))) == 2  # another η: its own file
    assert other.first_escapes == pytest.approx(first.first_escapes, abs=0.05)  # the same networks, on s
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
