"""What a training needs of this machine, checked before anything is written: a folder it can write to, the
memory for one training, the disk for its store. The configuration itself is machine-independent (a stored run
opens anywhere); these checks belong to ``train``."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from relunet_support.errors import invalid
from relunet_support.runs.config import TrainConfig
from relunet_support.runs.store import estimated_bytes


def checked_out_dir(out_dir) -> Path:
    """``out_dir`` as a Path (created later, under the run lock); a clear error, before anything is created, when
    it or the nearest folder above it that exists is a file or cannot be written by this user."""
    if isinstance(out_dir, str) and not out_dir.strip():
        raise invalid("out_dir", out_dir, "a folder path (not empty)")
    out_dir = Path(out_dir)
    existing = _existing_ancestor(out_dir)
    if not existing.is_dir():
        raise invalid("out_dir", str(out_dir), f"a folder ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise invalid("out_dir", str(out_dir), f"a folder this user can write to ({existing} is not writable)")
    return out_dir


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@functools.cache
def physical_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(config: TrainConfig) -> None:
    """A ConfigError naming m, or the record or snapshot schedule, where one training would not fit in this
    machine's memory: it holds 4 copies of the 3·m float64 parameters (the state, the initial one, the
    warm-up's, the first snapshot) and 8 arrays of int64/float64 per record step (its step and the 7 record
    fields). Counted from the schedules' sizes, before any of them is built."""
    memory = physical_memory()
    if memory is None:
        return

    def steps(n_points: int, every: int | None) -> int:  # about len(schedule.steps_schedule(...))
        return config.n_steps // every + 2 if every else min(n_points, config.n_steps + 1)

    needs = {  # name: (bytes, what for)
        "m": (4 * 3 * 8 * config.m, "the parameters (4 copies of 3·m float64 numbers)"),
        "record_every" if config.record_every else "n_records": (
            8 * 8 * steps(config.n_records, config.record_every),
            "the records (8 float64 numbers per record step)",
        ),
        "snapshot_every" if config.snapshot_every else "n_snapshots": (
            8 * 8 * steps(config.n_snapshots, config.snapshot_every),
            "the records at snapshot steps (8 float64 numbers each)",
        ),
    }
    total = sum(size for size, _ in needs.values())
    if total > memory:
        name = max(needs, key=lambda key: needs[key][0])
        raise invalid(
            name,
            getattr(config, name),
            f"small enough that one training fits in this machine's memory: it needs about "
            f"{total / 2**30:,.1f} GiB, mostly for {needs[name][1]}, and the machine has {memory / 2**30:,.1f} GiB",
        )


def check_disk_space(config: TrainConfig, out_dir: Path) -> None:
    """Refuse, before creating the store, a run whose store cannot fit on the disk (its uncompressed size)."""
    needed = estimated_bytes(config)
    free = shutil.disk_usage(_existing_ancestor(out_dir)).free
    if needed > free:
        raise invalid(
            "n_snapshots",
            config.n_snapshots,
            f"small enough for the run store to fit: with m={config.m} it needs about {needed / 2**30:.3g} GiB "
            f"and {out_dir} has {free / 2**30:.3g} GiB free (fewer snapshots, or another out_dir)",
        )
