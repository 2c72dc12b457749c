"""The CUDA kernels of the cuda backend, built for n data points, an activation, an input dimension d and a
block size (see ``_cuda``).

``cuda`` must be this module's global (not a closure variable): numba's CUDA simulator swaps the
module's global for its own when it runs a kernel.

Layout: a and b are (S, m); w is (S, m·d), neuron j's coordinates at j·d … j·d + d − 1 (for d = 1 the
(S, m) array itself); x is the (n·d) flattening of the (n, d) inputs, point i at i·d … i·d + d − 1.
"""

from __future__ import annotations

import functools
import math

from numba import config, cuda, float64

from relunet_support.engine._kernels import STATUS_DEAD, STATUS_DIVERGED, STATUS_OK
from relunet_support.network.activations import LEAKY_SLOPE

_STEPS, _STATUS = 0, 1  # slots of the control array
_LARGEST = 1.7976931348623157e308
UNROLL = 4  # neurons per thread loaded together in a sweep


def _kernel_decorator(threads: int, blocks_per_sm: int):
    """``cuda.jit`` for kernels launched with ``threads`` threads per block, ``blocks_per_sm`` blocks on
    each multiprocessor: launch bounds make the compiler keep the registers per thread low enough."""
    if config.ENABLE_CUDASIM:
        return cuda.jit
    try:
        return cuda.jit(launch_bounds=(threads, blocks_per_sm))
    except TypeError:  # a numba-cuda without launch bounds
        return cuda.jit


def _activation(name: str):
    """The device function z ↦ (σ(z), σ'(z)) of an activation (formulas: ``network/activations.py``)."""
    if name == "relu":

        @cuda.jit(device=True)
        def relu(z):
            return (z, 1.0) if z > 0.0 else (0.0, 0.0)

        return relu
    if name == "leaky_relu":

        @cuda.jit(device=True)
        def leaky_relu(z):
            return (z, 1.0) if z > 0.0 else (LEAKY_SLOPE * z, LEAKY_SLOPE)

        return leaky_relu
    if name == "tanh":

        @cuda.jit(device=True)
        def tanh(z):
            t = math.tanh(z)
            return t, 1.0 - t * t

        return tanh
    if name == "xtanh":

        @cuda.jit(device=True)
        def xtanh(z):
            t = math.tanh(z)
            return z * t, t + z * (1.0 - t * t)

        return xtanh
    if name == "x2tanh":

        @cuda.jit(device=True)
        def x2tanh(z):
            t = math.tanh(z)
            return z * z * t, z * (2.0 * t + z * (1.0 - t * t))

        return x2tanh
    raise ValueError(f"no cuda device function for activation {name!r}")


@functools.cache
def build(n: int, mirror: bool, threads: int, blocks_per_sm: int = 1, activation: str = "relu", d: int = 1) -> dict:
    """The compiled kernels for n data points of dimension d, an activation, and ``threads`` threads per
    block (a power of two; at least a warp, 32, on a GPU; the simulator tests use 4).

    ``mirror`` (1-D ReLU only): the arrays hold the first half of a mirror-symmetric network on
    mirror-symmetric data (see ``engine.is_mirrored``), so f_i = (s_i + s_{n−1−i})/α.
    """
    general = not (activation == "relu" and d == 1)
    if general and mirror:
        raise ValueError("the mirror is for 1-D ReLU networks only")
    sigma = _activation(activation)
    can_die = activation == "relu"  # ReLU's pairs with w_j·x_i + b_j ≤ 0 pass no gradient; other σ never die
    kernel = _kernel_decorator(threads, blocks_per_sm)
    n_sums = n + 2  # s_0 … s_{n−1}, the active-pair count, the finiteness probe (Σ 0·θ: 0 or NaN)
    active_slot, finite_slot = n, n + 1

    @cuda.jit(device=True)
    def block_sum(values, scratch):
        """scratch[k, 0] = Σ over the block's threads of values[k], by a fixed tree of fan-in ≤ 8
        (deterministic: the order of the additions never depends on the threads' timing)."""
        t = cuda.threadIdx.x
        cuda.syncthreads()  # earlier readers of scratch are done
        for k in range(n_sums):
            scratch[k, t] = values[k]
        cuda.syncthreads()
        width = threads
        while width > 1:
            fan_in = min(8, width)
            width //= fan_in
            if t < width:
                for k in range(n_sums):
                    total = scratch[k, t]
                    for r in range(1, fan_in):
                        total += scratch[k, t + r * width]
                    scratch[k, t] = total
            cuda.syncthreads()

    @cuda.jit(device=True)
    def member_totals(partials, parity, member, totals, scratch):
        """totals[k] = Σ_p partials[parity, member, p, k], the same in every thread of every block."""
        acc = cuda.local.array(n_sums, float64)
        for k in range(n_sums):
            acc[k] = 0.0
        for p in range(cuda.threadIdx.x, partials.shape[2], threads):
            for k in range(n_sums):
                acc[k] += partials[parity, member, p, k]
        block_sum(acc, scratch)
        for k in range(n_sums):
            totals[k] = scratch[k, 0]

    @cuda.jit(device=True)
    def network_values(totals, inv_alpha, i):
        """f(x_i) from the neuron sums."""
        if mirror:
            return (totals[i] + totals[n - 1 - i]) * inv_alpha
        return totals[i] * inv_alpha

    @cuda.jit(device=True)
    def verdict(totals, y, inv_alpha):
        """STATUS_DIVERGED for a non-finite risk or parameter, STATUS_DEAD with no active pair, else OK."""
        risk = 0.0
        for i in range(n):
            residual = network_values(totals, inv_alpha, i) - y[i]
            risk += residual * residual
        if not (risk <= _LARGEST and totals[finite_slot] == 0.0):  # false for inf and nan
            return STATUS_DIVERGED
        if can_die and totals[active_slot] == 0.0:
            return STATUS_DEAD
        return STATUS_OK

    @cuda.jit(device=True)
    def sweep(a, w, b, x, coef, coef_x, update, start, stop, acc):
        """One pass over this thread's neurons of [start, stop) of (a, w, b): a GD step first when
        ``update``, then acc = (Σ_j a_j (w_j x_i + b_j)_+ for each i, active pairs, Σ_j 0·(a_j + w_j + b_j)).

        The thread's neurons j₀, j₀ + threads, … are taken ``UNROLL`` at a time, all loaded before any
        is stored, so that several loads are in flight; the order of the sums is the same as one by one.
        """
        xs = cuda.local.array(n, float64)
        for i in range(n):
            xs[i] = x[i]
        for k in range(n_sums):
            acc[k] = 0.0
        group_a = cuda.local.array(UNROLL, float64)
        group_w = cuda.local.array(UNROLL, float64)
        group_b = cuda.local.array(UNROLL, float64)
        for first in range(start + cuda.threadIdx.x, stop, threads * UNROLL):
            for u in range(UNROLL):
                j = first + u * threads
                if j < stop:
                    group_a[u] = a[j]
                    group_w[u] = w[j]
                    group_b[u] = b[j]
            for u in range(UNROLL):
                j = first + u * threads
                if j < stop:
                    aj = group_a[u]
                    wj = group_w[u]
                    bj = group_b[u]
                    if update:
                        grad_a = 0.0
                        grad_w = 0.0
                        grad_b = 0.0
                        for i in range(n):
                            pre = wj * xs[i] + bj
                            if pre > 0.0:
                                grad_a += coef[i] * pre
                                grad_w += coef_x[i]
                                grad_b += coef[i]
                        wj_new = wj - aj * grad_w
                        bj_new = bj - aj * grad_b
                        aj = aj - grad_a
                        wj = wj_new
                        bj = bj_new
                        a[j] = aj
                        w[j] = wj
                        b[j] = bj
                    for i in range(n):
                        pre = wj * xs[i] + bj
                        if pre > 0.0:
                            acc[i] += aj * pre
                            acc[active_slot] += 1.0
                    acc[finite_slot] += aj * 0.0 + wj * 0.0 + bj * 0.0

    @cuda.jit(device=True)
    def sweep_general(a, w, b, x, coef, coef_x, update, start, stop, acc):
        """``sweep`` for any activation σ and input dimension d (``coef_x`` unused), per neuron j:
        z_i = w_j·x_i + b_j, G_a = Σ_i c_i σ(z_i), G_b = Σ_i c_i σ'(z_i), G_w = Σ_i c_i σ'(z_i) x_i;
        a_j ← a_j − G_a, w_j ← w_j − a_j G_w, b_j ← b_j − a_j G_b; then acc = (Σ_j a_j σ(z_ij) for each i,
        the pairs with z_ij > 0, Σ_j 0·(a_j + b_j + Σ_k w_jk))."""
        for k in range(n_sums):
            acc[k] = 0.0
        wj = cuda.local.array(d, float64)
        grad_w = cuda.local.array(d, float64)
        for j in range(start + cuda.threadIdx.x, stop, threads):
            aj = a[j]
            bj = b[j]
            for k in range(d):
                wj[k] = w[j * d + k]
            if update:
                grad_a = 0.0
                grad_b = 0.0
                for k in range(d):
                    grad_w[k] = 0.0
                for i in range(n):
                    z = bj
                    for k in range(d):
                        z += wj[k] * x[i * d + k]
                    value, slope = sigma(z)
                    grad_a += coef[i] * value
                    q = coef[i] * slope
                    grad_b += q
                    for k in range(d):
                        grad_w[k] += q * x[i * d + k]
                for k in range(d):
                    wj[k] = wj[k] - aj * grad_w[k]
                    w[j * d + k] = wj[k]
                bj = bj - aj * grad_b
                aj = aj - grad_a
                a[j] = aj
                b[j] = bj
            probe = aj * 0.0 + bj * 0.0
            for i in range(n):
                z = bj
                for k in range(d):
                    z += wj[k] * x[i * d + k]
                value, _ = sigma(z)
                acc[i] += aj * value
                if z > 0.0:
                    acc[active_slot] += 1.0
            for k in range(d):
                probe += wj[k] * 0.0
            acc[finite_slot] += probe

    pass_over = sweep_general if general else sweep

    @cuda.jit(device=True)
    def chunk(m):
        """This block's neurons [start, stop) of each of its members."""
        size = (m + cuda.gridDim.x - 1) // cuda.gridDim.x
        start = cuda.blockIdx.x * size
        return start, min(m, start + size)

    @cuda.jit(device=True)
    def write_partials(acc, scratch, partials, parity, member):
        block_sum(acc, scratch)
        if cuda.threadIdx.x == 0:
            for k in range(n_sums):
                partials[parity, member, cuda.blockIdx.x, k] = scratch[k, 0]

    @kernel
    def forward(a, w, b, x, parity, partials):
        """partials[parity] ← the sums of the current parameters."""
        scratch = cuda.shared.array((n_sums, threads), float64)
        acc = cuda.local.array(n_sums, float64)
        coef = cuda.local.array(n, float64)
        start, stop = chunk(a.shape[1])
        for member in range(cuda.blockIdx.y, a.shape[0], cuda.gridDim.y):
            pass_over(a[member], w[member], b[member], x, coef, coef, False, start, stop, acc)
            write_partials(acc, scratch, partials, parity, member)

    def make_steps(persistent: bool, resident: bool):
        """The step kernel. ``persistent``: a grid barrier between steps (a cooperative launch).
        ``resident`` (persistent, one member per block row): each block keeps its chunk of (a, w, b)
        in dynamic shared memory for the whole launch ((2 + d)·⌈m/P⌉ doubles), reading and writing global
        memory once per launch instead of once per step. The same neurons go to the same threads in
        the same order either way, so the results are the same bits."""

        @kernel
        def steps(a, w, b, x, y, inv_alpha, scale, n_steps, parity, guard, partials, control):
            """Up to n_steps GD steps; partials[parity] hold the sums of the current parameters.
            control[_STEPS] += steps done; control[_STATUS] = why it stopped (guard: one member)."""
            if control[_STATUS] != STATUS_OK:
                return
            scratch = cuda.shared.array((n_sums, threads), float64)
            totals = cuda.local.array(n_sums, float64)
            acc = cuda.local.array(n_sums, float64)
            coef = cuda.local.array(n, float64)
            coef_x = cuda.local.array(n, float64)
            start, stop = chunk(a.shape[1])
            if resident:
                capacity = (a.shape[1] + cuda.gridDim.x - 1) // cuda.gridDim.x
                cache = cuda.shared.array(0, float64)
                cached_a = cache[:capacity]
                cached_b = cache[capacity : 2 * capacity]
                cached_w = cache[2 * capacity : (2 + d) * capacity]
                member = cuda.blockIdx.y
                for j in range(cuda.threadIdx.x, stop - start, threads):
                    cached_a[j] = a[member, start + j]
                    cached_b[j] = b[member, start + j]
                    for k in range(d):
                        cached_w[j * d + k] = w[member, (start + j) * d + k]
                cuda.syncthreads()
            status = STATUS_OK
            done = 0
            for _ in range(n_steps):
                for member in range(cuda.blockIdx.y, a.shape[0], cuda.gridDim.y):
                    member_totals(partials, parity, member, totals, scratch)
                    if guard:
                        status = verdict(totals, y, inv_alpha)
                    if status == STATUS_OK:
                        for i in range(n):
                            coef[i] = (network_values(totals, inv_alpha, i) - y[i]) * scale
                            coef_x[i] = coef[i] * x[i * d]  # used by the 1-D ReLU sweep only
                        if resident:
                            pass_over(cached_a, cached_w, cached_b, x, coef, coef_x, True, 0, stop - start, acc)
                        else:
                            pass_over(a[member], w[member], b[member], x, coef, coef_x, True, start, stop, acc)
                        write_partials(acc, scratch, partials, 1 - parity, member)
                if status != STATUS_OK:
                    break  # every block reached the same verdict at the same step
                parity = 1 - parity
                done += 1
                if persistent:
                    cuda.cg.this_grid().sync()
            if resident:
                cuda.syncthreads()
                member = cuda.blockIdx.y
                for j in range(cuda.threadIdx.x, stop - start, threads):
                    a[member, start + j] = cached_a[j]
                    b[member, start + j] = cached_b[j]
                    for k in range(d):
                        w[member, (start + j) * d + k] = cached_w[j * d + k]
            if cuda.blockIdx.x == 0 and cuda.blockIdx.y == 0 and cuda.threadIdx.x == 0:
                control[_STEPS] += done
                control[_STATUS] = status

        return steps

    @kernel
    def finish(y, inv_alpha, parity, guard, partials, control, values):
        """values[member, i] = f(x_i); with guard, the verdict on the current state (one member)."""
        scratch = cuda.shared.array((n_sums, threads), float64)
        totals = cuda.local.array(n_sums, float64)
        for member in range(cuda.blockIdx.y, partials.shape[1], cuda.gridDim.y):
            member_totals(partials, parity, member, totals, scratch)
            if cuda.threadIdx.x == 0:
                for i in range(n):
                    values[member, i] = network_values(totals, inv_alpha, i)
                if guard and control[_STATUS] == STATUS_OK:
                    control[_STATUS] = verdict(totals, y, inv_alpha)

    return {
        "forward": forward,
        "stepwise": make_steps(False, False),
        "persistent": make_steps(True, False),
        "resident": make_steps(True, True),
        "finish": finish,
        "static_shared_bytes": 8 * n_sums * threads,
    }
