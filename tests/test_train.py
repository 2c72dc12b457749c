import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from relunet_support import engine
from relunet_support.analysis import diagnostics
from relunet_support.errors import NetworkDied, RunLockedError, TrainingDiverged
from relunet_support.network import model
from relunet_support.runs import store
from relunet_support.runs.store import list_runs, open_run
from relunet_support.runs.train import (
    DeadNetworkWarning,
    DivergedRunWarning,
    TrainConfig,
    UnstableLearningRateWarning,
    ensure_runs,
    train,
)

SMALL = TrainConfig(m=100, learning_rate=100**1.5 * 0.5, n_steps=3000, n_records=300, n_snapshots=40)


def assert_same_run(run, other):
    assert run.status == other.status and run.step == other.step
    for name in run.records:
        np.testing.assert_array_equal(run.records[name], other.records[name], err_msg=name)
    np.testing.assert_array_equal(run.snapshot_steps, other.snapshot_steps)
    for i in range(run.n_snapshots):
        for u, v in zip(run.snapshot(i), other.snapshot(i)):
            np.testing.assert_array_equal(u, v)


def test_records_and_snapshots_are_consistent(tmp_path):
    run = train(SMALL, tmp_path, progress=False)
    assert run.status == "complete" and run.step == SMALL.n_steps
    rec = run.records
    assert {len(v) for v in rec.values()} == {SMALL.record_steps().size}
    np.testing.assert_array_equal(rec["step"], SMALL.record_steps())
    np.testing.assert_array_equal(rec["time"], SMALL.learning_rate * rec["step"])
    np.testing.assert_array_equal(run.snapshot_steps, SMALL.snapshot_steps())
    assert run.snapshot_steps[0] == 0 and run.snapshot_steps[-1] == SMALL.n_steps
    x, y = SMALL.training_data()
    index = {s: i for i, s in enumerate(rec["step"])}
    for i in (0, 5, 20, run.n_snapshots - 1):
        a, w, b = run.snapshot(i)
        r = index[run.snapshot_steps[i]]
        assert rec["risk"][r] == pytest.approx(model.risk(a, w, b, x, y, SMALL.alpha), rel=1e-12)
        f_min, f_max = diagnostics.extremes(a, w, b, SMALL.alpha)
        assert rec["f_min"][r] == pytest.approx(f_min, rel=1e-12) and rec["f_max"][r] == pytest.approx(f_max, rel=1e-12)
    assert rec["risk"][-1] < rec["risk"][0]
    a0, w0, b0 = run.snapshot(0)
    a1, w1, b1 = run.snapshot(-1)
    assert rec["rd_w"][0] == 0 and rec["rd_a"][0] == 0
    assert rec["rd_w"][-1] == pytest.approx(diagnostics.relative_distance((w1, b1), (w0, b0)), rel=1e-12)
    assert rec["rd_a"][-1] == pytest.approx(diagnostics.relative_distance(a1, a0), rel=1e-12)
    for u, v in zip((a0, w0, b0), SMALL.initial_parameters()):
        np.testing.assert_array_equal(u, v)
    attrs = run.attrs
    assert attrs["config"] == SMALL.identity() and attrs["versions"]["numpy"] == np.__version__
    assert attrs["normalised_learning_rate"] == pytest.approx(0.5)


def test_same_config_gives_identical_arrays(tmp_path):
    first = train(SMALL, tmp_path / "one", progress=False)
    second = train(SMALL, tmp_path / "two", progress=False)
    assert_same_run(first, second)


def test_complete_run_is_not_retrained(tmp_path, monkeypatch):
    run = train(SMALL, tmp_path, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a complete run was retrained")

    monkeypatch.setattr(engine, "advance", refuse)
    again = train(SMALL, tmp_path, progress=False)
    assert_same_run(run, again)


@pytest.mark.parametrize("checkpoint_seconds", [0.0, 1e9])
def test_resume_after_interruption_is_bit_identical(tmp_path, monkeypatch, checkpoint_seconds):
    reference = train(SMALL, tmp_path / "reference", progress=False)
    interrupt_training(SMALL, tmp_path / "resumed", monkeypatch, at_call=17, checkpoint_seconds=checkpoint_seconds)
    (partial,) = list_runs(tmp_path / "resumed")
    assert partial.status == "interrupted" and partial.step < SMALL.n_steps
    assert len(partial.records["step"]) == partial.n_records
    resumed = train(SMALL, tmp_path / "resumed", progress=False)
    assert_same_run(resumed, reference)


def interrupt_training(config, out_dir, monkeypatch, at_call: int, checkpoint_seconds: float = 0.0) -> None:
    """Train ``config`` into ``out_dir`` until a Ctrl-C arrives in the ``at_call``-th call of engine.advance."""
    real_advance = engine.advance
    calls = {"n": 0}

    def interrupted_advance(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise KeyboardInterrupt
        return real_advance(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(engine, "advance", interrupted_advance)
        with pytest.raises(KeyboardInterrupt):
            train(config, out_dir, progress=False, checkpoint_seconds=checkpoint_seconds)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from relunet_support.runs.train import TrainConfig, train
    config = TrainConfig(m=400, learning_rate=400 ** 1.5 * 0.5, n_steps=1_500_000, n_records=4000, n_snapshots=4000)
    train(config, sys.argv[1], progress=False, checkpoint_seconds=0.02)
""")


@pytest.mark.slow
def test_resume_after_kill_9_is_bit_identical(tmp_path):
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out)])
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            runs = [p for p in out.glob("lr*")] if out.exists() else []
            if runs and open_run(runs[0]).step > 0:
                time.sleep(0.3)  # then kill it at an arbitrary moment (often mid-checkpoint)
                break
            assert process.poll() is None, "the training process ended before it could be killed"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    (killed,) = list_runs(out)
    assert killed.status == "running" and 0 < killed.step < killed.config.n_steps
    resumed = train(killed.config, out, progress=False)
    reference = train(killed.config, tmp_path / "reference", progress=False)
    assert_same_run(resumed, reference)


@pytest.mark.filterwarnings("ignore::relunet_support.runs.train.UnstableLearningRateWarning")
def test_dead_network_is_reported_not_plotted(tmp_path):
    config = TrainConfig(m=40, learning_rate=4000, n_steps=2200)  # the seed's own small-width setting
    with pytest.warns(DeadNetworkWarning, match="every neuron is inactive"):
        run = train(config, tmp_path, progress=False)
    assert run.status == "dead" and run.step < 10
    assert "η/α = 15.81" in run.message
    rec = run.records
    assert rec["step"][-1] == run.step and run.snapshot_steps[-1] == run.step
    x, y = config.training_data()
    a, w, b = run.snapshot(-1)
    assert np.count_nonzero(np.outer(x, w) + b > 0) == 0
    assert rec["risk"][-1] == pytest.approx(0.5 * np.mean(y**2))


@pytest.mark.filterwarnings("ignore::relunet_support.runs.train.UnstableLearningRateWarning")
def test_divergence_stops_keeps_records_and_names_step(tmp_path):
    config = TrainConfig(
        m=20, learning_rate=1e3, n_steps=100, init="gaussian", dataset="custom", x=(-1e153, 1e153), y=(1.0, 1.0)
    )
    with pytest.warns(DivergedRunWarning, match=r"diverged at step \d+: .*η/α = 11.18"):
        run = train(config, tmp_path, progress=False)  # the run comes back, whatever its end state
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+: .*η/α = 11.18") as info:
        train(config, tmp_path, progress=False, strict=True)  # read back, without retraining
    step = info.value.step
    assert run.status == "diverged" and f"step {step}:" in run.message and step >= 1
    assert info.value.run.path == run.path and info.value.run.attrs["created"] == run.attrs["created"]
    # every step is on the record schedule here: all records before the bad step are kept, all finite
    np.testing.assert_array_equal(run.records["step"], np.arange(step))
    assert np.isfinite(run.records["risk"]).all()


def test_same_run_locked_by_another_trainer(tmp_path):
    with store.run_lock(tmp_path, SMALL.run_id()):
        with pytest.raises(RunLockedError, match="another process"):
            train(SMALL, tmp_path, progress=False)


PARALLEL_SCRIPT = textwrap.dedent("""
    import sys
    from relunet_support.runs.train import TrainConfig, train
    config = TrainConfig(m=100, learning_rate=500.0, n_steps=20_000, seed=int(sys.argv[2]), n_snapshots=200)
    train(config, sys.argv[1], progress=False, checkpoint_seconds=0.01)
""")


@pytest.mark.slow
def test_two_processes_train_different_configs_into_one_folder(tmp_path):
    processes = [subprocess.Popen([sys.executable, "-c", PARALLEL_SCRIPT, str(tmp_path), str(seed)]) for seed in (1, 2)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    runs = list_runs(tmp_path)
    assert sorted(r.config.seed for r in runs) == [1, 2] and {r.status for r in runs} == {"complete"}
    for run in runs:
        assert_same_run(run, train(run.config, tmp_path / "serial", progress=False))


def test_resume_false_starts_over(tmp_path):
    first = train(SMALL, tmp_path, progress=False)
    created = first.attrs["created"]
    time.sleep(1.1)
    again = train(SMALL, tmp_path, progress=False, resume=False)
    assert again.attrs["created"] != created
    assert_same_run(first, again)


def test_no_pickle_anywhere():
    import relunet_support

    root = os.path.dirname(relunet_support.__file__)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                assert "import pickle" not in text and "allow_pickle=True" not in text, name


def test_non_finite_start_is_diverged_at_step_0(tmp_path):
    config = TrainConfig(
        m=20, learning_rate=1.0, n_steps=10, init="gaussian", dataset="custom", x=(-1e300, 1e300), y=(1.0, 1.0)
    )
    with pytest.raises(TrainingDiverged, match="diverged at step 0") as info:
        train(config, tmp_path, progress=False, strict=True)
    assert info.value.run.status == "diverged" and list(info.value.run.records["step"]) == [0]


def _dead_from_the_start() -> TrainConfig:
    """Every neuron inactive on both data points from step 0 (seed 3 draws b ≤ 0 for both neurons)."""
    return TrainConfig(
        m=2, learning_rate=1.0, n_steps=100, init="gaussian", dataset="custom", x=(0.0, 0.0), y=(1.0, 1.0),
        gamma=0.0, seed=3,
    )  # fmt: skip


def test_network_dead_from_the_start(tmp_path):
    # every neuron inactive on both data points from step 0: nothing can ever move
    config = _dead_from_the_start()
    assert np.all(config.initial_parameters()[2] <= 0)  # seed 3 draws b ≤ 0 for both neurons
    with pytest.warns(DeadNetworkWarning):
        run = train(config, tmp_path, progress=False)
    assert run.status == "dead" and run.step == 0
    assert list(run.records["step"]) == [0] and list(run.snapshot_steps) == [0]
    with pytest.raises(NetworkDied, match="every neuron is inactive") as info:
        train(config, tmp_path, progress=False, strict=True)
    assert info.value.run.path == run.path


def test_ensure_runs_returns_every_end_state_and_lets_the_stability_warning_through(tmp_path):
    dead = _dead_from_the_start()
    diverged = TrainConfig(
        m=20, learning_rate=1e3, n_steps=100, init="gaussian", dataset="custom", x=(-1e153, 1e153), y=(1.0, 1.0)
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = ensure_runs([SMALL, dead, diverged], tmp_path, progress=False)
    assert [r.status for r in runs] == ["complete", "dead", "diverged"]
    assert [r.config for r in runs] == [SMALL, dead, diverged]
    kinds = {type(w.message) for w in caught}
    assert UnstableLearningRateWarning in kinds  # η/α = 11.18 at m = 20: said before training
    assert not kinds & {DeadNetworkWarning, DivergedRunWarning}  # the statuses are in the runs


def test_learning_rate_in_natural_units_and_stability_warning(tmp_path):
    from relunet_support.runs.series import WidthSeries

    config = TrainConfig.from_normalised(400, 3.0, 50, seed=2)
    assert config.learning_rate == pytest.approx(3.0 * 400**1.5) and config.normalised_learning_rate == pytest.approx(
        3.0
    )
    with pytest.warns(UnstableLearningRateWarning, match=r"η/α = 3 .* beyond the stable limit 2"):
        run = train(config, tmp_path, progress=False)
    assert (
        run.attrs["normalised_learning_rate"] == pytest.approx(3.0)
        and run.attrs["config"]["learning_rate"] == config.learning_rate
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(TrainConfig.from_normalised(400, 1.0, 50), tmp_path, progress=False)
        train(config, tmp_path, progress=False)  # complete: read back, nothing trained, no warning
    configs = WidthSeries.of([100, 400], 10, normalised_learning_rate=0.5).configs()
    assert [c.normalised_learning_rate for c in configs] == pytest.approx([0.5, 0.5])
    assert configs[0].learning_rate != configs[1].learning_rate
    with pytest.raises(ValueError, match="exactly one of learning_rate"):
        WidthSeries.of([100], 10, learning_rate=1.0, normalised_learning_rate=0.5).configs()
    with pytest.raises(ValueError, match="normalised_learning_rate=-1"):
        TrainConfig.from_normalised(100, -1, 10)


def test_a_run_checkpoints_every_30_seconds_of_training_at_snapshot_steps(tmp_path, monkeypatch):
    """User guide: a run checkpoints every 30 s of training (and at its end), at a snapshot step. With a clock on
    which every stretch between two snapshots takes 10 s, the default commits at every 4th snapshot (40 s > 30 s),
    and `relunet train` keeps the default."""
    import inspect
    import types

    from relunet_support.jobs import cli
    from relunet_support.runs import train as train_module

    assert inspect.signature(train).parameters["checkpoint_seconds"].default == 30
    clock = [0.0]
    real_advance, real_checkpoint = engine.advance, store.RunWriter.checkpoint
    committed = []

    def advance_taking_ten_seconds(*args, **kwargs):
        clock[0] += 10.0
        return real_advance(*args, **kwargs)

    def recorded_checkpoint(self, step, state, wall_seconds):
        committed.append(step)
        return real_checkpoint(self, step, state, wall_seconds)

    monkeypatch.setattr(engine, "advance", advance_taking_ten_seconds)
    monkeypatch.setattr(train_module, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(store.RunWriter, "checkpoint", recorded_checkpoint)
    config = TrainConfig(m=20, learning_rate=50.0, n_steps=190, n_records=50, snapshot_every=10)
    run = train(config, tmp_path, progress=False)
    assert run.status == "complete" and list(run.snapshot_steps) == list(range(0, 191, 10))
    assert committed == [0, 40, 80, 120, 160, 190]  # the new store's step 0, every 40 s of training, the end

    calls = []
    monkeypatch.setattr(train_module, "train", lambda *args, **kwargs: calls.append(kwargs) or run)
    cli.main(["train", "--m", "20", "--learning-rate", "50", "--steps", "190", "--out", str(tmp_path)])
    assert len(calls) == 1 and "checkpoint_seconds" not in calls[0]
