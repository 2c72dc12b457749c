"""Small metadata files: written so that a reader never sees one half written, read only when they are
regular files of a sensible size (never a link, a FIFO or a device that would hang or grow without bound)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path


def read_json(path, max_bytes: int = 1 << 20):
    """The JSON in ``path`` when it is a regular file (not a link) of at most ``max_bytes`` that parses; None
    otherwise (missing, a folder, a link, a FIFO, too large, not JSON)."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        with open(path, "rb") as handle:
            return json.loads(handle.read(max_bytes + 1))
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
