"""A hostile user's files: FIFOs, devices and links where the package opens a file, numbers written the way float()
or YAML 1.1 would misread, names with terminal escape codes, leftovers of killed processes, one damaged run among
intact ones. Each ends in one clear message or a correct result — never a hang, a traceback or a wrong number.
(docs/user-guide.md, 'What is promised against each attack'.)"""

import contextlib
import dataclasses
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from relunet_support.errors import ConfigError, CorruptRunError, RunLockedError
from relunet_support.jobs.cli import main
from relunet_support.runs.config import TrainConfig
from relunet_support.runs.store import open_run
from relunet_support.runs.train import train

CONFIG = TrainConfig(m=20, learning_rate=100.0, n_steps=200, n_records=20, n_snapshots=5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder holding CONFIG's run, trained once: tests copy it before they damage it."""
    folder = tmp_path_factory.mktemp("trained")
    train(CONFIG, folder, progress=False)
    return folder


def _copy(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "runs")
    return tmp_path / "runs", tmp_path / "runs" / CONFIG.run_id()


@dataclasses.dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def _cli(*arguments, timeout=60) -> Outcome:
    """`relunet …` in this process, stopped by SIGALRM after ``timeout`` seconds: a hang fails the test instead
    of stopping the suite."""

    def hung(signum, frame):
        raise TimeoutError(f"relunet {' '.join(map(str, arguments))} hung for {timeout} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(timeout)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(argument) for argument in arguments])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue())


def _one_line_error(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relunet: error: "), result.stderr
    return lines[0]


# ----- FIFOs, devices and links where a file is read ---------------------------------------------------------------


@pytest.mark.parametrize("part", ["zarr.json", "records/zarr.json", "records/risk/zarr.json", "records/risk/c/0"])
def test_a_fifo_in_a_run_store_is_named_by_list_verify_and_train(trained, tmp_path, part):
    runs, run = _copy(trained, tmp_path)
    (run / part).unlink()
    os.mkfifo(run / part)
    listed = _cli("list", runs)
    assert listed.returncode == 0 and "not a regular file" in listed.stdout, listed.stdout + listed.stderr
    verified = _cli("verify", runs)
    assert verified.returncode == 1 and "not a regular file" in verified.stdout, verified.stdout + verified.stderr
    with pytest.raises(CorruptRunError, match=f"{part} is not a regular file"):
        open_run(run)


def test_a_symlinked_chunk_is_named_not_followed(trained, tmp_path):
    runs, run = _copy(trained, tmp_path)
    (run / "records/risk/c/0").unlink()
    (run / "records/risk/c/0").symlink_to("/dev/zero")
    with pytest.raises(CorruptRunError, match=r"records/risk/c/0 is a symbolic link. Remove it"):
        open_run(run)


def test_a_fifo_or_a_link_as_the_lock_file_is_refused_without_hanging(trained, tmp_path):
    runs, run = _copy(trained, tmp_path)
    lock = runs / f".{CONFIG.run_id()}.lock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)
    with pytest.raises(RunLockedError, match="is not a regular file: remove it"):
        train(CONFIG, runs, progress=False)
    lock.unlink()
    target = tmp_path / "elsewhere" / "created"
    target.parent.mkdir()
    lock.symlink_to(target)
    with pytest.raises(RunLockedError, match=r"cannot be used \(a symbolic link\)"):
        train(CONFIG, runs, progress=False)
    assert not target.exists()  # the link was not followed: nothing created where it points


@pytest.mark.parametrize("command", ["notebooks", "sweep"])
def test_a_study_or_sweep_file_that_is_no_regular_file_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "study.yaml"
    os.mkfifo(fifo)
    for path, what in (("/dev/zero", "is a character device, not a regular file"), (fifo, "is a FIFO")):
        assert what in _one_line_error(_cli(command, path, timeout=60))


def test_a_huge_study_file_is_refused_before_it_is_read(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("# padding\n" * 200_000)
    assert "holds 2,000,000 bytes, more than the 1,048,576 allowed" in _one_line_error(_cli("notebooks", study))


# ----- numbers read the way a study or data file means them -----------------------------------------------------------


@pytest.mark.parametrize("cell", ["1_0", "١", "٣.٥", "0x1"])
def test_a_csv_cell_is_an_ascii_number_or_refused(tmp_path, cell):
    data = tmp_path / "data.csv"
    data.write_text(f"x,y\n0.1,0.2\n{cell},0.3\n")
    with pytest.raises(ConfigError, match=rf"line 3, column 'x': {cell!r}"):
        TrainConfig(m=4, learning_rate=1.0, n_steps=1, dataset=str(data))


@pytest.mark.parametrize("text, value", [("1:30", "'1:30'"), ("1_0", "'1_0'")])
def test_yaml_numbers_are_read_as_yaml_1_2_reads_them(tmp_path, text, value):
    """PyYAML (YAML 1.1) read 1:30 as 90 (base 60) and 1_0 as 10: the study then trained at a rate nobody wrote."""
    study = tmp_path / "study.yaml"
    study.write_text(f"output_dir: {tmp_path}\nbatches: [{{learning_rate: {text}, widths: [40], n_steps: 10}}]\n")
    assert f"learning_rate={value} is not allowed" in _one_line_error(_cli("notebooks", study))


@pytest.mark.parametrize("text", ["1_0", "١٠"])
def test_a_command_line_number_is_an_ascii_number_or_refused(tmp_path, text):
    result = _cli("train", "--m", "20", "--learning-rate", text, "--steps", "10", "--out", tmp_path / "runs")
    assert f"learning_rate={text!r} is not allowed" in _one_line_error(result)
    assert not (tmp_path / "runs").exists()


def test_yaml_still_reads_plain_numbers(tmp_path):
    from relunet_support.jobs.yaml_file import read_yaml

    path = tmp_path / "values.yaml"
    path.write_text("a: 1000\nb: 1e-3\nc: 2.5\nd: -4\ne: .inf\nf: 010\n")
    assert read_yaml(path, "file") == {"a": 1000, "b": 0.001, "c": 2.5, "d": -4, "e": float("inf"), "f": 10.0}


# ----- names, leftovers, one bad run among good ones ---------------------------------------------------------------


def test_list_and_verify_escape_control_characters_in_folder_names(trained, tmp_path, capsys):
    runs, run = _copy(trained, tmp_path)
    run.rename(runs / "evil\x1b[2Jname")
    assert main(["list", str(runs)]) == 0
    assert main(["verify", str(runs)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[2Jname" in out


def test_socket_folders_of_killed_batches_are_removed(tmp_path, monkeypatch):
    from relunet_support.jobs import batch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now (not reused within this test: pids cycle through tens of thousands)
    stale = tmp_path / f"{batch.SOCKET_PREFIX}{dead.pid}-abc"
    alive = tmp_path / f"{batch.SOCKET_PREFIX}{os.getpid()}-def"
    for folder in (stale, alive):
        folder.mkdir()
        (folder / "kernel-1").write_text("")
    batch._remove_stale_socket_folders()
    assert not stale.exists() and alive.exists()


def test_the_viewer_opens_the_intact_runs_of_a_folder_and_names_the_damaged_one(trained, tmp_path):
    from relunet_support.views.viewer import CondensationViewer

    runs, run = _copy(trained, tmp_path)
    train(TrainConfig(m=24, learning_rate=100.0, n_steps=200, n_records=20, n_snapshots=5), runs, progress=False)
    chunk = run / "records/risk/c/0"
    chunk.write_bytes(bytes(b ^ 0xFF for b in chunk.read_bytes()))
    viewer = CondensationViewer(runs)
    assert [r.config.m for r in viewer.runs] == [24]
    assert len(viewer.left_out) == 1 and CONFIG.run_id() in viewer.left_out[0]
    assert "records/risk" in viewer.left_out[0] and "left out" in viewer.left_out_note.value


def test_a_run_is_resumed_only_for_the_cpu_target_it_was_trained_for(tmp_path, monkeypatch):
    """The store records the CPU target its kernels were compiled for; a resume under NUMBA_CPU_NAME=generic (on
    the same data: same id, verify passes) would have mixed code of two targets in one run: it is refused."""
    from relunet_support import engine
    from relunet_support.errors import StaleRunError

    from .test_train import interrupt_training

    interrupt_training(CONFIG, tmp_path, monkeypatch, at_call=3)
    partial = open_run(tmp_path / CONFIG.run_id())
    assert partial.status == "interrupted" and partial.attrs["cpu_target"] == engine.cpu_target()
    monkeypatch.setenv("NUMBA_CPU_NAME", "generic")
    with pytest.raises(StaleRunError, match=r"compiled for the CPU target .* this process compiles for .* generic"):
        train(CONFIG, tmp_path, progress=False)
    monkeypatch.delenv("NUMBA_CPU_NAME")
    assert train(CONFIG, tmp_path, progress=False).status == "complete"  # the same target resumes


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_relative_distance_whose_squares_overflow_is_the_ratio_of_the_norms(backend):
    """rd_a = ‖a − a₀‖/‖a₀‖ = 1.44e154 with ‖a₀‖ = 1e-3: the kernels' ratio of the squares overflowed to inf
    where numpy's ratio of the norms did not."""
    import numpy as np

    from relunet_support.engine import Dynamics, advance
    from relunet_support.network import data

    x, y = data.load("seed")
    start = (np.array([1e-3]), np.array([0.5]), np.array([0.2]))
    a, w, b = (np.array([1.44e151]), start[1].copy(), start[2].copy())
    records = advance(a, w, b, Dynamics(x, y, 1e300, 1e-300, backend=backend), n_steps=1, record_offsets=[1],
                      initial=start).records  # fmt: skip
    assert records["rd_a"][0] == pytest.approx(1.44e154, rel=1e-12)


def test_two_processes_saving_the_same_figure_never_share_a_temporary_file(tmp_path):
    """Two `relunet notebooks` on one output folder: 05 and 06 of the second failed on the first's .partial file."""
    import threading

    import matplotlib

    matplotlib.use("agg")
    from matplotlib.figure import Figure

    from relunet_support.views import plots

    failures = []

    def save_many():
        fig = Figure()
        fig.add_subplot().plot([0, 1], [1, 0])
        for _ in range(6):
            try:
                plots.save_figure(fig, tmp_path, "shared")
            except Exception as error:  # noqa: BLE001 - what the test looks for
                failures.append(error)

    threads = [threading.Thread(target=save_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and sorted(p.name for p in tmp_path.iterdir()) == ["shared.png", "shared.svg"]
    assert (tmp_path / "shared.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_full_disk_while_compiling_the_kernels_is_one_line(tmp_path, monkeypatch, capsys):
    """The child that compiles the kernels fails (its disk is full): `relunet train` says so in one line, exit 2
    (was a RuntimeError traceback with the child's whole error output)."""
    from relunet_support.engine import _codegen

    child = subprocess.CompletedProcess(
        [], 1, "", "Traceback (most recent call last):\n  …\nOSError: [Errno 28] No space left on device\n"
    )
    monkeypatch.setattr(_codegen, "_modules", {})
    monkeypatch.setattr(_codegen, "_is_compiled", lambda path, name: False)
    monkeypatch.setattr(_codegen.subprocess, "run", lambda *args, **kwargs: child)
    code = main(["train", "--m", "20", "--learning-rate", "100", "--steps", "10", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].endswith("OSError: [Errno 28] No space left on device"), err
    assert not any((tmp_path / "runs").iterdir())  # no run store, and no lock file left behind


def test_a_run_whose_lock_file_was_removed_while_it_trains_is_not_trained_twice(trained, tmp_path):
    """Deleting .RUNID.lock under a running trainer let a second one start beside it: the store names the process
    that trains it, and a second trainer on this host refuses while that process lives (a killed one's run
    resumes)."""
    import json
    import socket

    runs, run = _copy(trained, tmp_path)
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cmdline = Path(f"/proc/{trainer.pid}/cmdline")
    for _ in range(1000):  # until it runs python (its command line is empty while it starts)
        if b"python" in cmdline.read_bytes():
            break
        time.sleep(0.01)
    try:
        document = json.loads((run / "zarr.json").read_text())
        document["attributes"].update(status="running", trainer={"pid": trainer.pid, "host": socket.gethostname()})
        (run / "zarr.json").write_text(json.dumps(document))
        (runs / f".{CONFIG.run_id()}.lock").unlink(missing_ok=True)
        with pytest.raises(RunLockedError, match=f"being trained by process {trainer.pid} on this host"):
            train(CONFIG, runs, progress=False)
    finally:
        trainer.kill()
        trainer.wait()
    resumed = train(CONFIG, runs, progress=False)  # its trainer is gone: the run resumes (here, to its end)
    assert (
        resumed.status == "complete"
        and resumed.records["risk"][-1] == open_run(trained / CONFIG.run_id()).records["risk"][-1]
    )
