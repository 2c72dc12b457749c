"""The notebook batch: study files, papermill execution, failures reported per notebook."""

import json
import shutil
import textwrap
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from relunet_support.jobs import batch
from relunet_support.jobs.batch import run_notebooks
from relunet_support.jobs.cli import main
from relunet_support.jobs.study import STRIP_FRAMES, StudyError, load_study, study_from_dict
from relunet_support.runs.config import OPTION_NAMES

from .conftest import NO_GPU

NOTEBOOK_HEADER = (
    "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
    "#     name: python3\n# ---\n\n"
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def test_the_default_study_file_is_the_seeds_study():
    study = load_study(ROOT / "studies" / "default.yaml")
    tags = study.tags()
    assert tags == ["lr70_m800", "lr4000_m200-2000", "lr2000_m200-2000", "lr1000_m200-2000", "lr4000_m40-120"]
    for fitted in study.batches[1:4]:  # the headline fits: ≥ 8 seeds per width, widths over a decade
        assert len(fitted.seeds_for_escapes()) >= 8 and max(fitted.widths) >= 10 * min(fitted.widths)


def test_escape_seeds_is_a_study_key_a_count_or_a_list():
    study = study_from_dict(
        {
            "defaults": {"escape_seeds": 4, "seed": 7},
            "batches": [
                {"learning_rate": 70, "widths": [200, 400], "n_steps": 10},
                {"learning_rate": 70, "widths": [200], "n_steps": 10, "escape_seeds": [9, 3]},
            ],
        }
    )
    assert [b.seeds_for_escapes() for b in study.batches] == [(0, 1, 2, 3), (9, 3)]
    assert study.batches[0].parameters("04_scaling_plots", Path("out"))["escape_seeds"] == [0, 1, 2, 3]
    assert "escape_seeds" not in study.batches[0].parameters("02_train", Path("out"))  # not a TrainConfig option
    silent = study_from_dict({"batches": [{"learning_rate": 70, "widths": [200], "n_steps": 10, "seed": 5}]})
    assert silent.batches[0].seeds_for_escapes() == (5,)  # default: the batch's own seed


@pytest.mark.parametrize("value", [0, -1, True, 5000, 1.5, "x", [1, 1], [-2], [1.5], [], [2**128], None])
def test_a_bad_escape_seeds_names_the_value(value):
    with pytest.raises(StudyError) as info:
        study_from_dict({"batches": [{"learning_rate": 70, "widths": [200], "n_steps": 10, "escape_seeds": value}]})
    assert f"escape_seeds={value!r} is not allowed" in str(info.value) and "batches[1]" in str(info.value)
    assert "0 … 2**128 − 1" in str(info.value)  # the bound is named


def test_batch_passes_train_config_defaults_not_notebook_smoke_sizes():
    study = study_from_dict({"batches": [{"learning_rate": 70, "widths": [800], "n_steps": 10}]})
    params = study.batches[0].parameters("02_train", Path("out"))
    options = params["options"]
    assert options["n_records"] == 10_000 and options["n_snapshots"] == 1_000 and options["seed"] == 0
    assert set(options) == set(OPTION_NAMES) and options["interval"] == [-0.5, 0.5]  # every option, as lists
    assert params["widths"] == [800] and params["progress"] is False
    params = study.batches[0].parameters("03_condensation_viewer", Path("out"))
    assert params == {
        "output_dir": "out",
        "run_id": study.batches[0].configs()[-1].run_id(),
        "interactive": False,
        "strip_frames": STRIP_FRAMES,
    }


def test_batches_by_normalised_learning_rate():
    study = study_from_dict({"batches": [{"normalised_learning_rate": 0.5, "widths": [200, 800], "n_steps": 10}]})
    batch = study.batches[0]
    assert study.tags() == ["nlr0.5_m200-800"]
    assert [c.learning_rate for c in batch.configs()] == pytest.approx([0.5 * 200**1.5, 0.5 * 800**1.5])
    params = batch.parameters("02_train", Path("out"))
    assert params["normalised_learning_rate"] == 0.5 and params["learning_rate"] is None  # the notebook's η unset
    with pytest.raises(StudyError, match="exactly one of learning_rate"):
        study_from_dict(
            {"batches": [{"learning_rate": 1, "normalised_learning_rate": 0.5, "widths": [2], "n_steps": 1}]}
        )


def test_tags_keep_learning_rate_exact_and_never_collide():
    study = study_from_dict(
        {
            "batches": [
                {"learning_rate": 70.25, "widths": [40, 120], "n_steps": 10},
                {"learning_rate": 70.25, "widths": [40, 80, 120], "n_steps": 10},
            ]
        }
    )
    first, second = study.tags()
    assert first == "lr70.25_m40-120" and second.startswith("lr70.25_m40-120_") and first != second


ONE_BATCH = "batches: [{learning_rate: 100, widths: [40], n_steps: 10}]\n"


def test_widths_given_as_digit_texts_are_read_exactly():
    study = study_from_dict({"batches": [{"learning_rate": 100, "widths": ["40", 80], "n_steps": "1e2"}]})
    assert study.batches[0].widths == (40, 80) and study.batches[0].n_steps == 100


@pytest.mark.parametrize(
    "text, message",
    [
        ("batches: [unclosed", "is not valid YAML"),
        (
            "batches:\n  - {learning_rate: 70, widths: [800], n_steps: 10, lerning_rate: 3}",
            "unknown key(s) 'lerning_rate'",
        ),
        ("colour: red\nbatches: []", "unknown key(s) 'colour'"),
        ("defaults: {gama: 1}\nbatches: [{learning_rate: 1, widths: [2], n_steps: 1}]", "unknown key(s) 'gama'"),
        ("batches: []", "batches must be a non-empty list"),
        ("batches:\n  - {learning_rate: 70, widths: [-3], n_steps: 10}", "m=-3 is not allowed"),
        ("batches:\n  - {learning_rate: 70, widths: [41], n_steps: 10}", "m=41 is not allowed"),
        ("batches:\n  - {learning_rate: 0, widths: [40], n_steps: 10}", "learning_rate=0 is not allowed"),
        ("batches:\n  - {learning_rate: 1, n_steps: 10}", "missing widths"),
        (
            "defaults: {backend: gpu}\nbatches: [{learning_rate: 1, widths: [40], n_steps: 1}]",
            "backend='gpu' is not allowed",
        ),
        ("output_dir: [1, 2]\n" + ONE_BATCH, "output_dir=[1, 2] is not allowed: output_dir must be a folder path"),
        ("output_dir: 5\n" + ONE_BATCH, "output_dir=5 is not allowed: output_dir must be a folder path"),
        ("defaults: [1]\n" + ONE_BATCH, "defaults=[1] is not allowed: defaults must be a mapping"),
        ("defaults: {seed: 1}\ndefaults: {seed: 2}\n" + ONE_BATCH, "'defaults' is given twice in one mapping"),
        ("batches:\n  - {learning_rate: 70, widths: abc, n_steps: 10}", "batches[1].widths='abc' is not allowed"),
        ("batches:\n  - {learning_rate: 70, widths: [40, 40], n_steps: 10}", "(40 is repeated)"),
        (
            "defaults: {activation: tanh}\n" + ONE_BATCH,
            "defaults: activation='tanh' is not allowed: activation must be 'relu' for the notebooks that draw runs",
        ),
        (
            "defaults: {dataset: custom, x: [[0, 1], [1, 0]], y: [1, 2]}\n" + ONE_BATCH,
            "defaults: dataset='custom' is not allowed: dataset must be a data set of 1-D inputs for the notebooks",
        ),
    ],
)
def test_bad_study_is_rejected_before_anything_runs(tmp_path, text, message):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(StudyError) as info:
        load_study(path)
    assert message in str(info.value) and f"study file {str(path)!r}" in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    code = main(["notebooks", str(path), "--output", str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out").exists()


@pytest.mark.skipif(NO_GPU is None, reason="a GPU is here")
def test_a_cuda_study_without_a_gpu_stops_before_anything_is_written(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("defaults: {backend: cuda}\nbatches: [{learning_rate: 100, widths: [40], n_steps: 10}]")
    assert load_study(path).batches[0].parameters("02_train", tmp_path)["options"]["backend"] == "cuda"
    code = main(["notebooks", str(path), "--output", str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_smoke_batch_runs_every_notebook(tmp_path):
    study = load_study(ROOT / "studies" / "smoke.yaml")
    executions = run_notebooks(study, tmp_path, log=lambda *_: None)
    assert [e.error for e in executions] == [None] * 5
    names = sorted(p.name for p in (tmp_path / "executed").iterdir())
    assert names == [
        "02_train_lr1000_m100-200.ipynb",
        "03_condensation_viewer_lr1000_m100-200.ipynb",
        "04_scaling_plots_lr1000_m100-200.ipynb",
        "05_phase_diagram.ipynb",
        "06_initial_condensation.ipynb",
    ]
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == sorted(
        [
            f"{name}_lr1000_m100-200.{suffix}"
            for suffix in ("png", "svg")
            for name in (
                "extremes",
                "risk",
                "extremes_theory",
                "risk_theory",
                "escape_fit",
                "condensation",
                "condensation_timing",
            )
        ]
        + [
            f"{name}_reduced.{suffix}"
            for suffix in ("png", "svg")
            for name in (
                "phase_rd_vs_m",
                "phase_slopes",
                "phase_crossing",
                "initial_condensation_heatmaps",
                "initial_condensation_lines",
                "initial_condensation_heatmaps_odd",
                "initial_condensation_lines_odd",
            )
        ]
    )
    executed = nbformat.read(tmp_path / "executed" / "02_train_lr1000_m100-200.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n_steps = 2000" in injected[0].source
    assert "| 200 |" in str(executed.cells)  # the summary table has the width
    from relunet_support.runs.store import list_runs
    from relunet_support.views import strip

    assert sorted(r.config.m for r in list_runs(tmp_path / "runs")) == [100, 200]
    assert len(list((tmp_path / "escapes").glob("m*.json"))) == 2  # one seed sample per width, kept as JSON
    manifest = strip.read_strip(tmp_path / "strip")  # 03 drew the headline run's strip for the index
    assert manifest is not None and "id='strip-slider'" in (tmp_path / "index.html").read_text()


@pytest.mark.slow
def test_a_failing_notebook_does_not_stop_the_others(tmp_path):
    """Stand-ins for 02, 03 and 04 (the real ones run once, in the smoke batch above): 04 fails, the
    failure is reported with its cell, and 03 still runs after it in the chain's reset kernel."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    header = '# %% tags=["parameters"]\noutput_dir = None\n\n# %%\n'
    for name, body in (
        ("02_train", "print('trained')"),
        ("03_condensation_viewer", "print('drawn')"),
        ("04_scaling_plots", 'raise RuntimeError("planted failure")'),
    ):
        (notebooks / f"{name}.py").write_text(NOTEBOOK_HEADER + header + body + "\n")
    study = load_study(ROOT / "studies" / "smoke.yaml")
    lines = []
    executions = run_notebooks(study, tmp_path / "out", notebooks_dir=notebooks, log=lines.append, study_notebooks=())
    errors = {e.notebook: e.error for e in executions}
    assert errors["02_train"] is None and errors["03_condensation_viewer"] is None
    assert "RuntimeError: planted failure" in errors["04_scaling_plots"]
    assert any("04_scaling_plots (lr1000_m100-200): cell" in line for line in lines)
    assert (tmp_path / "out" / "executed" / "04_scaling_plots_lr1000_m100-200.ipynb").exists()


@pytest.mark.slow
def test_a_failing_notebook_is_listed_in_the_index_and_the_command_exits_nonzero(tmp_path, capsys):
    """User guide: failures are listed at the end and in index.html, and `relunet notebooks` exits non-zero (stand-ins
    for the five notebooks; 05 fails, the batch's 02, 04 and 03 and 06 still run)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    header = '# %% tags=["parameters"]\noutput_dir = None\n\n# %%\n'
    for name in ("02_train", "03_condensation_viewer", "04_scaling_plots", "06_initial_condensation"):
        (notebooks / f"{name}.py").write_text(NOTEBOOK_HEADER + header + "print('ran')\n")
    (notebooks / "05_phase_diagram.py").write_text(NOTEBOOK_HEADER + header + 'raise ValueError("planted in 05")\n')
    out = tmp_path / "out"
    code = main(
        ["notebooks", str(ROOT / "studies" / "smoke.yaml"), "--notebooks-dir", str(notebooks), "--output", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "4 of 5 notebooks ran" in printed and "05_phase_diagram (study): cell" in printed.split("failures:")[1]
    index = (out / "index.md").read_text()
    failed = index.split("## Notebooks that failed")[1]
    assert "`05_phase_diagram.ipynb`" in failed and "ValueError: planted in 05" in failed
    assert "02_train" not in failed and "04_scaling_plots" not in failed
    page = (out / "index.html").read_text()
    assert "Notebooks that failed" in page and "05_phase_diagram.ipynb" in page and "planted in 05" in page


@pytest.mark.slow
def test_invalid_parameter_fails_in_the_first_code_cell(tmp_path):
    notebook = jupytext.read(NOTEBOOKS / "03_condensation_viewer.py")
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            notebook,
            str(tmp_path / "out.ipynb"),
            parameters={"demo": {"m": -3, "learning_rate": 1.0, "n_steps": 10}, "output_dir": str(tmp_path)},
            kernel_name="python3",
            cwd=str(NOTEBOOKS),
            progress_bar=False,
        )
    error = info.value
    assert error.ename == "ConfigError" and "m=-3 is not allowed" in error.evalue
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    code = [
        c
        for c in executed.cells
        if c.cell_type == "code" and "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    tags = [c.metadata.get("tags", []) for c in code]
    first_real = next(i for i, t in enumerate(tags) if "parameters" not in t and "injected-parameters" not in t)
    assert any(o.get("output_type") == "error" for o in code[first_real].outputs)
    assert not (tmp_path / "runs").exists()


def test_every_notebook_has_one_parameters_cell_of_literals_and_ends_with_what_we_saw():
    for source in sorted(NOTEBOOKS.glob("0*.py")):
        notebook = jupytext.read(source)
        cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, source.name
        for line in cells[0].source.splitlines():
            if line.strip() and not line.startswith("#"):
                name, value = line.split("#")[0].split("=", 1)
                # a literal only: nothing computed from other parameters (eval without any names)
                eval(value, {"__builtins__": {}}, {})
        last = notebook.cells[-1]  # each ends with what we saw; its checks live in tests/test_notebooks.py
        assert last.cell_type == "markdown" and last.source.startswith("## What we saw"), source.name
        assert not any("assert" in cell.source for cell in notebook.cells if cell.cell_type == "code"), source.name


def test_notebook_chains_run_the_study_first_and_share_runs_in_one_chain(tmp_path):
    study = study_from_dict(
        {
            "batches": [
                {"learning_rate": 100, "widths": [40, 60], "n_steps": 10},
                {"learning_rate": 200, "widths": [40, 60, 80], "n_steps": 10},
                {"learning_rate": 100, "widths": [60], "n_steps": 10},
            ]
        }
    )  # shares m = 60 at η = 100 with the first
    assert study.headline() == 1
    chains = batch.notebook_chains(
        study, batch.NOTEBOOK_ORDER, batch.HEADLINE_NOTEBOOKS, batch.STUDY_NOTEBOOKS, tmp_path, tmp_path / "executed"
    )
    names = [[f"{name} {tag}" for name, tag, _, _ in chain] for chain in chains]
    assert names[:2] == [["05_phase_diagram study"], ["06_initial_condensation study"]]
    assert ["02_train lr200_m40-80", "04_scaling_plots lr200_m40-80", "03_condensation_viewer lr200_m40-80"] in names
    shared = next(chain for chain in names if "02_train lr100_m40-60" in chain)
    assert shared == [
        "02_train lr100_m40-60",
        "04_scaling_plots lr100_m40-60",
        "02_train lr100_m60",
        "04_scaling_plots lr100_m60",
    ]
    assert len(chains) == 4  # 05, 06, and the two groups of batches


@pytest.mark.slow
def test_saving_a_notebook_in_lab_leaves_its_py_source_unchanged(tmp_path):
    """JupyterLab (make lab) saves the .ipynb and jupytext's pairing writes the .py back: with the kernel's
    own display name in its metadata (set when Lab starts the kernel), the .py must come back byte-identical."""
    import subprocess
    import sys

    from jupyter_client.kernelspec import KernelSpecManager

    display_name = KernelSpecManager().get_kernel_spec("python3").display_name
    for path in [*NOTEBOOKS.glob("0*.py"), NOTEBOOKS / "jupytext.toml"]:
        shutil.copy(path, tmp_path / path.name)
    jupytext_cli = [sys.executable, "-m", "jupytext", "--quiet"]
    sources = sorted(tmp_path.glob("0*.py"))
    subprocess.run([*jupytext_cli, "--to", "ipynb", *map(str, sources)], check=True, cwd=tmp_path)
    for source in sources:
        notebook_path = source.with_suffix(".ipynb")
        notebook = nbformat.read(notebook_path, as_version=4)
        notebook.metadata["kernelspec"]["display_name"] = display_name  # what Lab writes
        nbformat.write(notebook, notebook_path)
    subprocess.run([*jupytext_cli, "--sync", *map(str, sorted(tmp_path.glob("0*.ipynb")))], check=True, cwd=tmp_path)
    for source in sources:
        assert source.read_bytes() == (NOTEBOOKS / source.name).read_bytes(), source.name


def _notebook(source: str):
    """A one-cell py:percent notebook with the python3 kernelspec."""
    return jupytext.reads(NOTEBOOK_HEADER + "\n# %%\n" + textwrap.dedent(source), fmt="py:percent")


_REPORT = """
import json, os, warnings
import matplotlib.pyplot as plt
import numpy as np
names = sorted(k for k in globals() if not k.startswith("_") and k not in
               ("In", "Out", "exit", "quit", "get_ipython", "open", "json", "os", "warnings", "plt", "np"))
print(json.dumps({"pid": os.getpid(), "names": names, "figures": plt.get_fignums(), "cwd": os.getcwd(),
                  "filters": len(warnings.filters), "linewidth": plt.rcParams["lines.linewidth"],
                  "precision": np.get_printoptions()["precision"], "divide": np.geterr()["divide"]}))
# what a careless notebook leaves behind
planted = 1
plt.figure()
plt.rcParams["lines.linewidth"] = 7
warnings.simplefilter("ignore")
np.set_printoptions(precision=2)
np.seterr(divide="ignore")
os.chdir("/")
"""


def _report(executed) -> dict:
    cell = executed.cells[-1]
    assert cell.execution_count == 1
    return json.loads(cell.outputs[0]["text"])


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [False, True])
def test_a_chain_kernel_is_reset_between_notebooks(tmp_path, fresh):
    """Reused: the same process, but nothing of the previous notebook left (names, figures, cell numbers);
    fresh: a new process each time. A kernel that died is replaced."""
    kernel = batch.ChainKernel(batch._ipc_kernel_manager(tmp_path), "python3", tmp_path, fresh=fresh)
    try:
        reports = [
            _report(
                papermill.execute_notebook(
                    _notebook(_REPORT), str(tmp_path / f"{i}.ipynb"), progress_bar=False, km=kernel.ready()
                )
            )
            for i in range(2)
        ]
        assert [r["names"] for r in reports] == [[], []] and [r["figures"] for r in reports] == [[], []]
        fresh_state = {key: value for key, value in reports[0].items() if key not in ("pid", "names", "figures")}
        assert {key: reports[1][key] for key in fresh_state} == fresh_state  # settings and cwd put back
        assert fresh_state["cwd"] == str(tmp_path) and fresh_state["linewidth"] != 7
        assert (reports[0]["pid"] == reports[1]["pid"]) is not fresh
        with pytest.raises((PapermillExecutionError, RuntimeError)):  # the kernel died
            papermill.execute_notebook(
                _notebook("import os\nos._exit(3)\n"),
                str(tmp_path / "dies.ipynb"),
                progress_bar=False,
                km=kernel.ready(),
            )
        after = _report(
            papermill.execute_notebook(
                _notebook(_REPORT), str(tmp_path / "after.ipynb"), progress_bar=False, km=kernel.ready()
            )
        )
        assert after["names"] == [] and after["pid"] not in (r["pid"] for r in reports)
    finally:
        kernel.shutdown()


@pytest.mark.parametrize(
    "defaults, named",
    [({"gamma": "steep"}, "gamma='steep'"), ({"activation": "tanh"}, "activation"), ({"beta2": 0}, "beta2=0")],
)
def test_a_bad_default_is_reported_as_the_defaults_error(defaults, named):
    with pytest.raises(StudyError, match=f"^defaults: .*{named}") as raised:
        study_from_dict({"defaults": defaults, "batches": [{"learning_rate": 70, "widths": [800], "n_steps": 10}]})
    assert "batches[" not in str(raised.value)


@pytest.mark.slow
@pytest.mark.parametrize("parameters, named", [({"paper": 3}, "paper=3"), ({"output_dir": ""}, "output_dir=''")])
def test_notebook_06_names_a_bad_parameter_before_it_trains(tmp_path, parameters, named):
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            jupytext.read(NOTEBOOKS / "06_initial_condensation.py"),
            str(tmp_path / "out.ipynb"),
            parameters={"output_dir": str(tmp_path), **parameters},
            kernel_name="python3",
            cwd=str(NOTEBOOKS),
            progress_bar=False,
        )
    assert info.value.ename == "ConfigError" and named in info.value.evalue
    assert not (tmp_path / "figures").exists()
