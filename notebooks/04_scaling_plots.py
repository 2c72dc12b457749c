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
# # 04 — Scaling plots: which clock collapses the widths?
#
# For one learning rate and a set of widths: the min and max of f over [−1/2, 1/2] (exact, from the
# kinks) and the risk, against the step index rescaled as in the seed notebook (k, k/m, k/m², k/ln m)
# and against the clocks of the batch's regime (docs/science.md §3). Condensed (γ > 1, γ′ < γ − 1, the
# default): s = η·k/α_m, s/ln m, and s − ŝ(m) with ŝ(m) the measured first escape — the curves line up in
# s up to a shift ∝ ln m (the escape times), fitted against ln m and compared with the theory's slopes.
# Linear or critical: k, s and the tangent kernel's time τ = mκ(κ′ + 1/κ′)·s, which collapses the widths
# there. The last section counts the condensed orientations over time. Runs are read from `output_dir/runs` (trained here if missing).
# Figures are saved as SVG and PNG under `output_dir/figures/`.

# %% tags=["parameters"]
learning_rate = 1000.0
normalised_learning_rate = None  # eta/alpha; when set, it replaces learning_rate for every width
widths = [100, 200]
n_steps = 3000
# the other TrainConfig fields, as given to 02_train (the same values name the same runs, which are
# then read back, not trained again); a field left out takes TrainConfig's default
options = {"n_records": 2000, "n_snapshots": 100}
output_dir = "../outputs/smoke"
# seeds whose first escapes enter the fit against ln m (more seeds: a confidence interval over seeds)
escape_seeds = [0]

# %%
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

from relunet_support import condensation, ensure_runs, escapes, plots, sweep_configs
from relunet_support.runs.config import check_drawable, format_number, sweep_tag

configs = sweep_configs(
    widths,
    n_steps,
    learning_rate=None if normalised_learning_rate else learning_rate,
    normalised_learning_rate=normalised_learning_rate,
    **options,
)
check_drawable(configs[0])  # this notebook draws 1-D ReLU networks
gamma, gamma_prime = configs[0].gamma, configs[0].gamma_prime  # the same for every width
runs_dir = Path(output_dir) / "runs"
figures_dir = Path(output_dir) / "figures"
figures_dir.mkdir(parents=True, exist_ok=True)

# %%
runs = ensure_runs(configs, runs_dir, progress=False)  # trained, or read back from the runs of 02
for run in runs:
    if run.status != "complete":
        print(f"m = {run.config.m} is {run.status}: {run.message}")

# %%
tag = sweep_tag(normalised_learning_rate or learning_rate, widths, normalised=bool(normalised_learning_rate))
rate = tag.split("_")[0]  # 'lr1000' (or 'nlr2'), in every figure name
label = (
    f"η/α = {format_number(normalised_learning_rate)}"
    if normalised_learning_rate
    else f"η = {format_number(learning_rate)}"
)
saved = []


def save(fig, name):
    """Write the figure as PNG, then SVG (the layout computed once, for the PNG), and show the PNG."""
    png, svg = plots.save_figure(fig, figures_dir, f"{name}_{tag}")
    plt.close(fig)
    saved.extend((svg, png))
    display(Image(filename=str(png)))


title = f"{label}, γ = {gamma:g}, γ′ = {gamma_prime:g}"
if len(widths) == 1:  # one width: the rescalings of k would only relabel the same curve
    save(plots.one_width_figure(runs, title=f"risk and extremes — {title}, m = {widths[0]}"), "risk_extremes")
else:
    for quantity in ("extremes", "risk"):
        save(plots.scaling_figure(runs, quantity, title=f"{quantity} — {title}"), quantity)

# %% [markdown]
# ## The theory's clocks and the escapes
# ŝ₁(m) is the first s at which the risk has fallen below 0.7·R(0) (`escapes.first_escape`); ŝ₂(m) is where
# the risk leaves the plateau after it (`escapes.second_escape`: below 0.9 × the plateau's level). The theory
# (docs/science.md §4–6): dŝ₁/d ln m = (γ − 1 − |γ′|)/(2G*) and dŝ₂/d ln m = (γ − 1 − |γ′|)(1/(2G*) + 1/(2G₂*)),
# with G₂* the growth rate on the plateau's residuals (the second is a hypothesis checked in bench/escapes.md).

# %%
# the plotted runs for `seed`, other seeds trained (or read back) here; diverged runs have no escape to time
escape_configs = [dataclasses.replace(config, seed=escape_seed) for escape_seed in escape_seeds for config in configs]
escape_runs = [run for run in ensure_runs(escape_configs, runs_dir, progress=False) if run.status != "diverged"]
complete = [r for r in escape_runs if r.status == "complete"]
escape_points = [(r.config.m, r.config.seed, escapes.first_escape_of(r)) for r in complete]
second_points = [(r.config.m, r.config.seed, escapes.second_escape_of(r)) for r in complete]
escape_times = {m: t for m, s_, t in escape_points if s_ == escape_seeds[0]}
band_runs = escape_runs if len(escape_seeds) > 1 else runs  # several seeds: median and range bands
x_data, y_data = configs[0].training_data()
g_value, _ = escapes.g_star(x_data, y_data)
g2_value, _ = escapes.second_growth_rate(x_data, y_data)
theory_slope = escapes.predicted_escape_slope(gamma, gamma_prime, x_data, y_data)
second_slope = escapes.predicted_second_escape_slope(gamma, gamma_prime, x_data, y_data)
rows = ["| m | seed | ln m | ŝ₁ (first escape, s = η·k/α) | ŝ₂ (second escape) |", "|---|---|---|---|---|"]
rows += [
    f"| {m} | {s_} | {np.log(m):.3f} | {t:.3f} | {t2:.4g} |"
    for (m, s_, t), (_, _, t2) in sorted(zip(escape_points, second_points))
]
display(Markdown("\n".join(rows)))


def fitted(points):
    """The fit of ŝ against ln m, or None with fewer than 2 widths measured."""
    usable = [(m, t) for m, _, t in points if np.isfinite(t)]
    if len({m for m, _ in usable}) < 2:
        return None
    return escapes.fit_line(np.log([m for m, _ in usable]), [t for _, t in usable])


fit, second_fit = fitted(escape_points), fitted(second_points)
if fit is not None:
    for quantity in ("risk", "extremes"):
        save(
            plots.theory_clocks_figure(band_runs, quantity, title=f"{quantity} on the theory's clocks — {title}"),
            f"{quantity}_theory",
        )
    panels = [
        plots.EscapePanel("first escape ŝ₁", escape_points, fit, theory_slope, "(γ − 1 − |γ′|)/(2G*)"),
        plots.EscapePanel(
            "second escape ŝ₂", second_points, second_fit, second_slope, "(γ − 1 − |γ′|)(1/(2G*) + 1/(2G₂*))"
        ),
    ]
    save(plots.escape_fit_figure(panels, title=f"escapes against ln m — {title}"), "escape_fit")
    print(f"fitted  {fit.describe('dŝ₁/d ln m')} over {len(escape_seeds)} seed(s)")
    if second_fit is not None:
        print(f"fitted  {second_fit.describe('dŝ₂/d ln m')}")
    else:
        print("no second-escape fit: fewer than 2 widths left the plateau within the runs")
else:
    print("no fit: the first escape was measured for fewer than 2 widths (a slope needs ≥ 2, an interval ≥ 3 runs)")
print(f"theory  dŝ₁/d ln m = (γ − 1 − |γ′|)/(2G*) = {theory_slope:.3f}, with G* = {g_value:.6g}")
print(f"theory  dŝ₂/d ln m = (γ − 1 − |γ′|)(1/(2G*) + 1/(2G₂*)) = {second_slope:.3f}, with G₂* = {g2_value:.6g}")

# %% [markdown]
# ## Condensation: how many orientations, and where their kinks sit

# %%
histories = {r.run_id: condensation.history(r, every=max(1, r.n_snapshots // 150)) for r in runs}
save(plots.condensation_figure(histories, runs), "condensation")
for run in runs:
    if run.status != "complete":  # a network that stopped training: its clusters are not a result
        print(f"m = {run.config.m} ({run.status} at step {run.step}): no condensation reported")
        continue
    final = condensation.orientation_clusters(*run.snapshot(run.n_snapshots - 1))
    print(f"m = {run.config.m}, last snapshot: {condensation.describe(final, x_data)}")
print("saved:", *saved, sep="\n  ")

# %%
assert all(p.exists() and p.stat().st_size > 1000 for p in saved)
assert len(saved) == (4 if len(widths) == 1 else 12 if fit is not None else 6) and all(rate in p.name for p in saved)
assert all(np.isfinite(t) and t > 0 for t in escape_times.values()) and np.isfinite(theory_slope)
assert len(runs) == len(widths)
