"""Compile and cache the kernel modules whose text ``_kernel_text`` generates, and load them.

Floating-point reassociation is allowed so the neuron sums vectorise. Two consequences, both
handled here so that results are reproducible bit for bit:

- a sum computed by the stand-alone forward pass may differ in the last bit from the same sum
  computed inside the fused loop; the trainer therefore always restarts its kernel at the same
  steps (the snapshot steps), which makes a resumed run bit-identical to an uninterrupted one;
- machine code that numba compiles in-process can differ from the code it stores in, and later
  loads from, its on-disk cache (measured: last-bit differences after 2·10⁴ steps). So a kernel is
  always compiled once in a separate process, and every process — the first one included —
  runs the cached code.

The cache, and why it is safe to run code from it:

- the module's name ends in a hash of all its machine code depends on (the generated source, the
  ``_kernels.py`` constants it imports, the numba and llvmlite versions, the Python build, the target
  CPU as numba reads it: ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` or the host's); a change of any
  means a new module compiled afresh in a child process, never an in-process compile. Checking the
  cache imports neither numba nor llvmlite (the orchestrator stays light);
- a module counts as compiled when the child's ``.compiled`` marker is there *and* numba's cache
  index and code files for the entry points are (a wiped ``__pycache__`` is compiled again, in a child);
- the module is executed from the source generated in this process (no ``.pyc`` is read or written);
  files are written through unpredictable temporary files renamed into place (planted symlinks are
  replaced, never followed);
- a cache folder (or its ``__pycache__``) that is not this user's, is writable by group or others, or
  cannot be written is not used: a ``KernelCacheWarning`` says why, and the kernels are compiled into
  a private folder removed at exit. The default folder is created with mode 0o700;
- the child gets the folder holding this ``relunet_support`` first on ``PYTHONPATH``, so it compiles
  against the same package even where that is not installed.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from relunet_support.engine._general_kernel_text import _general_source
from relunet_support.engine._kernel_text import _source, unrolled
from relunet_support.engine.dynamics import KERNEL_SCALARS
from relunet_support.errors import KernelCompileError
from relunet_support.numba_cache import without_numba_cache_dir

_KERNELS_PY = Path(__file__).with_name("_kernels.py")  # constants the generated module imports
_VECMATH_PY = Path(__file__).with_name("_vecmath.py")  # the general kernels' tanh
_ENTRY_POINTS = ("advance", "descend_plain", "descend_ensemble")  # what the engine calls, compiled by the child
_ELSEWHERE = "Set RELUNET_KERNEL_CACHE to a folder you can write."
_CPUINFO_NAME_FIELDS = ("vendor_id", "cpu family", "model", "model name", "CPU implementer", "CPU architecture",
                        "CPU variant", "CPU part")  # fmt: skip


class KernelCacheWarning(UserWarning):
    """The kernel cache folder is unsafe (others may write to it) or unusable (it cannot be written): the
    kernels are compiled into a private folder instead, for this process only."""


def cache_dir() -> Path:
    """The configured kernel cache folder (``RELUNET_KERNEL_CACHE`` or ``~/.cache/relunet/kernels``), absolute."""
    root = os.environ.get("RELUNET_KERNEL_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "relunet" / "kernels").absolute()


_modules: dict[tuple[int, bool, str, int], ModuleType] = {}
_lock = threading.Lock()
_private: Path | None = None  # this process's fallback folder, made on first need


def _cache_key(source: str) -> str:
    """12 hex digits of a hash of all that the kernels' machine code depends on: the generated source, the
    constants module it imports, the numba and llvmlite versions (from their metadata: no import), the
    Python build, and the CPU numba compiles for."""
    versions = [importlib.metadata.version(package) for package in ("numba", "llvmlite")]
    imported = [_KERNELS_PY] + ([_VECMATH_PY] if "_vecmath" in source else [])
    parts = [source, *(path.read_text(encoding="utf-8") for path in imported), *versions, sys.version, *_target_cpu()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _target_cpu() -> tuple[str, str, str, str]:
    """The CPU as numba reads it (numba.core.config and codegen): ``NUMBA_CPU_NAME``, else the host's;
    ``NUMBA_CPU_FEATURES``, else none for the 'generic' CPU, else the host's, less AVX under
    ``NUMBA_ENABLE_AVX=0``. Numba keys its cache on the same and would otherwise compile in-process."""
    name = os.environ.get("NUMBA_CPU_NAME")
    features = os.environ.get("NUMBA_CPU_FEATURES")
    if features is None and str(name).lower() == "generic":
        features = ""
    host_name, host_features = _host_cpu() if name is None or features is None else ("", "")
    avx = os.environ.get("NUMBA_ENABLE_AVX", "")
    return platform.machine(), host_name if name is None else name, host_features if features is None else features, avx


@functools.cache
def _host_cpu() -> tuple[str, str]:
    """The host CPU's model and feature flags from /proc/cpuinfo (asking LLVM through llvmlite.binding costs
    ~60 ms of import), else ``platform.processor()`` and no flags."""
    try:
        first_cpu = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split("\n\n")[0]
    except OSError:
        return platform.processor(), ""
    fields = dict(line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    name = "; ".join(f"{key}={fields[key]}" for key in _CPUINFO_NAME_FIELDS if key in fields)
    return name or platform.processor(), fields.get("flags", fields.get("Features", ""))


def _folder_problem(folder: Path) -> tuple[str, str] | None:
    """Why ``folder`` cannot hold kernels (what is wrong, what to do), or None. It (made 0o700 if missing) and
    its ``__pycache__`` must be this user's, writable, and not writable by group or others: whoever can write
    there can make this process run their code."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        for path in (folder, folder / "__pycache__"):
            path.mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        return f"cannot be created ({error})", _ELSEWHERE
    for path in (folder, folder / "__pycache__"):
        info = path.stat()
        if os.name == "posix" and (info.st_uid != os.getuid() or info.st_mode & 0o022):
            problem = f"has {path} owned by uid {info.st_uid} with mode {stat.filemode(info.st_mode)}"
            return problem, (
                f"Others may have changed its files: remove {folder}, or make it yours and writable by you only "
                f"(chown -R {os.getuid()} {folder}; chmod -R go-w {folder}) once you trust its contents."
            )
        if not os.access(path, os.W_OK | os.X_OK):
            return f"has {path} not writable", _ELSEWHERE
    return None


def _private_folder() -> Path:
    """This process's own kernel folder (mode 0o700, removed at exit)."""
    global _private
    if _private is None:
        _private = Path(tempfile.mkdtemp(prefix="relunet-kernels-"))
        (_private / "__pycache__").mkdir(mode=0o700)
        atexit.register(shutil.rmtree, _private, ignore_errors=True)
    return _private


def _fall_back(folder: Path, problem: str, remedy: str) -> Path:
    """Warn that ``folder`` is not used, and why; the private folder used instead."""
    private = _private_folder()
    warnings.warn(
        f"the kernel cache folder {folder} {problem}: not used; the kernels are compiled into {private} for "
        f"this process instead (slower start). {remedy}",
        KernelCacheWarning,
        stacklevel=3,
    )
    return private


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fresh, unpredictable temporary file renamed over it (a symlink
    planted at ``path`` is replaced, never followed)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_source(folder: Path, name: str, source: str) -> Path:
    """The module's path in ``folder``, its file written unless it already holds ``source``."""
    path = folder / f"{name}.py"
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        _write_atomically(path, source)
    return path


def _module_source(n: int, mirror: bool, activation: str, d: int) -> tuple[str, str]:
    """The kernel module's source and the start of its name: the unrolled ReLU template for 1-D inputs
    (per n ≤ UNROLLED_POINTS, plain or mirrored), the general template otherwise (one per activation and d)."""
    if unrolled(n, activation, d):
        return _source(n, bool(mirror)), f"relunet_kernels_n{n}{'_mirror' if mirror else ''}"
    return _general_source(activation, d), f"relunet_kernels_{activation}_d{d}"


def _module_file(n: int, mirror: bool, activation: str = "relu", d: int = 1) -> tuple[Path, str, str]:
    """Write (if needed) the kernel module's source into the cache folder, or into the private folder where
    the cache folder is unsafe or unusable; its path, module name and source."""
    source, prefix = _module_source(n, mirror, activation, d)
    name = f"{prefix}_{_cache_key(source)}"
    folder = cache_dir()
    trouble = _folder_problem(folder)
    if trouble is not None:
        folder = _fall_back(folder, *trouble)
    try:
        path = _write_source(folder, name, source)
    except OSError as error:
        if folder == _private:
            raise
        path = _write_source(_fall_back(folder, f"cannot be written ({error})", _ELSEWHERE), name, source)
    return path, name, source


def _numba_cache_folder(path: Path) -> Path:
    """Where numba caches the functions of the module at ``path``: its ``__pycache__``, in the checked folder —
    never ``NUMBA_CACHE_DIR``, which the child does not see and ``_load`` hides (``numba_cache``)."""
    return path.parent / "__pycache__"


def _is_compiled(path: Path, name: str) -> bool:
    """Whether the child marked the module compiled and numba's cache still holds an index and machine code
    for each entry point: else numba would compile in this process, to different bits."""
    if not path.with_suffix(".compiled").is_file():
        return False
    cache = _numba_cache_folder(path)
    return all(
        any(cache.glob(f"{name}.{function}-*.nbi")) and any(cache.glob(f"{name}.{function}-*.nbc"))
        for function in _ENTRY_POINTS
    )


def _load(path: Path, name: str, source: str) -> ModuleType:
    """The module executed from ``source`` (what was written to ``path``), compiled here rather than imported:
    no ``.pyc`` is read or written; ``path`` as the code's file name lets numba find its cache."""
    from numba.core import config  # the kernels import numba now anyway

    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    saved, config.CACHE_DIR = config.CACHE_DIR, ""  # numba reads its cache folder when a function is defined
    try:
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        config.CACHE_DIR = saved
    return module


def kernels_for(n: int, mirror: bool = False, activation: str = "relu", d: int = 1) -> ModuleType:
    """The compiled kernel module for n data points of dimension d and this activation (generated and
    cached on first use; ``mirror`` applies to the 1-D ReLU kernels only)."""
    general = not unrolled(n, activation, d)
    key = (0 if general else n, bool(mirror) and not general, activation, d)
    with _lock:
        if key in _modules:
            return _modules[key]
        path, name, source = _module_file(*key)
        if not _is_compiled(path, name):
            _compile_in_subprocess(path, name, n, d if general else 0)
        _modules[key] = _load(path, name, source)
        return _modules[key]


def precompile(sizes: Iterable[int], general: Iterable[tuple[str, int]] = ()) -> None:
    """Compile the 1-D ReLU kernel modules (plain and mirrored) for each number of data points in ``sizes``,
    and the general kernel module of each (activation, d) in ``general``, that are not compiled yet, in
    parallel child processes: before several processes (notebook kernels run side by side) would each
    compile the same module."""
    with _lock:
        jobs = [
            (*_module_file(n, mirror)[:2], n, 0) if unrolled(n, "relu", 1) else (*_module_file(0, False)[:2], n, 1)
            for n in sorted(set(sizes))
            for mirror in (False, True)
        ]
        jobs += [(*_module_file(0, False, activation, d)[:2], 4, d) for activation, d in sorted(set(general))]
        jobs = list({job[1]: job for job in jobs}.values())  # one job per module
    missing = [job for job in jobs if not _is_compiled(job[0], job[1])]
    if missing:
        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            list(pool.map(lambda job: _compile_in_subprocess(*job), missing))


_COMPILE = """
import os, sys, tempfile, types
import numpy as np
path, name, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, encoding="utf-8") as file:
    source = file.read()
module = types.ModuleType(name)
module.__file__ = path
sys.modules[name] = module
exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
rng = np.random.default_rng(0)
state = [np.ascontiguousarray(v) for v in rng.normal(size=(3, 8))]
x, y = np.linspace(-1.0, 1.0, n), np.ones(n)
if d:  # the general kernels: w of shape (m, d), x of shape (n, d)
    state[1] = rng.normal(size=(8, d))
    x = np.ascontiguousarray(np.repeat(x[:, None], d, axis=1))
offsets = np.array([1, 2], dtype=np.int64)
scalars = (1.0,) * int(sys.argv[6])  # alpha, learning_rate, …: KERNEL_SCALARS (only their types matter here)
module.advance(*state, x, y, *scalars, 2, offsets, np.empty(2), np.empty(2), np.empty(2), -0.5, 0.5,
               *[v.copy() for v in state], np.empty(2), np.empty(2))
module.descend_plain(*state, x, y, *scalars, 2)
module.descend_ensemble(*[np.ascontiguousarray(np.stack((v, v))) for v in state], x, y, *scalars, 2)
descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
with os.fdopen(descriptor, "w") as file:
    file.write("compiled")
os.replace(temporary, sys.argv[5])
"""


def _child_environment() -> dict[str, str]:
    """This process's environment with the folder holding this ``relunet_support`` first on PYTHONPATH: the
    child imports the same package even where it is only on this process's ``sys.path``, not installed."""
    environment = without_numba_cache_dir(dict(os.environ))  # its cache goes beside the module, in our folder
    root = str(Path(__file__).absolute().parents[2])  # relunet_support/engine/_codegen.py → the folder above
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (root, environment.get("PYTHONPATH")) if p)
    return environment


def _compile_in_subprocess(path: Path, name: str, n: int, d: int) -> None:
    """Compile the kernel module in a child process, which writes numba's on-disk cache and then the
    ``.compiled`` marker; d = 0 for the 1-D ReLU kernels, else the input dimension of a general one."""
    marker = path.with_suffix(".compiled")
    result = subprocess.run(
        [sys.executable, "-P", "-c", _COMPILE, str(path), name, str(n), str(d), str(marker), str(len(KERNEL_SCALARS))],
        capture_output=True,
        text=True,
        env=_child_environment(),
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        raise KernelCompileError(
            f"compiling the numba kernel module {name} ({path}) in a child process failed "
            f"(exit status {result.returncode}): {lines[-1] if lines else 'no error output'}",
            result.stderr,
        )
