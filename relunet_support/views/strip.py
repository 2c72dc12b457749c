"""A strip of a run's snapshots drawn once as PNG files, with a JSON manifest, so that the study's index
can be scrubbed in any browser with no kernel: each frame shows the neurons as (orientation, amplitude) and
(kink, amplitude) beside f and the data — the panels of the condensation viewer — titled with the
snapshot, the step, s = η·k/α and the risk; its caption in the manifest adds the condensed clusters.

The frames go to a temporary folder that replaces ``folder`` when every frame is written, so a reader
sees the old strip, the new one or, for the instant between two renames, none — never half of one.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from relunet_support.files import read_json, write_text_atomically
from relunet_support.views.frames import clock_and_risk, frame, run_title, when

MANIFEST = "strip.json"
MAX_MANIFEST_BYTES = 1 << 20
FRAME_NAME = re.compile(r"\d{2,4}\.png")
START, END = "<!-- strip -->", "<!-- /strip -->"  # where index.html puts the slider instead of two frames


def write_strip(run, folder, n_frames: int = 40, dpi: int = 75) -> Path:
    """Draw about ``n_frames`` snapshots of ``run`` (``strip_indices``: the first, then log-spaced in steps
    over the dynamics, and the last) as ``folder/NN.png`` and write ``folder/strip.json``: the run id, its
    title and each frame's file, snapshot, step, s, risk, condensation and a one-line caption (the page shows the
    caption under the frame, where it has room). Returns the manifest's path."""
    import matplotlib.pyplot as plt  # the drawing modules: only where a strip is drawn, not where it is read

    from relunet_support.views.plots.style import fixed_margins
    from relunet_support.views.viewer_panels import Panels

    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 2:
        raise ValueError(f"n_frames={n_frames!r} is not allowed: n_frames must be an integer ≥ 2")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")
    scratch.mkdir()
    try:
        picks = strip_indices(run, n_frames)
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.0))
        panels = Panels(axes, run, frame(run, picks[0]))
        fixed_margins(fig, left=0.8, right=0.3, bottom=0.6, top=0.45, wspace=0.8)
        frames = []
        for number, index in enumerate(picks):
            fr = frame(run, index)
            panels.update(fr)
            axes[1].set_title(f"snapshot {fr.index} · step {fr.step:,}", fontsize=10, loc="left")
            axes[2].set_title(clock_and_risk(run, fr), fontsize=10, loc="left")
            name = f"{number:02d}.png"
            fig.savefig(scratch / name, dpi=dpi)
            c = run.config
            frames.append(
                {
                    "file": name,
                    "snapshot": index,
                    "step": fr.step,
                    "s": c.clock(fr.step),
                    "risk": fr.risk,
                    "condensation": fr.condensation,
                    "caption": f"{when(run, fr)} · {clock_and_risk(run, fr)} · {fr.condensation}",
                }
            )
        plt.close(fig)
        manifest = {"run_id": run.run_id, "title": run_title(run), "frames": frames}
        write_text_atomically(scratch / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        old = folder.with_name(f".{folder.name}.old.{uuid.uuid4().hex[:8]}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(scratch, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder / MANIFEST


def strip_indices(run, n_frames: int) -> list[int]:
    """Snapshot indices for the strip: snapshot 0, then log-spaced in steps from the first snapshot after it to
    1.5 × the step where the risk first falls below 10⁻⁴·R(0) (the end of the dynamics: later frames would all
    show the converged network), and the last snapshot; at most ``n_frames``, fewer where snapshots are sparse."""
    steps = np.asarray(run.snapshot_steps)
    if steps.size <= n_frames:
        return list(range(steps.size))
    record_steps, risk = run.records["step"], run.records["risk"]
    fitted = np.flatnonzero(risk < 1e-4 * risk[0])
    end = min(float(steps[-1]), 1.5 * float(record_steps[fitted[0]])) if fitted.size else float(steps[-1])
    start = float(steps[1])
    targets = np.geomspace(start, max(end, start), n_frames - 2)
    nearest = np.abs(np.log(np.maximum(steps[1:, None], 1)) - np.log(targets[None, :])).argmin(axis=0) + 1
    return sorted({0, *map(int, nearest), steps.size - 1})


def read_strip(folder) -> dict | None:
    """The manifest of the strip in ``folder`` when it is whole — a regular JSON file of sensible size whose
    frames are files ``NN.png`` that exist — else None (no strip, or a damaged one: the index leaves it out)."""
    manifest = read_json(Path(folder) / MANIFEST, MAX_MANIFEST_BYTES)
    frames = manifest.get("frames") if isinstance(manifest, dict) else None
    if not isinstance(frames, list) or not frames:
        return None
    for entry in frames:
        name = entry.get("file") if isinstance(entry, dict) else None
        if not (isinstance(name, str) and FRAME_NAME.fullmatch(name) and _is_png(Path(folder) / name)):
            return None
        if not isinstance(entry.get("caption"), str):
            return None
    return manifest


def _is_png(path: Path) -> bool:
    """A regular file (not a link) that starts like a PNG."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def _script_json(values) -> str:
    """JSON for inside a <script> element: '<' written as \\u003c, so no text can close the element."""
    return json.dumps(values, ensure_ascii=False).replace("<", "\\u003c")


def markdown(manifest: dict, relative: str) -> list[str]:
    """Lines of index.md: the strip's first and last frames with their captions, between two markers where
    index.html puts a slider over every frame (``with_slider``)."""
    frames = manifest["frames"]
    lines = [
        f"{len(frames)} snapshots of {html.escape(str(manifest.get('run_id', '')))}, from the start to the end of "
        "training (log-spaced in steps); index.html has a slider over all of them, no kernel needed.",
        "",
        START,
        "",
    ]
    for entry in (frames[0], frames[-1]):
        lines += [f"![{entry['caption']}]({relative}/{entry['file']})", "", f"*{entry['caption']}*", ""]
    return [*lines, END, ""]


def with_slider(page: str, manifest: dict, relative: str) -> str:
    """The HTML ``page`` with the strip's first and last frames (between the markers ``markdown`` writes)
    replaced by the slider over every frame."""
    start, end = page.find(START), page.find(END)
    if start < 0 or end < start:
        return page
    return page[:start] + slider_html(manifest, relative) + page[end + len(END) :]


def slider_html(manifest: dict, relative: str) -> str:
    """A range input that swaps the frame shown and its caption: plain HTML and a few lines of script."""
    frames = manifest["frames"]
    files = _script_json([f"{relative}/{entry['file']}" for entry in frames])
    captions = _script_json([entry["caption"] for entry in frames])
    last = len(frames) - 1
    return (
        "<div id='strip'><input type='range' id='strip-slider' min='0' max='" + str(last) + "' value='0' "
        "style='width:100%' aria-label='snapshot'><br><img id='strip-frame' alt='' src='"
        + html.escape(f"{relative}/{frames[0]['file']}")
        + "'><p id='strip-caption'></p></div><script>(function(){"
        f"const files={files}, captions={captions};"
        "const slider=document.getElementById('strip-slider'), image=document.getElementById('strip-frame'),"
        "caption=document.getElementById('strip-caption');"
        "function show(){const k=Number(slider.value);image.src=files[k];image.alt=captions[k];"
        "caption.textContent='frame '+(k+1)+'/'+files.length+' · '+captions[k];}"
        "slider.addEventListener('input',show);show();})();</script>"
    )
