"""The trained kind of denoiser: SinDDM's network with its pyramid and schedule (paper §3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.config import ModelConfig
from core.denoisers.network import SinDDMNet
from core.denoisers.protocol import PyramidDenoiser
from core.method.pyramid import Pyramid
from core.method.schedule import DiffusionSchedule
from core.requests import PLAIN_SAMPLING, DenoiserKind, SamplingOptions

NETWORK_BYTES_PER_CHANNEL = 28
"""Sampling memory per pixel and channel of the network's width: five float32 maps live (20),
and what glibc keeps of the freed ones (measured: core/generation/memory.py)."""
SAMPLER_BYTES_PER_PIXEL = 450
"""The sampler's own tensors and glibc's kept blocks, per pixel."""


@dataclass
class SinDDMModel(PyramidDenoiser):
    """A trained denoiser (its EMA weights, in eval mode) with its pyramid and schedule."""

    net: SinDDMNet
    pyramid: Pyramid
    schedule: DiffusionSchedule
    config: ModelConfig
    steps_trained: int = 0

    @property
    def kind(self) -> DenoiserKind:
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

    @property
    def bytes_per_pixel(self) -> int:
        return NETWORK_BYTES_PER_CHANNEL * self.config.dim + SAMPLER_BYTES_PER_PIXEL

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
