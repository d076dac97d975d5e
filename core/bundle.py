"""The models the sampler draws from: the `DiffusionModel` interface and its trained kind.

Everything outside core that samples or edits goes through `DiffusionModel`: the sampler asks
it for ε̂ and reads its pyramid and schedule, and never needs to know whether a trained network
(`SinDDMModel`) or another denoiser answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from core.config import ModelConfig
from core.model import SinDDMNet
from core.pyramid import Pyramid
from core.requests import PLAIN_SAMPLING, SamplingOptions
from core.schedule import DiffusionSchedule, make_schedule


@runtime_checkable
class DiffusionModel(Protocol):
    """A denoiser for every scale of one image's pyramid, with its schedule (docs/method.md §5).

    `kind` names the denoiser for people ('trained', …); `steps_trained` is 0 for a model that
    was never trained.
    """

    pyramid: Pyramid
    schedule: DiffusionSchedule
    config: ModelConfig
    steps_trained: int

    @property
    def kind(self) -> str: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def num_scales(self) -> int: ...

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]: ...

    @property
    def parameters(self) -> int: ...

    @property
    def default_sampling(self) -> SamplingOptions:
        """The sampling options a request that names none gets."""
        ...

    def to(self, device: torch.device | str) -> DiffusionModel:
        """Move the denoiser to `device` (in place) and return it."""
        ...

    def start_run(self) -> None:
        """The sampler begins a new run (from its coarsest scale or an injection); a denoiser
        that keeps state from step to step within a run drops it here."""
        ...

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        """ε̂ for x_t (B, 3, H, W) at timestep t of `scale`, where x_t noises the mixture
        γ·x̃ + (1 − γ)·x (docs/method.md §5). `blurry` is x̃^s, the upsampled coarser output
        (None at scale 0 and for plain DDPM steps) and `gamma` the mix the sampler assumes at
        this step (0 where there is no x̃, and at an injection). A denoiser may use both as
        evidence. Returns (B, 3, H, W) float32."""
        ...


@dataclass
class SinDDMModel:
    """A trained denoiser (its EMA weights, in eval mode) with its pyramid and schedule."""

    net: SinDDMNet
    pyramid: Pyramid
    schedule: DiffusionSchedule
    config: ModelConfig
    steps_trained: int = 0

    @property
    def kind(self) -> str:
        return "trained"

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    @property
    def default_sampling(self) -> SamplingOptions:
        return PLAIN_SAMPLING

    def to(self, device: torch.device | str) -> SinDDMModel:
        self.net.to(device)
        return self

    def start_run(self) -> None:
        """A network keeps nothing between steps."""

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        """The network's ε̂: it sees only x_t, t and the scale (it learned x̃ and γ)."""
        return self.net(x_t, t, scale).float()

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
