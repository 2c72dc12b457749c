"""The run store: one zarr (v3) group per run, written so that a crash at any moment loses nothing, and
read so that damage is never taken for data.

Its modules, each importing only those above it:

    layout       the format's constants and every array's shape, chunks and dtype (the on-disk layout)
    provenance   the time, the versions of what computed a run, the git commit
    lock         one trainer per run: the run lock and the leftovers of a killed process
    checks       what a run's metadata must say: identity, array layout, progress counts
    reader       ``Run`` and ``open_run``: reading, with every chunk checked (integrity)
    listing      the runs in a folder, and a full check of one run (``inspect_run``)
    writer       ``RunWriter``: creation, appends, checkpoints, status, repair (crash safety)
"""

from __future__ import annotations

from relunet_support.runs.store.checks import Damage
from relunet_support.runs.store.layout import (
    FORMAT,
    FORMAT_VERSION,
    PARAMETERS,
    READABLE_FORMATS,
    RECORD_FIELDS,
    SNAPSHOT_FIELDS,
    STATUSES,
    TERMINAL,
    estimated_bytes,
    snapshots_per_chunk,
)
from relunet_support.runs.store.listing import (
    Inspection,
    UnreadableRunWarning,
    inspect_run,
    list_runs,
    run_sort_key,
    scan_runs,
)
from relunet_support.runs.store.lock import clean_temporaries, run_is_locked, run_lock
from relunet_support.runs.store.provenance import git_commit, now, package_versions
from relunet_support.runs.store.reader import Run, open_run
from relunet_support.runs.store.writer import RunWriter, remove_run, rewrite_group_documents

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "PARAMETERS",
    "READABLE_FORMATS",
    "RECORD_FIELDS",
    "SNAPSHOT_FIELDS",
    "STATUSES",
    "TERMINAL",
    "Damage",
    "Inspection",
    "Run",
    "RunWriter",
    "UnreadableRunWarning",
    "clean_temporaries",
    "estimated_bytes",
    "git_commit",
    "inspect_run",
    "list_runs",
    "now",
    "open_run",
    "package_versions",
    "remove_run",
    "rewrite_group_documents",
    "run_is_locked",
    "run_lock",
    "run_sort_key",
    "scan_runs",
    "snapshots_per_chunk",
]
