"""Noise schedule ᾱ, the per-scale start steps T[s] and the blur-mix schedule γ.

See docs/method.md §2 and the paper's eq. (1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from core.config import ModelConfig
    from core.method.pyramid import Pyramid

SAMPLING_GAMMA_CLAMP = 0.55
"""Sampling uses min(γ, 0.55) so that the deblurring division by (1 − γ) stays tame
(docs/method.md §2)."""


def cosine_betas(
    timesteps: int = 100, offset: float = 0.008, max_beta: float = 0.999
) -> torch.Tensor:
    """β_k = 1 − f(k+1)/f(k), f(k) = cos(((k/T) + s)/(1 + s) · π/2)², clipped (Nichol & Dhariwal).

    Returns a float64 tensor of shape (T,).
    """
    k = torch.arange(timesteps + 1, dtype=torch.float64)
    f = torch.cos(((k / timesteps) + offset) / (1 + offset) * math.pi / 2) ** 2
    return torch.clamp(1 - f[1:] / f[:-1], max=max_beta)


@dataclass(frozen=True)
class DiffusionSchedule:
    """All per-timestep constants, float64 on the CPU; index t in 0..T-1.

    `gamma` has shape (N, T) with row 0 all zeros (no mixing at the coarsest scale); it is the
    unclamped training γ. `start_steps` is T[s] with T[0] = T.
    """

    betas: torch.Tensor
    alpha_bar: torch.Tensor
    gamma: torch.Tensor
    start_steps: tuple[int, ...]

    @property
    def timesteps(self) -> int:
        return self.betas.shape[0]

    def alpha_bar_prev(self, t: int) -> float:
        """ᾱ_{t−1}, with ᾱ_{−1} = 1."""
        return 1.0 if t == 0 else float(self.alpha_bar[t - 1])

    def sampling_gamma(self, scale: int, t: int) -> float:
        """γ used while sampling: min(γ_s[t], 0.55); 0 for t < 0."""
        if t < 0:
            return 0.0
        return min(float(self.gamma[scale, t]), SAMPLING_GAMMA_CLAMP)


def noise_to_signal(alpha_bar: torch.Tensor) -> torch.Tensor:
    """σ_t = sqrt((1 − ᾱ_t)/ᾱ_t)."""
    return torch.sqrt((1 - alpha_bar) / alpha_bar)


def start_step(sigma: torch.Tensor, rescale_loss: float, loss_factor: float = 1.0) -> int:
    """T[s] = first t with σ_t > λ_L·L_s, or 0 if none (docs/method.md §2; paper §3.2, "∝ MSE")."""
    above = sigma > loss_factor * rescale_loss
    return int(torch.argmax(above.to(torch.int64))) if bool(above.any()) else 0


def make_schedule(
    rescale_losses: tuple[float, ...] | list[float], timesteps: int = 100, loss_factor: float = 1.0
) -> DiffusionSchedule:
    """Build the schedule for a pyramid whose per-scale rescale losses are given (L_0 unused)."""
    betas = cosine_betas(timesteps)
    alpha_bar = torch.cumprod(1 - betas, dim=0)
    sigma = noise_to_signal(alpha_bar)
    num_scales = len(rescale_losses)
    gamma = torch.zeros(num_scales, timesteps, dtype=torch.float64)
    starts = [timesteps]
    for s in range(1, num_scales):
        scaled_loss = loss_factor * rescale_losses[s]
        # γ_s[t] = clip(σ_t / (λ_L·L_s), 0, 1): reaches 1 at about t = T[s] (docs/method.md §2).
        gamma[s] = torch.clamp(sigma / scaled_loss, 0.0, 1.0)
        starts.append(start_step(sigma, rescale_losses[s], loss_factor))
    return DiffusionSchedule(betas, alpha_bar, gamma, tuple(starts))


def schedule_for(pyramid: Pyramid, config: ModelConfig) -> DiffusionSchedule:
    """The schedule of a model with `config` on `pyramid` (its rescale losses set T[s] and γ)."""
    return make_schedule(pyramid.rescale_losses, config.timesteps, config.loss_factor)
