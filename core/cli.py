"""The `sinddm` command: train, sample, info and demo over the core library."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core import __version__
from core.bundle import SinDDMModel, tensor_to_images
from core.checkpoint import FILE_SUFFIX, load_model, load_trainer, read_checkpoint, save_trainer
from core.clip_guidance import TEXT_MODES
from core.config import ModelConfig, TrainConfig
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
from core.errors import ConfigError, SinDDMError
from core.evaluation import PerceptualWeights, evaluate
from core.imageio import atomic_write, load_image, load_mask, save_png
from core.model import count_parameters
from core.presets import fitted_train_config
from core.progress_bar import ProgressBar
from core.pyramid import DEFAULT_MAX_PIXELS, build_pyramid
from core.sampling import Injection, canvas_sizes, iter_sample, resolve_start_steps
from core.training import Trainer, run_training

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_IMAGE = RESOURCES / "demo.png"
DEMO_MODEL = RESOURCES / "demo_model.sinddm"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sinddm` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SinDDMError as exc:
        return _fail(str(exc))
    except torch.cuda.OutOfMemoryError:
        return _fail(
            "The GPU ran out of memory. Try a smaller --batch, a smaller size, or --device cpu."
        )
    except MemoryError:
        return _fail("The computer ran out of memory. Try a smaller --batch or a smaller size.")
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sinddm",
        description="Train SinDDM on one image and generate new images from it.",
    )
    parser.add_argument("--version", action="version", version=f"sinddm-studio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_sample(commands)
    _add_info(commands)
    _add_eval(commands)
    _add_editing(commands)
    _add_demo(commands)
    return parser


def _add_train(commands) -> None:
    defaults_m, defaults_t = ModelConfig(), TrainConfig()
    p = commands.add_parser("train", help="train a model on one image")
    p.add_argument("image", help="the training image (any format Pillow reads)")
    p.add_argument("-o", "--output", required=True, help=f"model file to write ({FILE_SUFFIX})")
    p.add_argument(
        "--steps", type=int, default=None, help=f"total steps (default {defaults_t.steps:,})"
    )
    p.add_argument("--batch", type=int, default=defaults_t.batch_size, help="images per step")
    p.add_argument("--dim", type=int, default=defaults_m.dim, help="network width")
    p.add_argument("--lr", type=float, default=defaults_t.lr, help="Adam learning rate")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="pixel cap")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--save-every", type=int, default=1000, help="checkpoint interval in steps")
    p.add_argument("--resume", action="store_true", help="continue training the model in -o")
    p.add_argument(
        "--schedule",
        choices=("reference", "fitted"),
        default="reference",
        help="reference: the authors' LR halvings and EMA, whatever --steps is; fitted: the "
        "same at equal fractions of --steps (for runs much shorter than 120,001 steps)",
    )
    p.set_defaults(handler=cmd_train)


def _add_sample(commands) -> None:
    p = commands.add_parser("sample", help="generate images from a trained model")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("-o", "--output", required=True, help="a .png file (one sample) or a folder")
    p.add_argument("-n", "--count", type=int, default=1, help="number of samples")
    p.add_argument("--size", type=_parse_size, help="output size WxH in pixels, e.g. 512x200")
    p.add_argument("--scale", type=_parse_multipliers, help="per-axis multipliers, e.g. 2x1")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch", type=int, default=8, help="samples computed together")
    p.add_argument("--omega", type=float, default=0.0, help="fresh noise at scales ≥ 1 (paper: 1)")
    p.add_argument(
        "--start-steps", type=_parse_int_list, help="T[s] for scales 1.., e.g. 54,43,33,24"
    )
    p.set_defaults(handler=cmd_sample)


def _add_info(commands) -> None:
    p = commands.add_parser("info", help="describe a model file")
    p.add_argument("model", help=f"a model file ({FILE_SUFFIX})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_info)


def _add_eval(commands) -> None:
    p = commands.add_parser(
        "eval", help="measure a model's samples, or a folder of images, against the training image"
    )
    p.add_argument("model", nargs="?", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("-n", "--count", type=int, default=50, help="samples to generate")
    p.add_argument("--size", type=_parse_size, help="sample size WxH (default: training size)")
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
    p.set_defaults(handler=cmd_eval)


def _add_output_options(p, count_default: int = 1) -> None:
    p.add_argument("-o", "--output", required=True, help="a .png file (one image) or a folder")
    p.add_argument("-n", "--count", type=int, default=count_default, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch", type=int, default=8, help="images computed together")


def _add_editing(commands) -> None:
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
    p.add_argument("--size", type=_parse_size, help="canvas size WxH (default: training size)")
    _add_output_options(p)
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
    p.add_argument("--size", type=_parse_size, help="canvas size WxH (default: training size)")
    _add_output_options(p)
    p.set_defaults(handler=cmd_text)

    p = commands.add_parser("style-transfer", help="redraw a content image in the model's style")
    p.add_argument("model", help=f"a model trained on the style image ({FILE_SUFFIX})")
    p.add_argument("content", help="the content image")
    p.add_argument("--t", type=int, default=STYLE_TRANSFER_STEP, help="injection step (of 100)")
    p.add_argument("--at-scale", type=int, help="injection scale (default: the finest)")
    p.add_argument("--no-match", action="store_true", help="skip histogram matching")
    _add_output_options(p)
    p.set_defaults(handler=cmd_style_transfer)

    p = commands.add_parser("harmonize", help="blend a pasted object into the model's image")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("composite", help="the image with the object pasted in")
    p.add_argument("--mask", required=True, help="the object's mask (alpha or white on black)")
    p.add_argument("--t", type=int, default=HARMONIZATION_STEP, help="injection step (of 100)")
    _add_output_options(p)
    p.set_defaults(handler=cmd_harmonize)


def _add_demo(commands) -> None:
    p = commands.add_parser(
        "demo",
        help="sample from the bundled demo model, then train a quick model on the demo image",
    )
    p.add_argument("-o", "--output", default="demo_output", help="folder for models and samples")
    p.add_argument("--steps", type=int, default=1000, help="quick training steps (default 1000)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("-n", "--count", type=int, default=2, help="samples of each model")
    p.set_defaults(handler=cmd_demo)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 512x200") from None
    return w, h


def _parse_multipliers(text: str) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a pair like 2x1 or 1.5x1") from None
    return w, h


def _parse_int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list like 54,43,33,24") from None


# ---------------------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    device = resolve_device(args.device)
    trainer = _resumed_or_new_trainer(args, output, device)
    total = trainer.train_config.steps
    if trainer.finished:
        print(f"{output} is already trained for {trainer.state.step:,} steps; raise --steps.")
        return 0
    print(
        f"Training on {device.type}: {_describe_sizes(trainer.pyramid.sizes)}, start steps "
        f"{list(trainer.schedule.start_steps)}, {count_parameters(trainer.net):,} parameters, "
        f"steps {trainer.state.step:,} → {total:,}. Ctrl-C saves and stops.",
        file=sys.stderr,
    )
    stop = _StopFlag()
    bar = ProgressBar(total - trainer.state.step, label="train")
    with stop.installed():
        finished = run_training(
            trainer,
            save=lambda: save_trainer(trainer, output),
            save_every=args.save_every,
            should_stop=stop.is_set,
            on_step=lambda s: bar.update(
                f"step {s.step:,}/{total:,} loss {s.loss:.4f} lr {s.lr:.2e} scale {s.scale}"
            ),
        )
    bar.close()
    state = "finished" if finished else "stopped"
    print(f"Training {state} at step {trainer.state.step:,}; saved {output}.", file=sys.stderr)
    return 0 if finished else 130


def _resumed_or_new_trainer(args, output: Path, device: torch.device) -> Trainer:
    if output.exists() and not args.resume:
        raise ConfigError(
            f"{output} already exists. Add --resume to continue training it, or choose another -o."
        )
    if output.suffix != FILE_SUFFIX:
        raise ConfigError(
            f"The model file name should end in {FILE_SUFFIX}, e.g. model{FILE_SUFFIX}."
        )
    if output.parent.exists() and not output.parent.is_dir():
        raise ConfigError(f"{output.parent} is a file, not a folder.")
    output.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after hours of training
    if args.resume and output.exists():
        trainer = load_trainer(output, device, steps=args.steps)
        print(f"Resuming {output} at step {trainer.state.step:,}.", file=sys.stderr)
        return trainer
    model_config = ModelConfig(dim=args.dim, max_pixels=args.max_pixels)
    train_config = TrainConfig(batch_size=args.batch, lr=args.lr)
    if args.steps is not None and args.schedule == "fitted":
        train_config = replace(fitted_train_config(args.steps, args.batch), lr=args.lr)
    elif args.steps is not None:
        train_config = replace(train_config, steps=args.steps)
    image = load_image(args.image)
    pyramid = build_pyramid(image, model_config.max_pixels, model_config.scale_factor)
    if pyramid.was_capped:
        w, h = pyramid.sizes[-1]
        print(
            f"Note: the image is {image.width}×{image.height}; it is trained at {w}×{h} to stay "
            f"under {model_config.max_pixels:,} pixels (change with --max-pixels).",
            file=sys.stderr,
        )
    return Trainer(pyramid, model_config, train_config, device, args.seed)


def _describe_sizes(sizes) -> str:
    return "scales " + ", ".join(f"{w}×{h}" for w, h in sizes)


class _StopFlag:
    """First Ctrl-C asks training to stop after the current step and save; a second one quits."""

    def __init__(self):
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def _handle(self, signum, frame) -> None:
        if self._set:
            raise KeyboardInterrupt
        self._set = True
        print("\nStopping after this step and saving (Ctrl-C again quits now)…", file=sys.stderr)

    def installed(self):
        flag = self

        class _Installed:
            def __enter__(self):
                self.previous = signal.signal(signal.SIGINT, flag._handle)

            def __exit__(self, *exc):
                signal.signal(signal.SIGINT, self.previous)

        return _Installed()


# --------------------------------------------------------------------------------------- sample


def cmd_sample(args: argparse.Namespace) -> int:
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")
    paths = sample_paths(Path(args.output), args.count, args.seed)
    model = load_model(args.model, resolve_device(args.device))
    for first, images in generate_in_chunks(model, args):
        for image, path in zip(images, paths[first:], strict=False):
            save_png(image, path)  # each chunk is on disk before the next one starts
    for path in paths:
        print(path)
    return 0


def generate_in_chunks(
    model: SinDDMModel,
    args,
    guidance=(),
    injection: Injection | None = None,
    finish=None,
    reblur: bool = True,
):
    """Yield (index of the first, images) per batch of samples, with a progress bar.

    Uses args.count, seed, size, scale (multipliers), batch, omega and start_steps; `guidance`
    (a list, or a callable making a fresh list per batch), `injection` and `reblur` go to the
    sampler, and `finish` maps each batch's result before saving.
    """
    sizes = canvas_sizes(model.sizes, args.size, getattr(args, "scale", None))
    starts = resolve_start_steps(model, getattr(args, "start_steps", None))
    first_scale = 0
    if injection is not None:
        first_scale, starts[injection.scale] = injection.scale, injection.start_step
    # Progress counts pixels: a step at the finest scale costs more than one at the coarsest.
    work_per_sample = sum(
        t * w * h for t, (w, h) in list(zip(starts, sizes, strict=True))[first_scale:]
    )
    bar = ProgressBar(work_per_sample * args.count, label="sample")
    for first in range(0, args.count, args.batch):
        count = min(args.batch, args.count - first)
        result = None
        for step in iter_sample(
            model,
            count=count,
            seed=args.seed + first,
            size=sizes[-1],
            omega=getattr(args, "omega", 0.0),
            start_steps=getattr(args, "start_steps", None),
            guidance=guidance() if callable(guidance) else guidance,
            injection=injection,
            reblur=reblur,
        ):
            w, h = sizes[step.scale]
            bar.update(f"scale {step.scale} t {step.t:3d}", work=w * h * count)
            result = step.x0_pred
        yield first, tensor_to_images(finish(result) if finish else result)
    bar.close()


def sample_paths(output: Path, count: int, seed: int) -> list[Path]:
    """Where samples go: `output` itself for one .png, else `output/sample_seed<k>.png`."""
    if output.suffix.lower() == ".png":
        if count != 1:
            raise ConfigError(f"{output} is one file but -n is {count}; give a folder for -o.")
        if not output.parent.is_dir():
            raise ConfigError(f"The folder {output.parent} does not exist.")
        return [output]
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output} is a file; give a folder or a .png path for -o.")
    output.mkdir(parents=True, exist_ok=True)
    return [output / f"sample_seed{seed + i}.png" for i in range(count)]


# ----------------------------------------------------------------------------------------- info


def model_info(path: str | Path) -> dict:
    """The facts `sinddm info` reports, as JSON-ready primitives."""
    data = read_checkpoint(path)
    config = ModelConfig.from_dict(data["model_config"])
    pyramid = data["pyramid"]
    parameters = sum(int(v.numel()) for v in data["ema"].values())
    return {
        "file": str(path),
        "format_version": data["format_version"],
        "created_by": data.get("created_by"),
        "parameters": parameters,
        "sizes": [[int(w), int(h)] for w, h in pyramid["sizes"]],
        "source_size": [int(v) for v in pyramid["source_size"]],
        "scale_factor": float(pyramid["scale_factor"]),
        "rescale_losses": [float(v) for v in pyramid["rescale_losses"]],
        "start_steps": [int(v) for v in data["start_steps"]],
        "steps_trained": int(data["step"]),
        "has_training_state": bool(data.get("has_training_state", False)),
        "config": config.to_dict(),
        "train_config": data.get("train_config", {}),
        "last_loss": data["loss_history"][-1] if data.get("loss_history") else None,
    }


def cmd_info(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    if args.json:
        print(json.dumps(info))
        return 0
    total = info["train_config"].get("steps")
    lines = [
        f"{info['file']}  ({info['created_by']}, format {info['format_version']})",
        f"  trained steps   {info['steps_trained']:,}" + (f" of {total:,}" if total else ""),
        f"  parameters      {info['parameters']:,} (width {info['config']['dim']})",
        f"  scales          {_describe_sizes(info['sizes'])[7:]}",
        f"  scale factor    {info['scale_factor']:.4f}",
        f"  start steps     {info['start_steps']}",
        f"  source image    {info['source_size'][0]}×{info['source_size'][1]}",
    ]
    if info["last_loss"] is not None:
        lines.append(f"  last loss       {info['last_loss']:.4f}")
    if not info["has_training_state"]:
        lines.append("  sampling-only file (cannot be trained further)")
    print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------------------- eval

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
    for name in (
        "pixel_diversity",
        "patch_distance",
        "coherence",
        "completeness",
        "memorised_fraction",
        "niqe",
        "lpips_diversity",
        "sifid",
    ):
        entry = report[name]
        if entry.get("available", True):
            lines.append(f"  {name:20s} {entry['mean']:.4f} ± {entry['std']:.4f}")
        else:
            lines.append(f"  {name:20s} unavailable: {entry['reason']}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- editing


def _save_generated(model: SinDDMModel, args, **sampling) -> int:
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")
    paths = sample_paths(Path(args.output), args.count, args.seed)
    for first, images in generate_in_chunks(model, args, **sampling):
        for image, path in zip(images, paths[first:], strict=False):
            save_png(image, path)
    for path in paths:
        print(path)
    return 0


def cmd_roi(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    source = Box.parse(args.src)
    pairs = [(source, Box.parse(text, size_from=source)) for text in args.dst]
    canvas = canvas_sizes(model.sizes, args.size)
    guidance = RoiGuidance(model, canvas, pairs, args.strength)
    return _save_generated(model, args, guidance=[guidance])


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
    return _save_generated(
        model, args, guidance=plan.make_guidance, injection=plan.injection, reblur=False
    )


def cmd_style_transfer(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    injection, size = style_transfer_injection(
        model, load_image(args.content), args.t, args.at_scale, not args.no_match
    )
    args.size = size
    return _save_generated(model, args, injection=injection)


def cmd_harmonize(args: argparse.Namespace) -> int:
    model = load_model(args.model, resolve_device(args.device))
    plan = harmonization_injection(model, load_image(args.composite), load_mask(args.mask), args.t)
    args.size = plan.size
    return _save_generated(model, args, injection=plan.injection, finish=plan.blend)


# ----------------------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the whole pipeline on the bundled image: the GPU-trained demo model makes samples
    (one twice as wide), then a small model is trained here and samples too."""
    out = Path(args.output)
    bundled, quick = out / "bundled_model", out / "quick_model"
    quick_model = out / f"quick_model{FILE_SUFFIX}"
    count, device = str(args.count), args.device
    print(f"1/3  Samples from the bundled model ({DEMO_MODEL.name}) → {bundled}", file=sys.stderr)
    status = _run(["sample", str(DEMO_MODEL), "-o", str(bundled), "-n", count, "--device", device])
    print(f"2/3  A sample twice as wide → {bundled / 'wide.png'}", file=sys.stderr)
    status = status or _run(
        [
            "sample",
            str(DEMO_MODEL),
            "-o",
            str(bundled / "wide.png"),
            "--scale",
            "2x1",
            "--seed",
            "100",
            "--device",
            device,
        ]
    )
    print(
        f"3/3  Training a quick small model on {DEMO_IMAGE.name} → {quick_model}", file=sys.stderr
    )
    status = status or _run(
        [
            "train",
            str(DEMO_IMAGE),
            "-o",
            str(quick_model),
            "--steps",
            str(args.steps),
            "--dim",
            "32",
            "--batch",
            "8",
            "--max-pixels",
            "20000",
            "--device",
            device,
            "--save-every",
            "500",
            "--resume",
            "--schedule",
            "fitted",
        ]
    )
    status = status or _run(
        ["sample", str(quick_model), "-o", str(quick), "-n", count, "--device", device]
    )
    if status == 0:
        print(f"Done. Samples are in {bundled} and {quick}.", file=sys.stderr)
    return status


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
