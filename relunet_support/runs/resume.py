"""Whether a stored run may be read back or resumed by this process: not while another process trains it, not
across engine revisions, not under another CPU target (each would mix two computations in one run)."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

from relunet_support import engine
from relunet_support.errors import RunLockedError, StaleRunError
from relunet_support.files import read_bytes
from relunet_support.runs.revision import engine_revision
from relunet_support.runs.store import Run
from relunet_support.runs.store.files import MAX_METADATA_BYTES


class StaleRunWarning(RuntimeWarning):
    """A finished run read back was computed by another engine revision: its numbers may differ from today's."""


def check_not_training(path: Path) -> None:
    """RunLockedError where the run's store says a process of this host is training it and that process lives:
    the lock file was removed under it (a new one does not see the old lock). A killed trainer's run resumes."""
    try:
        attrs = json.loads(read_bytes(path / "zarr.json", MAX_METADATA_BYTES))["attributes"]
        if attrs.get("status") != "running":
            return
        pid, host = int(attrs["trainer"]["pid"]), attrs["trainer"]["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no store, or not running, or an older store: nothing recorded to go by
    if host != socket.gethostname() or pid == os.getpid():
        return
    try:
        alive = b"python" in Path(f"/proc/{pid}/cmdline").read_bytes()  # a reused pid is not a trainer
    except OSError:
        return
    if alive:
        raise RunLockedError(
            f"run {str(path)!r} is being trained by process {pid} on this host (its lock file was removed meanwhile): "
            "wait for it, or stop it first"
        )


def check_revision(run: Run, finished: bool) -> None:
    """A run made by another engine revision: a warning when it is read back, an error when it would be resumed."""
    current = engine_revision()
    if run.engine_revision == current:
        return
    made_by = (
        f"engine revision {run.engine_revision}"
        if run.engine_revision
        else "a relunet that did not record its engine revision (store format ≤ 2)"
    )
    made_by += (
        f", relunet {run.attrs.get('versions', {}).get('relunet_support', '?')}, commit {run.attrs.get('git_commit')}"
    )
    retrain = "retrain it with train(config, resume=False) or `relunet train … --no-resume`"
    if finished:
        warnings.warn(
            f"run {run.run_id} was computed by {made_by}; this relunet's engine is revision {current}, so its numbers "
            f"may differ. It is read back as it is; {retrain}",
            StaleRunWarning,
            stacklevel=5,
        )
    else:
        raise StaleRunError(
            f"run {str(run.path)!r} is unfinished and was computed by {made_by}; resuming it with engine revision "
            f"{current} would mix two engines in one run: {retrain}"
        )


def check_cpu_target(run: Run) -> None:
    """An unfinished run of the numba backend is resumed only for the CPU target it was trained for (recorded
    since store format 3 gained ``cpu_target``): else StaleRunError saying both targets."""
    recorded, current = run.attrs.get("cpu_target"), engine.cpu_target()
    if run.config.backend != "numba" or recorded in (None, current):
        return
    raise StaleRunError(
        f"run {str(run.path)!r} is unfinished and was trained with kernels compiled for the CPU target {recorded}; "
        f"this process compiles for {current} (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES, NUMBA_ENABLE_AVX): resuming would "
        "mix machine code of two targets in one run (last-bit differences). Resume it with the same settings, or "
        "retrain it with train(config, resume=False) or `relunet train … --no-resume`"
    )
