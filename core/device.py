"""Choosing the compute device: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

import torch

from core.errors import DeviceUnavailableError


def available_devices() -> list[str]:
    """The device choices on this machine, 'auto' first: what `resolve_device` accepts here."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(choice: str = "auto") -> torch.device:
    """Turn 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps' into an available torch.device."""
    choice = (choice or "auto").lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                "CUDA was requested but no NVIDIA GPU is usable here; use --device cpu or auto."
            )
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"{choice} was requested but only {torch.cuda.device_count()} GPU(s) exist."
            )
        return device
    if choice == "mps":
        if not _mps_available():
            raise DeviceUnavailableError("MPS (Apple GPU) was requested but is not available here.")
        return torch.device("mps")
    raise DeviceUnavailableError(f"Unknown device '{choice}'; choose auto, cpu, cuda or mps.")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded generator that draws directly on `device` (CPU generator where unsupported)."""
    try:
        generator = torch.Generator(device=device)
    except RuntimeError:
        generator = torch.Generator()
    return generator.manual_seed(seed)


def randn(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal noise drawn with `generator`, returned on `device`."""
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def bf16_supported(device: torch.device | str) -> bool:
    """Whether bfloat16 autocast is fast here: a CUDA GPU with bf16 units, or a CPU whose oneDNN
    has native bf16 kernels (AVX512-BF16 or AMX). Elsewhere bf16 would be emulated, slower than
    fp32, so callers fall back to fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_FREED_BYTES = 1 << 30


def keep_freed_cpu_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the system.

    A CPU training step frees and reallocates the same large activation buffers every step. By
    default glibc serves blocks above its mmap threshold with fresh mappings and gives them back
    on free, so every step pays page faults to zero them again (seen as high system time).
    Raising the mmap and trim thresholds to 1 GiB keeps those pages in the heap; the price is
    that the process keeps its peak memory until it exits. `benchmarks/bench_allocator.py`
    measures the gain. Returns False where this is not glibc (macOS, Windows, musl): a no-op.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
        mmap = libc.mallopt(M_MMAP_THRESHOLD, KEEP_FREED_BYTES)
    except (OSError, AttributeError):
        return False
    return bool(trim and mmap)
