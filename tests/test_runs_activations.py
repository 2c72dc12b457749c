"""TrainConfig's activation, beta2 and data of any dimension, through training, storage and reopening."""

import json

import numpy as np
import pytest

from relunet_support import TrainConfig, list_runs, open_run, train
from relunet_support.errors import ConfigError
from relunet_support.network import model, scaling
from relunet_support.runs import store
from relunet_support.runs.config import _DEFAULTS, ADDED_FIELDS, config_digest

from .test_train import assert_same_run, interrupt_training


def wide_config(tmp_path, rate: float = 0.3, **changes) -> TrainConfig:
    """tanh on 20 points in 5 dimensions, read from a .csv file, β₂ = 0.5."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 5))
    y = np.tanh(x[:, 0] - x[:, 1])
    path = tmp_path / "points.csv"
    lines = ["x1,x2,x3,x4,x5,y"] + [",".join(repr(float(v)) for v in (*row, t)) for row, t in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    options = dict(gamma=0.5, init="gaussian", dataset=str(path), activation="tanh", beta2=0.5,
                   n_snapshots=20, n_records=100)  # fmt: skip
    options.update(changes)
    return TrainConfig.from_normalised(m=40, normalised_learning_rate=rate, n_steps=3000, **options)


# Run ids of stores on disk (the default study's and others'): a field added to TrainConfig must leave each as it is
# (``ADDED_FIELDS``: left out of the digest while it holds its default), or every existing run becomes unreadable.
STORED_RUN_IDS = {
    (800, 70, 200_000, ()): "lr70_m800_g1.5_gp0_seed0_symmetric_data-seed_ef98bc8f14",
    (200, 4000, 200_000, ()): "lr4000_m200_g1.5_gp0_seed0_symmetric_data-seed_9a4bf4abec",
    (40, 4000, 2200, (("init", "gaussian"), ("seed", 3))): "lr4000_m40_g1.5_gp0_seed3_gaussian_data-seed_ca8fbc857f",
    (30, 20.0, 3000, (("activation", "tanh"), ("beta2", 0.5), ("dataset", "luo2021"))): (
        "lr20_m30_g1.5_gp0_seed0_symmetric_data-luo2021_tanh_b0.5_79d1d60fa8"
    ),
}


@pytest.mark.parametrize("fields, run_id", STORED_RUN_IDS.items())
def test_a_stored_run_keeps_its_id(fields, run_id):
    m, learning_rate, n_steps, options = fields
    assert TrainConfig(m=m, learning_rate=learning_rate, n_steps=n_steps, **dict(options)).run_id() == run_id


def test_the_defaults_of_the_added_fields_leave_every_run_id_and_bit_as_it_was():
    plain = TrainConfig(m=10, learning_rate=1, n_steps=10)
    explicit = TrainConfig(m=10, learning_rate=1, n_steps=10, **{name: _DEFAULTS[name] for name in ADDED_FIELDS})
    assert explicit.run_id() == plain.run_id()
    values = plain.to_dict()
    for name in ADDED_FIELDS:  # a config stored before the field existed
        del values[name]
    assert config_digest(values) == plain.digest()
    assert scaling.alpha_beta(800, 1.5, 0.3, 1.0) == scaling.alpha_beta(800, 1.5, 0.3)
    for u, v in zip(explicit.initial_parameters(), plain.initial_parameters()):
        np.testing.assert_array_equal(u, v)


def test_beta2_scales_the_initialisation_and_leaves_the_kappas():
    m, gamma, gamma_prime, s = 400, 1.5, 0.2, 0.05
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    scaled = scaling.alpha_beta(m, gamma, gamma_prime, s)
    np.testing.assert_allclose(scaled, (alpha * s * s, beta1 * s, beta2 * s), rtol=1e-15)
    assert scaled[0] * scaled[1] / scaled[2] ** 2 != 0
    np.testing.assert_allclose(scaled[1] * scaled[2] / scaled[0], m**-gamma, rtol=1e-12)  # κ
    np.testing.assert_allclose(scaled[1] / scaled[2], m**-gamma_prime, rtol=1e-12)  # κ′
    small = TrainConfig(m=m, learning_rate=1, n_steps=1, gamma=gamma, gamma_prime=gamma_prime, beta2=s)
    unit = TrainConfig(m=m, learning_rate=1, n_steps=1, gamma=gamma, gamma_prime=gamma_prime)
    for u, v in zip(small.initial_parameters(), unit.initial_parameters()):
        np.testing.assert_allclose(u, s * v, rtol=1e-14)
    assert "_b0.05_" in small.run_id() and small.run_id() != unit.run_id()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"activation": "softplus"}, "activation='softplus' is not allowed: activation must be one of 'relu'"),
        ({"beta2": 0}, "beta2=0 is not allowed: beta2 must be a finite number > 0"),
        ({"beta2": float("nan")}, "beta2=nan is not allowed"),
        ({"beta2": "big"}, "beta2='big' is not allowed"),
        ({"beta2": 1e-200}, "beta2=1e-200 is not allowed: beta2 must be such that α"),
        ({"dataset": "custom", "x": [[1, 2], [3]], "y": [0, 1]}, "x=.* rows of d ≥ 1 numbers"),
    ],
)
def test_bad_values_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(m=10, learning_rate=1, n_steps=10, **changes)


def test_a_tanh_network_on_five_dimensional_file_data_trains_stores_and_reopens(tmp_path, monkeypatch):
    config = wide_config(tmp_path)
    assert config.dimension == 5 and not config.records_extremes
    assert "_data-file-points_tanh_b0.5_" in config.run_id() and config.dataset == "file:points.csv"
    # the same file named by another path is the same run
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert wide_config(tmp_path / "sub" / "..").run_id() == config.run_id()
    with pytest.raises(ConfigError, match="not a file and x, y both"):
        TrainConfig(m=4, learning_rate=1, n_steps=1, dataset="../points.csv", x=[1.0, 2.0], y=[1.0, 2.0])
    with pytest.raises(ConfigError, match="given with x and y"):
        TrainConfig(m=4, learning_rate=1, n_steps=1, dataset="file:points.csv")
    (tmp_path / "points.csv").unlink()  # the config holds the numbers: the file is no longer needed
    run = train(config, tmp_path / "runs", progress=False)
    assert run.status == "complete"
    x, y = config.training_data()
    assert x.shape == (20, 5)
    risk = run.records["risk"]
    assert risk[-1] < 1e-3 * risk[0]
    assert np.isnan(run.records["f_min"]).all() and np.isnan(run.records["f_max"]).all()
    a, w, b = run.snapshot(run.n_snapshots - 1)
    assert w.shape == (40, 5)
    assert risk[-1] == pytest.approx(model.risk(a, w, b, x, y, config.alpha, "tanh"), rel=1e-12)
    a0, w0, b0 = run.snapshot(0)
    for u, v in zip((a0, w0, b0), config.initial_parameters()):
        np.testing.assert_array_equal(u, v)
    assert run.records["rd_w"][-1] == pytest.approx(model.relative_distance((w, b), (w0, b0)), rel=1e-12)
    assert open_run(run.path).config == config
    stored = json.loads((run.path / "zarr.json").read_text())["attributes"]["config"]
    assert stored["activation"] == "tanh" and len(stored["x"][0]) == 5
    (listed,) = list_runs(tmp_path / "runs")
    assert listed.path == run.path
    inspection = store.inspect_run(run.path)  # every chunk read back against its checksum
    assert inspection.ok, inspection


def test_an_interrupted_wide_run_resumes_to_the_same_bits(tmp_path, monkeypatch):
    config = wide_config(tmp_path, activation="leaky_relu", n_snapshots=40)
    reference = train(config, tmp_path / "reference", progress=False)
    interrupt_training(config, tmp_path / "resumed", monkeypatch, at_call=11)
    resumed = train(config, tmp_path / "resumed", progress=False)
    assert_same_run(resumed, reference)


def test_beta2_changes_only_units_for_relu_but_the_dynamics_for_tanh(tmp_path):
    """θ → β₂θ, α → β₂²α leaves a ReLU network's f unchanged, and GD at the same η/α follows the same risk and
    relative distances; a tanh network is not homogeneous, so its risk curve moves."""
    curves = {}
    for activation in ("relu", "tanh"):
        for beta2 in (1.0, 0.01):
            config = wide_config(tmp_path, rate=0.05, activation=activation, beta2=beta2, n_snapshots=10)
            run = train(config, tmp_path / "runs", progress=False)
            assert run.status == "complete"
            curves[activation, beta2] = (run.records["risk"], run.records["rd_w"])
    for left, right in zip(curves["relu", 1.0], curves["relu", 0.01]):
        np.testing.assert_allclose(left, right, rtol=1e-9)
    assert not np.allclose(curves["tanh", 1.0][0], curves["tanh", 0.01][0], rtol=1e-3)
