"""Figures: pure functions that take runs (or numbers) and return matplotlib figures, one module per subject.

    style          what every figure shares: margins, log tick labels, width colours and labels, saving
    clocks         the time axes: k rescaled by the width, the clock s = η·k/α_m, the kernel's time τ
    scaling        02, 04: risk and extremes of several widths against rescaled time
    escapes        04: escape times against ln m with their fit (``EscapePanel``)
    clusters       04: condensed orientation clusters against s, and when they form against ln m
    phase          01, 05: Luo et al.'s phase diagram, RD(θ_w*) against m, S_w against γ′, the crossing
    neurons        the neurons' directions of a run of any dimension: cosine heat maps, principal directions
    initial_stage  06: the initial stage's heat maps per activation, its line counts against p

Every public name is also here (``plots.scaling_figure``). They live in their modules: a test that replaces a
name other figures read (``settle_time``, ``MAX_POINTS``, …) patches the module that reads it.
"""

from relunet_support.views.plots.clocks import (
    CLOCKS,
    REGIME_CLOCKS,
    SEED_CLOCKS,
    SHIFTED,
    kernel_rate,
    rescaled_time,
)
from relunet_support.views.plots.clusters import condensation_figure, condensation_timing_figure
from relunet_support.views.plots.escapes import EscapePanel, escape_fit_figure
from relunet_support.views.plots.initial_stage import initial_condensation_heatmaps, line_counts_figure
from relunet_support.views.plots.neurons import cosine_heatmap, direction_snapshots_figure, principal_directions
from relunet_support.views.plots.phase import (
    crossing_figure,
    phase_diagram,
    rd_against_width_figure,
    slope_against_gamma_prime_figure,
)
from relunet_support.views.plots.scaling import (
    FIELD_STYLE,
    MAX_POINTS,
    one_width_figure,
    risk_curves,
    scaling_figure,
    theory_clocks_figure,
)
from relunet_support.views.plots.style import (
    DRAWABLE,
    MARGINS,
    RISK_FLOOR,
    SUPERSCRIPTS,
    PlainPowerFormatter,
    drop_minor_ticks,
    fixed_margins,
    plain_log_labels,
    plain_power,
    save_figure,
    settle_time,
    width_colours,
    width_label,
)

__all__ = [
    "CLOCKS",
    "DRAWABLE",
    "FIELD_STYLE",
    "MARGINS",
    "MAX_POINTS",
    "REGIME_CLOCKS",
    "RISK_FLOOR",
    "SEED_CLOCKS",
    "SHIFTED",
    "SUPERSCRIPTS",
    "EscapePanel",
    "PlainPowerFormatter",
    "condensation_figure",
    "condensation_timing_figure",
    "cosine_heatmap",
    "crossing_figure",
    "direction_snapshots_figure",
    "drop_minor_ticks",
    "escape_fit_figure",
    "fixed_margins",
    "initial_condensation_heatmaps",
    "kernel_rate",
    "line_counts_figure",
    "one_width_figure",
    "phase_diagram",
    "plain_log_labels",
    "plain_power",
    "principal_directions",
    "rd_against_width_figure",
    "rescaled_time",
    "risk_curves",
    "save_figure",
    "scaling_figure",
    "settle_time",
    "slope_against_gamma_prime_figure",
    "theory_clocks_figure",
    "width_colours",
    "width_label",
]
