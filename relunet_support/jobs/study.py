"""Study files: a YAML list of batches, each a ``WidthSeries`` (one learning rate, a set of widths) that
notebooks 02 and 04 train and draw; validated, every configuration, before any notebook runs.

A study is YAML::

    output_dir: outputs            # optional
    defaults: {gamma: 1.5, seed: 0} # optional, any TrainConfig option (below)
    batches:
      - {learning_rate: 70, widths: [800], n_steps: 200000}
      - {learning_rate: 4000, widths: [40, 60, 80, 100, 120], n_steps: 2200}
      - {normalised_learning_rate: 1.0, widths: [200, 800], n_steps: 100000}   # η = 1.0·α_m per width

Options (in ``defaults`` or per batch): every TrainConfig field but m, learning_rate and n_steps
(``config.OPTION_NAMES``: gamma, gamma_prime, init, seed, dataset, x, y, n_records, …), and ``escape_seeds``:
the seeds whose first escapes enter the batch's fit of ŝ₁ against ln m (a count n for seeds 0 … n − 1, or a
list; default: the batch's own seed), trained together up to their first escape
(``seed_escapes``). Every configuration is validated before any notebook runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from relunet_support.analysis.seed_escapes import check_seeds
from relunet_support.errors import ConfigError, invalid
from relunet_support.jobs.options import OPTIONS
from relunet_support.jobs.yaml_file import read_yaml
from relunet_support.runs.config import OPTION_NAMES, check_options
from relunet_support.runs.series import WidthSeries, rate_of

ESCAPE_SEEDS = "escape_seeds"
STRIP_FRAMES = 40  # frames of the headline run that 03 draws for the index's kernel-free strip
BATCH_KEYS = ("learning_rate", "normalised_learning_rate", "widths", "n_steps", ESCAPE_SEEDS, *OPTION_NAMES)
MAX_ESCAPE_SEEDS = 4096
STUDY_KEYS = ("output_dir", "defaults", "batches")


class StudyError(ConfigError):
    """A study file or study description that cannot be run."""


@dataclass(frozen=True)
class Batch(WidthSeries):
    """One batch of a study: a ``WidthSeries`` (η or η/α, widths, steps, options) and the seeds whose first
    escapes notebook 04 fits."""

    escape_seeds: tuple[int, ...] | None = None  # None: the batch's own seed

    def seeds_for_escapes(self) -> tuple[int, ...]:
        """The seeds whose first escapes the batch fits: ``escape_seeds``, or the batch's own seed."""
        return self.escape_seeds if self.escape_seeds is not None else (self.configs()[0].seed,)

    def parameters(self, notebook: str, output_dir: Path) -> dict:
        """Papermill parameters for one notebook of this batch: the widths, the rate, the steps and an
        ``options`` dict with every TrainConfig option — TrainConfig's own default where the study is
        silent (never the notebook's smoke-sized one; lists for tuples); 03 (static) gets the run id of
        the batch's widest run, which 02 trained."""
        if notebook == "03_condensation_viewer":
            widest = max(self.configs(), key=lambda config: config.m)
            return {
                "output_dir": str(output_dir),
                "run_id": widest.run_id(),
                "interactive": False,
                "strip_frames": STRIP_FRAMES,
            }
        options = {option.name: self.options.get(option.name, option.default) for option in OPTIONS}
        params = {
            "learning_rate": float(self.rate),
            "n_steps": int(self.n_steps),
            "widths": [int(m) for m in self.widths],
            "options": {name: list(value) if isinstance(value, tuple) else value for name, value in options.items()},
            "output_dir": str(output_dir),
        }
        if self.normalised:  # η/α given, η then None: the notebook's own η (its default) must not stay set
            params["normalised_learning_rate"], params["learning_rate"] = params["learning_rate"], None
        if notebook == "04_scaling_plots":
            params[ESCAPE_SEEDS] = list(self.seeds_for_escapes())
        if notebook == "02_train":
            params["progress"] = False  # a widget progress bar is noise in an executed notebook
        return params


@dataclass(frozen=True)
class Study:
    batches: tuple[Batch, ...]
    output_dir: str | None = None

    def headline(self) -> int:
        """The batch the study is summed up by: the first one with the most widths."""
        return max(range(len(self.batches)), key=lambda i: (len(self.batches[i].widths), -i))

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


def _check_keys(where: str, values, allowed) -> dict:
    try:
        return check_options(where, values, allowed)
    except ConfigError as error:
        raise StudyError(str(error)) from None


def study_from_dict(values: dict, path=None) -> Study:
    """Validate a study description (unknown keys, every TrainConfig) and build it; ``path``: the study file
    it was read from, which an error then names."""
    try:
        return _study_from_dict(values)
    except ConfigError as error:
        raise StudyError(f"study file {str(path)!r}: {error}" if path is not None else str(error)) from None


def _study_from_dict(values: dict) -> Study:
    _check_keys("study", values, STUDY_KEYS)
    output_dir = values.get("output_dir")
    if output_dir is not None and not (isinstance(output_dir, str) and output_dir):
        raise invalid("output_dir", output_dir, "a folder path (text), or left out")
    defaults = _check_keys("defaults", values.get("defaults") or {}, (ESCAPE_SEEDS, *OPTION_NAMES))
    default_seeds = _escape_seeds("defaults", defaults.pop(ESCAPE_SEEDS)) if ESCAPE_SEEDS in defaults else None
    try:  # a bad default is the defaults' error, not the first batch's
        WidthSeries(1.0, (2,), 1, defaults).check_drawable()
    except ConfigError as error:
        raise StudyError(f"defaults: {error}") from None
    batches_in = values.get("batches")
    if not isinstance(batches_in, list) or not batches_in:
        raise StudyError(f"batches={batches_in!r} is not allowed: batches must be a non-empty list")
    batches = []
    for number, entry in enumerate(batches_in, start=1):
        where = f"batches[{number}]"
        _check_keys(where, entry, BATCH_KEYS)
        rate, normalised = rate_of(entry.get("learning_rate"), entry.get("normalised_learning_rate"), f"{where}: ")
        missing = [key for key in ("widths", "n_steps") if key not in entry]
        if missing:
            raise StudyError(f"{where} is missing {', '.join(missing)}")
        widths = entry["widths"]
        if isinstance(widths, (int, float)):
            widths = [widths]
        if not isinstance(widths, list) or not widths:
            raise StudyError(f"{where}.widths={widths!r} is not allowed: widths must be a non-empty list of integers")
        options = {**defaults, **{k: v for k, v in entry.items() if k in OPTION_NAMES}}
        seeds = _escape_seeds(where, entry[ESCAPE_SEEDS]) if ESCAPE_SEEDS in entry else default_seeds
        batch = Batch(rate, tuple(widths), entry["n_steps"], options, normalised, seeds)
        try:
            configs = batch.configs()
        except ConfigError as error:
            raise StudyError(f"{where}: {error}") from None
        try:
            batch.check_drawable()
        except ConfigError as error:
            raise StudyError(f"{where}: {error}") from None
        rate = configs[0].normalised_learning_rate if normalised else configs[0].learning_rate
        batches.append(Batch(float(rate), tuple(c.m for c in configs), configs[0].n_steps, options, normalised, seeds))
    return Study(tuple(batches), output_dir)


def _escape_seeds(where: str, value) -> tuple[int, ...]:
    """A study's ``escape_seeds``: a count n (seeds 0 … n − 1) or a list of distinct seeds (to leave the batch's
    own seed, leave the key out: null is refused)."""
    allowed = (
        f"a count 1 … {MAX_ESCAPE_SEEDS} (seeds 0 … n − 1) or a list of distinct integers in 0 … 2**128 − 1 "
        "(leave it out for the batch's own seed)"
    )
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ESCAPE_SEEDS:
        return tuple(range(value))
    if isinstance(value, list) and len(value) <= MAX_ESCAPE_SEEDS:
        try:
            return check_seeds(value)
        except ConfigError:
            pass
    raise StudyError(f"{where}: escape_seeds={value!r} is not allowed: escape_seeds must be {allowed}")


def read_study_file(path) -> dict:
    """The YAML of a study file, parsed but not yet validated (``study_from_dict`` does that)."""
    return read_yaml(path, "study file", StudyError)


def load_study(path) -> Study:
    """Read and validate a YAML study file; nothing runs if it is invalid."""
    return study_from_dict(read_study_file(path), path)
