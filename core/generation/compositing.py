"""Pasting an object onto a background for harmonisation (docs/method.md §8): numpy and Pillow
only, no torch, so the GUI can compose on its own thread.

`core.generation.editing.harmonization_injection` takes what `paste_object` returns.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.errors import ConfigError
from core.requests import Box

__all__ = ["object_mask_from", "paste_object"]


def object_mask_from(image: Image.Image) -> np.ndarray:
    """The object's shape from its alpha channel (opaque above half), or the whole image when it
    has none: h×w bool."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        return np.asarray(image.getchannel("A")) >= 128
    return np.ones((image.height, image.width), bool)


def paste_object(
    background: np.ndarray, obj: np.ndarray, object_mask: np.ndarray, box: Box
) -> tuple[np.ndarray, np.ndarray]:
    """Paste an object onto a background, as the user placed it, for harmonisation.

    `background`: H×W×3 uint8; `obj`: h×w×3 uint8; `object_mask`: h×w bool, True on the object;
    `box`: where the object lands in background pixels (it may reach past the edges; what lies
    outside is cut off). Object and mask are resized to the box (Lanczos for the pixels, nearest
    for the mask so it stays binary). Returns the composite (H×W×3 uint8) and the mask
    (H×W uint8, 255 on the object), ready for `harmonization_injection`.
    """
    if box.w <= 0 or box.h <= 0:
        raise ConfigError(f"The object's box {box} is empty.")
    height, width = background.shape[:2]
    left, top = max(box.x, 0), max(box.y, 0)
    right, bottom = min(box.x + box.w, width), min(box.y + box.h, height)
    if right <= left or bottom <= top:
        raise ConfigError("The object lies outside the image; move it back onto the canvas.")
    pixels = np.asarray(Image.fromarray(obj).resize((box.w, box.h), Image.Resampling.LANCZOS))
    shape_image = Image.fromarray(object_mask.astype(np.uint8) * 255)
    shape = np.asarray(shape_image.resize((box.w, box.h), Image.Resampling.NEAREST)) > 0
    visible = (slice(top - box.y, bottom - box.y), slice(left - box.x, right - box.x))
    mask = np.zeros((height, width), np.uint8)
    mask[top:bottom, left:right] = shape[visible] * 255
    if not mask.any():
        raise ConfigError("The object's mask is empty: paint over the object, or reset the mask.")
    composite = background.copy()
    region = composite[top:bottom, left:right]
    region[shape[visible]] = pixels[visible][shape[visible]]
    return composite, mask
