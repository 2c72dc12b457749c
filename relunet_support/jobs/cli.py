"""Command line: ``relunet train …``, ``relunet list DIR``, ``relunet verify DIR``, ``relunet notebooks …`` and
``relunet sweep …`` — the same functions the notebooks call."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from relunet_support.errors import (
    BackendUnavailable,
    ConfigError,
    KernelCompileError,
    NotARunError,
    RunLockedError,
    StaleRunError,
    invalid,
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends '(default: …)' to every option's help that does not give it already; options whose default
    is None or a flag say in their own help what happens when they are left out."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool) or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _default_text(value) -> str:
    """A default as one writes it on the command line: (-0.5, 0.5) → -0.5 0.5, None → none."""
    return " ".join(map(str, value)) if isinstance(value, tuple) else "none" if value is None else str(value)


def _parser() -> argparse.ArgumentParser:
    from relunet_support.jobs.options import OPTIONS  # the options and their help come from TrainConfig's fields only

    parser = argparse.ArgumentParser(
        prog="relunet", description="Two-layer ReLU network training and run stores.", formatter_class=_HelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser(
        "train",
        help="train one configuration into a run store (resumes if interrupted)",
        description="Train one configuration into a run store (resumes if interrupted). "
        "Give exactly one of --learning-rate and --normalised-learning-rate.",
        formatter_class=_HelpFormatter,
    )
    tr.add_argument("--m", type=str, required=True, help="width (number of hidden neurons); required")
    rate = tr.add_mutually_exclusive_group(required=True)
    rate.add_argument("--learning-rate", type=str, help="GD step size η (or give --normalised-learning-rate)")
    rate.add_argument(
        "--normalised-learning-rate",
        type=str,
        help="η/α instead of η: η = (η/α)·α_m with α_m = m^(γ−γ′) (or give --learning-rate)",
    )
    tr.add_argument("--steps", type=str, required=True, help="number of GD steps; required")
    for option in OPTIONS:
        tr.add_argument(
            option.flag,
            type=str,
            default=option.default,
            nargs="+" if option.kind == "numbers" else None,
            help=f"{option.describe()} (default: {_default_text(option.default)})",
        )
    tr.add_argument("--out", default="outputs/runs", help="folder of run stores")
    tr.add_argument(
        "--no-resume",
        action="store_true",
        help="discard an existing run of this config (default: resume it, or read it back if complete)",
    )
    tr.add_argument("--no-progress", action="store_true", help="no progress bar (default: show one)")

    ls = sub.add_parser("list", help="list the runs in a folder", formatter_class=_HelpFormatter)
    ls.add_argument("out", nargs="?", default="outputs/runs", help="folder of run stores")
    ve = sub.add_parser(
        "verify",
        help="check every run in a folder: every chunk read and its checksum checked; exit 1 if any is damaged",
        formatter_class=_HelpFormatter,
    )
    ve.add_argument("out", nargs="?", default="outputs/runs", help="folder of run stores")

    sw = sub.add_parser(
        "sweep",
        help="train a grid of configs as independent tasks on Dask (LocalCluster by default)",
        formatter_class=_HelpFormatter,
    )
    sw.add_argument(
        "sweep_file", help="YAML: {runs_dir: DIR, defaults: {...}, grid: {m: [...], learning_rate: [...], seed: [...]}}"
    )
    sw.add_argument(
        "--scheduler",
        help="address of an existing Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster on this machine)",
    )
    sw.add_argument("--out", help="folder of run stores (default: the file's out, else outputs/runs)")
    sw.add_argument("--serial", action="store_true", help="train one after another in this process (default: on Dask)")

    nb = sub.add_parser(
        "notebooks",
        help="run 02_train, 04_scaling_plots, 03 (static) with papermill per learning rate",
        formatter_class=_HelpFormatter,
    )
    nb.add_argument(
        "study",
        nargs="?",
        help="YAML study file, e.g. studies/default.yaml (the seed's own study; "
        "`make run` runs it); or leave it out and give --learning-rate, --widths and --steps",
    )
    nb_rate = nb.add_mutually_exclusive_group()
    nb_rate.add_argument(
        "--learning-rate",
        type=str,
        help="one batch at this η instead of a study file (default: none — the study file's batches)",
    )
    nb_rate.add_argument(
        "--normalised-learning-rate",
        type=str,
        help="one batch at this η/α instead of a study file: η = (η/α)·α_m for each width (default: none)",
    )
    nb.add_argument(
        "--widths",
        type=str,
        nargs="+",
        help="widths for --learning-rate or --normalised-learning-rate, e.g. 200,400,800 or 200 400 800 "
        "(required with them; default: none)",
    )
    nb.add_argument(
        "--steps",
        type=str,
        help="number of GD steps for --learning-rate or --normalised-learning-rate (required with them; default: none)",
    )
    for option in OPTIONS:
        nb.add_argument(
            option.flag,
            type=str,
            nargs="+" if option.kind == "numbers" else None,
            help=f"{option.describe()}, for every run (default: the study's, else {_default_text(option.default)})",
        )
    nb.add_argument("--output", help="output folder (default: the study's output_dir, else outputs)")
    nb.add_argument("--notebooks-dir", help="folder of the py:percent notebooks (default: the repository's)")
    nb.add_argument(
        "--jobs", type=int, default=None, help="batches run at the same time, one kernel each (default: one per core)"
    )
    nb.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a new kernel for every notebook (default: the notebooks of a batch share one kernel, "
        "its namespace cleared between them, which saves the start-up and the imports)",
    )
    return parser


def _given_options(args, only_given: bool) -> dict:
    """The TrainConfig options on the command line, parsed (``only_given``: leave out those not given)."""
    from relunet_support.jobs.options import OPTIONS

    values = {option.name: getattr(args, option.name) for option in OPTIONS}
    return {
        option.name: option.parse(values[option.name])
        for option in OPTIONS
        if not (only_given and values[option.name] is None)
    }


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning on stderr as one line, 'relunet: warning: …' (no source line, no traceback)."""
    print(f"relunet: warning: {_shown(' '.join(str(message).split()))}", file=sys.stderr, flush=True)


def _train(args) -> int:
    from relunet_support.jobs.options import RUN_FIELDS
    from relunet_support.runs.config import TrainConfig
    from relunet_support.runs.train import DeadNetworkWarning, DivergedRunWarning, train

    options = _given_options(args, only_given=False)
    m, learning_rate, n_steps = (
        field.parse(text)
        for field, text in zip(RUN_FIELDS, (args.m, args.learning_rate or args.normalised_learning_rate, args.steps))
    )
    if args.normalised_learning_rate is not None:
        config = TrainConfig.from_normalised(m, learning_rate, n_steps, **options)
    else:
        config = TrainConfig(m=m, learning_rate=learning_rate, n_steps=n_steps, **options)
    with warnings.catch_warnings():  # restores the filters and showwarning afterwards
        warnings.simplefilter("default")  # every distinct warning once, none hidden …
        warnings.simplefilter("ignore", DeadNetworkWarning)  # … but the end state's, printed below
        warnings.simplefilter("ignore", DivergedRunWarning)
        warnings.showwarning = _show_warning  # as it is raised (the stability warning: before training)
        run = train(config, args.out, progress=not args.no_progress, resume=not args.no_resume)
    records = run.records
    print(f"{run.status}: {_shown(str(run.path))}")
    print(
        f"  step {run.step}/{config.n_steps}, final risk {records['risk'][-1]:.6g}, "
        f"η/α = {config.normalised_learning_rate:.4g}"
    )
    if run.message:
        print(f"  {_shown(run.message)}")
    return 0 if run.status == "complete" else 3


def _engine_note(run) -> str:
    from relunet_support.runs.revision import engine_revision

    if run.engine_revision is None:
        return "unrecorded"
    return "current" if run.engine_revision == engine_revision() else f"other:{run.engine_revision[:7]}"


def _list(args) -> int:
    from relunet_support.runs.store import Run, run_sort_key, scan_runs

    found = scan_runs(args.out)
    if not found:
        print(f"no runs in {args.out}")
        return 0
    runs = sorted((entry for _, entry in found if isinstance(entry, Run)), key=run_sort_key)
    print(
        f"{'status':<11} {'eta':>10} {'m':>7} {'gamma':>6} {'gamma_p':>7} {'seed':>5} {'activation':>10} "
        f"{'beta2':>6} {'d':>3} {'eta/alpha':>10} "
        f"{'step':>17} {'risk':>11} {'engine':>14}  run id"
    )
    for run in runs:
        c = run.config
        try:
            risk = run.records["risk"]
            last = f"{risk[-1]:.4e}" if risk.size else "-"
            status = _status(run)
        except NotARunError as error:  # a records chunk fails its checksum
            last, status = "-", f"corrupt ({_reason(error, run.path)})"
        print(
            f"{status:<11} {c.learning_rate:>10g} {c.m:>7} {c.gamma:>6g} {c.gamma_prime:>7g} {c.seed:>5} "
            f"{c.activation:>10} {c.beta2:>6g} {c.dimension:>3} "
            f"{c.normalised_learning_rate:>10.4g} {f'{run.step}/{c.n_steps}':>17} {last:>11} {_engine_note(run):>14}  "
            f"{run.run_id}"
        )
    for path, entry in found:
        if not isinstance(entry, Run):
            print(f"corrupt ({_shown(_reason(entry, path))})  {_shown(path.name)}")
    return 0


def _reason(error: Exception, path) -> str:
    """The error's message without the run's path, which the table prints beside it."""
    return str(error).replace(f"run {str(path)!r} is damaged: ", "")


def _status(run) -> str:
    """The run's stored status, except that a run stored as 'running' which no process is training (killed,
    e.g. by kill -9 or a power cut, before it could say so) shows as 'interrupted': `relunet train` resumes it."""
    from relunet_support.runs.store import run_is_locked

    if run.status == "running" and run_is_locked(run.path.parent, run.run_id) is False:
        return "interrupted"
    return run.status


def _verify(args) -> int:
    from relunet_support.runs.store import inspect_run, scan_runs

    found = scan_runs(args.out)
    if not found:
        print(f"no runs in {args.out}")
        return 0
    damaged = 0
    print(f"{'check':<8} {'status':<11} {'step':>17} {'engine':>14}  run id: what is wrong")
    for path, _ in found:
        inspection = inspect_run(path)
        run = inspection.run
        status = _status(run) if run is not None else "-"
        step = f"{run.progress.get('step')}/{run.config.n_steps}" if run is not None else "-"
        engine = _engine_note(run) if run is not None else "-"
        damaged += not inspection.ok
        problem = "" if inspection.ok else f": {_reason(inspection.error or Exception(inspection.summary()), path)}"
        if inspection.ok and run is not None and run.format_version < 3:
            problem = f": format {run.format_version}, no checksums: only its layout and counts could be checked"
        verdict = "ok" if inspection.ok else "DAMAGED"
        print(f"{verdict:<8} {status:<11} {step:>17} {engine:>14}  {_shown(path.name + problem)}")
    print(
        f"{len(found) - damaged} of {len(found)} runs intact"
        + (
            f"; {damaged} damaged: `relunet train` (or train(config)) repairs damaged data from the last intact "
            "snapshot; a damaged identity needs --no-resume"
            if damaged
            else ""
        )
    )
    return 1 if damaged else 0


def _notebooks(args) -> int:
    from relunet_support.jobs import batch, study
    from relunet_support.jobs.options import RUN_FIELDS

    widths_field, rate_field, steps_field = RUN_FIELDS  # m, learning_rate, n_steps
    options = _given_options(args, only_given=True)
    rate_flag = "--learning-rate" if args.learning_rate is not None else "--normalised-learning-rate"
    rate = args.learning_rate if args.learning_rate is not None else args.normalised_learning_rate
    if rate is not None:
        if args.study:
            raise study.StudyError(f"give either a study file or {rate_flag}, not both")
        if args.widths is None or args.steps is None:
            raise study.StudyError(f"{rate_flag} needs --widths and --steps too")
        parts = ",".join(args.widths).split(",")  # '200,400' or '200 400'
        if not all(part.strip() for part in parts):
            raise invalid("widths", " ".join(args.widths), "integers separated by commas or spaces, e.g. 200,400,800")
        values: dict = {
            "batches": [
                {
                    rate_flag[2:].replace("-", "_"): rate_field.parse(rate),
                    "widths": [widths_field.parse(part) for part in parts],
                    "n_steps": steps_field.parse(args.steps),
                }
            ]
        }
    elif args.widths is not None or args.steps is not None:
        raise study.StudyError(
            "--widths and --steps go with --learning-rate or --normalised-learning-rate: a study file gives its own"
        )
    elif args.study:
        values = study.read_study_file(args.study)
    else:
        raise study.StudyError(
            "give a study file (the seed's own study is studies/default.yaml) or "
            "--learning-rate (or --normalised-learning-rate) with --widths and --steps"
        )
    if options and isinstance(values, dict):  # command-line options fill the defaults; the batches override them
        defaults = {} if values.get("defaults") is None else values["defaults"]
        if isinstance(defaults, dict):  # else study_from_dict names it
            values = {**values, "defaults": {**defaults, **options}}
    chosen = study.study_from_dict(values, args.study)
    if args.output is not None and not args.output.strip():
        raise study.StudyError("--output='' is not allowed: give a folder path, or leave it out for the study's own")
    if args.jobs is not None and args.jobs < 1:
        raise study.StudyError(
            f"--jobs={args.jobs} is not allowed: the number of notebooks run at the same time "
            "must be at least 1 (leave it out for one per core)"
        )
    executions = batch.run_notebooks(
        chosen, args.output, args.notebooks_dir, jobs=args.jobs, fresh_kernels=args.fresh_kernels
    )
    return 1 if any(e.error for e in executions) else 0


def _sweep(args) -> int:
    from relunet_support.jobs.sweep import load_sweep, run_sweep

    configs, out = load_sweep(args.sweep_file)
    results = run_sweep(configs, args.out or out or "outputs/runs", scheduler=args.scheduler, serial=args.serial)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status or "failed"] = counts.get(result.status or "failed", 0) + 1
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return 1 if counts.get("failed") else 0


def _shown(text: str) -> str:
    """``text`` with every character a terminal would act on (escape codes, carriage returns …) written as its
    escape, so that a folder or file name cannot rewrite what `list` and `verify` print."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"train": _train, "list": _list, "verify": _verify, "notebooks": _notebooks, "sweep": _sweep}
    try:
        return commands[args.command](args)
    except (ConfigError, NotARunError, RunLockedError, BackendUnavailable, StaleRunError, KernelCompileError) as error:
        print(f"relunet: error: {_shown(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`relunet list | head -1`): nothing more to say, no error
        try:  # stdout to /dev/null, so that Python's flush at exit does not fail a second time
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # no file descriptor behind stdout (captured): nothing to flush there
            pass
        return 0
    except OSError as error:  # an output folder that cannot be made or written, a full disk …
        print(f"relunet: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("relunet: interrupted; run `relunet train` again with the same arguments to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
