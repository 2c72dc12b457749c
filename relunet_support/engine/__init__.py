"""Gradient-descent steppers. ``numpy`` is the readable reference; ``numba`` (default) is one fused,
compiled pass over the neurons per step with no Python in the loop; ``cuda`` is the same fused pass on
an NVIDIA GPU (optional: ``pip install .[gpu]``). All agree with ``model.py``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from relunet_support.backends import BACKENDS, check_backend  # noqa: F401 (part of the engine's interface)

# _codegen, _kernels and _mirror import no numba: precompile() on a warm cache stays cheap; the
# backends (numba kernels, the numpy reference, cuda) are imported when a step is taken
from relunet_support.engine import _codegen, _kernel_text, _kernels
from relunet_support.engine._mirror import first_halves, is_mirrored, unfold_mirror  # noqa: F401 (is_mirrored: documented here)
from relunet_support.engine.dynamics import KERNEL_SCALARS, Dynamics  # noqa: F401 (KERNEL_SCALARS: the kernels' layout)
from relunet_support.errors import invalid

STATUS_OK = _kernels.STATUS_OK
STATUS_DIVERGED = _kernels.STATUS_DIVERGED
STATUS_DEAD = _kernels.STATUS_DEAD


def require_backend(backend: str) -> str:
    """check_backend, and for 'cuda' a usable GPU: else ``BackendUnavailable`` saying why not."""
    check_backend(backend)
    if backend == "cuda":
        from relunet_support.engine import _cuda

        _cuda._numba_cuda()
    return backend


def backend_versions(backend: str) -> dict:
    """What a run records of its backend beyond numba's version: for 'cuda', numba-cuda's version and the GPU."""
    if backend != "cuda":
        return {}
    from relunet_support.engine import _cuda

    return _cuda.describe()


def cpu_target() -> str:
    """The CPU the numba kernels are compiled for (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` or the host's): the
    machine, the CPU's name, a hash of its feature flags and the AVX switch. A run records it: resuming under
    another target would mix machine code of two targets in one run (last-bit differences)."""
    machine, name, features, avx = _codegen._target_cpu()
    flags = hashlib.sha256(features.encode()).hexdigest()[:12]
    return f"{machine} · {name or 'unnamed'} · features {flags}" + (f" · NUMBA_ENABLE_AVX={avx}" if avx else "")


def precompile(sizes, general=()) -> None:
    """Compile the numba kernels for these numbers of data points, and the general kernels of these
    (activation, d), now (``_codegen.precompile``)."""
    _codegen.precompile(sizes, general)


def _as_state(a, w, b, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh contiguous float64 copies (inputs are never mutated), shapes checked against x."""
    arrays = [np.array(v, dtype=np.float64, order="C", copy=True) for v in (a, w, b)]
    _check_state(arrays[0], arrays[1], arrays[2], x)
    return arrays[0], arrays[1], arrays[2]


def _check_state(a: np.ndarray, w: np.ndarray, b: np.ndarray, x: np.ndarray, one_network: bool = False) -> None:
    """a of shape (m,) (or (S, m), S networks, unless ``one_network``), b of a's shape, w of a's shape for 1-D
    inputs x (n,) and a's shape + (d,) for inputs x (n, d): else a ConfigError naming which."""
    if one_network and a.ndim != 1:
        raise invalid("a", a.shape, "an array of shape (m,): advance steps one network (descend takes (S, m))")
    if a.ndim not in (1, 2):
        raise invalid("a", a.shape, "an array of shape (m,) or (S, m)")
    if b.shape != a.shape:
        raise invalid("b", b.shape, f"of the shape of a, {a.shape}")
    expected = a.shape + x.shape[1:]
    if w.shape != expected:
        raise invalid("w", w.shape, f"of shape {expected} for a of shape {a.shape} and inputs x of shape {x.shape}")


def _is_general(dynamics: Dynamics) -> bool:
    """Whether the general kernels run this problem: all but 1-D ReLU on few points (``_kernel_text.unrolled``)."""
    return not _kernel_text.unrolled(dynamics.x.shape[0], dynamics.activation, dynamics.dimension)


def _one_coordinate_flattened(w: np.ndarray, dynamics: Dynamics) -> tuple[np.ndarray, np.ndarray]:
    """Inputs given as (n, 1) with w as (..., m, 1), for the 1-D ReLU kernels (which take x (n,) and w (..., m)):
    views of shape (n,) and (..., m), so that w is still updated in place."""
    x = dynamics.x
    if x.ndim == 2 and x.shape[1] == 1 and not _is_general(dynamics):
        return w[..., 0], x[:, 0]
    return w, x


def _as_offsets(record_offsets) -> np.ndarray:
    """The record offsets as an int64 array; a ConfigError for values that are not whole numbers (1.5, nan, text),
    which a cast would have truncated or garbled."""
    requested = np.asarray(record_offsets)
    if requested.dtype.kind in "iu":
        return np.ascontiguousarray(requested, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        offsets = requested.astype(np.int64) if requested.dtype.kind in "fb" else None
    if offsets is None or requested.dtype.kind == "b" or not np.array_equal(offsets, requested):
        raise invalid("record_offsets", requested.tolist(), "whole numbers of steps")
    return np.ascontiguousarray(offsets)


def _check_advance_arguments(a, w, b, initial, n_steps, record_offsets: np.ndarray) -> None:
    """advance steps one network (``_check_state``), ``initial`` of the state's shapes, with the record offsets
    strictly increasing within 1..n_steps: else a ConfigError naming the value."""
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise invalid("n_steps", n_steps, "a non-negative integer")
    if record_offsets.ndim != 1 or (
        record_offsets.size
        and (record_offsets[0] < 1 or record_offsets[-1] > n_steps or np.any(np.diff(record_offsets) <= 0))
    ):
        raise invalid(
            "record_offsets",
            record_offsets.tolist(),
            f"strictly increasing step offsets within 1 … n_steps = {n_steps}",
        )
    if initial is not None:
        if len(initial) != 3:
            raise invalid("initial", f"{len(initial)} arrays", "the three arrays (a₀, w₀, b₀)")
        for name, start, now in zip(("a₀", "w₀", "b₀"), initial, (a, w, b)):
            if start.shape != now.shape:
                raise invalid(f"initial {name}", start.shape, f"of shape {now.shape}, the state's")


def _with_coordinates(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(w, x) with a trailing coordinate axis: views of shape (..., m, 1) and (n, 1) for 1-D inputs."""
    return (w, x) if x.ndim == 2 else (w[..., None], x[:, None])


def _general_kernels(dynamics: Dynamics, w: np.ndarray):
    """The general numba kernel module for this problem, and (w, x) with their coordinate axis."""
    w_k, x_k = _with_coordinates(w, dynamics.x)
    return _codegen.kernels_for(x_k.shape[0], activation=dynamics.activation, d=x_k.shape[1]), w_k, x_k


def _run_kernel(function_name, a, w, b, x, y, *args, initial=None):
    """Call a numba kernel on (a, w, b) in place, on the first half only when the problem is mirrored.

    ``initial`` (a₀, w₀, b₀), for the relative distances, is appended to the arguments (halved too).
    """
    mirrored = is_mirrored(a, w, b, x, y) and (initial is None or is_mirrored(*initial, x, y))
    if mirrored:
        half = first_halves(a, w, b)
        if initial is not None:
            args = (*args[:-2], *first_halves(*initial), *args[-2:])
        result = getattr(_codegen.kernels_for(x.size, mirror=True), function_name)(*half, x, y, *args)
        unfold_mirror((a, w, b), half)
        return result
    if initial is not None:
        args = (*args[:-2], *initial, *args[-2:])
    return getattr(_codegen.kernels_for(x.size), function_name)(a, w, b, x, y, *args)


@dataclass(frozen=True)
class Advanced:
    """What ``advance`` did: ``steps`` taken, the ``status`` it stopped with (STATUS_OK, STATUS_DIVERGED,
    STATUS_DEAD), and the ``records`` (risk, f_min, f_max, rd_w, rd_a) at the record offsets reached."""

    steps: int
    status: int
    records: dict[str, np.ndarray]


def advance(a, w, b, dynamics: Dynamics, *, n_steps: int, record_offsets, initial=None) -> Advanced:
    """Advance the state (a, w, b) *in place* by up to ``n_steps`` GD steps of ``dynamics``, recording as it
    goes: a and b of shape (m,), w of shape (m,) for inputs x of shape (n,), (m, d) for x of shape (n, d).

    The records hold risk, f_min, f_max (exact, over ``dynamics.interval``, for ReLU networks of a 1-D input;
    NaN otherwise) and, when ``initial`` = (a₀, w₀, b₀) is given, rd_w and rd_a, at the ``record_offsets``
    (sorted offsets in 1..n_steps) that were reached.
    """
    _check_dynamics(dynamics)
    require_backend(dynamics.backend)
    record_offsets = _as_offsets(record_offsets)
    out = {name: np.full(record_offsets.size, np.nan) for name in ("risk", "f_min", "f_max", "rd_w", "rd_a")}
    x, y = dynamics.x, dynamics.y
    if initial is not None:
        initial = tuple(np.ascontiguousarray(v, dtype=np.float64) for v in initial)
    for name, values in (("a", a), ("w", w), ("b", b)):  # advanced in place: they must be what the kernels take
        if not (isinstance(values, np.ndarray) and values.dtype == np.float64 and values.flags.c_contiguous):
            given = (
                f"{'' if values.flags.c_contiguous else 'non-contiguous '}{values.dtype} array"
                if isinstance(values, np.ndarray)
                else type(values).__name__
            )
            raise invalid(name, given, "a C-contiguous float64 numpy array (advance works in place)")
    _check_state(a, w, b, x, one_network=True)
    _check_advance_arguments(a, w, b, initial, n_steps, record_offsets)
    n_steps = int(n_steps)
    # the compiled kernels' positional layout: the dynamics' scalars, the offsets, the record arrays
    layout = (
        *dynamics.kernel_scalars,
        n_steps,
        record_offsets,
        out["risk"],
        out["f_min"],
        out["f_max"],
        *dynamics.interval,
    )
    empty = np.empty(0)
    if _is_general(dynamics) and dynamics.backend == "numba":
        kernels, w_k, x_k = _general_kernels(dynamics, w)
        initial_k = (empty, np.empty((0, w_k.shape[-1])), empty)
        if initial is not None:
            initial_k = (initial[0], _with_coordinates(initial[1], x)[0], initial[2])
        steps, written, status, _ = kernels.advance(a, w_k, b, x_k, y, *layout, *initial_k, out["rd_w"], out["rd_a"])
    elif dynamics.backend == "numba":
        w_1, x_1 = _one_coordinate_flattened(w, dynamics)
        if initial is not None:
            initial = (initial[0], _one_coordinate_flattened(initial[1], dynamics)[0], initial[2])
        steps, written, status, _ = _run_kernel(
            "advance", a, w_1, b, x_1, y, *layout, out["rd_w"], out["rd_a"],
            initial=initial if initial is not None else (empty, empty, empty),
        )  # fmt: skip
    else:  # the Python backends take the dynamics and the same things by name
        backend_advance: Callable[..., tuple[int, int, int]]
        if dynamics.backend == "cuda":
            from relunet_support.engine._cuda import advance as backend_advance
        else:
            from relunet_support.engine._reference import advance as backend_advance
        steps, written, status = backend_advance(
            a, w, b, dynamics, n_steps=n_steps, record_offsets=record_offsets, records=out, initial=initial
        )
    return Advanced(int(steps), int(status), {name: values[:written] for name, values in out.items()})


def descend(a, w, b, dynamics: Dynamics, n_steps: int):
    """Plain gradient descent θ ← θ − η∇R(θ) of ``dynamics`` for n_steps steps; returns new (a, w, b), inputs
    untouched.

    Accepts (m,) or (S, m) parameters a and b (w: the same, with a trailing axis of length d for inputs x
    of shape (n, d)): S independent networks (seeds) on the same data, trained in parallel over the cores
    by the numba backend (over the GPU by the cuda backend). No guards: a non-finite state is returned
    as it is.
    """
    _check_dynamics(dynamics)
    require_backend(dynamics.backend)
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise invalid("n_steps", n_steps, "a non-negative integer")
    x, y = dynamics.x, dynamics.y
    a, w, b = _as_state(a, w, b, x)
    args = (*dynamics.kernel_scalars, int(n_steps))
    if _is_general(dynamics) and dynamics.backend == "numba":
        kernels, w_k, x_k = _general_kernels(dynamics, w)
        (kernels.descend_plain if a.ndim == 1 else kernels.descend_ensemble)(a, w_k, b, x_k, y, *args)
        return a, w, b
    if dynamics.backend == "cuda":
        from relunet_support.engine import _cuda

        _cuda.descend(a, w, b, dynamics, int(n_steps))
    elif dynamics.backend == "numpy":
        from relunet_support.engine import _reference

        for member in [(a, w, b)] if a.ndim == 1 else zip(a, w, b):
            _reference.descend_plain(*member, dynamics, int(n_steps))
    else:
        w_1, x_1 = _one_coordinate_flattened(w, dynamics)
        # one network, or an ensemble: members in parallel over the cores
        _run_kernel("descend_plain" if a.ndim == 1 else "descend_ensemble", a, w_1, b, x_1, y, *args)
    return a, w, b


def _check_dynamics(dynamics) -> None:
    if not isinstance(dynamics, Dynamics):
        raise invalid("dynamics", type(dynamics).__name__, "an engine.Dynamics (x, y, α, η, activation, …)")
