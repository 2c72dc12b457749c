"""The engines' names, known without importing any of them (numba, numba-cuda): ``config`` validates
``backend`` with ``check_backend``; ``engine.require_backend`` checks that one can run here."""

from __future__ import annotations

from relunet_support.errors import invalid

BACKENDS = ("numba", "numpy", "cuda")


def check_backend(backend: str) -> str:
    """The backend's name when it is one of BACKENDS (whether it can run here: ``require_backend``)."""
    if backend not in BACKENDS:
        raise invalid("backend", backend, "one of " + ", ".join(repr(name) for name in BACKENDS))
    return backend
