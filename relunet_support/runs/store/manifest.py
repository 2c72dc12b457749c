"""The chunk manifest: a run bound to its own data.

Each chunk's CRC-32C says only that the chunk is intact, not whose it is: a chunk copied from another run of the
same shape, or an older copy of one of this run's chunks (replayed from a backup), passes it. So every commit
(``RunWriter.checkpoint``) also stores, with the progress counts in the same write, a digest of every committed
chunk — sha256 over the run id, the array's name, the chunk's index and the chunk's committed values:

    manifest = {"records/risk": {"0": "9f…", "1": "…"}, "snapshots/a": {…}, "checkpoint/a": {"1": "…"}, …}

Reading a chunk (``Run``) recomputes its digest from the values read and compares: another run's chunk, or an
older copy, differs and is named as damage, which ``train`` repairs from the last intact snapshot. The digest
covers the committed rows only: rows written after the last commit (a crash before the next one) do not count.
Stores made before the manifest (no ``chunk_manifest`` attribute on the group) are read without it.
"""

from __future__ import annotations

import hashlib

import numpy as np

DIGEST_HEX = 32  # 128 bits of sha256
ATTRIBUTE = "chunk_manifest"  # the group attribute saying the run keeps a manifest (True since it was added)


def chunk_digest(run_id: str, name: str, chunk: int, values: np.ndarray) -> str:
    """sha256 (``DIGEST_HEX`` hex digits) of the run id, array name, chunk index and the committed values."""
    values = np.ascontiguousarray(values)
    header = f"{run_id}\0{name}\0{chunk}\0{values.dtype.str}\0{values.shape}\0".encode()
    return hashlib.sha256(header + values.tobytes()).hexdigest()[:DIGEST_HEX]


def committed_rows(name: str, chunk: int, per_chunk: int, progress: dict) -> tuple[int, int]:
    """The rows (lo, hi) of chunk ``chunk`` of array ``name`` that the progress counts commit (hi ≤ lo: none)."""
    group = name.split("/")[0]
    if group == "checkpoint":
        return (chunk, chunk + 1) if chunk == int(progress["slot"]) else (chunk, chunk)
    rows = int(progress["n_records"] if group == "records" else progress["n_snapshots"])
    return chunk * per_chunk, min(rows, (chunk + 1) * per_chunk)


def is_manifest(value) -> bool:
    """Whether ``value`` has the manifest's shape: {array name: {chunk index text: hex digest}}."""
    return isinstance(value, dict) and all(
        isinstance(chunks, dict)
        and all(isinstance(key, str) and isinstance(digest, str) for key, digest in chunks.items())
        for chunks in value.values()
    )
