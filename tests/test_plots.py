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
