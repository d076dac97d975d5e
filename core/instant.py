"""Instant: a training-free denoiser built from the photo's own patches (docs/method.md §9).

The prior is taken literally: every k×k patch of a clean image at scale s is one of the training
image's patches at that scale. The posterior mean of a noisy patch q of x_t then has a closed
form (Kamb & Ganguli, ICML 2025; Qiu, Kutulakos & Lindell, CVPR 2026):

    m_i = γ·p̃_i + (1 − γ)·p_i                                   (the forward process' mixture)
    w_i ∝ exp(−‖q − sqrt(ᾱ_t)·m_i‖² / (2(1 − ᾱ_t)))             (softmax over all patches i)
    E[m-patch | q] = Σ_i w_i·m_i

Each pixel takes the centre of its own patch's estimate ("centre", the ELS form) or the mean of
the estimates of every patch that covers it ("mean"). Queries and training patches are both
zero-padded at the borders, as the trained network's convolutions see the image: that is what
tells the denoiser where the image's edges are, and so where sky and ground go.

`InstantModel` is a `DiffusionModel`: the sampler, guidance, editing and `sinddm eval` use it
exactly as they use a trained network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from PIL import Image

from core.bundle import image_to_tensor, schedule_for
from core.config import ModelConfig
from core.errors import ConfigError
from core.pyramid import Pyramid, build_pyramid
from core.schedule import DiffusionSchedule

Aggregation = Literal["centre", "mean"]
QUERY_CHUNK_ELEMENTS = 2**24
"""Queries are scored in chunks of at most this many (query, patch) pairs (64 MiB of float32)."""


@dataclass(frozen=True)
class InstantSettings:
    """How the closed-form denoiser reads the photo (docs/method.md §9).

    `patch_sizes[s]` is k at scale s (odd); scales past the list use its last value.
    """

    patch_sizes: tuple[int, ...] = (15, 11, 7)
    aggregation: Aggregation = "centre"

    def __post_init__(self) -> None:
        if not self.patch_sizes or any(k < 1 or k % 2 == 0 for k in self.patch_sizes):
            raise ConfigError(f"Patch sizes must be odd and positive, not {self.patch_sizes}.")
        if self.aggregation not in ("centre", "mean"):
            raise ConfigError(f"Unknown aggregation '{self.aggregation}'.")

    def patch_size(self, scale: int) -> int:
        return self.patch_sizes[min(scale, len(self.patch_sizes) - 1)]


@dataclass
class _ScalePatches:
    """One scale's training patches, zero-padded: (N, 3k²) for the sharp and blurry images."""

    size: int
    sharp: torch.Tensor
    blurry: torch.Tensor


def patches_of(image: torch.Tensor, size: int) -> torch.Tensor:
    """All k×k patches of a (B, 3, H, W) image, zero-padded so there is one per pixel:
    (B, H·W, 3k²), channel-major within a patch, rows in raster order."""
    columns = F.unfold(image, kernel_size=size, padding=size // 2)
    return columns.transpose(1, 2)


def posterior_mean(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    alpha_bar: float,
) -> torch.Tensor:
    """Σ_i w_i·values_i with w = softmax_i(−‖q − sqrt(ᾱ)·k_i‖² / (2(1 − ᾱ))) for every query.

    queries (Q, D) are noisy patches, keys (N, D) clean ones, values (N, V) what each clean
    patch contributes (its centre pixel or the whole patch). Returns (Q, V). ‖q‖² is the same
    for every i, so it drops out of the softmax; the work is chunked over queries.
    """
    scale = math.sqrt(alpha_bar) / (1 - alpha_bar)
    key_bias = (-alpha_bar / (2 * (1 - alpha_bar))) * keys.square().sum(dim=1)
    chunk = max(1, QUERY_CHUNK_ELEMENTS // max(1, keys.shape[0]))
    out = []
    for start in range(0, queries.shape[0], chunk):
        logits = torch.addmm(key_bias, queries[start : start + chunk], keys.T, alpha=scale)
        out.append(torch.softmax(logits, dim=1) @ values)
    return torch.cat(out)


class InstantModel:
    """A `DiffusionModel` whose denoiser is the closed-form posterior mean over the photo's
    patches at each scale; nothing is trained (`steps_trained` is 0)."""

    def __init__(
        self,
        pyramid: Pyramid,
        schedule: DiffusionSchedule,
        config: ModelConfig,
        settings: InstantSettings | None = None,
        device: torch.device | str = "cpu",
    ):
        self.pyramid = pyramid
        self.schedule = schedule
        self.config = config
        self.settings = settings or InstantSettings()
        self.steps_trained = 0
        self._device = torch.device(device)
        self._scales = [self._scale_patches(s) for s in range(pyramid.num_scales)]

    @classmethod
    def from_image(
        cls,
        image: Image.Image,
        config: ModelConfig | None = None,
        settings: InstantSettings | None = None,
        device: torch.device | str = "cpu",
    ) -> InstantModel:
        """Build the pyramid and schedule as training would (docs/method.md §1–2)."""
        config = config or ModelConfig()
        pyramid = build_pyramid(image, config.max_pixels, config.scale_factor)
        return cls(pyramid, schedule_for(pyramid, config), config, settings, device)

    # --------------------------------------------------------------- DiffusionModel interface

    @property
    def kind(self) -> str:
        return "instant"

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def num_scales(self) -> int:
        return self.pyramid.num_scales

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        return self.pyramid.sizes

    @property
    def parameters(self) -> int:
        return 0

    def to(self, device: torch.device | str) -> InstantModel:
        self._device = torch.device(device)
        for patches in self._scales:
            patches.sharp = patches.sharp.to(self._device)
            patches.blurry = patches.blurry.to(self._device)
        return self

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        """ε̂ = (x_t − sqrt(ᾱ_t)·m̂) / sqrt(1 − ᾱ_t) with m̂ the closed-form posterior mean of
        the mixture (module docstring). x_t (B, 3, H, W) at any canvas size."""
        alpha_bar = float(self.schedule.alpha_bar[t])
        mixed = self.predict_mixture(x_t.float(), alpha_bar, scale, gamma)
        return (x_t.float() - math.sqrt(alpha_bar) * mixed) / math.sqrt(1 - alpha_bar)

    # ------------------------------------------------------------------------ closed form

    def predict_mixture(
        self, x_t: torch.Tensor, alpha_bar: float, scale: int, gamma: float = 0.0
    ) -> torch.Tensor:
        """E[γ·x̃ + (1 − γ)·x | x_t] at `scale`: (B, 3, H, W) in about [-1, 1]."""
        patches = self._scales[scale]
        keys = gamma * patches.blurry + (1 - gamma) * patches.sharp if gamma else patches.sharp
        batch, _, height, width = x_t.shape
        queries = patches_of(x_t, patches.size).reshape(batch * height * width, -1)
        if self.settings.aggregation == "centre":
            values = _centres(keys, patches.size)
            estimate = posterior_mean(queries, keys, values, alpha_bar)
            return estimate.reshape(batch, height, width, 3).permute(0, 3, 1, 2)
        estimate = posterior_mean(queries, keys, keys, alpha_bar)
        return _fold_mean(estimate.reshape(batch, height * width, -1), height, width, patches.size)

    def _scale_patches(self, scale: int) -> _ScalePatches:
        size = self.settings.patch_size(scale)
        sharp = image_to_tensor(self.pyramid.sharp[scale], self._device)
        blurry = image_to_tensor(self.pyramid.blurry[scale], self._device)
        return _ScalePatches(size, patches_of(sharp, size)[0], patches_of(blurry, size)[0])


def _centres(keys: torch.Tensor, size: int) -> torch.Tensor:
    """The centre pixel (N, 3) of each (N, 3k²) patch (channel-major, raster order)."""
    centre = (size * size) // 2
    return keys[:, centre :: size * size].contiguous()


def _fold_mean(patches: torch.Tensor, height: int, width: int, size: int) -> torch.Tensor:
    """Average the (B, H·W, 3k²) per-pixel patch estimates where they overlap:
    (B, 3, H, W). Zero padding means border pixels are covered by fewer patches."""
    columns = patches.transpose(1, 2)
    total = F.fold(columns, (height, width), kernel_size=size, padding=size // 2)
    ones = torch.ones(1, 1, height, width, device=patches.device, dtype=patches.dtype)
    count_columns = F.unfold(ones, kernel_size=size, padding=size // 2).repeat(1, 3, 1)
    count = F.fold(count_columns, (height, width), kernel_size=size, padding=size // 2)
    return total / count
