"""Fast lossless PNG encoding of one RGB(A) frame, for sending full viewer frames to the browser.

PIL's encoder (as ipympl calls it) chooses a filter for every row and deflates at level 6: about
45–55 ms for a 1152 × 634 RGBA figure on one core here. Plots are mostly flat colour that repeats from row to
row, so the "Up" filter (each byte minus the byte above it, mod 256) turns them into long runs of
zeros, which zlib's run-length strategy at level 1 compresses in about 14 ms, still losslessly
(``bench/bench_viewer.py`` measures both).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
UP_FILTER = 2


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(pixels: np.ndarray) -> bytes:
    """A PNG (8 bits per channel, Up filter on every row, zlib level 1 with Z_RLE) of an (h, w, 3) RGB or
    (h, w, 4) RGBA uint8 array; decoding it gives back exactly ``pixels``. (RGBA is encoded as it is:
    dropping the alpha channel would cost a strided copy slower than compressing it.)"""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or 0 in pixels.shape:
        raise ValueError(f"pixels of dtype {pixels.dtype} and shape {pixels.shape} are not allowed: "
                         "expected a non-empty uint8 array of shape (h, w, 3) or (h, w, 4)")
    height, width, channels = pixels.shape
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    filtered = np.empty((height, 1 + width * channels), dtype=np.uint8)
    filtered[:, 0] = UP_FILTER
    filtered[0, 1:] = rows[0]  # the row above the first one counts as zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps mod 256, as PNG wants
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = deflate.compress(filtered) + deflate.flush()
    colour_type = 2 if channels == 3 else 6  # RGB or RGBA
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
