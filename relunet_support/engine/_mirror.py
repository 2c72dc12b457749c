"""Mirror-symmetric networks: the engines simulate only the first half of the neurons (see ``is_mirrored``)."""

from __future__ import annotations

import numpy as np


def is_mirrored(a, w, b, x, y) -> bool:
    """True when the network is exactly mirror-symmetric — a[h:] = a[:h], w[h:] = −w[:h], b[h:] = b[:h]
    (the 'symmetric' init) — and so is the data (x reversed = −x, y reversed = y).

    GD then keeps the mirror exact, and the numba engine simulates only the first half: neuron
    (a, −w, b) on x_i equals neuron (a, w, b) on x_{n−1−i}, so f_i = (s_i + s_{n−1−i})/α with s summed
    over half the neurons — half the work, and f exactly even in floating point too.
    """
    m = a.shape[-1]
    if m % 2 or not (np.array_equal(x[::-1], -x) and np.array_equal(y[::-1], y)):
        return False  # (for an ensemble, every member must be mirrored)
    h = m // 2
    return (
        np.array_equal(a[..., :h], a[..., h:])
        and np.array_equal(w[..., :h], -w[..., h:])
        and np.array_equal(b[..., :h], b[..., h:])
    )


def first_halves(a, w, b) -> list[np.ndarray]:
    """Contiguous copies of the first half of the neurons of a mirrored network (see is_mirrored)."""
    h = a.shape[-1] // 2
    return [np.ascontiguousarray(v[..., :h]) for v in (a, w, b)]


def unfold_mirror(targets, halves) -> None:
    """Write the first halves back into the full arrays ``targets`` = (a, w, b) in place, with the
    mirror neurons (a, −w, b) in the second half."""
    for full, half, sign in zip(targets, halves, (1.0, -1.0, 1.0)):
        h = half.shape[-1]
        full[..., :h] = half
        full[..., h:] = sign * half
