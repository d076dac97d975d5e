"""Shrink a folder of samples to one size, to measure them against a smaller reference image.

    python -m benchmarks.downscale_samples samples/ small/ --size 150x112

The bundled demo model works at 258×193; the quality baseline (docs/quality.md) is measured at
150×112 on the same photo. Lanczos downscaling, as used to make the baseline's image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from cli.arguments import parse_size
from core.imageio import load_image, save_png


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--size", type=parse_size, required=True)
    args = parser.parse_args(argv)
    paths = sorted(args.source.glob("*.png"))
    if not paths:
        raise SystemExit(f"No PNG images in {args.source}.")
    args.target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        image = load_image(path).resize(args.size, Image.Resampling.LANCZOS)
        save_png(np.asarray(image), args.target / path.name)
    print(f"{len(paths)} images at {args.size[0]}×{args.size[1]} in {args.target}")


if __name__ == "__main__":
    main()
