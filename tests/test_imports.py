"""What is imported where: the start-up costs `make run` pays in every notebook kernel and in the
orchestrator (docs/architecture.md, 'What may import what')."""

import json
import subprocess
import sys
import textwrap

import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.train import train


def _modules_after(code: str) -> set[str]:
    """The top-level modules imported by a fresh Python process that runs ``code``."""
    listing = "sorted({name.split('.')[0] for name, module in sys.modules.items() if module is not None})"
    script = textwrap.dedent(code) + f"\nimport json, sys\nprint(json.dumps({listing}))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.slow  # a fresh interpreter and a training
def test_reading_finished_runs_back_and_plotting_imports_no_numba(tmp_path):
    """Notebook 04's imports and work on finished runs (read back, condensation, figures) never need numba."""
    config = TrainConfig(m=20, learning_rate=100.0, n_steps=300, n_snapshots=10)
    train(config, tmp_path, progress=False)
    modules = _modules_after(f"""
        import matplotlib
        matplotlib.use("agg")
        from relunet_support.analysis import condensation, escapes
        from relunet_support.views import plots
        from relunet_support.runs.config import TrainConfig
        from relunet_support.runs.train import ensure_runs
        [run] = ensure_runs([TrainConfig(m=20, learning_rate=100.0, n_steps=300, n_snapshots=10)], {str(tmp_path)!r},
                            progress=False)
        assert run.status == "complete"
        condensation.history(run, every=2)
        plots.scaling_figure([run], "risk")
    """)
    assert "numba" not in modules and "relunet_support" in modules


@pytest.mark.slow  # a fresh interpreter
def test_extremes_and_training_still_load_numba_when_needed(tmp_path):
    modules = _modules_after("""
        from relunet_support.analysis import diagnostics
        diagnostics.extremes([1.0], [1.0], [0.0], alpha=1.0)
    """)
    assert "numba" in modules


@pytest.mark.slow  # a fresh interpreter
def test_the_orchestrator_starts_without_numba_or_the_iri_grammars():
    """`relunet notebooks` checks the backends and the kernel cache without importing numba, and keeps
    jsonschema from importing rfc3987_syntax (seconds of grammar building for formats no notebook uses)."""
    modules = _modules_after("""
        from relunet_support.jobs import batch
        from relunet_support import engine
        batch._skip_iri_format_checks()
        import jupytext, nbformat, papermill
        nbformat.validate(nbformat.v4.new_notebook())
        engine.require_backend("numba")
        engine.precompile([4])
    """)
    assert "numba" not in modules and "rfc3987_syntax" not in modules and "papermill" in modules


@pytest.mark.slow  # two fresh interpreters
def test_the_public_face_is_cheap_and_complete():
    """`import relunet_support` imports nothing heavy; every public name resolves on first use."""
    modules = _modules_after("import relunet_support")
    assert "numpy" not in modules and "matplotlib" not in modules
    modules = _modules_after("""
        import relunet_support
        for name in relunet_support.__all__:
            assert getattr(relunet_support, name) is not None, name
        assert relunet_support.TrainConfig.__module__ == "relunet_support.runs.config"
        assert relunet_support.plots.__name__ == "relunet_support.views.plots"
    """)
    assert "matplotlib" in modules
