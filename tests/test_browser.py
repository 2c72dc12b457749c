"""The condensation viewer in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

Runs (never skips) wherever Chromium is installed; `.ci/run` installs it. JupyterLab is started on
127.0.0.1 with a free port and no token in a temporary folder, and stopped by process id.
"""

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jupytext
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    jupytext.write(jupytext.read(ROOT / "notebooks" / "03_condensation_viewer.py"),
                   notebooks / "03_condensation_viewer.ipynb")
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={notebooks}", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "jupyterlab.log").read_text()
            assert time.time() < deadline, "JupyterLab did not start in 90 s"
            time.sleep(0.5)
        yield url, tmp_path
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen) -> None:
    """Stop JupyterLab and the kernels it started (its process group) by process id."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def canvas_pixels(page) -> np.ndarray:
    from PIL import Image

    shot = page.locator(".jupyter-matplotlib-canvas-div").first.screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.int16)


def test_slider_changes_readout_and_canvas_in_jupyterlab(jupyterlab):
    from playwright.sync_api import sync_playwright

    url, tmp_path = jupyterlab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{url}/lab/tree/03_condensation_viewer.ipynb")
            page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=90_000)
            page.wait_for_function(  # the notebook's kernel is up and idle
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
                " return k && k.status === 'idle'; }", timeout=90_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # the viewer's readout says which step is shown
            readout = page.locator(".widget-label", has_text="s = η·k/α").first
            readout.wait_for(timeout=120_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputArea-prompt')].every(p => !p.textContent.includes('*'))",
                timeout=120_000)
            slider_readout = page.locator(".widget-slider .widget-readout").first
            slider_readout.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # let the first image arrive
            before_text = readout.inner_text()
            before_pixels = canvas_pixels(page)

            slider_readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("5")
            page.keyboard.press("Enter")

            page.wait_for_function(
                "(before) => [...document.querySelectorAll('.widget-label')].some("
                "l => l.textContent.includes('s = η·k/α') && l.textContent !== before)", arg=before_text, timeout=30_000)
            after_text = readout.inner_text()
            assert after_text != before_text and "snapshot 6/" in after_text, (before_text, after_text)
            deadline = time.time() + 20
            while True:  # the new image reaches the browser a moment after the label
                after_pixels = canvas_pixels(page)
                changed = np.mean(np.any(after_pixels != before_pixels, axis=-1)) if after_pixels.shape == before_pixels.shape else 1.0
                if changed > 0.002 or time.time() > deadline:
                    break
                page.wait_for_timeout(250)
            page.screenshot(path=str(tmp_path / "jupyterlab.png"))
            assert changed > 0.002, f"only {changed:.4%} of the canvas pixels changed"
        finally:
            browser.close()
