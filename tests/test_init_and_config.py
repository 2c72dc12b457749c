import dataclasses
import math

import numpy as np
import pytest

from relunet_support.errors import ConfigError
from relunet_support.network import data, model
from relunet_support.network.init import initial_parameters
from relunet_support.runs.config import TrainConfig, format_number
from relunet_support.runs.store import open_run
from relunet_support.runs.train import train

from .conftest import network


def test_mirror_init_gives_even_f_before_and_during_training(seed_data):
    x, y = seed_data
    alpha, a, w, b = network(m=200, kind="symmetric", seed=1)
    np.testing.assert_array_equal(a[:100], a[100:])
    np.testing.assert_array_equal(w[:100], -w[100:])
    grid = np.linspace(0.01, 0.5, 57)
    f = model.forward(a, w, b, grid, alpha)
    assert np.max(np.abs(f)) > 1e-4
    np.testing.assert_allclose(f, model.forward(a, w, b, -grid, alpha), rtol=1e-13, atol=1e-18)


def test_gaussian_init_is_not_even():
    alpha, a, w, b = network(m=200, kind="gaussian", seed=1)
    grid = np.linspace(0.1, 0.5, 5)
    assert not np.allclose(model.forward(a, w, b, grid, alpha), model.forward(a, w, b, -grid, alpha))


def test_antisymmetric_init_starts_from_zero_function():
    alpha, a, w, b = network(m=200, kind="antisymmetric", seed=1)
    grid = np.linspace(-0.5, 0.5, 101)
    scale = np.sum(np.abs(a) * (np.abs(w) + np.abs(b))) / alpha
    assert scale > 1e-3
    assert np.max(np.abs(model.forward(a, w, b, grid, alpha))) <= 1e-14 * scale


def test_determinism_and_explicit_generator():
    first = initial_parameters(100, 1.0, 1.0, "gaussian", 7)
    again = initial_parameters(100, 1.0, 1.0, "gaussian", np.random.default_rng(7))
    other = initial_parameters(100, 1.0, 1.0, "gaussian", 8)
    for u, v, z in zip(first, again, other):
        np.testing.assert_array_equal(u, v)
        assert not np.array_equal(u, z)


def test_datasets():
    x, y = data.load("seed")
    np.testing.assert_allclose(x, [-0.5, -1 / 6, 1 / 6, 0.5])
    np.testing.assert_allclose(y, [0.25, 1 / 30, 1 / 30, 0.25])
    x, y = data.load("luo2021")
    np.testing.assert_allclose(y, x**2)
    c = TrainConfig(10, 1.0, 5, dataset="custom", x=[0.0, 1.0], y=[1.0, 2.0])
    np.testing.assert_array_equal(c.training_data()[1], [1.0, 2.0])


def test_run_ids_keep_learning_rates_exact_and_unique():
    ids = {TrainConfig(800, lr, 10).run_id() for lr in (70, 70.5, 70.25, 1e-7, 70.0000001)}
    assert len(ids) == 5
    assert TrainConfig(800, 70.5, 10).run_id().startswith("lr70.5_m800_g1.5_gp0_seed0_symmetric_data-seed_")
    assert format_number(70.0000001) == "70.0000001" and format_number(4000.0) == "4000"
    assert TrainConfig(800, 70, 10).run_id() != TrainConfig(800, 70, 10, seed=1).run_id()
    assert TrainConfig(800, 70, 10).run_id() != TrainConfig(800, 70, 10, dataset="luo2021").run_id()


def test_config_round_trip_and_normalisation():
    c = TrainConfig(800.0, "70", 100, interval=[-1, 1])
    assert c.m == 800 and isinstance(c.m, int) and c.learning_rate == 70.0 and c.interval == (-1.0, 1.0)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.normalised_learning_rate == pytest.approx(70 / 800**1.5)


BAD = [
    (dict(m=0), "m", "positive integer"),
    (dict(m=-3), "m", "positive integer"),
    (dict(m=12.5), "m", "positive integer"),
    (dict(m=True), "m", "positive integer"),
    (dict(m=41), "m", "even"),
    (dict(m=41, init="antisymmetric"), "m", "even"),
    (dict(learning_rate=0), "learning_rate", "> 0"),
    (dict(learning_rate=-1.0), "learning_rate", "> 0"),
    (dict(learning_rate=math.nan), "learning_rate", "finite"),
    (dict(learning_rate=math.inf), "learning_rate", "finite"),
    (dict(n_steps=0), "n_steps", "≥ 1"),
    (dict(n_steps=2.5), "n_steps", "≥ 1"),
    (dict(gamma=math.nan), "gamma", "finite"),
    (dict(gamma_prime=-math.inf), "gamma_prime", "finite"),
    (dict(dataset="mnist"), "dataset", "'seed', 'luo2021', 'custom'"),
    (dict(init="xavier"), "init", "'gaussian', 'symmetric', 'antisymmetric'"),
    (dict(dataset="custom", x=[0.0, 1.0], y=[1.0]), "y", "same length as x"),
    (dict(dataset="custom", x=[0.0, math.nan], y=[1.0, 2.0]), "x", "finite"),
    (dict(dataset="custom"), "x", "given together with y"),
    (dict(seed=-1), "seed", "0 … 2**128 − 1"),
    (dict(n_records=1), "n_records", "≥ 2"),
    (dict(record_every=0), "record_every", "positive"),
    (dict(interval=(0.5, -0.5)), "interval", "lo < hi"),
    (dict(backend="gpu"), "backend", "'numba', 'numpy', 'cuda'"),
]


@pytest.mark.parametrize("change, name, allowed", BAD, ids=[f"{c}" for c, _, _ in BAD])
def test_bad_input_names_parameter_value_and_allowed(change, name, allowed):
    values = dict(m=40, learning_rate=100.0, n_steps=10) | change
    with pytest.raises(ValueError) as info:
        TrainConfig(**values)  # refused when built: no invalid config ever reaches train()
    message = str(info.value)
    assert message.startswith(f"{name}=")
    assert allowed in message


def test_not_a_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "empty", tmp_path / "missing", tmp_path):
        with pytest.raises(ValueError, match="is not a run folder"):
            open_run(path)


def test_run_id_names_the_rng_seed_and_the_data_set_apart():
    import re

    run_id = TrainConfig(800, 70, 10).run_id()
    assert re.fullmatch(r"lr70_m800_g1\.5_gp0_seed0_symmetric_data-seed_[0-9a-f]{10}", run_id), run_id
    assert run_id.endswith(TrainConfig(800, 70, 10).digest()[:10])
    other = TrainConfig(800, 70, 10, seed=3, init="gaussian", dataset="luo2021").run_id()
    assert re.fullmatch(r"lr70_m800_g1\.5_gp0_seed3_gaussian_data-luo2021_[0-9a-f]{10}", other), other
    custom = TrainConfig(10, 1e-07, 5, gamma_prime=-0.25, dataset="custom", x=[0.0, 1.0], y=[1.0, 2.0]).run_id()
    assert custom.startswith("lr1e-07_m10_g1.5_gp-0.25_seed0_symmetric_data-custom_")
    for name in (run_id, other, custom):  # a valid, portable folder name
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith((".", "-"))


def test_the_series_tag_is_the_one_tag_for_figures_and_executed_notebooks():
    from relunet_support.jobs.study import Batch
    from relunet_support.runs.series import WidthSeries

    assert WidthSeries(4000, (200, 400, 600, 800, 1000), 10).tag == "lr4000_m200-1000"
    assert WidthSeries(4000.0, (1000, 200, 600), 10).tag == "lr4000_m200-1000"  # sorted: the width range
    assert WidthSeries(2.0, (200, 1000), 10, normalised=True).tag == "nlr2_m200-1000"
    assert WidthSeries(70, (800,), 10).tag == "lr70_m800" and WidthSeries(70, (800,), 10).label == "η = 70"
    assert (
        WidthSeries(70.25, (40, 120), 1).tag == "lr70.25_m40-120" and WidthSeries(1e-07, (10,), 1).tag == "lr1e-07_m10"
    )
    assert WidthSeries(2.0, (200,), 1, normalised=True).label == "η/α = 2"
    assert Batch(4000, (200, 400, 600, 800, 1000), 10).tag == "lr4000_m200-1000"
    assert Batch(0.5, (200, 800), 10, normalised=True).tag == "nlr0.5_m200-800"
    with pytest.raises(ValueError, match="widths"):
        WidthSeries.of([], 10, learning_rate=70)


def test_slope_fit_says_when_it_has_no_interval():
    from relunet_support.analysis import escapes

    two = escapes.fit_line(np.log([200, 400]), [1.0, 1.5])
    assert not two.has_interval and two.n_points == 2
    assert two.describe() == "dŝ/d ln m = 0.721 (no interval: needs ≥ 3 runs, got 2)"
    assert "nan" not in two.describe()
    five = escapes.fit_line(np.log([200, 400, 600, 800, 1000]), [1.0, 1.52, 1.79, 2.01, 2.15])
    assert five.has_interval and five.slope_low < five.slope < five.slope_high
    text = five.describe()
    assert text.startswith(f"dŝ/d ln m = {five.slope:.3f} (95 % interval {five.slope_low:.3f} … ")
    assert text.endswith(f"{five.slope_high:.3f}, 5 runs)")
    assert (
        escapes.fit_line([1, 2, 3], [1, 2, 4], confidence=0.9)
        .describe("slope", "widths")
        .startswith("slope = 1.500 (90 % interval")
    )
    seeds = escapes.fit_line(np.log([200, 200, 400, 400]), [1.0, 1.1, 1.5, 1.7])  # 2 widths × 2 seeds
    assert seeds.has_interval and "4 runs" in seeds.describe()


def test_steps_per_second_excludes_jit_compilation(tmp_path, monkeypatch):
    """The kernels are warmed up before the run's clock starts: a first engine call that 'compiles' for
    1000 s of a fake clock does not enter wall_seconds or steps_per_second."""
    import types

    from relunet_support import engine
    from relunet_support.runs import train as train_module

    clock = {"now": 0.0, "calls": 0}
    real_advance = engine.advance

    def advance(*args, **kwargs):
        clock["calls"] += 1
        clock["now"] += 1000.0 if clock["calls"] == 1 else 0.001  # the first call JIT-compiles
        return real_advance(*args, **kwargs)

    monkeypatch.setattr(engine, "advance", advance)
    monkeypatch.setattr(train_module, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    config = TrainConfig(40, 100.0, 200, n_records=20, n_snapshots=5)
    run = train(config, tmp_path, progress=False)
    assert run.status == "complete" and clock["calls"] >= 2
    assert 0 < run.attrs["wall_seconds"] < 1.0
    assert run.attrs["steps_per_second"] == pytest.approx(200 / run.attrs["wall_seconds"])


def test_every_field_carries_its_schema():
    """Each TrainConfig field says its kind and help; a default is one of its choices, where it has some."""
    from relunet_support.jobs.options import FIELD_NAMES, OPTIONS, RUN_FIELDS

    assert set(FIELD_NAMES) == {f.name for f in dataclasses.fields(TrainConfig)}
    for option in (*RUN_FIELDS, *OPTIONS):
        assert option.kind in ("int", "float", "text", "numbers") and option.help, option
        assert not option.choices or option.default in option.choices, option


def test_unknown_options_are_named():
    from relunet_support.runs.series import WidthSeries

    with pytest.raises(ConfigError, match=r"options has unknown key\(s\) 'gama': allowed keys are gamma, "):
        WidthSeries.of([40], 10, learning_rate=1.0, gama=2).configs()


def test_exponents_whose_scales_leave_float64_are_refused_when_built():
    with pytest.raises(ConfigError, match=r"^gamma=1000.0 is not allowed: .*at m=10.*α = m\^\(γ−γ′\) overflows"):
        TrainConfig(10, 1.0, 100, gamma=1000)
    with pytest.raises(ConfigError, match=r"^gamma_prime=500.0 is not allowed: .*at m=10"):
        TrainConfig.from_normalised(10, 1.0, 100, gamma_prime=500)
    with pytest.raises(ConfigError, match=r"^normalised_learning_rate=1e\+308 is not allowed: .*finite"):
        TrainConfig.from_normalised(10, 1e308, 100)  # η = 1e308·α overflows


def test_a_training_too_large_for_memory_is_refused_before_any_schedule_is_built(monkeypatch, tmp_path):
    """train() refuses, before a schedule or a file exists; the config itself is machine-independent (a
    stored run opens anywhere)."""
    from relunet_support.runs import resources, schedule

    def no_schedule(*args):
        raise AssertionError("the schedule was built")

    huge = TrainConfig(m=1e12, learning_rate=1.0, n_steps=100)  # a valid config: training it is what cannot be
    monkeypatch.setattr(schedule, "steps_schedule", no_schedule)
    memory = resources.physical_memory()
    with pytest.raises(ConfigError, match=r"^m=1000000000000 is not allowed: .*memory: it needs about 89,407.0 GiB"):
        train(huge, tmp_path)
    with pytest.raises(ConfigError, match=r"^n_records=1000000000000 is not allowed: .*GiB, mostly for the records"):
        train(TrainConfig(m=10, learning_rate=1.0, n_steps=10**12, n_records=10**12), tmp_path)
    with pytest.raises(ConfigError, match=r"^record_every=1 is not allowed: .*memory"):
        train(TrainConfig(m=10, learning_rate=1.0, n_steps=10**12, record_every=1), tmp_path)
    monkeypatch.setattr(resources, "physical_memory", lambda: 1 << 20)  # 1 MiB: 10⁶ record steps need 61 MiB
    with pytest.raises(ConfigError, match=r"^n_snapshots=1000000 is not allowed: .*the machine has 0.0 GiB"):
        train(TrainConfig(m=10, learning_rate=1.0, n_steps=10**6, n_snapshots=10**6), tmp_path)
    assert memory is not None and not any(tmp_path.iterdir())


def test_integers_stay_exact():
    """Seeds (and every integer field) are never rounded through a float: 2**53 + 1 is not 2**53."""
    big = 2**53 + 1
    assert TrainConfig(40, 1.0, 10, seed=big).seed == big and TrainConfig(40, 1.0, 10, seed=str(big)).seed == big
    assert TrainConfig(40, 1.0, 10, seed=big).run_id() != TrainConfig(40, 1.0, 10, seed=big - 1).run_id()
    assert TrainConfig(40, 1.0, 10, seed=np.uint64(2**64 - 1)).seed == 2**64 - 1
    assert TrainConfig(40, 1.0, 10, seed=2**128 - 1).initial_parameters()[0].size == 40  # default_rng takes it
    with pytest.raises(ConfigError, match=r"seed=340282366920938463463374607431768211456 .* 0 … 2\*\*128 − 1"):
        TrainConfig(40, 1.0, 10, seed=2**128)  # longer seeds would make run ids too long for a file name
    config = TrainConfig(40.0, 1.0, "1e2", n_records="1e3", n_snapshots=np.int32(50), record_every=7.0)
    assert (config.m, config.n_steps, config.n_records, config.n_snapshots, config.record_every) == (
        40,
        100,
        1000,
        50,
        7,
    )
    assert all(type(v) is int for v in (config.m, config.n_steps, config.n_records, config.n_snapshots))
    for seed in (1e20, "1e20", np.float64(2**60)):
        with pytest.raises(ConfigError, match=r"^seed=.* is not allowed: .*given as an integer \(digits\)"):
            TrainConfig(40, 1.0, 10, seed=seed)
    bad = [
        ("seed", np.random.RandomState(0)),
        ("seed", np.random.default_rng(0)),
        ("seed", "abc"),
        ("seed", 1.5),
        ("seed", np.True_),
        ("n_steps", "1.00000000000000001"),  # a float would round it to 1
        ("n_steps", 2**53 + 1),
        ("n_records", 2.5),
    ]
    for name, value in bad:
        with pytest.raises(ConfigError, match=f"^{name}=.* is not allowed: {name} must be "):
            TrainConfig(**{"m": 40, "learning_rate": 1.0, "n_steps": 10, name: value})


def test_command_line_integers_are_read_exactly():
    from relunet_support.jobs.options import RUN_FIELDS

    steps = RUN_FIELDS[2]
    assert steps.parse("9007199254740993") == 9007199254740993 and steps.parse("1e2") == 100.0
    assert steps.parse("100.00000000000000001") == "100.00000000000000001"  # TrainConfig refuses the text


@pytest.mark.parametrize(
    "widths, message",
    [
        ("abc", "widths='abc' is not allowed: widths must be a non-empty list of integers"),  # papermill: widths="abc"
        (40, "widths=40 is not allowed"),
        ([40, 80, 40.0], "widths=[40, 80, 40.0] is not allowed: widths must be a list of different widths (40 is"),
    ],
)
def test_sweep_configs_names_bad_widths(widths, message):
    from relunet_support.runs.series import WidthSeries

    with pytest.raises(ConfigError) as info:
        WidthSeries.of(widths, 10, learning_rate=1.0).configs()  # what notebooks 02 and 04 call with their parameters
    assert str(info.value).startswith(message)


def test_a_key_given_twice_in_a_yaml_file_is_an_error(tmp_path):
    from relunet_support.jobs.yaml_file import read_yaml

    path = tmp_path / "f.yaml"
    path.write_text("base: &b {seed: 1}\nmerged:\n  <<: *b\n  seed: 2\n")  # a merge key may be overridden
    assert read_yaml(path, "study file")["merged"] == {"seed": 2}
    path.write_text("defaults: {seed: 1}\nbatches: []\ndefaults:\n  seed: 2\n")
    with pytest.raises(ConfigError) as info:
        read_yaml(path, "study file")
    assert str(info.value) == (
        f"study file {str(path)!r}: 'defaults' is given twice in one mapping (line 1: {{seed: 1}}; "
        "line 4: seed: 2): YAML allows each key once"
    )
