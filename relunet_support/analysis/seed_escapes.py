"""First escapes over many seeds at once: the seeds of one configuration trained side by side as one
ensemble (``engine.descend`` on (S, m) arrays, the members in parallel over the cores), each only as far
as its first escape, so that a fit of ŝ₁ against ln m rests on several seeds per width at a small cost.

For each seed the network ``config`` would draw is trained by plain GD, as ``train`` trains it; after
every chunk of steps the risk of each member is computed (``model.risk``), which gives the curve R(s) on
the clock s = η·k/α with a spacing of about ``resolution`` in s (every GD step where η/α is larger), and
ŝ₁ = ``escapes.first_escape`` of that curve: the first s with R < 0.7·R(0), interpolated in (s, ln R).
A member whose parameters did not change over a chunk sits at a fixed point of GD (every neuron dead,
say) and never escapes; nor does one that reaches ``config.n_steps`` first or whose risk is no longer
finite. Their ŝ₁ is nan, and their reason says which.

``cached_seed_escapes`` keeps each width's result as JSON (configuration, seeds, ŝ₁, the engine revision
and package versions), so that a notebook and the study's index read one measurement.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relunet_support import engine
from relunet_support.analysis import escapes
from relunet_support.errors import invalid
from relunet_support.files import read_json, write_text_atomically
from relunet_support.network import model
from relunet_support.runs.revision import engine_revision

RESOLUTION = 0.02  # the spacing in s of the risk curve ŝ₁ is read from (every step where η/α is larger)
NO_ESCAPE = ("stuck", "diverged", "not within n_steps")  # why a seed has no ŝ₁
MAX_CACHE_BYTES = 1 << 20  # a cache file is a few kB; anything larger is not ours


@dataclass(frozen=True)
class SeedEscapes:
    """ŝ₁ of each seed of one configuration; nan where it did not escape (``reasons``: '' or one of NO_ESCAPE)."""

    m: int
    seeds: tuple[int, ...]
    first_escapes: np.ndarray
    reasons: tuple[str, ...]


def check_seeds(seeds) -> tuple[int, ...]:
    """The seeds as a tuple of distinct non-negative integers, else a ConfigError naming them."""
    try:
        values = tuple(seeds)
    except TypeError:
        raise invalid("escape_seeds", seeds, "a list of distinct non-negative integers") from None
    if (
        not values
        or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < 2**128 for v in values)
        or len(set(values)) != len(values)
    ):
        raise invalid("escape_seeds", list(values), "a non-empty list of distinct integers in 0 … 2**128 − 1")
    return tuple(int(v) for v in values)


def seed_escapes(config, seeds, resolution: float = RESOLUTION) -> SeedEscapes:
    """Train the networks ``config`` draws from each of ``seeds`` together, each up to its first escape, and
    return their ŝ₁ (module docstring). ``config``: a ``TrainConfig`` (its own seed is not used)."""
    seeds = check_seeds(seeds)
    if isinstance(resolution, bool) or not (isinstance(resolution, (int, float)) and 0 < resolution <= 1):
        raise invalid(
            "resolution",
            resolution,
            "a spacing on the clock s = η·k/α in (0, 1] (coarser spacings misplace ŝ₁, which is ≈ 2–10)",
        )
    states = [dataclasses.replace(config, seed=seed).initial_parameters() for seed in seeds]
    a, w, b = (np.stack([state[i] for state in states]) for i in range(3))
    dynamics = config.dynamics()
    x, y, alpha, rate = dynamics.x, dynamics.y, dynamics.alpha, dynamics.learning_rate
    chunk = max(1, int(resolution * alpha / rate))

    def risks(a, w, b) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(model.risk(a, w, b, x, y, alpha, config.activation), dtype=np.float64)

    curve_steps, curve_risks = [0], [risks(a, w, b)]
    threshold = 0.7 * curve_risks[0]
    reasons = [""] * len(seeds)
    done = np.zeros(len(seeds), dtype=bool)
    step = 0
    while not done.all() and step < config.n_steps:
        steps = min(chunk, config.n_steps - step)
        moved = engine.descend(a, w, b, dynamics, steps)
        stuck = np.logical_and.reduce(
            [np.all(new == old, axis=tuple(range(1, new.ndim))) for new, old in zip(moved, (a, w, b))]
        )
        a, w, b = moved
        step += steps
        risk = risks(a, w, b)
        curve_steps.append(step)
        curve_risks.append(risk)
        for i in np.flatnonzero(~done):
            if not math.isfinite(risk[i]):
                done[i], reasons[i] = True, "diverged"
            elif risk[i] < threshold[i]:
                done[i] = True
            elif stuck[i]:
                done[i], reasons[i] = True, "stuck"
    s = config.clock(np.array(curve_steps, dtype=np.float64))
    curves = np.array(curve_risks)  # (points, seeds)
    found = np.full(len(seeds), np.nan)
    for member in range(len(seeds)):
        if not reasons[member]:
            found[member] = escapes.first_escape(s, curves[:, member])
            reasons[member] = "" if math.isfinite(found[member]) else "not within n_steps"
    return SeedEscapes(config.m, seeds, found, tuple(reasons))


def _key(config, seeds: tuple[int, ...], resolution: float) -> dict:
    """What a cached result must match: the configuration (its seed aside), the seeds, the resolution, and the
    code that computed it (the engine revision, and this module's and ``escapes``'s sources)."""
    identity = {k: v for k, v in config.identity().items() if k != "seed"}
    sources = hashlib.sha256()
    for source in (Path(escapes.__file__), Path(__file__)):
        sources.update(source.read_bytes())
    return {
        "config": identity,
        "seeds": list(seeds),
        "resolution": resolution,
        "engine_revision": engine_revision(),
        "method": sources.hexdigest()[:16],
    }


def cached_seed_escapes(config, seeds, folder, resolution: float = RESOLUTION) -> SeedEscapes:
    """``seed_escapes``, kept in ``folder`` as ``m<m>_<digest>.json`` with the configuration, the seeds, the
    engine revision and package versions: read back when the file matches all of them, measured and written
    (atomically) otherwise — a damaged, edited (its checksum no longer matches) or foreign file is measured
    again and replaced, never read as a result."""
    seeds = check_seeds(seeds)
    key = _key(config, seeds, resolution)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(folder) / f"m{config.m}_{digest}.json"
    stored = read_json(path, MAX_CACHE_BYTES)
    found = _stored_result(stored if isinstance(stored, dict) else None, key, len(seeds))
    if found is not None:
        return SeedEscapes(config.m, seeds, *found)
    if os.path.lexists(path):  # there, but not a whole result of this measurement: said, then replaced
        warnings.warn(f"the escape cache {path} is damaged or altered: measured again", RuntimeWarning, stacklevel=2)
    result = seed_escapes(config, seeds, resolution)
    from relunet_support.runs.store import package_versions  # zarr and numba versions: only when writing

    record = {
        "key": key,
        "m": config.m,
        "first_escapes": [None if not math.isfinite(v) else float(v) for v in result.first_escapes],
        "reasons": list(result.reasons),
        "versions": package_versions(config.backend),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record["checksum"] = _checksum(record)
    try:
        write_text_atomically(path, json.dumps(record, indent=1, ensure_ascii=False))
    except OSError as error:  # a cache that cannot be kept costs a re-measurement, never the result
        warnings.warn(f"could not keep the escape cache {path}: {error}", RuntimeWarning, stacklevel=2)
    return result


def _stored_result(stored: dict | None, key: dict, count: int) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """(ŝ₁, reasons) from a cache file's JSON when it is the result of the measurement ``key`` names, whole
    (its checksum matches) and well formed for ``count`` seeds; None otherwise."""
    if stored is None or stored.get("key") != key or stored.get("checksum") != _checksum(stored):
        return None
    values, reasons = stored.get("first_escapes"), stored.get("reasons")
    if not (
        isinstance(values, list)
        and isinstance(reasons, list)
        and len(values) == len(reasons) == count
        and all(r == "" or r in NO_ESCAPE for r in reasons)
        and all((v is None) == bool(r) for v, r in zip(values, reasons))
        and all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in values)
    ):
        return None
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64), tuple(reasons)


def _checksum(record: dict) -> str:
    """sha256 of what a cache file claims (key, width, ŝ₁, reasons): an edit or damage to any of them shows."""
    claims = {name: record.get(name) for name in ("key", "m", "first_escapes", "reasons")}
    return hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).hexdigest()
