"""Luo et al.'s (2021) phase diagram (notebook 01) and notebook 05's figures of it: RD(θ_w*) against the
width, its slope S_w against γ′, and where S_w changes sign."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from relunet_support.network.scaling import regime
from relunet_support.views.plots.style import plain_log_labels


def phase_diagram(
    gamma: float | None = None,
    gamma_prime: float | None = None,
    ax=None,
    gamma_range=(0.0, 2.5),
    gamma_prime_range=(-1.0, 1.5),
):
    """Luo et al. (2021) phase diagram in the (γ, γ′) plane: linear (γ < 1 or γ′ > γ − 1), condensed
    (γ > 1 and γ′ < γ − 1), critical on the boundary; the given point is marked with its regime."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2), layout="constrained")
    g = np.linspace(gamma_range[0], gamma_range[1], 400)
    lo, hi = gamma_prime_range
    ax.fill_between(g, lo, hi, where=g <= 1, color="tab:blue", alpha=0.18, lw=0)
    ax.fill_between(g, np.clip(g - 1, lo, hi), hi, where=g >= 1, color="tab:blue", alpha=0.18, lw=0, label="linear")
    ax.fill_between(g, lo, np.clip(g - 1, lo, hi), where=g >= 1, color="tab:red", alpha=0.18, lw=0, label="condensed")
    ax.plot([1, 1], [lo, 0], color="k", lw=2, label="critical")
    ax.plot(g[g >= 1], np.clip(g[g >= 1] - 1, lo, hi), color="k", lw=2)
    ax.set_xlim(*gamma_range)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("γ  (κ = β₁β₂/α = m^−γ)")
    ax.set_ylabel("γ′  (κ′ = β₁/β₂ = m^−γ′)")
    for name, (gx, gy) in {"NTK": (0.5, 0.0), "mean field": (1.0, 0.0), "LeCun": (0.5, 0.5)}.items():
        ax.plot(gx, gy, "o", color="grey", ms=4)
        ax.annotate(name, (gx, gy), textcoords="offset points", xytext=(4, 4), fontsize=8, color="grey")
    if gamma is not None and gamma_prime is not None:
        ax.plot(
            gamma,
            gamma_prime,
            "*",
            color="gold",
            mec="k",
            ms=16,
            label=f"this run: ({gamma:g}, {gamma_prime:g}), {regime(gamma, gamma_prime)}",
        )
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Phase diagram (Luo et al. 2021)")
    return ax.figure


def rd_against_width_figure(widths, distances: dict, slopes: dict, theory_slopes: dict, title: str) -> Figure:
    """Luo et al.'s Fig. 3: RD(θ_w*) against the width m, log-log, one line per γ. ``distances[γ]`` is a
    (seeds × widths) array: the median over seeds is drawn with the range as error bars, and the legend
    gives the fitted slopes S_w (``slopes[γ]``, one per seed: their median and range) beside
    ``theory_slopes[γ]``."""
    widths = np.asarray(widths, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.6, 5.4), layout="constrained")
    for gamma, per_seed in distances.items():
        per_seed = np.atleast_2d(per_seed)
        gamma_slopes = np.atleast_1d(slopes[gamma])
        median = np.median(per_seed, axis=0)
        spread = f", range {gamma_slopes.min():.3f} … {gamma_slopes.max():.3f}" if len(gamma_slopes) > 1 else ""
        ax.errorbar(
            widths,
            median,
            yerr=(median - per_seed.min(axis=0), per_seed.max(axis=0) - median),
            fmt="o-",
            capsize=3,
            label=f"γ = {gamma:g}: S_w = {np.median(gamma_slopes):.3f}{spread} (theory {theory_slopes[gamma]:.3f})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(widths, [f"{m:g}" for m in widths])  # the widths themselves, not powers of ten
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width m")
    ax.set_ylabel("RD(θ_w*)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below the panel: hides no point
    ax.grid(True, which="major", alpha=0.3)
    plain_log_labels(fig)
    return fig


def crossing_figure(crossings: dict, theory_crossing, title: str) -> Figure:
    """Luo et al.'s Fig. 4: the measured γ where S_w changes sign, for each γ′ (``crossings[γ′]``), beside
    the theory's line γ = ``theory_crossing(γ′)``."""
    gamma_primes = np.array(list(crossings), dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.6, 4.2), layout="constrained")
    line = np.linspace(gamma_primes.min(), gamma_primes.max(), 200)
    ax.plot([theory_crossing(v) for v in line], line, color="k", lw=2, label="theory: S_w = 0")
    ax.plot(list(crossings.values()), gamma_primes, "o", color="crimson", ms=8, label="measured zero crossing of S_w")
    ax.set_xlabel("γ")
    ax.set_ylabel("γ′")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig


def slope_against_gamma_prime_figure(measured: dict, predicted: dict, limit: dict, bound: dict, title: str) -> Figure:
    """S_w against γ′, one colour per γ: the measured slopes (``measured[γ][γ′]`` = list over seeds: median and
    range), the derived finite-width prediction over the same widths (solid), the m → ∞ exponent (dashed) and the
    paper's upper-bound exponent where it differs (dotted). The dicts are keyed like ``measured``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    colours = plt.cm.viridis(np.linspace(0.1, 0.85, len(measured)))
    for colour, gamma in zip(colours, measured, strict=True):
        gamma_primes = np.array(list(measured[gamma]), dtype=np.float64)
        values = [np.asarray(v, dtype=np.float64) for v in measured[gamma].values()]
        medians = np.array([np.median(v) for v in values])
        spread = np.array(
            [[m - v.min() for m, v in zip(medians, values)], [v.max() - m for m, v in zip(medians, values)]]
        )
        ax.errorbar(
            gamma_primes, medians, yerr=spread, fmt="o", color=colour, ms=6, capsize=3, label=f"γ = {gamma:g}: measured"
        )
        ax.plot(gamma_primes, [predicted[gamma][g] for g in gamma_primes], "-", color=colour, lw=1.5)
        ax.plot(gamma_primes, [limit[gamma][g] for g in gamma_primes], "--", color=colour, lw=1)
        if any(abs(bound[gamma][g] - limit[gamma][g]) > 1e-9 for g in gamma_primes):
            ax.plot(gamma_primes, [bound[gamma][g] for g in gamma_primes], ":", color=colour, lw=1)
    ax.plot([], [], "-", color="grey", label="derived, at these widths")
    ax.plot([], [], "--", color="grey", label="derived, m → ∞")
    ax.plot([], [], ":", color="grey", label="paper's estimate (a bound for γ′ > 0)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("γ′")
    ax.set_ylabel("S_w = d ln RD(θ_w*) / d ln m")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, alpha=0.3)
    return fig
