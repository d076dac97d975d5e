"""The SinDDM denoiser: a small fully convolutional ε-predictor conditioned on (t, s).

See docs/method.md §3 and the paper's Fig. 4.

At the default width (dim = 160) it has 1,106,772 parameters and a 33×33 receptive field (the
paper says 35×35; the reference's own code measures 33). There is no normalisation, attention or
resampling, so it runs on any image size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EMBED_DIM = 32


def sinusoidal_embedding(index: torch.Tensor, dim: int = EMBED_DIM) -> torch.Tensor:
    """Transformer-style embedding of integer indices: (B,) -> (B, dim) as [sin(i·f_k), cos(i·f_k)].

    f_k = exp(−k·ln(10000)/(dim/2 − 1)) for k = 0 .. dim/2 − 1.
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000) * torch.arange(half, device=index.device, dtype=torch.float32) / (half - 1)
    )
    angles = index.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ConditionedBlock(nn.Module):
    """B(Cin→Cout): depthwise 5×5, additive (t, s) bias, 3×3 → GELU → 3×3, plus a residual."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int = EMBED_DIM):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 5, padding=2, groups=in_channels)
        self.cond_mlp = nn.Sequential(nn.GELU(), nn.Linear(cond_dim, cond_dim))
        # A 1×1 conv applied to the conditioning seen as a 1×1 map, i.e. a linear map to Cin.
        self.cond_proj = nn.Conv2d(cond_dim, in_channels, 1)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.residual = (
            nn.Conv2d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, Cin, H, W); cond: (B or 1, 32). Returns (B, Cout, H, W)."""
        bias = self.cond_proj(self.cond_mlp(cond)[:, :, None, None])
        h = self.depthwise(x) + bias  # purely additive injection, no scale/shift
        return self.body(h) + self.residual(x)


class SinDDMNet(nn.Module):
    """ε_θ(x_t, t, s): B(3→d/2), B(d/2→d), B(d→d), B(d→d/2), 1×1 conv d/2→3."""

    def __init__(self, dim: int = 160):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"network width must be an even number ≥ 2, got {dim}")
        half = dim // 2
        self.dim = dim
        self.cond_mlp = nn.Sequential(
            nn.Linear(2 * EMBED_DIM, 4 * EMBED_DIM), nn.GELU(), nn.Linear(4 * EMBED_DIM, EMBED_DIM)
        )
        self.blocks = nn.ModuleList(
            [
                ConditionedBlock(3, half),
                ConditionedBlock(half, dim),
                ConditionedBlock(dim, dim),
                ConditionedBlock(dim, half),
            ]
        )
        self.out = nn.Conv2d(half, 3, 1)

    def conditioning(self, t: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """t, scale: (B,) integer tensors -> (B, 32) conditioning vectors."""
        return self.cond_mlp(torch.cat([sinusoidal_embedding(t), sinusoidal_embedding(scale)], -1))

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, scale: torch.Tensor | int
    ) -> torch.Tensor:
        """x: (B, 3, H, W) noisy image; t: (B,) or int in 0..T-1; scale: int or (B,). Returns ε̂."""
        t_vec, scale_vec = torch.broadcast_tensors(_as_index(t, x), _as_index(scale, x))
        cond = self.conditioning(t_vec, scale_vec)  # (B or 1, 32); a batch of 1 broadcasts
        h = x
        for block in self.blocks:
            h = block(h, cond)
        return self.out(h)


def _as_index(value: torch.Tensor | int, x: torch.Tensor) -> torch.Tensor:
    """An int or a 0-d/1-d tensor as a 1-d integer tensor on x's device."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).to(device=x.device)
    return torch.full((1,), int(value), device=x.device, dtype=torch.long)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
