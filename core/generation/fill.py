"""What heal, extend and tiles need from a model (docs/method.md §13): the photo with the pixels
to fill blanked out, the patches that read none of them, and a denoiser whose position prior
knows where the photo lies on the canvas.

Heal never reads the pixels under its mask: they are replaced by a smooth fill from the
pixels around them before anything is built from the photo (pyramid, Instant's patches, the
detail scales, the known pixels, the onion-peel start), and every patch whose middle reads one
of them, or a pixel a shrink mixed them into, is excluded. A trained network is the
exception: it learned the whole photo, so it may draw what the mask hid.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.denoisers.instant import InstantModel
from core.denoisers.patch_search import PATCH_ALLOWED, PATCH_EXCLUDED, PATCH_NEAR
from core.denoisers.protocol import DiffusionModel
from core.denoisers.refined import RefinedModel
from core.errors import ConfigError
from core.generation.sampling import Injection
from core.method.canvas import KnownCanvas, PriorLayout, dilate, smooth_fill
from core.method.pyramid import Pyramid, rescale_loss
from core.method.schedule import schedule_for
from core.method.tensors import image_to_tensor

PATCH_CORE = 2
"""A training patch is excluded when the middle (2·PATCH_CORE + 1)² of it reads an unknown
pixel: Instant takes each patch's centre pixel as its value, so a patch whose rim crosses the
(smoothly filled) hole still gives a true pixel, and the coarse scales keep the patches around
the hole (with the whole patch, a 15×15 one excluded 42% of the coarsest scale's patches for a
hole of 9% of the photo, and the fill lost the photo's ridge)."""
HEAL_START_STEP = 40
"""Heal starts at the coarsest scale from the photo with its hole smoothly filled, noised to
this step (of 100), instead of from pure noise: the fill then keeps the colours around the
hole (rock beside rock) and the denoiser draws their detail. From pure noise, the hole took
the photo's commonest content (sky or meadow) with hard edges (docs/method.md §13)."""
HEAL_MAX_PATCH = 7
"""Instant's patches are at most this size when it heals: a hole at the coarsest scale is
as wide as a 15×15 patch, and no other 15×15 patch of the photo looked like the window around
it (the nearest was twice as far as the hole's own), so the fill ignored its surroundings."""
NEAR_HOLE = 1.0
"""Heal's random candidates (patch_search.propagate_candidates) are drawn among the patches
within this many times the hole's larger side of it. Drawn from the whole photo, a sky patch
drawn for a pixel in the middle of a hole in rock won and spread to its neighbours (a blue blot
in the fill, from the first candidate scale on)."""
BLUR_REACH = 2
"""Pixels a bilinear upsample of the scale below (a blurry image x̃, docs/method.md §1) mixes
into its neighbours, counted at the finer scale."""


def laid_out(model: DiffusionModel, layout: PriorLayout) -> DiffusionModel:
    """`model` with its position prior laid out by `layout` (only Instant has one, also inside a
    refiner); any other denoiser as it is."""
    if isinstance(model, InstantModel):
        return model.with_layout(layout)
    if isinstance(model, RefinedModel):
        return RefinedModel(model.network, model.instant.with_layout(layout))
    return model


def hole_of(mask: Image.Image, photo_size: tuple[int, int], accepted: set[tuple[int, int]]):
    """The pixels to fill (H×W bool at `photo_size`, W×H) from a mask image: alpha where it
    has one, else brightness above half. The mask must be one of the `accepted` sizes (the
    photo's, as given or as kept); an empty or full mask is refused."""
    if mask.size not in accepted:
        sizes = " or ".join(f"{w}×{h}" for w, h in sorted(accepted, reverse=True))
        raise ConfigError(
            f"The mask is {mask.width}×{mask.height} but the photo is {sizes}: paint the mask "
            "on the photo itself, at its size."
        )
    grey = mask.getchannel("A") if mask.mode in ("RGBA", "LA", "PA") else mask.convert("L")
    if grey.size != photo_size:  # any pixel the mask touches is to be filled
        grey = grey.point(lambda v: 255 if v > 127 else 0).resize(photo_size, Image.Resampling.BOX)
        hole = np.asarray(grey) > 0
    else:
        hole = np.asarray(grey) > 127
    if not hole.any():
        raise ConfigError("The mask is empty: paint the area to heal in white.")
    if hole.all():
        raise ConfigError(
            "The mask covers the whole photo: heal fills an area from the rest of the photo, "
            "so leave some of it unmasked."
        )
    return hole


def blanked(photo: np.ndarray, hole: np.ndarray) -> KnownCanvas:
    """The photo (H×W×3 uint8) with the hole (H×W bool) filled smoothly from the pixels around
    it (core.method.canvas.smooth_fill): from here on nothing can read what was there, and a shrink
    of the photo mixes the surroundings' colours, not a grey, into the hole's rim."""
    return KnownCanvas(smooth_fill(photo, ~hole), ~hole)


def pyramid_of(known: KnownCanvas, base: Pyramid) -> Pyramid:
    """A pyramid of `base`'s sizes built from the blanked photo, as docs/method.md §1 builds
    one (Lanczos for the sharp levels, bilinear from the level below for the blurry ones), with
    its rescale losses (§2)."""
    photo = Image.fromarray(known.image)
    sharp = [np.asarray(photo.resize(size, Image.Resampling.LANCZOS)) for size in base.sizes]
    blurry = [sharp[0]] + [
        np.asarray(Image.fromarray(sharp[s - 1]).resize(size, Image.Resampling.BILINEAR))
        for s, size in enumerate(base.sizes[1:], start=1)
    ]
    losses = (0.0, *(rescale_loss(sharp[s], blurry[s]) for s in range(1, len(sharp))))
    return replace(
        base,
        sharp=tuple(sharp),
        blurry=tuple(blurry),
        rescale_losses=losses,
        original=known.image,
    )


def excluded_patches(
    known: KnownCanvas, size: tuple[int, int], below: tuple[int, int] | None, patch: int
) -> np.ndarray:
    """How heal may use the k×k patches of a pyramid level (H×W uint8 at `size`, W×H;
    patch_search.AllowedPatches): never those that read an unknown pixel, of its sharp image or
    of its blurry image upsampled from the level `below` (None: none); random candidates are
    drawn among the patches near the hole (NEAR_HOLE)."""
    unknown = known.unknown_at(size)
    near = _near(unknown)
    if below is not None:
        coarse = Image.fromarray(known.unknown_at(below).astype(np.uint8) * 255)
        blurred = np.asarray(coarse.resize(size, Image.Resampling.NEAREST)) > 0
        unknown = unknown | dilate(blurred, BLUR_REACH)
    excluded = dilate(unknown, min(patch // 2, PATCH_CORE))
    use = np.where(near, PATCH_NEAR, PATCH_ALLOWED).astype(np.uint8)
    use[excluded] = PATCH_EXCLUDED
    return use


def _near(unknown: np.ndarray) -> np.ndarray:
    """Pixels within NEAR_HOLE × the hole's larger side of it (chessboard distance)."""
    from scipy import ndimage

    rows, cols = np.nonzero(unknown)
    if rows.size == 0:
        return np.ones_like(unknown)
    reach = NEAR_HOLE * max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    distance = ndimage.distance_transform_cdt(~unknown, metric="chessboard")
    return distance <= reach


def healing(model: DiffusionModel, known: KnownCanvas) -> DiffusionModel:
    """The denoiser that heals: Instant (alone or in a refiner) rebuilt on the blanked photo
    with the patches that read the hole excluded; a trained network as it is."""
    if isinstance(model, RefinedModel):
        return RefinedModel(model.network, _healing_instant(model.instant, known))
    if isinstance(model, InstantModel):
        return _healing_instant(model, known)
    return model


def _healing_instant(model: InstantModel, known: KnownCanvas) -> InstantModel:
    pyramid = pyramid_of(known, model.pyramid)
    sizes = pyramid.sizes
    patch_sizes = tuple(min(k, HEAL_MAX_PATCH) for k in model.settings.patch_sizes)
    settings = replace(model.settings, patch_sizes=patch_sizes)
    excluded = [
        excluded_patches(known, size, sizes[s - 1] if s else None, settings.patch_size(s))
        for s, size in enumerate(sizes)
    ]
    # the schedule's γ and T[s] come from the pyramid (docs/method.md §2): the blanked one's
    schedule = schedule_for(pyramid, model.config)
    return InstantModel(pyramid, schedule, model.config, settings, model.device, excluded)


def heal_start(known: KnownCanvas, size: tuple[int, int], device) -> Injection:
    """Where heal starts: the blanked photo at the coarsest scale's `size` (W, H) with its hole
    drawn from the pixels around it (`onion_fill`), noised to HEAL_START_STEP."""
    image, mask = known.at(size)
    return Injection(image_to_tensor(onion_fill(image, mask), device), 0, HEAL_START_STEP)


ONION_PATCH = 5
"""k of the patches that `onion_fill` compares (its known neighbours, at the coarsest scale)."""


def onion_fill(image: np.ndarray, known: np.ndarray, patch: int = ONION_PATCH) -> np.ndarray:
    """The unknown pixels of `image` (H×W×3 uint8; `known` H×W bool) drawn from the known
    ones, ring by ring from the edge of the hole inwards (the "onion peel" of exemplar-based
    inpainting, Criminisi et al. 2004): each pixel of the hole's current edge takes the centre
    of the fully known k×k patch nearest to its window over the pixels already there. Lines and
    regions reaching the hole are continued into it; nothing unknown is read. Returns H×W×3
    uint8. Meant for small images (the coarsest scale): the cost is pixels × patches."""
    values = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None] / 255
    filled = torch.from_numpy(known.copy())[None, None].float()
    pad = patch // 2
    sources = F.unfold(F.pad(values, (pad,) * 4, mode="replicate"), patch)[0].T  # (P, 3k²)
    inside = F.unfold(F.pad(filled, (pad,) * 4), patch)[0].T.min(dim=1).values > 0
    if not bool(inside.any()):
        return image
    sources = sources[inside]
    height, width = known.shape
    while not bool(filled.all()):
        grown = F.max_pool2d(filled, 3, stride=1, padding=1)
        edge = ((grown > 0) & (filled == 0))[0, 0].reshape(-1).nonzero().squeeze(1)
        windows = F.unfold(F.pad(values * filled, (pad,) * 4), patch)[0].T[edge]  # (E, 3k²)
        weights = F.unfold(F.pad(filled, (pad,) * 4), patch)[0].T[edge].repeat(1, 3)
        # masked SSD: Σ w·(s − q)² = Σ w·s² − 2 Σ w·s·q + const, over the known entries only
        distance = (weights @ sources.square().T) - 2 * ((weights * windows) @ sources.T)
        best = sources[distance.argmin(dim=1)]
        centre = (patch * patch) // 2
        colour = best[:, centre :: patch * patch]  # (E, 3)
        flat = values.reshape(3, -1)
        flat[:, edge] = colour.T
        filled.reshape(-1)[edge] = 1.0
    result = (values[0].permute(1, 2, 0) * 255).round().clamp(0, 255)
    return result.to(torch.uint8).numpy().reshape(height, width, 3)
