"""`sinddm eval`: measure a model's samples, or a folder of images, against the training image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from cli.arguments import (
    MODEL_HELP,
    add_device_option,
    add_speed_options,
    check_counts,
    parse_pixel_cap,
    parse_size,
    sampling_options,
)
from cli.generate import (
    create_folder,
    generated_batches,
    output_paths,
)
from cli.progress_bar import progress_bar
from core.config import ModelConfig
from core.device import resolve_device
from core.errors import ConfigError
from core.evaluation.metrics import layout_min_side
from core.evaluation.report import REPORTED_METRICS, PerceptualWeights, evaluate
from core.files.model_file import FILE_SUFFIX
from core.files.open_model import is_model_file, open_diffusion_model
from core.generation.plan import plan
from core.imageio import atomic_write, ensure_writable, load_image, save_png
from core.method.pyramid import capped_size
from core.requests import GenerationRequest

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
REPORT_SIZE_LIMIT = 16 << 20
"""An existing --json file larger than this is not taken for an earlier report."""


def add_parser(commands) -> None:
    p = commands.add_parser(
        "eval", help="measure a model's samples, or a folder of images, against the training image"
    )
    p.add_argument(
        "model",
        nargs="?",
        help=MODEL_HELP,
    )
    p.add_argument("-n", "--count", type=int, default=50, help="samples to generate")
    p.add_argument("--size", type=parse_size, help="sample size WxH (default: the photo's)")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i")
    add_device_option(p)
    p.add_argument("--batch", type=int, default=8, help="samples computed together")
    p.add_argument("--samples", help="measure the images in this folder instead of sampling")
    p.add_argument(
        "--reference",
        help="the training image (with --samples); measured at its 50,000-pixel working size, "
        "as sampling uses it, with larger samples shrunk to match",
    )
    p.add_argument("--save-samples", help="also write the generated samples to this folder")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--inception-weights", help="InceptionV3 state dict, for SIFID")
    p.add_argument("--alexnet-weights", help="torchvision AlexNet state dict, for LPIPS")
    p.add_argument("--lpips-weights", help="LPIPS v0.1 linear layers (alex.pth), for LPIPS")
    p.add_argument(
        "--max-pixels",
        type=parse_pixel_cap,
        help="sample at the photo's own resolution under this cap, measured against the photo "
        "at that size (default: the model's training size, where the metrics are defined)",
    )
    add_speed_options(p)
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    if not args.samples and not args.model:
        raise ConfigError("Give a model file, or --samples FOLDER with --reference IMAGE.")
    _check_report_path(args.json)  # every input and output before any sampling or measuring
    weights = _checked_weights(args)
    if args.samples:
        samples, reference = _images_in_folder(args)
    else:
        samples, reference = _generated_samples(args)
    with progress_bar(len(samples), "measure") as bar:
        report = evaluate(
            samples, reference, seed=args.seed, on_sample=lambda i: bar.advance(), weights=weights
        )
    report["source"] = args.model or str(args.samples)
    print(format_report(report))
    if args.json:
        text = json.dumps(report, indent=1)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text))
    return 0


def _check_report_path(json_path: str | None) -> None:
    """--json may replace an earlier report, never a model or another kind of file."""
    if not json_path:
        return
    path = Path(json_path)
    if path.is_file():
        if path.suffix.lower() == FILE_SUFFIX or is_model_file(path):
            raise ConfigError(
                f"{path} is a model; the report never replaces it. Use another --json."
            )
        if not _holds_json(path):
            raise ConfigError(
                f"{path} exists and is not a JSON report; it is not replaced. Use another --json."
            )
    ensure_writable(path, "report")


def _holds_json(path: Path) -> bool:
    try:
        if path.stat().st_size > REPORT_SIZE_LIMIT:
            return False
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return False
    return True


def _checked_weights(args: argparse.Namespace) -> PerceptualWeights:
    """The weight files, each read once now so that a wrong one fails before any work (the
    measuring reads them again: a second or two next to sampling and measuring)."""
    from core.evaluation import perceptual

    options = {
        "--inception-weights": args.inception_weights,
        "--alexnet-weights": args.alexnet_weights,
        "--lpips-weights": args.lpips_weights,
    }
    for option, value in options.items():
        if value and Path(value).is_dir():
            raise ConfigError(f"{option}: {value} is a folder; give the weights file.")
        if value and not Path(value).is_file():
            raise ConfigError(f"{option}: no file at {value}.")
    if args.inception_weights:
        perceptual.InceptionBlock1(args.inception_weights)
    if args.alexnet_weights and args.lpips_weights:
        perceptual.Lpips(args.alexnet_weights, args.lpips_weights)
    return PerceptualWeights(args.inception_weights, args.alexnet_weights, args.lpips_weights)


def _images_in_folder(args: argparse.Namespace) -> tuple[list[np.ndarray], np.ndarray]:
    """Every image in --samples (name order) and --reference, as H×W×3 uint8."""
    if not args.reference:
        raise ConfigError("--samples needs --reference IMAGE (the training image).")
    folder = Path(args.samples)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"{folder} holds no images.")
    if Path(args.reference).is_file() and is_model_file(args.reference):
        raise ConfigError(
            f"{Path(args.reference).name} is a model, not the training image. To measure a "
            f"model's samples, run: sinddm eval {args.reference}"
        )
    photo = load_image(args.reference)
    working = capped_size(*photo.size, ModelConfig().max_pixels)
    reference = np.asarray(photo.resize(working, Image.Resampling.LANCZOS))
    samples = [_at_working_scale(np.asarray(load_image(p)), working) for p in paths]
    smallest = layout_min_side(reference.shape[:2])
    for path, image in [(Path(args.reference), reference), *zip(paths, samples, strict=True)]:
        if min(image.shape[:2]) < smallest:
            height, width = image.shape[:2]
            raise ConfigError(
                f"{path.name} is {width}×{height} pixels, too small to compare layouts: each "
                f"side must be at least {smallest} px."
            )
    return samples, reference


def _at_working_scale(image: np.ndarray, working: tuple[int, int]) -> np.ndarray:
    """A sample larger than the reference's working size (W, H), shrunk by the factor that
    brings its matching side to it (a full-resolution sample to the model's size, a 2×-wide
    one to twice its width), so the metrics compare like with like at the size they are
    defined for, in bounded memory (docs/method.md §12); smaller samples as they are."""
    height, width = image.shape[:2]
    factor = min(1.0, max(working[0] / width, working[1] / height))
    if factor >= 1.0:
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _generated_samples(args: argparse.Namespace) -> tuple[list[np.ndarray], np.ndarray]:
    """-n samples of the model (also saved to --save-samples) and its training image."""
    check_counts(args)
    # --save-samples replaces earlier samples (docs/quality.md reuses one folder); never a model.
    save_dir = Path(args.save_samples) if args.save_samples else None
    paths = output_paths(save_dir, args.count, args.seed, overwrite=True) if save_dir else []
    model = open_diffusion_model(args.model, resolve_device(args.device))
    width, height = model.sizes[-1]
    request = GenerationRequest(
        count=args.count,
        seed=args.seed,
        size=args.size,
        options=sampling_options(args, model),
        batch=args.batch,
        max_pixels=args.max_pixels or width * height,
    )
    samples: list[np.ndarray] = []
    create_folder(paths)
    the_plan = plan(model, request)
    for batch in generated_batches(model, the_plan):
        samples.extend(batch.images)
        for image, path in zip(batch.images, paths[batch.first :], strict=False):
            save_png(image, path)
    # the photo at the size the samples were made at (docs/method.md §12)
    reference = the_plan.detail.pyramid.sharp[-1] if the_plan.detail else model.pyramid.sharp[-1]
    return samples, reference


def format_report(report: dict) -> str:
    """A small human-readable table of an evaluation."""
    lines = [f"{report['n']} samples of {report['source']}"]
    for name in REPORTED_METRICS:
        entry = report[name]
        if entry.get("available", True):
            lines.append(f"  {name:20s} {entry['mean']:.4f} ± {entry['std']:.4f}")
        else:
            lines.append(f"  {name:20s} unavailable: {entry['reason']}")
    return "\n".join(lines)
