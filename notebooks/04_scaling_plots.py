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
# # 04 — Scaling plots: which clock collapses the widths?
#
# For one learning rate and a set of widths: the min and max of f over [−1/2, 1/2] (exact, from the
# kinks) and the risk, against the step index rescaled as in the seed notebook (k, k/m, k/m², k/ln m)
# and against the theory's clock s = η·k/α_m. At γ = 3/2 the curves line up in s up to a shift
# ∝ ln m (the escape time). Runs are read from `output_dir/runs` (trained here if missing).
# Figures are saved as SVG and PNG under `output_dir/figures/`.

# %% tags=["parameters"]
learning_rate = 1000.0
widths = [100, 200]
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
output_dir = "../outputs/smoke"

# %%
import warnings
from pathlib import Path

import matplotlib.pyplot as plt

from relunet_support import plots
from relunet_support.config import format_number
from relunet_support.errors import TrainingDiverged
from relunet_support.train import TrainConfig, train

configs = [TrainConfig(m=m, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma, gamma_prime=gamma_prime,
                       init=init, seed=seed, dataset=dataset, n_records=n_records, n_snapshots=n_snapshots,
                       record_every=record_every, snapshot_every=snapshot_every) for m in widths]
runs_dir = Path(output_dir) / "runs"
figures_dir = Path(output_dir) / "figures"
figures_dir.mkdir(parents=True, exist_ok=True)

# %%
runs = []
for config in configs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            runs.append(train(config, runs_dir, progress=False))
        except TrainingDiverged as error:
            runs.append(error.run)
for run in runs:
    if run.status != "complete":
        print(f"m = {run.config.m} is {run.status}: {run.message}")

# %%
tag = f"lr{format_number(learning_rate)}_m{'-'.join(str(m) for m in sorted(widths))}"
saved = []
for quantity in ("extremes", "risk"):
    fig = plots.scaling_figure(runs, quantity, title=f"{quantity} — η = {format_number(learning_rate)}, "
                               f"γ = {gamma:g}, γ′ = {gamma_prime:g}")
    for suffix in ("svg", "png"):
        path = figures_dir / f"{quantity}_{tag}.{suffix}"
        fig.savefig(path, dpi=110)
        saved.append(path)
    plt.show()
print("saved:", *saved, sep="\n  ")

# %%
assert all(p.exists() and p.stat().st_size > 1000 for p in saved)
assert len(saved) == 4 and all(format_number(learning_rate) in p.name for p in saved)
assert len(runs) == len(widths)
