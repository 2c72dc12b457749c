import numpy as np
import pytest

from relunet_support.engine import Dynamics, advance, descend, is_mirrored
from relunet_support.errors import ConfigError
from relunet_support.network import model

from .conftest import GPU_MARKS, network


def test_numba_matches_numpy_reference_after_2000_steps(seed_data):
    x, y = seed_data
    alpha, a, w, b = network(m=800)
    fast = descend(a, w, b, Dynamics(x, y, alpha, 70.0, backend="numba"), 2000)
    reference = descend(a, w, b, Dynamics(x, y, alpha, 70.0, backend="numpy"), 2000)
    for name, u, v in zip("awb", fast, reference):
        relative = np.max(np.abs(u - v)) / np.max(np.abs(v))
        assert relative <= 1e-12, (name, relative)
    # and training actually moved the parameters
    assert np.max(np.abs(fast[0] - a)) > 1e-6


def test_one_step_is_gradient_descent(seed_data):
    x, y = seed_data
    alpha, a, w, b = network(m=64, kind="gaussian", seed=5)
    eta = 0.7 * alpha
    expected = [p - eta * g for p, g in zip((a, w, b), model.gradients(a, w, b, x, y, alpha))]
    for backend in ("numba", "numpy"):
        for u, v in zip(descend(a, w, b, Dynamics(x, y, alpha, eta, backend=backend), 1), expected):
            np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-16)


def test_inputs_are_never_mutated(seed_data):
    alpha, a, w, b = network(m=32)
    before = [p.copy() for p in (a, w, b)]
    out = descend(a, w, b, Dynamics(*seed_data, alpha, 100.0), 50)
    for p, q in zip((a, w, b), before):
        np.testing.assert_array_equal(p, q)
    assert not np.shares_memory(out[0], a)


def test_ensemble_axis(seed_data):
    x, y = seed_data
    rng = np.random.default_rng(2)
    a, w, b = rng.normal(size=(3, 3, 40))
    together = descend(a, w, b, Dynamics(x, y, 40**1.5, 50.0), 100)
    for s in range(3):
        alone = descend(a[s], w[s], b[s], Dynamics(x, y, 40**1.5, 50.0), 100)
        for u, v in zip(together, alone):
            np.testing.assert_array_equal(u[s], v)


def test_mirrored_seed_ensemble_in_parallel_equals_single_runs(seed_data):
    x, y = seed_data
    members = [network(m=200, kind="symmetric", seed=s)[1:] for s in range(5)]
    alpha = network(m=200)[0]
    a, w, b = (np.stack(v) for v in zip(*members))
    together = descend(a, w, b, Dynamics(x, y, alpha, 2000.0), 500)
    for s, member in enumerate(members):
        for u, v in zip(together, descend(*member, Dynamics(x, y, alpha, 2000.0), 500)):
            np.testing.assert_array_equal(u[s], v)


def test_any_number_of_data_points():
    rng = np.random.default_rng(9)
    x = np.linspace(-1, 1, 7)
    y = np.sin(3 * x)
    a, w, b = rng.normal(size=(3, 50))
    fast = descend(a, w, b, Dynamics(x, y, 10.0, 1.0), 300)
    reference = descend(a, w, b, Dynamics(x, y, 10.0, 1.0, backend="numpy"), 300)
    for u, v in zip(fast, reference):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=GPU_MARKS)])
@pytest.mark.parametrize("kind", ["symmetric", "gaussian"])
def test_advance_records_match_reference(seed_data, kind, backend):
    from relunet_support.analysis import diagnostics

    x, y = seed_data
    alpha, a, w, b = network(m=200, kind=kind)
    offsets = np.array([1, 7, 50, 200])
    results = {}
    for name in (backend, "numpy"):
        state = [p.copy() for p in (a, w, b)]
        advanced = advance(
            *state, Dynamics(x, y, alpha, 3000.0, backend=name), n_steps=200, record_offsets=offsets, initial=(a, w, b)
        )
        records = advanced.records
        assert advanced.steps == 200 and advanced.status == 0
        results[name] = records
        # the last record describes the final state
        assert records["rd_w"][-1] == pytest.approx(diagnostics.relative_distance(state[1:], (w, b)), rel=1e-12)
        assert records["rd_a"][-1] == pytest.approx(diagnostics.relative_distance(state[0], a), rel=1e-12)
        assert records["rd_w"][-1] > 1e-4
    for name in results["numpy"]:
        np.testing.assert_allclose(results[backend][name], results["numpy"][name], rtol=1e-11, err_msg=name)


# The 1-D ReLU kernels leave out the neurons inactive on every data point (their gradient is exactly 0, so GD
# leaves them as they are): at the start of each advance, and every _SEGMENT steps of descend.


def _with_neurons_inactive_on_the_data(m: int, seed: int):
    """A Gaussian network whose first m/4 neurons are inactive on every point of [−1/2, 1/2] but active on
    parts of [−2, 2] (kinks at ±1 … ±1.9, rising away from the data), with large amplitudes."""
    rng = np.random.default_rng(seed)
    a, w, b = rng.normal(size=(3, m))
    quarter = m // 4
    kinks = rng.uniform(1.0, 1.9, quarter) * rng.choice([-1.0, 1.0], quarter)
    w[:quarter] = np.sign(kinks) * rng.uniform(0.5, 2.0, quarter)
    b[:quarter] = -w[:quarter] * kinks
    a[:quarter] = 5.0 * rng.normal(size=quarter)
    assert not np.any(np.outer(w[:quarter], [-0.5, 0.5]) + b[:quarter, None] > 0)
    return a, w, b, quarter


@pytest.mark.parametrize("mirrored", [False, True])
def test_inactive_neurons_stay_put_and_still_count_in_the_records(seed_data, mirrored):
    """They keep their exact values, and the records are of the whole network: the extremes of f over an interval
    wider than the data, where they are active, and the relative distances, whose denominators hold them. Mirrored:
    the kernel simulates the first half (engine.is_mirrored)."""
    x, y = seed_data
    a, w, b, quarter = _with_neurons_inactive_on_the_data(200, 3)
    if mirrored:
        a, w, b = (
            np.concatenate((a[:100], a[:100])),
            np.concatenate((w[:100], -w[:100])),
            np.concatenate((b[:100], b[:100])),
        )
        assert is_mirrored(a, w, b, x, y)
    offsets = np.array([1, 40, 300])
    results, finals = {}, {}
    for backend in ("numba", "numpy"):
        state = [p.copy() for p in (a, w, b)]
        advanced = advance(
            *state,
            Dynamics(x, y, 30.0, 10.0, interval=(-2.0, 2.0), backend=backend),
            n_steps=300,
            record_offsets=offsets,
            initial=(a, w, b),
        )
        assert advanced.steps == 300 and advanced.status == 0
        results[backend], finals[backend] = advanced.records, state
    for name in results["numpy"]:
        np.testing.assert_allclose(results["numba"][name], results["numpy"][name], rtol=1e-11, err_msg=name)
    inactive = np.zeros(200, dtype=bool)
    inactive[:quarter] = True
    if mirrored:
        inactive[100 : 100 + quarter] = True
    for moved, start in zip(finals["numba"], (a, w, b)):
        np.testing.assert_array_equal(moved[inactive], start[inactive])
        assert np.max(np.abs(moved[~inactive] - start[~inactive])) > 1e-3
    # the inactive neurons decide f's extremes over [−2, 2]: without them they would be others
    without = _extremes_over_minus_two_to_two(*(p[~inactive] for p in finals["numba"]), 30.0)
    assert abs(without[1] - results["numba"]["f_max"][-1]) > 0.1


def _extremes_over_minus_two_to_two(a, w, b, alpha):
    from relunet_support.network import exact

    return exact.extremes(a, w, b, 1.0 / alpha, -2.0, 2.0, "relu")


def test_neurons_that_die_on_the_way_are_left_out_from_the_next_segment_on(seed_data):
    """descend over more than one segment (16384 steps) of a network whose neurons die along the way: the
    reference's result to 1e-12, and the dead neurons' last values kept exactly."""
    x, y = seed_data
    alpha, a, w, b = network(m=40, kind="gaussian", seed=11)
    fast = descend(a, w, b, Dynamics(x, y, alpha, 2.0 * alpha), 20_000)
    reference = descend(a, w, b, Dynamics(x, y, alpha, 2.0 * alpha, backend="numpy"), 20_000)
    for u, v in zip(fast, reference):
        assert np.max(np.abs(u - v)) <= 1e-12 * np.max(np.abs(v))
    died = ~np.any(np.outer(fast[1], x) + fast[2][:, None] > 0, axis=1) & np.any(
        np.outer(w, x) + b[:, None] > 0, axis=1
    )
    assert died.sum() >= 1  # some neurons were active at the start and are not at the end


def test_a_non_finite_parameter_of_an_inactive_neuron_is_still_seen(seed_data):
    x, y = seed_data
    a, w, b, quarter = _with_neurons_inactive_on_the_data(40, 4)
    a[0] = np.inf
    with np.errstate(all="ignore"):
        advanced = advance(a, w, b, Dynamics(x, y, 30.0, 60.0), n_steps=10, record_offsets=np.array([5]))
    assert advanced.status == 1 and advanced.steps == 1  # diverged at the first step, as before


def test_bad_backend(seed_data):
    alpha, a, w, b = network(m=8)
    with pytest.raises(ConfigError, match="backend='gpu'.*'numba', 'numpy', 'cuda'"):
        Dynamics(*seed_data, alpha, 1.0, backend="gpu")


def test_mirror_detection_and_half_simulation(seed_data):
    from relunet_support.engine import is_mirrored

    x, y = seed_data
    alpha, a, w, b = network(m=200, kind="symmetric", seed=3)
    assert is_mirrored(a, w, b, x, y)
    assert not is_mirrored(*network(m=200, kind="gaussian")[1:], x, y)
    assert not is_mirrored(a, w, b, x, y + np.array([0, 0, 0, 1e-3]))
    fast = descend(a, w, b, Dynamics(x, y, alpha, 2000.0), 3000)  # half the neurons simulated
    reference = descend(a, w, b, Dynamics(x, y, alpha, 2000.0, backend="numpy"), 3000)
    h = 100
    np.testing.assert_array_equal(fast[0][:h], fast[0][h:])
    np.testing.assert_array_equal(fast[1][:h], -fast[1][h:])
    for u, v in zip(fast, reference):
        assert np.max(np.abs(u - v)) <= 1e-12 * np.max(np.abs(v))


DETERMINISM_SCRIPT = """
import sys, numpy as np
from relunet_support.engine import Dynamics, descend
from relunet_support.network.init import initial_parameters
from relunet_support.network.data import load
x, y = load("seed")
for kind in ("symmetric", "gaussian"):
    a, w, b = initial_parameters(300, 1.0, 1.0, kind, 11)
    trained = descend(a, w, b, Dynamics(x, y, 300 ** 1.5, 400.0), 5000)
    np.save(sys.argv[1] + kind + ".npy", np.stack(trained), allow_pickle=False)
"""


@pytest.mark.slow
def test_same_bits_in_every_process(tmp_path):
    import subprocess
    import sys

    for name in ("first", "second"):
        subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT, str(tmp_path / name)], check=True)
    here = tmp_path / "here"
    exec(compile(DETERMINISM_SCRIPT.replace("sys.argv[1]", repr(str(here))), "script", "exec"), {})
    for kind in ("symmetric", "gaussian"):
        runs = [np.load(tmp_path / f"{name}{kind}.npy", allow_pickle=False) for name in ("first", "second", "here")]
        np.testing.assert_array_equal(runs[0], runs[1])
        np.testing.assert_array_equal(runs[0], runs[2])


def test_the_kernels_compile_their_own_copy_of_the_exact_extremes():
    """A kernel calling exact.py's dispatcher made numba cache a kernel-context variant in exact.py's own
    cache, and the host-side extremes then depended, in the last bit, on which process compiled first."""
    from relunet_support.engine import _kernel_text

    for mirror in (False, True):
        source = _kernel_text._source(4, mirror)
        assert "import extremes_exact" not in source and "network.exact" not in source.split("# relunet")[0]
        assert "@njit(**_OPTIONS)\ndef extremes_exact(a, w, b, inv_alpha, lo, hi, leak=0.0):" in source


def _advance_call(seed_data, **changes):
    x, y = seed_data
    alpha, a, w, b = network(m=8, kind="gaussian")
    arguments = dict(n_steps=2, record_offsets=np.array([1, 2]))
    arguments.update(changes)
    state = arguments.pop("state", (a, w, b))
    return lambda backend: advance(*state, Dynamics(x, y, alpha, 1.0, backend=backend), **arguments)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"record_offsets": np.array([1, 9])}, r"record_offsets=\[1, 9\] is not allowed: .*within 1 … n_steps = 2"),
        ({"record_offsets": np.array([0, 2])}, r"record_offsets=\[0, 2\]"),
        ({"record_offsets": np.array([2, 1])}, "strictly increasing"),
        ({"record_offsets": np.array([[1, 2]])}, "record_offsets"),
        ({"record_offsets": [1.5]}, r"record_offsets=\[1.5\] is not allowed: .*whole numbers"),
        ({"record_offsets": [float("nan")]}, r"record_offsets=\[nan\] is not allowed"),
        ({"record_offsets": ["1"]}, r"record_offsets=\['1'\] is not allowed"),
        ({"record_offsets": [True]}, r"record_offsets=\[True\] is not allowed"),
        ({"n_steps": 2.5}, "n_steps=2.5 is not allowed"),
        ({"state": tuple(np.ones((3, 2, 8)))}, r"a=\(2, 8\) is not allowed: .*one network"),
        ({"state": (np.ones(8), np.ones(8), np.ones(7))}, r"b=\(7,\) is not allowed"),
        ({"initial": (np.ones(8), np.ones(9), np.ones(8))}, r"initial w₀=\(9,\) is not allowed"),
        ({"initial": (np.ones(8), np.ones(8))}, "initial='2 arrays' is not allowed"),
    ],
)
def test_advance_names_a_bad_argument(seed_data, backend, changes, message):
    """The records' offsets, the state's and the initial state's shapes are checked before any step (the cuda
    backend used to run past n_steps to reach an offset beyond it; numba to drop the offsets after a bad one)."""
    with pytest.raises(ConfigError, match=message):
        _advance_call(seed_data, **changes)(backend)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("name, index", [("x", 2), ("y", 0)])
def test_non_finite_data_is_refused(seed_data, backend, name, index):
    x, y = (np.array(v) for v in seed_data)
    (x if name == "x" else y)[index] = np.nan
    alpha, a, w, b = network(m=8, kind="gaussian")
    message = rf"{name}='array with nan at flat index {index}' is not allowed: {name} must be finite numbers only"
    with pytest.raises(ConfigError, match=message):
        descend(a, w, b, Dynamics(x, y, alpha, 1.0, backend=backend), 3)
    with pytest.raises(ConfigError, match=message):
        advance(a, w, b, Dynamics(x, y, alpha, 1.0, backend=backend), n_steps=3, record_offsets=[1])


def test_one_coordinate_inputs_given_as_columns_run_on_the_one_dimensional_kernels(seed_data):
    """x of shape (n, 1) and w of shape (m, 1): the same numbers as x (n,) and w (m,), in place for advance."""
    x, y = seed_data
    alpha, a, w, b = network(m=40, kind="gaussian", seed=3)
    flat = descend(a, w, b, Dynamics(x, y, alpha, 2.0 * alpha), 300)
    column = descend(a, w[:, None], b, Dynamics(x[:, None], y, alpha, 2.0 * alpha), 300)
    np.testing.assert_array_equal(column[1][:, 0], flat[1])
    np.testing.assert_array_equal(column[0], flat[0])
    state = [a.copy(), w[:, None].copy(), b.copy()]
    advanced = advance(
        *state,
        Dynamics(x[:, None], y, alpha, 2.0 * alpha),
        n_steps=300,
        record_offsets=[300],
        initial=(a, w[:, None], b),
    )
    np.testing.assert_array_equal(state[1][:, 0], flat[1])
    assert advanced.steps == 300 and advanced.records["rd_w"][0] > 0
