import subprocess
import sys

import pytest

from relunet_support.jobs.cli import main
from relunet_support.runs.store import list_runs


def test_train_and_list(tmp_path, capsys):
    out = tmp_path / "runs"
    assert (
        main(
            [
                *"train --m 40 --learning-rate 126.49 --steps 500 --out".split(),
                str(out),
                *"--n-snapshots 10 --no-progress".split(),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("complete: ") and "lr126.49_m40_g1.5_gp0_seed0_symmetric_data-seed_" in printed
    (run,) = list_runs(out)
    assert run.config.learning_rate == 126.49 and run.n_snapshots == run.config.snapshot_steps().size <= 10
    assert main(["list", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "complete" in listing and run.run_id in listing
    header, row = listing.splitlines()[:2]
    columns = dict(zip(header.split(), row.split()))
    assert columns["activation"] == "relu" and columns["beta2"] == "1" and columns["d"] == "1"


def test_dead_run_is_reported(tmp_path, capsys):
    code = main(
        ["train", "--m", "40", "--learning-rate", "4000", "--steps", "2200", "--out", str(tmp_path), "--no-progress"]
    )
    assert code == 3
    assert "dead:" in capsys.readouterr().out


def test_diverged_run_is_reported(tmp_path, capsys):
    """η = 10²⁰⁰ at m = 40: the first step makes the parameters non-finite — diverged, not dead: exit 3."""
    code = main(
        [*"train --m 40 --learning-rate 1e200 --steps 100 --n-records 50 --n-snapshots 5 --out".split(), str(tmp_path)]
        + ["--no-progress"]
    )
    out = capsys.readouterr().out
    assert code == 3 and out.startswith("diverged: ") and "training diverged at step 1" in out
    (run,) = list_runs(tmp_path)
    assert run.status == "diverged"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--m", "-3"], "m=-3 is not allowed"),
        (["--m", "41"], "m=41 is not allowed: m must be even"),
        (["--m", "2.5"], "m=2.5 is not allowed"),
        (["--learning-rate", "nan"], "learning_rate=nan is not allowed"),
        (["--learning-rate", "0"], "learning_rate=0 is not allowed"),
        (["--steps", "0"], "n_steps=0 is not allowed"),
        (["--gamma", "inf"], "gamma=inf is not allowed"),
        (["--init", "xavier"], "init='xavier' is not allowed"),
        (["--dataset", "mnist"], "dataset='mnist' is not allowed"),
        (["--gamma", "1000"], "gamma=1000.0 is not allowed: gamma must be such that α, β₁, β₂, κ and κ′ are finite"),
        (["--gamma", "-1000"], "gamma=-1000.0 is not allowed"),
        (["--gamma-prime", "500"], "gamma_prime=500.0 is not allowed"),
        (["--m", "1e12"], "m=1000000000000 is not allowed: m must be small enough that one training fits in"),
        (["--steps", "1e9", "--n-records", "1e9"], "n_records=1000000000 is not allowed"),
        (["--seed", "1e20"], "seed=1e+20 is not allowed: seed must be an integer in 0 … 2**128 − 1"),
        (["--steps", "10.00000000000000001"], "n_steps='10.00000000000000001' is not allowed"),
    ],
)
def test_bad_input_exits_nonzero_without_traceback(tmp_path, capsys, args, expected):
    base = {"--m": "40", "--learning-rate": "100", "--steps": "10"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair]
    assert main(["train", *argv, "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("relunet: error: ")
    assert not (tmp_path / "runs").exists()


def test_bad_input_in_a_real_process_prints_one_line(tmp_path):
    """The console script as a user runs it: exit code 2 and the error on one line, no traceback."""
    result = subprocess.run(
        [
            sys.executable,
            *"-m relunet_support.jobs.cli train --m 41 --learning-rate 100 --steps 10 --out".split(),
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("relunet: error: m=41 is not allowed")


def test_train_prints_the_stability_warning_on_stderr(tmp_path, capsys):
    eta = 4 * 40**1.5  # η/α = 4, beyond the stability limit 2
    code = main(
        [
            *"train --m 40 --learning-rate".split(),
            repr(eta),
            *"--steps 20 --n-records 10 --n-snapshots 5 --out".split(),
            str(tmp_path),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.out.startswith("complete: ")
    lines = [line for line in captured.err.splitlines() if line.startswith("relunet: warning: ")]
    assert len(lines) == 1, captured.err
    assert "η/α = 4 at m=40, beyond the stable limit 2" in lines[0]
    assert "Traceback" not in captured.err and "warnings.warn" not in captured.err


def test_train_by_normalised_learning_rate(tmp_path, capsys):
    assert (
        main(
            [
                *"train --m 40 --normalised-learning-rate 0.5 --steps 20 --n-records 10 --n-snapshots 5 --out".split(),
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    (run,) = list_runs(tmp_path)
    assert run.config.learning_rate == pytest.approx(0.5 * 40**1.5)
    assert run.config.normalised_learning_rate == pytest.approx(0.5)
    assert "η/α = 0.5" in capsys.readouterr().out


@pytest.mark.parametrize(
    "rates", [[], ["--learning-rate", "100", "--normalised-learning-rate", "0.5"]], ids=["neither", "both"]
)
def test_exactly_one_learning_rate_option(tmp_path, capsys, rates):
    with pytest.raises(SystemExit) as info:
        main(["train", "--m", "40", "--steps", "10", *rates, "--out", str(tmp_path / "runs")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--learning-rate" in err and "--normalised-learning-rate" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_help_shows_every_default_from_train_config(capsys):
    import argparse
    import dataclasses

    from relunet_support.jobs.cli import _parser
    from relunet_support.jobs.options import OPTIONS
    from relunet_support.runs.config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    parser = _parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subparsers.choices) == {"train", "list", "verify", "sweep", "notebooks"}
    for name, sub in subparsers.choices.items():
        formatter = sub._get_formatter()
        required = {a for g in sub._mutually_exclusive_groups if g.required for a in g._group_actions}
        for action in sub._actions:
            if "-h" in action.option_strings or action.required or action in required:
                continue
            if action.option_strings or action.nargs == "?":
                text = formatter._get_help_string(action) % {"default": action.default}
                assert "default" in text, f"relunet {name} {action.dest}: {text!r}"
    args = parser.parse_args(["train", "--m", "40", "--learning-rate", "1", "--steps", "1"])
    assert {option.name for option in OPTIONS} == set(defaults)  # every field but m, learning_rate, n_steps
    for name in defaults:
        assert getattr(args, name) == defaults[name], name
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for expected in (
        f"(default: {defaults['gamma']})",
        f"(default: {defaults['gamma_prime']})",
        f"(default: {defaults['init']})",
        f"(default: {defaults['n_records']})",
        f"(default: {defaults['n_snapshots']})",
        f"(default: {defaults['backend']})",
        "(default: outputs/runs)",
        "--normalised-learning-rate",
        "--x X [X ...] inputs of dataset=custom",
        "(default: -0.5 0.5)",
        "(default: none)",
        "(gaussian | symmetric | antisymmetric)",
    ):
        assert expected in help_text, expected


def test_train_takes_every_option_from_the_schema(tmp_path, capsys):
    """Custom data, an interval and 'none' on the command line, parsed by the option's kind."""
    code = main(
        [
            *"train --m 20 --learning-rate 50 --steps 20 --dataset custom --x -0.5 0 0.5 --y 0.25,0,0.25".split(),
            *"--interval -1 1 --record-every none --snapshot-every 5 --n-records 10 --out".split(),
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    (run,) = list_runs(tmp_path)
    assert run.config.x == (-0.5, 0.0, 0.5) and run.config.y == (0.25, 0.0, 0.25)
    assert run.config.interval == (-1.0, 1.0) and run.config.record_every is None and run.config.snapshot_every == 5


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_notebooks_refuses_fewer_than_one_job(tmp_path, capsys, jobs):
    code = main(
        [
            *"notebooks --learning-rate 100 --widths 40 --steps 10 --jobs".split(),
            jobs,
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and f"--jobs={jobs} is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_notebooks_without_a_study_or_a_learning_rate_says_what_to_give(tmp_path, capsys):
    code = main(["notebooks", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "give a study file (the seed's own study is studies/default.yaml)" in err
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["train", "--m", "40", "--learning-rate", "100", "--steps", "10", "--out", str(blocker / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("relunet: error: ") and str(blocker) in err and len(err.splitlines()) == 1


def test_a_study_file_that_is_not_text_is_named(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_bytes(b"\xff\xfe\x00 not yaml")
    assert main(["notebooks", str(study)]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(
    "widths, message",
    [
        (["40,,80"], "widths='40,,80' is not allowed: widths must be integers separated by commas or spaces"),
        (["40,"], "widths='40,' is not allowed"),
        (["40", "40"], "widths=[40, 40] is not allowed: widths must be a list of different widths (40 is repeated)"),
        (["40,80", "40.0"], "(40 is repeated)"),
    ],
)
def test_notebooks_names_bad_widths(tmp_path, capsys, widths, message):
    code = main(
        ["notebooks", "--learning-rate", "100", "--steps", "10", "--widths", *widths, "--output", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "executed").exists()


def test_notebooks_by_normalised_learning_rate(tmp_path, capsys, monkeypatch):
    from relunet_support.jobs import batch

    studies = []
    monkeypatch.setattr(batch, "run_notebooks", lambda study, *args, **kwargs: studies.append(study) or [])
    argv = ["notebooks", "--normalised-learning-rate", "0.5", "--widths", "40", "80", "--steps", "10"]
    assert main([*argv, "--seed", "3"]) == 0
    (study,) = studies
    assert study.tags() == ["nlr0.5_m40-80"] and study.batches[0].options == {"seed": 3}
    assert [c.learning_rate for c in study.batches[0].configs()] == [0.5 * 40**1.5, 0.5 * 80**1.5]
    study_file = tmp_path / "study.yaml"
    study_file.write_text("batches: [{learning_rate: 100, widths: [40], n_steps: 10}]\n")
    assert main(["notebooks", str(study_file), "--widths", "80"]) == 2  # a study gives its own widths
    assert "--widths and --steps go with --learning-rate or --normalised-learning-rate" in capsys.readouterr().err


def test_a_run_left_running_by_a_killed_process_lists_as_interrupted(tmp_path, capsys):
    """A process killed outright (kill -9, a power cut) leaves its run stored as 'running'. `relunet list` and
    `relunet verify` show it as 'interrupted' once no process holds its lock, and as 'running' while one does."""
    import fcntl
    import json

    out = tmp_path / "runs"
    assert (
        main([*"train --m 20 --learning-rate 50 --steps 200 --n-snapshots 4 --no-progress --out".split(), str(out)])
        == 0
    )
    (run,) = list_runs(out)
    store = run.path / "zarr.json"
    document = json.loads(store.read_text())
    document["attributes"]["status"] = "running"  # what the killed process left behind
    store.write_text(json.dumps(document))
    capsys.readouterr()

    def shown(command: str) -> str:
        main([command, str(out)])
        return capsys.readouterr().out.splitlines()[1].split()[1 if command == "verify" else 0]

    assert shown("list") == shown("verify") == "interrupted"
    with open(out / f".{run.run_id}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as train holds it while it trains
        assert shown("list") == shown("verify") == "running"


def test_a_reader_that_goes_away_is_no_error(monkeypatch, capsys):
    """`relunet list | head -1`: the pipe closes under the command — exit 0, nothing on stderr."""
    from relunet_support.jobs import cli

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_list", closed)
    assert cli.main(["list", "nowhere"]) == 0
    assert capsys.readouterr().err == ""


def test_a_number_beyond_the_largest_float_is_named(tmp_path, capsys):
    from relunet_support.jobs import cli

    path = tmp_path / "study.yaml"
    path.write_text(f"batches:\n  - {{learning_rate: {'9' * 401}, widths: [200], n_steps: 10}}\n")
    assert cli.main(["notebooks", str(path), "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "learning_rate='an integer of 401 digits' is not allowed" in error and len(error.splitlines()) == 1
