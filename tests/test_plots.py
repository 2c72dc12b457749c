import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from relunet_support.views import plots


@pytest.mark.parametrize(
    "label, plain",
    [
        ("$\\mathdefault{10^{-3}}$", "10⁻³"),
        ("$\\mathdefault{10^{0}}$", "10⁰"),
        ("$\\mathdefault{10^{12}}$", "10¹²"),
        ("$\\mathdefault{-10^{-2}}$", "−10⁻²"),
        ("$\\mathdefault{2\\times10^{-3}}$", "2×10⁻³"),
        ("$\\mathdefault{0}$", "0"),
        ("", ""),
        ("0.5", "0.5"),
    ],
)
def test_plain_power_writes_log_tick_labels_without_mathtext(label, plain):
    assert plots.plain_power(label) == plain


def test_every_log_and_symlog_axis_gets_plain_labels():
    fig, (ax_log, ax_symlog) = plt.subplots(2)
    ax_log.loglog([1e-3, 1e3], [1e-5, 1e2])
    ax_symlog.set_yscale("symlog", linthresh=1e-3)
    ax_symlog.plot([0, 1], [-1, 10])
    plots.plain_log_labels(fig)
    fig.canvas.draw()
    labels = [
        t.get_text()
        for ax in (ax_log, ax_symlog)
        for axis in (ax.xaxis, ax.yaxis)
        for t in axis.get_ticklabels(which="both")
        if t.get_text()
    ]
    assert "10⁻³" in labels and "−10⁰" in labels and not any("$" in label for label in labels)
    plt.close(fig)


def test_the_slope_figure_draws_measured_points_and_the_derived_lines():
    measured = {0.5: {0.0: [-0.5, -0.52], 0.4: [-1.2, -1.3]}, 1.75: {0.0: [0.4, 0.41], 0.4: [0.2, 0.22]}}
    predicted = {0.5: {0.0: -0.5, 0.4: -1.25}, 1.75: {0.0: 0.375, 0.4: 0.175}}
    limit = {0.5: {0.0: -0.5, 0.4: -1.3}, 1.75: {0.0: 0.375, 0.4: 0.175}}
    bound = {0.5: {0.0: -0.5, 0.4: -0.9}, 1.75: {0.0: 0.375, 0.4: 0.175}}
    fig = plots.slope_against_gamma_prime_figure(measured, predicted, limit, bound, title="t")
    ax = fig.axes[0]
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":" and len(line.get_xdata())]
    assert [list(line.get_ydata()) for line in dotted] == [[-0.5, -0.9]]  # the bound only where it differs
    medians = sorted(round(float(y), 3) for c in ax.containers for y in c.lines[0].get_ydata())
    assert medians == [-1.25, -0.51, 0.21, 0.405]
    plt.close(fig)


def test_a_dead_run_leaves_the_extremes_on_a_log_axis_and_is_marked_at_its_foot(tmp_path):
    """m = 40 at η = 4000 dies at step 2 (f ≡ 0); the complete runs stay positive on the log k axis: the
    extremes take a log axis (not a symlog one, half of it empty), the dead run's ✕ sits at the axis' foot."""
    import warnings

    from relunet_support.runs.config import TrainConfig
    from relunet_support.runs.train import ensure_runs

    configs = [TrainConfig(m=m, learning_rate=4000.0, n_steps=400, n_records=200, n_snapshots=10) for m in (40, 80)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # η/α beyond the stability limit, on purpose
        runs = ensure_runs(configs, tmp_path, progress=False)
    assert [r.status for r in runs] == ["dead", "complete"] and runs[0].records["f_max"][-1] == 0
    fig = plots.scaling_figure(runs, "extremes", clocks=("k",))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] > 0
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 2 and all(line.get_ydata()[0] == 0 for line in crosses)  # f_min and f_max
    assert all(line.get_transform() == ax.get_xaxis_transform() for line in crosses)  # y in axes units: the foot
