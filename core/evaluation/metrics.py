"""Quality metrics for single-image generation that need no downloaded weights.

All functions take H×W×3 uint8 images (the training image is the `reference`) and work on the
CPU in float32 with values in [0, 1]. Distances between patches are RMS differences per value,
so 0.1 means an average difference of 10% of the intensity range. Lower is better for every
distance; pixel diversity has no "better", only a range (SinDDM's Table 1: 0.3 ± 0.1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ConfigError


def _tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 -> (3, H, W) float32 in [0, 1]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ConfigError(f"Expected an H×W×3 8-bit RGB image, got {image.dtype} {image.shape}.")
    # Copies: inputs may be read-only or flipped views (negative strides).
    return torch.tensor(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def pixel_diversity(samples: list[np.ndarray], reference: np.ndarray) -> float:
    """SinGAN's diversity (Shaham et al. 2019, §4), as reported in SinDDM's Table 1.

    The standard deviation of each pixel's value across the samples, averaged over all pixels and
    channels, divided by the standard deviation of the training image's pixel values. 0 for
    identical samples. All samples must have the same size (the reference may differ).
    """
    if len(samples) < 2:
        raise ConfigError("Pixel diversity needs at least 2 samples.")
    shapes = {s.shape for s in samples}
    if len(shapes) != 1:
        raise ConfigError("Pixel diversity needs samples of one size.")
    stack = torch.stack([_tensor(s) for s in samples])
    per_pixel = stack.std(dim=0, unbiased=False).mean()
    return float(per_pixel / _tensor(reference).std(unbiased=False).clamp_min(1e-8))


def extract_patches(image: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """(3, H, W) -> (N, 3·size·size): every size×size patch at the given stride."""
    patches = F.unfold(image.unsqueeze(0), kernel_size=size, stride=stride)
    return patches[0].T.contiguous()


def _downscale(image: torch.Tensor) -> torch.Tensor:
    """Halve an image with antialiasing: (3, H, W) -> (3, H/2, W/2)."""
    h, w = image.shape[-2:]
    size = (max(h // 2, 1), max(w // 2, 1))
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, projections: int = 128, seed: int = 0
) -> float:
    """Sliced Wasserstein-1 distance between two point sets (N, D) and (M, D).

    Both sets are projected on the same random unit directions; each 1-D distance compares
    matching quantiles (Rabin et al. 2011; used on patches by GPDM, Elnekave & Weiss 2022).
    """
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(x.shape[1], projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    px, _ = torch.sort(x @ directions, dim=0)
    py, _ = torch.sort(y @ directions, dim=0)
    count = min(px.shape[0], py.shape[0])
    quantiles = torch.linspace(0, 1, count)
    px = px[(quantiles * (px.shape[0] - 1)).round().long()]
    py = py[(quantiles * (py.shape[0] - 1)).round().long()]
    return float((px - py).abs().mean())


def patch_distance(
    sample: np.ndarray,
    reference: np.ndarray,
    patch: int = 7,
    levels: int = 3,
    projections: int = 128,
    seed: int = 0,
) -> float:
    """Multi-scale patch-distribution distance: the sliced Wasserstein distance between all
    patch×patch patches of the sample and of the reference, averaged over `levels` scales (each
    half the previous), as in GPDM's loss. 0 when the patch statistics match."""
    a, b = _tensor(sample), _tensor(reference)
    total, used = 0.0, 0
    for level in range(levels):
        if min(*a.shape[-2:], *b.shape[-2:]) < patch:
            break
        total += sliced_wasserstein(
            extract_patches(a, patch), extract_patches(b, patch), projections, seed + level
        )
        used += 1
        a, b = _downscale(a), _downscale(b)
    if used == 0:
        raise ConfigError(f"Images are smaller than the {patch}×{patch} patches compared.")
    return total / used


def _nearest_distances(
    queries: torch.Tensor, keys: torch.Tensor, chunk: int = 1024, dims: int | None = None
) -> torch.Tensor:
    """For each query (N, D), the RMS difference to its nearest key (M, D): (N,).

    The mean is taken over `dims` values (default D): extra columns, such as the weighted
    position of `layout_distance`, then add to the squared distance without being averaged away.
    """
    dims = dims or queries.shape[1]
    key_norms = (keys * keys).sum(1)
    best = []
    for start in range(0, queries.shape[0], chunk):
        q = queries[start : start + chunk]
        squared = (q * q).sum(1, keepdim=True) - 2 * q @ keys.T + key_norms[None]
        best.append(squared.min(dim=1).values.clamp_min(0))
    return torch.sqrt(torch.cat(best) / dims)


def bidirectional_similarity(
    sample: np.ndarray, reference: np.ndarray, patch: int = 7, stride: int = 2
) -> tuple[float, float]:
    """(coherence, completeness) of Simakov et al. 2008, as mean nearest-patch RMS distances.

    Coherence: every sample patch should have a close patch in the training image (no new
    artefacts). Completeness: every training patch should appear somewhere in the sample
    (nothing lost). Queries are taken at `stride`, candidates at every position. 0 is perfect.
    """
    a, b = _tensor(sample), _tensor(reference)
    coherence = _nearest_distances(extract_patches(a, patch, stride), extract_patches(b, patch))
    completeness = _nearest_distances(extract_patches(b, patch, stride), extract_patches(a, patch))
    return float(coherence.mean()), float(completeness.mean())


def memorised_fraction(
    sample: np.ndarray,
    reference: np.ndarray,
    threshold: float = 0.03,
    relative: float = 0.25,
    stride: int = 2,
) -> float:
    """Share of the sample covered by near-verbatim copies of large training regions.

    A region is a square a quarter of the reference's short side (at least 16 px); it counts as
    copied when some region of the training image, at any position, differs from it by an RMS
    below `threshold` (3% of the range) *and* below `relative` times the region's own standard
    deviation, so that flat areas (a clear sky) do not count as copies merely for being flat.
    Computed at half resolution for speed. A copy of the training image scores 1; SinDDM samples
    should score near 0, since the network's 33×33 receptive field is smaller than such regions.
    """
    a, b = _downscale(_tensor(sample)), _downscale(_tensor(reference))
    region = max(8, min(b.shape[-2:]) // 4)
    if min(a.shape[-2:]) < region:
        return 0.0
    copied = _near_verbatim(a, b, region, stride, threshold, relative)
    height, width = a.shape[-2:]
    rows = (height - region) // stride + 1
    cols = (width - region) // stride + 1
    grid = copied.float().reshape(1, 1, rows, cols)
    # Spread every copied region back over the pixels it covers.
    coverage = F.conv_transpose2d(grid, torch.ones(1, 1, region, region), stride=stride)
    covered = coverage[0, 0, :height, :width] > 0
    return float(covered.float().mean())


def verbatim_patches(
    sample: np.ndarray,
    reference: np.ndarray,
    patch: int = 15,
    threshold: float = 0.03,
    relative: float = 0.25,
    stride: int = 2,
) -> float:
    """Share of the sample's patch×patch patches (every `stride`-th) that are near-verbatim
    pieces of the reference: some reference patch, at any pixel position, differs by an RMS
    below `threshold` and below `relative` times the patch's own standard deviation (the tests
    of `memorised_fraction`, on patches a little larger than a 112-px image's tenth instead of
    regions a quarter of it). Full resolution, since one-pixel shifts matter at this size.
    0 for samples smaller than a patch."""
    a, b = _tensor(sample), _tensor(reference)
    if min(a.shape[-2:]) < patch or min(b.shape[-2:]) < patch:
        return 0.0
    return float(_near_verbatim(a, b, patch, stride, threshold, relative).float().mean())


def _near_verbatim(
    sample: torch.Tensor,
    reference: torch.Tensor,
    size: int,
    stride: int,
    threshold: float,
    relative: float,
) -> torch.Tensor:
    """For every size×size patch of `sample` (3, H, W) at `stride`, row-major: True where some
    patch of `reference` (at every position) is within an RMS of `threshold` and of `relative`
    times the patch's own standard deviation (flat patches are not copies for being flat)."""
    queries = extract_patches(sample, size, stride)
    distance = _nearest_distances(queries, extract_patches(reference, size))
    return (distance < threshold) & (distance < relative * queries.std(dim=1))


LAYOUT_SHORT_SIDE = 28
"""The training image's short side when `layout_distance` compares (¼ of the 112-px eval images)."""


def _resize(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale (3, H, W) by `factor` with antialiasing (bilinear, as `_downscale`)."""
    h, w = image.shape[-2:]
    size = (max(round(h * factor), 1), max(round(w * factor), 1))
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]


def _placed_patches(
    image: torch.Tensor, factor: float, patch: int, weight: float, dy: int = 0, dx: int = 0
) -> torch.Tensor:
    """The patch×patch patches of `image` (3, H, W) scaled by `factor` after cropping dy, dx
    full-resolution pixels, each followed by its centre's height as a fraction of the image's
    (0 top, 1 bottom) times weight·√(3·patch²): (N, 3·patch² + 1)."""
    low = _resize(image[:, dy:, dx:], factor)
    values = extract_patches(low, patch)
    rows, cols = low.shape[-2] - patch + 1, low.shape[-1] - patch + 1
    # Centres in the uncropped image's scaled frame, so that every crop places its rows alike.
    centres = (torch.arange(rows, dtype=torch.float32) + patch / 2 + dy * factor) / (
        image.shape[-2] * factor
    )
    heights = centres.repeat_interleave(cols)[:, None] * weight * values.shape[1] ** 0.5
    return torch.cat([values, heights], dim=1)


def _layout_keys(image: torch.Tensor, factor: float, patch: int, weight: float) -> torch.Tensor:
    """`_placed_patches` of `image` and of its mirror, at 4 sampling phases (0 and ½ of a scaled
    pixel in each direction), so that neither a shift of a few pixels nor a left-right mirror
    counts as a change of layout."""
    half = round(0.5 / factor)
    offsets = sorted({0, half})
    return torch.cat(
        [
            _placed_patches(source, factor, patch, weight, dy, dx)
            for source in (image, image.flip(-1))
            for dy in offsets
            for dx in offsets
        ]
    )


def layout_min_side(
    reference_size: tuple[int, ...], patch: int = 7, short_side: int = LAYOUT_SHORT_SIDE
) -> int:
    """The smallest side (px) a sample and the training image of `reference_size` (H, W) may
    have for `layout_distance`: a patch plus the half-pixel crops at the coarse scale."""
    factor = min(1.0, short_side / min(reference_size))
    return math.ceil((patch + 1) / factor)


def layout_distance(
    sample: np.ndarray,
    reference: np.ndarray,
    patch: int = 7,
    position_weight: float = 0.5,
    short_side: int = LAYOUT_SHORT_SIDE,
) -> float:
    """Whether the sample keeps the training image's composition; 0 for the image itself.

    Simakov et al.'s bidirectional similarity (the mean of coherence and completeness, as in
    `bidirectional_similarity`) at a coarse scale, where a 7×7 patch spans a quarter of the
    image's short side: both images are scaled by the factor that brings the training image's
    short side to `short_side` px (one factor, so that a retargeted canvas keeps the training
    image's scale), and each patch carries its height in its image (normalised by that image's
    own height) with `position_weight`: a patch whose match lies 0.2 of the height away costs
    0.1, like a clear colour change. Sky patches in the meadow, the meadow above the sky or
    shuffled regions find no close training patch; a left-right mirror does (`_layout_keys`).
    """
    a, b = _tensor(sample), _tensor(reference)
    factor = min(1.0, short_side / min(b.shape[-2:]))
    if min(*a.shape[-2:], *b.shape[-2:]) < layout_min_side(b.shape[-2:], patch, short_side):
        raise ConfigError(
            f"Images are too small to compare their layout: each side must be at least "
            f"{layout_min_side(b.shape[-2:], patch, short_side)} px."
        )
    dims = 3 * patch * patch
    coherence = _nearest_distances(
        _placed_patches(a, factor, patch, position_weight),
        _layout_keys(b, factor, patch, position_weight),
        dims=dims,
    )
    completeness = _nearest_distances(
        _placed_patches(b, factor, patch, position_weight),
        _layout_keys(a, factor, patch, position_weight),
        dims=dims,
    )
    return float(coherence.mean() + completeness.mean()) / 2
