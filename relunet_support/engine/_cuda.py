"""The CUDA backend: float64 gradient descent on an NVIDIA GPU (numba-cuda; ``pip install .[gpu]``).

One step on S networks of m neurons, with r_i = f_i − y_i, c_i = η r_i/(nα), pre_ij = w_j·x_i + b_j:

    a_j ← a_j − Σ_i c_i σ(pre_ij),  w_j ← w_j − a_j Σ_i c_i σ'(pre_ij) x_i,
    b_j ← b_j − a_j Σ_i c_i σ'(pre_ij),   then   s_i = Σ_j a_j σ(w_j·x_i + b_j)   (new parameters),

fused into one pass over (a, w, b) per step, for every activation σ and input dimension d (w_j ∈ ℝ^d).
For 1-D ReLU it is the numba kernel's arithmetic, with the mirror where it is exact.

Work split. Block (p, q) of a (P, Q) grid takes the p-th of P contiguous chunks of the neurons of the
members q, q + Q, … Each block sums its chunk's s_i (and the active-pair count and a finiteness probe)
with a fixed tree (fan-in ≤ 8) in shared memory and writes them to ``partials[parity, member, p]``. At the
next step every block reduces the P partials of its members itself, in the same fixed order, so every
block derives the same f and the same stop decision, and the result is deterministic: bit for bit
the same from run to run, whatever the scheduling. Partials are double-buffered (parity), so one
grid-wide barrier per step is enough.

Launch modes, with the same arithmetic for the same grid (so the same bits):
- persistent: one cooperative launch runs many steps, ``grid.sync()`` between them (no per-step
  launch cost; a cooperative grid must fit on the device at once);
- resident: persistent, and each block also keeps its chunk of (a, w, b) in shared memory for the
  whole launch, so global memory is touched once per launch, not once per step (when it fits);
- stepwise: one launch per step, the launch boundary being the barrier (devices without cooperative
  launch; the CUDA simulator's default, as it can synchronise only a one-block grid).

Guards (``advance``, one network): the run stops at the first state whose risk or parameters are
non-finite (diverged) or, for ReLU, with no active neuron on any data point (dead), like the numba kernels.
Records (risk, extremes of f for 1-D inputs, relative distances) are taken on the host at the record steps.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from relunet_support.engine._kernels import STATUS_DIVERGED, STATUS_OK
from relunet_support.engine._mirror import first_halves, is_mirrored, unfold_mirror
from relunet_support.engine._reference import take_record
from relunet_support.errors import BackendUnavailable, ConfigError, invalid

_STATUS = 1  # the status slot of the control array (see _cuda_kernels)
DEFAULT_THREADS = 256
DEFAULT_BLOCKS_PER_SM = 2
MODES = ("auto", "resident", "persistent", "stepwise")
_SHARED_BYTES_PER_BLOCK = 48 * 1024  # without the opt-in to more dynamic shared memory
INSTALL_HINT = (
    "install the gpu extra on a machine with an NVIDIA GPU and driver "
    "(pip install 'relunet[gpu]'), or use backend='numba'"
)


def _numba_cuda():
    """``numba.cuda``, or ``BackendUnavailable`` saying why it cannot run here."""
    try:
        from numba import cuda
    except ImportError as error:  # pragma: no cover - numba always ships a numba.cuda module
        raise BackendUnavailable(f"backend='cuda' needs numba-cuda ({error}); {INSTALL_HINT}") from None
    try:
        available = cuda.is_available()
    except Exception as error:  # noqa: BLE001 - driver probing can raise anything
        available, reason = False, f"{type(error).__name__}: {error}"
    else:
        reason = "numba.cuda found no usable CUDA driver or device"
    if not available:
        raise BackendUnavailable(f"backend='cuda' is not available here: {reason}; {INSTALL_HINT}")
    return cuda


def unavailable_reason() -> str | None:
    """None when backend='cuda' can run here, else the reason it cannot."""
    try:
        _numba_cuda()
    except BackendUnavailable as error:
        return str(error)
    return None


def describe() -> dict:
    """numba-cuda's version and the GPU's name and compute capability (for a run's metadata)."""
    cuda = _numba_cuda()
    try:
        from importlib.metadata import version

        numba_cuda = version("numba-cuda")
    except Exception:  # noqa: BLE001 - numba's built-in CUDA target
        numba_cuda = None
    if simulated():
        return {"numba_cuda": numba_cuda, "cuda_device": "numba CUDA simulator"}
    device = cuda.get_current_device()
    name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    return {"numba_cuda": numba_cuda, "cuda_device": f"{name} (compute capability {device.compute_capability})"}


def simulated() -> bool:
    """True under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1): kernels run as Python threads."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def kernels(
    n: int,
    mirror: bool,
    threads: int = DEFAULT_THREADS,
    blocks_per_sm: int = DEFAULT_BLOCKS_PER_SM,
    activation: str = "relu",
    d: int = 1,
) -> dict:
    """The compiled kernels (``_cuda_kernels.build``) for n data points of dimension d and an activation."""
    _numba_cuda()
    from relunet_support.engine._cuda_kernels import build

    return build(n, bool(mirror), int(threads), int(blocks_per_sm), str(activation), int(d))


class DeviceState:
    """S networks (or one) resident on the GPU, stepped by gradient descent without leaving it.

    ``a, w, b``: host arrays, a and b of shape (m,) or (S, m), w of that shape for 1-D inputs x (n,) and of
    that shape + (d,) for inputs x (n, d) (copied to the device); ``activation``: σ's name; ``mode``: one of MODES
    ('auto': resident where it fits, else persistent, else stepwise; see the module's docstring).
    ``blocks_per_sm``: blocks launched per multiprocessor (the kernels are compiled to fit them: more
    blocks hide more memory latency but leave fewer registers per thread, and each block re-reduces
    every partial at each step).
    """

    def __init__(
        self,
        a,
        w,
        b,
        x,
        y,
        alpha: float,
        learning_rate: float,
        mirror: bool = False,
        threads: int = DEFAULT_THREADS,
        mode: str = "auto",
        blocks_per_sm: int = DEFAULT_BLOCKS_PER_SM,
        activation: str = "relu",
    ):
        if mode not in MODES:
            raise invalid("mode", mode, "one of " + ", ".join(map(repr, MODES)))
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1 or threads & (threads - 1):
            raise invalid("threads", threads, "a power of two (at least a warp, 32, on a GPU)")
        if isinstance(blocks_per_sm, bool) or not isinstance(blocks_per_sm, int) or blocks_per_sm < 1:
            raise invalid("blocks_per_sm", blocks_per_sm, "a positive integer")
        cuda = _numba_cuda()
        x = np.ascontiguousarray(x, dtype=np.float64)
        self.d = 1 if x.ndim == 1 else x.shape[1]
        self.shape, self.w_shape = np.shape(a), np.shape(w)
        a, b = (np.ascontiguousarray(np.atleast_2d(v), dtype=np.float64) for v in (a, b))
        self.n_members, self.m = a.shape
        host = [a, np.ascontiguousarray(np.reshape(w, (self.n_members, self.m * self.d)), dtype=np.float64), b]
        self.mirror = bool(mirror)  # the arrays are the first half of a mirrored network
        self.kernels = kernels(x.shape[0], self.mirror, threads, blocks_per_sm, activation, self.d)
        self.threads = threads
        self.inv_alpha = 1.0 / float(alpha)
        self.scale = float(learning_rate) * self.inv_alpha / x.shape[0]
        self.requested_mode = mode
        self.mode, self.grid, self.cache_bytes = self._launch_plan(cuda, mode, blocks_per_sm)
        self.a, self.w, self.b = (cuda.to_device(v) for v in host)
        self.x = cuda.to_device(x.reshape(-1))
        self.y = cuda.to_device(np.ascontiguousarray(y, dtype=np.float64))
        self.partials = cuda.to_device(np.zeros((2, self.n_members, self.grid[0], x.shape[0] + 2)))
        self.control = cuda.to_device(np.zeros(2, dtype=np.int64))
        self.values = cuda.device_array((self.n_members, x.shape[0]))
        self.steps = 0  # the sums of the current parameters are in partials[steps % 2]
        self.kernels["forward"][self.grid, threads](self.a, self.w, self.b, self.x, 0, self.partials)

    def _launch_plan(self, cuda, mode, blocks_per_sm) -> tuple[str, tuple[int, int], int]:
        """(mode, (P, Q), dynamic shared bytes): P chunks per member, Q member groups.

        A cooperative grid must fit on the device at once. 'auto' takes 'resident' where a block's
        chunk, (2 + d)·8 bytes a neuron, fits in shared memory (48 KiB per block with the reduction
        scratch, more where the device allows the opt-in), else 'persistent',
        else (no cooperative launch) 'stepwise'. Under the simulator, which can synchronise only a
        one-block grid, 'persistent' and 'resident' run one block per member and 'auto' is 'stepwise'.
        """
        per_member = math.ceil(self.m / self.threads)
        neuron_bytes = 8 * (2 + self.d)
        if simulated():
            if mode in ("persistent", "resident"):
                return mode, (1, self.n_members), neuron_bytes * self.m if mode == "resident" else 0
            return "stepwise", (max(1, min(per_member, 4)), self.n_members), 0
        limit = cuda.get_current_device().MULTIPROCESSOR_COUNT * blocks_per_sm
        if mode == "stepwise":
            return "stepwise", (max(1, min(per_member, limit)), self.n_members), 0
        try:
            limit = min(
                limit, self.kernels["persistent"].compile(self._signature()).max_cooperative_grid_blocks(self.threads)
            )
            groups = min(self.n_members, limit)
            grid = (max(1, min(per_member, limit // groups)), groups)
            cache_bytes = neuron_bytes * math.ceil(self.m / grid[0])
            resident_fits = (
                mode != "persistent"
                and groups == self.n_members
                and self._shared_memory_allows(cuda, cache_bytes)
                and self.kernels["resident"]
                .compile(self._signature())
                .max_cooperative_grid_blocks(self.threads, cache_bytes)
                >= grid[0] * grid[1]
            )
        except Exception as error:  # noqa: BLE001 - e.g. no libcudadevrt to link the grid barrier
            if mode != "auto":
                raise
            warnings.warn(
                f"cuda backend: cooperative launch unavailable ({type(error).__name__}: {error}); "
                "running one launch per step",
                RuntimeWarning,
                stacklevel=3,
            )
            return "stepwise", (max(1, min(per_member, limit)), self.n_members), 0
        if resident_fits and mode in ("auto", "resident"):
            return "resident", grid, cache_bytes
        if mode == "resident":
            raise ConfigError(
                f"mode='resident' is not possible here: {self.n_members} × {self.m} neurons do not fit "
                "in the shared memory of a cooperative grid; use 'auto'"
            )
        return "persistent", grid, 0

    def _shared_memory_allows(self, cuda, cache_bytes: int) -> bool:
        """Whether a block can have ``cache_bytes`` of dynamic shared memory besides its scratch: up to
        48 KiB in all by default, up to the device's opt-in limit (227 KiB on an H100) once the resident
        kernel is allowed more (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)."""
        total = cache_bytes + self.kernels["static_shared_bytes"]
        if total <= _SHARED_BYTES_PER_BLOCK:
            return True
        try:
            if total > cuda.get_current_device().MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
                return False
            from numba.cuda.cudadrv.driver import binding, driver

            function = self.kernels["resident"].compile(self._signature())._codelibrary.get_cufunc()
            attribute = binding.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            if hasattr(driver, "cuKernelSetAttribute"):  # numba-cuda's handles are CUkernel (library) handles
                driver.cuKernelSetAttribute(attribute, cache_bytes, function.handle, function.device.id)
            else:
                driver.cuFuncSetAttribute(function.handle, attribute, cache_bytes)
            return True
        except Exception:  # noqa: BLE001 - an older numba-cuda or driver: stay within 48 KiB
            return False

    def _signature(self):
        from numba import boolean, float64, int64, types

        matrix = types.Array(float64, 2, "C")
        vector = types.Array(float64, 1, "C")
        return (
            matrix,
            matrix,
            matrix,
            vector,
            vector,
            float64,
            float64,
            int64,
            int64,
            boolean,
            types.Array(float64, 4, "C"),
            types.Array(int64, 1, "C"),
        )

    def run(self, n_steps: int, guard: bool = False) -> tuple[int, int]:
        """Up to n_steps more steps; returns (steps done since the start, status).

        Without ``guard`` (any S) the launch is asynchronous and every step is done. With it (one
        network) this waits: the run stops at the first diverged or dead state, as in ``advance``.
        """
        if guard and self.n_members != 1:
            raise ValueError("guard=True is for one network, not an ensemble")
        args = (self.a, self.w, self.b, self.x, self.y, self.inv_alpha, self.scale)
        tail = (bool(guard), self.partials, self.control)
        if self.mode == "resident":
            try:
                self.kernels["resident"][self.grid, self.threads, 0, self.cache_bytes](
                    *args, int(n_steps), self.steps % 2, *tail
                )
            except Exception as error:  # noqa: BLE001 - the launch was refused: nothing ran
                if self.requested_mode == "resident":
                    raise
                warnings.warn(
                    f"cuda backend: the resident launch was refused ({type(error).__name__}: {error}); "
                    "continuing without the shared-memory cache",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.mode, self.cache_bytes = "persistent", 0
        if self.mode == "persistent":
            self.kernels["persistent"][self.grid, self.threads](*args, int(n_steps), self.steps % 2, *tail)
        elif self.mode == "stepwise":  # one launch per step; after a stop, the remaining launches return at once
            for step in range(self.steps, self.steps + int(n_steps)):
                self.kernels["stepwise"][self.grid, self.threads](*args, 1, step % 2, *tail)
        if not guard:
            self.steps += int(n_steps)
            return self.steps, STATUS_OK
        steps, status = self.control.copy_to_host()
        self.steps = int(steps)
        if status == STATUS_OK:  # the kernel judges a state before stepping on from it: judge the last one
            self._finish(True)
            status = self.control.copy_to_host()[_STATUS]
        return self.steps, int(status)

    def _finish(self, guard: bool) -> None:
        self.kernels["finish"][(1, self.n_members), self.threads](
            self.y, self.inv_alpha, self.steps % 2, guard, self.partials, self.control, self.values
        )

    def network_values(self) -> np.ndarray:
        """f(x_i) of each member now, shape (S, n) (or (n,) for one network)."""
        self._finish(False)
        values = self.values.copy_to_host()
        return values[0] if len(self.shape) == 1 else values

    def synchronize(self) -> None:
        from numba import cuda

        cuda.synchronize()

    def to_host(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parameters now, as host arrays of the shapes given."""
        return tuple(
            v.copy_to_host().reshape(shape)
            for v, shape in ((self.a, self.shape), (self.w, self.w_shape), (self.b, self.shape))
        )


def _on_device(a, w, b, dynamics, launch) -> DeviceState:
    """The network on the GPU: its first half only when the problem is mirrored (1-D ReLU,
    ``engine.is_mirrored``)."""
    x, y, activation = dynamics.x, dynamics.y, dynamics.activation
    mirror = activation == "relu" and np.ndim(x) == 1 and is_mirrored(a, w, b, x, y)
    if mirror:
        a, w, b = first_halves(a, w, b)
    return DeviceState(
        a, w, b, x, y, dynamics.alpha, dynamics.learning_rate, mirror=mirror, activation=activation, **launch
    )


def _copy_back(state: DeviceState, targets) -> None:
    """The parameters on the GPU, written into the caller's (a, w, b) in place."""

    if state.mirror:
        unfold_mirror(targets, state.to_host())
    else:
        for target, value in zip(targets, state.to_host()):
            target[...] = value


def descend(a, w, b, dynamics, n_steps, **launch) -> None:
    """``engine.descend`` on the GPU: (a, w, b) of shape (m,) or (S, m) (w: with a trailing axis of length d
    for inputs of dimension d) updated in place. ``launch``: DeviceState's threads, mode, blocks_per_sm."""
    state = _on_device(a, w, b, dynamics, launch)
    state.run(n_steps)
    _copy_back(state, (a, w, b))


def advance(a, w, b, dynamics, *, n_steps, record_offsets, records, initial=None, **launch):
    """The numba kernels' ``advance`` on the GPU (one network, in place): (steps taken, records written,
    status). The GPU runs between record steps; each record is taken on the host from the state copied back."""

    state = _on_device(a, w, b, dynamics, launch)
    steps, status = state.run(0, guard=True)  # a dead start stops at step 0
    written = 0
    for target in [*record_offsets.tolist(), int(n_steps)]:
        if status != STATUS_OK:
            break
        if target > steps:
            steps, status = state.run(target - steps, guard=True)
        if status == STATUS_DIVERGED or written == record_offsets.size or record_offsets[written] != steps:
            continue
        _copy_back(state, (a, w, b))  # (a, w, b) is updated in place anyway: the record reads it there
        risk = 0.5 * float(np.sum((state.network_values() - dynamics.y) ** 2)) / dynamics.y.size
        take_record(records, written, a, w, b, risk, dynamics.alpha, dynamics.interval, initial, dynamics.activation)
        written += 1
    _copy_back(state, (a, w, b))
    return steps, written, status
