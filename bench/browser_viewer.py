"""The viewer in a real browser (JupyterLab + Debian's Chromium, Playwright): slider change to canvas repaint.

For each run (m = 1000 with 10³ snapshots; m = 10⁵, drawn as a density image): notebook 03 opens it,
the slider handle gets focus and the right-arrow key is pressed once per step; the time from the key
press to the canvas's next repaint (ipympl's drawImage onto the visible canvas, hooked in the page) is
recorded. Then Play at 20 snapshots/s for 6 s: repaints counted per second. Used by bench_viewer.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_harness import CHROMIUM, browser_page, jupyterlab, run_notebook  # noqa: E402

# count repaints of the figure canvas: ipympl draws each received image onto it with drawImage
HOOK = """() => {
  window.__repaints = [];
  const original = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    if (this.canvas.closest && this.canvas.closest('.jupyter-matplotlib-canvas-div')) {
      window.__repaints.push(performance.now());
    }
    return original.apply(this, args);
  };
}"""


def measure(folder: Path, steps: int = 60, play_seconds: float = 6.0) -> dict:
    """Key press → repaint latencies (ms) and Play's repaints per second for the first run in ``folder/outputs/runs``."""
    notebooks = folder / "notebooks"
    notebooks.mkdir(exist_ok=True)
    jupytext.write(jupytext.read(ROOT / "notebooks" / "03_condensation_viewer.py"),
                   notebooks / "03_condensation_viewer.ipynb")
    state = folder / "lab"
    state.mkdir(exist_ok=True)
    with jupyterlab(folder, state) as url, browser_page() as page:
        page.add_init_script(f"({HOOK})()")
        run_notebook(page, url, "notebooks/03_condensation_viewer.ipynb", timeout_ms=300_000)
        page.wait_for_timeout(2000)
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        latencies = []
        for _ in range(steps):
            before = page.evaluate("() => window.__repaints.length")
            pressed = page.evaluate("() => performance.now()")
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"() => window.__repaints.length > {before}", polling="raf", timeout=30_000)
            page.wait_for_timeout(30)  # let a second repaint of the same step (if any) land before the next key
            first = page.evaluate(f"() => window.__repaints[{before}]")
            latencies.append(first - pressed)
        page.locator(".widget-dropdown select").nth(1).select_option(label="20 snapshots/s")
        page.wait_for_timeout(500)
        start_count = page.evaluate("() => window.__repaints.length")
        page.locator(".widget-play button").nth(0).click()
        page.wait_for_timeout(int(play_seconds * 1000))
        page.locator(".widget-play button").nth(0).click()
        repaints = np.array(page.evaluate(f"() => window.__repaints.slice({start_count})"))
    played = repaints[(repaints - repaints[0]) < play_seconds * 1000] if repaints.size else repaints
    return {"latency_ms": np.percentile(latencies, [50, 95, 100]), "steps": len(latencies),
            "play_fps": (played.size - 1) / ((played[-1] - played[0]) / 1000) if played.size > 1 else 0.0}


def available() -> bool:
    return CHROMIUM is not None
