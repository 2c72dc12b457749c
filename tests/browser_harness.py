"""JupyterLab + Debian's Chromium driven by Playwright: shared by the browser test and the browser benchmark.

JupyterLab runs on 127.0.0.1 on a free port, without a token, in a folder of its own (its runtime,
config, workspace and settings folders too), and is stopped with its kernels by process group.
"""

from __future__ import annotations

import base64
import contextlib
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

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWER_IMAGE = "canvas.relunet-frame"  # the viewer's frame (relunet_support/frameview.js)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, state: Path):
    """Yield the URL of a JupyterLab serving ``root``; its own files go under ``state``."""
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(state / "runtime"), JUPYTER_CONFIG_DIR=str(state / "config"))
    log_path = state / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                f"--LabApp.workspaces_dir={state / 'workspaces'}",
                f"--LabApp.user_settings_dir={state / 'settings'}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
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
                if server.poll() is not None:
                    raise RuntimeError(log_path.read_text())
                if time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start in 90 s")
                time.sleep(0.5)
            yield url
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


@contextlib.contextmanager
def browser_page(width: int = 1500, height: int = 1100):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def run_notebook(page, url: str, notebook: str, timeout_ms: int = 120_000) -> None:
    """Open ``notebook`` in JupyterLab, wait for its kernel, run all cells and wait until every cell ran."""
    page.goto(f"{url}/lab/tree/{notebook}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=90_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }",
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(VIEWER_IMAGE, timeout=timeout_ms)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-InputArea-prompt')].every(p => !p.textContent.includes('*'))",
        timeout=timeout_ms,
    )


def canvas_pixels(page) -> np.ndarray:
    """The pixels (RGB, uint8) the viewer's canvas shows now, read back losslessly (as a PNG)."""
    from PIL import Image

    data = page.evaluate(f"() => document.querySelector('{VIEWER_IMAGE}').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB"))


def settled_canvas(page, quiet_ms: int = 600, timeout_s: float = 30) -> np.ndarray:
    """The canvas once it has stopped changing for ``quiet_ms`` (every image in flight has arrived)."""
    previous = canvas_pixels(page)
    still_since = time.time()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_timeout(150)
        current = canvas_pixels(page)
        if current.shape == previous.shape and np.array_equal(current, previous):
            if (time.time() - still_since) * 1e3 >= quiet_ms:
                return current
        else:
            previous, still_since = current, time.time()
    raise AssertionError(f"the canvas kept changing for {timeout_s} s")


def type_slider(page, value: int) -> None:
    """Type ``value`` into the snapshot slider's editable readout and commit it with Enter."""
    readout = page.locator(".widget-slider .widget-readout").first
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def kernel_value(page, code: str, expression: str) -> str:
    """Run ``code`` in the notebook's kernel and return ``repr`` of ``expression`` evaluated after it."""
    return page.evaluate(
        """async ([code, expression]) => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        const reply = await kernel.requestExecute({code, user_expressions: {value: expression}}).done;
        const value = reply.content.user_expressions.value;
        if (value.status !== 'ok') throw new Error(value.ename + ': ' + value.evalue);
        return value.data['text/plain'];
    }""",
        [code, expression],
    )
