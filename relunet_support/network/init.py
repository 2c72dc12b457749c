"""Initial parameters from an explicit, seeded ``numpy.random.Generator``.

a_j ~ N(0, β₁²),  w_j, b_j ~ N(0, β₂²). Kinds:

- ``"gaussian"``: m independent neurons.
- ``"symmetric"``: m/2 drawn neurons (a, w, b) and their mirrors (a, −w, b), so f(−x) = f(x) (any d).
- ``"antisymmetric"``: m/2 drawn neurons (a, w, b) and their twins (−a, w, b), so f ≡ 0 at start.

The draw order is fixed (a, then w, then b), so a seed gives the same network on every machine.
"""

from __future__ import annotations

import numpy as np

from relunet_support.errors import invalid

INIT_KINDS = ("gaussian", "symmetric", "antisymmetric")
PAIRED_KINDS = ("symmetric", "antisymmetric")


def check_kind(kind: str, m: int) -> None:
    """Raise ConfigError unless ``kind`` is known and ``m`` suits it (mirrored kinds need even m)."""
    if kind not in INIT_KINDS:
        raise invalid("init", kind, "one of " + ", ".join(repr(k) for k in INIT_KINDS))
    if kind in PAIRED_KINDS and m % 2:
        raise invalid("m", m, f"even for init={kind!r} (each drawn neuron gets a twin)")


def initial_parameters(
    m: int,
    beta1: float,
    beta2: float,
    kind: str = "symmetric",
    rng: np.random.Generator | int = 0,
    dimension: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (a, w, b) for the given init kind: a and b of length m, w of length m for 1-D inputs and of
    shape (m, d) for inputs of dimension d > 1 (w_j ~ N(0, β₂² I_d), drawn neuron by neuron)."""
    check_kind(kind, m)
    if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)) or dimension < 1:
        raise invalid("dimension", dimension, "a positive integer (the dimension d of the inputs)")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    drawn = m if kind == "gaussian" else m // 2
    a = rng.normal(0.0, beta1, drawn)
    w = rng.normal(0.0, beta2, drawn if dimension == 1 else (drawn, dimension))
    b = rng.normal(0.0, beta2, drawn)
    if kind == "symmetric":
        a, w, b = np.concatenate((a, a)), np.concatenate((w, -w)), np.concatenate((b, b))
    elif kind == "antisymmetric":
        a, w, b = np.concatenate((a, -a)), np.concatenate((w, w)), np.concatenate((b, b))
    return a, w, b
