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
normalised_learning_rate = None  # η/α for every width: give it with learning_rate = None
widths = [100, 200]
n_steps = 3000
options = {"n_records": 2000, "n_snapshots": 100}  # other TrainConfig fields (`relunet train --help`)
output_dir = "../outputs/smoke"
progress = True

# %%
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from relunet_support import WidthSeries, ensure_runs, plots
from relunet_support.views.report import markdown_table

series = WidthSeries.of(widths, n_steps, learning_rate, normalised_learning_rate, **options)  # every width checked
series.check_drawable()  # this notebook draws 1-D ReLU networks
configs, runs_dir = series.configs(), Path(output_dir) / "runs"

# %%
runs = ensure_runs(configs, runs_dir, progress=progress)  # trained, or read back; dead and diverged ones too

# %% [markdown]
# ## Summary

# %%
rows = [["width m", "η/α", "final risk", "status", "step", "steps/s", "training wall time"]]
for run in runs:
    c = run.config
    rate, wall = run.attrs.get("steps_per_second"), run.attrs.get("wall_seconds")
    rows.append(
        [
            c.m, f"{c.normalised_learning_rate:.4g}", f"{run.records['risk'][-1]:.4e}", f"**{run.status}**",
            f"{run.step:,}/{c.n_steps:,}", f"{rate:,.0f}" if rate else "–", f"{wall:.2f} s" if wall is not None else "–",
        ]
    )  # fmt: skip
display(Markdown(markdown_table(rows)))
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

# %% [markdown]
# ## What we saw
#
# With the default study's learning rates (η = 1000, 2000, 4000 over m = 200 … 2000) every run completes: the
# risk sits on a plateau, leaves it at the first escape ŝ₁, which comes later the wider the network, and then
# falls by orders of magnitude. How much later — ŝ₁ against ln m, over 32 seeds per width — is notebook 04's
# question. The flow check passes at the smaller η/α and says where it does not (beyond η/α ≈ 0.4–0.8,
# `bench/flow.md`). In the fifth batch (η = 4000 at m = 40 … 120, η/α = 3–16) the step is beyond the stable
# range: at m = 40 every neuron dies, and the table reports the run dead rather than drawing it as a result.
