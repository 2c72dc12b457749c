"""The runs in a folder: every run found (or why it cannot be read), the readable ones sorted, and a full
check of one run (``relunet list``, ``relunet verify``)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from relunet_support.errors import NotARunError
from relunet_support.runs.store.checks import Damage
from relunet_support.runs.store.reader import Run, _looks_like_run, open_run


@dataclasses.dataclass(frozen=True)
class Inspection:
    """What ``inspect_run`` found: the run (None when it cannot be opened at all) and its damage."""

    path: Path
    run: Run | None
    damage: tuple[Damage, ...]
    error: NotARunError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.damage

    def summary(self) -> str:
        if self.error is not None:
            return str(self.error)
        return "; ".join(item.describe() for item in self.damage) or "ok"


def inspect_run(path) -> Inspection:
    """Open a run and read every committed chunk: all its damage, never an exception for a damaged run."""
    path = Path(path)
    try:
        run = open_run(path, check=False)
    except NotARunError as error:
        return Inspection(path, None, (), error)
    return Inspection(path, run, tuple(run.damage()))


class UnreadableRunWarning(UserWarning):
    """A run folder that cannot be opened (damaged): left out of ``list_runs``, never guessed at."""


def scan_runs(out_dir) -> list[tuple[Path, Run | NotARunError]]:
    """Every run folder directly inside ``out_dir``: (path, the opened Run or the error saying why it cannot be
    read), sorted by path. A missing ``out_dir`` is a NotARunError."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        why = "it is a file" if out_dir.exists() else "no such directory"
        raise NotARunError(f"out_dir={str(out_dir)!r} is not a folder of runs: {why}")
    found: list[tuple[Path, Run | NotARunError]] = []
    for path in sorted(out_dir.iterdir()):
        if _looks_like_run(path):
            try:
                found.append((path, open_run(path)))
            except NotARunError as error:
                found.append((path, error))
    return found


def list_runs(out_dir) -> list[Run]:
    """All readable runs directly inside ``out_dir``, sorted by (η, m, γ, γ′, seed). A damaged run is left out
    with an ``UnreadableRunWarning`` naming it and why; the others are listed. A missing folder is an error."""
    runs = []
    for _, found in scan_runs(out_dir):
        if isinstance(found, Run):
            runs.append(found)
        else:
            warnings.warn(f"left out: {found}", UnreadableRunWarning, stacklevel=2)
    return sorted(runs, key=run_sort_key)


def run_sort_key(run: Run) -> tuple:
    c = run.config
    return (c.learning_rate, c.m, c.gamma, c.gamma_prime, c.seed, run.run_id)
