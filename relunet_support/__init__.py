"""Support package for the relunet notebook suite.

Two-layer ReLU networks on 1-D data,

    f_m(x; θ) = (1/α_m) Σ_j a_j (w_j x + b_j)_+ ,

trained by full-batch gradient descent on R(θ) = 1/(2n) Σ_i (f_m(x_i) − y_i)².

The subpackages follow the data, one way (docs/architecture.md):

    network/   the mathematics: scaling (α, β), data sets, initialisation, the reference model, exact extremes
    engine/    gradient-descent steppers (numpy reference, fused numba kernels, cuda)
    runs/      TrainConfig (the one schema), schedules, train(), the run store
    analysis/  diagnostics, escapes, condensation, gradient-flow checks, the phase diagram
    views/     figures, the condensation viewer, the study's index page
    jobs/      notebook batches (papermill), sweeps (Dask), the command line

The names a notebook needs are here, imported on first use (so ``import relunet_support`` stays cheap
for the command line): ``TrainConfig``, ``WidthSeries``, ``train``, ``ensure_runs``, ``open_run``,
``list_runs``, ``CondensationViewer``, and the modules ``plots``, ``diagnostics``, ``escapes``,
``condensation``, ``phase``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "TrainConfig": "relunet_support.runs.config",
    "WidthSeries": "relunet_support.runs.series",
    "train": "relunet_support.runs.train",
    "ensure_runs": "relunet_support.runs.train",
    "open_run": "relunet_support.runs.store",
    "list_runs": "relunet_support.runs.store",
    "CondensationViewer": "relunet_support.views.viewer",
    "plots": "relunet_support.views",
    "diagnostics": "relunet_support.analysis",
    "escapes": "relunet_support.analysis",
    "condensation": "relunet_support.analysis",
    "phase": "relunet_support.analysis",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    """``relunet_support.TrainConfig`` and the other public names, imported when first asked for."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'relunet_support' has no attribute {name!r}")
    home = importlib.import_module(_EXPORTS[name])
    value = getattr(home, name) if hasattr(home, name) else importlib.import_module(f"{_EXPORTS[name]}.{name}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
