"""Writing a small text file so that a reader never sees it half written."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


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
