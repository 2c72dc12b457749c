"""What a run's metadata must say, checked without reading any data: its identity (format, config against its
hash, run id), the layout of every array, and the status against the checkpoint's progress counts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec

from relunet_support.errors import ConfigError, CorruptRunError, NotARunError
from relunet_support.runs.config import TrainConfig, config_digest
from relunet_support.runs.store.layout import FORMAT, READABLE_FORMATS, STATUSES, _layout

_RETRAIN_FROM_SCRATCH = (
    "Its results cannot be trusted: delete it, or retrain it from scratch (train(config, resume=False), "
    "`relunet train … --no-resume`)"
)


@dataclasses.dataclass(frozen=True)
class Damage:
    """One damaged piece of a run: ``array`` ('records/risk', 'checkpoint/a', 'progress'), the chunk, the first
    row it holds (records and snapshots: where a repair must restart from) and why."""

    array: str
    chunk: int | None
    first_row: int | None
    reason: str

    def describe(self) -> str:
        where = self.array if self.chunk is None else f"{self.array} chunk {self.chunk}"
        return f"{where}: {self.reason}"


def _progress_problems(config: TrainConfig, status, progress: dict, final_step) -> list[str]:
    """What is wrong with the status and the checkpoint's progress counts (empty when they agree)."""
    values = {}
    for key in ("slot", "step", "n_records", "n_snapshots"):
        value = progress.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"checkpoint attribute {key}={value!r} is not an integer"]
        values[key] = value
    if status not in STATUSES:
        return [f"status={status!r} is not one of {', '.join(STATUSES)}"]
    slot, step, n_records, n_snapshots = values.values()
    record_steps, snapshot_steps = config.record_steps(), config.snapshot_steps()
    if slot not in (0, 1):
        return [f"checkpoint slot={slot} is not 0 or 1"]
    if not 0 <= step <= config.n_steps:
        return [f"checkpoint step={step} is outside 0..n_steps={config.n_steps}"]
    if not (0 <= n_records <= record_steps.size and 0 <= n_snapshots <= snapshot_steps.size):
        return [
            f"checkpoint counts n_records={n_records}, n_snapshots={n_snapshots} are outside the schedule's "
            f"{record_steps.size} records and {snapshot_steps.size} snapshots"
        ]
    expected_records = int(np.searchsorted(record_steps, step, side="right"))
    if status == "complete":
        if (step, n_records, n_snapshots) != (config.n_steps, record_steps.size, snapshot_steps.size):
            return [
                f"status is complete but the checkpoint is at step {step} of {config.n_steps} with "
                f"{n_records} of {record_steps.size} records and {n_snapshots} of {snapshot_steps.size} snapshots"
            ]
    elif status in ("running", "interrupted"):
        if n_snapshots == 0:
            if (step, n_records) != (0, 0):
                return [f"checkpoint at step {step} with {n_records} records but no snapshot"]
        elif step != snapshot_steps[n_snapshots - 1] or n_records != expected_records:
            return [
                f"checkpoint at step {step} with {n_records} records and {n_snapshots} snapshots does not follow "
                f"the schedule (snapshot {n_snapshots - 1} is at step {int(snapshot_steps[n_snapshots - 1])}, "
                f"{expected_records} records up to step {step})"
            ]
    else:  # dead or diverged: stopped early, a last record and snapshot at the stopping step may be off schedule
        if n_records < 1 or n_snapshots < 1 or n_records > expected_records + 1:
            return [f"{status} run with {n_records} records and {n_snapshots} snapshots at step {step}"]
        if final_step is not None and final_step != step:
            return [f"final_step={final_step!r} differs from the checkpoint's step {step}"]
    return []


def _checked_identity(path: Path, attrs: dict) -> TrainConfig:
    """The run's config, after checking the format, the config against its hash and the run id."""

    def corrupt(what: str) -> CorruptRunError:
        return CorruptRunError(f"run {str(path)!r} is damaged: {what}. {_RETRAIN_FROM_SCRATCH}")

    if attrs.get("format") != FORMAT:
        raise NotARunError(
            f"path={str(path)!r} is not a run folder: attribute format is {attrs.get('format')!r}, expected {FORMAT!r}"
        )
    version = attrs.get("format_version", 1)
    if version not in READABLE_FORMATS:
        raise corrupt(f"format_version={version!r} is not one of {READABLE_FORMATS}")
    if version < 3 and "engine_revision" in attrs:
        raise corrupt(f"format_version={version!r} but it records an engine revision, which only format 3 does")
    try:
        config = TrainConfig.from_dict(attrs["config"])
    except (KeyError, TypeError, AttributeError, ConfigError) as error:
        raise corrupt(f"its config in zarr.json is not valid ({error})") from error
    if attrs.get("config_sha256") != config_digest(attrs["config"]):
        raise corrupt("the config in zarr.json does not match its config_sha256 (edited or damaged)")
    if attrs.get("run_id") != config.run_id():
        raise corrupt(f"run_id={attrs.get('run_id')!r} is not its config's run id {config.run_id()!r}")
    derived = dict(
        zip(("alpha", "beta1", "beta2"), config.scales), normalised_learning_rate=config.normalised_learning_rate
    )
    for key, value in derived.items():
        if key in attrs and attrs[key] != value:
            raise corrupt(f"{key}={attrs[key]!r} in zarr.json is not its config's {value!r}")
    if path.name != config.run_id():
        raise corrupt(f"the folder is named {path.name!r}, not its run id {config.run_id()!r}")
    return config


def _checked_layout(path: Path, group: zarr.Group, config: TrainConfig, format_version: int) -> dict[str, zarr.Array]:
    """Every array of the run, after checking its shape, dtype, chunking (whole rows: any number of them) and,
    from format 3, its checksum codec."""
    arrays = {}
    for name, (shape, _, dtype) in _layout(config, format_version).items():

        def corrupt(what: str, name: str = name) -> CorruptRunError:
            return CorruptRunError(
                f"run {str(path)!r} is damaged: array {name} {what}. {_RETRAIN_FROM_SCRATCH}", repairable=False
            )

        try:
            array = group[name]
        except (KeyError, ValueError, OSError) as error:
            raise corrupt(f"is missing or unreadable ({error})") from error
        if not isinstance(array, zarr.Array):
            raise corrupt("is not an array")
        if (array.shape, str(array.dtype)) != (shape, dtype) or array.chunks[1:] != shape[1:]:
            raise corrupt(
                f"has shape {array.shape}, dtype {array.dtype}, chunks {array.chunks}; its config needs shape "
                f"{shape}, dtype {dtype}, chunks of whole rows"
            )
        checksummed = any(isinstance(codec, Crc32cCodec) for codec in array.compressors)
        if format_version >= 3 and not checksummed:
            raise corrupt("lost its crc32c checksum codec")
        if format_version < 3 and checksummed:
            raise corrupt(f"has format 3's checksum codec in a store that says format_version={format_version}")
        arrays[name] = array
    return arrays
