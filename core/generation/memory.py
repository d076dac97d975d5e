"""Memory a generation needs, memory a device has free, and a plain refusal when it will not fit.

A 4096×4096 canvas once took gigabytes with no warning. Front ends call `ensure_fits` before
sampling; it compares `estimate_generation_bytes` with `available_bytes`.

The estimate is the peak working memory of one `core.generation.run.generate` run on top of what
the loaded model already holds, for `batch` images whose finest canvas is height×width:

    bytes ≈ batch · height · width · model.bytes_per_pixel + FIXED_BYTES

The finest scale sets the peak: every coarser canvas is smaller, and nothing of theirs is kept
but the upsampled image the finest scale starts from. Each denoiser's `bytes_per_pixel` (its
memory profile, core.denoisers) was measured as the growth of
the process's peak resident memory (VmHWM in /proc/self/status, reset just before the run) over
whole plain generations on a CPU (Linux, glibc's malloc, float32):

    model          canvas, batch                       bytes a pixel   estimate
    trained d=16   1024×1024 ×1, 512×512 ×1,            560, 869,       898
                   384×288 ×4, 256×192 ×3               787, 877
    trained d=32   512×512 ×1                           1,078           1,346
    trained d=160  256×192 ×1                           4,586           4,930
    Instant        384×288 ×1, 512×512 ×1, 768×576 ×1,  5,597, 5,863,   6,000
                   1024×1024 ×1, 512×384 ×2, 256² ×4    5,730, 5,616,
                                                        5,629, 1,301

* A trained network of width d holds at most five d-channel float32 maps at once (a block's
  input, its depthwise convolution, its first 3×3 convolution, GELU and second 3×3
  convolution): 20·d bytes a pixel, exactly, on single steps. The sampler's (B, 3, H, W)
  tensors and the freed blocks glibc keeps for reuse bring whole runs to at most
  28·d + 450 (`NETWORK_BYTES_PER_CHANNEL`, `SAMPLER_BYTES_PER_PIXEL` in core.denoisers.trained).
* Instant needs about 1 kB a pixel while it runs (each pixel's pool of candidates, 14 int32
  now, 18 int64 when this was measured, sorted; its projected patch; the step's images), but
  its chunked softmax loops leave glibc's heap fragmented, and the resident size grows by up
  28·d + 450 (`NETWORK_BYTES_PER_CHANNEL`, `SAMPLER_BYTES_PER_PIXEL`, core.denoisers.trained).
  The "mean" aggregation also holds every pixel's whole patch estimate (3k² floats, twice).

Not counted: CLIP and its gradients for text guidance (a fixed few hundred MB). No GPU was
measured: there the caching allocator holds about the live size, below these CPU figures.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SinDDMError

if TYPE_CHECKING:
    import torch

    from core.denoisers.protocol import DiffusionModel
    from core.generation.plan import GenerationPlan

FIXED_BYTES = 64 * 2**20
"""Thread pools, kernels' scratch space and the coarse scales' chunked softmax."""
MEMINFO = Path("/proc/meminfo")


class NotEnoughMemoryError(SinDDMError):
    """A generation would need more memory than the device has free."""


def estimate_generation_bytes(model: DiffusionModel, height: int, width: int, batch: int) -> int:
    """Peak working memory, in bytes, of generating `batch` images whose finest canvas is
    height×width with `model` (any `DiffusionModel`; module docstring: how it was measured)."""
    return batch * height * width * model.bytes_per_pixel + FIXED_BYTES


def available_bytes(device: torch.device | str) -> int:
    """Memory free for a new computation on `device` (a torch.device or its name, 'cuda:1').

    CPU: the kernel's MemAvailable (free memory plus the caches it can drop). CUDA: the GPU's
    free memory plus what this process's caching allocator holds unused. MPS (memory shared
    with the CPU): the CPU figure, capped by what Metal recommends. Where nothing can be read,
    the whole physical memory, or `sys.maxsize` (never refuse on a guess)."""
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    if kind == "cuda":
        import torch

        gpu = torch.device(device)
        free, _total = torch.cuda.mem_get_info(gpu)
        unused_cache = torch.cuda.memory_reserved(gpu) - torch.cuda.memory_allocated(gpu)
        return int(free + unused_cache)
    system = _system_available()
    if kind == "mps":
        import torch

        recommended = getattr(torch.mps, "recommended_max_memory", None)
        allocated = getattr(torch.mps, "driver_allocated_memory", None)
        if recommended is not None and allocated is not None:
            return min(system, int(recommended() - allocated()))
    return system


def _system_available() -> int:
    """MemAvailable from /proc/meminfo (Linux), else Windows' available physical memory, else
    the physical memory (macOS: what is free cannot be read without psutil)."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        return _windows_available()
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return sys.maxsize


def _windows_available() -> int:
    """ullAvailPhys of GlobalMemoryStatusEx."""
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return sys.maxsize
    return int(status.ullAvailPhys)


def ensure_fits(
    model: DiffusionModel, height: int, width: int, batch: int, device: torch.device | str
) -> None:
    """Raise `NotEnoughMemoryError` (a plain sentence) when generating `batch` images of a
    height×width canvas would need more memory than `device` has free."""
    need = estimate_generation_bytes(model, height, width, batch)
    have = available_bytes(device)
    if need <= have:
        return
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    where = "the GPU has" if kind == "cuda" else "this computer has"
    images = (
        f"A {width}×{height} image needs"
        if batch == 1
        else (f"{batch} images of {width}×{height} at once need")
    )
    fewer = "" if batch == 1 else ", or fewer images at once"
    raise NotEnoughMemoryError(
        f"{images} about {describe_bytes(need)} of memory; {where} {describe_bytes(have)} free. "
        f"Try a smaller size{fewer}."
    )


def estimate_plan_bytes(model: DiffusionModel, plan: GenerationPlan) -> int:
    """Peak working memory of running `plan`: the model's scales for a batch, or the detail
    scales for one image at a time, whichever is more."""
    width, height = plan.base_size
    batch = min(plan.request.batch, plan.request.count)
    base = estimate_generation_bytes(model, height, width, batch)
    if plan.detail is None:
        return base
    out_w, out_h = plan.size
    return max(base, out_w * out_h * plan.detail.bytes_per_pixel + FIXED_BYTES)


def ensure_plan_fits(model: DiffusionModel, plan: GenerationPlan, device: torch.device | str):
    """Raise `NotEnoughMemoryError` (a plain sentence, with the largest size that fits) when
    `plan` would need more memory than `device` has free."""
    if plan.detail is None:
        width, height = plan.base_size
        batch = min(plan.request.batch, plan.request.count)
        return ensure_fits(model, height, width, batch, device)
    need, have = estimate_plan_bytes(model, plan), available_bytes(device)
    if need <= have:
        return None
    width, height = plan.size
    fits = max(0, (have - FIXED_BYTES) // plan.detail.bytes_per_pixel)
    raise NotEnoughMemoryError(
        f"A {width}×{height} image needs about {describe_bytes(need)} of memory; "
        f"{_where(device)} {describe_bytes(have)} free. The largest that fits is about "
        f"{_megapixels(fits)} (a pixel cap of {fits:,}); choose a smaller size or cap."
    )


def _where(device: torch.device | str) -> str:
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    return "the GPU has" if kind == "cuda" else "this computer has"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} megapixels" if pixels >= 100_000 else f"{pixels:,} pixels"


def describe_bytes(count: int) -> str:
    """'640 MB', '3.4 GB', '12 GB' (powers of 1024, as memory is sold)."""
    gigabytes = count / 2**30
    if gigabytes >= 10:
        return f"{math.floor(gigabytes + 0.5)} GB"
    if gigabytes >= 1:
        return f"{gigabytes:.1f} GB"
    return f"{max(1, round(count / 2**20))} MB"
