"""Reference rows for docs/quality.md: the metrics of deliberately good and bad "samples".

    python -m benchmarks.quality_references resources/eval/mountains_trail_112.png
    python -m benchmarks.quality_references resources/eval/mountains_trail_112.png \
        --grid docs/quality/mountains_trail_112_samples.jpg

Prints patch distance, coherence, completeness, layout distance and memorised share for a copy
of the image, small variants of it (shifted, cropped, noisy, blurred, mirrored), larger canvases
that keep its layout, 16- and 32-px tiles shuffled, the image upside down and uniform noise, and
the pixel diversity of 8 shuffled-tile images, so the model rows can be read against them.

With --grid, also the layout distance of the samples in a grid picture of
`benchmarks.sample_grid` made with --reference (the first cell is skipped; cells are scaled to
the image's size), for sample sets whose PNG files were not kept.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.sample_grid import GAP
from core.evaluation import metrics
from core.imageio import load_image


def shuffled_tiles(image: np.ndarray, seed: int, tile: int = 16) -> np.ndarray:
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    tiles = [
        image[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]
        for r in range(rows)
        for c in range(cols)
    ]
    order = np.random.default_rng(seed).permutation(len(tiles))
    out = image.copy()
    for i, k in enumerate(order):
        r, c = divmod(i, cols)
        out[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = tiles[k]
    return out


def shifted(image: np.ndarray, down: int, right: int) -> np.ndarray:
    """The image moved down and right, its top and left edge rows repeated into the gap."""
    h, w, _ = image.shape
    return np.pad(image, ((down, 0), (right, 0), (0, 0)), mode="edge")[:h, :w]


def with_noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise of standard deviation `sigma` (fraction of the range) added."""
    noise = np.random.default_rng(seed).normal(0, sigma * 255, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def reference_cases(reference: np.ndarray) -> dict[str, np.ndarray]:
    """Named "samples" of known quality, H×W×3 uint8 (some of another size)."""
    h, w, _ = reference.shape
    return {
        "copy of the image": reference,
        "shifted 5 px right, 3 px down": shifted(reference, 3, 5),
        "cropped by 4% on each side": reference[h // 25 : h - h // 25, w // 25 : w - w // 25],
        "Gaussian noise σ 0.05 added": with_noise(reference, 0.05),
        "Gaussian blur, radius 3": np.asarray(
            Image.fromarray(reference).filter(ImageFilter.GaussianBlur(3))
        ),
        "mirrored left-right": reference[:, ::-1],
        "2× wide: the image beside its mirror": np.concatenate([reference, reference[:, ::-1]], 1),
        "1.5× tall: stretched": np.asarray(
            Image.fromarray(reference).resize((w, h * 3 // 2), Image.Resampling.LANCZOS)
        ),
        "16-px tiles shuffled": shuffled_tiles(reference, 0),
        "32-px tiles shuffled": shuffled_tiles(reference, 0, 32),
        "upside down": reference[::-1],
        "uniform noise": np.random.default_rng(0).integers(0, 256, reference.shape, np.uint8),
    }


def grid_cells(path: str, reference: np.ndarray, columns: int) -> list[np.ndarray]:
    """The samples of a `benchmarks.sample_grid` picture (its first cell, the training image,
    left out), each scaled to the reference's size. Cells have the reference's aspect ratio."""
    grid = np.asarray(load_image(path))
    width = (grid.shape[1] + GAP) // columns - GAP
    height = round(width * reference.shape[0] / reference.shape[1])
    rows = (grid.shape[0] + GAP) // (height + GAP)
    size = (reference.shape[1], reference.shape[0])
    cells = []
    for index in range(1, rows * columns):
        top, left = divmod(index, columns)
        top, left = top * (height + GAP), left * (width + GAP)
        cell = Image.fromarray(grid[top : top + height, left : left + width])
        cells.append(np.asarray(cell.resize(size, Image.Resampling.LANCZOS)))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--grid", help="a sample grid picture whose samples to measure as well")
    parser.add_argument("--columns", type=int, default=5, help="columns of the --grid picture")
    args = parser.parse_args()
    reference = np.asarray(load_image(args.image))
    print("| case | patch distance | coherence | completeness | layout | memorised |")
    print("|---|---|---|---|---|---|")
    for name, image in reference_cases(reference).items():
        image = np.ascontiguousarray(image)
        coherence, completeness = metrics.bidirectional_similarity(image, reference)
        print(
            f"| {name} | {metrics.patch_distance(image, reference):.4f} | {coherence:.4f} | "
            f"{completeness:.4f} | {metrics.layout_distance(image, reference):.4f} | "
            f"{metrics.memorised_fraction(image, reference):.3f} |"
        )
    tiles = [shuffled_tiles(reference, seed) for seed in range(8)]
    print(
        f"\npixel diversity of 8 shuffled-tile images: "
        f"{metrics.pixel_diversity(tiles, reference):.3f}"
    )
    if args.grid:
        layouts = [
            metrics.layout_distance(c, reference)
            for c in grid_cells(args.grid, reference, args.columns)
        ]
        print(
            f"layout distance of the {len(layouts)} samples in {args.grid}: "
            f"{np.mean(layouts):.4f} ± {np.std(layouts):.4f} (min {min(layouts):.4f}, "
            f"max {max(layouts):.4f})"
        )


if __name__ == "__main__":
    main()
