"""Sweeps: a grid of TrainConfigs trained as independent tasks, serially or on Dask.

Each task calls the pure training function ``train(config, out_dir)`` (never a notebook kernel), so
every task writes its own run store: a rerun skips complete runs and resumes interrupted ones, and the
results are identical, bit for bit, to training the same configs one after another. A failing task is
reported with its configuration; the others finish.

``scheduler``: None starts a ``dask.distributed.LocalCluster`` sized to the machine (one single-threaded
worker process per core); an address ``"tcp://host:8786"`` or a ``distributed.Client`` runs the same
sweep on an existing cluster — e.g. one from ``dask_jobqueue.SLURMCluster`` (docs/user-guide.md).

A sweep file is YAML::

    runs_dir: outputs/runs                     # optional: the folder of run stores (a study's output_dir holds runs/)
    defaults: {n_steps: 200000, gamma: 1.5}    # TrainConfig fields shared by every run
    grid: {m: [200, 400, 800], learning_rate: [1000, 2000], seed: [0, 1, 2]}   # all combinations
"""

from __future__ import annotations

import itertools
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

from relunet_support.errors import ConfigError, invalid
from relunet_support.jobs.options import FIELD_NAMES
from relunet_support.jobs.yaml_file import read_yaml
from relunet_support.runs.config import NUMBER_LISTS, TrainConfig, check_options

SWEEP_KEYS = ("runs_dir", "defaults", "grid")


class SweepError(ConfigError):
    """A sweep description that cannot be run."""


def grid(**axes) -> list[TrainConfig]:
    """Every combination of the list-valued fields (others are shared), validated, in a fixed order:
    ``grid(m=[100, 200], learning_rate=[70], n_steps=1000, seed=[0, 1])`` gives four configs."""
    try:
        check_options("grid", axes, FIELD_NAMES)
    except ConfigError as error:
        raise SweepError(f"{error} (the TrainConfig fields)") from None
    names = sorted(k for k, v in axes.items() if isinstance(v, (list, tuple)) and k not in NUMBER_LISTS)
    shared = {k: v for k, v in axes.items() if k not in names}
    configs: dict[TrainConfig, tuple] = {}  # each config and the positions in the lists it comes from
    for index in itertools.product(*(range(len(axes[name])) for name in names)):
        try:
            config = TrainConfig(**shared, **{name: axes[name][i] for name, i in zip(names, index)})
        except TypeError as error:  # a required field is missing
            raise SweepError(f"grid cannot build a TrainConfig: {error}") from None
        if config in configs:  # a repeated value: two tasks would train the same run at once
            name, i = next((name, i) for name, i, j in zip(names, index, configs[config]) if i != j)
            raise invalid(name, axes[name], f"a list of different values ({axes[name][i]!r} is repeated)")
        configs[config] = index
    if not configs:
        empty = [name for name in names if not axes[name]]
        raise SweepError(f"the sweep has no runs: {', '.join(empty)} is an empty list")
    return list(configs)


def load_sweep(path) -> tuple[list[TrainConfig], str | None]:
    """(configs, output folder or None) from a YAML sweep file; nothing runs if it is invalid."""
    values = read_yaml(path, "sweep file", SweepError)
    if not isinstance(values, dict) or not isinstance(values.get("grid"), dict):
        raise SweepError(f"sweep file {str(path)!r} must be a mapping with a 'grid' mapping")
    try:
        check_options("sweep file", values, SWEEP_KEYS)
        defaults = check_options("defaults", {} if values.get("defaults") is None else values["defaults"], FIELD_NAMES)
        out = values.get("runs_dir")
        if out is not None and not (isinstance(out, str) and out):
            raise invalid("runs_dir", out, "a folder path (text), or left out")
        both = sorted(set(defaults) & set(values["grid"]))
        if both:
            name = both[0]
            raise SweepError(
                f"{name} is in both defaults ({name}={defaults[name]!r}) and grid ({name}={values['grid'][name]!r}): "
                "give each field in one of them"
            )
        return grid(**defaults, **values["grid"]), out
    except ConfigError as error:
        raise SweepError(f"sweep file {str(path)!r}: {error}") from None


@dataclass(frozen=True)
class TaskResult:
    config: TrainConfig
    run_id: str
    path: str | None
    status: str | None  # complete, dead, diverged — or None when the task failed
    error: str | None  # what went wrong in a failed task

    def open(self):
        from relunet_support.runs.store import open_run

        return open_run(self.path) if self.path else None


def train_task(config_values: dict, out_dir: str) -> dict:
    """One sweep task (runs on a worker): train a config given as a plain dict; never raises."""
    from relunet_support.runs.train import ensure_runs

    try:
        (run,) = ensure_runs([TrainConfig.from_dict(config_values)], out_dir, progress=False)
        return {"path": str(run.path), "status": run.status, "error": None}
    except Exception as error:
        return {
            "path": None,
            "status": None,
            "error": f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}",
        }


def _client(scheduler):
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster, True
    if isinstance(scheduler, Client):
        return scheduler, None, False  # the caller's: left open
    return Client(scheduler), None, True  # ours, to an existing cluster: closed, the cluster left running


def run_sweep(
    configs, out_dir="outputs/runs", scheduler=None, progress: bool = True, serial: bool = False
) -> list[TaskResult]:
    """Train every config (one task each) and return their results in the order given.

    ``serial=True`` runs them in this process, one after another (the reference the Dask runs equal).
    """
    from tqdm.auto import tqdm

    configs = list(configs)
    out_dir = str(Path(out_dir).resolve())
    payloads = [c.to_dict() for c in configs]
    outcomes: list[dict | None] = [None] * len(configs)
    bar = tqdm(total=len(configs), disable=not progress, unit="run", desc="sweep")
    if serial:
        for i, payload in enumerate(payloads):
            outcomes[i] = train_task(payload, out_dir)
            bar.update()
    else:
        from distributed import as_completed

        client, cluster, own_client = _client(scheduler)
        try:
            futures = client.map(train_task, payloads, out_dir=out_dir, pure=False)
            index = {future.key: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                try:
                    outcomes[index[future.key]] = future.result()
                except Exception as error:  # the worker died, or the task could not be shipped
                    outcomes[index[future.key]] = {
                        "path": None,
                        "status": None,
                        "error": f"{type(error).__name__}: {error}",
                    }
                bar.update()
        finally:
            if own_client:
                client.close()
            if cluster is not None:
                cluster.close()
    bar.close()
    assert all(o is not None for o in outcomes)  # every task reported, done or failed
    results = [TaskResult(c, c.run_id(), o["path"], o["status"], o["error"]) for c, o in zip(configs, outcomes) if o]
    failed = [r for r in results if r.error]
    if failed:
        print(f"{len(failed)} of {len(results)} sweep tasks failed:")
        for r in failed:
            print(f"  {r.run_id}: {str(r.error).splitlines()[0]}\n    config: {r.config.to_dict()}")
    return results
