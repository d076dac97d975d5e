"""Images as the models see them: H×W×3 uint8 arrays to and from (B, 3, H, W) float in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 -> (1, 3, H, W) float32 in [-1, 1] (the reference's ToTensor then 2x − 1)."""
    tensor = torch.tensor(image).permute(2, 0, 1).float() / 255.0  # copies: may be read-only
    return (tensor * 2 - 1).unsqueeze(0).to(device)


def tensor_to_images(batch: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> list of H×W×3 uint8 arrays (the reference's (x + 1)/2)."""
    scaled = ((batch.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [img.permute(1, 2, 0).cpu().numpy() for img in scaled]
