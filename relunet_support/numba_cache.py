"""numba's own cache folder, ``NUMBA_CACHE_DIR``, trusted only when it is this user's alone.

numba keeps the index of a cached function (a pickle it loads) in ``NUMBA_CACHE_DIR`` when that is set, and
beside the function's module (``__pycache__``) otherwise. Whoever can write into the folder can make this
process run their code, so before any function with ``cache=True`` is defined (``network/exact.py``) the folder
is checked like the kernel cache: it and every folder in it must be this user's and not writable by group or
others. Otherwise numba is told to forget it for this process (its functions then cache beside their modules),
with a ``NumbaCacheWarning``. The generated kernels never use it (``engine/_codegen.py`` keeps their cache in its
own checked folder).
"""

from __future__ import annotations

import functools
import os
import stat
import warnings

MAX_FOLDERS = 10_000  # a cache folder with more subfolders than this is not walked: it is refused


class NumbaCacheWarning(UserWarning):
    """NUMBA_CACHE_DIR may be written by others: numba's cache there is not used in this process."""


def folder_problem(root: str) -> str | None:
    """Why the folder ``root`` (with every folder in it) cannot be trusted with code, or None."""
    if os.name != "posix":
        return None
    folders = 0
    for path, _, _ in os.walk(root, followlinks=False):
        folders += 1
        if folders > MAX_FOLDERS:
            return f"holds more than {MAX_FOLDERS} folders"
        try:
            info = os.lstat(path)
        except OSError as error:
            return f"cannot be read ({error.strerror})"
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            return f"has {path} owned by uid {info.st_uid} with mode {stat.filemode(info.st_mode)}"
    return None


@functools.cache
def guard_numba_cache() -> None:
    """Call before defining a function with ``cache=True``: where ``NUMBA_CACHE_DIR`` is set but not this user's
    alone (``folder_problem``), numba's cache folder is cleared for this process, with a warning saying why."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    if not root or not os.path.isdir(root):
        return
    problem = folder_problem(root)
    if problem is None:
        return
    from numba.core import config  # numba is imported by the caller anyway

    config.CACHE_DIR = ""
    warnings.warn(
        f"NUMBA_CACHE_DIR={root!r} is not used: it {problem}, so others may have put code there that numba would "
        "load. numba caches beside each module instead; make the folder yours and writable by you only "
        f"(chown -R {os.getuid()} {root}; chmod -R go-w {root}) once you trust its contents, or unset it.",
        NumbaCacheWarning,
        stacklevel=2,
    )


def without_numba_cache_dir(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` less NUMBA_CACHE_DIR: for the child that compiles the kernels into their checked folder."""
    return {key: value for key, value in environment.items() if key != "NUMBA_CACHE_DIR"}
