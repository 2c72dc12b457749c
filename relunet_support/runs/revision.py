"""The engine revision: a hash of the sources that compute a run's numbers, recorded in every run store.

A run's identity is its configuration; what computed it is the engine revision. ``train`` reads a finished
run back only with a warning when another revision made it, and refuses to resume an unfinished one across
revisions (one run would then mix two engines).

The hash covers the modules that decide the numbers — the engine (every backend and the generated
kernel's template), the network (scales, data, initialisation, model, exact extremes), the schedule of
records and snapshots and the training loop (its step-0 record included) — each parsed and dumped by ``ast``
without its docstrings, so comments, docstrings and formatting do not change it; any change of code does.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCES = ("engine/*.py", "network/*.py", "runs/schedule.py", "runs/train.py")


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def source_files() -> list[Path]:
    """The files the revision covers, in a fixed order."""
    return sorted({path for pattern in _SOURCES for path in _PACKAGE.glob(pattern)})


@functools.cache
def engine_revision() -> str:
    """sha256 (first 16 hex digits) over (relative path, ast dump without docstrings) of ``source_files()``."""
    digest = hashlib.sha256()
    for path in source_files():
        tree = _without_docstrings(ast.parse(path.read_text(), filename=str(path)))
        digest.update(f"{path.relative_to(_PACKAGE).as_posix()}\n{ast.dump(tree)}\n".encode())
    return digest.hexdigest()[:16]
