"""The viewer's picture in the browser: a widget that shows exactly the frame the kernel drew last.

The kernel sends a full frame first (again to every new view of the widget, which asks for one,
and after every KEYFRAME_EVERY patches), then each new frame as a patch: the pixels that changed
since the frame before — their positions (as gaps from one to the next) and their new RGBA values,
both zlib-compressed. Between two frames of the viewer only a few percent of the pixels change, so
a patch takes about 2 ms to make and about 12 kB, where a full PNG takes 10–50 ms to encode and
25–35 ms for the browser to decode. The front end (``frameview.js``, anywidget) applies every
message in order and paints once per animation frame, so no frame is lost and the canvas always
ends on the last one (ipywidgets' ``Image`` drops an image replaced before it was decoded; ipympl
paints changed pixels over a canvas that may have missed an earlier image — ghosts).
"""

from __future__ import annotations

import threading
import zlib
from pathlib import Path

import anywidget
import numpy as np
import traitlets

KEYFRAME_EVERY = 50  # a full frame after this many patches (2 s of Play): a view that missed one catches up


class FrameView(anywidget.AnyWidget):
    """Show RGBA frames (``show``); ``width`` × ``height`` is the size the canvas starts at, in pixels (it is
    drawn at that size, scaled down when the notebook is narrower). ``pixels``: the frame shown last;
    ``frames_sent``: how many distinct frames were sent."""

    _esm = Path(__file__).with_name("frameview.js")
    width = traitlets.Int(640).tag(sync=True)
    height = traitlets.Int(480).tag(sync=True)
    frames_sent = traitlets.Int(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pixels: np.ndarray | None = None
        self._serial = 0
        self._since_full = 0  # patches sent since the last full frame
        self._lock = threading.Lock()
        self.on_msg(self._on_request)

    def show(self, pixels: np.ndarray) -> None:
        """Send frame ``pixels`` (an (h, w, 4) uint8 array; copied): the pixels that changed since the frame
        before, or the whole frame (the first, a new size, or every KEYFRAME_EVERY patches). An identical
        frame sends nothing."""
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 4:
            raise ValueError(
                f"pixels of dtype {pixels.dtype} and shape {pixels.shape} are not allowed: "
                "expected a uint8 array of shape (h, w, 4)"
            )
        with self._lock:
            previous = self.pixels
            if previous is not None and previous.shape == pixels.shape and self._since_full < KEYFRAME_EVERY:
                new, old = (np.ascontiguousarray(p).view("<u4").reshape(-1) for p in (pixels, previous))
                changed = np.flatnonzero(new != old)
                if changed.size == 0:
                    return
                self.pixels = pixels.copy()
                self._serial += 1
                gaps = np.diff(changed, prepend=0).astype("<u4")  # the first gap is the first position
                self.send({"kind": "patch", "serial": self._serial}, [_deflate(gaps), _deflate(new[changed])])
                self._since_full += 1
            else:
                self.pixels = pixels.copy()
                self._serial += 1
                self._send_full()
            self.frames_sent += 1

    def _send_full(self) -> None:
        assert self.pixels is not None
        self._since_full = 0
        height, width, _ = self.pixels.shape
        self.send({"kind": "full", "serial": self._serial, "width": width, "height": height}, [_deflate(self.pixels)])

    def resend(self) -> None:
        """Send the frame shown now whole (a view that missed the full frame, and cannot ask — after a page
        reload, its requests can be lost — is in step again from here)."""
        with self._lock:
            if self.pixels is not None:
                self._send_full()

    def _on_request(self, _widget, content, _buffers) -> None:
        """A new view asks for the whole frame (the patches before it are lost to it)."""
        if isinstance(content, dict) and content.get("request") == "full":
            self.resend()


def _deflate(data: np.ndarray) -> bytes:
    """zlib at level 1 with run-length matching: fast, and plots are mostly runs of one colour."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return compressor.compress(np.ascontiguousarray(data).data) + compressor.flush()
