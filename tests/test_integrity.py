"""Damaged run stores: every kind of damage is named (CorruptRunError, ``inspect_run``), never read as data;
damage in the trained data is repaired by ``train`` bit for bit; a damaged identity is refused."""

import json
import re
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relunet_support import engine
from relunet_support.errors import CorruptRunError, NotARunError, StaleRunError
from relunet_support.runs import store
from relunet_support.runs.store import inspect_run, list_runs, open_run, scan_runs
from relunet_support.runs.train import RepairedRunWarning, StaleRunWarning, TrainConfig, train

# several chunks per array at a small size: 40 snapshots of m = 20 in chunks of 8, 341 records in chunks of 64
CONFIG = TrainConfig(m=20, learning_rate=20**1.5 * 0.5, n_steps=2000, n_records=300, n_snapshots=40)


def _with_small_chunks(config, folder):
    """``config`` trained into ``folder`` with records in chunks of 64 and snapshots in chunks of 8."""
    patch = pytest.MonkeyPatch()
    patch.setattr(store.layout, "_RECORD_CHUNK", 64)
    patch.setattr(store.layout, "_SNAPSHOT_CHUNK_BYTES", 8 * CONFIG.m * 8)
    try:
        return train(config, folder, progress=False)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One complete run, trained once, with small chunks (copied by each test before damaging it)."""
    run = _with_small_chunks(CONFIG, tmp_path_factory.mktemp("reference"))
    assert run.status == "complete" and run._arrays["records/risk"].chunks == (64,)
    assert run._arrays["snapshots/a"].chunks == (8, CONFIG.m)
    return run


@pytest.fixture
def copy(reference, tmp_path):
    """A fresh copy of the reference run: (its folder of runs, its path)."""
    path = tmp_path / "runs" / reference.run_id
    shutil.copytree(reference.path, path)
    return path.parent, path


def assert_same_run(run, other):
    assert (run.status, run.step, run.n_records, run.n_snapshots) == (
        other.status,
        other.step,
        other.n_records,
        other.n_snapshots,
    )
    for name in run.records:
        np.testing.assert_array_equal(run.records[name], other.records[name], err_msg=name)
    for i in range(run.n_snapshots):
        for u, v in zip(run.snapshot(i), other.snapshot(i)):
            np.testing.assert_array_equal(u, v)


def repaired(out_dir, reference, match):
    """train() on the damaged copy: a RepairedRunWarning naming ``match``, then the reference's data bit for bit."""
    with pytest.warns(RepairedRunWarning) as caught:  # a rewritten group document warns too
        run = train(CONFIG, out_dir, progress=False)
    assert any(re.search(match, str(warning.message)) for warning in caught), [str(w.message) for w in caught]
    assert_same_run(run, reference)
    assert inspect_run(run.path).ok
    return run


def edit_attrs(path, **changes):
    document = json.loads((path / "zarr.json").read_text())
    document["attributes"].update(changes)
    (path / "zarr.json").write_text(json.dumps(document))


def edit_progress(path, **changes):
    document = json.loads((path / "checkpoint" / "zarr.json").read_text())
    document["attributes"].update(changes)
    (path / "checkpoint" / "zarr.json").write_text(json.dumps(document))


def test_an_intact_run_inspects_ok(reference):
    inspection = inspect_run(reference.path)
    assert inspection.ok and inspection.summary() == "ok"
    assert reference.format_version == 3 and reference.engine_revision


@pytest.mark.parametrize(
    ("chunk", "named"),
    [("records/risk/c/2", "records/risk chunk 2"), ("snapshots/w/c/3/0", "snapshots/w chunk 3")],
)
def test_a_deleted_chunk_is_named_and_repaired(copy, reference, chunk, named):
    out_dir, path = copy
    (path / chunk).unlink()
    with pytest.raises(CorruptRunError, match=f"{named}: chunk file missing") as error:
        open_run(path)
    assert error.value.repairable
    assert [item.describe() for item in inspect_run(path).damage] == [f"{named}: chunk file missing"]
    (entry,) = scan_runs(out_dir)
    assert isinstance(entry[1], CorruptRunError)
    with pytest.warns(store.UnreadableRunWarning, match=named):
        assert list_runs(out_dir) == []
    repaired(out_dir, reference, named)


def flip_byte(file, offset):
    data = bytearray(file.read_bytes())
    data[offset % len(data)] ^= 0x01
    file.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_snapshot_fails_its_checksum(copy, reference):
    out_dir, path = copy
    flip_byte(path / "snapshots" / "a" / "c" / "2" / "0", 100)
    run = open_run(path)  # opening reads no data
    run.snapshot(15)  # another chunk reads fine
    with pytest.raises(CorruptRunError, match="snapshots/a chunk 2: fails its checksum"):
        run.snapshot(17)
    assert "snapshots/a chunk 2: fails its checksum" in inspect_run(path).summary()
    repaired(out_dir, reference, "snapshots/a chunk 2")


def test_a_truncated_records_chunk_is_named_not_a_decompression_error(copy, reference):
    out_dir, path = copy
    chunk = path / "records" / "f_max" / "c" / "1"
    chunk.write_bytes(chunk.read_bytes()[:-9])
    with pytest.raises(CorruptRunError, match=r"records/f_max chunk 1: fails its checksum \(.*cut short"):
        open_run(path).records  # noqa: B018
    repaired(out_dir, reference, "records/f_max chunk 1")


def _interrupted(tmp_path, monkeypatch, reference):
    """CONFIG interrupted after 20 kernel calls (a checkpoint at every snapshot): its store's path."""
    real_advance, calls = engine.advance, {"n": 0}

    def interrupted_advance(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return real_advance(*args, **kwargs)

    monkeypatch.setattr(store.layout, "_RECORD_CHUNK", 64)
    monkeypatch.setattr(store.layout, "_SNAPSHOT_CHUNK_BYTES", 8 * CONFIG.m * 8)
    monkeypatch.setattr(engine, "advance", interrupted_advance)
    with pytest.raises(KeyboardInterrupt):
        train(CONFIG, tmp_path, progress=False, checkpoint_seconds=0.0)
    monkeypatch.setattr(engine, "advance", real_advance)
    partial = open_run(tmp_path / reference.run_id)
    assert partial.status == "interrupted" and 0 < partial.step < CONFIG.n_steps
    return partial


def test_a_damaged_checkpoint_is_not_resumed_from(reference, tmp_path, monkeypatch):
    """An interrupted run whose checkpoint chunk is gone resumes from its last snapshot (the same state): never
    'dead' from NaN read back, and the result is the uninterrupted run's."""
    partial = _interrupted(tmp_path, monkeypatch, reference)
    slot = partial.progress["slot"]
    (partial.path / "checkpoint" / "b" / "c" / str(slot) / "0").unlink()
    with pytest.raises(CorruptRunError, match=f"checkpoint/b chunk {slot}: chunk file missing"):
        open_run(partial.path)
    with pytest.warns(RepairedRunWarning, match=f"resumed from step {partial.step} "):
        run = train(CONFIG, tmp_path, progress=False)
    assert_same_run(run, reference)


def test_a_switched_checkpoint_slot_is_not_resumed_from(reference, tmp_path, monkeypatch):
    """The slot attribute pointed at the older checkpoint: its state is not the last snapshot's, so the run is
    resumed from the snapshot, to the uninterrupted run's numbers (not silently from an older state)."""
    partial = _interrupted(tmp_path, monkeypatch, reference)
    edit_progress(partial.path, slot=1 - partial.progress["slot"])
    assert "is not the state of the last snapshot" in inspect_run(partial.path).summary()
    with pytest.warns(RepairedRunWarning, match="checkpoint in use .* is not the state of the last snapshot"):
        run = train(CONFIG, tmp_path, progress=False)
    assert_same_run(run, reference)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "dead"}, "status is dead but neurons are active"),
        ({"status": "diverged"}, "status is diverged but its last state has the risk"),
        ({"final_step": 5}, "final_step=5 on a complete run"),
    ],
)
def test_a_status_that_contradicts_the_data_is_named_and_repaired(copy, reference, changes, message):
    out_dir, path = copy
    edit_attrs(path, **changes)
    assert message in inspect_run(path).summary()
    with pytest.warns(RepairedRunWarning, match=message):
        run = train(CONFIG, out_dir, progress=False)
    assert_same_run(run, reference)


def test_a_downgraded_format_does_not_switch_the_checksums_off(copy):
    out_dir, path = copy
    edit_attrs(path, format_version=2)
    with pytest.raises(CorruptRunError, match="format_version=2 but it records an engine revision"):
        open_run(path)
    document = json.loads((path / "zarr.json").read_text())
    del document["attributes"]["engine_revision"]
    (path / "zarr.json").write_text(json.dumps(document))
    with pytest.raises(CorruptRunError, match="has format 3's checksum codec in a store that says format_version=2"):
        open_run(path)


def test_verify_names_a_non_integer_step_without_a_traceback(copy, capsys):
    from relunet_support.jobs import cli

    out_dir, path = copy
    edit_progress(path, step="lots")
    assert cli.main(["verify", str(out_dir)]) == 1
    assert "step='lots' is not an integer" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "complete"}, "status is complete but the checkpoint is at step"),
        ({"n_records": 10_000}, "outside the schedule's"),
        ({"n_records": 17}, "does not follow the schedule"),
        ({"step": "many"}, "step='many' is not an integer"),
        ({"slot": 2}, "slot=2 is not 0 or 1"),
    ],
)
def test_progress_that_contradicts_itself_is_named_and_repaired(copy, reference, changes, message):
    out_dir, path = copy
    progress = json.loads((path / "checkpoint" / "zarr.json").read_text())["attributes"]
    status = changes.pop("status", None)
    # a half-finished run: progress back to snapshot 20 (records and snapshots past it are left as they are)
    step = int(CONFIG.snapshot_steps()[20])
    progress.update(step=step, n_snapshots=21, n_records=int(np.searchsorted(CONFIG.record_steps(), step, "right")))
    progress.update(changes)
    edit_progress(path, **progress)
    edit_attrs(path, status=status or "interrupted")
    with pytest.raises(CorruptRunError, match=message) as error:
        open_run(path)
    assert error.value.repairable
    repaired(out_dir, reference, message.split(" ")[0])


def test_a_run_marked_complete_too_early_is_not_returned_as_complete(copy, reference):
    out_dir, path = copy
    edit_progress(path, step=CONFIG.n_steps - 1)
    with pytest.raises(CorruptRunError, match="status is complete but the checkpoint is at step 1999 of 2000"):
        open_run(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"config": {**CONFIG.to_dict(), "learning_rate": 71.0}}, "does not match its config_sha256"),
        ({"config": {**CONFIG.to_dict(), "m": 40}}, "does not match its config_sha256"),
        ({"alpha": 3.0}, "alpha=3.0 in zarr.json is not its config's"),
        ({"format_version": 9}, "format_version=9 is not one of"),
        ({"config": {"m": "x"}}, "its config in zarr.json is not valid"),
    ],
)
def test_an_edited_identity_is_refused_and_retrained_only_on_request(copy, reference, changes, message):
    out_dir, path = copy
    edit_attrs(path, **changes)
    with pytest.raises(CorruptRunError, match=message) as error:
        open_run(path)
    assert not error.value.repairable and "resume=False" in str(error.value)
    with pytest.raises(CorruptRunError, match=message):
        train(CONFIG, out_dir, progress=False)
    assert_same_run(train(CONFIG, out_dir, progress=False, resume=False), reference)


def test_a_garbage_zarr_json_hides_no_other_run(copy, reference, tmp_path):
    out_dir, path = copy
    other = TrainConfig(m=20, learning_rate=20**1.5 * 0.5, n_steps=200, n_snapshots=5)
    good = train(other, out_dir, progress=False)
    (path / "zarr.json").write_text("{ not json")
    found = dict(scan_runs(out_dir))
    assert isinstance(found[path], CorruptRunError) and "zarr.json cannot be read" in str(found[path])
    with pytest.warns(store.UnreadableRunWarning):
        assert [run.run_id for run in list_runs(out_dir)] == [good.run_id]


def test_a_run_without_its_checkpoint_folder_is_listed_as_damaged(copy):
    out_dir, path = copy
    shutil.rmtree(path / "checkpoint")
    ((_, found),) = scan_runs(out_dir)
    assert isinstance(found, CorruptRunError) and "checkpoint/a is missing" in str(found)


def test_a_missing_folder_is_an_error_not_an_empty_list(tmp_path):
    with pytest.raises(NotARunError, match="no such directory"):
        scan_runs(tmp_path / "nowhere")
    with pytest.raises(NotARunError, match="no such directory"):
        list_runs(tmp_path / "nowhere")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NotARunError, match="not a folder of runs: it is a file"):
        scan_runs(tmp_path / "a-file")


def test_a_run_of_another_engine_revision_is_never_reused_silently(copy, reference):
    out_dir, path = copy
    edit_attrs(path, engine_revision="0123456789abcdef")
    with pytest.warns(StaleRunWarning, match="engine revision 0123456789abcdef.*resume=False"):
        run = train(CONFIG, out_dir, progress=False)
    assert_same_run(run, reference)  # read back as it is
    edit_attrs(path, status="interrupted")
    step = int(CONFIG.snapshot_steps()[-2])
    n_records = int(np.searchsorted(CONFIG.record_steps(), step, "right"))
    edit_progress(path, step=step, n_snapshots=CONFIG.snapshot_steps().size - 1, n_records=n_records)
    with pytest.raises(StaleRunError, match="is damaged .* would mix two engines"):
        train(CONFIG, out_dir, progress=False)  # the edited counts no longer match the manifest: not repaired
    assert open_run(path, check=False).status == "interrupted"  # left as it is


@pytest.mark.slow  # 25 stores copied and read whole
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file_index=st.integers(0, 10**6), offset=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_any_flipped_bit_in_any_chunk_is_detected(reference, tmp_path, file_index, offset, bit):
    """Property: one flipped bit anywhere in any chunk file is named by inspect_run, never read as data."""
    path = tmp_path / f"flip-{file_index}-{offset}-{bit}" / reference.run_id
    shutil.copytree(reference.path, path)
    chunks = sorted(file for file in path.rglob("*") if file.is_file() and "/c/" in file.as_posix())
    chunk = chunks[file_index % len(chunks)]
    data = bytearray(chunk.read_bytes())
    data[offset % len(data)] ^= 1 << bit
    chunk.write_bytes(bytes(data))
    inspection = inspect_run(path)
    array = chunk.relative_to(path).as_posix().split("/c/")[0]
    slot = reference.progress["slot"]
    if array.startswith("checkpoint/") and not chunk.as_posix().endswith(f"/c/{slot}/0"):
        assert inspection.ok  # the free checkpoint slot holds nothing committed
    else:
        assert not inspection.ok and array in inspection.summary() and "checksum" in inspection.summary()
    shutil.rmtree(path.parent)


def test_train_checks_before_it_creates_anything(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("")
    with pytest.raises(ValueError, match="out_dir='' is not allowed: out_dir must be a folder path"):
        train(CONFIG, "", progress=False)
    for out_dir in (afile, afile / "below"):
        with pytest.raises(ValueError, match="out_dir=.*a-file.* must be a folder .*a-file is a file"):
            train(CONFIG, out_dir, progress=False)
    huge = TrainConfig(m=10**6, learning_rate=1.0, n_steps=10**6, n_snapshots=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"n_snapshots=1000000 .*m=1000000 it needs about .* GiB"):
            train(huge, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # no folder, no lock file, no store


def test_relunet_verify_and_list_name_the_damaged_run_beside_the_good_ones(copy, capsys):
    from relunet_support.jobs import cli

    out_dir, path = copy
    good = train(TrainConfig(m=20, learning_rate=20**1.5 * 0.5, n_steps=200, n_snapshots=5), out_dir, progress=False)
    assert cli.main(["verify", str(out_dir)]) == 0
    assert "2 of 2 runs intact" in capsys.readouterr().out
    (path / "snapshots" / "b" / "c" / "1" / "0").unlink()
    assert cli.main(["verify", str(out_dir)]) == 1
    out = capsys.readouterr().out
    assert "DAMAGED  complete" in out and f"{path.name}: snapshots/b chunk 1: chunk file missing" in out
    assert "ok       complete" in out and good.run_id in out and "1 of 2 runs intact" in out
    assert cli.main(["list", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "corrupt (snapshots/b chunk 1: chunk file missing" in out and "complete " in out
    assert cli.main(["list", str(out_dir / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    flip_byte(good.path / "records" / "risk" / "c" / "0", 3)  # found when list reads the last risk
    assert cli.main(["list", str(out_dir)]) == 0
    assert "corrupt (records/risk chunk 0: fails its checksum" in capsys.readouterr().out


def test_a_field_added_later_leaves_the_digest_of_earlier_runs_alone(monkeypatch):
    from relunet_support.runs import config

    before = CONFIG.digest()
    monkeypatch.setattr(config, "ADDED_FIELDS", ("backend",))  # as if `backend` had been added after CONFIG's run
    without = {key: value for key, value in CONFIG.to_dict().items() if key != "backend"}
    assert CONFIG.digest() == config.config_digest(without) != before
    numpy_config = TrainConfig(**{**CONFIG.to_dict(), "backend": "numpy", "interval": tuple(CONFIG.interval)})
    assert numpy_config.digest() == config.config_digest(numpy_config.to_dict())  # not at its default: hashed


def test_the_engine_revision_follows_code_not_comments(tmp_path, monkeypatch):
    from relunet_support.runs import revision

    engine_dir = tmp_path / "engine"
    engine_dir.mkdir()
    module = engine_dir / "step.py"

    def revision_of(source):
        module.write_text(source)
        revision.engine_revision.cache_clear()
        return revision.engine_revision()

    monkeypatch.setattr(revision, "_PACKAGE", tmp_path)
    try:
        base = revision_of('"""Doc."""\ndef f(x):\n    return x + 1\n')
        assert revision_of('"""Other doc."""\n# a comment\ndef f(x):\n    """f."""\n    return x + 1  # one\n') == base
        assert revision_of('"""Doc."""\ndef f(x):\n    return x + 2\n') != base
    finally:
        revision.engine_revision.cache_clear()


def test_a_full_disk_stops_the_run_resumably_with_one_clear_error(reference, tmp_path, monkeypatch):
    import errno

    real_write, calls = store.RunWriter.write, {"n": 0}

    def write_until_the_disk_is_full(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(store.layout, "_RECORD_CHUNK", 64)
    monkeypatch.setattr(store.layout, "_SNAPSHOT_CHUNK_BYTES", 8 * CONFIG.m * 8)
    monkeypatch.setattr(store.RunWriter, "write", write_until_the_disk_is_full)
    with pytest.raises(OSError, match="stopped at step .*No space left on device; nothing checkpointed is lost"):
        train(CONFIG, tmp_path, progress=False, checkpoint_seconds=0.0)
    monkeypatch.setattr(store.RunWriter, "write", real_write)
    assert open_run(tmp_path / reference.run_id).status == "interrupted"
    assert_same_run(train(CONFIG, tmp_path, progress=False), reference)


# ----- a run bound to its own data: the chunk manifest --------------------------------------------------------------

OTHER_SEED = TrainConfig(**{**CONFIG.to_dict(), "seed": 7})  # the same shapes: its chunks fit this run's arrays


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    return _with_small_chunks(OTHER_SEED, tmp_path_factory.mktemp("other"))


@pytest.mark.parametrize("part", ["records", "snapshots", "checkpoint", "records/risk/c/0"])
def test_another_run_s_data_is_named_and_repaired(reference, other, copy, part):
    """Records, snapshots, the checkpoint or one chunk swapped in from a run of the same shapes (another seed):
    each chunk passes its CRC, but its digest is keyed by the run id — verify names it, train repairs it."""
    out_dir, path = copy
    shutil.rmtree(path / part) if (path / part).is_dir() else (path / part).unlink()
    (shutil.copytree if (other.path / part).is_dir() else shutil.copy)(other.path / part, path / part)
    damage = inspect_run(path).damage
    assert damage and all("not the data this run committed" in item.describe() for item in damage), damage
    read = {"records": lambda run: run.records, "snapshots": lambda run: run.snapshot(0)}.get(
        part.split("/")[0], lambda run: run.checkpoint_state()
    )
    with pytest.raises(CorruptRunError, match="another run's chunk, or an older copy"):
        read(open_run(path))
    repaired(out_dir, reference, "not the data this run committed")


def test_an_older_copy_of_a_chunk_is_named_and_repaired(reference, copy, tmp_path, monkeypatch):
    """A chunk replayed from an earlier state of the same run (a backup restored over it): the same run id, an
    intact CRC, but not the values this run committed — it once put NaN rows into a complete run."""
    out_dir, path = copy
    partial = _interrupted(tmp_path / "partial", monkeypatch, reference)
    chunk = f"records/risk/c/{(partial.n_records - 1) // 64}"  # the last chunk, then only partly filled
    shutil.copy(partial.path / chunk, path / chunk)
    assert [item.array for item in inspect_run(path).damage] == ["records/risk"]
    repaired(out_dir, reference, "records/risk chunk .* not the data this run committed")


def test_a_store_without_a_manifest_still_checks_snapshot_0_against_the_seed(reference, other, copy):
    """A store made before the manifest (no chunk_manifest attribute): snapshots swapped in from another seed
    are still named, by snapshot 0 against the initial state re-drawn from the config's seed."""
    out_dir, path = copy
    meta = json.loads((path / "zarr.json").read_text())
    del meta["attributes"]["chunk_manifest"]
    (path / "zarr.json").write_text(json.dumps(meta))
    shutil.rmtree(path / "snapshots")
    shutil.copytree(other.path / "snapshots", path / "snapshots")
    checkpoint = path / "checkpoint"
    shutil.rmtree(checkpoint)
    shutil.copytree(other.path / "checkpoint", checkpoint)
    damage = inspect_run(path).damage
    assert [item.describe() for item in damage] == [
        "snapshots/a chunk 0: snapshot 0 is not the initial state drawn from the config's seed"
    ]


def test_a_missing_manifest_is_damage_to_the_progress_counts(reference, copy):
    out_dir, path = copy
    meta = json.loads((path / "checkpoint" / "zarr.json").read_text())
    del meta["attributes"]["manifest"]
    (path / "checkpoint" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptRunError, match="chunk manifest is missing or malformed"):
        open_run(path)
    repaired(out_dir, reference, "chunk manifest is missing")


# ----- damaged group documents, and a damaged run of another engine revision -----------------------------------------


@pytest.mark.parametrize("text", ["{", "", '{"zarr_format": 3, "node_type": "array"}', None])
def test_a_damaged_checkpoint_group_document_is_named_and_repaired(reference, copy, text):
    """checkpoint/zarr.json holds the progress counts: garbled, emptied, of the wrong node type or gone, verify names
    it in one line (once a KeyError or a JSONDecodeError) and train re-derives the counts from the intact data."""
    out_dir, path = copy
    document = path / "checkpoint" / "zarr.json"
    document.unlink() if text is None else document.write_text(text)
    inspection = inspect_run(path)
    assert not inspection.ok and "checkpoint/zarr.json cannot be read as a zarr group" in inspection.summary()
    assert "KeyError" not in inspection.summary() and "JSONDecodeError" not in inspection.summary()
    repaired(out_dir, reference, "checkpoint attribute slot=None")


@pytest.mark.parametrize("group", ["records", "snapshots"])
def test_a_damaged_records_or_snapshots_group_document_in_an_interrupted_run_is_repaired(
    reference, tmp_path, monkeypatch, group
):
    """Once: verify said ok, and train retrained the rest, then crashed at the final commit on every retry."""
    partial = _interrupted(tmp_path, monkeypatch, reference)
    (partial.path / group / "zarr.json").write_text("not json")
    assert not inspect_run(partial.path).ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairedRunWarning)
        run = _with_small_chunks(CONFIG, tmp_path)
    assert_same_run(run, reference)


def test_a_damaged_run_of_another_engine_revision_is_left_as_it_is_with_a_clear_message(reference, copy):
    """Repairing it would mix two engines in one run (it was left 'interrupted' and then refused as stale)."""
    out_dir, path = copy
    edit_attrs(path, engine_revision="0123456789abcdef")
    chunk = path / "records/risk/c/2"
    chunk.write_bytes(chunk.read_bytes()[:-3])
    with pytest.raises(StaleRunError, match="is damaged .* engine revision 0123456789abcdef; repairing it"):
        train(CONFIG, out_dir, progress=False)
    assert open_run(path, check=False).status == "complete" and not (path / "records/risk/c/2").stat().st_size == 0


@pytest.mark.parametrize("lose", ["manifest", "checkpoint document"])
def test_with_the_manifest_lost_no_stored_chunk_is_trusted(reference, other, copy, lose):
    """Found by a hostile reviewer: the manifest removed (or the whole checkpoint document) and a chunk swapped in
    from another run — the CRC-only scan kept that chunk and blessed it with a new manifest (seed 1's final risk,
    'intact'). Without the manifest nothing stored can be told to be this run's: the repair retrains from step 0."""
    out_dir, path = copy
    if lose == "manifest":
        meta = json.loads((path / "checkpoint" / "zarr.json").read_text())
        del meta["attributes"]["manifest"]
        (path / "checkpoint" / "zarr.json").write_text(json.dumps(meta))
    else:
        (path / "checkpoint" / "zarr.json").unlink()
    shutil.copy(other.path / "records/risk/c/0", path / "records/risk/c/0")
    run = repaired(out_dir, reference, "retrained from step 0")
    assert inspect_run(run.path).ok
