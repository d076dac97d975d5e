"""Detail scales: from the model's finest scale up to the photo's own resolution
(docs/method.md §12).

Every model (Instant, a refiner, a trained network) draws the layout on a pyramid of about
50,000 pixels. Above it, a few more scales, each at most `DETAIL_FACTOR` finer than the one
below, carry the photo's detail up to its own resolution (capped at `max_pixels`). Each is a
finer scale of §5 — x̃ is the upsampled scale below, noised once at a small t and denoised in a
few strided DDIM steps of the reblurring update — whose denoiser is Instant's closed form (§9)
over the photo's patches at that size, with each pixel's candidates carried up from the scale
below (PatchMatch's coarse-to-fine start) and refined step by step. Nothing is searched at the
large sizes, so the cost grows with the pixels, and every step runs in bands of rows so that
memory does too.

`DetailModel` is a `DiffusionModel` whose scale 0 is the base model's finest training image and
whose scales 1 … D are the detail scales; `refine` runs its scales 1 … D from finished base
samples. `core.generation.plan` does that for every image of a plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.config import ModelConfig
from core.denoisers.patch_search import (
    INDEX_DTYPE,
    RANDOM_PER_PIXEL,
    AllowedPatches,
    NeighbourIndex,
    principal_components,
    project_image,
    propagate_candidates,
    random_candidates,
    upscale_candidates,
)
from core.denoisers.posterior import candidate_table, refine_with_table
from core.denoisers.protocol import DiffusionModel, PyramidDenoiser
from core.generation.sampling import SampleStep, X0Guidance, detail_run
from core.method.canvas import CanvasRules
from core.method.pyramid import Pyramid
from core.method.schedule import DiffusionSchedule, make_schedule
from core.method.tensors import image_to_tensor
from core.requests import DenoiserKind, SamplingOptions

DETAIL_FACTOR = 2.5
"""At most this much finer, per side, than the scale below."""
DETAIL_PATCH = 5
"""k of the detail scales' patches (docs/method.md §12: chosen for sharpness without copying)."""
DETAIL_COMPONENTS = 12
"""Principal components of the detail scales' patches."""
DETAIL_CANDIDATES = 4
"""Candidates each pixel keeps from step to step at the detail scales."""
DETAIL_START_STEP = 16
"""T of every detail scale: x̃ is noised to this index and denoised from one below it."""
DETAIL_STRIDE = 15
"""t = 15, then 0: two denoiser calls a scale (three, t = 15, 7, 0, looked the same and were
1.5× slower; docs/method.md §12)."""
DETAIL_BYTES_PER_PIXEL = 400
"""The detail scales' memory, per pixel of the finished image: its images and candidates, and
the keys of the photo at that size (measured: benchmarks/bench_fullres.py)."""
BAND_PIXELS = 2**17
"""Pixels of one band of rows: what one step holds at once beyond the canvas' own images."""
PCA_SAMPLES = 20_000
"""Patches drawn (at random, seeded) to fit a detail scale's principal components."""
DETAIL_SEED_OFFSET = 0x5D5D_0000
"""Image i's detail noise is drawn from seed + i + this, apart from its base scales' noise."""


def detail_sizes(base: tuple[int, int], target: tuple[int, int]) -> list[tuple[int, int]]:
    """(W, H) of the detail scales from the base's finest `base` (W, H) up to `target`, finest
    last: the fewest scales that keep every step within DETAIL_FACTOR, in equal ratios.
    Empty when `target` is no larger than `base`."""
    (width, height), (out_w, out_h) = base, target
    if out_w * out_h <= width * height:
        return []
    ratio = max(out_w / width, out_h / height)
    count = max(1, math.ceil(math.log(ratio) / math.log(DETAIL_FACTOR) - 1e-9))
    steps = [d / count for d in range(1, count)]
    sizes = [
        (round(width * (out_w / width) ** f), round(height * (out_h / height) ** f)) for f in steps
    ]
    return [*sizes, (out_w, out_h)]


def detail_pyramid(base: Pyramid, original: np.ndarray, target: tuple[int, int]) -> Pyramid | None:
    """The pyramid of the detail scales: scale 0 is `base`'s finest image, scales 1 … D the
    photo `original` (H×W×3 uint8) Lanczos-resized to detail_sizes up to `target` (W, H), each
    with its blurry x̃ (the scale below, bilinear), as docs/method.md §1 builds a pyramid. None
    when `target` is no larger than the base."""
    photo = Image.fromarray(original)
    sizes = detail_sizes(base.sizes[-1], target)
    if not sizes:
        return None
    sharp = [base.sharp[-1]]
    blurry = [base.sharp[-1]]
    for size in sizes:
        # reducing_gap: a box pre-shrink to twice the size first, 4× faster from a large photo
        # and indistinguishable from a plain Lanczos (Pillow's documentation)
        level = photo.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        below = Image.fromarray(sharp[-1]).resize(size, Image.Resampling.BILINEAR)
        sharp.append(np.asarray(level, dtype=np.uint8))
        blurry.append(np.asarray(below, dtype=np.uint8))
    # §2's loss of these sizes is not used (detail_schedule says why), and at megapixel sizes
    # it would cost a float64 copy of the image: every detail scale records the base's
    losses = [0.0, *[base.rescale_losses[-1]] * len(sizes)]
    return Pyramid(
        sharp=tuple(sharp),
        blurry=tuple(blurry),
        sizes=(base.sizes[-1], *sizes),
        scale_factor=max(w / base.sizes[-1][0] for w, _ in sizes) ** (1 / len(sizes)),
        rescale_losses=tuple(losses),
        source_size=photo.size,
    )


def detail_schedule(base: DiffusionSchedule, base_loss: float, scales: int) -> DiffusionSchedule:
    """The schedule of the detail scales: the base's ᾱ, every detail scale's γ that of the
    base's finest scale (its rescale loss `base_loss`), and T = DETAIL_START_STEP.

    The authors' rescale loss is divided by the pixel count, so at megapixel sizes it would give
    T of 2–6 and a γ that is 1 at once (docs/method.md §12); the detail scales' true blur error
    per pixel is that of the base's finest scale, whose γ they therefore take."""
    schedule = make_schedule([0.0, *[base_loss] * scales], base.timesteps)
    starts = (base.timesteps, *[DETAIL_START_STEP] * scales)
    return replace(schedule, start_steps=starts)


@dataclass
class _Level:
    """One detail scale's training patches in principal components: the k×k patches' mean
    (3k²,) and basis (3k², d), sharp and blurry keys (N, d) and centre pixels (N, 3)."""

    size: tuple[int, int]
    mean: torch.Tensor
    basis: torch.Tensor
    sharp: torch.Tensor
    blurry: torch.Tensor
    sharp_centres: torch.Tensor
    blurry_centres: torch.Tensor
    allowed: AllowedPatches | None = None
    """The patches that may be used (heal excludes some); None: all of them."""

    def allow(self, indices: torch.Tensor) -> torch.Tensor:
        """`indices` with every excluded patch dropped (made "none")."""
        return indices if self.allowed is None else self.allowed.filter(indices)

    @property
    def patch(self) -> int:
        return DETAIL_PATCH

    def project(
        self, image: torch.Tensor, mean_weight: float = 1.0, row_padding: int | None = None
    ) -> torch.Tensor:
        """Every k×k patch of a (B, 3, H, W) image -> (B·H·W, d) (patch_search.project_image)."""
        return project_image(image, self.patch, self.mean, self.basis, mean_weight, row_padding)


def _fit_level(
    sharp: torch.Tensor, blurry: torch.Tensor, size: int, components: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal components (mean (3k²,), basis (3k², d)) of a (1, 3, H, W) pair's zero-padded
    k×k patches, from PCA_SAMPLES of them drawn at random (a megapixel image's patch matrix
    would not fit)."""
    pad = size // 2
    padded = F.pad(torch.cat([sharp, blurry]), (pad, pad, pad, pad))
    _, _, height, width = sharp.shape
    generator = torch.Generator().manual_seed(seed)
    count = min(PCA_SAMPLES, height * width)
    ys = torch.randint(0, height, (count,), generator=generator).to(sharp.device)
    xs = torch.randint(0, width, (count,), generator=generator).to(sharp.device)
    offsets = torch.arange(size, device=sharp.device)
    rows = (ys[:, None] + offsets)[:, :, None]  # (n, k, 1)
    cols = (xs[:, None] + offsets)[:, None, :]  # (n, 1, k)
    patches = padded[:, :, rows, cols]  # (2, 3, n, k, k)
    data = patches.permute(0, 2, 1, 3, 4).reshape(2 * count, -1)  # unfold's channel-major order
    mean, basis = principal_components(data, components, max_rows=data.shape[0])  # all drawn
    assert basis is not None  # DETAIL_COMPONENTS < 3k²
    return mean, basis


class DetailModel(PyramidDenoiser):
    """A `DiffusionModel` of the detail scales (module docstring): scale 0 is the base's finest
    training image (only its candidates are used), scales 1 … D the detail scales."""

    def __init__(
        self,
        pyramid: Pyramid,
        schedule: DiffusionSchedule,
        config: ModelConfig,
        device: torch.device | str = "cpu",
        excluded: Sequence[np.ndarray] | None = None,
    ):
        """`excluded[s]` (H_s×W_s, per scale, 0 the base's finest) says which patches may be
        used (patch_search.AllowedPatches; heal, docs/method.md §13)."""
        self.pyramid = pyramid
        self.schedule = schedule
        self.config = config
        self.steps_trained = 0
        self._device = torch.device(device)
        self._excluded = list(excluded) if excluded is not None else None
        self._levels = [self._level(s) for s in range(pyramid.num_scales)]
        self._candidates: torch.Tensor | None = None
        self._candidate_scale = -1
        self._steps = 0
        self._base_index: NeighbourIndex | None = None

    @classmethod
    def above(
        cls,
        base: Pyramid,
        schedule: DiffusionSchedule,
        config: ModelConfig,
        original: np.ndarray,
        target: tuple[int, int],
        device: torch.device | str = "cpu",
        exclude: Callable[[Sequence[tuple[int, int]], int], list[np.ndarray]] | None = None,
    ) -> DetailModel | None:
        """The detail scales above a base model's `base` pyramid and `schedule`, from the photo
        `original` up to `target` (W, H); None when that is no larger than the base.
        `exclude(sizes, patch)` gives the patches (H×W bool) of each level of `sizes` (W, H,
        the base's finest first) never to be used (heal)."""
        pyramid = detail_pyramid(base, original, target)
        if pyramid is None:
            return None
        detail = detail_schedule(schedule, pyramid.rescale_losses[-1], pyramid.num_scales - 1)
        excluded = None
        if exclude is not None:
            excluded = exclude(pyramid.sizes, DETAIL_PATCH)
        return cls(pyramid, detail, config, device, excluded)

    # --------------------------------------------------------------- DiffusionModel interface

    @property
    def kind(self) -> DenoiserKind:
        return "detail"

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def parameters(self) -> int:
        return 0

    @property
    def default_sampling(self) -> SamplingOptions:
        return SamplingOptions(fine_stride=DETAIL_STRIDE)

    @property
    def bytes_per_pixel(self) -> int:
        return DETAIL_BYTES_PER_PIXEL

    def to(self, device: torch.device | str) -> DetailModel:
        if torch.device(device) != self._device:
            self._device = torch.device(device)
            self._levels = [self._level(s) for s in range(self.num_scales)]
            self.start_run()
        return self

    def start_run(self) -> None:
        self._candidates, self._candidate_scale, self._steps = None, -1, 0

    def begin(self, base: torch.Tensor) -> None:
        """Start a run from finished base samples (B, 3, h, w) in [-1, 1] (any canvas): each
        pixel's candidates are the base training patches nearest to its patch of the sample."""
        self.start_run()
        level = self._levels[0]
        allowed = level.allowed
        if self._base_index is None:
            # a rough start is enough: propagation refines it at every step above
            self._base_index = (
                NeighbourIndex(level.sharp, probes=2)
                if allowed is None
                else allowed.index(level.sharp, probes=2)
            )
        queries = level.project(base.float().to(self._device))
        if allowed is None:
            found = self._base_index.search(queries, DETAIL_CANDIDATES)
        else:
            found = allowed.search(self._base_index, queries, DETAIL_CANDIDATES)
        self._candidates = found.reshape(base.shape[0], *base.shape[2:], -1)
        self._candidate_scale = 0

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        """ε̂ from the closed-form mixture over each pixel's candidates (docs/method.md §9, §12):
        x_t (B, 3, H, W) at detail scale `scale` ≥ 1. Needs `begin` first."""
        alpha_bar = float(self.schedule.alpha_bar[t])
        mixed = self.predict_mixture(x_t.float(), alpha_bar, scale, gamma)
        return (x_t.float() - math.sqrt(alpha_bar) * mixed) / math.sqrt(1 - alpha_bar)

    # ------------------------------------------------------------------------ closed form

    def predict_mixture(
        self, x_t: torch.Tensor, alpha_bar: float, scale: int, gamma: float
    ) -> torch.Tensor:
        """E[γ·x̃ + (1 − γ)·x | x_t] over each pixel's candidates, band by band of rows:
        (B, 3, H, W)."""
        if self._candidates is None or scale < 1:
            raise RuntimeError("DetailModel.begin must be given the base samples first.")
        self._enter(scale, x_t.shape)
        level = self._levels[scale]
        keys = (gamma * level.blurry).add_(level.sharp, alpha=1 - gamma)
        values = gamma * level.blurry_centres + (1 - gamma) * level.sharp_centres
        table, values = candidate_table(keys, values, alpha_bar)
        del keys
        batch, _, height, width = x_t.shape
        pad = level.patch // 2
        padded = F.pad(x_t, (0, 0, pad, pad))  # zero rows above and below: bands read them
        candidates = self._candidates
        assert candidates is not None
        estimate = torch.empty_like(x_t)
        kept = torch.empty_like(candidates)
        rows = max(1, BAND_PIXELS // width)
        # drawn for the whole canvas, so that the bands' size changes nothing
        generator = torch.Generator().manual_seed(7919 * scale + self._steps)
        if level.allowed is None:
            random = random_candidates(height, width, level.sharp.shape[0], generator)
        else:  # heal: only among the allowed patches
            random = level.allowed.random((1, height, width, RANDOM_PER_PIXEL), generator)
        for image in range(batch):
            for top in range(0, height, rows):
                bottom = min(height, top + rows)
                band = padded[image : image + 1, :, top : bottom + 2 * pad]
                queries = self._project_band(level, band, math.sqrt(alpha_bar))
                pool = self._band_pool(candidates[image : image + 1], top, bottom, level, random)
                pool = level.allow(pool)
                found, chosen = refine_with_table(
                    queries, table, values, pool, alpha_bar, DETAIL_CANDIDATES
                )
                estimate[image, :, top:bottom] = found.T.reshape(3, bottom - top, width)
                kept[image, top:bottom] = chosen.reshape(bottom - top, width, -1)
        self._candidates = kept
        self._steps += 1
        return estimate

    def _enter(self, scale: int, shape: torch.Size) -> None:
        """Carry the candidates up when the run moves to a finer scale (patch_search's
        coarse-to-fine start)."""
        if scale == self._candidate_scale:
            return
        if scale != self._candidate_scale + 1:
            raise RuntimeError(f"Detail scale {scale} after {self._candidate_scale}: in order.")
        assert self._candidates is not None
        below = self.sizes[scale - 1]
        upscaled = upscale_candidates(
            self._candidates, below, (shape[2], shape[3]), self.sizes[scale]
        )
        self._candidates = self._levels[scale].allow(upscaled).to(INDEX_DTYPE)
        self._candidate_scale = scale

    @staticmethod
    def _project_band(level: _Level, band: torch.Tensor, mean_weight: float) -> torch.Tensor:
        """Patches of the rows a band covers: `band` (1, 3, rows + 2·pad, W) -> (rows·W, d)."""
        return level.project(band, mean_weight, row_padding=0)

    @staticmethod
    def _band_pool(
        candidates: torch.Tensor, top: int, bottom: int, level: _Level, random: torch.Tensor
    ) -> torch.Tensor:
        """The candidate pool (rows·W, P) of rows top … bottom − 1 of one image's (1, H, W, K)
        candidates: propagated with the rows just above and below, which are then dropped;
        `random` (1, H, W, R) the step's random candidates."""
        height = candidates.shape[1]
        above, below = max(0, top - 1), min(height, bottom + 1)
        unused = torch.Generator()  # the random candidates are given
        pool = propagate_candidates(
            candidates[:, above:below], level.size, unused, random[:, above:below]
        )
        pool = pool[:, top - above : top - above + bottom - top]
        return pool.reshape(-1, pool.shape[-1])

    def _level(self, scale: int) -> _Level:
        sharp = image_to_tensor(self.pyramid.sharp[scale], self._device)
        blurry = image_to_tensor(self.pyramid.blurry[scale], self._device)
        mean, basis = _fit_level(sharp, blurry, DETAIL_PATCH, DETAIL_COMPONENTS, seed=scale)
        level = _Level(self.sizes[scale], mean, basis, *(torch.empty(0),) * 4)
        if self._excluded is not None:
            level.allowed = AllowedPatches(self._excluded[scale], self._device)
        level.sharp = level.project(sharp)
        if scale == 0:  # the base's finest image: only searched by `begin`, never denoised
            return level
        level.blurry = level.project(blurry)
        level.sharp_centres = sharp[0].flatten(1).T.contiguous()
        level.blurry_centres = blurry[0].flatten(1).T.contiguous()
        return level


_cache: list[tuple[tuple, np.ndarray, DetailModel]] = []


def detail_for(
    model: DiffusionModel, photo: np.ndarray, target: tuple[int, int]
) -> DetailModel | None:
    """The detail scales above `model` up to the photo at `target` (W, H), on the model's
    device; None when that is no larger than its finest scale. The last one made is kept (its
    keys take seconds to build and a few hundred MB at 4 megapixels), so that generating again
    with the same model and size starts at once."""
    key = (id(model.pyramid), tuple(target), str(model.device))
    for cached_key, cached_photo, cached in _cache:
        if cached_key == key and cached_photo is photo:
            return cached
    _cache.clear()  # free the old keys before building new ones
    made = DetailModel.above(
        model.pyramid, model.schedule, model.config, photo, target, model.device
    )
    if made is not None:
        _cache.append((key, photo, made))
    return made


def refine(
    model: DetailModel,
    base: torch.Tensor,
    seeds: Sequence[int],
    sizes: Sequence[tuple[int, int]],
    guidance: Sequence[X0Guidance] = (),
    rules: CanvasRules | None = None,
) -> Iterator[SampleStep]:
    """Run the detail scales 1 … D of `model` from finished base samples (B, 3, h, w) in
    [-1, 1]: `sizes` are the (W, H) canvases of scales 1 … D, `seeds` each image's seed (its
    noise comes from seed + DETAIL_SEED_OFFSET); `guidance` (known pixels) sees scales 1 … D
    and `rules` tile or mirror the canvas (core.method.canvas). Yields a `SampleStep` per denoiser
    call; the last one's x0_pred is the result (B, 3, H, W)."""
    # a tile's canvases are padded in proportion (core.method.canvas): so is their start image
    model.begin(rules.pad(base) if rules is not None and rules.wraps else base)
    noise_seeds = [seed + DETAIL_SEED_OFFSET for seed in seeds]
    yield from detail_run(model, base, noise_seeds, list(sizes), DETAIL_STRIDE, guidance, rules)
