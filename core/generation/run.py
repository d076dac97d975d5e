"""Running a `GenerationPlan` (core.generation.plan): batch by batch, then each image through
its detail scales, yielding progress and the forming image as it goes.

`generate(model, plan)` yields `GenerationStep`s (after every denoiser evaluation: progress and
the batch's x̂₀) and `GeneratedImages` (finished uint8 images, as soon as they are done);
`generate_images` drains it. Image i uses its own generator seeded seed + i, so batching never
changes an image (docs/method.md §5, §12).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.denoisers.protocol import DiffusionModel
from core.generation.detail import refine
from core.generation.plan import GenerationPlan
from core.generation.sampling import X0Guidance, iter_sample
from core.method.tensors import tensor_to_images


@dataclass(frozen=True)
class GenerationStep:
    """One denoiser evaluation of one batch.

    `x0_pred` is the batch's current x̂₀ (B, 3, H, W) in [-1, 1] at `scale`; `index`/`total`
    count evaluations within the batch; `work_done`/`work_total` count pixel-steps over the
    whole request (for progress bars and ETAs). `final` is the batch's last evaluation.
    """

    scale: int
    num_scales: int
    t: int
    index: int
    total: int
    first: int
    """Index of the batch's first image within the request."""
    work_done: float
    work_total: float
    x0_pred: torch.Tensor = field(repr=False)
    guidance: tuple[X0Guidance, ...] = field(default=(), repr=False)

    @property
    def final(self) -> bool:
        return self.index == self.total


@dataclass(frozen=True)
class GeneratedImages:
    """Finished images of a request, from its image `first` on: `images[i]` (H×W×3 uint8)
    was made with `seeds[i]` (a whole batch, or one image with detail scales)."""

    first: int
    seeds: tuple[int, ...]
    images: list[np.ndarray] = field(repr=False)


def generate(
    model: DiffusionModel, plan: GenerationPlan
) -> Generator[GenerationStep | GeneratedImages, None, None]:
    """Run `plan` batch by batch, yielding after every denoiser evaluation and after each batch.

    Image i uses its own generator seeded seed + i, so batching never changes an image. With
    detail scales (docs/method.md §12) each image of a batch then goes through them alone, so
    that memory holds one large image at a time, and is yielded as soon as it is done (a
    GeneratedImages of one image). Closing the iterator between steps stops the run.
    """
    request = plan.request
    work_total = sum(plan.work_per_sample()) * request.count
    progress = _Progress(work_total)
    denoiser = plan.denoiser or model
    for first in range(0, request.count, request.batch):
        count = min(request.batch, request.count - first)
        seeds = tuple(request.seed + first + i for i in range(count))
        base = yield from _base_batch(denoiser, plan, first, count, progress)
        if plan.detail is None:
            yield GeneratedImages(first, seeds, _finished(plan, base))
            continue
        for i, seed in enumerate(seeds):  # each image is done (and can be saved) on its own
            detailed = yield from _detail_image(plan, base[i : i + 1], first + i, seed, progress)
            yield GeneratedImages(first + i, (seed,), _finished(plan, detailed))


def _finished(plan: GenerationPlan, batch: torch.Tensor) -> list[np.ndarray]:
    """Finished samples (B, 3, H, W) as uint8 images, every known pixel exactly the given one."""
    images = tensor_to_images(plan.finish(batch))
    if plan.known is None:
        return images
    return [plan.known.composite(image) for image in images]


@dataclass
class _Progress:
    """Pixel-steps done of a whole request, and denoiser calls of the current batch."""

    work_total: float
    work_done: float = 0.0
    index: int = 0
    total: int = 0


def _base_batch(
    model: DiffusionModel, plan: GenerationPlan, first: int, count: int, progress: _Progress
) -> Generator[GenerationStep, None, torch.Tensor]:
    """The model's scales for images first … first + count − 1; returns them (B, 3, h, w)."""
    guidance = tuple(plan.make_guidance())
    detail_calls = plan.detail_calls()
    result = None
    for step in iter_sample(
        model,
        count=count,
        seed=plan.request.seed + first,
        options=plan.options,
        guidance=guidance,
        injection=plan.injection,
        reblur=plan.reblur,
        rules=plan.rules,
        sizes=plan.sizes,
    ):
        width, height = plan.sizes[step.scale]
        progress.work_done += width * height * count
        progress.index, progress.total = step.index, step.total + count * detail_calls
        result = step.x0_pred
        yield _step(plan, step.scale, step.t, first, progress, step.x0_pred, guidance)
    assert result is not None
    return result


def _detail_image(
    plan: GenerationPlan, base: torch.Tensor, index: int, seed: int, progress: _Progress
) -> Generator[GenerationStep, None, torch.Tensor]:
    """One image (1, 3, h, w) through the detail scales; returns it (1, 3, H, W)."""
    assert plan.detail is not None
    result = base
    offset = len(plan.sizes) - 1  # detail scale d is scale offset + d of the whole run
    guidance = []
    if plan.known is not None:
        guidance.append(plan.known.guidance(plan.detail.device))
    steps = refine(plan.detail, base, [seed], plan.detail_sizes, guidance, plan.rules)
    for step in steps:
        width, height = plan.detail_sizes[step.scale - 1]
        progress.work_done += width * height
        progress.index += 1
        result = step.x0_pred
        yield _step(plan, offset + step.scale, step.t, index, progress, step.x0_pred)
    return result


def _step(
    plan: GenerationPlan,
    scale: int,
    t: int,
    first: int,
    progress: _Progress,
    x0_pred: torch.Tensor,
    guidance: tuple[X0Guidance, ...] = (),
) -> GenerationStep:
    return GenerationStep(
        scale,
        plan.num_scales,
        t,
        progress.index,
        progress.total,
        first,
        progress.work_done,
        progress.work_total,
        x0_pred,
        guidance,
    )


def preview_of(plan: GenerationPlan, step: GenerationStep) -> np.ndarray:
    """The batch's first image as it forms, H×W×3 uint8 (finished at the last step)."""
    first = step.x0_pred[:1]
    return tensor_to_images(plan.finish(first) if step.final else first)[0]


def guided_region(guidance: Sequence[X0Guidance]) -> np.ndarray | None:
    """Where text guidance acts on the first image (H×W float in [0, 1]) once its mask exists;
    None without one, or when it covers everything (style guidance)."""
    for guide in guidance:
        mask = getattr(guide, "mask", None)
        if mask is not None:
            region = mask[0, 0].detach().float().cpu().numpy()
            return None if region.min() > 0.99 else region
    return None


def generate_images(model: DiffusionModel, plan: GenerationPlan) -> list[np.ndarray]:
    """Drain `generate`: every image of the request, H×W×3 uint8, in seed order."""
    images: list[np.ndarray] = []
    for event in generate(model, plan):
        if isinstance(event, GeneratedImages):
            images.extend(event.images)
    return images
