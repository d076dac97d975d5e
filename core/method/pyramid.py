"""The sharp and blurry image pyramids and the rescale losses L_s (docs/method.md §1; paper
§3.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.errors import ImageTooSmallError

DEFAULT_MAX_PIXELS = 50_000
DEFAULT_SCALE_FACTOR = 1.411
COARSE_AREA_CONSTANT = 3110
"""Chosen by the authors so that a 35×35 receptive field covers ~40% of the coarsest image."""
MIN_COARSE_SIDE, MAX_COARSE_SIDE = 42, 55
ORIGINAL_MAX_PIXELS = 4096 * 4096
"""The photo is kept at its own resolution up to this many pixels, for the detail scales that
carry its detail above the pyramid (docs/method.md §12); a larger photo is kept shrunk to it."""


@dataclass(frozen=True)
class Pyramid:
    """Training images of every scale, coarsest first (s = 0 .. N-1).

    `sharp[s]` is x^s and `blurry[s]` is x̃^s, both H_s×W_s×3 uint8 arrays. `blurry[0]` is the
    sharp coarsest image (the reference trains s = 0 without mixing). `sizes` are (W, H).
    `rescale_losses[s]` is L_s for s ≥ 1 (0.0 at s = 0). `source_size` is the image that was
    given; `was_capped` says whether the pixel cap shrank it. `original` is the photo itself
    (H×W×3 uint8, at most ORIGINAL_MAX_PIXELS), which the detail scales read (docs/method.md §12);
    None where it is not known (a model file made before they existed).
    """

    sharp: tuple[np.ndarray, ...]
    blurry: tuple[np.ndarray, ...]
    sizes: tuple[tuple[int, int], ...]
    scale_factor: float
    rescale_losses: tuple[float, ...]
    source_size: tuple[int, int]
    original: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def num_scales(self) -> int:
        return len(self.sizes)

    @property
    def was_capped(self) -> bool:
        return self.sizes[-1] != self.source_size


def capped_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Working size under the pixel cap (docs/method.md §1): scale by k = sqrt(W·H/cap) and
    truncate."""
    if width * height <= max_pixels:
        return width, height
    k = math.sqrt(width * height / max_pixels)
    return int(width / k), int(height / k)


def coarsest_short_side(width: int, height: int) -> int:
    """d0 = round(sqrt(3110 · short/long)) clamped to [42, 55] (docs/method.md §1)."""
    short, long = min(width, height), max(width, height)
    d0 = round(math.sqrt(COARSE_AREA_CONSTANT * short / long))
    return min(max(d0, MIN_COARSE_SIDE), MAX_COARSE_SIDE)


def pyramid_geometry(
    width: int, height: int, target_factor: float = DEFAULT_SCALE_FACTOR
) -> tuple[list[tuple[int, int]], float]:
    """Sizes (W, H) of every scale, coarsest first, and the re-fitted factor r (docs/method.md §1).

    `width`×`height` is the working (already capped) size. Raises `ImageTooSmallError` when the
    short side is below the smallest coarsest side (42 px).
    """
    short = min(width, height)
    if short < MIN_COARSE_SIDE:
        raise ImageTooSmallError(
            f"The image is {width}×{height} pixels; SinDDM needs at least {MIN_COARSE_SIDE} "
            "pixels on the short side at its coarsest scale. Use a larger or less elongated image."
        )
    d0 = coarsest_short_side(width, height)
    num_scales = round(math.log(short / d0) / math.log(target_factor)) + 1
    if num_scales <= 1:
        # The reference would divide by zero here; a single scale is plain DDPM on the image.
        return [(width, height)], 1.0
    r = math.exp(math.log(short / d0) / (num_scales - 1))
    sizes = []
    for i in range(num_scales):
        shrink = r ** (num_scales - 1 - i)
        sizes.append((round(width / shrink), round(height / shrink)))
    return sizes, r


def rescale_loss(sharp: np.ndarray, blurry: np.ndarray) -> float:
    """L_s = ||(x^s − x̃^s) mod 256||₂ / numel, exactly as the reference computes it
    (docs/method.md §1).

    DELIBERATE QUIRK: the reference subtracts two uint8 arrays, so negative differences wrap
    around (−3 becomes 253). Those wrapped values make L_s 20–30× larger than a true RMS error,
    and the authors' start steps T[s] and blur schedule γ were tuned on them. We reproduce the
    wrap-around explicitly (not by relying on dtype overflow) so that T[s] matches the paper's
    figures. This is the one place in the project where it happens.
    """
    wrapped = (sharp.astype(np.int64) - blurry.astype(np.int64)) % 256
    return float(np.linalg.norm(wrapped.astype(np.float64)) / wrapped.size)


def check_image_shape(size: tuple[int, int], max_pixels: int, option: str | None = None) -> None:
    """Refuse an image whose short side, once the pixel cap has shrunk it, is below the 42 px
    the coarsest scale needs, naming the image's own size (not the shrunk one) and the cause.
    `option` is the command's pixel-cap option, suggested when raising it would help."""
    width, height = size
    working = capped_size(width, height, max_pixels)
    if min(working) >= MIN_COARSE_SIDE:
        return
    if min(size) < MIN_COARSE_SIDE:
        raise ImageTooSmallError(
            f"The image is {width}×{height} pixels; SinDDM needs at least {MIN_COARSE_SIDE} "
            "pixels on its short side. Use a larger image."
        )
    # k = sqrt(W·H / cap) shrinks both sides: the short side keeps 42 px while cap ≥ W·H·(42/s)².
    needed = math.ceil(width * height * (MIN_COARSE_SIDE / min(size)) ** 2)
    advice = f", or raise {option} to {needed:,}" if option else ""
    raise ImageTooSmallError(
        f"The image is {width}×{height} pixels, too long and thin: shrunk to at most "
        f"{max_pixels:,} pixels it would be {working[0]}×{working[1]}, and SinDDM needs at "
        f"least {MIN_COARSE_SIDE} pixels on its short side. Crop it to a less elongated "
        f"shape{advice}."
    )


def build_pyramid(
    image: Image.Image,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    target_factor: float = DEFAULT_SCALE_FACTOR,
) -> Pyramid:
    """Build both pyramids from an RGB image (docs/method.md §1).

    Every sharp level is a Lanczos downsample of the *original* image (not a cascade), the finest
    one being the pixel-capped image. Each blurry level x̃^s is a bilinear upsample of the sharp
    level s−1, kept as uint8 like the reference's PNGs.
    """
    if image.mode != "RGB":
        raise ValueError(f"build_pyramid expects an RGB image, got mode {image.mode}")
    check_image_shape(image.size, max_pixels)
    working = capped_size(*image.size, max_pixels)
    sizes, r = pyramid_geometry(*working, target_factor)
    sharp_images = [image.resize(size, Image.Resampling.LANCZOS) for size in sizes]
    blurry_images = [sharp_images[0]] + [
        sharp_images[s - 1].resize(sizes[s], Image.Resampling.BILINEAR)
        for s in range(1, len(sizes))
    ]
    sharp = tuple(np.asarray(im, dtype=np.uint8).copy() for im in sharp_images)
    blurry = tuple(np.asarray(im, dtype=np.uint8).copy() for im in blurry_images)
    losses = (0.0, *tuple(rescale_loss(sharp[s], blurry[s]) for s in range(1, len(sizes))))
    return Pyramid(
        sharp=sharp,
        blurry=blurry,
        sizes=tuple(sizes),
        scale_factor=r,
        rescale_losses=losses,
        source_size=image.size,
        original=original_pixels(image),
    )


def original_pixels(image: Image.Image, max_pixels: int = ORIGINAL_MAX_PIXELS) -> np.ndarray:
    """The photo as kept for the detail scales: H×W×3 uint8, Lanczos-shrunk under `max_pixels`
    when larger (docs/method.md §1's cap rule)."""
    size = capped_size(*image.size, max_pixels)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)
