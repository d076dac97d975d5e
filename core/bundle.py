"""`SinDDMModel`: everything sampling needs, ready on a device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.config import ModelConfig
from core.model import SinDDMNet
from core.pyramid import Pyramid
from core.schedule import DiffusionSchedule, make_schedule


@dataclass
class SinDDMModel:
    """A trained denoiser (its EMA weights, in eval mode) with its pyramid and schedule."""

    net: SinDDMNet
    pyramid: Pyramid
    schedule: DiffusionSchedule
    config: ModelConfig
    steps_trained: int = 0

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def num_scales(self) -> int:
        return self.pyramid.num_scales

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """(W, H) of every training scale, coarsest first."""
        return self.pyramid.sizes


def schedule_for(pyramid: Pyramid, config: ModelConfig) -> DiffusionSchedule:
    return make_schedule(pyramid.rescale_losses, config.timesteps, config.loss_factor)


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 -> (1, 3, H, W) float32 in [-1, 1] (the reference's ToTensor then 2x − 1)."""
    tensor = torch.tensor(image).permute(2, 0, 1).float() / 255.0  # copies: may be read-only
    return (tensor * 2 - 1).unsqueeze(0).to(device)


def tensor_to_images(batch: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> list of H×W×3 uint8 arrays (the reference's (x + 1)/2)."""
    scaled = ((batch.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [img.permute(1, 2, 0).cpu().numpy() for img in scaled]
