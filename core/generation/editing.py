"""Image-guided generation and editing (docs/method.md §6 and §8; paper §3.3 and eq. 2).

* `RoiGuidance`: regions of the training image placed on the canvas; each diffusion step pulls
  x̂₀ inside the target boxes towards the source content (eq. 2), at every scale but the finest.
* `style_transfer_injection` / `harmonization_injection`: an image injected at one scale and
  denoised from a small t, with histogram matching (style transfer) or a soft mask that blends
  the result back (harmonisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.denoisers.protocol import DiffusionModel
from core.errors import ConfigError
from core.generation.compositing import object_mask_from, paste_object
from core.generation.sampling import Injection
from core.method.pyramid import capped_size
from core.method.tensors import image_to_tensor
from core.requests import DEFAULT_ROI_STRENGTH, HARMONIZATION_STEP, STYLE_TRANSFER_STEP, Box

__all__ = [
    "DEFAULT_ROI_STRENGTH",
    "HARMONIZATION_STEP",
    "STYLE_TRANSFER_STEP",
    "Box",
    "object_mask_from",
    "paste_object",
]


class RoiGuidance:
    """Eq. (2): x̂₀[box] ← η·target + (1 − η)·x̂₀[box] at scales 0 .. N−2 (docs/method.md §6).

    `pairs` holds (source box on the training image, target box on the canvas), both in
    finest-scale pixels. The source patch is cut from the sharp training image of each scale
    and resized (nearest) to the target box at that scale.
    """

    def __init__(
        self,
        model: DiffusionModel,
        canvas: list[tuple[int, int]],
        pairs: list[tuple[Box, Box]],
        strength: float = DEFAULT_ROI_STRENGTH,
    ):
        if not pairs:
            raise ConfigError("Place at least one region.")
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"The strength must lie between 0 and 1, not {strength}.")
        train_w, train_h = model.sizes[-1]
        canvas_w, canvas_h = canvas[-1]
        for source, target in pairs:
            source.check_inside(train_w, train_h, "source")
            target.check_inside(canvas_w, canvas_h, "target")
        self.strength = strength
        self.last_scale = model.num_scales - 1
        self.targets = [
            self._scale_targets(model, canvas, s, pairs) for s in range(self.last_scale)
        ]

    @staticmethod
    def _scale_targets(model, canvas, scale, pairs) -> list[tuple[Box, torch.Tensor]]:
        factor = 1 / model.pyramid.scale_factor ** (model.num_scales - 1 - scale)
        sharp = image_to_tensor(model.pyramid.sharp[scale], model.device)
        width, height = canvas[scale]
        targets = []
        for source, target in pairs:
            src, dst = source.scaled(factor), target.scaled(factor)
            dst = Box(dst.x, dst.y, min(dst.w, width - dst.x), min(dst.h, height - dst.y))
            patch = sharp[..., src.y : src.y + src.h, src.x : src.x + src.w]
            if min(dst.w, dst.h, patch.shape[-1], patch.shape[-2]) <= 0:
                continue  # too small to exist at this scale
            targets.append((dst, F.interpolate(patch, size=(dst.h, dst.w), mode="nearest")))
        return targets

    def apply(self, x0_pred: torch.Tensor, scale: int, t: int) -> torch.Tensor:
        if scale >= self.last_scale:
            return x0_pred
        x0_pred = x0_pred.clone()
        for box, patch in self.targets[scale]:
            region = x0_pred[..., box.y : box.y + box.h, box.x : box.x + box.w]
            region.mul_(1 - self.strength).add_(self.strength * patch)
        return x0_pred


def match_histograms(content: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map each RGB channel of `content` so its distribution matches `reference`'s (as
    skimage's match_histograms with channel_axis=2). Both H×W×3 uint8."""
    matched = np.empty_like(content)
    for c in range(3):
        _, inverse, counts = np.unique(
            content[..., c].ravel(), return_inverse=True, return_counts=True
        )
        ref_values, ref_counts = np.unique(reference[..., c].ravel(), return_counts=True)
        quantiles = np.cumsum(counts) / content[..., c].size
        ref_quantiles = np.cumsum(ref_counts) / reference[..., c].size
        mapped = np.interp(quantiles, ref_quantiles, ref_values)
        matched[..., c] = np.round(mapped[inverse]).reshape(content.shape[:2]).astype(np.uint8)
    return matched


def harmonization_mask(mask: np.ndarray, radius: int = 7, sigma: float = 5.0) -> np.ndarray:
    """Soft mask around a pasted object (docs/method.md §8): binary dilation with a disk of
    `radius`, a Gaussian blur of `sigma`, then min-max scaling to [0, 1]. `mask`: H×W, non-zero =
    object."""
    from scipy import ndimage

    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = xx**2 + yy**2 <= radius**2
    if not (mask > 0).any():
        raise ConfigError("The mask is empty: paint or load the object's outline.")
    dilated = ndimage.binary_dilation(mask > 0, structure=disk)
    soft = ndimage.gaussian_filter(dilated.astype(np.float64), sigma)
    span = soft.max() - soft.min()
    if dilated.all() or span <= 0:
        raise ConfigError(
            "The mask covers the whole image: harmonisation blends an object into the picture "
            "around it, so mark only the object."
        )
    return ((soft - soft.min()) / span).astype(np.float32)


def _capped(image: Image.Image, model: DiffusionModel) -> Image.Image:
    size = capped_size(*image.size, model.config.max_pixels)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def style_transfer_injection(
    model: DiffusionModel,
    content: Image.Image,
    start_step: int = STYLE_TRANSFER_STEP,
    scale: int | None = None,
    match: bool = True,
) -> tuple[Injection, tuple[int, int]]:
    """The content image, capped like a training image and (by default) histogram-matched to
    the training image, ready to inject; returns it with the output size (W, H)."""
    content = _capped(content.convert("RGB"), model)
    pixels = np.asarray(content)
    if match:
        pixels = match_histograms(pixels, model.pyramid.sharp[-1])
    scale = model.num_scales - 1 if scale is None else scale
    image = image_to_tensor(pixels, model.device)
    return Injection(image, scale, start_step), content.size


@dataclass(frozen=True)
class Harmonization:
    """What `harmonize` needs: the injection, the composite and its soft mask."""

    injection: Injection
    composite: torch.Tensor
    """(1, 3, H, W) in [-1, 1]."""
    mask: torch.Tensor
    """(1, 1, H, W) in [0, 1]: 1 where the object is."""
    size: tuple[int, int]

    def blend(self, sample: torch.Tensor) -> torch.Tensor:
        """mask·sample + (1 − mask)·composite (docs/method.md §8)."""
        return self.mask * sample + (1 - self.mask) * self.composite

    def at_size(self, composite: Image.Image, size: tuple[int, int]) -> Harmonization:
        """The same blend for finished images of `size` (W, H) (the detail scales', docs/method.md
        §12): the composite resized from the full `composite` image, the soft mask enlarged
        from this one (so the blend's border keeps its width relative to the image)."""
        width, height = size
        resized = composite.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        image = image_to_tensor(np.asarray(resized), self.composite.device)
        mask = F.interpolate(self.mask, size=(height, width), mode="bilinear", align_corners=False)
        return Harmonization(self.injection, image, mask.clamp(0, 1), size)


def harmonization_injection(
    model: DiffusionModel,
    composite: Image.Image,
    mask: Image.Image,
    start_step: int = HARMONIZATION_STEP,
) -> Harmonization:
    """Prepare harmonisation of an object pasted on a background; the mask marks the object."""
    if composite.size != mask.size:
        raise ConfigError(
            f"The mask is {mask.width}×{mask.height} but the image is "
            f"{composite.width}×{composite.height}; they must be the same size."
        )
    composite = _capped(composite.convert("RGB"), model)
    # A mask with transparency marks the object by its alpha; otherwise by its brightness.
    grey = mask.getchannel("A") if mask.mode in ("RGBA", "LA", "PA") else mask.convert("L")
    mask_pixels = np.asarray(grey.resize(composite.size, Image.Resampling.LANCZOS))
    soft = torch.from_numpy(harmonization_mask(mask_pixels))[None, None].to(model.device)
    image = image_to_tensor(np.asarray(composite), model.device)
    injection = Injection(image, model.num_scales - 1, start_step)
    return Harmonization(injection, image, soft, composite.size)
