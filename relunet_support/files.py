"""Small metadata files: written so that a reader never sees one half written, read only when they are
regular files of a sensible size (never a link, a FIFO or a device that would hang or grow without bound)."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path


class NotARegularFile(OSError):
    """A path that is not a regular file of a bounded size: its message says what it is instead."""


def read_bytes(path, max_bytes: int, follow_links: bool = True) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``max_bytes``; else ``NotARegularFile`` whose
    message, to follow the path, says what it is instead (a FIFO, a device, a socket, a folder, a link where
    ``follow_links`` is False, too large). Checked on the file opened without blocking: nothing hangs on a FIFO
    or grows without bound on /dev/zero."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if not follow_links and os.path.islink(path):
            raise NotARegularFile("is a symbolic link, not a regular file") from None
        raise NotARegularFile(f"cannot be read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise NotARegularFile(f"holds {info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotARegularFile(f"holds more than the {max_bytes:,} bytes allowed")
    return data


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_json(path, max_bytes: int = 1 << 20):
    """The JSON in ``path`` when it is a regular file (not a link) of at most ``max_bytes`` that parses; None
    otherwise (missing, a folder, a link, a FIFO, too large, not JSON)."""
    try:
        return json.loads(read_bytes(path, max_bytes, follow_links=False))
    except (OSError, ValueError):
        return None


def write_text_atomically(path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` (its folder made if missing), then rename it over
    ``path``: a reader sees the old file or the new one, and an interrupted write leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        scratch.write_text(text)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
