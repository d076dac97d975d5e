"""One plan for every way of generating: plain samples (tiled or mirrored), regions, text, style
transfer, harmonise, heal and extend.

A `GenerationRequest` says what to make (count, seed, canvas, `SamplingOptions`, one optional
edit); `plan(model, request)` turns it into a `GenerationPlan` (per-scale canvas, start steps,
guidance, injection, how to finish each image), which `core.generation.run.generate` runs.
The command line and the app both call these, so the two cannot drift.

The model is any `DiffusionModel` (docs/method.md §5): nothing here knows which denoiser it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image

from core.denoisers.protocol import DiffusionModel
from core.device import bf16_supported
from core.errors import ConfigError
from core.generation import fill
from core.generation.detail import (
    DETAIL_START_STEP,
    DETAIL_STRIDE,
    DetailModel,
    detail_for,
    detail_sizes,
)
from core.generation.editing import (
    RoiGuidance,
    harmonization_injection,
    style_transfer_injection,
)
from core.generation.sampling import (
    Injection,
    X0Guidance,
    canvas_sizes,
    check_injection,
    fine_timesteps,
    resolve_start_steps,
    sampling_work,
)
from core.imageio import load_image, load_mask
from core.method.canvas import CanvasRules, KnownCanvas, PriorLayout, anchored_offset, placed
from core.method.pyramid import capped_size
from core.requests import (
    DEFAULT_OUTPUT_PIXELS,
    FAST_SAMPLING,
    PLAIN_SAMPLING,
    Box,
    Edit,
    ExtendEdit,
    GenerationRequest,
    HarmonizeEdit,
    HealEdit,
    RegionsEdit,
    SamplingOptions,
    StyleTransferEdit,
    TextEdit,
)
from core.rules import MAX_CANVAS_PIXELS, check_canvas

__all__ = [
    "FAST_SAMPLING",
    "PLAIN_SAMPLING",
    "ClipLoader",
    "Edit",
    "ExtendEdit",
    "GenerationPlan",
    "GenerationRequest",
    "HarmonizeEdit",
    "HealEdit",
    "RegionsEdit",
    "SamplingOptions",
    "StyleTransferEdit",
    "TextEdit",
    "photo_size",
    "plan",
    "preview_plan",
    "work_estimate",
]

ClipLoader = Callable[[str, str, torch.device], tuple[object, object]]
"""(open_clip model name, weights tag or file, device) -> (CLIP model, tokenizer)."""


def default_clip_loader(name: str, weights: str, device: torch.device) -> tuple[object, object]:
    """open_clip, imported only when a prompt is used (docs/method.md §7)."""
    from core.generation.clip_guidance import load_clip

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
    detail: DetailModel | None = None
    """The detail scales above the model's finest (docs/method.md §12); None: the image is done
    at the model's finest scale."""
    detail_sizes: tuple[tuple[int, int], ...] = ()
    """(W, H) of the canvas at every detail scale, finest last (the image's size)."""
    rules: CanvasRules | None = None
    """Tile or mirror the canvas (core.method.canvas); None: neither."""
    denoiser: DiffusionModel | None = None
    """The denoiser to sample with, when not the model itself: the model with its position
    prior laid out for the canvas, or rebuilt to heal (core.generation.fill)."""
    known: KnownCanvas | None = None
    """Pixels of the finished image that are given (heal, extend): kept at every step of every
    scale and exactly in the result (docs/method.md §13)."""

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the finished images."""
        return self.detail_sizes[-1] if self.detail_sizes else self.sizes[-1]

    def detail_calls(self) -> int:
        """Denoiser calls of one image's detail scales."""
        if self.detail is None:
            return 0
        starts = self.detail.schedule.start_steps[1:]
        return sum(len(fine_timesteps(start, DETAIL_STRIDE)) for start in starts)

    @property
    def base_size(self) -> tuple[int, int]:
        """(W, H) of the canvas at the model's finest scale."""
        return self.sizes[-1]

    @property
    def num_scales(self) -> int:
        """The model's scales and the detail scales."""
        return len(self.sizes) + len(self.detail_sizes)

    @property
    def stride(self) -> int:
        """The fine-scale stride in effect (plain DDPM steps are never strided)."""
        return self.options.fine_stride if self.reblur else 1

    def work_per_sample(self) -> list[float]:
        """Pixel-steps of one sample per scale, detail scales last: progress and ETAs weight
        steps by them."""
        coarse = self.options.coarse_stride
        work = sampling_work(self.sizes, self.starts, self.injection, self.stride, coarse)
        if self.detail is not None:
            starts = self.detail.schedule.start_steps
            work += sampling_work(
                self.detail.sizes[:1] + self.detail_sizes, starts, None, DETAIL_STRIDE
            )[1:]
        return work

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
        width, height = self.size
        settings["resolution"] = f"{width}×{height}"
        if self.detail is not None:
            base_w, base_h = self.base_size
            scales = len(self.detail_sizes)
            settings["detail scales"] = f"{scales} above {base_w}×{base_h}"
        settings["max pixels"] = self.request.pixel_cap
        if self.request.tile:
            settings["tile"] = self.request.tile
        if self.request.mirror:
            settings["mirror"] = self.request.mirror
        if isinstance(self.request.edit, HealEdit) and self.known is not None:
            # the mask itself, so that the recipe makes the image again
            settings["mask image"] = self.known.hole_data_url()
        return settings


def plan(
    model: DiffusionModel, request: GenerationRequest, clip_loader: ClipLoader | None = None
) -> GenerationPlan:
    """Check `request` against `model` and prepare it (loads CLIP for a text edit, and the
    detail scales when the image is larger than the model's finest scale)."""
    made = _plan_edit(model, request, clip_loader)
    rules = CanvasRules.of(request.tile, request.mirror)
    if rules is None:
        return made
    # a tiled axis has no edges: the position prior leaves it free (docs/method.md §13)
    layout = PriorLayout(free_y=rules.wrap_y, free_x=rules.wrap_x)
    return replace(made, rules=rules, denoiser=fill.laid_out(model, layout))


def _plan_edit(
    model: DiffusionModel, request: GenerationRequest, clip_loader: ClipLoader | None
) -> GenerationPlan:
    options = request.options or model.default_sampling
    edit = request.edit
    starts = tuple(resolve_start_steps(model, options.start_steps))
    frame = OutputFrame.of(model, request.pixel_cap)

    if edit is None:
        sizes, final, muls = frame.canvas(model, request.size, request.multipliers)
        return frame.with_detail(
            model, GenerationPlan(request, sizes, starts, options), final, muls
        )
    if isinstance(edit, RegionsEdit):
        sizes, final, muls = frame.canvas(model, request.size, request.multipliers)
        pairs = [frame.pair_to_base(model, pair, final, sizes[-1]) for pair in edit.pairs]
        RoiGuidance(model, list(sizes), pairs, edit.strength)  # fail now on bad boxes

        def regions() -> list[X0Guidance]:
            return [RoiGuidance(model, list(sizes), pairs, edit.strength)]

        base = GenerationPlan(request, sizes, starts, options, make_guidance=regions)
        return frame.with_detail(model, base, final, muls)
    if isinstance(edit, StyleTransferEdit):
        content = _image_of(edit.content)
        injection, size = style_transfer_injection(
            model, content, edit.start_step, edit.scale, edit.match
        )
        check_injection(injection, model.num_scales, model.schedule.timesteps)
        base = GenerationPlan(request, frame.base_canvas(model, size), starts, options, injection)
        return frame.with_detail(model, base, capped_size(*content.size, request.pixel_cap))
    if isinstance(edit, HarmonizeEdit):
        return _harmonize_plan(model, request, edit, starts, options, frame)
    if isinstance(edit, HealEdit):
        return _heal_plan(model, request, edit, starts, options, frame)
    if isinstance(edit, ExtendEdit):
        return _extend_plan(model, request, edit, starts, options)
    loader = clip_loader or default_clip_loader
    return _text_plan(model, request, edit, starts, options, loader, frame)


@dataclass(frozen=True)
class OutputFrame:
    """Where a request's pixels live: `train_size` (W, H) is the photo at its own resolution
    under the request's cap (sizes and boxes are given in its pixels), `photo` the photo the
    detail scales read (None: the model keeps none, or it is no larger than the model's finest
    scale, and the image is done there)."""

    train_size: tuple[int, int]
    photo: np.ndarray | None

    @classmethod
    def of(cls, model: DiffusionModel, cap: int) -> OutputFrame:
        original = model.pyramid.original
        base_w, base_h = model.sizes[-1]
        if original is not None:
            size = capped_size(original.shape[1], original.shape[0], cap)
            if size[0] * size[1] > base_w * base_h:
                return cls(size, original)
        return cls((base_w, base_h), None)

    def factors(self, model: DiffusionModel) -> tuple[float, float]:
        """Model finest-scale pixels per output pixel, per axis (W, H)."""
        (base_w, base_h), (width, height) = model.sizes[-1], self.train_size
        return base_w / width, base_h / height

    def canvas(
        self,
        model: DiffusionModel,
        size: tuple[int, int] | None,
        multipliers: tuple[float, float] | None,
    ) -> tuple[tuple[tuple[int, int], ...], tuple[int, int] | None, tuple[float, float]]:
        """The model's canvas at every scale, the finished image's size (None: the model's
        finest canvas) and the canvas' multipliers of the photo, for a canvas given as `size`
        (W, H, output pixels) or `multipliers`."""
        if self.photo is None:
            return tuple(canvas_sizes(model.sizes, size, multipliers)), None, (1.0, 1.0)
        width, height = self.train_size
        if size is not None:
            if size[0] <= 0 or size[1] <= 0:
                raise ConfigError(f"The output size must be positive, not {size[0]}×{size[1]}.")
            multipliers = (size[0] / width, size[1] / height)
        mul_w, mul_h = multipliers or (1.0, 1.0)
        final = size or (int(width * mul_w + 1e-9), int(height * mul_h + 1e-9))
        _check_final(final)
        return tuple(canvas_sizes(model.sizes, None, (mul_w, mul_h))), final, (mul_w, mul_h)

    def base_canvas(
        self, model: DiffusionModel, size: tuple[int, int]
    ) -> tuple[tuple[int, int], ...]:
        """Every scale's canvas for a finest canvas of `size` (W, H, model pixels)."""
        return tuple(canvas_sizes(model.sizes, size))

    def pair_to_base(
        self,
        model: DiffusionModel,
        pair: tuple[Box, Box],
        final: tuple[int, int] | None,
        base_canvas: tuple[int, int],
    ) -> tuple[Box, Box]:
        """A (source on the photo, target on the canvas) pair of output-pixel boxes, checked
        there, in the model's finest-scale pixels."""
        if self.photo is None:
            return pair
        source, target = pair
        source.check_inside(*self.train_size, "source")
        target.check_inside(*(final or base_canvas), "target")
        return self.box_to_base(model, source), self.box_to_base(model, target)

    def box_to_base(self, model: DiffusionModel, box: Box) -> Box:
        """An output-pixel box in the model's finest-scale pixels (truncated, as Box.scaled, to
        at least 1×1)."""
        if self.photo is None:
            return box
        fx, fy = self.factors(model)
        # at least a pixel: a small box in the photo is still a box at the model's size
        width, height = max(1, int(box.w * fx)), max(1, int(box.h * fy))
        return Box(int(box.x * fx), int(box.y * fy), width, height)

    def with_detail(
        self,
        model: DiffusionModel,
        base: GenerationPlan,
        final: tuple[int, int] | None,
        multipliers: tuple[float, float] | None = None,
        build: Callable[[tuple[int, int]], DetailModel | None] | None = None,
    ) -> GenerationPlan:
        """`base` with the detail scales that take its images from the model's finest canvas
        to `final` (W, H) (docs/method.md §12); `multipliers` (canvas per photo pixel) as the
        request gave them, else as the base canvas implies them; `base` itself when there is
        nothing to add. `build(photo size)` makes the detail scales (default: `detail_for`,
        from the photo)."""
        if self.photo is None or final is None:
            return base
        (canvas_w, canvas_h), (base_w, base_h) = base.sizes[-1], model.sizes[-1]
        if multipliers is None:  # the scale the base canvas implies (an image's own size)
            multipliers = (canvas_w / base_w, canvas_h / base_h)
            # the photo at the size whose canvas is `final`, never above its own resolution
            wanted = (round(final[0] / multipliers[0]), round(final[1] / multipliers[1]))
            wanted = (min(wanted[0], self.train_size[0]), min(wanted[1], self.train_size[1]))
            final = _at_most(final, wanted, multipliers)
        else:
            wanted = self.train_size
        mul_w, mul_h = multipliers
        if final[0] * final[1] <= canvas_w * canvas_h:
            return base
        detail = build(wanted) if build else detail_for(model, self.photo, wanted)
        if detail is None:
            return base
        canvases = _detail_canvases(detail.sizes[1:], (mul_w, mul_h), final)
        return replace(base, detail=detail, detail_sizes=canvases)

    def photo_pixels(self, model: DiffusionModel) -> np.ndarray:
        """The photo at `train_size`, H×W×3 uint8: what requests' pixels are pixels of."""
        if self.photo is None:
            return model.pyramid.sharp[-1]
        if self.photo.shape[:2] == self.train_size[::-1]:
            return self.photo
        resized = Image.fromarray(self.photo).resize(self.train_size, Image.Resampling.LANCZOS)
        return np.asarray(resized)


def photo_size(model: DiffusionModel, max_pixels: int | None = None) -> tuple[int, int]:
    """(W, H) that images of `model` come back at by default: the photo's own resolution under
    `max_pixels` (None: DEFAULT_OUTPUT_PIXELS), or the model's finest scale when the model
    keeps no photo larger than that (docs/method.md §12). Sizes and boxes of a request are in
    these pixels."""
    cap = DEFAULT_OUTPUT_PIXELS if max_pixels is None else max_pixels
    return OutputFrame.of(model, cap).train_size


def work_estimate(model: DiffusionModel, request: GenerationRequest) -> tuple[float, float]:
    """Pixel-steps of a plain request (no edit) on the model's scales and on the detail scales,
    from the geometry alone (nothing is built): with seconds per pixel-step measured on this
    machine, how long it will take."""
    frame = OutputFrame.of(model, request.pixel_cap)
    sizes, final, muls = frame.canvas(model, request.size, request.multipliers)
    options = request.options or model.default_sampling
    starts = resolve_start_steps(model, options.start_steps)
    stride, coarse = options.fine_stride, options.coarse_stride
    base = sum(sampling_work(sizes, starts, None, stride, coarse))
    if frame.photo is None or final is None:
        return base * request.count, 0.0
    canvases = _detail_canvases(detail_sizes(model.sizes[-1], frame.train_size), muls, final)
    calls = len(fine_timesteps(DETAIL_START_STEP, DETAIL_STRIDE))
    detail = sum(w * h * calls for w, h in canvases)
    return base * request.count, float(detail * request.count)


def _detail_canvases(
    sizes: Sequence[tuple[int, int]], multipliers: tuple[float, float], final: tuple[int, int]
) -> tuple[tuple[int, int], ...]:
    """The canvas (W, H) of every detail scale of training `sizes` (finest last) under the
    canvas' `multipliers`, as §5 scales every scale's canvas; the last is exactly `final`."""
    mul_w, mul_h = multipliers
    inner = [(int(w * mul_w + 1e-9), int(h * mul_h + 1e-9)) for w, h in sizes[:-1]]
    return (*inner, final)


def _at_most(
    final: tuple[int, int], photo: tuple[int, int], multipliers: tuple[float, float]
) -> tuple[int, int]:
    """`final` (W, H), shrunk where it would need the photo beyond its `photo` size."""
    largest = [int(side * mul + 1e-9) for side, mul in zip(photo, multipliers, strict=True)]
    return min(final[0], max(largest[0], 1)), min(final[1], max(largest[1], 1))


def _check_final(size: tuple[int, int]) -> None:
    check_canvas(*size)


def _harmonize_plan(
    model: DiffusionModel,
    request: GenerationRequest,
    edit: HarmonizeEdit,
    starts: tuple[int, ...],
    options: SamplingOptions,
    frame: OutputFrame,
) -> GenerationPlan:
    """Harmonisation: injected at the model's finest scale, blended back into the composite at
    the finished image's size (docs/method.md §8)."""
    composite, mask = _image_of(edit.composite), _mask_of(edit.mask)
    harmony = harmonization_injection(model, composite, mask, edit.start_step)
    check_injection(harmony.injection, model.num_scales, model.schedule.timesteps)
    base = GenerationPlan(
        request,
        frame.base_canvas(model, harmony.size),
        starts,
        options,
        harmony.injection,
        finish=harmony.blend,
    )
    detailed = frame.with_detail(model, base, capped_size(*composite.size, request.pixel_cap))
    if detailed.detail is None:
        return detailed
    return replace(detailed, finish=harmony.at_size(composite, detailed.size).blend)


def _heal_plan(
    model: DiffusionModel,
    request: GenerationRequest,
    edit: HealEdit,
    starts: tuple[int, ...],
    options: SamplingOptions,
    frame: OutputFrame,
) -> GenerationPlan:
    """Heal (docs/method.md §13): the photo's own canvas, every pixel outside the mask kept,
    the mask's pixels drawn by a denoiser that cannot read them (core.generation.fill)."""
    if request.size is not None or request.multipliers is not None:
        raise ConfigError("Heal keeps the photo's size: give it no size or scale.")
    original = model.pyramid.original
    photo = original if original is not None else model.pyramid.sharp[-1]
    photo_size = (photo.shape[1], photo.shape[0])
    accepted = {photo_size, tuple(model.pyramid.source_size), frame.train_size}
    hole = fill.hole_of(_mask_of(edit.mask), photo_size, accepted)
    blank = fill.blanked(photo, hole)  # nothing reads the hole from here on
    known = blank if frame.train_size == photo_size else KnownCanvas(*blank.at(frame.train_size))
    sizes = tuple(model.sizes)
    guidance = known.guidance(model.device)
    denoiser = fill.healing(model, blank)  # Instant's schedule too comes from the blanked photo
    base = GenerationPlan(
        request,
        sizes,
        tuple(resolve_start_steps(denoiser, options.start_steps)),
        options,
        fill.heal_start(blank, sizes[0], model.device),
        make_guidance=lambda: [guidance],
        denoiser=denoiser,
        known=known,
    )
    if frame.photo is None:
        return base
    pyramid = fill.pyramid_of(blank, model.pyramid)

    def excluded(sizes: Sequence[tuple[int, int]], patch: int) -> list[np.ndarray]:
        return [
            fill.excluded_patches(blank, size, sizes[d - 1] if d else None, patch)
            for d, size in enumerate(sizes)
        ]

    def build(wanted: tuple[int, int]) -> DetailModel | None:
        return DetailModel.above(
            pyramid, denoiser.schedule, model.config, blank.image, wanted, model.device, excluded
        )

    return frame.with_detail(model, base, frame.train_size, (1.0, 1.0), build)


def _extend_plan(
    model: DiffusionModel,
    request: GenerationRequest,
    edit: ExtendEdit,
    starts: tuple[int, ...],
    options: SamplingOptions,
) -> GenerationPlan:
    """Extend (docs/method.md §13): the photo kept exactly at its anchor on a larger canvas,
    the rest drawn around it. Canvas and photo shrink together when the canvas would pass the
    request's pixel cap."""
    if request.size is not None or request.multipliers is not None:
        raise ConfigError("Extend takes its canvas from the edit's size; give no other size.")
    own = photo_size(model, MAX_CANVAS_PIXELS)  # the photo's own pixels, as the model keeps it
    width, height = edit.size
    if width < own[0] or height < own[1]:
        raise ConfigError(
            f"The canvas {width}×{height} is smaller than the photo ({own[0]}×{own[1]}): "
            "extend adds around the photo, so give at least its size on both sides."
        )
    if (width, height) == own:
        raise ConfigError(
            f"The canvas {width}×{height} is the photo's own size: there is nothing to add."
        )
    shrink = min(1.0, (request.pixel_cap / (width * height)) ** 0.5)
    frame = OutputFrame.of(model, max(1, int(own[0] * own[1] * shrink * shrink)))
    photo_w, photo_h = frame.train_size
    multipliers = (width / own[0], height / own[1])
    final = (
        max(photo_w, round(photo_w * multipliers[0])),
        max(photo_h, round(photo_h * multipliers[1])),
    )
    _check_final(final)
    if frame.photo is None:
        sizes = tuple(canvas_sizes(model.sizes, final))
    else:
        sizes = tuple(canvas_sizes(model.sizes, None, multipliers))
    left, top = anchored_offset(final, (photo_w, photo_h), edit.anchor)
    known = placed(frame.photo_pixels(model), final, (left, top))
    # Instant's position prior reads canvas positions in the photo's frame (core.method.canvas)
    frame_fractions = (top / final[1], left / final[0], photo_h / final[1], photo_w / final[0])
    layout = PriorLayout(frame=frame_fractions)
    guidance = known.guidance(model.device)
    base = GenerationPlan(
        request,
        sizes,
        starts,
        options,
        make_guidance=lambda: [guidance],
        denoiser=fill.laid_out(model, layout),
        known=known,
    )
    return frame.with_detail(model, base, final, multipliers)


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
    frame: OutputFrame,
) -> GenerationPlan:
    """Text guidance (docs/method.md §7) on the model's scales, the detail scales above."""
    from core.generation import clip_guidance

    if not edit.prompt.strip():
        raise ConfigError("Write a prompt first.")
    sizes, final, muls = frame.canvas(model, request.size, request.multipliers)
    box = edit.box
    if box is not None and frame.photo is not None:
        box.check_inside(*frame.train_size, "region")
        box = frame.box_to_base(model, box)
    clip, tokenizer = clip_loader(edit.clip_model, edit.clip_weights, model.device)
    text = clip_guidance.plan_text_guidance(
        model,
        clip,
        tokenizer,
        edit.prompt,
        edit.mode,
        edit.strength,
        edit.fill,
        box,
        clip_guidance.ViewSettings(count=max(1, edit.views)),
        request.seed,
        sizes[-1] if request.size is not None or request.multipliers is not None else None,
    )
    if text.injection is not None:  # the image modes draw on the photo's own canvas
        sizes, final, muls = frame.canvas(model, None, None)
    base = GenerationPlan(
        request,
        sizes,
        starts,
        options,
        text.injection,
        make_guidance=text.make_guidance,
        reblur=False,
    )
    return frame.with_detail(model, base, final, muls)


def preview_plan(model: DiffusionModel, seed: int, last_scale: int = 0) -> GenerationPlan:
    """A quick look while training: one image of the training size drawn only up to
    `last_scale` (0: the coarsest), with the model's own sampling and no detail scales."""
    options = model.default_sampling
    sizes = tuple(model.sizes[: last_scale + 1])
    starts = tuple(resolve_start_steps(model, options.start_steps)[: len(sizes)])
    request = GenerationRequest(count=1, seed=seed, batch=1, options=options)
    return GenerationPlan(request, sizes, starts, options)
