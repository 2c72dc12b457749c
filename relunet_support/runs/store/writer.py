"""Writing a run, so that a crash at any moment loses nothing; and repairing a damaged one.

Crash safety. zarr ≥ 3.1 writes every file to a temporary name and renames it, so each chunk
and each attribute document is replaced atomically. Records and snapshots beyond the counts in
the checkpoint attributes are ignored by readers and rewritten identically on resume. A new
checkpoint writes the state into the slot not in use, then switches ``slot`` in one atomic
attribute write. A new run is built in a hidden temporary folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from relunet_support import engine  # imports no numba
from relunet_support.errors import CorruptRunError
from relunet_support.files import write_text_atomically
from relunet_support.runs.config import TrainConfig
from relunet_support.runs.revision import engine_revision
from relunet_support.runs.store import manifest
from relunet_support.runs.store.checks import Damage
from relunet_support.runs.store.files import damaged_group_documents
from relunet_support.runs.store.layout import (
    FORMAT,
    FORMAT_VERSION,
    PARAMETERS,
    RECORD_FIELDS,
    SNAPSHOT_FIELDS,
    STATUSES,
    TERMINAL,
    _layout,
)
from relunet_support.runs.store.provenance import git_commit, now, package_versions
from relunet_support.runs.store.reader import Run


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
        self.progress: dict = dict(self.group["checkpoint"].attrs)
        self.manifest: dict[str, dict[str, str]] = {
            name: dict(chunks) for name, chunks in self.progress.get("manifest", {}).items()
        }
        self._touched: set[tuple[str, int]] = set()  # chunks written since the last commit
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
                    "cpu_target": engine.cpu_target(),
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
                    manifest.ATTRIBUTE: True,
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
                    self._touch(f"records/{name}", start, stop)
            self._pending_records += stop - start
        if snapshots is not None and len(snapshots[0]):
            start = int(self.progress["n_snapshots"]) + self._pending_snapshots
            stop = start + len(snapshots[0])
            with _every_chunk_written():
                for name, values in zip(SNAPSHOT_FIELDS, snapshots):
                    self.group["snapshots"][name][start:stop] = values
                    self._touch(f"snapshots/{name}", start, stop)
            self._pending_snapshots += stop - start

    def _touch(self, name: str, start: int, stop: int) -> None:
        per_chunk = self.group[name].chunks[0]
        self._touched.update((name, chunk) for chunk in range(start // per_chunk, -(-stop // per_chunk)))

    def _digests(self, progress: dict, chunks) -> dict[str, dict[str, str]]:
        """The manifest with the digests of ``chunks`` ((array name, chunk index)) recomputed from their values
        committed by ``progress`` (``manifest.py``)."""
        updated = {name: dict(entries) for name, entries in self.manifest.items()}
        run_id = self.group.attrs["run_id"]
        for name, chunk in sorted(chunks):
            array = self.group[name]
            lo, hi = manifest.committed_rows(name, chunk, array.chunks[0], progress)
            if hi > lo:
                updated.setdefault(name, {})[str(chunk)] = manifest.chunk_digest(run_id, name, chunk, array[lo:hi])
        return updated

    def checkpoint(self, step: int, state, wall_seconds: float) -> None:
        """Commit: state into the free slot, then one atomic write of the new progress."""
        slot = 1 - int(self.progress["slot"])
        ckpt = self.group["checkpoint"]
        with _every_chunk_written():
            for name, values in zip(PARAMETERS, state):
                ckpt[name][slot] = values
        progress: dict = {
            "slot": slot,
            "step": int(step),
            "n_records": int(self.progress["n_records"]) + self._pending_records,
            "n_snapshots": int(self.progress["n_snapshots"]) + self._pending_snapshots,
            "wall_seconds": float(wall_seconds),
        }
        self._touched.update((f"checkpoint/{name}", slot) for name in PARAMETERS)
        self.manifest = progress["manifest"] = self._digests(progress, self._touched)
        ckpt.attrs.put(progress)  # the counts and the manifest in one write
        self.progress = progress
        self._pending_records = 0
        self._pending_snapshots = 0
        self._touched = set()

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
        if self.group.attrs.get(manifest.ATTRIBUTE) and not manifest.is_manifest(progress.get("manifest")):
            # the manifest is lost: a chunk's CRC cannot say whose it is, so nothing stored is kept (from step 0)
            record_limit = snapshot_limit = 0
        elif not counts_known:  # the intact prefix of the snapshot and record steps
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
        if self.group.attrs.get(manifest.ATTRIBUTE):  # every kept chunk's digest anew: the damage is gone
            self.manifest = {}
            kept = {(name, chunk) for name, chunk in _all_chunks(self.group, self.progress)}
            self.progress["manifest"] = self.manifest = self._digests(self.progress, kept)
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


def rewrite_group_documents(path: Path) -> list[str]:
    """Replace each damaged group document of the store (``reader.damaged_group_documents``) by an empty zarr
    group: records' and snapshots' hold nothing else; checkpoint's then lacks the progress counts, which the
    repair re-derives from the intact data. The groups rewritten."""
    broken = damaged_group_documents(path)
    for group in broken:
        (path / group / "zarr.json").unlink(missing_ok=True)  # a link or a FIFO there is removed, not followed
        write_text_atomically(path / group / "zarr.json", json.dumps(_EMPTY_GROUP))
    return broken


_EMPTY_GROUP = {"zarr_format": 3, "node_type": "group", "attributes": {}}


def _all_chunks(group, progress: dict):
    """(array name, chunk index) of every chunk holding committed rows under ``progress``."""
    for folder in ("records", "snapshots", "checkpoint"):
        for name, array in group[folder].arrays():
            per_chunk = array.chunks[0]
            for chunk in range(-(-array.shape[0] // per_chunk)):
                lo, hi = manifest.committed_rows(f"{folder}/{name}", chunk, per_chunk, progress)
                if hi > lo:
                    yield f"{folder}/{name}", chunk


def remove_run(path: Path) -> None:
    """Delete a run folder (used by train(..., resume=False))."""
    trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)
