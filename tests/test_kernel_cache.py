"""The kernel cache (engine/_codegen.py): its key, the child compile, and the rules that keep other users' and
stale files from changing which machine code runs. Every test works in its own RELUNET_KERNEL_CACHE."""

import importlib.util
import marshal
import os
import pickle
import shutil
import stat
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from relunet_support.engine import Dynamics, _codegen, _kernel_text

N = 3  # a size no other test uses: its module is compiled once here, in the fixture below


@pytest.fixture(autouse=True)
def fresh_modules(monkeypatch):
    """No kernel module loaded by another test (or an earlier one here) is reused."""
    monkeypatch.setattr(_codegen, "_modules", {})
    yield
    for name in [name for name in sys.modules if name.startswith(f"relunet_kernels_n{N}_")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A cache folder holding the n = 3 kernels compiled by a real child process (~10 s), with a symlink to a
    file elsewhere planted beforehand where the child writes its ``.compiled`` marker."""
    folder = tmp_path_factory.mktemp("compiled") / "kernels"
    victim = tmp_path_factory.mktemp("elsewhere") / "victim.txt"
    victim.write_text("not yours")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELUNET_KERNEL_CACHE", str(folder))
        path, name, _ = _codegen._module_file(N, False)
        path.with_suffix(".compiled").symlink_to(victim)
        _codegen._compile_in_subprocess(path, name, N, 0)
    return folder, name, victim


def _use_copy(compiled, tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A copy of the compiled cache as this test's RELUNET_KERNEL_CACHE; the copy and its module's path."""
    folder = tmp_path / "kernels"
    shutil.copytree(compiled[0], folder)
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    return folder, folder / f"{compiled[1]}.py"


def _assert_runs_cached_code(module) -> None:
    """Each entry point, called as the engine calls it, ran machine code loaded from numba's cache."""
    rng = np.random.default_rng(0)
    a, w, b = rng.normal(size=(3, 16))
    x, y = np.linspace(-1.0, 1.0, N), np.ones(N)
    records = [np.empty(1) for _ in range(5)]
    scalars = Dynamics(x, y, 1.0, 0.1).kernel_scalars  # the kernels' scalar arguments, in their order
    module.advance(a, w, b, x, y, *scalars, 3, np.array([1]), *records[:3], -0.5, 0.5, a.copy(), w.copy(),
                   b.copy(), *records[3:])  # fmt: skip
    module.descend_plain(a, w, b, x, y, *scalars, 3)
    module.descend_ensemble(*[np.stack((v, v)) for v in (a, w, b)], x, y, *scalars, 3)
    for function in _codegen._ENTRY_POINTS:
        stats = getattr(module, function).stats
        assert stats.cache_hits and not stats.cache_misses, (function, stats)


# --- the key ---


def test_the_key_follows_the_cpu_numba_compiles_for(monkeypatch):
    """NUMBA_CPU_NAME=generic then a shared cache: the first and second processes ran different bits."""
    source = _kernel_text._source(N, False)
    for variable in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NUMBA_ENABLE_AVX"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(_codegen, "_host_cpu", lambda: ("znver3", "+avx2,+fma"))
    host = _codegen._cache_key(source)
    keys = {host}
    monkeypatch.setattr(_codegen, "_host_cpu", lambda: ("znver3", "+avx2,-fma"))
    keys.add(_codegen._cache_key(source))
    monkeypatch.setattr(_codegen, "_host_cpu", lambda: ("skylake", "+avx2,+fma"))
    keys.add(_codegen._cache_key(source))
    monkeypatch.setenv("NUMBA_ENABLE_AVX", "0")
    keys.add(_codegen._cache_key(source))
    monkeypatch.delenv("NUMBA_ENABLE_AVX")
    monkeypatch.setenv("NUMBA_CPU_NAME", "generic")
    generic = _codegen._cache_key(source)
    keys.add(generic)
    monkeypatch.setattr(_codegen, "_host_cpu", lambda: ("znver3", "+avx2,+fma"))
    assert _codegen._cache_key(source) == generic  # generic: no host features, as numba does
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "+avx")
    keys.add(_codegen._cache_key(source))
    monkeypatch.setenv("NUMBA_CPU_NAME", "haswell")
    keys.add(_codegen._cache_key(source))
    assert len(keys) == 7
    monkeypatch.delenv("NUMBA_CPU_NAME")
    monkeypatch.delenv("NUMBA_CPU_FEATURES")
    assert _codegen._cache_key(source) == host


def test_the_key_follows_the_toolchain_and_the_imported_constants(monkeypatch, tmp_path):
    source = _kernel_text._source(N, False)
    key = _codegen._cache_key(source)
    real_version = _codegen.importlib.metadata.version
    for package in ("llvmlite", "numba"):
        with monkeypatch.context() as patch:
            fake = {package: "0.0"}
            patch.setattr(
                _codegen.importlib.metadata, "version", lambda name, f=fake: f.get(name) or real_version(name)
            )
            assert _codegen._cache_key(source) != key, package
    with monkeypatch.context() as patch:
        patch.setattr(_codegen.sys, "version", sys.version + " (another build)")
        assert _codegen._cache_key(source) != key
    constants = tmp_path / "_kernels.py"
    constants.write_text(_codegen._KERNELS_PY.read_text().replace("STATUS_DEAD = 2", "STATUS_DEAD = 3"))
    monkeypatch.setattr(_codegen, "_KERNELS_PY", constants)
    assert _codegen._cache_key(source) != key
    assert _codegen._cache_key(source + " ") != key


def test_the_host_cpu_is_read_without_llvmlite():
    name, features = _codegen._host_cpu()
    assert name
    if Path("/proc/cpuinfo").exists() and sys.platform == "linux":
        assert features
    script = "from relunet_support.engine import _codegen; _codegen._cache_key(''); import sys; print(*sys.modules)"
    modules = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert not {"llvmlite", "numba"} & {name.split(".")[0] for name in modules.split()}


# --- stale and tampered files ---


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
def test_a_wiped_numba_cache_is_compiled_again_in_a_child(compiled, tmp_path, monkeypatch):
    """The ``.compiled`` marker stays but numba's ``__pycache__`` is gone: numba would compile in this process
    (different bits). The child compile is called instead (here: a stand-in that puts the child's files back)."""
    folder, path = _use_copy(compiled, tmp_path, monkeypatch)
    shutil.rmtree(folder / "__pycache__")
    assert path.with_suffix(".compiled").exists()
    calls = []

    def child_compile(path_: Path, name: str, n: int, d: int) -> None:
        calls.append((path_, name, n, d))
        shutil.copytree(compiled[0] / "__pycache__", folder / "__pycache__", dirs_exist_ok=True)

    monkeypatch.setattr(_codegen, "_compile_in_subprocess", child_compile)
    module = _codegen.kernels_for(N)
    assert calls == [(path, compiled[1], N, 0)]
    _assert_runs_cached_code(module)


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
def test_a_missing_entry_point_is_compiled_again(compiled, tmp_path, monkeypatch):
    folder, _ = _use_copy(compiled, tmp_path, monkeypatch)
    for data in (folder / "__pycache__").glob(f"{compiled[1]}.descend_ensemble-*.nbc"):
        data.unlink()
    calls = []
    monkeypatch.setattr(_codegen, "_compile_in_subprocess", lambda *job: calls.append(job))
    _codegen.kernels_for(N)
    assert len(calls) == 1


_PAYLOAD_CHECK = """
import sys, warnings
import numpy as np
warnings.simplefilter("always")
which = sys.argv[1]
if which == "kernels":
    from relunet_support.engine import Dynamics, descend
    x = np.linspace(-1.0, 1.0, 3)
    descend(np.ones(8), np.ones(8), np.zeros(8), Dynamics(x, np.ones(3), 1.0, 0.1), 2)
else:
    from relunet_support.analysis import diagnostics
    diagnostics.extremes([1.0], [1.0], [0.0], alpha=1.0)
"""


def _plant(numba_cache: Path, module_path: Path, index_names, marker: Path) -> None:
    """Where numba looks with NUMBA_CACHE_DIR set (its subfolder for the module's folder), an index file of each
    name whose unpickling runs ``touch marker`` (numba unpickles an index before it checks anything)."""
    from numba.core.caching import _CacheLocator

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = numba_cache / _CacheLocator.get_suitable_cache_subpath(str(module_path))
    folder.mkdir(parents=True)
    for name in index_names:
        (folder / name).write_bytes(pickle.dumps(Payload()))


def _run_with_numba_cache(which: str, numba_cache: Path, kernel_cache: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache), RELUNET_KERNEL_CACHE=str(kernel_cache))
    return subprocess.run(
        [sys.executable, "-c", _PAYLOAD_CHECK, which], capture_output=True, text=True, env=environment, timeout=600
    )


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_code_planted_in_numba_s_cache_folder_never_runs_in_the_kernels(compiled, tmp_path, monkeypatch, mode):
    """The kernels' index files planted (names predictable) in a NUMBA_CACHE_DIR others can write to: the
    kernels are compiled and cached in their own checked folder, whose child never sees NUMBA_CACHE_DIR."""
    folder, path = _use_copy(compiled, tmp_path, monkeypatch)
    marker, numba_cache = tmp_path / "payload-ran", tmp_path / "numba"
    _plant(numba_cache, path, [p.name for p in (folder / "__pycache__").glob("*.nbi")], marker)
    os.chmod(numba_cache, mode)
    result = _run_with_numba_cache("kernels", numba_cache, folder)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


@pytest.mark.slow  # compiles exact.py's functions in a child (the trusted folder's case)
def test_a_numba_cache_folder_others_can_write_to_is_not_used(tmp_path):
    """exact.py's cached functions (the extremes) with their index files planted in NUMBA_CACHE_DIR: where others
    may write there, numba is told to forget the folder (a NumbaCacheWarning says why) and the payload never
    runs; where the folder is this user's alone, numba trusts it — and runs what was planted, which is why a
    folder others can write to must not be used."""
    from relunet_support.network import exact

    exact.extremes(np.ones(2), np.ones(2), np.zeros(2), 1.0, -0.5, 0.5)  # compiled: its index files exist
    cache = Path(exact.__file__).parent / "__pycache__"
    names = [p.name for p in cache.glob("exact.*.nbi")]
    assert names
    for mode, runs in ((0o777, False), (0o700, True)):
        marker, numba_cache = tmp_path / f"ran-{mode:o}", tmp_path / f"numba-{mode:o}"
        _plant(numba_cache, Path(exact.__file__), names, marker)
        for folder in (numba_cache, *numba_cache.iterdir()):
            os.chmod(folder, mode)
        result = _run_with_numba_cache("exact", numba_cache, tmp_path / "kernels")
        assert marker.exists() == runs, (mode, result.stderr)
        assert ("NumbaCacheWarning" in result.stderr) != runs, result.stderr


def test_the_numba_cache_check_names_what_is_wrong(tmp_path):
    from relunet_support.numba_cache import folder_problem

    (tmp_path / "inner").mkdir()
    os.chmod(tmp_path, 0o700)
    os.chmod(tmp_path / "inner", 0o700)
    assert folder_problem(str(tmp_path)) is None
    os.chmod(tmp_path / "inner", 0o757)
    assert f"has {tmp_path / 'inner'} owned by uid {os.getuid()} with mode drwxr-xrwx" == folder_problem(str(tmp_path))


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
def test_a_tampered_pyc_is_never_run(compiled, tmp_path, monkeypatch):
    """A ``.pyc`` whose header matches the module's source (what the import system checks) but whose code is
    someone else's: the module is compiled from the source generated here, and no ``.pyc`` is written."""
    _, path = _use_copy(compiled, tmp_path, monkeypatch)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    info = path.stat()
    code = compile("raise RuntimeError('tampered .pyc ran')", str(path), "exec")
    header = importlib.util.MAGIC_NUMBER + bytes(4) + int(info.st_mtime).to_bytes(4, "little")
    pyc.write_bytes(header + (info.st_size & 0xFFFFFFFF).to_bytes(4, "little") + marshal.dumps(code))
    before = sorted(pyc.parent.glob("*.pyc"))
    module = _codegen.kernels_for(N)
    assert module.__file__ == str(path) and callable(module.advance)
    assert sorted(pyc.parent.glob("*.pyc")) == before
    _assert_runs_cached_code(module)


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
def test_planted_symlinks_are_replaced_not_followed(compiled, tmp_path, monkeypatch):
    """Symlinks to a file elsewhere at the module's path and at the temporary name the writer once used
    (predictable: pid and thread id), and (in the fixture) at the child's ``.compiled`` marker."""
    assert compiled[2].read_text() == "not yours"
    marker = compiled[0] / f"{compiled[1]}.compiled"
    assert marker.is_file() and not marker.is_symlink()

    folder = tmp_path / "kernels"
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    folder.mkdir(mode=0o700)
    name = f"relunet_kernels_n{N}_{_codegen._cache_key(_kernel_text._source(N, False))}"
    victims = [tmp_path / "victim1.txt", tmp_path / "victim2.txt"]
    for victim in victims:
        victim.write_text("not yours")
    (folder / f"{name}.py").symlink_to(victims[0])
    (folder / f"{name}.{os.getpid()}.{threading.get_ident()}.tmp").symlink_to(victims[1])
    path, _, source = _codegen._module_file(N, False)
    assert [victim.read_text() for victim in victims] == ["not yours"] * 2
    assert not path.is_symlink() and path.read_text(encoding="utf-8") == source


# --- unsafe and unusable folders ---


@pytest.mark.parametrize("where", ["folder", "__pycache__"])
def test_a_folder_others_can_write_is_not_used(where, tmp_path, monkeypatch):
    folder = tmp_path / "kernels"
    (folder / "__pycache__").mkdir(parents=True, mode=0o700)
    (folder if where == "folder" else folder / "__pycache__").chmod(0o777)
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    monkeypatch.setattr(_codegen, "_private", None)
    with pytest.warns(_codegen.KernelCacheWarning, match=r"drwxrwxrwx.*chmod -R go-w") as caught:
        path, _, _ = _codegen._module_file(N, False)
    assert str(folder) in str(caught[0].message)
    assert path.parent != folder and path.parent.name.startswith("relunet-kernels-")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(folder.glob("*.py"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder away needs root")
def test_a_folder_owned_by_another_user_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "kernels"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, -1)
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    monkeypatch.setattr(_codegen, "_private", None)
    with pytest.warns(_codegen.KernelCacheWarning, match="owned by uid 12345"):
        path, _, _ = _codegen._module_file(N, False)
    assert path.parent != folder


def test_the_default_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("RELUNET_KERNEL_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = _codegen.cache_dir()
    assert folder == tmp_path / ".cache" / "relunet" / "kernels"
    assert _codegen._folder_problem(folder) is None
    for path in (folder, folder / "__pycache__"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


@pytest.mark.slow  # the module's kernels compiled in a child first (about 7 s)
def test_an_unwritable_folder_falls_back_and_the_kernels_still_work(compiled, tmp_path, monkeypatch):
    """Tests run as root here, and root ignores permission bits: the cache folder is put under a regular
    file (mkdir fails with NotADirectoryError, for root too). The private folder is a pre-made copy of the
    compiled cache, so that no compile is needed."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(blocker / "kernels"))
    private = tmp_path / "private"
    shutil.copytree(compiled[0], private)
    monkeypatch.setattr(_codegen, "_private", private)
    with pytest.warns(_codegen.KernelCacheWarning, match="cannot be created.*RELUNET_KERNEL_CACHE"):
        module = _codegen.kernels_for(N)
    assert Path(module.__file__).parent == private
    _assert_runs_cached_code(module)


def test_a_folder_without_write_access_falls_back(tmp_path, monkeypatch):
    """Root can write anywhere, so the access check is told that this folder is read-only (os.access)."""
    folder = tmp_path / "kernels"
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    monkeypatch.setattr(_codegen, "_private", None)
    real_access = os.access
    monkeypatch.setattr(_codegen.os, "access", lambda p, mode: Path(p).parent != tmp_path and real_access(p, mode))
    with pytest.warns(_codegen.KernelCacheWarning, match="not writable"):
        path, _, _ = _codegen._module_file(N, False)
    assert path.parent != folder


def test_a_write_that_fails_falls_back(tmp_path, monkeypatch):
    folder = tmp_path / "kernels"
    monkeypatch.setenv("RELUNET_KERNEL_CACHE", str(folder))
    monkeypatch.setattr(_codegen, "_private", None)
    real_write = _codegen._write_atomically

    def write(path: Path, text: str) -> None:
        if path.parent == folder:
            raise OSError(30, "Read-only file system", str(path))
        real_write(path, text)

    monkeypatch.setattr(_codegen, "_write_atomically", write)
    with pytest.warns(_codegen.KernelCacheWarning, match="cannot be written"):
        path, _, source = _codegen._module_file(N, False)
    assert path.parent != folder and path.read_text(encoding="utf-8") == source


# --- the child process ---

STAND_IN = """\
from relunet_support.engine._kernels import STATUS_OK


def advance(*args):
    return STATUS_OK


descend_plain = descend_ensemble = advance
"""


def test_the_child_finds_a_package_that_is_only_on_sys_path(tmp_path):
    """A Python environment with numpy and numba but without relunet_support installed (a venv that reaches
    this one's site-packages through a .pth line, which does not run its .pth files: no editable install);
    the parent puts the package on ``sys.path`` itself and compiles a stand-in module (no numba compile)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    package_root = Path(_codegen.__file__).parents[2]
    script = textwrap.dedent(f"""
        import subprocess, sys
        from pathlib import Path
        assert subprocess.run([sys.executable, "-c", "import relunet_support"], capture_output=True).returncode
        import numpy, numba  # the environment has the dependencies
        sys.path.insert(0, {str(package_root)!r})
        from relunet_support.engine import _codegen
        path = Path({str(tmp_path / "stand_in.py")!r})
        _codegen._compile_in_subprocess(path, "stand_in", 3, 0)
        assert path.with_suffix(".compiled").read_text() == "compiled"
    """)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr


def test_a_failed_compile_names_the_module_and_the_childs_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise ValueError('the reason it failed')\n")
    with pytest.raises(RuntimeError, match=r"(?s)relunet_kernels_broken.*ValueError: the reason it failed"):
        _codegen._compile_in_subprocess(path, "relunet_kernels_broken", 3, 0)
    assert not path.with_suffix(".compiled").exists()


@pytest.mark.slow
def test_the_install_compiles_what_make_run_trains_with(tmp_path):
    """`make`'s install (precompile_study_kernels): the 1-D ReLU kernels for 4 points and notebook 06's general
    kernels at d = 5, each marked compiled, so that `make run` compiles nothing."""
    code = "from relunet_support.jobs.batch import precompile_study_kernels; precompile_study_kernels()"
    env = {**os.environ, "RELUNET_KERNEL_CACHE": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)
    compiled = {path.name.rsplit("_", 1)[0] for path in tmp_path.glob("*.compiled")}
    expected = {"relunet_kernels_n4", "relunet_kernels_n4_mirror"}
    expected |= {f"relunet_kernels_{activation}_d5" for activation in ("relu", "tanh", "xtanh", "x2tanh")}
    assert compiled == expected
