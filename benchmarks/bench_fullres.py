"""Full resolution (issue 20, docs/method.md §12): speed, memory and quality of detail scales.

    python -m benchmarks.bench_fullres curve PHOTO [--points 0.25,1,4,16] [--json out.json]
        [--device cuda]

runs the whole command `sinddm sample PHOTO -o out.png --max-pixels P` in a fresh process per
point (start-up, reading the photo and writing the PNG included), and reports its wall time and
peak resident memory (the child's ru_maxrss). A point above the photo's own pixels is reached
with `--scale` (e.g. 16 MP of an 8 MP photo: its own resolution, twice as wide). One more run
at the model's own size (`--max-pixels 50000`, no detail scales) gives the fixed start, so
that the memory per output pixel is (peak − fixed) / pixels. Compare ratios within one run.

    python -m benchmarks.bench_fullres quality PHOTO [PHOTO …] -n 4 --cap 4M --out DIR

makes `-n` images of each photo (seeds 0…n−1, Instant) at its own resolution under the cap and
the same seeds without detail scales (the model's size, as before), and measures:

* sharpness: mean gradient magnitude over the photo's at the same size (1 = the photo's);
  the base image enlarged (bicubic) for comparison;
* seams: the mean step between rows at the detail scales' band borders over the mean step
  between all rows (1 = no seam);
* layout distance, memorised share and near-verbatim 15×15 patches at the model's size (the
  image shrunk back, against the model's finest training image), beside the base image's
  (`sinddm eval`'s metrics and core.evaluation.metrics.verbatim_patches);

and writes DIR/<photo>_grid.jpg: the image fitted, and 1:1 crops of the image beside the
photo at the same place.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cli.arguments import parse_pixel_cap

MODEL_SIZE_CAP = 50_000


# ------------------------------------------------------------------------------------ curve


def run_command(arguments: list[str]) -> tuple[float, int]:
    """Run `sinddm ARGUMENTS` in a fresh process: (wall seconds, peak resident bytes)."""
    command = [sys.executable, "-c", "from cli.main import main; raise SystemExit(main())"]
    start = time.perf_counter()
    process = subprocess.Popen([*command, *arguments], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sinddm {' '.join(arguments)} failed")
    return seconds, usage.ru_maxrss * 1024  # Linux reports kB


def curve(photo: Path, points: list[float], json_path: Path | None, device: str = "cpu") -> None:
    with Image.open(photo) as image:
        width, height = image.size
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.png"
        base = ["sample", str(photo), "-o", str(out), "--overwrite", "--device", device]
        fixed_seconds, fixed = run_command([*base, "--max-pixels", str(MODEL_SIZE_CAP)])
        print(
            f"fixed start (model's size, no detail): {fixed_seconds:.1f} s, {fixed / 2**30:.2f} GB"
        )
        for megapixels in points:
            pixels = int(megapixels * 1e6)
            extra = _scale_arguments(pixels, width * height)
            cap = min(pixels, width * height)
            seconds, peak = run_command([*base, "--max-pixels", str(cap), *extra])
            with Image.open(out) as made:
                size = made.size
            count = size[0] * size[1]
            row = {
                "megapixels": megapixels,
                "size": list(size),
                "seconds": round(seconds, 2),
                "seconds_per_megapixel": round(seconds / (count / 1e6), 2),
                "peak_gb": round(peak / 2**30, 2),
                "bytes_per_pixel_beyond_fixed": round((peak - fixed) / count),
            }
            rows.append(row)
            print(
                f"{megapixels:5.2f} MP  {size[0]}×{size[1]}  {seconds:6.1f} s  "
                f"{row['seconds_per_megapixel']:5.2f} s/MP  peak {row['peak_gb']:.2f} GB  "
                f"{row['bytes_per_pixel_beyond_fixed']} B/px beyond the fixed start"
            )
    if json_path:
        report = {
            "photo": photo.name,
            "device": device,
            "fixed_gb": round(fixed / 2**30, 2),
            "points": rows,
        }
        json_path.write_text(json.dumps(report, indent=1))


def _scale_arguments(pixels: int, own: int) -> list[str]:
    """`--scale` that reaches `pixels` from a photo of `own` pixels, widening it."""
    if pixels <= own:
        return []
    return ["--scale", f"{pixels / own:.4f}x1"]


# ---------------------------------------------------------------------------------- quality


def sharpness(image: np.ndarray) -> float:
    """Mean absolute step between neighbouring pixels of the grey image (grey levels)."""
    grey = image.astype(np.float64).mean(axis=2)
    return (np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()) / 2


def seam_ratio(image: np.ndarray, band_rows: int) -> float:
    """Mean step across the band borders (rows band_rows, 2·band_rows, …) over the mean step
    between all neighbouring rows: 1 where the borders are like any other row."""
    steps = np.abs(np.diff(image.astype(np.float64), axis=0)).mean(axis=(1, 2))
    borders = np.arange(band_rows, image.shape[0], band_rows) - 1
    if borders.size == 0:
        return float("nan")
    return float(steps[borders].mean() / steps.mean())


def quality(photos: list[Path], count: int, cap: int, out: Path) -> list[dict]:
    import core.generation.detail
    from core.denoisers.instant import InstantModel
    from core.evaluation.metrics import layout_distance, memorised_fraction, verbatim_patches
    from core.generation.plan import GenerationRequest, plan
    from core.generation.run import generate_images
    from core.imageio import load_image

    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for path in photos:
        photo = load_image(path)
        model = InstantModel.from_image(photo)
        detailed_plan = plan(model, GenerationRequest(count=count, max_pixels=cap))
        start = time.perf_counter()
        detailed = generate_images(model, detailed_plan)
        seconds = time.perf_counter() - start
        base = generate_images(model, plan(model, GenerationRequest(count=count, max_pixels=1)))
        width, height = detailed_plan.size
        own = np.asarray(photo.resize((width, height), Image.Resampling.LANCZOS))
        reference = model.pyramid.sharp[-1]
        base_size = reference.shape[1::-1]
        band_rows = max(1, core.generation.detail.BAND_PIXELS // width)
        rows = []
        for image, small in zip(detailed, base, strict=True):
            shrunk = np.asarray(Image.fromarray(image).resize(base_size, Image.Resampling.LANCZOS))
            enlarged = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))
            rows.append(
                {
                    "sharpness": sharpness(image) / sharpness(own),
                    "enlarged_base_sharpness": sharpness(enlarged) / sharpness(own),
                    "seam_ratio": seam_ratio(image, band_rows),
                    "layout": layout_distance(shrunk, reference),
                    "base_layout": layout_distance(small, reference),
                    "memorised": memorised_fraction(shrunk, reference),
                    "base_memorised": memorised_fraction(small, reference),
                    "verbatim_15": verbatim_patches(shrunk, reference),
                    "base_verbatim_15": verbatim_patches(small, reference),
                }
            )
        report = {
            "photo": path.name,
            "photo_size": list(photo.size),
            "size": [width, height],
            "base_size": list(base_size),
            "samples": count,
            "seconds_per_image": round(seconds / count, 2),
            **{key: round(float(np.mean([r[key] for r in rows])), 4) for key in rows[0]},
        }
        reports.append(report)
        print(json.dumps(report))
        grid(detailed[0], own, out / f"{path.stem}_grid.jpg")
    (out / "quality.json").write_text(json.dumps(reports, indent=1))
    return reports


def grid(image: np.ndarray, photo: np.ndarray, path: Path, crop: int = 360) -> None:
    """The image fitted to 720 px wide above two 1:1 crops (sample | photo) at two places."""
    height, width = image.shape[:2]
    fitted = Image.fromarray(image).resize((720, round(720 * height / width)), Image.LANCZOS)
    crop = min(crop, height // 2, width // 2)
    places = [(width // 2 - crop // 2, height * 2 // 3 - crop // 2), (width // 5, height // 3)]
    sheet = Image.new("RGB", (720, fitted.height + 2 * (crop + 8)), (40, 40, 44))
    sheet.paste(fitted, (0, 0))
    draw = ImageDraw.Draw(sheet)
    for row, (x, y) in enumerate(places):
        top = fitted.height + 8 + row * (crop + 8)
        box = (x, y, x + crop, y + crop)
        sheet.paste(Image.fromarray(image).crop(box), (0, top))
        sheet.paste(Image.fromarray(photo).crop(box), (crop + 8, top))
        draw.text((4, top + 4), "sample 1:1", fill=(255, 255, 255))
        draw.text((crop + 12, top + 4), "photo 1:1", fill=(255, 255, 255))
    sheet.save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("curve", help="whole-command time and memory at several sizes")
    p.add_argument("photo", type=Path)
    p.add_argument("--points", default="0.25,1,4,16", help="megapixels, comma-separated")
    p.add_argument("--json", type=Path)
    p.add_argument("--device", default="cpu", help="cpu or cuda (peak memory is the host's)")
    p = commands.add_parser("quality", help="sharpness, seams, layout and copying")
    p.add_argument("photos", type=Path, nargs="+")
    p.add_argument("-n", "--count", type=int, default=4)
    p.add_argument("--cap", type=parse_pixel_cap, default=4_000_000)
    p.add_argument("--out", type=Path, default=Path("docs/quality/fullres"))
    args = parser.parse_args()
    if args.command == "curve":
        curve(args.photo, [float(v) for v in args.points.split(",")], args.json, args.device)
    else:
        quality(args.photos, args.count, args.cap, args.out)


if __name__ == "__main__":
    main()
