"""Tile the images of a folder into one grid picture (for docs).

    python -m benchmarks.sample_grid FOLDER OUT.jpg [--columns 5] [--reference IMAGE]

With --reference, the training image comes first, framed in red.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageOps

GAP = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("out")
    parser.add_argument("--columns", type=int, default=5)
    parser.add_argument("--reference")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    paths = sorted(Path(args.folder).glob("*.png"))[: args.limit]
    images = [Image.open(p).convert("RGB") for p in paths]
    if args.reference:
        framed = ImageOps.expand(Image.open(args.reference).convert("RGB"), 2, fill="red")
        images.insert(0, framed.resize(images[0].size))
    width, height = images[0].size
    rows = (len(images) + args.columns - 1) // args.columns
    grid = Image.new(
        "RGB", (args.columns * (width + GAP) - GAP, rows * (height + GAP) - GAP), "white"
    )
    for i, image in enumerate(images):
        row, col = divmod(i, args.columns)
        grid.paste(image, (col * (width + GAP), row * (height + GAP)))
    grid.save(args.out, quality=88)
    print(args.out, grid.size)


if __name__ == "__main__":
    main()
