"""Batches of notebooks: for each learning rate of a study, papermill runs 02_train, then
04_scaling_plots, writing executed notebooks to ``<output>/executed/``; for the headline batch (the
first with the most widths) also 03_condensation_viewer (static frames of its widest run); and
05_phase_diagram and 06_initial_condensation once. Batches run in parallel (one kernel per core), each
batch's notebooks in order in one kernel whose namespace is cleared between them (``ChainKernel``);
kernels use unix sockets, so parallel starts never race for TCP ports. One failing notebook does not
stop the others; failures are listed at the end, and ``<output>/index.html`` (``report``) sums up the
study.

The study itself is read and checked by ``study.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from relunet_support import engine  # no numba on import: it is the notebook kernels that train
from relunet_support.jobs.study import Study, StudyError

NOTEBOOK_ORDER = ("02_train", "04_scaling_plots")  # for every batch
HEADLINE_NOTEBOOKS = ("03_condensation_viewer",)  # static frames, after 02 and 04 of the headline batch only
STUDY_NOTEBOOKS = ("05_phase_diagram", "06_initial_condensation")  # once per study, each its own chain
# the kernels' own log lines (e.g. the interrupt nbclient sends at shutdown, logged as an error) are noise
# here: errors in cells reach the notebook
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def _skip_iri_format_checks() -> None:
    """Keep jsonschema (which nbformat imports to validate notebooks) from importing rfc3987_syntax.

    When that package is installed, jsonschema imports it to check the 'iri' and 'iri-reference'
    string formats, and it builds about 35 Earley parsers at import: 2.5 s of this process's start-up,
    before any notebook runs, for formats no notebook schema uses. A module marked ``None`` in
    ``sys.modules`` raises ImportError on import, and jsonschema then leaves those two formats
    unchecked (what it does wherever the package is not installed). Once jsonschema is imported this
    changes nothing, so it is only done before.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


@dataclass
class Execution:
    notebook: str
    tag: str
    path: Path
    seconds: float
    error: str | None = None


def notebook_chains(
    study: Study, notebooks, headline_notebooks, study_notebooks, output_dir: Path, executed_dir: Path
) -> list[list]:
    """The notebooks to execute as independent chains of (name, tag, target, parameters), in order: one chain
    for each study-wide notebook, then one per group of batches that share a run (usually one batch; the
    headline batch's chain ends with the headline notebooks)."""
    groups: list[tuple[set, list]] = []
    for index, (batch, tag) in enumerate(zip(study.batches, study.tags())):
        ids = {config.run_id() for config in batch.configs()}
        names = [*notebooks, *(headline_notebooks if index == study.headline() else ())]
        jobs = [(name, tag, executed_dir / f"{name}_{tag}.ipynb", batch.parameters(name, output_dir)) for name in names]
        sharing = [group for group in groups if group[0] & ids]
        for group in sharing:
            groups.remove(group)
        groups.append((ids.union(*(g[0] for g in sharing)), [job for g in sharing for job in g[1]] + jobs))
    chains = [jobs for _, jobs in groups if jobs]
    study_chains = [
        [(name, "study", executed_dir / f"{name}.ipynb", {"output_dir": str(output_dir)})] for name in study_notebooks
    ]
    return study_chains + chains  # the study-wide notebooks first: 05 is the longest chain alone


SOCKET_PREFIX = "relunet-kernels-"  # + the pid of the `relunet notebooks` that made the folder + a random part


def _remove_stale_socket_folders() -> None:
    """Remove the socket folders, in the temporary directory, of runs of `relunet notebooks` that were killed
    (kill -9 leaves no time to remove them): this user's folders whose process no longer exists."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SOCKET_PREFIX}*-*"):
        pid = folder.name[len(SOCKET_PREFIX) :].split("-")[0]
        try:
            if not pid.isdigit() or folder.is_symlink() or folder.lstat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)  # raises where no such process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # PermissionError: the pid is another user's process now; the folder is left
            continue


def _ipc_kernel_manager(socket_dir: Path):
    """A kernel manager class whose kernels listen on unix sockets under ``socket_dir``."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(transport="ipc", ip=str(socket_dir / f"kernel-{uuid.uuid4().hex[:12]}"), **kwargs)

    return IPCKernelManager


# Run silently in a chain's kernel when it starts: keep what a fresh kernel looks like — the working
# directory, the warning filters, numpy's print and error settings, matplotlib's settings (with the
# notebook's inline backend active) — in a module that survives the namespace reset.
_KEEP_KERNEL_STATE = """
import os, sys, types, warnings
import matplotlib, matplotlib.pyplot, numpy
_state = types.ModuleType("_relunet_fresh_kernel")
_state.cwd, _state.filters = os.getcwd(), list(warnings.filters)
_state.print_options, _state.errors = numpy.get_printoptions(), numpy.geterr()
_state.rc = dict(matplotlib.rcParams)
sys.modules[_state.__name__] = _state
get_ipython().reset(new_session=True)
"""
# Run silently before each next notebook: close the figures, put all of that back, reseed numpy's global
# generator from the OS (as a new process would), then clear the namespace and restart the cell count.
_RESET_KERNEL = """
import os, sys, warnings
import matplotlib, matplotlib.pyplot, numpy
_state = sys.modules["_relunet_fresh_kernel"]
matplotlib.pyplot.close("all")
os.chdir(_state.cwd)
warnings.filters[:] = _state.filters
numpy.set_printoptions(**_state.print_options)
numpy.seterr(**_state.errors)
numpy.random.seed()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    matplotlib.rcParams.update(_state.rc)
get_ipython().reset(new_session=True)
"""


class ChainKernel:
    """One kernel for the notebooks of a chain, run one after the other: started for the first, reset
    before each next one, so that a notebook starts on an empty namespace with its cells numbered from 1,
    no figures, and the working directory, warning filters, numpy print/error settings and matplotlib
    settings of a new kernel, while the modules the previous notebooks imported (numpy, matplotlib,
    zarr, numba, relunet_support) stay loaded: starting a kernel and importing them costs 2–3 s of CPU
    per notebook, about a third of what the notebooks of ``make run`` need. State a notebook sets inside
    some other module would persist; ``fresh=True`` gives every notebook a new kernel. A kernel that
    died or fails to reset is replaced by a new one.
    """

    def __init__(self, manager_class, kernel_name: str, cwd: Path, fresh: bool = False):
        self.manager_class, self.kernel_name, self.cwd, self.fresh = manager_class, kernel_name, cwd, fresh
        self.manager = None

    def ready(self):
        """The kernel manager for the next notebook: a new kernel, or this one reset."""
        from jupyter_core.utils import run_sync

        if self.fresh:
            self.shutdown()
        if self.manager is not None:
            try:
                if not run_sync(self.manager.is_alive)():
                    raise RuntimeError("the kernel died")
                self._reset()
                return self.manager
            except Exception:
                self.shutdown()
        self.manager = self.manager_class(kernel_name=self.kernel_name)
        run_sync(self.manager.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=str(self.cwd))
        if not self.fresh:
            self._run_silently(_KEEP_KERNEL_STATE)
        return self.manager

    def _reset(self) -> None:
        self._run_silently(_RESET_KERNEL)

    def _run_silently(self, code: str) -> None:
        from jupyter_core.utils import run_sync

        assert self.manager is not None
        client = self.manager.client()
        client.start_channels()
        try:
            reply = run_sync(client.execute_interactive)(code, silent=True, store_history=False, timeout=60)
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel could not be reset: {reply['content'].get('evalue')}")

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        if self.manager is not None:
            manager, self.manager = self.manager, None
            try:
                run_sync(manager.shutdown_kernel)(now=False)
            except Exception:  # already gone
                pass


def precompile_study_kernels(sizes=(4,), initial_condensation: bool = True) -> None:
    """Compile the kernels a study's notebooks train with: the 1-D ReLU kernels for these numbers of data
    points and, for notebook 06, the general kernels of its activations at d = 5 (``make``'s install calls
    this, so that ``make run`` compiles nothing)."""
    from relunet_support.analysis.initial_condensation import ZHOU_ACTIVATIONS, ZHOU_DIMENSION

    general = [(activation, ZHOU_DIMENSION) for activation in ZHOU_ACTIVATIONS] if initial_condensation else []
    engine.precompile(sizes, general)


def default_notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def run_notebooks(
    study: Study,
    output_dir=None,
    notebooks_dir=None,
    notebooks=NOTEBOOK_ORDER,
    headline_notebooks=HEADLINE_NOTEBOOKS,
    study_notebooks=STUDY_NOTEBOOKS,
    kernel_name: str = "python3",
    log=print,
    write_summary: bool = True,
    jobs: int | None = None,
    fresh_kernels: bool = False,
) -> list[Execution]:
    """Execute the notebooks for every batch of ``study`` with papermill (and the headline ones for the
    headline batch), and the study-wide ones (05_phase_diagram and 06_initial_condensation, reduced presets);
    returns every execution.

    Executed notebooks go to ``<output_dir>/executed/<notebook>_<tag>.ipynb`` (study-wide ones:
    ``<notebook>.ipynb``); runs and figures to ``<output_dir>/runs`` and ``<output_dir>/figures``; then
    ``report.write_index`` writes ``<output_dir>/index.md`` and ``index.html``, whose path is logged last.

    Batches whose runs are disjoint are independent chains (02 → 04, then 03 for the headline batch), run
    ``jobs`` at a time
    (default: one per core); batches that share a run are chained together, so no run is trained by
    two kernels at once. The notebooks of a chain share one kernel, reset between them (``ChainKernel``;
    ``fresh_kernels=True``: a new kernel for each). Kernels talk over unix sockets in a private folder
    (no TCP ports to race for).
    """
    _skip_iri_format_checks()
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for backend in sorted({config.backend for batch in study.batches for config in batch.configs()}):
        engine.require_backend(backend)  # e.g. 'cuda' where no GPU is: an error before anything is written
    output_dir = Path(output_dir or study.output_dir or "outputs").resolve()
    notebooks_dir = Path(notebooks_dir or default_notebooks_dir()).resolve()
    executed_dir = output_dir / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    sources = {}
    for name in (*notebooks, *headline_notebooks, *study_notebooks):
        source = notebooks_dir / f"{name}.py"
        if not source.exists():
            raise StudyError(f"notebook={name!r} is not allowed: {source} does not exist")
        sources[name] = source
    chains = notebook_chains(study, notebooks, headline_notebooks, study_notebooks, output_dir, executed_dir)
    total = sum(len(chain) for chain in chains)
    if jobs is not None and jobs < 1:
        raise StudyError(f"jobs={jobs!r} is not allowed: jobs must be at least 1 (None: one per core)")
    workers = max(1, min(len(chains), jobs or os.cpu_count() or 1))
    executions: list[Execution] = []
    started_all = time.perf_counter()
    lock = threading.Lock()
    _remove_stale_socket_folders()
    socket_dir = Path(tempfile.mkdtemp(prefix=f"{SOCKET_PREFIX}{os.getpid()}-"))
    manager_class = _ipc_kernel_manager(socket_dir)

    def execute(kernel: ChainKernel, name: str, tag: str, target: Path, parameters: dict) -> None:
        started = time.perf_counter()
        error = None
        try:
            papermill.execute_notebook(
                jupytext.read(sources[name]),
                str(target),
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=str(notebooks_dir),
                progress_bar=False,
                km=kernel.ready(),
            )
        except PapermillExecutionError as failure:
            error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
        except Exception as failure:  # kernel died, missing kernel, …: report it and go on
            error = f"{type(failure).__name__}: {failure}"
        seconds = time.perf_counter() - started
        with lock:
            executions.append(Execution(name, tag, target, seconds, error))
            log(
                f"[{len(executions)}/{total}] {name} {tag}: {'FAILED' if error else 'done'} in {seconds:.1f} s "
                f"({time.perf_counter() - started_all:.0f} s in all)" + (f"\n    {error}" if error else "")
            )

    batches_by_tag = dict(zip(study.tags(), study.batches))
    summaries: dict = {}

    def execute_chain(chain) -> None:
        kernel = ChainKernel(manager_class, kernel_name, notebooks_dir, fresh=fresh_kernels)
        try:
            for job in chain:
                execute(kernel, *job)
        finally:
            kernel.shutdown()
        if write_summary:  # the index's numbers for these batches, while other chains still run
            from relunet_support.views.report import summarise_batch

            for tag in dict.fromkeys(job[1] for job in chain if job[1] in batches_by_tag):
                try:
                    summary = summarise_batch(batches_by_tag[tag], tag, output_dir / "runs")
                except Exception:  # write_index tries again, and reports what goes wrong
                    continue
                with lock:
                    summaries[tag] = summary

    log(f"{total} notebooks in {len(chains)} independent chains, {workers} at a time")
    # compile the numba kernels once, here, rather than in every kernel that starts at the same time
    precompile_study_kernels(
        {config.training_data()[0].size for batch in study.batches for config in batch.configs()},
        initial_condensation="06_initial_condensation" in study_notebooks,
    )
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(execute_chain, chain) for chain in chains]:
                future.result()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    order = {job[2]: i for i, job in enumerate(job for chain in chains for job in chain)}
    executions.sort(key=lambda e: order[e.path])
    failures = [e for e in executions if e.error]
    log(
        f"{len(executions) - len(failures)} of {len(executions)} notebooks ran; executed notebooks in {executed_dir}, "
        f"figures in {output_dir / 'figures'}, runs in {output_dir / 'runs'}"
    )
    if failures:
        log("failures:")
        for e in failures:
            log(f"  {e.notebook} ({e.tag}): {e.error}  [{e.path}]")
    if write_summary:
        from relunet_support.views.report import write_index

        index_md, index_html = write_index(study, output_dir, executions, time.perf_counter() - started_all, summaries)
        log(f"results: {index_html} ({index_md.name} beside it)")
    return executions
