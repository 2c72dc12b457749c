"""Reading a run, so that damage is never taken for data.

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

from pathlib import Path

import numpy as np
import zarr

from relunet_support.errors import CorruptRunError, NotARunError
from relunet_support.network import model
from relunet_support.runs.store import manifest
from relunet_support.runs.store.checks import (
    _RETRAIN_FROM_SCRATCH,
    Damage,
    _checked_identity,
    _checked_layout,
    _progress_problems,
)
from relunet_support.runs.store.files import check_files
from relunet_support.runs.store.layout import PARAMETERS, RECORD_FIELDS

_STEP_REASON = "its steps are not the schedule's (values altered)"
_DIVERGED_RISK = 1e150  # a diverged run's last state: a non-finite number, or a risk beyond any trained one


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
        # the digests of the committed chunks (manifest.py); None for a store made before them
        self._manifest = self._progress.get("manifest") if self.attrs.get(manifest.ATTRIBUTE) else None
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
            foreign = self._foreign(name, chunk, lo, hi, parts[-1])
            if foreign:
                raise self._corrupt(foreign)
        return np.concatenate(parts) if parts else array[0:0]

    def _foreign(self, name: str, chunk: int, lo: int, hi: int, values: np.ndarray) -> Damage | None:
        """Damage where rows lo..hi are the chunk's committed rows and their digest is not the one committed
        (``manifest.py``): another run's chunk, or an older copy of this one. None otherwise (also when only part
        of the chunk was read, or the store keeps no manifest)."""
        if self._manifest is None:
            return None
        per_chunk = self._arrays[name].chunks[0]
        if (lo, hi) != manifest.committed_rows(name, chunk, per_chunk, self._progress):
            return None
        expected = self._manifest.get(name, {}).get(str(chunk))
        if expected == manifest.chunk_digest(self.run_id, name, chunk, values):
            return None
        why = "has no digest in the manifest" if expected is None else "is not the data this run committed"
        return Damage(name, chunk, chunk * per_chunk, f"{why} (another run's chunk, or an older copy of this one)")

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
        if not problems and self.attrs.get(manifest.ATTRIBUTE) and not manifest.is_manifest(self._manifest):
            problems = ["the checkpoint's chunk manifest is missing or malformed"]
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
            foreign = self._foreign(name, chunk, lo, hi, values)
            if foreign:
                found.append(foreign)
                continue
            if name in ("records/step", "snapshots/step"):
                schedule = self.config.record_steps() if name == "records/step" else self.config.snapshot_steps()
                last = hi == (self.n_records if name == "records/step" else self.n_snapshots)
                if _schedule_mismatch(values, schedule[lo:], self.status, last=last) is not None:
                    found.append(Damage(name, chunk, lo, _STEP_REASON))
        if not found:
            found += self._state_damage() or self._start_damage()
        return found

    def _start_damage(self) -> list[Damage]:
        """Snapshot 0 against the initial state re-drawn from the config's seed: they must be equal bit for bit."""
        if not self.n_snapshots or self.format_version < 3:
            return []
        if all(np.array_equal(u, v) for u, v in zip(self.snapshot(0), self.config.initial_parameters())):
            return []
        return [Damage("snapshots/a", 0, 0, "snapshot 0 is not the initial state drawn from the config's seed")]

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
    check_files(path)
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
