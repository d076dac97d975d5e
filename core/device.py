"""Choosing the compute device: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

from typing import Literal

import torch

from core.errors import DeviceUnavailableError

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]


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
