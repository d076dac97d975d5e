"""Reference rows for docs/quality.md: the metrics of deliberately good and bad "samples".

    python -m benchmarks.quality_references resources/eval/mountains_trail_112.png

Prints patch distance, coherence, completeness and memorised share for a copy of the image,
16-px tiles shuffled, a heavy Gaussian blur (radius 3) and uniform noise, and the pixel
diversity of 8 shuffled-tile images, so the model rows can be read against them.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageFilter

from core import metrics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    args = parser.parse_args()
    reference = np.asarray(load_image(args.image))
    cases = {
        "copy of the image": reference,
        "16-px tiles shuffled": shuffled_tiles(reference, 0),
        "Gaussian blur, radius 3": np.asarray(
            Image.fromarray(reference).filter(ImageFilter.GaussianBlur(3))
        ),
        "uniform noise": np.random.default_rng(0).integers(0, 256, reference.shape, np.uint8),
    }
    print("| case | patch distance | coherence | completeness | memorised |")
    print("|---|---|---|---|---|")
    for name, image in cases.items():
        coherence, completeness = metrics.bidirectional_similarity(image, reference)
        print(
            f"| {name} | {metrics.patch_distance(image, reference):.4f} | {coherence:.4f} | "
            f"{completeness:.4f} | {metrics.memorised_fraction(image, reference):.3f} |"
        )
    tiles = [shuffled_tiles(reference, seed) for seed in range(8)]
    print(
        f"\npixel diversity of 8 shuffled-tile images: "
        f"{metrics.pixel_diversity(tiles, reference):.3f}"
    )


if __name__ == "__main__":
    main()
