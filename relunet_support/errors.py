"""Exceptions with messages that name the parameter, the value and what is allowed."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid parameter value: the message names the parameter, the value and what is allowed."""


class NotARunError(ValueError):
    """A folder that is not a run store."""


class CorruptRunError(NotARunError):
    """A run store that is damaged: a chunk missing or failing its checksum, metadata that contradicts itself.
    The message names the run, the array and the chunk (or the attribute). ``repairable`` is True when the
    damage is in the trained data only (chunks, progress counts): ``train`` then retrains from the last intact
    snapshot; False when the run's identity (config, hash, format) cannot be trusted: retrain it from scratch."""

    def __init__(self, message: str, repairable: bool = False):
        super().__init__(message)
        self.repairable = repairable


class KernelCompileError(RuntimeError):
    """The child process that compiles the numba kernels failed: the message ends with the last line of its
    error output (e.g. 'OSError: [Errno 28] No space left on device'); ``stderr`` holds all of it."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


class StaleRunError(RuntimeError):
    """An unfinished run made by another engine revision: resuming it would mix two engines in one run."""


class RunLockedError(RuntimeError):
    """Another process is training the same run right now."""


class BackendUnavailable(RuntimeError):
    """backend='cuda' was asked for where it cannot run (no GPU, driver or numba-cuda): says why."""


class TrainingDiverged(FloatingPointError):
    """The risk or a parameter became non-finite; ``run`` holds every record made before."""

    def __init__(self, message: str, run=None, step: int | None = None):
        super().__init__(message)
        self.run = run
        self.step = step


class NetworkDied(RuntimeError):
    """Every neuron became inactive on every data point (``train(..., strict=True)``); ``run`` is the dead run."""

    def __init__(self, message: str, run=None):
        super().__init__(message)
        self.run = run


def invalid(name: str, value, allowed: str) -> ConfigError:
    """Build the project's standard error for a bad value of ``name``."""
    return ConfigError(f"{name}={value!r} is not allowed: {name} must be {allowed}")
