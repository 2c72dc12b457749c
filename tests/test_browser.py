"""The condensation viewer in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

Runs (never skips) wherever Chromium is installed; `.ci/run` installs it. Two small runs are trained
into a temporary ``outputs/runs``; notebook 03 opens them as it opens what ``make run`` wrote. After
Play, Stop, slider jumps, a run change and the log-time toggle, the frame shown in the browser must equal
a fresh render of the same snapshot made in this process, and the f panel must hold one curve.
"""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import jupytext
import numpy as np
import pytest
from PIL import Image

from relunet_support.runs.train import TrainConfig, train
from relunet_support.views.viewer import CondensationViewer

from .browser_harness import CHROMIUM, browser_page, jupyterlab, run_notebook, settled_canvas, type_slider

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def lab_with_runs(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    jupytext.write(
        jupytext.read(ROOT / "notebooks" / "03_condensation_viewer.py"), notebooks / "03_condensation_viewer.ipynb"
    )
    runs_dir = tmp_path / "outputs" / "runs"
    for m in (100, 200):
        train(
            TrainConfig(m=m, learning_rate=1000.0, n_steps=3000, n_records=500, n_snapshots=100),
            runs_dir,
            progress=False,
        )
    with jupyterlab(tmp_path, tmp_path) as url:
        yield url, tmp_path, runs_dir


def fresh_render(runs_dir: Path, run_label: str, position: int) -> tuple[np.ndarray, CondensationViewer]:
    """The frame the browser should show, drawn from scratch in this process (Agg, same figure size)."""
    viewer = CondensationViewer(runs_dir)
    labels = [" ".join(label.split()) for label, _ in viewer.picker.options]  # the browser shows nbsp for spaces
    viewer.picker.value = labels.index(" ".join(run_label.split()))
    viewer.slider.value = position
    return viewer.frame_pixels()[..., :3], viewer


def unmatched(image: np.ndarray, reference: np.ndarray, tolerance: int = 24) -> np.ndarray:
    """Pixels of ``image`` with no pixel of ``reference`` within one pixel of them (a 3 × 3 neighbourhood)
    of the same colour (every channel within ``tolerance``): anti-aliased text placed a pixel apart
    matches, a curve, marker or label that is not in the reference does not."""
    image, reference = image.astype(np.int16), np.pad(reference.astype(np.int16), ((1, 1), (1, 1), (0, 0)), mode="edge")
    height, width = image.shape[:2]
    matched = np.zeros((height, width), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            shifted = reference[dy : dy + height, dx : dx + width]
            matched |= np.all(np.abs(image - shifted) <= tolerance, axis=-1)
    return ~matched


def dark_runs_per_column(pixels: np.ndarray, ax) -> np.ndarray:
    """For each pixel column inside ``ax`` (spines and legend excluded): how many separate runs of near-black pixels
    it holds. One f curve gives 1 (0 where the curve is hidden by a marker); ghosts of earlier frames 2+."""
    x0, y0, x1, y1 = ax.get_window_extent().extents
    y1 = min(y1, ax.get_legend().get_window_extent().y0)  # below the legend's text
    height = pixels.shape[0]
    inside = pixels[int(height - y1) + 4 : int(height - y0) - 4, int(x0) + 4 : int(x1) - 4]
    dark = np.all(inside < 90, axis=-1)
    return np.sum(np.diff(dark.astype(np.int8), axis=0) == 1, axis=0) + dark[0]


def test_canvas_shows_exactly_the_current_frame_after_play_stop_and_jumps(lab_with_runs):
    url, tmp_path, runs_dir = lab_with_runs
    with browser_page() as page:
        run_notebook(page, url, "notebooks/03_condensation_viewer.ipynb")
        play = page.locator(".widget-toggle-button", has_text="play")
        play.click()  # Play …
        page.wait_for_timeout(2500)
        play.click()  # … and pause (the same button)
        for position in (40, 3, 77):
            type_slider(page, position)
            page.wait_for_timeout(150)
        page.locator(".widget-dropdown select").first.select_option(index=1)  # another run
        page.wait_for_timeout(300)
        log_time = page.locator(".widget-toggle-button", has_text="log time")
        log_time.click()
        page.wait_for_timeout(300)
        log_time.click()
        play.click()
        page.wait_for_timeout(1500)
        play.click()
        page.locator(".widget-slider .noUi-handle").first.focus()
        for _ in range(20):  # holding the arrow key: a burst of slider changes, images arriving back to back
            page.keyboard.press("ArrowRight")
        for position in (60, 9, 31):
            type_slider(page, position)
            page.wait_for_timeout(100)
        shown = settled_canvas(page)
        page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        run_label = page.locator(".widget-dropdown select").first.evaluate("s => s.options[s.selectedIndex].text")
        readout = page.locator(".widget-html", has_text="η·k/α").first.inner_text()
        # reload the page while Play runs: the new view must get a frame (it asks for a full one)
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_timeout(1000)
        play.click()
        page.wait_for_timeout(500)
        page.reload()
        page.wait_for_function(
            "() => { const c = document.querySelector('canvas.relunet-frame');"
            " return c && Number(c.dataset.shown) > 0; }",
            timeout=30_000,
        )

    expected, viewer = fresh_render(runs_dir, run_label, 31)
    Image.fromarray(shown).save(tmp_path / "canvas.png")
    Image.fromarray(expected).save(tmp_path / "expected.png")
    assert shown.shape == expected.shape, (shown.shape, expected.shape)
    differing = unmatched(shown, expected) | unmatched(expected, shown)
    assert differing.mean() < 2e-4, (
        f"{differing.sum()} pixels ({differing.mean():.3%}) differ from a fresh render "
        f"of snapshot 31; see {tmp_path / 'canvas.png'} and {tmp_path / 'expected.png'}"
    )
    curves = dark_runs_per_column(shown, viewer.axes[2])
    assert np.median(curves) == 1 and np.mean(curves >= 2) < 0.05, np.bincount(curves)
    assert readout.startswith("snapshot 31/"), readout
