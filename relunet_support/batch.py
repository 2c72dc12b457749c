"""Batches of notebooks: for each learning rate of a study, papermill runs 02_train, then
04_scaling_plots, then 03_condensation_viewer (static), writing executed notebooks to
``<output>/executed/``. Kernels run one after another (never in parallel: parallel kernel starts race
for ZMQ ports). One failing notebook does not stop the others; failures are listed at the end.

A study is YAML::

    output_dir: outputs            # optional
    defaults: {gamma: 1.5, seed: 0} # optional, any TrainConfig option below
    batches:
      - {learning_rate: 70, widths: [800], n_steps: 200000}
      - {learning_rate: 4000, widths: [40, 60, 80, 100, 120], n_steps: 2200}
      - {normalised_learning_rate: 1.0, widths: [200, 800], n_steps: 100000}   # η = 1.0·α_m per width

Options (in ``defaults`` or per batch): gamma, gamma_prime, init, seed, dataset, n_records, n_snapshots,
record_every, snapshot_every. Every configuration is validated before any notebook runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import engine
from .config import TrainConfig, format_number, sweep_configs
from .errors import ConfigError

OPTION_KEYS = ("gamma", "gamma_prime", "init", "seed", "dataset", "n_records", "n_snapshots", "record_every",
               "snapshot_every", "backend")
BATCH_KEYS = ("learning_rate", "normalised_learning_rate", "widths", "n_steps", *OPTION_KEYS)
STUDY_KEYS = ("output_dir", "defaults", "batches")
NOTEBOOK_ORDER = ("02_train", "04_scaling_plots", "03_condensation_viewer")
STUDY_NOTEBOOKS = ("05_phase_diagram",)  # once per study, after the learning rates

DEFAULT_STUDY = {
    "batches": [
        {"learning_rate": 70, "widths": [800], "n_steps": 200_000},
        {"learning_rate": 4000, "widths": [200, 400, 600, 800, 1000], "n_steps": 200_000},
        {"learning_rate": 2000, "widths": [200, 400, 600, 800, 1000], "n_steps": 250_000},
        {"learning_rate": 1000, "widths": [200, 400, 600, 800, 1000], "n_steps": 300_000},
        {"learning_rate": 4000, "widths": [40, 60, 80, 100, 120], "n_steps": 2_200},
    ],
}


class StudyError(ConfigError):
    """A study file or study description that cannot be run."""


@dataclass(frozen=True)
class Batch:
    """One learning rate — η, or η/α when ``normalised`` — and a set of widths; ``options`` are extra
    TrainConfig fields."""

    learning_rate: float
    widths: tuple[int, ...]
    n_steps: int
    options: dict = field(default_factory=dict, hash=False)
    normalised: bool = False

    def configs(self) -> list[TrainConfig]:
        rate = {"normalised_learning_rate" if self.normalised else "learning_rate": self.learning_rate}
        return sweep_configs(self.widths, self.n_steps, **rate, **self.options)

    @property
    def tag(self) -> str:
        """'lr4000_m40-120' (or 'nlr2_m200-1000' for η/α = 2, nlr = normalised learning rate): the rate exactly, and the range of widths."""
        widths = sorted(self.widths)
        span = f"{widths[0]}" if len(widths) == 1 else f"{widths[0]}-{widths[-1]}"
        rate = f"nlr{format_number(self.learning_rate)}" if self.normalised else f"lr{format_number(self.learning_rate)}"
        return f"{rate}_m{span}"

    def parameters(self, notebook: str, output_dir: Path) -> dict:
        """Papermill parameters for one notebook of this batch: every TrainConfig option is passed,
        with TrainConfig's own default where the study is silent (never the notebook's smoke-sized one)."""
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        params = {"learning_rate": float(self.learning_rate), "n_steps": int(self.n_steps),
                  "output_dir": str(output_dir), **{key: self.options.get(key, defaults[key]) for key in OPTION_KEYS}}
        if self.normalised:
            params["normalised_learning_rate"] = params.pop("learning_rate")
        if notebook == "03_condensation_viewer":
            params.update(m=int(max(self.widths)), interactive=False)
        else:
            params["widths"] = [int(m) for m in self.widths]
        if notebook == "02_train":
            params["progress"] = False  # a widget progress bar is noise in an executed notebook
        return params


@dataclass(frozen=True)
class Study:
    batches: tuple[Batch, ...]
    output_dir: str | None = None

    def tags(self) -> list[str]:
        """A unique tag per batch (a short hash is added when two batches share η and width range)."""
        tags, seen = [], set()
        for batch in self.batches:
            tag = batch.tag
            if tag in seen:
                digest = hashlib.sha256(repr((batch.widths, batch.n_steps, sorted(batch.options.items()))).encode())
                tag = f"{tag}_{digest.hexdigest()[:6]}"
            seen.add(tag)
            tags.append(tag)
        return tags


def _check_keys(where: str, values: dict, allowed) -> None:
    if not isinstance(values, dict):
        raise StudyError(f"{where}={values!r} is not allowed: {where} must be a mapping of keys to values")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise StudyError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: allowed keys are "
                         f"{', '.join(allowed)}")


def study_from_dict(values: dict) -> Study:
    """Validate a study description (unknown keys, every TrainConfig) and build it."""
    _check_keys("study", values, STUDY_KEYS)
    defaults = values.get("defaults") or {}
    _check_keys("defaults", defaults, OPTION_KEYS)
    batches_in = values.get("batches")
    if not isinstance(batches_in, list) or not batches_in:
        raise StudyError(f"batches={batches_in!r} is not allowed: batches must be a non-empty list")
    batches = []
    for number, entry in enumerate(batches_in, start=1):
        where = f"batches[{number}]"
        _check_keys(where, entry, BATCH_KEYS)
        normalised = "normalised_learning_rate" in entry
        if normalised == ("learning_rate" in entry):
            raise StudyError(f"{where} needs exactly one of learning_rate (η) and normalised_learning_rate (η/α)")
        missing = [key for key in ("widths", "n_steps") if key not in entry]
        if missing:
            raise StudyError(f"{where} is missing {', '.join(missing)}")
        widths = entry["widths"]
        if isinstance(widths, (int, float)):
            widths = [widths]
        if not isinstance(widths, list) or not widths:
            raise StudyError(f"{where}.widths={widths!r} is not allowed: widths must be a non-empty list of integers")
        options = {**defaults, **{k: v for k, v in entry.items() if k in OPTION_KEYS}}
        rate = entry["normalised_learning_rate" if normalised else "learning_rate"]
        batch = Batch(rate, tuple(widths), entry["n_steps"], options, normalised)
        try:
            configs = batch.configs()
        except ConfigError as error:
            raise StudyError(f"{where}: {error}") from None
        rate = configs[0].normalised_learning_rate if normalised else configs[0].learning_rate
        batches.append(Batch(float(rate), tuple(c.m for c in configs), configs[0].n_steps, options, normalised))
    return Study(tuple(batches), values.get("output_dir"))


def read_study_file(path) -> dict:
    """The YAML of a study file, parsed but not yet validated (``study_from_dict`` does that)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise StudyError(f"study file {str(path)!r} cannot be read: {error.strerror}") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise StudyError(f"study file {str(path)!r} is not valid YAML: {error}") from None
    return values if values is not None else {}


def load_study(path) -> Study:
    """Read and validate a YAML study file; nothing runs if it is invalid."""
    return study_from_dict(read_study_file(path))


def default_study() -> Study:
    """The seed notebook's own study."""
    return study_from_dict(DEFAULT_STUDY)


@dataclass
class Execution:
    notebook: str
    tag: str
    path: Path
    seconds: float
    error: str | None = None


def default_notebooks_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "notebooks"


def run_notebooks(study: Study, output_dir=None, notebooks_dir=None, notebooks=NOTEBOOK_ORDER,
                  study_notebooks=STUDY_NOTEBOOKS, kernel_name: str = "python3", log=print) -> list[Execution]:
    """Execute the notebooks for every batch of ``study`` with papermill, then the study-wide ones
    (05_phase_diagram, reduced preset); returns every execution.

    Executed notebooks go to ``<output_dir>/executed/<notebook>_<tag>.ipynb`` (study-wide ones:
    ``<notebook>.ipynb``); runs and figures to ``<output_dir>/runs`` and ``<output_dir>/figures``.
    """
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
    for name in (*notebooks, *study_notebooks):
        source = notebooks_dir / f"{name}.py"
        if not source.exists():
            raise StudyError(f"notebook={name!r} is not allowed: {source} does not exist")
        sources[name] = source
    def execute(name: str, tag: str, target: Path, parameters: dict) -> None:
        log(f"[{time.strftime('%H:%M:%S')}] {name} {tag} → {target}")
        started = time.perf_counter()
        error = None
        try:
            papermill.execute_notebook(jupytext.read(sources[name]), str(target), parameters=parameters,
                                       kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=False)
        except PapermillExecutionError as failure:
            error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
        except Exception as failure:  # kernel died, missing kernel, …: report it and go on
            error = f"{type(failure).__name__}: {failure}"
        executions.append(Execution(name, tag, target, time.perf_counter() - started, error))
        if error:
            log(f"    FAILED: {error}")

    executions: list[Execution] = []
    for batch, tag in zip(study.batches, study.tags()):
        for name in notebooks:
            execute(name, tag, executed_dir / f"{name}_{tag}.ipynb", batch.parameters(name, output_dir))
    for name in study_notebooks:
        execute(name, "study", executed_dir / f"{name}.ipynb", {"output_dir": str(output_dir)})
    failures = [e for e in executions if e.error]
    log(f"{len(executions) - len(failures)} of {len(executions)} notebooks ran; executed notebooks in {executed_dir}, "
        f"figures in {output_dir / 'figures'}, runs in {output_dir / 'runs'}")
    if failures:
        log("failures:")
        for e in failures:
            log(f"  {e.notebook} ({e.tag}): {e.error}  [{e.path}]")
    return executions
