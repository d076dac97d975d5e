"""Typed errors raised by core, each with a message meant to be shown to the user as is."""

import sys


class SinDDMError(Exception):
    """Base class: the message is plain words that say what went wrong and how to fix it."""


class ImageLoadError(SinDDMError):
    """The file could not be read as an image."""


class ImageTooSmallError(SinDDMError):
    """The image is too small for the coarsest scale of the pyramid."""


class ImageTooLargeError(SinDDMError):
    """The image is absurdly large (decoding it would exhaust memory)."""


class CheckpointFormatError(SinDDMError):
    """The file is not a SinDDM Studio model, is damaged, or comes from a newer version."""


class TrainingDivergedError(SinDDMError):
    """The training loss or the weights stopped being finite numbers (NaN or infinity)."""


class CheckpointWriteError(SinDDMError):
    """A model or image could not be written (disk full, no permission, ...)."""


class ConfigError(SinDDMError):
    """A setting has a value that cannot work."""


class DeviceUnavailableError(SinDDMError):
    """The requested compute device (cuda, mps) is not available on this machine."""


def out_of_memory(exc: BaseException) -> str | None:
    """'The GPU ran out of memory.' or 'The computer ran out of memory.' when `exc` says so,
    else None. Front ends add their own advice (a smaller --batch, a smaller canvas, …)."""
    # torch is not imported here: core.errors stays torch-free for GUIs (an import-linter
    # contract), and an exception can only be torch's if torch is already loaded.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return "The GPU ran out of memory."
    if isinstance(exc, MemoryError) or _cpu_allocation_failed(exc):
        return "The computer ran out of memory."
    return None


CPU_ALLOCATION_FAILED = "DefaultCPUAllocator: can't allocate memory"
"""What torch's CPU allocator says (as a RuntimeError) when the system refuses memory."""


def _cpu_allocation_failed(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and CPU_ALLOCATION_FAILED in str(exc)
