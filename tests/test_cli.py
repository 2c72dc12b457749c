import subprocess
import sys

import pytest

from relunet_support.cli import main
from relunet_support.store import list_runs


def test_train_and_list(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--m", "40", "--learning-rate", "126.49", "--steps", "500", "--out", str(out),
                 "--n-snapshots", "10", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("complete: ") and "lr126.49_m40_g1.5_gp0_seed0" in printed
    (run,) = list_runs(out)
    assert run.config.learning_rate == 126.49 and run.n_snapshots == run.config.snapshot_steps().size <= 10
    assert main(["list", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "complete" in listing and run.run_id in listing


def test_dead_run_is_reported(tmp_path, capsys):
    code = main(["train", "--m", "40", "--learning-rate", "4000", "--steps", "2200", "--out", str(tmp_path), "--no-progress"])
    assert code == 3
    assert "dead:" in capsys.readouterr().out


@pytest.mark.parametrize("args, expected", [
    (["--m", "-3"], "m=-3 is not allowed"),
    (["--m", "41"], "m=41 is not allowed: m must be even"),
    (["--m", "2.5"], "m=2.5 is not allowed"),
    (["--learning-rate", "nan"], "learning_rate=nan is not allowed"),
    (["--learning-rate", "0"], "learning_rate=0 is not allowed"),
    (["--steps", "0"], "n_steps=0 is not allowed"),
    (["--gamma", "inf"], "gamma=inf is not allowed"),
    (["--init", "xavier"], "init='xavier' is not allowed"),
    (["--dataset", "mnist"], "dataset='mnist' is not allowed"),
])
def test_bad_input_exits_nonzero_without_traceback(tmp_path, args, expected):
    base = {"--m": "40", "--learning-rate": "100", "--steps": "10"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair] + [a for a in args if a not in base and a not in base.values()]
    result = subprocess.run([sys.executable, "-m", "relunet_support.cli", "train", *argv, "--out", str(tmp_path / "runs")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
