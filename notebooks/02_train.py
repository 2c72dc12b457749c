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
# # 02 — Train a width sweep at one learning rate
#
# Each width is trained by full-batch gradient descent with the fused numba engine and written to a
# resumable run store under `output_dir/runs/` (a run that already finished is read back, not retrained;
# an interrupted one resumes bit-identically). Runs whose neurons all die (the gradient is then exactly
# zero) are stopped and reported as **dead**; runs whose risk becomes non-finite as **diverged** —
# both appear in the table below and do not stop the notebook.

# %% tags=["parameters"]
learning_rate = 1000.0
normalised_learning_rate = None  # eta/alpha; when set, it replaces learning_rate for every width
widths = [100, 200]
n_steps = 3000
# every other TrainConfig field (`relunet train --help` lists them all), e.g. "gamma": 1.5, "seed": 1,
# "dataset": "luo2021", "backend": "cuda" (an NVIDIA GPU); a field left out takes TrainConfig's default
options = {"n_records": 2000, "n_snapshots": 100}
output_dir = "../outputs/smoke"
progress = True

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from relunet_support import ensure_runs, plots, sweep_configs
from relunet_support.runs.config import check_drawable

# Every configuration is validated before anything is trained.
configs = sweep_configs(
    widths,
    n_steps,
    learning_rate=None if normalised_learning_rate else learning_rate,
    normalised_learning_rate=normalised_learning_rate,
    **options,
)
check_drawable(configs[0])  # this notebook draws 1-D ReLU networks
runs_dir = Path(output_dir) / "runs"

# %%
runs = ensure_runs(configs, runs_dir, progress=progress)  # trained, or read back; dead and diverged ones too

# %% [markdown]
# ## Summary

# %%
rows = [
    "| width m | η/α | final risk | status | step | steps/s | training wall time |",
    "|---|---|---|---|---|---|---|",
]
for run in runs:
    c = run.config
    rate, wall = run.attrs.get("steps_per_second"), run.attrs.get("wall_seconds")
    rows.append(
        f"| {c.m} | {c.normalised_learning_rate:.4g} | {run.records['risk'][-1]:.4e} | **{run.status}** | "
        f"{run.step:,}/{c.n_steps:,} | {f'{rate:,.0f}' if rate else '–'} | "
        f"{f'{wall:.2f} s' if wall is not None else '–'} |"
    )
display(Markdown("\n".join(rows)))
for run in runs:
    if run.status != "complete":
        print(f"m = {run.config.m}: {run.message}")

# %% [markdown]
# ## Risk curves against the theory's clock s = η·k/α_m
# Dead and diverged runs are drawn faded and end in a red ✕ where they stopped.

# %%
plots.risk_curves(runs, clock="s")
plt.show()

# %% [markdown]
# ## Is GD at this η a faithful gradient flow?
# The papers are about gradient flow; GD is its Euler scheme with error O(η). Re-run the first width with
# η/8 over the same times and estimate this run's error against the flow on the escape times, ln R and f
# (see `bench/flow.md`: faithful up to η/α = 0.8 at m = 200 and 0.4 at m = 1000, at γ = 3/2).

# %%
from relunet_support.analysis.flow import check_gradient_flow

flow_run = next((r for r in runs if r.status == "complete"), None)
flow_check = check_gradient_flow(flow_run) if flow_run is not None else None
print(f"m = {flow_run.config.m}: {flow_check.summary()}" if flow_check else "no complete run to check")

# %%
assert len(runs) == len(widths)
assert flow_check is None or flow_check.records_compared > 0
for run in runs:
    assert run.status in ("complete", "dead", "diverged"), run.status
    rec = run.records
    assert len({len(v) for v in rec.values()}) == 1
    assert np.all(np.isfinite(rec["risk"]))
    if run.status == "complete":
        assert run.step == n_steps and rec["step"][-1] == n_steps
    else:
        assert run.message
