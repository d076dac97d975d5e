"""A trained network that refines Instant instead of replacing it (docs/method.md §11).

On a 2-core CPU a small network trained for minutes loses the photo's layout, while Instant
(docs/method.md §9) keeps the layout but copies pieces of the photo near the end of each scale,
where its posterior collapses onto single patches. A *refiner* is trained only where that
happens — the finer scales' last r·T[s] steps (`ModelConfig.refine` = r) — and sampling there
averages the two estimates of the same posterior mean, in ε form:

    ε̂ = w·ε_θ(x_t, t, s) + (1 − w)·ε*(x_t, t, s)        (w = `ModelConfig.refine_weight`)

ε* is Instant's closed form. Everywhere else (scale 0 and the finer scales' earlier steps)
Instant alone draws, so the layout is Instant's; the network only pulls the last steps away
from verbatim patches. A model file with `refine` > 0 opens as a `RefinedModel`.
"""

from __future__ import annotations

import math

import torch

from core.config import ModelConfig
from core.denoisers.instant import InstantModel, InstantSettings
from core.denoisers.network import SinDDMNet
from core.denoisers.protocol import PyramidDenoiser
from core.denoisers.trained import SinDDMModel
from core.method.pyramid import Pyramid
from core.method.schedule import DiffusionSchedule
from core.requests import DenoiserKind, SamplingOptions


def refined_scales(num_scales: int) -> tuple[int, ...]:
    """The scales a refiner learns: every finer one, or scale 0 when the pyramid has no other."""
    return tuple(range(1, num_scales)) or (0,)


def refined_below(schedule: DiffusionSchedule, scale: int, refine: float) -> int:
    """Timesteps t < this value are the refiner's at `scale`: ceil(r·T[s]), at least 1, so
    that every refined scale has a step to learn even when T[s] is 0."""
    return max(1, math.ceil(refine * schedule.start_steps[scale]))


class RefinedModel(PyramidDenoiser):
    """A `DiffusionModel`: Instant, with a refiner network averaged in over its band.

    Its kind is "refined": a network with a step count, sampled with Instant's strides. Its
    pyramid, schedule and configuration are the network's, which Instant shares.
    """

    def __init__(self, network: SinDDMModel, instant: InstantModel):
        self.network = network
        self.instant = instant
        self.pyramid: Pyramid = network.pyramid
        self.schedule: DiffusionSchedule = network.schedule
        self.config: ModelConfig = network.config
        self.steps_trained: int = network.steps_trained
        refine = network.config.refine
        self._scales = set(refined_scales(network.num_scales))
        self._below = [refined_below(network.schedule, s, refine) for s in range(self.num_scales)]
        self.weight = network.config.refine_weight

    @classmethod
    def around(cls, network: SinDDMModel, settings: InstantSettings | None = None) -> RefinedModel:
        """Instant on the network's own pyramid and schedule, with the settings the network
        was trained against (None: today's defaults, for files that did not keep them)."""
        instant = InstantModel(
            network.pyramid, network.schedule, network.config, settings, device=network.device
        )
        return cls(network, instant)

    # --------------------------------------------------------------- DiffusionModel interface

    @property
    def kind(self) -> DenoiserKind:
        return "refined"

    @property
    def net(self) -> SinDDMNet:
        """The refiner's network (for counting its parameters)."""
        return self.network.net

    @property
    def device(self) -> torch.device:
        return self.network.device

    @property
    def parameters(self) -> int:
        return self.network.parameters

    @property
    def default_sampling(self) -> SamplingOptions:
        """Instant's strides: Instant draws most steps, and the refiner was measured with them."""
        return self.instant.default_sampling

    @property
    def bytes_per_pixel(self) -> int:
        """Both denoisers run at every refined step."""
        return self.network.bytes_per_pixel + self.instant.bytes_per_pixel

    def to(self, device: torch.device | str) -> RefinedModel:
        self.network.to(device)
        self.instant.to(device)
        return self

    def start_run(self) -> None:
        self.instant.start_run()

    def refines(self, t: int, scale: int) -> bool:
        """True where the network takes part: a refined scale and t < ceil(r·T[s])."""
        return scale in self._scales and t < self._below[scale]

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        """Instant's ε*, averaged with the network's ε̂ inside the refiner's band (module
        docstring). x_t (B, 3, H, W); returns the same shape, float32."""
        closed_form = self.instant.predict_eps(x_t, t, scale, blurry, gamma)
        if not self.refines(t, scale):
            return closed_form
        learned = self.network.predict_eps(x_t, t, scale, blurry, gamma)
        return self.weight * learned + (1 - self.weight) * closed_form


def sampling_model(
    network: SinDDMModel, settings: InstantSettings | None = None
) -> SinDDMModel | RefinedModel:
    """What a trained network samples as: itself, or Instant (with `settings`) refined by it
    when its configuration says it is a refiner."""
    if network.config.refine > 0:
        return RefinedModel.around(network, settings)
    return network
