# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 — Condensation viewer
#
# Each neuron j is a point: (orientation atan2(b_j, w_j), amplitude |a_j|·‖(w_j, b_j)‖) and
# (kink −b_j/w_j, amplitude), beside f, the data and the risk. Red: a_j > 0, blue: a_j < 0. Kinks are
# drawn on an arctan scale so that kinks running off to ±∞ (w_j → 0, the first cluster to form) stay
# visible at the edges; on f, the kinks of the neurons that carry f are marked. Runs wider than
# 5,000 neurons are drawn as a density of neurons.
#
# The viewer opens the runs in `output_dir/runs` — after `make run`, the default study's runs — and
# trains nothing. With `interactive = True` a slider scrubs through the snapshots (Play at a chosen
# speed, log time, log amplitude); with `interactive = False` (batch runs) a static grid of frames of
# `run_id` is drawn instead (and, with `strip_frames`, a strip of frames that the study's index.html can
# scrub without a kernel). If the folder holds no run yet, a small demo run (`demo`) is trained into
# `output_dir/demo/runs` and shown.

# %% tags=["parameters"]
output_dir = "../outputs"
run_id = None  # the run shown first (interactive) or drawn (static); None: the first run of the list
interactive = True
n_frames = 6
strip_frames = 0  # static mode: also draw this many frames into output_dir/strip for the study's index (0: none)
demo = {"m": 200, "learning_rate": 1000.0, "n_steps": 3000, "n_records": 2000, "n_snapshots": 100}

# %%
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import display

from relunet_support import CondensationViewer, TrainConfig, ensure_runs, list_runs, open_run
from relunet_support.views.strip import write_strip
from relunet_support.views.viewer import static_frames

runs_dir = Path(output_dir) / "runs"
if not interactive and run_id is not None:  # a batch draws one run: open only that one
    runs = [open_run(runs_dir / run_id)]
else:
    runs = list_runs(runs_dir) if runs_dir.is_dir() else []
if not runs:
    runs_dir = Path(output_dir) / "demo" / "runs"
    print(
        f"No runs in {Path(output_dir) / 'runs'} yet (`make run` writes the default study there): "
        f"showing a demo run, {demo}, from {runs_dir}."
    )
    runs = ensure_runs([TrainConfig(**demo)], runs_dir, progress=False)
ids = [r.run_id for r in runs]
if run_id is not None and run_id not in ids:
    raise ValueError(f"run_id={run_id!r} is not allowed: it is not one of the {len(ids)} runs in {runs_dir}")
run = runs[ids.index(run_id) if run_id is not None else 0]
print(f"{len(runs)} run(s) in {runs_dir}; showing {run.run_id} ({run.status})")

# %%
if interactive:
    viewer = CondensationViewer(runs, run_index=runs.index(run))
    display(viewer.widget)
else:
    static_frames(run, n_frames)
    plt.show()
    if strip_frames:
        print("strip for the index:", write_strip(run, Path(output_dir) / "strip", strip_frames))

# %% [markdown]
# ## What we saw
#
# Started small (κ = m^−3/2), the neurons barely move until the first escape; then their orientations
# atan2(b, w) gather onto a few directions, each carried by many neurons, while the amplitudes of the rest stay
# near zero — condensation. When the first cluster forms and when the final count holds is measured per run by
# notebook 04 (`condensation.timing`) and listed in the study's index. The kinks −b/w of the heavy neurons sit
# where f bends to pass through the four data points.
