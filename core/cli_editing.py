"""`sinddm eval`, `roi`, `text`, `style-transfer` and `harmonize`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.checkpoint import FILE_SUFFIX, load_model
from core.cli_common import (
    add_output_options,
    add_speed_options,
    generate_in_chunks,
    parse_size,
    sample_paths,
    save_generated,
)
from core.clip_guidance import TEXT_MODES
from core.device import resolve_device
from core.editing import (
    DEFAULT_ROI_STRENGTH,
    HARMONIZATION_STEP,
    STYLE_TRANSFER_STEP,
    Box,
    RoiGuidance,
    harmonization_injection,
    style_transfer_injection,
)
from core.errors import ConfigError
from core.evaluation import REPORTED_METRICS, PerceptualWeights, evaluate
from core.imageio import atomic_write, load_image, load_mask, save_png
from core.progress_bar import ProgressBar
from core.sampling import canvas_sizes


def add_eval(commands) -> None:
    p = commands.add_parser(
        "eval", help="measure a model's samples, or a folder of images, against the training image"
    )
    p.add_argument("model", nargs="?", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("-n", "--count", type=int, default=50, help="samples to generate")
    p.add_argument("--size", type=parse_size, help="sample size WxH (default: training size)")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch", type=int, default=8, help="samples computed together")
    p.add_argument("--samples", help="measure the images in this folder instead of sampling")
    p.add_argument("--reference", help="the training image (with --samples)")
    p.add_argument("--save-samples", help="also write the generated samples to this folder")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--inception-weights", help="InceptionV3 state dict, for SIFID")
    p.add_argument("--alexnet-weights", help="torchvision AlexNet state dict, for LPIPS")
    p.add_argument("--lpips-weights", help="LPIPS v0.1 linear layers (alex.pth), for LPIPS")
    add_speed_options(p)
    p.set_defaults(handler=cmd_eval)


def add_editing(commands) -> None:
    p = commands.add_parser("roi", help="place regions of the training image on a new canvas")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("--src", required=True, help="source box x,y,w,h on the training image")
    p.add_argument(
        "--dst",
        action="append",
        required=True,
        help="target x,y[,w,h] on the canvas (repeat for more copies)",
    )
    p.add_argument("--strength", type=float, default=DEFAULT_ROI_STRENGTH, help="η of eq. (2)")
    p.add_argument("--size", type=parse_size, help="canvas size WxH (default: training size)")
    add_output_options(p)
    p.set_defaults(handler=cmd_roi)

    p = commands.add_parser("text", help="guide generation with a text prompt (CLIP)")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("--prompt", required=True, help="what to add, e.g. 'fire' or 'Van Gogh'")
    p.add_argument("--mode", choices=TEXT_MODES, default="content")
    p.add_argument("--strength", type=float, help="η (content default 0.3; style 0.3)")
    p.add_argument("--fill", type=float, help="fill factor f for content (default 0.3)")
    p.add_argument("--box", help="region mode: x,y,w,h on the training image")
    p.add_argument("--clip-model", default="ViT-B-32", help="open_clip model name")
    p.add_argument("--clip-weights", default="openai", help="open_clip tag or a local file")
    p.add_argument("--views", type=int, default=16, help="augmented views per step")
    p.add_argument("--size", type=parse_size, help="canvas size WxH (default: training size)")
    add_output_options(p)
    p.set_defaults(handler=cmd_text)

    p = commands.add_parser("style-transfer", help="redraw a content image in the model's style")
    p.add_argument("model", help=f"a model trained on the style image ({FILE_SUFFIX})")
    p.add_argument("content", help="the content image")
    p.add_argument("--t", type=int, default=STYLE_TRANSFER_STEP, help="injection step (of 100)")
    p.add_argument("--at-scale", type=int, help="injection scale (default: the finest)")
    p.add_argument("--no-match", action="store_true", help="skip histogram matching")
    add_output_options(p)
    p.set_defaults(handler=cmd_style_transfer)

    p = commands.add_parser("harmonize", help="blend a pasted object into the model's image")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("composite", help="the image with the object pasted in")
    p.add_argument("--mask", required=True, help="the object's mask (alpha or white on black)")
    p.add_argument("--t", type=int, default=HARMONIZATION_STEP, help="injection step (of 100)")
    add_output_options(p)
    p.set_defaults(handler=cmd_harmonize)


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def cmd_eval(args: argparse.Namespace) -> int:
    if args.samples:
        samples, reference = _images_in_folder(args)
    elif args.model:
        samples, reference = _generated_samples(args)
    else:
        raise ConfigError("Give a model file, or --samples FOLDER with --reference IMAGE.")
    bar = ProgressBar(len(samples), label="measure")
    weights = PerceptualWeights(args.inception_weights, args.alexnet_weights, args.lpips_weights)
    report = evaluate(
        samples, reference, seed=args.seed, on_sample=lambda i: bar.update(), weights=weights
    )
    bar.close()
    report["source"] = args.model or str(args.samples)
    print(format_report(report))
    if args.json:
        text = json.dumps(report, indent=1)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text))
    return 0


def _images_in_folder(args) -> tuple[list, object]:
    if not args.reference:
        raise ConfigError("--samples needs --reference IMAGE (the training image).")
    folder = Path(args.samples)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"{folder} holds no images.")
    samples = [np.asarray(load_image(p)) for p in paths]
    return samples, np.asarray(load_image(args.reference))


def _generated_samples(args) -> tuple[list, object]:
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")
    model = load_model(args.model, resolve_device(args.device))
    save_dir = Path(args.save_samples) if args.save_samples else None
    paths = sample_paths(save_dir, args.count, args.seed) if save_dir else []
    samples = []
    for first, images in generate_in_chunks(model, args):
        samples.extend(images)
        for image, path in zip(images, paths[first:], strict=False):
            save_png(image, path)
    return samples, model.pyramid.sharp[-1]


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


def cmd_roi(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    source = Box.parse(args.src)
    pairs = [(source, Box.parse(text, size_from=source)) for text in args.dst]
    canvas = canvas_sizes(model.sizes, args.size)
    guidance = RoiGuidance(model, canvas, pairs, args.strength)
    return save_generated(model, args, guidance=[guidance])


def cmd_text(args: argparse.Namespace) -> int:
    from core import clip_guidance

    device = resolve_device(args.device)
    model = load_model(args.model, device)
    clip, tokenizer = clip_guidance.load_clip(args.clip_model, args.clip_weights, device)
    plan = clip_guidance.plan_text_guidance(
        model,
        clip,
        tokenizer,
        args.prompt,
        args.mode,
        args.strength,
        args.fill,
        Box.parse(args.box) if args.box else None,
        clip_guidance.ViewSettings(count=max(1, args.views)),
        args.seed,
        args.size,
    )
    args.size = plan.size or args.size
    return save_generated(
        model, args, guidance=plan.make_guidance, injection=plan.injection, reblur=False
    )


def cmd_style_transfer(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    injection, size = style_transfer_injection(
        model, load_image(args.content), args.t, args.at_scale, not args.no_match
    )
    args.size = size
    return save_generated(model, args, injection=injection)


def cmd_harmonize(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    plan = harmonization_injection(model, load_image(args.composite), load_mask(args.mask), args.t)
    args.size = plan.size
    return save_generated(model, args, injection=plan.injection, finish=plan.blend)
