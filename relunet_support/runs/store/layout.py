"""What a run store holds on disk: the format's constants and every array's shape, chunks and dtype.

Layout of ``<out_dir>/<run-id>/``::

    zarr.json            attrs: format, run_id, config, config_sha256, engine_revision, versions, git commit,
                         status, times, scales
    records/             step, time (= η·step), risk, f_min, f_max, rd_w, rd_a — preallocated to the full schedule
    snapshots/           step (q,), a, w, b (q, m) — w: (q, m, d) for inputs of d > 1 — chunks of ~1 MiB, read lazily
    checkpoint/          a, w, b (2, m) (w: (2, m, d)): two slots; attrs {slot, step, n_records, n_snapshots, ...}

No pickle anywhere: arrays are zarr, metadata is JSON.
"""

from __future__ import annotations

from relunet_support.runs.config import TrainConfig

FORMAT = "relunet-run"
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)  # 1: no rd_w, rd_a; 2: no checksums, no engine revision
RECORD_FIELDS = ("step", "time", "risk", "f_min", "f_max", "rd_w", "rd_a")
SNAPSHOT_FIELDS = ("step", "a", "w", "b")
PARAMETERS = ("a", "w", "b")
STATUSES = ("running", "interrupted", "complete", "diverged", "dead")
TERMINAL = ("complete", "diverged", "dead")
_RECORD_CHUNK = 16384
_SNAPSHOT_CHUNK_BYTES = 2**20


def snapshots_per_chunk(m: int, n_snapshots: int) -> int:
    """Snapshots per chunk: about 1 MiB per chunk, so a lazy read of one snapshot stays cheap."""
    return int(max(1, min(n_snapshots, _SNAPSHOT_CHUNK_BYTES // (8 * m))))


def estimated_bytes(config: TrainConfig) -> int:
    """Upper bound of a run store's size on disk: records, snapshots and checkpoint, uncompressed."""
    n_records, n_snapshots = config.record_steps().size, config.snapshot_steps().size
    per_neuron = 2 + config.dimension  # a, b and the d coordinates of w
    return 8 * (len(RECORD_FIELDS) * n_records + n_snapshots * (1 + per_neuron * config.m) + 2 * per_neuron * config.m)


def _record_fields(format_version: int) -> tuple[str, ...]:
    return RECORD_FIELDS if format_version >= 2 else RECORD_FIELDS[:5]


def _layout(config: TrainConfig, format_version: int) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], str]]:
    """Every array's path → (shape, chunks, dtype) for ``config``."""
    n_records, n_snapshots, m = config.record_steps().size, config.snapshot_steps().size, config.m
    per_chunk = snapshots_per_chunk(m * config.dimension, n_snapshots)
    coordinates = () if config.dimension == 1 else (config.dimension,)  # w of shape (m, d) for inputs of d > 1
    layout: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {}
    for name in _record_fields(format_version):
        layout[f"records/{name}"] = (
            (n_records,),
            (min(n_records, _RECORD_CHUNK),),
            "int64" if name == "step" else "float64",
        )
    layout["snapshots/step"] = ((n_snapshots,), (min(n_snapshots, _RECORD_CHUNK),), "int64")
    for name in PARAMETERS:
        extra = coordinates if name == "w" else ()
        layout[f"snapshots/{name}"] = ((n_snapshots, m, *extra), (per_chunk, m, *extra), "float64")
        layout[f"checkpoint/{name}"] = ((2, m, *extra), (1, m, *extra), "float64")
    return layout
