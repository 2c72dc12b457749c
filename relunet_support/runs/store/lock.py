"""One trainer per run: the run lock, whether a process holds it, and the leftovers of a killed one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from pathlib import Path

from relunet_support.errors import RunLockedError


@contextlib.contextmanager
def run_lock(out_dir: Path, run_id: str):
    """Exclusive lock on one run id (a hidden lock file beside it), released when the process dies. The lock file
    is opened without following a link and without blocking: a link planted there (which would create its target
    anywhere) or a FIFO (which would hang) is refused, naming it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / f".{run_id}.lock"
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as error:
        kind = "a symbolic link" if lock_path.is_symlink() else error.strerror
        raise RunLockedError(f"the lock file {lock_path} cannot be used ({kind}): remove it and train again") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise RunLockedError(f"the lock file {lock_path} is not a regular file: remove it and train again")
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"run {run_id!r} in {out_dir} is being trained by another process") from None
        if not _still_at(lock_path, descriptor):  # removed by the holder before us (below): its run is not there
            raise RunLockedError(f"run {run_id!r} in {out_dir} was being started by another process: train again")
        try:
            yield
        finally:
            if not (out_dir / run_id).exists():  # nothing was made (a failed start): no lock file left behind
                lock_path.unlink(missing_ok=True)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _still_at(path: Path, descriptor: int) -> bool:
    """Whether ``path`` still names the file open as ``descriptor`` (a lock taken on a file since removed locks
    nothing)."""
    try:
        here, held = path.stat(), os.fstat(descriptor)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


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


def clean_temporaries(out_dir: Path, run_id: str) -> None:
    """Remove half-built folders of ``run_id`` left by a killed process (call under the run lock)."""
    for leftover in out_dir.glob(f".tmp-{run_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out_dir.glob(f".trash-{run_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
