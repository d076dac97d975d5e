"""Instant: a training-free denoiser built from the photo's own patches (docs/method.md §9).

The prior is taken literally: every k×k patch of a clean image at scale s is one of the training
image's patches at that scale. The posterior mean of a noisy patch q of x_t then has a closed
form (Kamb & Ganguli, ICML 2025; Qiu, Kutulakos & Lindell, CVPR 2026):

    m_i = γ·p̃_i + (1 − γ)·p_i                                   (the forward process' mixture)
    w_i ∝ exp(−‖q − sqrt(ᾱ_t)·m_i‖² / (2(1 − ᾱ_t))) · π(i)      (softmax over all patches i)
    E[m-patch | q] = Σ_i w_i·m_i

π is an optional prior on where a patch may go (its position against the pixel's, as
fractions of the image). To be affordable on a CPU, distances are taken in principal
components, and above the coarsest scale each pixel weighs only a few candidates, found from
x̃ and refined step by step as PatchMatch does (core/denoisers/patch_search.py).

Each pixel takes the centre of its own patch's estimate ("centre", the ELS form) or the mean of
the estimates of every patch that covers it ("mean"). Queries and training patches are both
zero-padded at the borders, as the trained network's convolutions see the image: that is what
tells the denoiser where the image's edges are, and so where sky and ground go.

`InstantModel` is a `DiffusionModel`: the sampler, guidance, editing and `sinddm eval` use it
exactly as they use a trained network.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.config import ModelConfig
from core.denoisers.patch_search import (
    PATCH_EXCLUDED,
    AllowedPatches,
    NeighbourIndex,
    PatchSpace,
    propagate_candidates,
    upscale_candidates,
)
from core.denoisers.posterior import PositionPrior, posterior_mean, refine_and_average
from core.denoisers.protocol import PyramidDenoiser
from core.errors import ConfigError
from core.method.canvas import PriorLayout
from core.method.pyramid import Pyramid, build_pyramid
from core.method.schedule import DiffusionSchedule, schedule_for
from core.method.tensors import image_to_tensor
from core.requests import DenoiserKind, SamplingOptions

Aggregation = Literal["centre", "mean"]
INSTANT_SAMPLING = SamplingOptions(fine_stride=2, coarse_stride=4)
INSTANT_BYTES_PER_PIXEL = 6_000
"""Sampling memory per pixel: the candidates, patches and fragmented heap (measured up to
5.9 kB, core/generation/memory.py)."""
TRAINING_CANDIDATES = 16
"""Candidates per pixel of the distillation target (training_mixture): twice the sampler's 8,
as nothing refines them from step to step; the best 8 of them are weighed."""


@dataclass(frozen=True)
class InstantSettings:
    """How the closed-form denoiser reads the photo (docs/method.md §9).

    `patch_sizes[s]` is k at scale s (odd); scales past the list use its last value. Scales
    below `exact_scales` weigh every training patch (exact). The finer ones weigh only
    `candidates` patches per pixel: the nearest, among the training image's blurry patches,
    to the canvas' blurry patch x̃ (found once per scale with an approximate index that
    searches `probes` of its lists). Distances are taken in the `components` leading principal
    components of the patches (0: all of them). `position_sigma` > 0 adds a prior on where a
    patch may go at the exact scales: a Gaussian in the distance between the canvas position
    and the training position (both as fractions of their image's height and width), so
    that sky stays near the top however the noise falls (docs/method.md §9).
    """

    patch_sizes: tuple[int, ...] = (15, 7, 5)
    aggregation: Aggregation = "centre"
    exact_scales: int = 1
    candidates: int = 8
    components: int = 16
    probes: int = 4
    position_sigma: float = 0.12

    def __post_init__(self) -> None:
        if not self.patch_sizes or any(k < 1 or k % 2 == 0 for k in self.patch_sizes):
            raise ConfigError(f"Patch sizes must be odd and positive, not {self.patch_sizes}.")
        if self.aggregation not in ("centre", "mean"):
            raise ConfigError(f"Unknown aggregation '{self.aggregation}'.")
        if self.exact_scales < 0 or self.candidates < 1 or self.components < 0:
            raise ConfigError("exact_scales ≥ 0, candidates ≥ 1 and components ≥ 0, please.")
        if self.position_sigma < 0:
            raise ConfigError(
                f"position_sigma must be 0 (off) or positive, not {self.position_sigma}."
            )
        if self.probes < 1:
            raise ConfigError(f"probes must be at least 1, not {self.probes}.")

    def patch_size(self, scale: int) -> int:
        return self.patch_sizes[min(scale, len(self.patch_sizes) - 1)]

    def to_dict(self) -> dict:
        """Plain values (a list for the patch sizes), as a model file keeps them."""
        return {**asdict(self), "patch_sizes": list(self.patch_sizes)}

    @classmethod
    def from_dict(cls, data: dict) -> InstantSettings:
        """The settings a model file kept (fields it lacks take today's defaults)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "patch_sizes" in values:
            values["patch_sizes"] = tuple(values["patch_sizes"])
        return cls(**values)


@dataclass
class _ScalePatches:
    """One scale's training patches, zero-padded: (N, 3k²) for the sharp and blurry images;
    at the candidate scales also their principal components and the index over the blurry
    ones (built on first use)."""

    size: int
    sharp: torch.Tensor
    blurry: torch.Tensor
    space: PatchSpace
    sharp_centres: torch.Tensor
    """(N, 3): each patch's centre pixel, what the "centre" aggregation averages."""
    blurry_centres: torch.Tensor
    indexes: dict[str, NeighbourIndex] = field(default_factory=dict)
    """'blurry' and 'sharp': searched with x̃ when the sampler gives it, else with x_t."""
    training_pool: torch.Tensor | None = None
    """(N, TRAINING_CANDIDATES): each training pixel's candidates (Instant.training_mixture)."""
    allowed: AllowedPatches | None = None
    """The patches that may be used (heal excludes some); None: all of them."""

    @property
    def kept(self) -> torch.Tensor | None:
        """The allowed patches' indices (the exact scales weigh only them); None: all."""
        return None if self.allowed is None else self.allowed.kept


@dataclass
class _Candidates:
    """Each pixel's candidates (B, H, W, K) at one scale, kept and refined from step to step
    while the sampler stays on that scale with the same x̃ (`evidence`; None without one) and
    the noise keeps falling (`alpha_bar` rising): a new run never inherits an old run's."""

    scale: int
    evidence: torch.Tensor | None
    indices: torch.Tensor
    alpha_bar: float
    refinements: int = 0

    def continues(
        self, scale: int, evidence: torch.Tensor | None, shape: tuple, alpha_bar: float
    ) -> bool:
        return (
            self.scale == scale
            and self.evidence is evidence
            and tuple(self.indices.shape[:3]) == shape
            and alpha_bar > self.alpha_bar
        )

    def follows(self, scale: int, batch: int) -> bool:
        """Whether these are the same run's candidates from the scale just below `scale`."""
        return self.scale == scale - 1 and self.indices.shape[0] == batch


def patches_of(image: torch.Tensor, size: int) -> torch.Tensor:
    """All k×k patches of a (B, 3, H, W) image, zero-padded so there is one per pixel:
    (B, H·W, 3k²), channel-major within a patch, rows in raster order."""
    columns = F.unfold(image, kernel_size=size, padding=size // 2)
    return columns.transpose(1, 2)


class InstantModel(PyramidDenoiser):
    """A `DiffusionModel` whose denoiser is the closed-form posterior mean over the photo's
    patches at each scale; nothing is trained (`steps_trained` is 0)."""

    def __init__(
        self,
        pyramid: Pyramid,
        schedule: DiffusionSchedule,
        config: ModelConfig,
        settings: InstantSettings | None = None,
        device: torch.device | str = "cpu",
        excluded: Sequence[np.ndarray] | None = None,
    ):
        """`excluded[s]` (H_s×W_s, per scale) says which training patches may be used
        (patch_search.AllowedPatches; heal excludes those that read the pixels to fill,
        docs/method.md §13)."""
        self.pyramid = pyramid
        self.schedule = schedule
        self.config = config
        self.settings = settings or InstantSettings()
        self.steps_trained = 0
        self.layout = PriorLayout()
        self._device = torch.device(device)
        self._excluded = list(excluded) if excluded is not None else None
        self._scales = [self._scale_patches(s) for s in range(pyramid.num_scales)]
        self._candidates: _Candidates | None = None
        self._priors: dict[tuple[int, int, int], PositionPrior] = {}

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

    def with_layout(self, layout: PriorLayout) -> InstantModel:
        """The same denoiser (sharing its patches) with the position prior laid out by
        `layout` (core.method.canvas: where the photo lies on the canvas, which axes wrap)."""
        laid_out = copy.copy(self)
        laid_out.layout = layout
        laid_out._candidates = None
        laid_out._priors = {}
        return laid_out

    # --------------------------------------------------------------- DiffusionModel interface

    @property
    def kind(self) -> DenoiserKind:
        return "instant"

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def parameters(self) -> int:
        return 0

    @property
    def default_sampling(self) -> SamplingOptions:
        """Every 4th step at the coarsest scale and every 2nd at the finer ones: the closed form
        needs no more (docs/benchmarks.md measures what the strides change)."""
        return INSTANT_SAMPLING

    @property
    def bytes_per_pixel(self) -> int:
        """INSTANT_BYTES_PER_PIXEL, plus the patch estimates and their fold under "mean"."""
        extra = 0
        if self.settings.aggregation == "mean":
            size = self.settings.patch_size(self.num_scales - 1)
            extra = 2 * 4 * 3 * size * size  # (B·H·W, 3k²) float32 estimates, and their fold
        return INSTANT_BYTES_PER_PIXEL + extra

    def to(self, device: torch.device | str) -> InstantModel:
        if torch.device(device) != self._device:
            self._device = torch.device(device)
            self._scales = [self._scale_patches(s) for s in range(self.pyramid.num_scales)]
            self._candidates = None
            self._priors.clear()
        return self

    def start_run(self) -> None:
        """A new sampling run begins: no candidates carry over from an earlier one."""
        self._candidates = None

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
        mixed = self.predict_mixture(x_t.float(), alpha_bar, scale, gamma, blurry)
        return (x_t.float() - math.sqrt(alpha_bar) * mixed) / math.sqrt(1 - alpha_bar)

    # ------------------------------------------------------------------------ closed form

    def predict_mixture(
        self,
        x_t: torch.Tensor,
        alpha_bar: float,
        scale: int,
        gamma: float = 0.0,
        blurry: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """E[γ·x̃ + (1 − γ)·x | x_t] at `scale`: (B, 3, H, W) in about [-1, 1]. Exact below
        `settings.exact_scales`; above, over each pixel's candidates, found from `blurry`
        (x̃, (B, 3, H, W)) when given, else from x_t itself."""
        pool = None
        if scale >= self.settings.exact_scales:
            pool = self._candidate_pool(scale, x_t, blurry, alpha_bar)
        estimate, kept = self._closed_form(x_t, alpha_bar, scale, gamma, pool)
        if kept is not None:
            self._keep_candidates(kept.reshape(*x_t.shape[:1], *x_t.shape[2:], -1))
        return estimate

    def training_mixture(
        self, x_t: torch.Tensor, alpha_bar: float, scale: int, gamma: float
    ) -> torch.Tensor:
        """E[γ·x̃ + (1 − γ)·x | x_t] where x_t (B, 3, H, W) noises the training image of `scale`
        itself (H, W its size): the distillation target (docs/method.md §10). Above the exact
        scales, each pixel weighs the TRAINING_CANDIDATES patches whose blurry version is
        nearest to its own (found once per scale, as x̃ is always the training image's), so no
        state carries over from call to call. Returns (B, 3, H, W)."""
        width, height = self.sizes[scale]
        if tuple(x_t.shape[-2:]) != (height, width):
            raise ValueError(f"x_t is {tuple(x_t.shape[-2:])}, scale {scale} is {(height, width)}")
        pool = None
        if scale >= self.settings.exact_scales:
            pool = self._training_pool(scale).repeat(x_t.shape[0], 1)
        return self._closed_form(x_t.float(), alpha_bar, scale, gamma, pool)[0]

    def _closed_form(
        self,
        x_t: torch.Tensor,
        alpha_bar: float,
        scale: int,
        gamma: float,
        pool: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The estimate (B, 3, H, W) over every patch (pool None: the exact scales, with the
        position prior) or over each pixel's (B·H·W, P) pool, and then also the candidates it
        kept (B·H·W, K)."""
        patches = self._scales[scale]
        batch, _, height, width = x_t.shape
        space = patches.space
        projected = space.project_image(x_t, patches.size, math.sqrt(alpha_bar))
        keys = gamma * space.blurry + (1 - gamma) * space.sharp
        if self._centre:  # only the centre pixels are needed: (N, 3), not (N, 3k²)
            values = gamma * patches.blurry_centres + (1 - gamma) * patches.sharp_centres
        else:
            values = gamma * patches.blurry + (1 - gamma) * patches.sharp
        kept = None
        if pool is None:
            prior = self._position_prior(scale, height, width)
            if patches.kept is not None:  # heal: only the patches that read no unknown pixel
                keys, values = keys[patches.kept], values[patches.kept]
            estimate = posterior_mean(projected, keys, values, alpha_bar, prior)
        else:
            count = self.settings.candidates
            estimate, kept = refine_and_average(projected, keys, values, pool, alpha_bar, count)
        if self._centre:
            return estimate.reshape(batch, height, width, 3).permute(0, 3, 1, 2), kept
        estimate = estimate.reshape(batch, height * width, -1)
        return _fold_mean(estimate, height, width, patches.size), kept

    def _training_pool(self, scale: int) -> torch.Tensor:
        """(H·W, TRAINING_CANDIDATES) for the training image of `scale`: each pixel's nearest
        patches by their blurry versions (made once)."""
        patches = self._scales[scale]
        if patches.training_pool is None:
            blurry = image_to_tensor(self.pyramid.blurry[scale], self._device)
            patches.training_pool = self._search(scale, blurry, "blurry", TRAINING_CANDIDATES)
        return patches.training_pool

    @property
    def _centre(self) -> bool:
        return self.settings.aggregation == "centre"

    def _candidate_pool(
        self, scale: int, x_t: torch.Tensor, blurry: torch.Tensor | None, alpha_bar: float
    ) -> torch.Tensor:
        """(B·H·W, P) candidates to weigh at this step: each pixel's from the previous step, its
        neighbours' shifted, and a few at random (patch_search.propagate_candidates). Keeping
        the best of them step after step converges on the patches nearest to the noisy query,
        which dominate the posterior at low noise.

        On entering a scale, the previous step's are the coarser scale's last ones carried up
        (patch_search.upscale_candidates) when this run just left it, else the patches nearest
        to x̃ (or to x_t/sqrt(ᾱ) without one) from an index. Carrying them up made 16 samples
        1.2× faster than searching, with the same quality on four images (docs/quality.md)."""
        batch, _, height, width = x_t.shape
        state = self._candidates
        shape = (batch, height, width)
        if state is None or not state.continues(scale, blurry, shape, alpha_bar):
            if state is not None and state.follows(scale, batch):
                indices = upscale_candidates(
                    state.indices, self.sizes[scale - 1], (height, width), self.sizes[scale]
                )
                indices = self._allowed(scale, indices)  # the pool's random ones are allowed
            elif blurry is not None:
                indices = self._search(scale, blurry, "blurry").reshape(*shape, -1)
            else:
                evidence = x_t / math.sqrt(alpha_bar)
                indices = self._search(scale, evidence, "sharp").reshape(*shape, -1)
            state = self._candidates = _Candidates(scale, blurry, indices, alpha_bar)
        state.alpha_bar = alpha_bar
        generator = torch.Generator().manual_seed(1009 * scale + state.refinements)
        allowed = self._scales[scale].allowed
        pool = propagate_candidates(state.indices, self.sizes[scale], generator, allowed=allowed)
        return pool.flatten(0, 2)

    def _allowed(self, scale: int, indices: torch.Tensor) -> torch.Tensor:
        """`indices` with every excluded patch dropped (made "none")."""
        allowed = self._scales[scale].allowed
        return indices if allowed is None else allowed.filter(indices)

    def _keep_candidates(self, kept: torch.Tensor) -> None:
        """Remember this step's best candidates (B, H, W, K) for the next step."""
        assert self._candidates is not None
        self._candidates.indices = kept
        self._candidates.refinements += 1

    def _search(
        self, scale: int, evidence: torch.Tensor, kind: str, count: int | None = None
    ) -> torch.Tensor:
        """(B·H·W, K) training-patch indices whose `kind` ('blurry' or 'sharp') patch is
        nearest to each pixel's patch of `evidence` (B, 3, H, W); N (the number of patches)
        where none was found. K is `count`, by default `settings.candidates`."""
        patches = self._scales[scale]
        space = patches.space
        allowed = patches.allowed
        if kind not in patches.indexes:
            keys = space.blurry if kind == "blurry" else space.sharp
            probes = self.settings.probes
            patches.indexes[kind] = (
                NeighbourIndex(keys, probes) if allowed is None else allowed.index(keys, probes)
            )
        queries = space.project_image(evidence.float(), patches.size)
        index, count = patches.indexes[kind], count or self.settings.candidates
        if allowed is None:
            return index.search(queries, count)
        return allowed.search(index, queries, count)

    def _position_prior(self, scale: int, height: int, width: int) -> PositionPrior | None:
        """The position prior for an H×W canvas at `scale`, made once per canvas size."""
        sigma = self.settings.position_sigma
        if sigma <= 0:
            return None
        key = (scale, height, width)
        if key not in self._priors:
            train_w, train_h = self.sizes[scale]
            kept = self._scales[scale].kept
            self._priors[key] = PositionPrior(
                (height, width), (train_h, train_w), sigma, self._device, self.layout, kept
            )
        return self._priors[key]

    def _scale_patches(self, scale: int) -> _ScalePatches:
        size = self.settings.patch_size(scale)
        sharp = patches_of(image_to_tensor(self.pyramid.sharp[scale], self._device), size)[0]
        blurry = patches_of(image_to_tensor(self.pyramid.blurry[scale], self._device), size)[0]
        space = PatchSpace(sharp, blurry, self.settings.components)
        centres = _centres(sharp, size), _centres(blurry, size)
        patches = _ScalePatches(size, sharp, blurry, space, *centres)
        if self._excluded is not None:
            patches.allowed = _allowed_patches(self._excluded[scale], self._device)
        return patches


def _allowed_patches(use: np.ndarray, device: torch.device) -> AllowedPatches:
    if (use == PATCH_EXCLUDED).all():
        raise ConfigError(
            "The mask leaves too little of the photo to fill from: mark a smaller area."
        )
    return AllowedPatches(use, device)


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
