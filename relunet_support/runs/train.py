"""Training: ``train(config)`` runs gradient descent with records, snapshots, guards and checkpoints.

Guards, checked at every step by the engine:
- diverged: the first step whose risk or parameters are non-finite stops the run; every earlier
  record is kept and the run is marked ``diverged``; its message names the step and η/α;
- dead: when no neuron is active on any data point, every gradient is exactly zero and GD can
  never move again; the run stops and is marked ``dead`` (a final record and snapshot at that step).
  Nothing after that step is drawn as if it were a result.

``train`` returns the ``Run`` in every end state — complete, dead or diverged — and warns
(``DeadNetworkWarning``, ``DivergedRunWarning``) when it is not complete; ``strict=True`` raises
``NetworkDied`` / ``TrainingDiverged`` instead. ``ensure_runs`` trains or reads back a list of
configs for callers that report the statuses themselves: it silences those two warnings only, so the
``UnstableLearningRateWarning`` (given before training) still reaches the notebook or the terminal.

Resuming. The engine always restarts at snapshot steps, and checkpoints are taken only there,
so a run resumed after a crash computes exactly what an uninterrupted run computes. The same makes
damage repairable: a run whose records, snapshots or checkpoint are damaged (store.py: checksums, missing
chunks, counts) is rewound to its last intact snapshot and retrained from there (``RepairedRunWarning``);
a run whose identity is damaged (its config against its hash) is refused (``CorruptRunError``).

Engine revisions. A finished run made by another engine revision (``revision.py``) is read back with a
``StaleRunWarning``; an unfinished one is not resumed (``StaleRunError``): retrain with ``resume=False``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relunet_support import engine  # imports no numba: the kernels are loaded when a step is taken
from relunet_support.errors import (
    CorruptRunError,
    NetworkDied,
    NotARunError,
    StaleRunError,
    TrainingDiverged,
)
from relunet_support.network import model, scaling
from relunet_support.runs import resources
from relunet_support.runs.config import TrainConfig
from relunet_support.runs.resume import StaleRunWarning, check_cpu_target, check_not_training, check_revision
from relunet_support.runs.revision import engine_revision
from relunet_support.runs.store import (
    FORMAT_VERSION,
    RECORD_FIELDS,
    TERMINAL,
    Run,
    RunWriter,
    clean_temporaries,
    open_run,
    remove_run,
    rewrite_group_documents,
    run_lock,
)

__all__ = [
    "TrainConfig",
    "train",
    "ensure_runs",
    "DeadNetworkWarning",
    "DivergedRunWarning",
    "UnstableLearningRateWarning",
    "RepairedRunWarning",
    "StaleRunWarning",
]


class DeadNetworkWarning(RuntimeWarning):
    """Every neuron is inactive on every data point: training stopped, the run is marked dead."""


class DivergedRunWarning(RuntimeWarning):
    """The risk or a parameter became non-finite: training stopped, the run is marked diverged."""


class RepairedRunWarning(RuntimeWarning):
    """A damaged run was rewound to its last intact snapshot and its rest retrained (bit for bit the same)."""


class UnstableLearningRateWarning(RuntimeWarning):
    """η/α is beyond the measured stability limit (scaling.stability_limit)."""


def check_learning_rate(config: TrainConfig) -> None:
    """Warn, before training, when η/α exceeds ``scaling.stability_limit`` (bench/stability.md)."""
    limit = scaling.stability_limit(config.m, config.gamma, config.gamma_prime)
    if config.normalised_learning_rate > limit:
        warnings.warn(
            f"learning_rate={config.learning_rate:g} gives η/α = {config.normalised_learning_rate:.4g} "
            f"at m={config.m}, "
            f"beyond the stable limit {limit:.4g} (measured at γ=3/2: the risk decreases monotonically up to "
            f"η/α = 2.5 for m ≥ 400, 1 for m = 100, and every neuron dies from about 12); GD is then not a "
            "faithful gradient flow",
            UnstableLearningRateWarning,
            stacklevel=4,
        )  # the caller of train()


def _record(config: TrainConfig, state, initial) -> dict:
    """One record from the parameters (used at step 0 and where a run stops early)."""
    a, w, b = state
    a0, w0, b0 = initial
    x, y = config.training_data()
    from relunet_support.network import exact  # compiled: numba is imported only when a run is trained

    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite record is reported as divergence
        f_min, f_max = np.nan, np.nan  # for networks of a 1-D input only (engine.advance records the same)
        if config.records_extremes:
            lo, hi = config.interval
            f_min, f_max = exact.extremes(a, w, b, 1.0 / config.alpha, lo, hi, config.activation)
        return {
            "risk": model.risk(a, w, b, x, y, config.alpha, config.activation),
            "f_min": f_min,
            "f_max": f_max,
            "rd_w": model.relative_distance((w, b), (w0, b0)),
            "rd_a": model.relative_distance(a, a0),
        }


class _Buffer:
    """Records and snapshots made since the last write to disk."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.records: dict[str, list[np.ndarray]] = {name: [] for name in RECORD_FIELDS}
        self.snapshots: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.nbytes = 0

    def add_records(self, learning_rate, steps, values: dict):
        """Records at ``steps``; ``values`` maps each scalar field to an array (or a number) per step."""
        self.records["step"].append(np.asarray(steps, dtype=np.int64))
        self.records["time"].append(learning_rate * np.asarray(steps, dtype=np.float64))
        for name in RECORD_FIELDS[2:]:
            self.records[name].append(np.atleast_1d(np.asarray(values[name], dtype=np.float64)))

    def add_snapshot(self, step, state):
        self.snapshots.append((step, *(v.copy() for v in state)))
        self.nbytes += sum(v.nbytes for v in state)

    def drain(self, writer: RunWriter):
        if self.records["step"]:
            writer.write(records={k: np.concatenate(v) for k, v in self.records.items()})
        if self.snapshots:
            steps, a, w, b = zip(*self.snapshots)
            writer.write(snapshots=(np.array(steps, dtype=np.int64), np.stack(a), np.stack(w), np.stack(b)))
        self.clear()


def _warm_up(config: TrainConfig, state, initial) -> None:
    """One step on copies of the state, and one record, so that the kernels are compiled (numba: loaded
    from its cache or compiled; cuda: compiled and the device set up) before the run's clock starts:
    ``wall_seconds`` and ``steps_per_second`` then measure training, not JIT compilation."""
    a, w, b = (np.array(v, dtype=np.float64, copy=True) for v in state)
    with np.errstate(all="ignore"):
        engine.advance(a, w, b, config.dynamics(), n_steps=1, record_offsets=np.array([1]), initial=initial)
        _record(config, (a, w, b), initial)


def train(
    config: TrainConfig,
    out_dir="outputs/runs",
    progress: bool = True,
    resume: bool = True,
    checkpoint_seconds: float = 30.0,
    max_buffer_bytes: int = 256 * 2**20,
    strict: bool = False,
) -> Run:
    """Train ``config`` into ``out_dir/<run-id>`` and return the finished ``Run`` — complete, dead or diverged.

    An existing finished run is returned as it is; an interrupted one is resumed from its checkpoint
    (``resume=False`` discards it and starts over). A dead or diverged run comes with a
    ``DeadNetworkWarning`` / ``DivergedRunWarning``; with ``strict=True`` it raises ``NetworkDied`` /
    ``TrainingDiverged`` (each with ``.run``) instead.
    """
    run = _train(config, out_dir, progress, resume, checkpoint_seconds, max_buffer_bytes)
    if run.status == "diverged":
        if strict:
            raise TrainingDiverged(run.message, run=run, step=int(run.attrs.get("final_step", run.step)))
        warnings.warn(run.message, DivergedRunWarning, stacklevel=2)
    elif run.status == "dead":
        if strict:
            raise NetworkDied(run.message, run=run)
        warnings.warn(run.message, DeadNetworkWarning, stacklevel=2)
    return run


def ensure_runs(configs: Sequence[TrainConfig], out_dir, progress: bool = True) -> list[Run]:
    """Train each config into ``out_dir`` — or read it back when it is there already — and return the runs in
    order, whatever their end state (``run.status``: complete, dead, diverged). Only the dead and diverged
    warnings are silenced (the caller reports the statuses); every other warning is shown."""
    runs = []
    for config in configs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeadNetworkWarning)
            warnings.simplefilter("ignore", DivergedRunWarning)
            runs.append(train(config, out_dir, progress=progress))
    return runs


def _train(
    config: TrainConfig, out_dir, progress: bool, resume: bool, checkpoint_seconds: float, max_buffer_bytes: int
) -> Run:
    """``train`` without the end-state warnings: the finished run, whatever its status."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, not {type(config).__name__}")
    resources.check_memory(config)  # before any schedule is built
    out_dir = resources.checked_out_dir(out_dir)
    run_id = config.run_id()
    path = out_dir / run_id
    if not resume or not (path / "zarr.json").is_file():  # a new run: what would stop it is said before any file
        _require_backend(config)
        resources.check_disk_space(config, out_dir)
    with run_lock(out_dir, run_id):
        check_not_training(path)
        clean_temporaries(out_dir, run_id)
        run = _open_for_training(path) if path.exists() and resume else None
        if run is not None:
            if run.config != config:
                raise RuntimeError(f"{path} holds a different configuration with the same run id (hash collision)")
            if run.status in TERMINAL:
                check_revision(run, finished=True)
                return run
            if run.format_version != FORMAT_VERSION:
                raise NotARunError(
                    f"path={str(path)!r} holds an unfinished run in store format "
                    f"{run.format_version}, which this relunet (format {FORMAT_VERSION}) cannot resume: "
                    "finish it with the relunet that started it, or delete it to train anew"
                )
            check_revision(run, finished=False)
            check_cpu_target(run)
        _require_backend(config)  # before anything is written or removed
        initial = config.initial_parameters()
        if run is not None:
            state = tuple(np.ascontiguousarray(v) for v in run.checkpoint_state())
            _warm_up(config, state, initial)  # JIT compilation (and its cache) before anything is written
            writer = RunWriter(path)
        else:
            _warm_up(config, initial, initial)
            resources.check_disk_space(config, out_dir)
            if path.exists():  # resume=False
                remove_run(path)
            writer = RunWriter.create(out_dir, config, initial)
            state = tuple(v.copy() for v in initial)  # trained in place; `initial` stays the step-0 parameters
        check_learning_rate(config)
        return _train_loop(config, writer, state, initial, progress, checkpoint_seconds, max_buffer_bytes)


def _require_backend(config: TrainConfig) -> None:
    engine.require_backend(config.backend)


def _open_for_training(path: Path) -> Run:
    """The run at ``path`` after reading every committed chunk (``Run.damage``): damage in its trained data is
    repaired — the run is rewound to its last intact snapshot, with a ``RepairedRunWarning`` — while a damaged
    identity (config, hash, format, layout) raises CorruptRunError."""
    try:
        run = open_run(path, check=False)
    except CorruptRunError as error:
        if not error.repairable:
            raise
        rewritten = rewrite_group_documents(path)  # rewritten empty; the counts re-derived below
        warnings.warn(
            f"run {str(path)!r}: {', '.join(f'{group}/zarr.json' for group in rewritten)} could not be read and "
            "was rewritten",
            RepairedRunWarning,
            stacklevel=5,
        )
        run = open_run(path, check=False)
    damage = run.damage()
    if not damage:
        return run
    if run.engine_revision != engine_revision():  # a repair would mix this engine's numbers into another's run
        what = "; ".join(item.describe() for item in damage)
        raise StaleRunError(
            f"run {str(path)!r} is damaged ({what}) and was computed by engine revision {run.engine_revision}; "
            f"repairing it with revision {engine_revision()} would mix two engines in one run: retrain it with "
            "train(config, resume=False) or `relunet train … --no-resume` (the store is left as it is)"
        )
    message = RunWriter(path).rewind(run, damage, run.config.initial_parameters())
    warnings.warn(message, RepairedRunWarning, stacklevel=5)
    return open_run(path)


def _train_loop(config, writer: RunWriter, state, initial, progress, checkpoint_seconds, max_buffer_bytes) -> Run:
    from tqdm.auto import tqdm

    dynamics = config.dynamics()
    a, w, b = state  # `initial`: the step-0 parameters, for the relative distances
    record_steps = config.record_steps()
    snapshot_steps = config.snapshot_steps()
    step = int(writer.progress["step"])
    n_records = int(writer.progress["n_records"])
    n_snapshots = int(writer.progress["n_snapshots"])
    wall_before = float(writer.progress["wall_seconds"])
    buffer = _Buffer()
    started = last_checkpoint = time.perf_counter()
    status, message = "complete", ""
    bar = tqdm(
        total=config.n_steps,
        initial=step,
        disable=not progress,
        unit="step",
        unit_scale=True,
        desc=f"m={config.m} η={config.learning_rate:g}",
        dynamic_ncols=True,
        mininterval=0.5,
    )

    def commit():
        buffer.drain(writer)
        writer.checkpoint(step, (a, w, b), wall_before + time.perf_counter() - started)

    writer.set_status("running", trainer={"pid": os.getpid(), "host": socket.gethostname()})
    if n_records == 0:  # nothing committed yet: record step 0 (a resumed run redoes it identically)
        first = _record(config, (a, w, b), initial)
        buffer.add_records(config.learning_rate, [0], first)
        buffer.add_snapshot(0, (a, w, b))
        n_records, n_snapshots = 1, 1
        if not all(np.isfinite(first[key]) for key in config.finite_records):
            commit()
            message = f"training diverged at step 0: the initial risk or f is non-finite ({config.describe()})."
            writer.set_status("diverged", message, final_step=0)
            return open_run(writer.path)
    last_snapshot = step  # checkpoints are taken at snapshot steps, so the state at `step` is stored
    try:
        while n_snapshots < snapshot_steps.size:
            target = int(snapshot_steps[n_snapshots])
            record_end = int(np.searchsorted(record_steps, target, side="right"))
            offsets = record_steps[n_records:record_end] - step
            advanced = engine.advance(a, w, b, dynamics, n_steps=target - step, record_offsets=offsets, initial=initial)
            done, code, records = advanced.steps, advanced.status, advanced.records
            written = records["risk"].size
            buffer.add_records(config.learning_rate, offsets[:written] + step, records)
            n_records += written
            step += done
            bar.update(done)
            if written:
                bar.set_postfix(risk=f"{records['risk'][-1]:.3e}", refresh=False)
            if code == engine.STATUS_DIVERGED:
                status = "diverged"
                message = (
                    f"training diverged at step {step}: the risk or a parameter became non-finite "
                    f"({config.describe()}; at γ=3/2, GD is stable for η/α ≲ 2). "
                    f"Records up to step {step - 1} are kept."
                )
                break
            if code == engine.STATUS_DEAD:
                if n_records == 0 or record_steps[n_records - 1] != step:
                    buffer.add_records(config.learning_rate, [step], _record(config, (a, w, b), initial))
                    n_records += 1
                if last_snapshot != step:
                    buffer.add_snapshot(step, (a, w, b))
                    n_snapshots += 1
                status = "dead"
                message = (
                    f"every neuron is inactive on every data point at step {step}: the gradient is "
                    f"exactly zero, so training stopped ({config.describe()}). The risk stays at "
                    f"{model.risk(a, w, b, dynamics.x, dynamics.y, config.alpha, config.activation):.6g} forever."
                )
                break
            buffer.add_snapshot(step, (a, w, b))
            n_snapshots += 1
            last_snapshot = step
            if time.perf_counter() - last_checkpoint > checkpoint_seconds or buffer.nbytes > max_buffer_bytes:
                commit()
                last_checkpoint = time.perf_counter()
    except BaseException as error:
        bar.close()
        with contextlib.suppress(OSError):  # a full disk may refuse this too: the run stays resumable either way
            writer.set_status("interrupted", f"{type(error).__name__}: {error}".strip(": "))
        if isinstance(error, OSError):
            raise OSError(
                error.errno,
                f"training run {writer.path.name} stopped at step {step}: {error.strerror or error}; nothing "
                "checkpointed is lost — fix the cause and train again to resume",
            ) from error
        raise
    bar.close()
    commit()
    wall = float(writer.progress["wall_seconds"])
    writer.set_status(
        status, message, wall_seconds=wall, steps_per_second=(step / wall if wall > 0 else None), final_step=step
    )
    return open_run(writer.path)
