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
# # 01 — Theory: two-layer ReLU networks, their scalings and their phase diagram
#
# We study the network
#
# $$ f_m(x;\theta) = \frac{1}{\alpha_m}\sum_{j=1}^m a_j\,(w_j x + b_j)_+ $$
#
# on 1-D data $\{(x_i, y_i)\}_{i=1}^n$, trained by full-batch gradient descent on the empirical risk
#
# $$ R(\theta) = \frac{1}{2n}\sum_{i=1}^n \big(f_m(x_i;\theta) - y_i\big)^2 ,\qquad \theta \leftarrow \theta - \eta\,\nabla R(\theta). $$
#
# **Initialisation.** $a_j \sim \mathcal N(0, \beta_1^2)$ and $w_j, b_j \sim \mathcal N(0, \beta_2^2)$. Following
# Luo, Xu, Ma, Zhang (JMLR 22(71), 2021) and Chen, Li, Luo, Zhou, Xu (arXiv:2303.06561) define
#
# $$ \kappa = \frac{\beta_1\beta_2}{\alpha_m},\quad \kappa' = \frac{\beta_1}{\beta_2},\qquad
#    \gamma = -\lim_{m\to\infty}\frac{\log\kappa}{\log m},\quad \gamma' = -\lim_{m\to\infty}\frac{\log\kappa'}{\log m}, $$
#
# i.e. $\kappa = m^{-\gamma}$, $\kappa' = m^{-\gamma'}$ (note the minus sign). With the seed's choice
# $\alpha_m = m^{\gamma-\gamma'}$ this gives $\beta_1 = \sqrt{\kappa\kappa'\alpha_m} = m^{-\gamma'}$ and
# $\beta_2 = \sqrt{\kappa\alpha_m/\kappa'} = 1$.

# %% tags=["parameters"]
m = 800
gamma = 1.5
gamma_prime = 0.0
seed = 0
dataset = "seed"
check_width = 12

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from relunet_support import TrainConfig, diagnostics, escapes, plots
from relunet_support.engine import Dynamics, descend
from relunet_support.network import data, init, model, scaling
from relunet_support.views.report import markdown_table

# Validate the parameters with the core's own checks (a clear error here, before anything else runs).
config = TrainConfig(
    m=m, learning_rate=1.0, n_steps=1, gamma=gamma, gamma_prime=gamma_prime, seed=seed, dataset=dataset
)
alpha, beta1, beta2 = config.scales
kappa, kappa_prime = scaling.kappas(m, gamma, gamma_prime)

# %% [markdown]
# ## Scalings for this point and a few widths

# %%
rows = [["m", "α_m", "β₁", "β₂", "κ = β₁β₂/α", "κ′ = β₁/β₂"]]
for width in (40, 200, 800, 10_000, m):
    a_m, b1, b2 = scaling.alpha_beta(width, gamma, gamma_prime)
    k, kp = scaling.kappas(width, gamma, gamma_prime)
    rows.append([f"{width:,}", f"{a_m:.4g}", f"{b1:.4g}", f"{b2:.4g}", f"{k:.3g}", f"{kp:.3g}"])
display(Markdown(markdown_table(rows)))
print(f"(γ, γ′) = ({gamma:g}, {gamma_prime:g}) is in the {scaling.regime(gamma, gamma_prime)} regime.")

# %% [markdown]
# ## Phase diagram (Luo et al. 2021)
#
# *Linear* when γ < 1 or γ′ > γ − 1 (parameters barely move, kernel-like dynamics, RD(θ_w) → 0 as m → ∞);
# *condensed* when γ > 1 and γ′ < γ − 1 (RD → ∞: active neurons gather at a few orientations);
# *critical* on the boundary (mean-field-like). The star is this notebook's point.

# %%
plots.phase_diagram(gamma, gamma_prime)
plt.show()

# %% [markdown]
# ## Gradient-flow equations
#
# With $r_i = f(x_i) - y_i$ and $\sigma(z) = z_+$,
#
# $$ \dot a_j = -\frac{1}{n\alpha_m}\sum_i r_i\,\sigma(w_jx_i+b_j),\qquad
#    \dot w_j = -\frac{a_j}{n\alpha_m}\sum_i r_i\,x_i\,\mathbf 1[w_jx_i+b_j>0],\qquad
#    \dot b_j = -\frac{a_j}{n\alpha_m}\sum_i r_i\,\mathbf 1[w_jx_i+b_j>0]. $$
#
# ReLU is 1-homogeneous, so $\frac{d}{dt}(a_j^2 - w_j^2 - b_j^2) = 0$: each neuron keeps its
# $a_j^2 - w_j^2 - b_j^2$ under gradient flow (GD drifts by O(η)). Gradient descent with step η is the
# Euler scheme of this flow; it is stable for η of the order of α_m (η/α ≲ 2 at γ = 3/2).

# %% [markdown]
# ## Mirror-symmetric vs anti-symmetric initialisation
#
# *Symmetric* (the seed's): draw m/2 neurons (a, w, b) and add their mirrors (a, −w, b): f(−x) = f(x), but
# f₀ ≠ 0. *Anti-symmetric* (Luo et al.'s ASI): add (−a, w, b) instead: f₀ ≡ 0.

# %%
grid = np.linspace(-0.5, 0.5, 401)
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
initial = {}
for kind in ("gaussian", "symmetric", "antisymmetric"):
    initial[kind] = init.initial_parameters(m, beta1, beta2, kind, np.random.default_rng(seed))
    ax.plot(grid, model.forward(*initial[kind], grid, alpha), label=kind)
ax.set_xlabel("x")
ax.set_ylabel("f₀(x)")
ax.legend()
plt.show()

# %% [markdown]
# ## Data sets
#
# `seed` is the seed notebook's data, y = (1/4, 1/30, 1/30, 1/4) — the points lie on the V shape
# y = (13/20)|x| − 3/40. `luo2021` is Luo et al.'s y = x² (1/36 at ±1/6).

# %%
rows = [["data set", "x", "y"]]
for name in data.DATASETS:
    xs, ys = data.load(name)
    rows.append([f"`{name}`", np.round(xs, 4).tolist(), np.round(ys, 5).tolist()])
display(Markdown(markdown_table(rows)))
x, y = config.training_data()

# %% [markdown]
# ## Expected time scales
#
# In the condensed regime the natural clock is s = η·k/α_m. The network first stays small (alignment,
# s = O(1)), then escapes at s₁ ≈ ((γ − 1 − |γ′|)/(2G*))·ln m + C. A small neuron of direction
# (w, b) = (cos θ, sin θ) grows at rate +G(θ) when a > 0 and −G(θ) when a < 0, with
# G(θ) = (1/n) Σ y_i (w x_i + b)_+, so G* = max(max G, −min G) (for the seed's all-positive symmetric data
# the maximiser is (w, b) = (0, 1), so G* = mean(y); with y → −y the neurons with a < 0 escape, as fast).
# After the escape the network rests on a plateau: the escaping neurons have condensed on the directions of
# G* and form a network of one or two neurons at a minimum of its risk, R* (`escapes.plateau`; for the
# seed's data the best constant fit, R* = (1/2n) Σ (y_i − ȳ)²). Then a second escape, and convergence to a
# linear spline with kinks at the data points. None of the seed's rescalings 1, 1/m, 1/m², 1/ln m removes
# the ln m shift.

# %%
g_star, _ = escapes.g_star(x, y)  # max over unit (w, b) of ±(1/n) Σ y_i (w x_i + b)_+
r_star, _ = escapes.plateau(x, y)
print(f"G* = {g_star:.6g}, plateau risk R* = {r_star:.4g}, initial-risk scale (1/2n)Σy² = {0.5 * np.mean(y**2):.4g}")
if escapes.has_escape_phase(gamma, gamma_prime):
    slope = escapes.predicted_escape_slope(gamma, gamma_prime, x, y)
    print(f"first escape: s₁ ≈ {slope:.3g}·ln m + C  →  at m = {m}: {slope * np.log(m):.3g} + C")
else:
    print(f"γ − 1 − |γ′| = {gamma - 1 - abs(gamma_prime):g} ≤ 0: the network does not start small, no escape phase")

# %% [markdown]
# ## Live checks
# Analytic gradients against central finite differences (on a small network where every number can
# be checked), and the conserved quantity a² − w² − b² over a short GD run.

# %%
a_s, w_s, b_s = init.initial_parameters(check_width, 1.0, 1.0, "gaussian", np.random.default_rng(seed))
alpha_s = scaling.alpha_beta(check_width, gamma, gamma_prime)[0]
analytic = model.gradients(a_s, w_s, b_s, x, y, alpha_s)
numeric = model.central_differences(a_s, w_s, b_s, x, y, alpha_s)
gradient_error = max(np.max(np.abs(g1 - g2)) / (np.max(np.abs(g2)) + 1e-300) for g1, g2 in zip(analytic, numeric))
print(f"largest relative gradient error vs finite differences: {gradient_error:.2e}")

start = diagnostics.conserved(*initial["symmetric"])
drifts = {}
for eta0 in (0.2, 0.1):  # the same time s = η·k/α = 400 with half the step
    trained = descend(*initial["symmetric"], Dynamics(x, y, alpha, eta0 * alpha), int(round(400 / eta0)))
    drifts[eta0] = np.max(np.abs(diagnostics.conserved(*trained) - start))
    print(f"η/α = {eta0}: max |Δ(a² − w² − b²)| at s = 400 is {drifts[eta0]:.3e}")
print(f"halving η divides the drift by {drifts[0.2] / drifts[0.1]:.2f} (O(η): about 2)")

# %% [markdown]
# ## What we saw
#
# At the default point (m = 800, γ = 3/2, γ′ = 0, seed 0) the analytic gradients agree with central
# differences to 2.6e-9 (relative), and the drift of a² − w² − b² at s = 400 — a quantity the gradient flow
# conserves exactly — is 0.247 at η/α = 0.2 and 0.123 at η/α = 0.1: halving the step halves it (ratio 2.00),
# the O(η) gap between GD and the flow. Below the stability
# limit of a step (γ = 1/2, where η/α = 0.2 is too large) the drift only shrinks. `tests/test_notebooks.py`
# re-runs this notebook and holds these checks.
