"""The viewer in a real browser (JupyterLab + Debian's Chromium, Playwright): slider change to canvas repaint.

For each run (m = 1000 with 10³ snapshots; m = 10⁵, drawn as a density image): notebook 03 opens it,
the slider handle gets focus and the right-arrow key is pressed once per step; the time from the key
press to the next frame painted on the viewer's canvas (its 'relunet-frame' event, hooked in the page)
is recorded. Then Play at 25 snapshots/s (MAX_FPS) for 6 s from snapshot ``play_from``: slider
positions per second (readout updates), distinct frames the kernel sent per second
(``FrameView.frames_sent``, counted in the kernel: a frame identical to the one before is not sent)
and frames the browser painted per second (two frames arriving within one display refresh are
painted once, as the last of them). Used by bench_viewer.py.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import jupytext
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_harness import (
    CHROMIUM,
    browser_page,
    jupyterlab,
    kernel_value,
    run_notebook,  # noqa: E402
    type_slider,
)

# count repaints of the viewer: its canvas fires 'relunet-frame' each time it paints a new frame
HOOK = """() => {
  window.__repaints = [];
  document.addEventListener('relunet-frame', () => window.__repaints.push(performance.now()), true);
}"""


def measure(folder: Path, steps: int = 60, play_seconds: float = 6.0, play_from: int = 0) -> dict:
    """Key press → repaint latencies (ms) and Play's repaints per second for the first run in ``folder/outputs/runs``."""
    notebooks = folder / "notebooks"
    notebooks.mkdir(exist_ok=True)
    jupytext.write(
        jupytext.read(ROOT / "notebooks" / "03_condensation_viewer.py"), notebooks / "03_condensation_viewer.ipynb"
    )
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
        page.locator(".widget-dropdown select").nth(1).select_option(label="25 snapshots/s")  # 25 frames/s
        type_slider(page, play_from)
        page.wait_for_timeout(1500)
        page.evaluate("""() => {  // readout updates: the slider positions played
            window.__labels = [];
            const label = [...document.querySelectorAll('.widget-html')].find(e => e.textContent.includes('η·k/α'));
            new MutationObserver(() => window.__labels.push(performance.now()))
                .observe(label, {subtree: true, characterData: true, childList: true});
        }""")
        kernel_value(
            page,
            "import time as _time\n_sent = []\n"
            "viewer.image.observe(lambda change: _sent.append(_time.perf_counter()), names='frames_sent')",
            "0",
        )
        start_count = page.evaluate("() => window.__repaints.length")
        play = page.locator(".widget-toggle-button", has_text="play")
        play.click()
        page.wait_for_timeout(int(play_seconds * 1000))
        play.click()
        page.wait_for_timeout(500)  # frames in flight land
        repaints = np.array(page.evaluate(f"() => window.__repaints.slice({start_count})"))
        labels = np.array(page.evaluate("() => window.__labels"))
        sent = 1e3 * np.array(ast.literal_eval(kernel_value(page, "", "_sent")))  # kernel clock, in ms
    return {
        "latency_ms": np.percentile(latencies, [50, 95, 100]),
        "steps": len(latencies),
        "positions_fps": _rate(labels, play_seconds),
        "sent_fps": _rate(sent, play_seconds),
        "play_fps": _rate(repaints, play_seconds),
        "sent": len(sent),
        "shown": len(repaints),
    }


def _rate(times_ms: np.ndarray, seconds: float) -> float:
    """Events per second over the first ``seconds`` after the first event."""
    if times_ms.size < 2:
        return 0.0
    times_ms = times_ms[(times_ms - times_ms[0]) < seconds * 1000]
    return (times_ms.size - 1) / ((times_ms[-1] - times_ms[0]) / 1000)


def available() -> bool:
    return CHROMIUM is not None
