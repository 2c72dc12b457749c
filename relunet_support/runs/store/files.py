"""The files of a run store, checked before zarr reads any: every entry a folder or a regular file (a FIFO,
a device, a socket or a link would hang a read or point outside the run), every zarr.json of a bounded size, and
the three group documents (records, snapshots, checkpoint — the last holds the progress counts) readable."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from relunet_support.errors import CorruptRunError
from relunet_support.files import read_bytes
from relunet_support.runs.store.checks import _RETRAIN_FROM_SCRATCH

MAX_METADATA_BYTES = 64 << 20  # a zarr.json (custom data live in the config: 10⁶ points of d = 4 fit)
MAX_ENTRIES = 1_000_000  # files and folders in one run store: beyond any schedule's chunks


def check_files(path: Path) -> None:
    """Every entry of the store a folder or a regular file — never a FIFO, a device, a socket or a link, which
    would hang zarr's reads or point outside the run — and every zarr.json of a bounded size: else a
    CorruptRunError naming the entry (a chunk file can be removed for ``train`` to repair)."""
    count = 0
    for folder, folders, files in os.walk(path, followlinks=False):
        for name in (*folders, *files):
            count += 1
            entry = Path(folder, name)
            try:
                info = entry.lstat()
            except OSError:
                continue  # removed meanwhile: the checks that read it say so
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file (a FIFO, a device …)"
                advice = (
                    _RETRAIN_FROM_SCRATCH
                    if name == "zarr.json"
                    else "Remove it: `relunet train` then retrains what it held from the last intact snapshot."
                )
                raise CorruptRunError(f"run {str(path)!r} is damaged: {entry} is {kind}. {advice}")
            if name == "zarr.json" and info.st_size > MAX_METADATA_BYTES:
                raise CorruptRunError(
                    f"run {str(path)!r} is damaged: {entry} holds {info.st_size:,} bytes, more than any run's "
                    f"metadata ({MAX_METADATA_BYTES:,}). {_RETRAIN_FROM_SCRATCH}"
                )
        if count > MAX_ENTRIES:
            raise CorruptRunError(f"run {str(path)!r} is damaged: it holds more than {MAX_ENTRIES:,} files")
    broken = damaged_group_documents(path)
    if broken and (path / "zarr.json").is_file():
        raise CorruptRunError(
            f"run {str(path)!r} is damaged: {', '.join(f'{group}/zarr.json' for group in broken)} cannot be read as a "
            "zarr group (the progress counts live in checkpoint's). Retrain it: train(config) (or `relunet train`) "
            "rewrites it, re-derives the counts from the intact data and retrains the rest",
            repairable=True,
        )


GROUPS = ("records", "snapshots", "checkpoint")


def damaged_group_documents(path: Path) -> list[str]:
    """The groups of the store at ``path`` whose zarr.json is missing or not a zarr v3 group document (a group
    whose whole folder is gone is left to the layout check: its arrays are gone too)."""
    broken = []
    for group in GROUPS:
        if not (path / group).is_dir():
            continue
        try:
            document = json.loads(read_bytes(path / group / "zarr.json", MAX_METADATA_BYTES, follow_links=False))
            if not (isinstance(document, dict) and document.get("zarr_format") == 3):
                raise ValueError(group)
            if document.get("node_type") != "group" or not isinstance(document.get("attributes", {}), dict):
                raise ValueError(group)
        except (OSError, ValueError):
            broken.append(group)
    return broken
