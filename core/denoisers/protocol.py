"""What the sampler draws from: the `DiffusionModel` interface every denoiser implements.

Everything outside core that samples or edits goes through `DiffusionModel`: the sampler asks
it for ε̂ and reads its pyramid and schedule, and never needs to know whether a trained network
(`SinDDMModel`) or another denoiser answers.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from core.config import ModelConfig
from core.method.pyramid import Pyramid
from core.method.schedule import DiffusionSchedule
from core.requests import DenoiserKind, SamplingOptions, fast_sampling


@runtime_checkable
class DiffusionModel(Protocol):
    """A denoiser for every scale of one image's pyramid, with its schedule (docs/method.md §5).

    It describes itself, so nothing outside needs `isinstance`: `kind` (trained, instant or
    refined), the sampling it wants by default and under "Fast", and the memory it needs per
    pixel. `steps_trained` is 0 for a model that was never trained.
    """

    pyramid: Pyramid
    schedule: DiffusionSchedule
    config: ModelConfig
    steps_trained: int

    @property
    def kind(self) -> DenoiserKind: ...

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

    @property
    def fast_sampling(self) -> SamplingOptions:
        """What "Fast sampling" asks of this denoiser (core.requests.fast_sampling)."""
        ...

    @property
    def bytes_per_pixel(self) -> int:
        """Its memory profile: peak working bytes of sampling, per pixel of one image at the
        finest scale (core.generation.memory adds what does not grow with the canvas)."""
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


class PyramidDenoiser:
    """What every denoiser here derives the same way from its pyramid and its kind: the
    sizes of its scales, and Fast sampling (core.requests.fast_sampling). Subclasses give
    `pyramid`, `kind` and `default_sampling`."""

    pyramid: Pyramid

    @property
    def kind(self) -> DenoiserKind:
        raise NotImplementedError

    @property
    def default_sampling(self) -> SamplingOptions:
        raise NotImplementedError

    @property
    def num_scales(self) -> int:
        return self.pyramid.num_scales

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """(W, H) of every scale, coarsest first."""
        return self.pyramid.sizes

    @property
    def fast_sampling(self) -> SamplingOptions:
        return fast_sampling(self.kind, self.default_sampling)
