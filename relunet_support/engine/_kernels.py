"""Status codes the step kernels (numpy, numba, cuda) return."""

from __future__ import annotations

STATUS_OK = 0
STATUS_DIVERGED = 1
STATUS_DEAD = 2
