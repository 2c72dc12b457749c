"""What a run records about where it came from: the time, the versions of what computed it, the git commit."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import tqdm
import zarr

from relunet_support import __version__, engine  # engine imports no numba


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_versions(backend: str = "numba") -> dict:
    """Versions of what computes a run; for backend='cuda' also numba-cuda's and the GPU's name."""
    import numba  # only here, where its version is asked: importing numba takes about half a second

    versions = {
        "relunet_support": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": numba.__version__,
        "zarr": zarr.__version__,
        "tqdm": tqdm.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    versions.update(engine.backend_versions(backend))
    return versions


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
