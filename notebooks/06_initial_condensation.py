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
# # 06 — Initial condensation and the multiplicity of the activation (Zhou et al., NeurIPS 2022)
#
# Zhou et al. observe that with small initial weights the input weights (w_j, b_j) of a two-layer network
# gather, in the *initial stage* of training, on at most p lines through the origin, where p is the
# multiplicity of σ at 0 (tanh: 1, x·tanh x: 2, x²·tanh x: 3); ReLU, not differentiable at 0, has no p.
#
# **Setting.** d = 5 inputs x_i uniform on [−1, 1]⁵, n = 80, targets y_i = Σ_k 3.5 sin(5x_ik + 1) (their target;
# the input range is ours); f(x) = Σ_j a_j σ(w_j·x + b_j), a_j ~ N(0, β₁²), (w_j, b_j) ~ N(0, β₂² I₆), plain
# gradient descent. β₁ = 0.3 and β₂ = 10⁻⁵: input weights far smaller than output weights, so every
# direction turns far before f moves.
#
# **End of the initial stage.** The last step at which the network has fitted less than 1 % of its initial
# risk, R > 0.99·R(0): up to then f ≈ 0 and the directions follow the small-weight field
# dω_j/dt ≈ p·(a_j/n) Σ_i y_i (ω_j·x̃_i)^(p−1) x̃_i, x̃_i = (x_i, 1). η only sets how finely GD resolves that
# stage: it starts at 0.05 and is divided by 10 until the stage lasts at least 300 steps.
#
# **Counting lines.** All m neurons, each weighing 1 (the neurons of Zhou et al.'s heat maps): a line holds
# the neurons within |cos| ≥ 0.99 of its first member (lines whose directions are that close are one), and is
# *condensed* when it holds at least 5 % of them and more than directions spread uniformly on S⁵ would put
# there — by 4σ, and with a binomial chance of at most 10⁻³ (`directions.lines`).
#
# A second data set shows the p = 2 bound reached: on Zhou et al.'s target the matrix M of the p = 2 field is
# negative definite, so only one line can form (below); on points mirrored through the origin with an odd
# target (`initial.odd_data`, our own example) M has eigenvalues ±‖g‖ and two lines form.
#
# The default is a reduced run (m = 100, seeds 0, 1, 2: about 20 s); `paper = True` takes seeds 0 … 9 (about a
# minute, and x²·tanh x on the odd data too). Wider networks need a smaller β₂ for the same picture (the lines form while m·β₁β₂ ≪ 0.01; at m = 1000
# and β₂ = 10⁻⁵ only part of the tanh neurons have joined the line when the stage ends), and x²·tanh x then
# takes ∝ 1/β₂ more steps.

# %% tags=["parameters"]
paper = False
output_dir = "../outputs/smoke"

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from relunet_support import plots
from relunet_support.analysis import initial_condensation as initial
from relunet_support.errors import invalid
from relunet_support.views import report

if not isinstance(paper, bool):
    raise invalid("paper", paper, "True or False")
m, seeds = 100, list(range(10)) if paper else [0, 1, 2]
beta1, beta2 = 0.3, 1e-5
preset = "paper" if paper else "reduced"
if not (isinstance(output_dir, str) and output_dir.strip()):
    raise invalid("output_dir", output_dir, "a folder path (text): figures go to <output_dir>/figures")
figures_dir = Path(output_dir) / "figures"
figures_dir.mkdir(parents=True, exist_ok=True)
x, y = initial.zhou_data(n=80, d=initial.ZHOU_DIMENSION, seed=0)
started = time.perf_counter()
stages = initial.initial_stages(x, y, initial.ZHOU_ACTIVATIONS, seeds, m=m, beta1=beta1, beta2=beta2)
print(f"{preset} preset: m = {m}, seeds {seeds}, β₁ = {beta1:g}, β₂ = {beta2:g}: {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## Heat maps at the end of the initial stage
#
# cos(u_j, u_k) of the directions u_j = (w_j, b_j)/‖(w_j, b_j)‖, the neurons of each condensed line side by side
# (red: the same direction, blue: the opposite one — one line either way; within a line the neurons along its
# direction come first), for the first seed.

# %%
fig = plots.initial_condensation_heatmaps(
    [runs[0] for runs in stages.values()],
    title=f"initial stage ends at R = 0.99·R(0) — d = 5, n = 80, m = {m}, β₁ = {beta1:g}, β₂ = {beta2:g}",
)
heatmap_paths = plots.save_figure(fig, figures_dir, f"initial_condensation_heatmaps_{preset}")
plt.show()

# %% [markdown]
# ## The number of lines against p
#
# Where the theory gives the lines, they are compared with them: for p = 1 the field is the constant vector
# g = (1/n) Σ y_i x̃_i, so the line is ±g; for p = 2 it is 2a_j M ω_j with M = (1/n) Σ y_i x̃_i x̃_iᵀ, so neurons
# with a_j > 0 turn to M's top eigenvector and those with a_j < 0 to its bottom one. For p = 3 the field turns a
# neuron at a speed ∝ a_j‖ω_j‖: the neurons that start small have hardly turned when the largest leaves the
# small-weight regime and ends the stage — under GD the 3 lines need not form in the initial stage.

# %%
spectrum = initial.quadratic_spectrum(x, y)
print(f"M's eigenvalues on Zhou et al.'s target: {np.round(spectrum, 3)}")
print(
    "all negative: under p = 2 only the neurons with a_j < 0 grow (along the bottom eigenvector), the others "
    "shrink, so a second line cannot form in the initial stage — 'at most 2' is met by one"
    if spectrum[-1] < 0
    else "M has eigenvalues of both signs: two lines can form"
)
counts = {activation: [len(stage.lines) for stage in runs] for activation, runs in stages.items()}
multiplicities = {activation: runs[0].multiplicity for activation, runs in stages.items()}
fig = plots.line_counts_figure(
    counts,
    multiplicities,
    title=f"condensed lines at the end of the initial stage\nm = {m}, seeds {seeds[0]} … {seeds[-1]}",
)
count_paths = plots.save_figure(fig, figures_dir, f"initial_condensation_lines_{preset}")
plt.show()

g = initial.linear_direction(x, y)
top, bottom = initial.quadratic_directions(x, y)


def closest(stage, references):
    """For the heaviest line: the largest |cos| with the reference directions (NaN: no line)."""
    if not stage.lines:
        return float("nan")
    return max(abs(float(stage.lines[0].direction @ r)) for r in references)


rows = [
    [
        "activation", "p", "seed", "η", "steps of the initial stage", "lines (all neurons)", "neurons on them",
        "lines (amplitude-weighted)", "heaviest line vs theory (|cos|)",
    ]
]  # fmt: skip
reference = {"tanh": (g,), "xtanh": (top, bottom), "relu": (g,)}
for activation, runs in stages.items():
    for stage in runs:
        theory = closest(stage, reference[activation]) if activation in reference else float("nan")
        rows.append(
            [
                activation, "—" if activation == "relu" else stage.multiplicity, stage.seed,
                f"{stage.learning_rate:g}", stage.steps if stage.steps is not None else "not ended",
                len(stage.lines), sum(line.size for line in stage.lines), len(stage.amplitude_lines),
                "—" if np.isnan(theory) else f"{theory:.4f}",
            ]
        )  # fmt: skip
display(Markdown(report.markdown_table(rows)))

# %% [markdown]
# ## Two lines for p = 2: an odd target on mirrored data
#
# Half the points uniform on [−1, 1]⁵ and their mirrors −x_i (n = 80), targets y_i = Σ_k 3.5 sin(5x_ik), odd:
# y(−x) = −y(x). The pairs cancel in M except its x-by-1 corner, M = [[0, g], [gᵀ, 0]] with g = (1/n) Σ y_i x_i:
# eigenvalues ±‖g‖, so under p = 2 the neurons with a_j > 0 grow along (g/‖g‖, 1)/√2 and those with a_j < 0 along
# (g/‖g‖, −1)/√2 — two lines. For p = 1 the field is (g, 0): one line.

# %%
x_odd, y_odd = initial.odd_data(n=80, d=initial.ZHOU_DIMENSION, seed=0)
odd_activations = ("tanh", "xtanh", "x2tanh", "relu") if paper else ("tanh", "xtanh", "relu")
odd_stages = initial.initial_stages(x_odd, y_odd, odd_activations, seeds, m=m, beta1=beta1, beta2=beta2)
odd_spectrum = initial.quadratic_spectrum(x_odd, y_odd)
print(f"M's eigenvalues on the odd data: {np.round(odd_spectrum, 3)}")
fig = plots.initial_condensation_heatmaps(
    [runs[0] for runs in odd_stages.values()],
    title=f"odd target on mirrored data — d = 5, n = 80, m = {m}, β₁ = {beta1:g}, β₂ = {beta2:g}",
)
odd_heatmap_paths = plots.save_figure(fig, figures_dir, f"initial_condensation_heatmaps_odd_{preset}")
plt.show()
odd_counts = {activation: [len(stage.lines) for stage in runs] for activation, runs in odd_stages.items()}
fig = plots.line_counts_figure(
    odd_counts,
    {activation: runs[0].multiplicity for activation, runs in odd_stages.items()},
    title=f"condensed lines on the odd data (M indefinite)\nm = {m}, seeds {seeds[0]} … {seeds[-1]}",
)
odd_count_paths = plots.save_figure(fig, figures_dir, f"initial_condensation_lines_odd_{preset}")
plt.show()
odd_top, odd_bottom = initial.quadratic_directions(x_odd, y_odd)
odd_rows = [["activation", "seed", "η", "steps", "lines", "neurons on them", "each line vs M's eigenvectors (|cos|)"]]
for activation, runs in odd_stages.items():
    for stage in runs:
        cosines = [max(abs(float(line.direction @ v)) for v in (odd_top, odd_bottom)) for line in stage.lines]
        odd_rows.append(
            [
                activation,
                stage.seed,
                f"{stage.learning_rate:g}",
                stage.steps if stage.steps is not None else "not ended",
                len(stage.lines),
                sum(line.size for line in stage.lines),
                ", ".join(f"{c:.4f}" for c in cosines) or "—",
            ]
        )
display(Markdown(report.markdown_table(odd_rows)))

# %% [markdown]
# ## What we saw
#
# On Zhou et al.'s target tanh (p = 1) condenses on one line along ±g in every seed, x·tanh x (p = 2) on one line,
# M's bottom eigenvector — M is negative definite there, so one is all p = 2 allows —, and x²·tanh x on none
# within the initial stage. On the odd data x·tanh x condenses on two lines, each along one of M's extreme
# eigenvectors, while tanh stays on one: the count rises with p where the theory lets it. ReLU, which has no
# multiplicity, gave 2–4 lines on Zhou et al.'s target (the heaviest along ±g) and 2 on the odd data, at
# |cos| ≈ 0.96 to M's eigenvectors; these are measurements, not a derivation.
