"""Text guidance with CLIP (docs/method.md §7; paper §3.3, eq. 3), through open_clip.

`ClipScorer` turns x̂₀ into 16 augmented views and measures their cosine distance to prompt
templates. `ClipGuidance` is the per-step update: a mask from the first gradient's top-f
energy, an adaptive step δ = ‖x̂₀⊙m‖ / ‖g⊙m‖, momentum towards the previous guided estimate,
and no guidance in the last 3 steps of the finest scale.

Non-square views: the ViT's positional embeddings are resized bicubically to the view's patch
grid (rows and columns in their true order; the reference's helper swaps them for non-square
inputs). Models without a ViT tower get square views instead.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from core.errors import SinDDMError
from core.generation.clip_weights import GuidanceUnavailableError, is_local_file, load_failure
from core.requests import check_text_mode

if TYPE_CHECKING:
    from core.generation.sampling import Injection, X0Guidance

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HIGH_QUALITY_TEMPLATES = (
    "photo of {}.",
    "high quality photo of {}.",
    "a photo of {}.",
    "the photo of {}.",
    "image of {}.",
    "an image of {}.",
    "high quality image of {}.",
    "a high quality image of {}.",
    "the {}.",
    "a {}.",
    "{}.",
    "{}",
    "{}!",
    "{}...",
)
LOW_QUALITY_TEMPLATES = (
    *(
        f"{article}{quality} {kind} of {{}}."
        for quality in ("low quality", "low resolution", "low-res", "blurry", "pixelated")
        for kind in ("photo", "image")
        for article in ("a ", "")
    ),
    *("the {}.", "a {}.", "{}.", "{}", "{}!", "{}..."),
)
LOSS_WEIGHT = 1.2
STOP_GUIDANCE_STEPS = 3


def load_clip(
    model_name: str = "ViT-B-32",
    weights: str = "openai",
    device: torch.device | str = "cpu",
    cache_dir: str | None = None,
):
    """An open_clip model and tokenizer, frozen, in eval mode.

    `weights` is an open_clip tag (downloaded and cached on first use; open_clip then finds it
    in its cache, offline too) or a local file.
    """
    import open_clip

    if is_local_file(weights):
        if not os.path.isfile(os.path.expanduser(weights)):
            raise GuidanceUnavailableError(f"No CLIP weights file at {weights}.")
        weights = os.path.expanduser(weights)
    try:
        model = open_clip.create_model(
            model_name,
            pretrained=weights,
            device=device,
            cache_dir=cache_dir,
            require_pretrained=True,
        )
    except Exception as exc:  # network, file and format errors all end here
        # one line, for the CLI and the app alike: torch's own text can be 14 KB of keys
        raise GuidanceUnavailableError(load_failure(model_name, weights, exc)) from exc
    return model.eval().requires_grad_(False), open_clip.get_tokenizer(model_name)


@dataclass(frozen=True)
class ViewSettings:
    count: int = 16
    short_side: int = 224
    long_side_max: int = 320


class ClipScorer:
    """The CLIP loss of docs/method.md §7 for a batch of images in [0, 1]."""

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str,
        templates=HIGH_QUALITY_TEMPLATES,
        views: ViewSettings = ViewSettings(),
        seed: int = 0,
    ):
        if not prompt.strip():
            raise SinDDMError("The prompt is empty: describe what to add, e.g. 'fire'.")
        self.model = model
        self.views = views
        self.rng = random.Random(seed)
        self.generator = torch.Generator().manual_seed(seed)
        device = next(model.parameters()).device
        tokens = tokenizer([template.format(prompt) for template in templates]).to(device)
        with torch.no_grad():
            self.text = F.normalize(model.encode_text(tokens).float(), dim=-1)
        self.mean = torch.tensor(CLIP_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD, device=device).view(1, 3, 1, 1)

    def view_size(self, height: int, width: int) -> tuple[int, int]:
        """Short side 224 unless the long side would pass 320 (docs/method.md §7, view 1)."""
        scale = self.views.short_side / min(height, width)
        if max(height, width) * scale > self.views.long_side_max:
            scale = self.views.long_side_max / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def make_views(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (count, 3, h*, w*) augmented views (differentiable)."""
        height, width = image.shape[-2:]
        size = self.view_size(height, width)
        views = [F.interpolate(image[None], size=size, mode="bilinear", antialias=True)]
        for _ in range(self.views.count - 1):
            u = self.rng.uniform(0.6, 1.0)
            h, w = max(1, int(height * u)), max(1, int(width * u))
            top, left = self.rng.randint(0, height - h), self.rng.randint(0, width - w)
            crop = image[None, :, top : top + h, left : left + w]
            views.append(F.interpolate(crop, size=size, mode="bilinear", antialias=True))
        out = []
        for view in views:
            if self.rng.random() < 0.5:
                view = view.flip(-1)
            if self.rng.random() < 0.8:
                view = self._affine(view)
            if self.rng.random() < 0.5:
                view = self._perspective(view)
            if self.rng.random() < 0.7:
                view = self._jitter(view)
            if self.rng.random() < 0.15:
                view = _grey(view).expand_as(view)
            out.append(view)
        return torch.cat(out)

    def _affine(self, view: torch.Tensor) -> torch.Tensor:
        """RandomAffine(±15°, translate 10%), white fill."""
        h, w = view.shape[-2:]
        angle = math.radians(self.rng.uniform(-15, 15))
        tx, ty = self.rng.uniform(-0.1, 0.1) * w, self.rng.uniform(-0.1, 0.1) * h
        cos, sin = math.cos(angle), math.sin(angle)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # Output pixel -> source pixel: the inverse rotation about the centre, after the shift.
        inverse = [[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]]
        shift = [[1.0, 0.0, -cx - tx], [0.0, 1.0, -cy - ty], [0.0, 0.0, 1.0]]
        back = [[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]]
        matrix = torch.tensor(back) @ torch.tensor(inverse) @ torch.tensor(shift)
        return _warp(view, matrix)

    def _perspective(self, view: torch.Tensor, distortion: float = 0.4) -> torch.Tensor:
        """RandomPerspective: each corner moves inwards by up to distortion·half the side."""
        h, w = view.shape[-2:]
        dx, dy = int(distortion * w / 2), int(distortion * h / 2)
        r = self.rng.randint
        start = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
        end = [
            [r(0, dx), r(0, dy)],
            [w - 1 - r(0, dx), r(0, dy)],
            [w - 1 - r(0, dx), h - 1 - r(0, dy)],
            [r(0, dx), h - 1 - r(0, dy)],
        ]
        return _warp(view, _homography(end, start))

    def _jitter(self, view: torch.Tensor) -> torch.Tensor:
        """ColorJitter(0.1, 0.1, 0.1, 0.1), written out-of-place so gradients flow."""
        view = view * self.rng.uniform(0.9, 1.1)
        grey = _grey(view)
        view = grey.mean(dim=(-2, -1), keepdim=True) + (
            view - grey.mean(dim=(-2, -1), keepdim=True)
        ) * self.rng.uniform(0.9, 1.1)
        grey = _grey(view)
        view = grey + (view - grey) * self.rng.uniform(0.9, 1.1)
        return _rotate_hue(view, self.rng.uniform(-0.1, 0.1)).clamp(0, 1)

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        views = (views - self.mean) / self.std
        return F.normalize(encode_any_size(self.model.visual, views).float(), dim=-1)

    def loss(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) in [0, 1]. Σ_images mean over picked templates of
        1.2·(1 − mean over views of cos(view, text))."""
        count = self.rng.randint(1, self.text.shape[0])
        picks = [self.rng.randrange(self.text.shape[0]) for _ in range(count)]
        text = self.text[picks]
        total = images.new_zeros(())
        for image in images:
            similarity = self.encode(self.make_views(image)) @ text.T  # (views, picks)
            total = total + (LOSS_WEIGHT * (1 - similarity.mean(0))).sum() / count
        return total


def _grey(view: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, (B, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=view.device, dtype=view.dtype)
    return (view * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _warp(view: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Resample `view` (B, 3, H, W) where output pixel (x, y, 1) reads source matrix·(x, y, 1)
    (projective), bilinearly, with white outside."""
    h, w = view.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ matrix.float().T
    src_x, src_y = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
    grid = torch.stack([(2 * src_x + 1) / w - 1, (2 * src_y + 1) / h - 1], dim=-1)
    grid = grid.to(view)[None].expand(view.shape[0], -1, -1, -1)
    # Sampling (view − 1) with zero padding and adding 1 back fills the outside with white.
    return F.grid_sample(view - 1, grid, mode="bilinear", align_corners=False) + 1


def _homography(source: list, target: list) -> torch.Tensor:
    """The 3×3 projective map taking the 4 `source` points to the 4 `target` points."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    solution = torch.linalg.solve(
        torch.tensor(rows, dtype=torch.float64), torch.tensor(values, dtype=torch.float64)
    )
    return torch.cat([solution, torch.ones(1, dtype=torch.float64)]).view(3, 3)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _rotate_hue(view: torch.Tensor, shift: float) -> torch.Tensor:
    """Shift hue by `shift` of a full turn as a rotation of the YIQ chroma plane: a smooth
    stand-in for ColorJitter's HSV hue shift, whose torchvision version cannot backpropagate."""
    angle = 2 * math.pi * shift
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    matrix = (torch.linalg.inv(_RGB_TO_YIQ) @ rotation @ _RGB_TO_YIQ).to(view)
    return torch.einsum("ij,bjhw->bihw", matrix, view)


def encode_any_size(visual, views: torch.Tensor) -> torch.Tensor:
    """Run open_clip's ViT on views of any size by resizing its positional embeddings to the
    views' patch grid (bicubic, rows and columns kept apart). Other towers get square views."""
    needed = ("conv1", "class_embedding", "positional_embedding", "transformer", "_pool")
    if not all(hasattr(visual, name) for name in needed):
        side = getattr(visual, "image_size", (224, 224))
        side = side if isinstance(side, tuple | list) else (side, side)
        return visual(F.interpolate(views, size=tuple(side), mode="bilinear", antialias=True))
    x = visual.conv1(views.to(visual.conv1.weight.dtype))
    rows, cols = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)
    pos = visual.positional_embedding
    grid = math.isqrt(pos.shape[0] - 1)
    patch_pos = pos[1:].reshape(grid, grid, -1).permute(2, 0, 1)[None]
    patch_pos = F.interpolate(patch_pos, size=(rows, cols), mode="bicubic", align_corners=False)
    pos = torch.cat([pos[:1], patch_pos[0].flatten(1).T])
    cls = visual.class_embedding.expand(x.shape[0], 1, -1).to(x.dtype)
    x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
    x = visual.ln_pre(visual.patch_dropout(x))
    x = visual.transformer(x)
    pooled, _ = visual._pool(x)
    return pooled @ visual.proj if visual.proj is not None else pooled


class ClipGuidance:
    """The guided step of docs/method.md §7, applied to x̂₀ inside each diffusion step."""

    def __init__(
        self,
        scorer: ClipScorer,
        scales: set[int],
        last_scale: int,
        strength: float,
        fill: float,
        momentum: float,
    ):
        if not 0.0 <= strength <= 1.0 or not 0.0 < fill <= 1.0:
            raise SinDDMError("Strength must lie in 0..1 and the fill factor in (0, 1].")
        self.scorer = scorer
        self.scales = scales
        self.last_scale = last_scale
        self.strength = strength
        self.fill = fill
        self.momentum = momentum
        self.mask: torch.Tensor | None = None
        self.previous: torch.Tensor | None = None
        self.losses: list[float] = []

    def active(self, scale: int, t: int) -> bool:
        return scale in self.scales and (scale < self.last_scale or t >= STOP_GUIDANCE_STEPS)

    def apply(self, x0_pred: torch.Tensor, scale: int, t: int) -> torch.Tensor:
        if self.strength == 0 or not self.active(scale, t):
            return x0_pred  # strength 0 is "off": no momentum either
        x0 = x0_pred.clamp(-1, 1)
        self._follow_scale(x0.shape[-2:])
        if self.mask is not None:  # momentum towards the previous guided estimate
            assert self.previous is not None  # set with the mask
            blended = (1 - self.momentum) * self.previous + self.momentum * x0
            x0 = (1 - self.mask) * x0 + self.mask * blended
        gradient = self._descent_direction(x0)
        if self.mask is None:
            gradient = self._make_mask(gradient)
        assert self.mask is not None  # _make_mask sets it
        masked = gradient * self.mask
        delta = _norm(x0 * self.mask) / _norm(masked).clamp_min(1e-12)
        x0 = (x0 + self.strength * delta * masked).clamp(-1, 1)
        self.previous = x0.detach()
        return x0

    def _descent_direction(self, x0: torch.Tensor) -> torch.Tensor:
        """g = ∂(−L)/∂x̂₀ for the CLIP loss of the image mapped to [0, 1]."""
        with torch.enable_grad():
            leaf = x0.detach().requires_grad_(True)
            loss = self.scorer.loss((leaf + 1) / 2)
            (gradient,) = torch.autograd.grad(-loss, leaf)
        self.losses.append(float(loss.detach()))
        return gradient

    def _make_mask(self, gradient: torch.Tensor) -> torch.Tensor:
        """First guided step: mask = energy above its (1 − f) quantile; soft-threshold g."""
        energy = gradient.norm(dim=1, keepdim=True)
        flat = energy.flatten(1)
        level = torch.quantile(flat, 1 - self.fill, dim=1, interpolation="nearest")
        level = level.view(-1, 1, 1, 1)
        self.mask = (energy > level).float()
        if self.fill >= 1.0:
            self.mask = torch.ones_like(energy)
        return (energy - level).clamp_min(0) * gradient / energy.clamp_min(1e-12)

    def _follow_scale(self, size) -> None:
        """Carry the mask and the previous estimate up the scales (bilinear, so soft edges)."""
        if self.mask is not None and self.mask.shape[-2:] != size:
            assert self.previous is not None  # set with the mask
            self.mask = F.interpolate(self.mask, size=size, mode="bilinear", align_corners=False)
            self.previous = F.interpolate(
                self.previous, size=size, mode="bilinear", align_corners=False
            )


def _norm(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


REGION_ITERATIONS = 100
REGION_STEP = 0.1
REGION_START_STEP = 3


@dataclass
class TextPlan:
    """How to sample for one text mode: guidance factory, optional injection, canvas size."""

    make_guidance: Callable[[], list[X0Guidance]]
    """A fresh list of guidance objects per batch (the mask is per run)."""
    injection: Injection | None
    size: tuple[int, int] | None


def plan_text_guidance(
    model,
    clip,
    tokenizer,
    prompt: str,
    mode: str = "content",
    strength: float | None = None,
    fill: float | None = None,
    box=None,
    views: ViewSettings = ViewSettings(),
    seed: int = 0,
    size: tuple[int, int] | None = None,
) -> TextPlan:
    """The per-mode settings of docs/method.md §7. All modes sample with reblurring off (plain
    DDPM steps)."""
    from core.generation.sampling import Injection
    from core.method.tensors import image_to_tensor

    check_text_mode(mode)
    last = model.num_scales - 1

    def guidance(scales, eta, f, momentum, text):
        def make():
            scorer = ClipScorer(clip, tokenizer, text, HIGH_QUALITY_TEMPLATES, views, seed)
            return [ClipGuidance(scorer, scales, last, eta, f, momentum)]

        make()  # fail now on an empty prompt, not in the middle of a run
        return make

    if mode == "content":
        make = guidance(
            set(range(1, last + 1)),
            0.3 if strength is None else strength,
            0.3 if fill is None else fill,
            0.2,
            prompt,
        )
        return TextPlan(make, None, size)
    style = guidance({last}, 0.3 if strength is None else strength, 1.0, 0.05, f"{prompt} Style")
    if mode == "style":
        return TextPlan(style, None, size)
    if mode == "style-image":
        source = model.pyramid.sharp[max(last - 1, 0)]
        injection = Injection(
            image_to_tensor(source, model.device), last, model.schedule.start_steps[last]
        )
        return TextPlan(style, injection, model.sizes[-1])
    edited = edit_region(model, clip, tokenizer, prompt, box, views, seed)
    injection = Injection(edited, last, REGION_START_STEP)
    return TextPlan(lambda: [], injection, model.sizes[-1])


def edit_region(model, clip, tokenizer, prompt, box, views, seed) -> torch.Tensor:
    """clip_roi (docs/method.md §7): 100 CLIP steps on the boxed crop of the training image,
    pasted back. Returns (1, 3, H, W) in [-1, 1]."""
    from core.method.tensors import image_to_tensor

    if box is None:
        raise SinDDMError("The region mode needs a box on the training image (--box x,y,w,h).")
    width, height = model.sizes[-1]
    box.check_inside(width, height, "region")
    image = image_to_tensor(model.pyramid.sharp[-1], model.device)
    scorer = ClipScorer(clip, tokenizer, prompt, LOW_QUALITY_TEMPLATES, views, seed)
    crop = image[..., box.y : box.y + box.h, box.x : box.x + box.w].clone()
    for _ in range(REGION_ITERATIONS):
        with torch.enable_grad():
            leaf = crop.detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(-scorer.loss((leaf + 1) / 2), leaf)
        step = REGION_STEP * _norm(crop) / _norm(gradient).clamp_min(1e-12)
        crop = (crop + step * gradient).clamp(-1, 1)
    image[..., box.y : box.y + box.h, box.x : box.x + box.w] = crop
    return image
