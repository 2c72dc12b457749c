"""The run store: one zarr (v3) group per run, written so that a crash at any moment loses nothing.

Layout of ``<out_dir>/<run-id>/``::

    zarr.json            attrs: format, run_id, config, versions, git commit, status, times, scales
    records/             step, time (= η·step), risk, f_min, f_max, rd_w, rd_a — preallocated to the full schedule
    snapshots/           step (q,), a, w, b (q, m) — chunks of about 1 MiB, read lazily
    checkpoint/          a, w, b (2, m): two slots; attrs {slot, step, n_records, n_snapshots, ...}

Crash safety. zarr ≥ 3.1 writes every file to a temporary name and renames it, so each chunk
and each attribute document is replaced atomically. Records and snapshots beyond the counts in
the checkpoint attributes are ignored by readers and rewritten identically on resume. A new
checkpoint writes the state into the slot not in use, then switches ``slot`` in one atomic
attribute write. A new run is built in a hidden temporary folder and renamed into place.
No pickle anywhere: arrays are zarr, metadata is JSON.
"""

from __future__ import annotations

import contextlib
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

from relunet_support.errors import NotARunError, RunLockedError
from relunet_support.runs.config import TrainConfig

FORMAT = "relunet-run"
FORMAT_VERSION = 2
RECORD_FIELDS = ("step", "time", "risk", "f_min", "f_max", "rd_w", "rd_a")
STATUSES = ("running", "interrupted", "complete", "diverged", "dead")
TERMINAL = ("complete", "diverged", "dead")
_RECORD_CHUNK = 16384
_SNAPSHOT_CHUNK_BYTES = 2**20


def snapshots_per_chunk(m: int, n_snapshots: int) -> int:
    """Snapshots per chunk: about 1 MiB per chunk, so a lazy read of one snapshot stays cheap."""
    return int(max(1, min(n_snapshots, _SNAPSHOT_CHUNK_BYTES // (8 * m))))


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
    if backend == "cuda":
        from relunet_support.engine import _cuda

        versions.update(_cuda.describe())
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


class Run:
    """A run on disk. Records are small and read whole; snapshots are read one at a time."""

    def __init__(self, path: Path, group: zarr.Group):
        self.path = Path(path)
        self._group = group
        self.attrs = dict(group.attrs)
        self.config = TrainConfig.from_dict(self.attrs["config"])
        self._progress = dict(group["checkpoint"].attrs)
        self._cached_block: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._snapshot_arrays: tuple | None = None  # the zarr arrays a, w, b, opened on first use
        self._records: dict[str, np.ndarray] | None = None
        self._snapshot_steps: np.ndarray | None = None

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
    def step(self) -> int:
        """The last step saved by a checkpoint."""
        return int(self._progress["step"])

    @property
    def n_records(self) -> int:
        return int(self._progress["n_records"])

    @property
    def n_snapshots(self) -> int:
        return int(self._progress["n_snapshots"])

    @property
    def records(self) -> dict[str, np.ndarray]:
        """Equal-length arrays step, time (= η·step), risk, f_min, f_max and the relative distances
        rd_w = ‖(w, b) − (w₀, b₀)‖/‖(w₀, b₀)‖, rd_a = ‖a − a₀‖/‖a₀‖, up to the last checkpoint
        (read once; ``refresh()`` gives a Run with newer records of a run still training)."""
        if self._records is None:
            count = self.n_records
            stored = self._group["records"]
            present = set(stored.array_keys())
            # stores of an older format lack newer fields (format 1: no rd_w, rd_a): nan there
            self._records = {
                name: stored[name][:count] if name in present else np.full(count, np.nan) for name in RECORD_FIELDS
            }
            for values in self._records.values():
                values.flags.writeable = False
        return self._records

    @property
    def snapshot_steps(self) -> np.ndarray:
        if self._snapshot_steps is None:
            self._snapshot_steps = self._group["snapshots"]["step"][: self.n_snapshots]
            self._snapshot_steps.flags.writeable = False
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
        if self._snapshot_arrays is None:
            snaps = self._group["snapshots"]
            self._snapshot_arrays = tuple(snaps[name] for name in ("a", "w", "b"))
        per_chunk = self._snapshot_arrays[0].chunks[0]
        block = index // per_chunk
        if self._cached_block is None or self._cached_block[0] != block:
            start, stop = block * per_chunk, min((block + 1) * per_chunk, count)
            try:
                self._cached_block = (block, tuple(array[start:stop] for array in self._snapshot_arrays))
            except Exception as error:  # a damaged chunk file: say which run and which snapshots
                raise NotARunError(
                    f"run {str(self.path)!r}: snapshots {start}..{stop - 1} cannot be read "
                    f"({type(error).__name__}: {error}); the snapshot files are damaged"
                ) from error
        row = index - block * per_chunk
        return tuple(values[row].copy() for values in self._cached_block[1])

    def checkpoint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full-precision (a, w, b) at ``self.step``."""
        slot = int(self._progress["slot"])
        ckpt = self._group["checkpoint"]
        return ckpt["a"][slot], ckpt["w"][slot], ckpt["b"][slot]

    def refresh(self) -> Run:
        """Re-read attributes and progress (to follow a run that is still training)."""
        return open_run(self.path)


def _is_run_dir(path: Path) -> bool:
    return (path / "zarr.json").is_file() and (path / "checkpoint").is_dir()


def open_run(path) -> Run:
    """Open a run folder for reading; raises NotARunError for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise NotARunError(f"path={str(path)!r} is not a run folder: no such directory")
    if not _is_run_dir(path):
        raise NotARunError(
            f"path={str(path)!r} is not a run folder: it must hold a relunet zarr run store (zarr.json and checkpoint/)"
        )
    try:
        group = zarr.open_group(zarr.storage.LocalStore(path, read_only=True), mode="r")
        if group.attrs.get("format") != FORMAT:
            raise NotARunError(
                f"path={str(path)!r} is not a run folder: attribute format is "
                f"{group.attrs.get('format')!r}, expected {FORMAT!r}"
            )
        return Run(path, group)
    except NotARunError:
        raise
    except Exception as error:  # corrupt metadata, missing arrays, invalid config
        raise NotARunError(f"path={str(path)!r} is not a readable run folder: {error}") from error


class UnreadableRunWarning(UserWarning):
    """A run folder that cannot be opened (corrupt metadata): left out of a listing, never guessed at."""


def list_runs(out_dir) -> list[Run]:
    """All readable runs directly inside ``out_dir``, sorted by (η, m, γ, γ′, seed). A run folder that
    cannot be opened is left out with an ``UnreadableRunWarning`` naming it and why; the others are listed."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    runs = []
    for path in sorted(out_dir.iterdir()):
        if path.name.startswith(".") or not _is_run_dir(path):
            continue
        try:
            runs.append(open_run(path))
        except NotARunError as error:
            warnings.warn(f"left out: {error}", UnreadableRunWarning, stacklevel=2)
    return sorted(
        runs,
        key=lambda r: (
            r.config.learning_rate,
            r.config.m,
            r.config.gamma,
            r.config.gamma_prime,
            r.config.seed,
            r.run_id,
        ),
    )


class RunWriter:
    """Writes one run: creation, buffered appends, atomic checkpoints, status changes."""

    def __init__(self, path: Path):
        self.path = path
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
        n_records = config.record_steps().size
        n_snapshots = config.snapshot_steps().size
        m = config.m
        try:
            group = zarr.open_group(zarr.storage.LocalStore(tmp), mode="w")
            alpha, beta1, beta2 = config.scales
            group.update_attributes(
                {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "run_id": run_id,
                    "config": config.to_dict(),
                    "config_sha256": config.digest(),
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
            records = group.create_group("records")
            for name in RECORD_FIELDS:
                dtype = np.int64 if name == "step" else np.float64
                fill = 0 if name == "step" else np.nan
                records.create_array(
                    name, shape=(n_records,), chunks=(min(n_records, _RECORD_CHUNK),), dtype=dtype, fill_value=fill
                )
            snaps = group.create_group("snapshots")
            snaps.create_array(
                "step", shape=(n_snapshots,), chunks=(min(n_snapshots, _RECORD_CHUNK),), dtype=np.int64, fill_value=0
            )
            per_chunk = snapshots_per_chunk(m, n_snapshots)
            for name in ("a", "w", "b"):
                # trained float64 weights barely compress; storing them raw keeps writes and reads fast
                snaps.create_array(
                    name,
                    shape=(n_snapshots, m),
                    chunks=(per_chunk, m),
                    dtype=np.float64,
                    fill_value=np.nan,
                    compressors=None,
                )
            ckpt = group.create_group("checkpoint")
            for name in ("a", "w", "b"):
                ckpt.create_array(
                    name, shape=(2, m), chunks=(1, m), dtype=np.float64, fill_value=np.nan, compressors=None
                )
            ckpt.update_attributes({"slot": 1, "step": 0, "n_records": 0, "n_snapshots": 0, "wall_seconds": 0.0})
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
            for name in RECORD_FIELDS:
                self.group["records"][name][start:stop] = records[name]
            self._pending_records += stop - start
        if snapshots is not None and len(snapshots[0]):
            steps, a, w, b = snapshots
            start = int(self.progress["n_snapshots"]) + self._pending_snapshots
            stop = start + len(steps)
            snaps = self.group["snapshots"]
            snaps["step"][start:stop] = steps
            snaps["a"][start:stop] = a
            snaps["w"][start:stop] = w
            snaps["b"][start:stop] = b
            self._pending_snapshots += stop - start

    def checkpoint(self, step: int, state, wall_seconds: float) -> None:
        """Commit: state into the free slot, then one atomic write of the new progress."""
        slot = 1 - int(self.progress["slot"])
        ckpt = self.group["checkpoint"]
        for name, values in zip(("a", "w", "b"), state):
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
