import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from relunet_support.engine import _cuda
from relunet_support.jobs import batch
from relunet_support.network import data, init, scaling

# as `relunet notebooks` does: nbformat's jsonschema need not build the IRI grammars (seconds per process)
batch._skip_iri_format_checks()

NO_GPU = _cuda.unavailable_reason()  # None where backend='cuda' can run
GPU_MARKS = (pytest.mark.gpu, pytest.mark.skipif(NO_GPU is not None, reason=f"device test: {NO_GPU}"))


def needs_gpu(test):
    """Marks a test ``gpu`` and skips it where backend='cuda' cannot run."""
    for mark in GPU_MARKS:
        test = mark(test)
    return test


@pytest.fixture
def seed_data():
    return data.load("seed")


def network(m=800, kind="symmetric", seed=0, gamma=1.5, gamma_prime=0.0):
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    a, w, b = init.initial_parameters(m, beta1, beta2, kind, np.random.default_rng(seed))
    return alpha, a, w, b


# ----- tests never read or write the repository's outputs/ (user guide: "Tests write only into temporary folders:
# nothing under outputs/ is read by a test") ------------------------------------------------------------------------
# In this process: an audit hook notes every open, listing, creation, rename or removal of a path under outputs/,
# and the test that did it fails (in its teardown). In subprocesses (notebook kernels, CLI runs): the tree under
# outputs/ is fingerprinted when the session starts and compared when it ends.

OUTPUTS = Path(__file__).resolve().parent.parent / "outputs"
_OUTPUTS_TEXT = str(OUTPUTS)
_WATCHED_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.truncate",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.utime",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.rmtree",
        "shutil.move",
    }
)
_outputs_touched: list[str] = []


def _note_outputs_access(event: str, args: tuple) -> None:
    if event not in _WATCHED_EVENTS:
        return
    try:
        for arg in args[:2]:
            if isinstance(arg, (str, bytes, os.PathLike)):
                path = os.path.abspath(os.fsdecode(arg))
                if path == _OUTPUTS_TEXT or path.startswith(_OUTPUTS_TEXT + os.sep):
                    _outputs_touched.append(f"{event} {path}")
    except Exception:  # an audit hook must never break the operation it watches
        pass


sys.addaudithook(_note_outputs_access)


@pytest.fixture(autouse=True)
def _never_touches_outputs():
    before = len(_outputs_touched)
    yield
    if len(_outputs_touched) > before:
        touched = sorted(set(_outputs_touched[before:]))
        del _outputs_touched[before:]
        pytest.fail(
            "this test touched the repository's outputs/ (tests use temporary folders only): " + "; ".join(touched[:5]),
            pytrace=False,
        )


def _outputs_fingerprint() -> dict[str, tuple[int, int]]:
    """Every path under outputs/ → (mtime in ns, size): a file written, added, removed or renamed changes it."""
    found = {}
    with contextlib.suppress(OSError):
        status = os.lstat(OUTPUTS)
        found["."] = (status.st_mtime_ns, status.st_size)
    for folder, names, files in os.walk(OUTPUTS):
        for name in [*names, *files]:
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                status = os.lstat(path)
                found[os.path.relpath(path, OUTPUTS)] = (status.st_mtime_ns, status.st_size)
    return found


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or the only process) checks the tree
        session.config._outputs_before = _outputs_fingerprint()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_outputs_before", None)
    if before is None:
        return
    after = _outputs_fingerprint()
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    if changed:
        print(
            f"\nthe test session changed {len(changed)} path(s) under {OUTPUTS} (tests must use temporary folders; "
            f"or something outside the tests wrote there meanwhile, e.g. `make run`): {', '.join(changed[:10])}",
            file=sys.stderr,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
