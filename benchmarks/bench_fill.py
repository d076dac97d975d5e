"""Tiles, mirror, heal and extend (issue 21, docs/method.md §13): how well each keeps its promise.

    python -m benchmarks.bench_fill PHOTO [PHOTO …] -n 3 --cap 1M --out DIR [--json out.json]

For each photo, with Instant and seeds 0 … n−1, at the photo's own resolution under the cap:

* plain samples (the reference for every measure below);
* tile x (every photo) and tile both (the textures: `--textures` names them): the wrap ratio,
  the mean step across the wrap-around edge over the median step between neighbouring
  columns (rows), beside the plain samples' (1 or less: no seam);
* mirror x: the largest difference between the image and its mirror image (0: exact);
* heal of a box over HOLE_BOX of the photo: pixels outside the mask that changed, more than 3
  px from it (must be 0) and within 3 px (where the photo shrunk under the cap mixes the hole's
  fill into its rim, so they are drawn again),
  the border ratio (the mean step across the hole's edge over the median step), and the fill's
  sharpness over the photo's own there (1: as sharp; a blur is far below);
* extend to 1.5× the width, photo on the left: the border ratio at the photo's right edge;
* coherence (Simakov et al.'s, `metrics.bidirectional_similarity`, 7×7 patches) of each
  kind against the photo, at the model's working size (about 50,000 pixels), beside the plain
  samples': the generated pixels are as photo-like as a plain sample's when it is no higher.

It writes DIR/<photo>_fill.png, a grid to look at (plain, tile x twice side by side, mirror,
the photo with the hole outlined, heal, extend), DIR/<photo>_heal.png (1:1 crops around the
hole: the photo, then each healed image), and prints one JSON line per photo. Compare within
one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cli.arguments import parse_pixel_cap
from core.denoisers.instant import InstantModel
from core.evaluation.metrics import bidirectional_similarity
from core.generation.plan import plan
from core.generation.run import generate_images
from core.imageio import load_image
from core.method.canvas import dilate
from core.method.pyramid import capped_size
from core.requests import ExtendEdit, GenerationRequest, HealEdit

HOLE_BOX = (0.42, 0.38, 0.16, 0.2)
"""(left, top, width, height) of the heal mask, as fractions of the photo: 3.2 % of it, in the
middle, where the evaluation photos have their ridge and forest."""
WORKING_PIXELS = 50_000


def steps(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean absolute step (grey levels) between neighbouring lines along `axis` (0: rows)."""
    grey = image.astype(np.float64).mean(axis=2)
    return np.abs(np.diff(grey, axis=axis)).mean(axis=1 - axis)


def wrap_ratio(image: np.ndarray, axis: int) -> float:
    """Step across the wrap-around edge over the median step between neighbouring lines."""
    grey = image.astype(np.float64).mean(axis=2)
    edge = np.abs(np.take(grey, 0, axis=axis) - np.take(grey, -1, axis=axis)).mean()
    return float(edge / np.median(steps(image, axis)))


def hole_mask(size: tuple[int, int]) -> np.ndarray:
    """The heal mask (H×W uint8, 255 = fill) of a photo of `size` (W, H)."""
    width, height = size
    left, top, w, h = HOLE_BOX
    mask = np.zeros((height, width), np.uint8)
    y0, x0 = int(top * height), int(left * width)
    mask[y0 : y0 + int(h * height), x0 : x0 + int(w * width)] = 255
    return mask


def border_ratio(image: np.ndarray, hole: np.ndarray) -> float:
    """Mean step across the hole's edge (pixel pairs one in, one out) over the median step
    between neighbouring pixels."""
    grey = image.astype(np.float64).mean(axis=2)
    inside = hole > 0
    across = []
    for axis in (0, 1):
        step = np.abs(np.diff(grey, axis=axis))
        edge = np.diff(inside.astype(np.int8), axis=axis) != 0
        across.append(step[edge])
    typical = np.median(np.concatenate([steps(image, 0), steps(image, 1)]))
    return float(np.concatenate(across).mean() / typical)


def sharpness(region: np.ndarray) -> float:
    grey = region.astype(np.float64).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def working(image: np.ndarray) -> np.ndarray:
    """The image shrunk to about WORKING_PIXELS (the model's size), for patch statistics."""
    size = capped_size(image.shape[1], image.shape[0], WORKING_PIXELS)
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def coherence(image: np.ndarray, photo: np.ndarray) -> float:
    return bidirectional_similarity(working(image), working(photo))[0]


def measure(
    path: str, count: int, cap: int, texture: bool
) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """Every measure of the module docstring for one photo, the grid's images, and 1:1 crops
    around the hole (the photo, then each healed image)."""
    model = InstantModel.from_image(load_image(path))
    photo_image = load_image(path)
    size = capped_size(*photo_image.size, cap)
    photo = np.asarray(photo_image.resize(size, Image.Resampling.LANCZOS))
    mask = hole_mask(photo_image.size)
    # the mask at the output's size, as heal shrinks it: any pixel it touches is to be filled
    shrunk = Image.fromarray(mask).resize(size, Image.Resampling.BOX)
    hole = (np.asarray(shrunk) > 0).astype(np.uint8) * 255
    far = ~dilate(hole > 0, 3)  # shrinking the photo mixes the hole into 1–2 px around it
    near = ~far & (hole == 0)

    def run(**request) -> tuple[list[np.ndarray], float]:
        start = time.perf_counter()
        images = [
            generate_images(
                model, plan(model, GenerationRequest(seed=s, max_pixels=cap, **request))
            )[0]
            for s in range(count)
        ]
        return images, (time.perf_counter() - start) / count

    plain, plain_s = run()
    tiled, tile_s = run(tile="x")
    mirrored, mirror_s = run(mirror="x")
    healed, heal_s = run(edit=HealEdit(mask, "box"))
    width, height = photo_image.size
    extended, extend_s = run(edit=ExtendEdit((width * 3 // 2, height), "left"))
    result = {
        "photo": Path(path).name,
        "size": f"{size[0]}×{size[1]}",
        "seconds": {
            "plain": plain_s,
            "tile": tile_s,
            "mirror": mirror_s,
            "heal": heal_s,
            "extend": extend_s,
        },
        "wrap ratio x": {
            "plain": _mean(wrap_ratio(i, 1) for i in plain),
            "tile x": _mean(wrap_ratio(i, 1) for i in tiled),
        },
        "mirror asymmetry": max(int(np.abs(i.astype(int) - i[:, ::-1]).max()) for i in mirrored),
        "heal changed beyond 3 px": int(sum(_changed(i, photo, far) for i in healed)),
        "heal changed within 3 px": int(sum(_changed(i, photo, near) for i in healed)),
        "heal border ratio": {
            "heal": _mean(border_ratio(i, hole) for i in healed),
            "photo": border_ratio(photo, hole),
        },
        "heal sharpness": _mean(
            _region_sharpness(i, hole) / _region_sharpness(photo, hole) for i in healed
        ),
        "extend border ratio": _mean(_column_ratio(i, size[0] - 1) for i in extended),
        "coherence": {
            "plain": _mean(coherence(i, photo) for i in plain),
            "tile x": _mean(coherence(i, photo) for i in tiled),
            "mirror x": _mean(coherence(i, photo) for i in mirrored),
            "heal": _mean(coherence(i, photo) for i in healed),
            "extend": _mean(coherence(i, photo) for i in extended),
        },
    }
    if texture:
        both, _ = run(tile="both")
        result["wrap ratio both"] = {
            "x": _mean(wrap_ratio(i, 1) for i in both),
            "y": _mean(wrap_ratio(i, 0) for i in both),
            "plain y": _mean(wrap_ratio(i, 0) for i in plain),
        }
    outlined = Image.fromarray(photo.copy())
    ys, xs = np.nonzero(hole)
    ImageDraw.Draw(outlined).rectangle(
        [xs.min(), ys.min(), xs.max(), ys.max()], outline="red", width=3
    )
    grid = [
        plain[0],
        np.concatenate([tiled[0], tiled[0]], axis=1),
        mirrored[0],
        np.asarray(outlined),
        healed[0],
        extended[0],
    ]
    ys, xs = np.nonzero(hole)
    margin = max(xs.max() - xs.min(), ys.max() - ys.min()) // 3
    box = (
        slice(max(0, ys.min() - margin), ys.max() + margin),
        slice(max(0, xs.min() - margin), xs.max() + margin),
    )
    crops = [photo[box], *(i[box] for i in healed)]
    return result, grid, crops


def _changed(image: np.ndarray, photo: np.ndarray, where: np.ndarray) -> int:
    return int((image[where] != photo[where]).any(axis=-1).sum())


def _region_sharpness(image: np.ndarray, hole: np.ndarray) -> float:
    ys, xs = np.nonzero(hole)
    return sharpness(image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def _column_ratio(image: np.ndarray, column: int) -> float:
    """The step between `column` and the next over the median column step."""
    column_steps = steps(image, 1)
    return float(column_steps[column] / np.median(column_steps))


def _mean(values) -> float:
    return float(np.mean(list(values)))


def save_grid(images: list[np.ndarray], path: Path, height: int = 360) -> None:
    """The images side by side, each scaled to `height` rows, 8 px apart."""
    scaled = [
        Image.fromarray(i).resize(
            (round(i.shape[1] * height / i.shape[0]), height), Image.Resampling.LANCZOS
        )
        for i in images
    ]
    grid = Image.new("RGB", (sum(s.width for s in scaled) + 8 * (len(scaled) - 1), height), "white")
    x = 0
    for image in scaled:
        grid.paste(image, (x, 0))
        x += image.width + 8
    grid.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--cap", type=parse_pixel_cap, default=1_000_000)
    parser.add_argument(
        "--textures", nargs="*", default=[], help="photo names also tiled both ways"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in args.photos:
        texture = Path(path).name in args.textures
        result, grid, crops = measure(path, args.n, args.cap, texture)
        save_grid(grid, args.out / f"{Path(path).stem}_fill.png")
        save_grid(crops, args.out / f"{Path(path).stem}_heal.png", height=crops[0].shape[0])
        print(json.dumps(result, ensure_ascii=False))
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
