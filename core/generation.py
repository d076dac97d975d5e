"""One plan for every way of generating: plain samples, regions, text, style transfer, harmonise.

A `GenerationRequest` says what to make (count, seed, canvas, `SamplingOptions`, one optional
edit); `plan(model, request)` turns it into a `GenerationPlan` (per-scale canvas, start steps,
guidance, injection, how to finish each image); `generate(model, plan)` runs it batch by batch
and yields `GenerationStep`s (progress, the forming image) and `GeneratedImages` (finished
uint8 images). The command line and the app both call these, so the two cannot drift.

The model is any `DiffusionModel` (docs/method.md §5): nothing here knows which denoiser it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core.bundle import DiffusionModel, tensor_to_images
from core.device import bf16_supported
from core.editing import RoiGuidance, harmonization_injection, style_transfer_injection
from core.errors import ConfigError
from core.imageio import load_image, load_mask
from core.requests import (
    FAST_SAMPLING,
    PLAIN_SAMPLING,
    TEXT_MODES,
    Edit,
    GenerationRequest,
    HarmonizeEdit,
    RegionsEdit,
    SamplingOptions,
    StyleTransferEdit,
    TextEdit,
)
from core.sampling import (
    Injection,
    X0Guidance,
    canvas_sizes,
    check_injection,
    iter_sample,
    resolve_start_steps,
    sampling_work,
)

__all__ = [
    "FAST_SAMPLING",
    "PLAIN_SAMPLING",
    "ClipLoader",
    "Edit",
    "GeneratedImages",
    "GenerationPlan",
    "GenerationRequest",
    "GenerationStep",
    "HarmonizeEdit",
    "RegionsEdit",
    "SamplingOptions",
    "StyleTransferEdit",
    "TextEdit",
    "generate",
    "generate_images",
    "guided_region",
    "plan",
    "preview_of",
]

ClipLoader = Callable[[str, str, torch.device], tuple[object, object]]
"""(open_clip model name, weights tag or file, device) -> (CLIP model, tokenizer)."""


def default_clip_loader(name: str, weights: str, device: torch.device) -> tuple[object, object]:
    """open_clip, imported only when a prompt is used (docs/method.md §7)."""
    from core.clip_guidance import load_clip

    return load_clip(name, weights, device)


# ------------------------------------------------------------------------------------- plan


def _no_guidance() -> list[X0Guidance]:
    return []


def _unchanged(batch: torch.Tensor) -> torch.Tensor:
    return batch


@dataclass(frozen=True)
class GenerationPlan:
    """A request made concrete for one model: everything `generate` needs."""

    request: GenerationRequest
    sizes: tuple[tuple[int, int], ...]
    """(W, H) of the canvas at every scale, coarsest first."""
    starts: tuple[int, ...]
    """T[s] per scale (an injection replaces its scale's)."""
    options: SamplingOptions
    """The request's sampling options, or the model's defaults when it gave none."""
    injection: Injection | None = None
    make_guidance: Callable[[], list[X0Guidance]] = _no_guidance
    """A fresh list of guidance objects per batch (text guidance keeps per-run state)."""
    finish: Callable[[torch.Tensor], torch.Tensor] = _unchanged
    """Maps finished samples (B, 3, H, W) in [-1, 1] (harmonisation blends them back)."""
    reblur: bool = True
    """False: plain DDPM steps at every scale (the CLIP modes, docs/method.md §7)."""

    @property
    def size(self) -> tuple[int, int]:
        return self.sizes[-1]

    @property
    def stride(self) -> int:
        """The fine-scale stride in effect (plain DDPM steps are never strided)."""
        return self.options.fine_stride if self.reblur else 1

    def work_per_sample(self) -> list[float]:
        """Pixel-steps of one sample per scale: progress and ETAs weight steps by them."""
        coarse = self.options.coarse_stride
        return sampling_work(self.sizes, self.starts, self.injection, self.stride, coarse)

    def settings(self, device: torch.device) -> dict:
        """What a result should record so it can be made again (edit and speed options)."""
        settings = self.request.edit.describe() if self.request.edit else {}
        options = self.options
        if options.fast:
            bf16 = options.bf16 and bf16_supported(device)
            speed = f"stride {self.stride} at the finer scales"
            if options.coarse_stride > 1:
                speed += f", {options.coarse_stride} at the coarsest"
            speed += ", bf16" if bf16 else ""
            settings["fast sampling"] = speed
        return settings


def plan(
    model: DiffusionModel, request: GenerationRequest, clip_loader: ClipLoader | None = None
) -> GenerationPlan:
    """Check `request` against `model` and prepare it (loads CLIP for a text edit)."""
    options = request.options or model.default_sampling
    edit = request.edit
    starts = tuple(resolve_start_steps(model, options.start_steps))

    def canvas(size: tuple[int, int] | None) -> tuple[tuple[int, int], ...]:
        multipliers = request.multipliers if size is None else None
        return tuple(canvas_sizes(model.sizes, size, multipliers))

    if edit is None:
        return GenerationPlan(request, canvas(request.size), starts, options)
    if isinstance(edit, RegionsEdit):
        sizes = canvas(request.size)
        pairs = list(edit.pairs)
        RoiGuidance(model, list(sizes), pairs, edit.strength)  # fail now on bad boxes

        def regions() -> list[X0Guidance]:
            return [RoiGuidance(model, list(sizes), pairs, edit.strength)]

        return GenerationPlan(request, sizes, starts, options, make_guidance=regions)
    if isinstance(edit, StyleTransferEdit):
        content = _image_of(edit.content)
        injection, size = style_transfer_injection(
            model, content, edit.start_step, edit.scale, edit.match
        )
        check_injection(injection, model.num_scales, model.schedule.timesteps)
        return GenerationPlan(request, canvas(size), starts, options, injection)
    if isinstance(edit, HarmonizeEdit):
        composite, mask = _image_of(edit.composite), _mask_of(edit.mask)
        harmony = harmonization_injection(model, composite, mask, edit.start_step)
        check_injection(harmony.injection, model.num_scales, model.schedule.timesteps)
        return GenerationPlan(
            request, canvas(harmony.size), starts, options, harmony.injection, finish=harmony.blend
        )
    return _text_plan(model, request, edit, starts, options, clip_loader or default_clip_loader)


def _image_of(source: object) -> Image.Image:
    """An ImageSource (core.requests) as an RGB PIL image; files are read and checked."""
    if isinstance(source, str | os.PathLike):
        return load_image(source)
    if isinstance(source, np.ndarray):
        return Image.fromarray(np.ascontiguousarray(source)).convert("RGB")
    if isinstance(source, Image.Image):
        return source
    raise ConfigError(f"Not an image: {type(source).__name__}.")


def _mask_of(source: object) -> Image.Image:
    """A mask ImageSource as a PIL image, alpha kept (it marks the object when present)."""
    if isinstance(source, str | os.PathLike):
        return load_mask(source)
    if isinstance(source, np.ndarray):
        return Image.fromarray(np.ascontiguousarray(source))
    if isinstance(source, Image.Image):
        return source
    raise ConfigError(f"Not a mask: {type(source).__name__}.")


def _text_plan(
    model: DiffusionModel,
    request: GenerationRequest,
    edit: TextEdit,
    starts: tuple[int, ...],
    options: SamplingOptions,
    clip_loader: ClipLoader,
) -> GenerationPlan:
    from core import clip_guidance

    if not edit.prompt.strip():
        raise ConfigError("Write a prompt first.")
    if edit.mode not in TEXT_MODES:
        modes = ", ".join(TEXT_MODES)
        raise ConfigError(f"Unknown text mode '{edit.mode}'; choose one of {modes}.")
    clip, tokenizer = clip_loader(edit.clip_model, edit.clip_weights, model.device)
    text = clip_guidance.plan_text_guidance(
        model,
        clip,
        tokenizer,
        edit.prompt,
        edit.mode,
        edit.strength,
        edit.fill,
        edit.box,
        clip_guidance.ViewSettings(count=max(1, edit.views)),
        request.seed,
        request.size,
    )
    size = text.size or request.size
    multipliers = request.multipliers if size is None else None
    sizes = tuple(canvas_sizes(model.sizes, size, multipliers))
    return GenerationPlan(
        request,
        sizes,
        starts,
        options,
        text.injection,
        make_guidance=text.make_guidance,
        reblur=False,
    )


# ------------------------------------------------------------------------------- generation


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
    """A finished batch: `images[i]` (H×W×3 uint8) was made with `seeds[i]`."""

    first: int
    seeds: tuple[int, ...]
    images: list[np.ndarray] = field(repr=False)


def generate(
    model: DiffusionModel, plan: GenerationPlan
) -> Generator[GenerationStep | GeneratedImages, None, None]:
    """Run `plan` batch by batch, yielding after every denoiser evaluation and after each batch.

    Image i uses its own generator seeded seed + i, so batching never changes an image.
    Closing the iterator between steps stops the run.
    """
    request, options = plan.request, plan.options
    per_sample = sum(plan.work_per_sample())
    work_total, work_done = per_sample * request.count, 0.0
    for first in range(0, request.count, request.batch):
        count = min(request.batch, request.count - first)
        guidance = tuple(plan.make_guidance())
        result = None
        for step in iter_sample(
            model,
            count=count,
            seed=request.seed + first,
            size=plan.size,
            omega=options.omega,
            start_steps=options.start_steps,
            guidance=guidance,
            injection=plan.injection,
            reblur=plan.reblur,
            fine_stride=plan.stride,
            bf16=options.bf16,
            coarse_stride=options.coarse_stride,
        ):
            width, height = plan.sizes[step.scale]
            work_done += width * height * count
            result = step.x0_pred
            yield GenerationStep(
                step.scale,
                len(plan.sizes),
                step.t,
                step.index,
                step.total,
                first,
                work_done,
                work_total,
                step.x0_pred,
                guidance,
            )
        assert result is not None
        seeds = tuple(request.seed + first + i for i in range(count))
        yield GeneratedImages(first, seeds, tensor_to_images(plan.finish(result)))


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
