# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 — Condensation viewer
#
# Each neuron j is a point: (orientation atan2(b_j, w_j), amplitude |a_j|·‖(w_j, b_j)‖) and
# (kink −b_j/w_j, amplitude), beside f and the data. Red: a_j > 0, blue: a_j < 0. Kinks are drawn on an
# arctan scale so that kinks running off to ±∞ (w_j → 0, the first cluster to form) stay visible at the
# edges. With `interactive = True` a slider scrubs through the snapshots of every run in `output_dir/runs`;
# with `interactive = False` (batch runs) a static grid of frames is drawn instead.

# %% tags=["parameters"]
learning_rate = 1000.0
normalised_learning_rate = None  # eta/alpha; when set, it replaces learning_rate for every width
m = 200
n_steps = 3000
gamma = 1.5
gamma_prime = 0.0
init = "symmetric"
seed = 0
dataset = "seed"
n_records = 2000
n_snapshots = 100
record_every = None
snapshot_every = None
backend = "numba"  # "numba" | "numpy" | "cuda" (an NVIDIA GPU, pip install .[gpu])
output_dir = "../outputs/smoke"
interactive = True
n_frames = 6

# %%
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from relunet_support import diagnostics
from relunet_support.store import list_runs
from relunet_support.config import sweep_configs
from relunet_support.errors import TrainingDiverged
from relunet_support.train import train
from relunet_support.viewer import CondensationViewer, frame, static_frames

(config,) = sweep_configs([m], n_steps, learning_rate=None if normalised_learning_rate else learning_rate,
                          normalised_learning_rate=normalised_learning_rate, gamma=gamma, gamma_prime=gamma_prime,
                          init=init, seed=seed, dataset=dataset, n_records=n_records, n_snapshots=n_snapshots,
                          record_every=record_every, snapshot_every=snapshot_every, backend=backend)
runs_dir = Path(output_dir) / "runs"

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    try:
        run = train(config, runs_dir, progress=False)  # read back if it exists, trained otherwise
    except TrainingDiverged as error:
        run = error.run
print(run, "-", run.message or "complete")

# %%
if interactive:
    get_ipython().run_line_magic("matplotlib", "widget")
    all_runs = list_runs(runs_dir)
    viewer = CondensationViewer(all_runs, run_index=[r.run_id for r in all_runs].index(run.run_id))
    display(viewer.widget)
else:
    static_frames(run, n_frames)
    plt.show()

# %%
last = frame(run, run.n_snapshots - 1)
a, w, b = run.snapshot(run.n_snapshots - 1)
np.testing.assert_allclose(last.amplitude, np.abs(a) * np.sqrt(w**2 + b**2))
np.testing.assert_allclose(last.orientation, np.arctan2(b, w))
assert np.all(np.abs(last.kink) <= np.pi / 2)
if interactive:
    viewer.slider.value = viewer.slider.max
    np.testing.assert_allclose(viewer.panels.orient.get_offsets()[:, 1], diagnostics.amplitudes(a, w, b))
