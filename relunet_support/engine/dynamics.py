"""``Dynamics``: what one gradient-descent step is — the one object every backend, ``train``, the flow check
and the phase study take.

GD on R(θ) = 1/(2n) Σ_i (f(x_i) − y_i)², f(x) = (1/α) Σ_j a_j σ(w_j·x + b_j), θ ← θ − η ∇R(θ).

A run's ``TrainConfig.dynamics()`` builds it; code that trains arrays of its own builds it directly.
The compiled kernels take the fields marked ``kernel`` positionally, in field order (``KERNEL_SCALARS``):
their signatures are generated from this list (``_kernel_text``, ``_general_kernel_text``), so a new scalar of
the step is a field here, its use in the step, and ``TrainConfig.dynamics()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from relunet_support.backends import check_backend
from relunet_support.errors import invalid
from relunet_support.network import activations


def _kernel_scalar() -> dict:
    return {"kernel": True}


@dataclass(frozen=True, eq=False)
class Dynamics:
    """x: inputs (n,) or (n, d); y: targets (n,); alpha: α; learning_rate: η; activation: σ's name;
    interval: where the extremes of f are recorded (1-D inputs); backend: 'numba' | 'numpy' | 'cuda'.

    x and y are kept as C-contiguous float64 copies (not to be written to); a bad value raises a ConfigError
    naming it."""

    x: np.ndarray
    y: np.ndarray
    alpha: float = field(metadata=_kernel_scalar())
    learning_rate: float = field(metadata=_kernel_scalar())
    activation: str = "relu"
    interval: tuple[float, float] = (-0.5, 0.5)
    backend: str = "numba"

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        x = np.array(self.x, dtype=np.float64, order="C", copy=True)
        y = np.array(self.y, dtype=np.float64, order="C", copy=True)
        if x.ndim not in (1, 2) or x.shape[0] == 0:
            raise invalid("x", x.shape, "an array of shape (n,) or (n, d) with n ≥ 1")
        if y.shape != (x.shape[0],):
            raise invalid("y", y.shape, f"of shape ({x.shape[0]},): one target per point of x")
        for name, values in (("x", x), ("y", y)):
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise invalid(name, f"array with {values.flat[bad[0]]} at flat index {bad[0]}", "finite numbers only")
        set_("x", x)
        set_("y", y)
        for name in ("alpha", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float, np.number)) and 0 < value < np.inf):
                raise invalid(name, value, "a finite number > 0")
            set_(name, float(value))
        activations.get(self.activation)
        check_backend(self.backend)
        set_("interval", (float(self.interval[0]), float(self.interval[1])))

    @property
    def kernel_scalars(self) -> tuple[float, ...]:
        """The compiled kernels' scalar arguments, in the order of their signatures (``KERNEL_SCALARS``)."""
        return tuple(getattr(self, name) for name in KERNEL_SCALARS)

    @property
    def dimension(self) -> int:
        """d, the dimension of the inputs."""
        return 1 if self.x.ndim == 1 else self.x.shape[1]

    def replace(self, **changes) -> Dynamics:
        """A copy with ``changes`` (validated again): ``dynamics.replace(learning_rate=η/8)``."""
        return dataclasses.replace(self, **changes)


KERNEL_SCALARS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Dynamics) if f.metadata.get("kernel"))
