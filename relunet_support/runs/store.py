"""The run store: one zarr (v3) group per run, written so that a crash at any moment loses nothing, and
read so that damage is never taken for data.

Layout of ``<out_dir>/<run-id>/``::

    zarr.json            attrs: format, run_id, config, config_sha256, engine_revision, versions, git commit,
                         status, times, scales
    records/             step, time (= η·step), risk, f_min, f_max, rd_w, rd_a — preallocated to the full schedule
    snapshots/           step (q,), a, w, b (q, m) — w: (q, m, d) for inputs of d > 1 — chunks of ~1 MiB, read lazily
    checkpoint/          a, w, b (2, m) (w: (2, m, d)): two slots; attrs {slot, step, n_records, n_snapshots, ...}

Crash safety. zarr ≥ 3.1 writes every file to a temporary name and renames it, so each chunk
and each attribute document is replaced atomically. Records and snapshots beyond the counts in
the checkpoint attributes are ignored by readers and rewritten identically on resume. A new
checkpoint writes the state into the slot not in use, then switches ``slot`` in one atomic
attribute write. A new run is built in a hidden temporary folder and renamed into place.
No pickle anywhere: arrays are zarr, metadata is JSON.

Integrity (format 3). Every chunk ends in a CRC-32C checksum (zarr's ``crc32c`` codec), checked on every
read. Opening a run checks, without reading any data: the configuration against its stored hash and the
run id, the layout of every array (shape, chunks, dtype, checksum codec), the status against the progress
counts (a complete run has every record and snapshot of its schedule), and that every chunk holding a
committed record, snapshot or the checkpoint exists — zarr would return fill values for a missing one.
Reading records also checks their steps against the schedule. Any damage raises ``CorruptRunError``
naming the run, the array and the chunk; ``inspect_run`` lists all of it (``relunet verify``), and
``RunWriter.rewind`` turns damage in the trained data into a resume from the last intact snapshot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from relunet_support import engine  # imports no numba
from relunet_support.errors import ConfigError, CorruptRunError, NotARunError, RunLockedError
from relunet_support.network import model
from relunet_support.runs.config import TrainConfig, config_digest
from relunet_support.runs.revision import engine_revision

FORMAT = "relunet-run"
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)  # 1: no rd_w, rd_a; 2: no checksums, no engine revision
RECORD_FIELDS = ("step", "time", "risk", "f_min", "f_max", "rd_w", "rd_a")
SNAPSHOT_FIELDS = ("step", "a", "w", "b")
PARAMETERS = ("a", "w", "b")
STATUSES = ("running", "interrupted", "complete", "diverged", "dead")
TERMINAL = ("complete", "diverged", "dead")
_RECORD_CHUNK = 16384
_SNAPSHOT_CHUNK_BYTES = 2**20


def snapshots_per_chunk(m: int, n_snapshots: int) -> int:
    """Snapshots per chunk: about 1 MiB per chunk, so a lazy read of one snapshot stays cheap."""
    return int(max(1, min(n_snapshots, _SNAPSHOT_CHUNK_BYTES // (8 * m))))


def estimated_bytes(config: TrainConfig) -> int:
    """Upper bound of a run store's size on disk: records, snapshots and checkpoint, uncompressed."""
    n_records, n_snapshots = config.record_steps().size, config.snapshot_steps().size
    per_neuron = 2 + config.dimension  # a, b and the d coordinates of w
    return 8 * (len(RECORD_FIELDS) * n_records + n_snapshots * (1 + per_neuron * config.m) + 2 * per_neuron * config.m)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_versions(backend: str = "numba") -> dict:
    """Versions of what computes a run; for backend='cuda' also numba-cuda's and the GPU's name."""
    import numba
    import tqdm

    from relunet_support import __version__

    versions = {
        "relunet_support": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": numba.__version__,
        "zarr": zarr.__version__,
        "tqdm": tqdm.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    versions.update(engine.backend_versions(backend))
    return versions


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@contextlib.contextmanager
def run_lock(out_dir: Path, run_id: str):
    """Exclusive lock on one run id (a hidden lock file beside it), released when the process dies."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / f".{run_id}.lock"
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"run {run_id!r} in {out_dir} is being trained by another process") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_is_locked(out_dir, run_id: str) -> bool | None:
    """Whether a process holds ``run_lock`` on this run now, i.e. is training it; None where that cannot be told
    (no /proc/locks: not Linux). Read from the kernel's lock table, without taking the lock (taking it, even for
    a moment, could make a ``train`` starting at that instant fail as locked)."""
    try:
        info = (Path(out_dir) / f".{run_id}.lock").stat()
    except FileNotFoundError:
        return False
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    # "1: FLOCK  ADVISORY  WRITE 31120 fe:00:2147575 0 EOF"; a waiter's line has "->" after the number
    return any(
        fields[1] == "FLOCK" and fields[5] == device for fields in map(str.split, table.splitlines()) if len(fields) > 5
    )


# ----- what a run store must look like ----------------------------------------------------------------------


def _record_fields(format_version: int) -> tuple[str, ...]:
    return RECORD_FIELDS if format_version >= 2 else RECORD_FIELDS[:5]


def _layout(config: TrainConfig, format_version: int) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], str]]:
    """Every array's path → (shape, chunks, dtype) for ``config``."""
    n_records, n_snapshots, m = config.record_steps().size, config.snapshot_steps().size, config.m
    per_chunk = snapshots_per_chunk(m * config.dimension, n_snapshots)
    coordinates = () if config.dimension == 1 else (config.dimension,)  # w of shape (m, d) for inputs of d > 1
    layout: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {}
    for name in _record_fields(format_version):
        layout[f"records/{name}"] = (
            (n_records,),
            (min(n_records, _RECORD_CHUNK),),
            "int64" if name == "step" else "float64",
        )
    layout["snapshots/step"] = ((n_snapshots,), (min(n_snapshots, _RECORD_CHUNK),), "int64")
    for name in PARAMETERS:
        extra = coordinates if name == "w" else ()
        layout[f"snapshots/{name}"] = ((n_snapshots, m, *extra), (per_chunk, m, *extra), "float64")
        layout[f"checkpoint/{name}"] = ((2, m, *extra), (1, m, *extra), "float64")
    return layout


@dataclasses.dataclass(frozen=True)
class Damage:
    """One damaged piece of a run: ``array`` ('records/risk', 'checkpoint/a', 'progress'), the chunk, the first
    row it holds (records and snapshots: where a repair must restart from) and why."""

    array: str
    chunk: int | None
    first_row: int | None
    reason: str

    def describe(self) -> str:
        where = self.array if self.chunk is None else f"{self.array} chunk {self.chunk}"
        return f"{where}: {self.reason}"


def _progress_problems(config: TrainConfig, status, progress: dict, final_step) -> list[str]:
    """What is wrong with the status and the checkpoint's progress counts (empty when they agree)."""
    values = {}
    for key in ("slot", "step", "n_records", "n_snapshots"):
        value = progress.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"checkpoint attribute {key}={value!r} is not an integer"]
        values[key] = value
    if status not in STATUSES:
        return [f"status={status!r} is not one of {', '.join(STATUSES)}"]
    slot, step, n_records, n_snapshots = values.values()
    record_steps, snapshot_steps = config.record_steps(), config.snapshot_steps()
    if slot not in (0, 1):
        return [f"checkpoint slot={slot} is not 0 or 1"]
    if not 0 <= step <= config.n_steps:
        return [f"checkpoint step={step} is outside 0..n_steps={config.n_steps}"]
    if not (0 <= n_records <= record_steps.size and 0 <= n_snapshots <= snapshot_steps.size):
        return [
            f"checkpoint counts n_records={n_records}, n_snapshots={n_snapshots} are outside the schedule's "
            f"{record_steps.size} records and {snapshot_steps.size} snapshots"
        ]
    expected_records = int(np.searchsorted(record_steps, step, side="right"))
    if status == "complete":
        if (step, n_records, n_snapshots) != (config.n_steps, record_steps.size, snapshot_steps.size):
            return [
                f"status is complete but the checkpoint is at step {step} of {config.n_steps} with "
                f"{n_records} of {record_steps.size} records and {n_snapshots} of {snapshot_steps.size} snapshots"
            ]
    elif status in ("running", "interrupted"):
        if n_snapshots == 0:
            if (step, n_records) != (0, 0):
                return [f"checkpoint at step {step} with {n_records} records but no snapshot"]
        elif step != snapshot_steps[n_snapshots - 1] or n_records != expected_records:
            return [
                f"checkpoint at step {step} with {n_records} records and {n_snapshots} snapshots does not follow "
                f"the schedule (snapshot {n_snapshots - 1} is at step {int(snapshot_steps[n_snapshots - 1])}, "
                f"{expected_records} records up to step {step})"
            ]
    else:  # dead or diverged: stopped early, a last record and snapshot at the stopping step may be off schedule
        if n_records < 1 or n_snapshots < 1 or n_records > expected_records + 1:
            return [f"{status} run with {n_records} records and {n_snapshots} snapshots at step {step}"]
        if final_step is not None and final_step != step:
            return [f"final_step={final_step!r} differs from the checkpoint's step {step}"]
    return []


class Run:
    """A run on disk. Records are small and read whole; snapshots are read one at a time.

    Opening checks the identity, the layout, the progress counts and that every committed chunk exists
    (``CorruptRunError`` otherwise); each chunk's checksum is checked when it is read.
    """

    def __init__(self, path: Path, group: zarr.Group, check: bool = True):
        self.path = Path(path)
        self._group = group
        self.attrs = dict(group.attrs)
        self.config = _checked_identity(self.path, self.attrs)
        self._arrays = _checked_layout(self.path, group, self.config, self.format_version)
        self._progress = dict(group["checkpoint"].attrs)
        self._cached_block: tuple[int, tuple[np.ndarray, ...]] | None = None
        self._records: dict[str, np.ndarray] | None = None
        self._snapshot_steps: np.ndarray | None = None
        if check:
            damage = self._progress_damage() or self._missing_chunks()
            if damage:
                raise self._corrupt(damage[0])

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r}, step={self.step}/{self.config.n_steps})"

    @property
    def format_version(self) -> int:
        return int(self.attrs.get("format_version", 1))

    @property
    def run_id(self) -> str:
        return self.attrs["run_id"]

    @property
    def status(self) -> str:
        return self.attrs["status"]

    @property
    def message(self) -> str:
        return self.attrs.get("status_message", "")

    @property
    def engine_revision(self) -> str | None:
        """The engine revision that computed this run (None: format ≤ 2, made before revisions were recorded)."""
        return self.attrs.get("engine_revision")

    @property
    def progress(self) -> dict:
        """The checkpoint's attributes as stored: slot, step, n_records, n_snapshots, wall_seconds."""
        return dict(self._progress)

    @property
    def step(self) -> int:
        """The last step saved by a checkpoint."""
        return int(self._progress["step"])

    @property
    def n_records(self) -> int:
        return int(self._progress["n_records"])

    @property
    def n_snapshots(self) -> int:
        return int(self._progress["n_snapshots"])

    # ----- reading ------------------------------------------------------------------------------------------

    def _corrupt(self, damage: Damage) -> CorruptRunError:
        return CorruptRunError(
            f"run {str(self.path)!r} is damaged: {damage.describe()}. Retrain it: train(config) (or `relunet train`) "
            "resumes from the last intact snapshot and rewrites the rest",
            repairable=True,
        )

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 of array ``name``, chunk by chunk; a chunk that fails its checksum or cannot be
        decoded raises CorruptRunError naming it."""
        array = self._arrays[name]
        per_chunk = array.chunks[0]
        parts = []
        for chunk in range(start // per_chunk, -(-stop // per_chunk)):
            lo, hi = max(start, chunk * per_chunk), min(stop, (chunk + 1) * per_chunk)
            try:
                parts.append(array[lo:hi])
            except Exception as error:
                raise self._corrupt(Damage(name, chunk, chunk * per_chunk, _reason(error))) from error
        return np.concatenate(parts) if parts else array[0:0]

    @property
    def records(self) -> dict[str, np.ndarray]:
        """Equal-length arrays step, time (= η·step), risk, f_min, f_max and the relative distances
        rd_w = ‖(w, b) − (w₀, b₀)‖/‖(w₀, b₀)‖, rd_a = ‖a − a₀‖/‖a₀‖, up to the last checkpoint
        (read once; ``refresh()`` gives a Run with newer records of a run still training)."""
        if self._records is None:
            count = self.n_records
            # stores of an older format lack newer fields (format 1: no rd_w, rd_a): nan there
            records = {
                name: self._read(f"records/{name}", 0, count)
                if f"records/{name}" in self._arrays
                else np.full(count, np.nan)
                for name in RECORD_FIELDS
            }
            mismatch = _schedule_mismatch(records["step"], self.config.record_steps(), self.status)
            if mismatch is not None:
                per_chunk = self._arrays["records/step"].chunks[0]
                raise self._corrupt(Damage("records/step", mismatch // per_chunk, mismatch, _STEP_REASON))
            for values in records.values():
                values.flags.writeable = False
            self._records = records
        return self._records

    @property
    def snapshot_steps(self) -> np.ndarray:
        if self._snapshot_steps is None:
            steps = self._read("snapshots/step", 0, self.n_snapshots)
            mismatch = _schedule_mismatch(steps, self.config.snapshot_steps(), self.status)
            if mismatch is not None:
                per_chunk = self._arrays["snapshots/step"].chunks[0]
                raise self._corrupt(Damage("snapshots/step", mismatch // per_chunk, mismatch, _STEP_REASON))
            steps.flags.writeable = False
            self._snapshot_steps = steps
        return self._snapshot_steps

    def snapshot(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, w, b) at snapshot ``index`` (negative counts from the end), read lazily from disk.

        The chunk holding it (about 1 MiB per array) is kept, so scrubbing through neighbouring
        snapshots reads each chunk once; nothing else is held in memory.
        """
        count = self.n_snapshots
        if not -count <= index < count:
            raise IndexError(f"snapshot index {index} out of range for {count} snapshots")
        index %= count
        per_chunk = self._arrays["snapshots/a"].chunks[0]
        block = index // per_chunk
        if self._cached_block is None or self._cached_block[0] != block:
            start, stop = block * per_chunk, min((block + 1) * per_chunk, count)
            self._cached_block = (block, tuple(self._read(f"snapshots/{name}", start, stop) for name in PARAMETERS))
        row = index - block * per_chunk
        a, w, b = (values[row].copy() for values in self._cached_block[1])
        return a, w, b

    def checkpoint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full-precision (a, w, b) at ``self.step``."""
        slot = int(self._progress["slot"])
        a, w, b = (self._read(f"checkpoint/{name}", slot, slot + 1)[0] for name in PARAMETERS)
        return a, w, b

    def refresh(self) -> Run:
        """Re-read attributes and progress (to follow a run that is still training)."""
        return open_run(self.path)

    # ----- integrity ----------------------------------------------------------------------------------------

    def _progress_damage(self) -> list[Damage]:
        problems = _progress_problems(
            self.config, self.attrs.get("status"), self._progress, self.attrs.get("final_step")
        )
        return [Damage("progress", None, None, problem) for problem in problems]

    def _committed_chunks(self):
        """(array name, array, chunk index, first row, end row) of every chunk holding a committed record,
        snapshot or the checkpoint slot in use."""
        slot = int(self._progress["slot"])
        for name, array in self._arrays.items():
            group = name.split("/")[0]
            rows = self.n_records if group == "records" else self.n_snapshots if group == "snapshots" else 2
            per_chunk = array.chunks[0]
            for chunk in [slot] if group == "checkpoint" else range(-(-rows // per_chunk)):
                yield name, array, chunk, chunk * per_chunk, min(rows, (chunk + 1) * per_chunk)

    def chunk_file(self, name: str, chunk: int) -> Path:
        """The file holding chunk ``chunk`` (along the first axis; chunks hold whole rows) of array ``name``."""
        array = self._arrays[name]
        return self.path / name / array.metadata.encode_chunk_key((chunk,) + (0,) * (array.ndim - 1))

    def _missing_chunks(self) -> list[Damage]:
        """Committed chunks whose file is not there (zarr would read their fill value)."""
        damage = []
        for name, _, chunk, first, _ in self._committed_chunks():
            if not self.chunk_file(name, chunk).is_file() and not self._may_lack(name, chunk):
                damage.append(Damage(name, chunk, first, "chunk file missing"))
        return damage

    def _may_lack(self, name: str, chunk: int) -> bool:
        """Stores before format 3 did not write a chunk equal to its fill value: a step array holding only step 0,
        the NaN checkpoint of a diverged run. Format 3 writes every chunk."""
        if self.format_version >= 3:
            return False
        return (name.endswith("/step") and chunk == 0) or (name.startswith("checkpoint/") and self.status == "diverged")

    def damage(self) -> list[Damage]:
        """Every damaged piece of the run: the progress counts, missing chunks, chunks failing their checksum or
        decoding, and record or snapshot steps off the schedule. Reads every committed chunk (``relunet verify``)."""
        progress = self._progress_damage()
        if progress:
            return progress  # the counts cannot say which chunks must exist
        found = self._missing_chunks()
        missing = {(item.array, item.chunk) for item in found}
        for name, array, chunk, lo, hi in self._committed_chunks():
            if (name, chunk) in missing:
                continue
            try:
                values = array[lo:hi]
            except Exception as error:
                found.append(Damage(name, chunk, lo, _reason(error)))
                continue
            if name in ("records/step", "snapshots/step"):
                schedule = self.config.record_steps() if name == "records/step" else self.config.snapshot_steps()
                last = hi == (self.n_records if name == "records/step" else self.n_snapshots)
                if _schedule_mismatch(values, schedule[lo:], self.status, last=last) is not None:
                    found.append(Damage(name, chunk, lo, _STEP_REASON))
        if not found:
            found += self._state_damage()
        return found

    def _state_damage(self) -> list[Damage]:
        """The checkpoint and the status against the data: the checkpoint in use must hold the state of the last
        snapshot (both are taken at the same step; a diverged run's is its non-finite state), a dead run's last
        snapshot must have no neuron active on any data point, a diverged run must hold a non-finite number,
        and a complete run's final_step must be n_steps."""
        status, count = self.status, self.n_snapshots
        checkpoint = self.checkpoint_state()
        finite = all(np.isfinite(values).all() for values in checkpoint)
        if status == "diverged":
            records_finite = all(np.isfinite(self.records[k]).all() for k in self.config.finite_records)
            with np.errstate(all="ignore"):
                data = self.config.training_data()
                risk = model.risk(*checkpoint, *data, self.config.alpha, self.config.activation) if finite else np.inf
            if records_finite and np.isfinite(risk) and risk < _DIVERGED_RISK:
                return [
                    Damage("progress", None, None, f"status is diverged but its last state has the risk {risk:.3g}")
                ]
            return []
        if count and not all(np.array_equal(u, v) for u, v in zip(checkpoint, self.snapshot(count - 1))):
            slot = int(self._progress["slot"])
            return [
                Damage(
                    "progress",
                    None,
                    None,
                    f"the checkpoint in use (slot {slot}) is not the state of the last snapshot at step {self.step}",
                )
            ]
        if status == "dead" and count:
            a, w, b = self.snapshot(count - 1)
            x, _ = self.config.training_data()
            if self.config.activation != "relu" or np.any(model.preactivations(w, b, x) > 0):
                return [Damage("progress", None, None, "status is dead but neurons are active on the data")]
        final_step = self.attrs.get("final_step")
        if status == "complete" and final_step is not None and final_step != self.config.n_steps:
            return [
                Damage(
                    "progress",
                    None,
                    None,
                    f"final_step={final_step!r} on a complete run of {self.config.n_steps} steps",
                )
            ]
        return []


_STEP_REASON = "its steps are not the schedule's (values altered)"
_DIVERGED_RISK = 1e150  # a diverged run's last state: a non-finite number, or a risk beyond any trained one
_RETRAIN_FROM_SCRATCH = (
    "Its results cannot be trusted: delete it, or retrain it from scratch (train(config, resume=False), "
    "`relunet train … --no-resume`)"
)


def _schedule_mismatch(steps: np.ndarray, schedule: np.ndarray, status, last: bool = True) -> int | None:
    """Index of the first stored step that is not the schedule's (a dead or diverged run's final one may
    be off schedule), or None."""
    expected = schedule[: steps.size]
    bad = np.flatnonzero(steps[: expected.size] != expected)
    if steps.size > expected.size:
        bad = np.append(bad, expected.size)
    if bad.size and last and status in ("dead", "diverged") and bad[0] == steps.size - 1:
        if steps.size < 2 or steps[-1] > steps[-2]:
            return None
    return int(bad[0]) if bad.size else None


def _reason(error: Exception) -> str:
    if "checksum" in str(error).lower():
        return "fails its checksum (its bytes were altered, cut short or added to)"
    return f"cannot be decoded ({type(error).__name__}: {error})"


def _checked_identity(path: Path, attrs: dict) -> TrainConfig:
    """The run's config, after checking the format, the config against its hash and the run id."""

    def corrupt(what: str) -> CorruptRunError:
        return CorruptRunError(f"run {str(path)!r} is damaged: {what}. {_RETRAIN_FROM_SCRATCH}")

    if attrs.get("format") != FORMAT:
        raise NotARunError(
            f"path={str(path)!r} is not a run folder: attribute format is {attrs.get('format')!r}, expected {FORMAT!r}"
        )
    version = attrs.get("format_version", 1)
    if version not in READABLE_FORMATS:
        raise corrupt(f"format_version={version!r} is not one of {READABLE_FORMATS}")
    if version < 3 and "engine_revision" in attrs:
        raise corrupt(f"format_version={version!r} but it records an engine revision, which only format 3 does")
    try:
        config = TrainConfig.from_dict(attrs["config"])
    except (KeyError, TypeError, AttributeError, ConfigError) as error:
        raise corrupt(f"its config in zarr.json is not valid ({error})") from error
    if attrs.get("config_sha256") != config_digest(attrs["config"]):
        raise corrupt("the config in zarr.json does not match its config_sha256 (edited or damaged)")
    if attrs.get("run_id") != config.run_id():
        raise corrupt(f"run_id={attrs.get('run_id')!r} is not its config's run id {config.run_id()!r}")
    derived = dict(
        zip(("alpha", "beta1", "beta2"), config.scales), normalised_learning_rate=config.normalised_learning_rate
    )
    for key, value in derived.items():
        if key in attrs and attrs[key] != value:
            raise corrupt(f"{key}={attrs[key]!r} in zarr.json is not its config's {value!r}")
    if path.name != config.run_id():
        raise corrupt(f"the folder is named {path.name!r}, not its run id {config.run_id()!r}")
    return config


def _checked_layout(path: Path, group: zarr.Group, config: TrainConfig, format_version: int) -> dict[str, zarr.Array]:
    """Every array of the run, after checking its shape, dtype, chunking (whole rows: any number of them) and,
    from format 3, its checksum codec."""
    arrays = {}
    for name, (shape, _, dtype) in _layout(config, format_version).items():

        def corrupt(what: str, name: str = name) -> CorruptRunError:
            return CorruptRunError(
                f"run {str(path)!r} is damaged: array {name} {what}. {_RETRAIN_FROM_SCRATCH}", repairable=False
            )

        try:
            array = group[name]
        except (KeyError, ValueError, OSError) as error:
            raise corrupt(f"is missing or unreadable ({error})") from error
        if not isinstance(array, zarr.Array):
            raise corrupt("is not an array")
        if (array.shape, str(array.dtype)) != (shape, dtype) or array.chunks[1:] != shape[1:]:
            raise corrupt(
                f"has shape {array.shape}, dtype {array.dtype}, chunks {array.chunks}; its config needs shape "
                f"{shape}, dtype {dtype}, chunks of whole rows"
            )
        checksummed = any(isinstance(codec, Crc32cCodec) for codec in array.compressors)
        if format_version >= 3 and not checksummed:
            raise corrupt("lost its crc32c checksum codec")
        if format_version < 3 and checksummed:
            raise corrupt(f"has format 3's checksum codec in a store that says format_version={format_version}")
        arrays[name] = array
    return arrays


def _looks_like_run(path: Path) -> bool:
    """A visible folder with a zarr.json or any of a run's groups (a damaged run is listed, not skipped)."""
    if path.name.startswith(".") or not path.is_dir():
        return False
    return any((path / part).exists() for part in ("zarr.json", "records", "snapshots", "checkpoint"))


def open_run(path, check: bool = True) -> Run:
    """Open a run folder for reading; raises NotARunError for anything else and CorruptRunError for a damaged
    run (``check=False`` skips the progress and missing-chunk checks — for ``inspect_run`` and repairs)."""
    path = Path(path)
    if not path.is_dir():
        raise NotARunError(f"path={str(path)!r} is not a run folder: no such directory")
    if not (path / "zarr.json").is_file():
        if _looks_like_run(path):
            raise CorruptRunError(f"run {str(path)!r} is damaged: its zarr.json is missing. {_RETRAIN_FROM_SCRATCH}")
        raise NotARunError(f"path={str(path)!r} is not a run folder: it must hold a relunet zarr run store (zarr.json)")
    try:
        group = zarr.open_group(zarr.storage.LocalStore(path, read_only=True), mode="r")
        dict(group.attrs)  # attributes that are not JSON fail here
    except Exception as error:  # unreadable JSON, wrong node type
        raise CorruptRunError(
            f"run {str(path)!r} is damaged: its zarr.json cannot be read as a zarr group ({type(error).__name__}: "
            f"{error}). {_RETRAIN_FROM_SCRATCH}"
        ) from error
    try:
        return Run(path, group, check=check)
    except NotARunError:
        raise
    except Exception as error:  # metadata of the wrong type anywhere: damage, never a traceback
        raise CorruptRunError(f"run {str(path)!r} is damaged: {type(error).__name__}: {error}") from error


@dataclasses.dataclass(frozen=True)
class Inspection:
    """What ``inspect_run`` found: the run (None when it cannot be opened at all) and its damage."""

    path: Path
    run: Run | None
    damage: tuple[Damage, ...]
    error: NotARunError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.damage

    def summary(self) -> str:
        if self.error is not None:
            return str(self.error)
        return "; ".join(item.describe() for item in self.damage) or "ok"


def inspect_run(path) -> Inspection:
    """Open a run and read every committed chunk: all its damage, never an exception for a damaged run."""
    path = Path(path)
    try:
        run = open_run(path, check=False)
    except NotARunError as error:
        return Inspection(path, None, (), error)
    return Inspection(path, run, tuple(run.damage()))


class UnreadableRunWarning(UserWarning):
    """A run folder that cannot be opened (damaged): left out of ``list_runs``, never guessed at."""


def scan_runs(out_dir) -> list[tuple[Path, Run | NotARunError]]:
    """Every run folder directly inside ``out_dir``: (path, the opened Run or the error saying why it cannot be
    read), sorted by path. A missing ``out_dir`` is a NotARunError."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        why = "it is a file" if out_dir.exists() else "no such directory"
        raise NotARunError(f"out_dir={str(out_dir)!r} is not a folder of runs: {why}")
    found: list[tuple[Path, Run | NotARunError]] = []
    for path in sorted(out_dir.iterdir()):
        if _looks_like_run(path):
            try:
                found.append((path, open_run(path)))
            except NotARunError as error:
                found.append((path, error))
    return found


def list_runs(out_dir) -> list[Run]:
    """All readable runs directly inside ``out_dir``, sorted by (η, m, γ, γ′, seed). A damaged run is left out
    with an ``UnreadableRunWarning`` naming it and why; the others are listed. A missing folder is an error."""
    runs = []
    for _, found in scan_runs(out_dir):
        if isinstance(found, Run):
            runs.append(found)
        else:
            warnings.warn(f"left out: {found}", UnreadableRunWarning, stacklevel=2)
    return sorted(runs, key=run_sort_key)


def run_sort_key(run: Run) -> tuple:
    c = run.config
    return (c.learning_rate, c.m, c.gamma, c.gamma_prime, c.seed, run.run_id)


def _every_chunk_written():
    """zarr skips a chunk equal to its fill value (step 0 alone, a NaN checkpoint): the store writes them all,
    so that a missing chunk file always means damage."""
    return zarr.config.set({"array.write_empty_chunks": True})


class RunWriter:
    """Writes one run: creation, buffered appends, atomic checkpoints, status changes, repairs."""

    def __init__(self, path: Path):
        self.path = path
        with _every_chunk_written():
            self.group = zarr.open_group(zarr.storage.LocalStore(path), mode="r+")
        self.progress = dict(self.group["checkpoint"].attrs)
        self._pending_records = 0  # written past the committed count, not yet checkpointed
        self._pending_snapshots = 0

    @classmethod
    def create(cls, out_dir: Path, config: TrainConfig, state) -> RunWriter:
        """Build the store in a temporary folder with the step-0 state checkpointed, then rename it in.

        Nothing is recorded yet (n_records = n_snapshots = 0); the trainer records step 0 first.
        """
        run_id = config.run_id()
        final = out_dir / run_id
        tmp = out_dir / f".tmp-{run_id}-{uuid.uuid4().hex[:8]}"
        try:
            group = zarr.open_group(zarr.storage.LocalStore(tmp), mode="w")
            alpha, beta1, beta2 = config.scales
            group.update_attributes(
                {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "run_id": run_id,
                    "config": config.identity(),
                    "config_sha256": config.digest(),
                    "engine_revision": engine_revision(),
                    "alpha": alpha,
                    "beta1": beta1,
                    "beta2": beta2,
                    "normalised_learning_rate": config.normalised_learning_rate,
                    "versions": package_versions(config.backend),
                    "git_commit": git_commit(),
                    "created": now(),
                    "finished": None,
                    "status": "running",
                    "status_message": "",
                }
            )
            for name, (shape, chunks, dtype) in _layout(config, FORMAT_VERSION).items():
                # trained float64 weights barely compress: snapshots and checkpoints are stored raw (fast)
                compressed = name.startswith("records/") or name == "snapshots/step"
                group.create_array(
                    name,
                    shape=shape,
                    chunks=chunks,
                    dtype=dtype,
                    fill_value=0 if dtype == "int64" else np.nan,
                    compressors=[ZstdCodec(level=0), Crc32cCodec()] if compressed else [Crc32cCodec()],
                )
            group["checkpoint"].update_attributes(
                {"slot": 1, "step": 0, "n_records": 0, "n_snapshots": 0, "wall_seconds": 0.0}
            )
            cls(tmp).checkpoint(step=0, state=state, wall_seconds=0.0)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(final)

    def write(self, records: dict | None = None, snapshots=None) -> None:
        """Write buffered records/snapshots just past the committed ones (not yet committed)."""
        if records is not None and len(records["step"]):
            start = int(self.progress["n_records"]) + self._pending_records
            stop = start + len(records["step"])
            with _every_chunk_written():
                for name in RECORD_FIELDS:
                    self.group["records"][name][start:stop] = records[name]
            self._pending_records += stop - start
        if snapshots is not None and len(snapshots[0]):
            start = int(self.progress["n_snapshots"]) + self._pending_snapshots
            stop = start + len(snapshots[0])
            with _every_chunk_written():
                for name, values in zip(SNAPSHOT_FIELDS, snapshots):
                    self.group["snapshots"][name][start:stop] = values
            self._pending_snapshots += stop - start

    def checkpoint(self, step: int, state, wall_seconds: float) -> None:
        """Commit: state into the free slot, then one atomic write of the new progress."""
        slot = 1 - int(self.progress["slot"])
        ckpt = self.group["checkpoint"]
        with _every_chunk_written():
            for name, values in zip(PARAMETERS, state):
                ckpt[name][slot] = values
        progress = {
            "slot": slot,
            "step": int(step),
            "n_records": int(self.progress["n_records"]) + self._pending_records,
            "n_snapshots": int(self.progress["n_snapshots"]) + self._pending_snapshots,
            "wall_seconds": float(wall_seconds),
        }
        ckpt.attrs.put(progress)
        self.progress = progress
        self._pending_records = 0
        self._pending_snapshots = 0

    def set_status(self, status: str, message: str = "", **extra) -> None:
        assert status in STATUSES, status
        update = {"status": status, "status_message": message, **extra}
        if status in TERMINAL:
            update["finished"] = now()
        self.group.update_attributes(update)  # one write of the group's zarr.json

    def rewind(self, run: Run, damage: list[Damage], initial_state) -> str:
        """Turn damage in the trained data into a resumable run: the last snapshot before every damaged record
        and snapshot (the initial state when there is none) becomes the checkpoint, the damaged chunks are
        removed (they are rewritten by the resumed training), and the run is marked interrupted. Returns what
        was done, for a warning. The damaged chunks' data is recomputed bit for bit: the engine restarts at
        snapshot steps, so a resumed run equals an uninterrupted one."""
        config = run.config
        record_steps, snapshot_steps = config.record_steps(), config.snapshot_steps()
        progress = run.progress
        counts_known = not any(item.array == "progress" for item in damage)
        if not counts_known:  # scan for intact data below
            record_limit, snapshot_limit = record_steps.size, snapshot_steps.size
        else:
            record_limit, snapshot_limit = int(progress["n_records"]), int(progress["n_snapshots"])
            if run.status in ("dead", "diverged"):  # their last snapshot is where they stopped, maybe off schedule
                snapshot_limit -= 1
        for item in damage:
            if item.first_row is not None and item.array.startswith("records/"):
                record_limit = min(record_limit, item.first_row)
            if item.first_row is not None and item.array.startswith("snapshots/"):
                snapshot_limit = min(snapshot_limit, item.first_row)
        if not counts_known:  # the intact prefix of the snapshot and record steps
            snapshot_limit = min(snapshot_limit, _intact_prefix(run, "snapshots", snapshot_steps, snapshot_limit))
            record_limit = min(record_limit, _intact_prefix(run, "records", record_steps, record_limit))
        index = snapshot_limit - 1
        while index >= 0 and np.searchsorted(record_steps, snapshot_steps[index], side="right") > record_limit:
            index -= 1
        state = None
        while index >= 0:  # a snapshot whose chunk is damaged in a way the checks missed is skipped too
            try:
                state = run.snapshot(index) if counts_known else _snapshot_unchecked(run, index)
                break
            except CorruptRunError:
                index -= 1
        for item in damage:
            if item.chunk is not None and item.array != "progress":
                with contextlib.suppress(FileNotFoundError):
                    run.chunk_file(item.array, item.chunk).unlink()
        if state is None:
            step, n_records, n_snapshots, state = 0, 0, 0, initial_state
        else:
            step = int(snapshot_steps[index])
            n_records = int(np.searchsorted(record_steps, step, side="right"))
            n_snapshots = index + 1
        slot = 1 - int(progress["slot"]) if progress.get("slot") in (0, 1) else 0
        ckpt = self.group["checkpoint"]
        with _every_chunk_written():
            for name, values in zip(PARAMETERS, state):
                ckpt[name][slot] = values
        self.progress = {
            "slot": slot,
            "step": step,
            "n_records": n_records,
            "n_snapshots": n_snapshots,
            "wall_seconds": float(progress.get("wall_seconds", 0.0)) if step else 0.0,
        }
        ckpt.attrs.put(self.progress)
        what = "; ".join(item.describe() for item in damage)
        action = f"resumed from step {step} (snapshot {index})" if index >= 0 else "retrained from step 0"
        self.set_status("interrupted", f"repaired: {what}; {action}", finished=None)
        return f"run {str(self.path)!r} was damaged ({what}): {action}, the rest is recomputed"


def _intact_prefix(run: Run, group: str, schedule: np.ndarray, limit: int) -> int:
    """How many leading rows (at most ``limit``) of every array in ``group`` ('records' or 'snapshots') are
    intact: their chunk files exist and decode, and their steps are the schedule's (checked chunk by chunk)."""
    arrays = {name: array for name, array in run._arrays.items() if name.startswith(f"{group}/")}
    prefix = limit
    for name, array in arrays.items():
        per_chunk = array.chunks[0]
        for chunk in range(-(-min(limit, prefix) // per_chunk)):
            lo, hi = chunk * per_chunk, min(limit, (chunk + 1) * per_chunk)
            try:
                if not run.chunk_file(name, chunk).is_file():
                    raise FileNotFoundError(name, chunk)
                values = array[lo:hi]
            except Exception:
                prefix = min(prefix, lo)
                break
            if name.endswith("/step"):
                bad = np.flatnonzero(values != schedule[lo:hi])
                if bad.size:
                    prefix = min(prefix, lo + int(bad[0]))
                    break
    return prefix


def _snapshot_unchecked(run: Run, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snapshot ``index`` read past the (unknown) progress count, its chunks still checksummed."""
    a, w, b = (run._read(f"snapshots/{name}", index, index + 1)[0] for name in PARAMETERS)
    if not all(np.isfinite(values).all() for values in (a, w, b)):
        raise CorruptRunError(f"snapshot {index} holds non-finite values")
    return a, w, b


def remove_run(path: Path) -> None:
    """Delete a run folder (used by train(..., resume=False))."""
    trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def clean_temporaries(out_dir: Path, run_id: str) -> None:
    """Remove half-built folders of ``run_id`` left by a killed process (call under the run lock)."""
    for leftover in out_dir.glob(f".tmp-{run_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out_dir.glob(f".trash-{run_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
