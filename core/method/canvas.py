"""Constraints on what the sampler may draw: seamless tiles, mirror symmetry, and pixels that
are already known (heal, extend). docs/method.md §13.

* `CanvasRules` acts inside the sampler. A wrapped axis (a tile) is made periodic by giving the
  denoiser the canvas circularly padded on that axis and keeping the middle, and by upsampling
  x̃ across the wrap; a mirror axis keeps the first half and mirrors it onto the second after
  every step (the noise too), so the denoiser always sees a symmetric canvas.
* `KnownPixels` is guidance (like eq. 2 with η = 1): at every step, of every scale, x̂₀ takes
  the known image where it is known. The known image at a coarser scale is the full-size one
  shrunk; pixels whose shrinking reads an unknown pixel are unknown there too, so nothing ever
  reads the pixels to fill.
* `PriorLayout` tells a denoiser with a position prior (Instant, docs/method.md §9) where the
  photo lies on the canvas, and which axes are free (a wrapped axis has no "left edge").
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.errors import ConfigError

WRAP_MARGIN = 20
"""Pixels of wrapped canvas the denoiser sees beyond each tiled edge, at least: more than a
trained network's receptive radius (16: four blocks of a 5×5 and two 3×3 convolutions) and
than the largest patch radius of Instant (7)."""
WRAP_FRACTION = 0.1
"""...and at least this share of the side, so that from about 200 pixels on the padded canvases
of two scales are the same picture at two sizes: Instant and the detail scales carry each
pixel's candidates up by its place in the canvas (patch_search.upscale_candidates), and with a
margin of fixed width a 512-pixel gravel tile's candidates came up to 9 pixels off, which the
detail scales' two steps could not mend (the tile was smeared along its wrapped axis)."""
SEAM_BLEND = 3
"""Drawn pixels this close to kept ones (heal's hole rim, extend's photo edge) are blended
towards the kept pixels mirrored across the border (`KnownCanvas.composite`): on gravel and
the painting the first drawn column stepped 2–2.7 times as far as an ordinary one."""
SHRINK_SUPPORT = 1
"""Pixels (at the smaller size) around an unknown pixel that count as unknown at a coarser
scale. A Lanczos shrink reads 3 on each side, but its outer lobes weigh little, and what they
read in a hole is the hole's smooth fill from its surroundings (heal) or black beyond the photo
(extend, where the border pixel is then drawn again)."""


# --------------------------------------------------------------------------- canvas rules


@dataclass(frozen=True)
class CanvasRules:
    """Tile (`wrap_x`, `wrap_y`) and mirror ("x": left–right symmetric, "y": top–bottom) rules
    for one sampling run. Images are (B, C, H, W)."""

    wrap_x: bool = False
    wrap_y: bool = False
    mirror: str | None = None

    @classmethod
    def of(cls, tile: str | None, mirror: str | None) -> CanvasRules | None:
        """The rules of a request's `tile` ("x", "y", "both") and `mirror` ("x", "y"); None
        when it has neither."""
        if tile is None and mirror is None:
            return None
        return cls(tile in ("x", "both"), tile in ("y", "both"), mirror)

    @property
    def wraps(self) -> bool:
        return self.wrap_x or self.wrap_y

    def pad(self, image: torch.Tensor) -> torch.Tensor:
        """`image` with WRAP_MARGIN pixels (at most its own side) of its other side added
        beyond each wrapped edge: (B, C, H + 2m_y, W + 2m_x)."""
        mx, my = self._margins(image)
        if mx:
            image = torch.cat([image[..., -mx:], image, image[..., :mx]], dim=-1)
        if my:
            image = torch.cat([image[..., -my:, :], image, image[..., :my, :]], dim=-2)
        return image

    def crop(self, padded: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The middle of a `pad`ded image, the size of `like`."""
        mx, my = self._margins(like)
        height, width = like.shape[-2:]
        return padded[..., my : my + height, mx : mx + width]

    def _margins(self, image: torch.Tensor) -> tuple[int, int]:
        height, width = image.shape[-2:]
        mx = _margin(width) if self.wrap_x else 0
        my = _margin(height) if self.wrap_y else 0
        return mx, my

    def upsample(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Bilinear resize to `size` (W, H) as F.interpolate (align_corners False, no
        antialias), reading across the wrapped edges instead of clamping at them."""
        width, height = size
        rows = _bilinear_taps(image.shape[-2], height, self.wrap_y, image.device)
        cols = _bilinear_taps(image.shape[-1], width, self.wrap_x, image.device)
        image = _resample_axis(image, -2, rows)
        return _resample_axis(image, -1, cols)

    def project(self, image: torch.Tensor) -> torch.Tensor:
        """The image made symmetric about the mirror axis: its first half (left, or top)
        mirrored onto the second; unchanged without a mirror."""
        if self.mirror is None:
            return image
        dim = -1 if self.mirror == "x" else -2
        side = image.shape[dim]
        half = side // 2
        if half == 0:
            return image
        first = image.narrow(dim, 0, side - half)  # the middle line of an odd side stays
        mirrored = image.narrow(dim, 0, half).flip(dim)
        return torch.cat([first, mirrored], dim=dim)


def _margin(side: int) -> int:
    return min(side, max(WRAP_MARGIN, round(WRAP_FRACTION * side)))


def _bilinear_taps(
    source: int, target: int, wrap: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For `target` output positions along one axis: the two source indices each reads and the
    weight of the second (half-pixel centres, as align_corners=False)."""
    position = (torch.arange(target, device=device) + 0.5) * (source / target) - 0.5
    if not wrap:
        position = position.clamp(min=0)
    low = position.floor()
    weight = position - low
    low = low.long()
    high = low + 1
    if wrap:
        low, high = low % source, high % source
    else:
        low, high = low.clamp(max=source - 1), high.clamp(max=source - 1)
    return low, high, weight


def _resample_axis(
    image: torch.Tensor, dim: int, taps: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    low, high, weight = taps
    shape = [1] * image.dim()
    shape[dim] = -1
    first = image.index_select(dim, low)
    second = image.index_select(dim, high)
    return first + (second - first) * weight.to(image.dtype).view(shape)


# --------------------------------------------------------------------------- prior layout


@dataclass(frozen=True)
class PriorLayout:
    """Where the photo lies on the canvas, for a position prior: `frame` (top, left, height,
    width) as fractions of the canvas (None: the whole canvas), and the axes along which
    position means nothing (`free_y`, `free_x`: a wrapped axis)."""

    frame: tuple[float, float, float, float] | None = None
    free_y: bool = False
    free_x: bool = False

    def positions(self, height: int, width: int) -> torch.Tensor:
        """(H·W, 2) pixel centres (y, x) of an H×W canvas as fractions of the photo, clamped
        to it (a pixel beyond the photo's edge is placed at the edge: extend continues the
        photo's layout outwards); raster order."""
        y = (torch.arange(height) + 0.5) / height
        x = (torch.arange(width) + 0.5) / width
        if self.frame is not None:
            top, left, frame_h, frame_w = self.frame
            y = ((y - top) / frame_h).clamp(0, 1)
            x = ((x - left) / frame_w).clamp(0, 1)
        return torch.stack(torch.meshgrid(y, x, indexing="ij"), dim=-1).reshape(-1, 2)

    def weights(self) -> torch.Tensor:
        """(2,) 0 for a free axis, else 1: multiplies both canvas and training positions."""
        return torch.tensor([0.0 if self.free_y else 1.0, 0.0 if self.free_x else 1.0])


# --------------------------------------------------------------------------- known pixels


class KnownPixels:
    """Guidance that keeps known pixels (heal keeps the photo outside the mask, extend the photo
    itself): x̂₀ ← m·known + (1 − m)·x̂₀ at every step of every scale (docs/method.md §13),
    with the known image and its mask m at each canvas' size (made once per size) from the
    finished image's `known` canvas."""

    def __init__(self, known: KnownCanvas, device):
        self.known = known
        self.device = device
        self._sizes: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def at(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The known image (1, 3, H, W) in [-1, 1] and mask (1, 1, H, W) in {0, 1} at `size`."""
        if size not in self._sizes:
            image, known = self.known.at(size)
            mask = torch.from_numpy(known)[None, None].float().to(self.device)
            self._sizes[size] = (_to_tensor(image, self.device), mask)
        return self._sizes[size]

    def apply(self, x0_pred: torch.Tensor, scale: int, t: int) -> torch.Tensor:
        height, width = x0_pred.shape[-2:]
        image, mask = self.at((width, height))
        return torch.lerp(x0_pred, image.to(x0_pred.dtype), mask.to(x0_pred.dtype))


@dataclass(frozen=True)
class KnownCanvas:
    """The finished image's known pixels: `image` H×W×3 uint8 (anything where unknown) and
    `known` H×W bool."""

    image: np.ndarray
    known: np.ndarray

    def __post_init__(self) -> None:
        if not self.known.any():
            raise ConfigError("Nothing of the photo would be kept: the mask covers all of it.")

    @property
    def size(self) -> tuple[int, int]:
        return self.known.shape[1], self.known.shape[0]

    def unknown_at(self, size: tuple[int, int]) -> np.ndarray:
        """H×W bool at `size` (W, H): pixels that a Lanczos shrink of the canvas to that size
        computes from an unknown pixel (the whole box it covers, widened by SHRINK_SUPPORT).
        At the canvas' own size, exactly the unknown pixels."""
        if size == self.size:
            return ~self.known
        unknown = Image.fromarray((~self.known).astype(np.uint8) * 255)
        touched = np.asarray(unknown.resize(size, Image.Resampling.BOX)) > 0
        return dilate(touched, SHRINK_SUPPORT)

    def at(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The known image shrunk to `size` (W, H) (Lanczos, as a pyramid level) and where it
        is known: (H×W×3 uint8, H×W bool)."""
        if size == self.size:
            return self.image, self.known.copy()
        image = Image.fromarray(self.image).resize(size, Image.Resampling.LANCZOS)
        return np.asarray(image), ~self.unknown_at(size)

    def guidance(self, device) -> KnownPixels:
        """`KnownPixels` that keep these pixels on every canvas of a run."""
        return KnownPixels(self, device)

    def hole_data_url(self) -> str:
        """The unknown pixels as a 1-bit PNG (white: unknown) in a data URL: a few hundred bytes
        for a box at 4 megapixels."""
        buffer = io.BytesIO()
        Image.fromarray(~self.known).convert("1").save(buffer, format="PNG", optimize=True)
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def composite(self, image: np.ndarray) -> np.ndarray:
        """`image` (H×W×3 uint8, the canvas' size) with every known pixel set to the known
        one, exactly, and the drawn pixels within SEAM_BLEND of them blended towards the known
        pixels mirrored across the border (`_mirrored_border`)."""
        blended = _mirrored_border(image, self.image, self.known)
        return np.where(self.known[..., None], self.image, blended)


def _mirrored_border(image: np.ndarray, known_image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`image` with each drawn pixel at distance d ≤ SEAM_BLEND from the known pixels mixed
    with the known image mirrored across the border (the first drawn pixel takes the last kept
    one, the second the one before it, along the line to the nearest kept pixel), weight
    1 − d/(SEAM_BLEND + 1). The drawn texture meets the kept one
    without a step where a fine texture's edges could not line up (docs/method.md §13). Reads
    known pixels only."""
    from scipy import ndimage

    distance, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
    band = ~known & (distance <= SEAM_BLEND)
    if not band.any():
        return image
    y, x = np.nonzero(band)
    ky, kx = rows[y, x], cols[y, x]
    height, width = known.shape
    # mirrored about the border, half a pixel beyond the nearest kept pixel k: k − (p − k) + u,
    # with u the unit step from k towards p
    dy, dx = y - ky, x - kx
    step = np.maximum(np.abs(dy), np.abs(dx))
    uy, ux = np.round(dy / step).astype(int), np.round(dx / step).astype(int)
    my = np.clip(ky - dy + uy, 0, height - 1)
    mx = np.clip(kx - dx + ux, 0, width - 1)
    mirrored = np.where(known[my, mx, None], known_image[my, mx], known_image[ky, kx])
    weight = (1 - distance[y, x] / (SEAM_BLEND + 1))[:, None]
    result = image.copy()
    mixed = weight * mirrored.astype(np.float64) + (1 - weight) * image[y, x]
    result[y, x] = np.round(mixed).astype(np.uint8)
    return result


def _to_tensor(image: np.ndarray, device) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float() / 127.5 - 1
    return tensor[None].to(device)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """A H×W bool mask grown by `radius` pixels (a square neighbourhood)."""
    if radius <= 0 or not mask.any():
        return mask
    tensor = torch.from_numpy(mask)[None, None].float()
    grown = F.max_pool2d(tensor, 2 * radius + 1, stride=1, padding=radius)
    return grown[0, 0].numpy() > 0


# ----------------------------------------------------------------------------- placement

ANCHOR_FRACTIONS = {
    "center": (0.5, 0.5),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "top-left": (0.0, 0.0),
    "top-right": (1.0, 0.0),
    "bottom-left": (0.0, 1.0),
    "bottom-right": (1.0, 1.0),
}
"""(x, y) of an anchor: where the photo sits along each axis of a larger canvas (0: at the
start, 1: at the end)."""


def anchored_offset(
    canvas: tuple[int, int], photo: tuple[int, int], anchor: str
) -> tuple[int, int]:
    """(left, top) of a `photo` (W, H) placed on a `canvas` (W, H) at `anchor`."""
    fx, fy = ANCHOR_FRACTIONS[anchor]
    return round((canvas[0] - photo[0]) * fx), round((canvas[1] - photo[1]) * fy)


def placed(photo: np.ndarray, canvas: tuple[int, int], offset: tuple[int, int]) -> KnownCanvas:
    """The `photo` (H×W×3 uint8) placed at `offset` (left, top) on a black `canvas` (W, H)."""
    width, height = canvas
    left, top = offset
    image = np.zeros((height, width, 3), np.uint8)
    known = np.zeros((height, width), bool)
    ph, pw = photo.shape[:2]
    image[top : top + ph, left : left + pw] = photo
    known[top : top + ph, left : left + pw] = True
    return KnownCanvas(image, known)


def smooth_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`image` (H×W×3 uint8) with its unknown pixels (`known` False) filled smoothly from the
    known ones around them, by push–pull: known pixels are averaged down a pyramid of halvings
    until every cell has some, and each level's gaps are filled from the level above. Reads no
    unknown pixel. Returns H×W×3 uint8."""
    values = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    weight = torch.from_numpy(known.astype(np.float32))[None, None]
    filled = _push_pull(values * weight, weight)
    result = torch.where(weight > 0, values, filled)
    return result[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _push_pull(weighted: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Values (weighted sums over `weight`) filled where the weight is 0: (1, C, H, W)."""
    height, width = weight.shape[-2:]
    average = weighted / weight.clamp(min=1e-8)
    if bool((weight > 0).all()) or min(height, width) <= 1:
        return average
    coarse = _push_pull(
        F.avg_pool2d(weighted, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True)
    )
    up = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return torch.where(weight > 0, average, up)
