"""One plan for every way of generating: plain samples, regions, text, style transfer, harmonise.

A `GenerationRequest` says what to make (count, seed, canvas, `SamplingOptions`, one optional
edit); `plan(model, request)` turns it into a `GenerationPlan` (per-scale canvas, start steps,
guidance, injection, how to finish each image); `generate(model, plan)` runs it batch by batch
and yields `GenerationStep`s (progress, the forming image) and `GeneratedImages` (finished
uint8 images). The command line and the app both call these, so the two cannot drift.

The model is any `DiffusionModel` (docs/method.md §5): nothing here knows which denoiser it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image

from core.bundle import DiffusionModel, tensor_to_images
from core.device import bf16_supported
from core.editing import (
    DEFAULT_ROI_STRENGTH,
    HARMONIZATION_STEP,
    STYLE_TRANSFER_STEP,
    Box,
    RoiGuidance,
    harmonization_injection,
    style_transfer_injection,
)
from core.errors import ConfigError
from core.sampling import (
    Injection,
    X0Guidance,
    canvas_sizes,
    iter_sample,
    resolve_start_steps,
    sampling_work,
)

TextMode = Literal["content", "style", "style-image", "region"]
CLIP_MODEL = "ViT-B-32"
"""The CLIP of docs/method.md §7 (ViT-B/32)."""


@dataclass(frozen=True)
class SamplingOptions:
    """How the sampler runs (docs/method.md §5), apart from what to make.

    `fine_stride` k > 1 evaluates every k-th step at the scales ≥ 1 and `bf16` autocasts the
    denoiser where the device has native bf16 (both trade a little exactness for speed);
    `omega` = 1 is the paper's Algorithm 2 (0: the authors' code); `start_steps` overrides T[s]
    for the scales 1..N−1.
    """

    fine_stride: int = 1
    bf16: bool = False
    omega: float = 0.0
    start_steps: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.fine_stride < 1:
            raise ConfigError(f"The fine-scale stride must be at least 1, not {self.fine_stride}.")
        if not 0.0 <= self.omega <= 1.0:
            raise ConfigError(f"omega must lie between 0 and 1, not {self.omega}.")

    def describe_speed(self, device: torch.device, stride: int) -> str:
        """What the speed options did on `device`, for a result's metadata."""
        bf16 = self.bf16 and bf16_supported(device)
        return f"stride {stride} at the finer scales" + (", bf16" if bf16 else "")


PLAIN_SAMPLING = SamplingOptions()
FAST_SAMPLING = SamplingOptions(fine_stride=2, bf16=True)
"""The app's "Fast sampling": every 2nd step at the finer scales, bf16 where native."""


# ------------------------------------------------------------------------------------ edits


@dataclass(frozen=True)
class RegionsEdit:
    """Regions of the training image placed on the canvas (paper eq. 2; docs/method.md §6).

    `pairs` holds (source box on the training image, target box on the canvas), both in
    finest-scale pixels; `strength` is η.
    """

    pairs: tuple[tuple[Box, Box], ...]
    strength: float = DEFAULT_ROI_STRENGTH

    def describe(self) -> dict:
        boxes = [[list(astuple(s)), list(astuple(t))] for s, t in self.pairs]
        return {"edit": "regions", "regions": boxes, "strength": self.strength}


@dataclass(frozen=True)
class TextEdit:
    """A text prompt through CLIP (docs/method.md §7). `strength` and `fill` None take the
    mode's defaults; `box` (training-image pixels) is needed by the region mode."""

    prompt: str
    mode: TextMode = "content"
    strength: float | None = None
    fill: float | None = None
    box: Box | None = None
    clip_model: str = CLIP_MODEL
    clip_weights: str = "openai"
    views: int = 16

    def describe(self) -> dict:
        return {
            "edit": "text",
            "prompt": self.prompt,
            "mode": self.mode,
            "strength": self.strength,
            "fill": self.fill,
        }


@dataclass(frozen=True, eq=False)
class StyleTransferEdit:
    """A content image redrawn with the model's textures (docs/method.md §8)."""

    content: Image.Image = field(repr=False)
    content_name: str = ""
    start_step: int = STYLE_TRANSFER_STEP
    scale: int | None = None
    """Injection scale; None is the finest, as the authors' code."""
    match: bool = True
    """Match the content's colour histograms to the training image first."""

    def describe(self) -> dict:
        settings: dict = {"edit": "style-transfer", "image": self.content_name}
        if self.scale is not None:
            settings["scale"] = self.scale
        return {**settings, "t": self.start_step}


@dataclass(frozen=True, eq=False)
class HarmonizeEdit:
    """An object pasted on a background, blended in (docs/method.md §8). `mask` marks the
    object by its alpha channel when it has one, otherwise by its brightness."""

    composite: Image.Image = field(repr=False)
    mask: Image.Image = field(repr=False)
    composite_name: str = ""
    start_step: int = HARMONIZATION_STEP

    def describe(self) -> dict:
        return {"edit": "harmonize", "image": self.composite_name, "t": self.start_step}


Edit = RegionsEdit | TextEdit | StyleTransferEdit | HarmonizeEdit


@dataclass(frozen=True)
class GenerationRequest:
    """What to make: `count` images with seeds seed … seed+count−1, computed `batch` at a time.

    Give the finest canvas as `size` (W, H) or as per-axis `multipliers`; neither means the
    training size. Style transfer and harmonisation take their size from their image.
    """

    count: int = 1
    seed: int = 0
    size: tuple[int, int] | None = None
    multipliers: tuple[float, float] | None = None
    options: SamplingOptions = PLAIN_SAMPLING
    edit: Edit | None = None
    batch: int = 8

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(f"The number of images must be at least 1, not {self.count}.")
        if self.batch < 1:
            raise ConfigError(f"The batch size must be at least 1, not {self.batch}.")


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
        return self.request.options.fine_stride if self.reblur else 1

    def work_per_sample(self) -> list[float]:
        """Pixel-steps of one sample per scale: progress and ETAs weight steps by them."""
        return sampling_work(self.sizes, self.starts, self.injection, self.stride)

    def settings(self, device: torch.device) -> dict:
        """What a result should record so it can be made again (edit and speed options)."""
        settings = self.request.edit.describe() if self.request.edit else {}
        options = self.request.options
        if options.fine_stride > 1 or options.bf16:
            settings["fast sampling"] = options.describe_speed(device, self.stride)
        return settings


def plan(
    model: DiffusionModel, request: GenerationRequest, clip_loader: ClipLoader | None = None
) -> GenerationPlan:
    """Check `request` against `model` and prepare it (loads CLIP for a text edit)."""
    options, edit = request.options, request.edit
    starts = tuple(resolve_start_steps(model, options.start_steps))

    def canvas(size: tuple[int, int] | None) -> tuple[tuple[int, int], ...]:
        multipliers = request.multipliers if size is None else None
        return tuple(canvas_sizes(model.sizes, size, multipliers))

    if edit is None:
        return GenerationPlan(request, canvas(request.size), starts)
    if isinstance(edit, RegionsEdit):
        sizes = canvas(request.size)
        pairs = list(edit.pairs)
        RoiGuidance(model, list(sizes), pairs, edit.strength)  # fail now on bad boxes

        def regions() -> list[X0Guidance]:
            return [RoiGuidance(model, list(sizes), pairs, edit.strength)]

        return GenerationPlan(request, sizes, starts, make_guidance=regions)
    if isinstance(edit, StyleTransferEdit):
        injection, size = style_transfer_injection(
            model, edit.content, edit.start_step, edit.scale, edit.match
        )
        return GenerationPlan(request, canvas(size), starts, injection)
    if isinstance(edit, HarmonizeEdit):
        harmony = harmonization_injection(model, edit.composite, edit.mask, edit.start_step)
        return GenerationPlan(
            request, canvas(harmony.size), starts, harmony.injection, finish=harmony.blend
        )
    return _text_plan(model, request, edit, starts, clip_loader or default_clip_loader)


def _text_plan(
    model: DiffusionModel,
    request: GenerationRequest,
    edit: TextEdit,
    starts: tuple[int, ...],
    clip_loader: ClipLoader,
) -> GenerationPlan:
    from core import clip_guidance

    if not edit.prompt.strip():
        raise ConfigError("Write a prompt first.")
    if edit.mode not in clip_guidance.TEXT_MODES:
        modes = ", ".join(clip_guidance.TEXT_MODES)
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
        request, sizes, starts, text.injection, make_guidance=text.make_guidance, reblur=False
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
) -> Iterator[GenerationStep | GeneratedImages]:
    """Run `plan` batch by batch, yielding after every denoiser evaluation and after each batch.

    Image i uses its own generator seeded seed + i, so batching never changes an image.
    Closing the iterator between steps stops the run.
    """
    request, options = plan.request, plan.request.options
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
