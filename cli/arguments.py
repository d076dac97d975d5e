"""Argument types and option groups shared by the `sinddm` subcommands."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from core.errors import ConfigError, SinDDMError
from core.requests import Box, SamplingOptions
from core.rules import MAX_CANVAS_PIXELS
from core.rules import check_seed as check_seeds

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.denoisers.protocol import DiffusionModel
    from core.method.pyramid import Pyramid
    from core.training.trainer import Trainer

T = TypeVar("T")


MODEL_HELP = "a trained model (.sinddm), or a photo: Instant, with no training"


def _pair(text: str, kind: type[T], example: str) -> tuple[T, T]:
    """'512x200' (or '512×200', as `sinddm info` prints sizes) -> two values of `kind`."""
    parts = text.strip().lower().replace("×", "x").split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        first, second = (kind(v.strip()) for v in parts)  # type: ignore[call-arg]
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {example}") from None
    return first, second


def parse_size(text: str) -> tuple[int, int]:
    """'512x200' -> (512, 200): a width and height in pixels, at most 4096×4096 pixels in all."""
    w, h = _pair(text, int, "a size like 512x200")
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a width and height must be at least 1 pixel")
    if w * h > MAX_CANVAS_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too large: at most {MAX_CANVAS_PIXELS:,} pixels (4096x4096)"
        )
    return w, h


def parse_pixel_cap(text: str) -> int:
    """'4000000', '4e6' or '4M' -> 4,000,000: a cap on an image's pixels, at least 1."""
    cleaned = text.strip().upper().removesuffix("P").replace("_", "").replace(",", "")
    factor = 1_000_000 if cleaned.endswith("M") else 1
    try:
        value = float(cleaned.removesuffix("M")) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a pixel count like 4000000 or 4M"
        ) from None
    if not math.isfinite(value) or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the pixel cap must be at least 1")
    return int(value)


def add_pixel_cap_option(p: argparse.ArgumentParser) -> None:
    """--max-pixels: the cap on an image's pixels (the photo's own resolution under it)."""
    p.add_argument(
        "--max-pixels",
        type=parse_pixel_cap,
        help="largest image in pixels, e.g. 1M (default 4M): the photo comes back at its own "
        "resolution under this cap, with its detail",
    )


def parse_multipliers(text: str) -> tuple[float, float]:
    """'2x1' -> (2.0, 1.0): per-axis multipliers of the training size, positive and finite."""
    w, h = _pair(text, float, "a pair like 2x1 or 1.5x1")
    for value in (w, h):
        # `not 0 < value` also refuses nan; inf and absurd values fail the upper bound.
        if not 0 < value <= MAX_CANVAS_PIXELS:
            raise argparse.ArgumentTypeError(
                f"{text!r}: multipliers must be positive numbers like 2x1 or 0.5x1.5"
            )
    return w, h


def parse_int_list(text: str) -> list[int]:
    """'54,43,33,24' -> [54, 43, 33, 24]."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 54,43,33,24") from None


def parse_start_steps(text: str) -> list[int]:
    """'54,43,33,24' -> T[s] for the scales 1, 2, …: whole numbers from 0 (no noise: the scale
    keeps the upsampled coarser image) to T − 1; the model checks the count and T."""
    steps = parse_int_list(text)
    if any(step < 0 for step in steps):
        raise argparse.ArgumentTypeError(f"{text!r}: start steps cannot be negative")
    return steps


def parse_box(text: str) -> Box:
    """'x,y,w,h' -> a Box with a positive width and height (pixels of the training image)."""
    try:
        box = Box.parse(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a box x,y,w,h like 10,20,64,48"
        ) from None
    if box.w < 1 or box.h < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a box needs a width and height of 1 or more")
    return box


def parse_target(text: str) -> str:
    """A --dst of `roi`: 'x,y' (with the source box's size) or 'x,y,w,h', checked now and read
    with the source box later (`Box.parse(text, size_from=source)`)."""
    parts = text.split(",")
    if len(parts) != 2:
        parse_box(text)
        return text
    try:
        for value in parts:
            int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a place x,y or a box x,y,w,h like 10,20,64,48"
        ) from None
    return text


def add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def add_output_options(p: argparse.ArgumentParser, count_default: int = 1) -> None:
    """-o, -n, --seed, --device, --batch and --overwrite of the editing commands."""
    p.add_argument("-o", "--output", required=True, help="a .png file (one image) or a folder")
    p.add_argument("-n", "--count", type=int, default=count_default, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i")
    add_device_option(p)
    p.add_argument("--batch", type=int, default=8, help="images computed together")
    add_pixel_cap_option(p)
    add_overwrite_option(p)


def add_overwrite_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite", action="store_true", help="replace images that already exist at -o"
    )


def add_speed_options(p: argparse.ArgumentParser) -> None:
    """--fast, --fine-stride, --coarse-stride and --bf16: faster sampling at a measured cost
    (docs/benchmarks.md). Left out, they are the model's defaults (every step for a trained
    model; Instant's are strided). --fast is the app's "Fast sampling", whatever the model;
    the other three, given with it, change what it chose."""
    p.add_argument(
        "--fast",
        action="store_true",
        help="the app's Fast sampling: every 2nd step at the finer scales and bf16 for a trained "
        "model, twice Instant's own strides for Instant and a refiner",
    )
    p.add_argument(
        "--fine-stride",
        type=int,
        help="evaluate every K-th step at the scales after the first (DDIM-style; 1 = reference)",
    )
    p.add_argument(
        "--coarse-stride",
        type=int,
        help="evaluate every K-th step at the coarsest scale (respaced DDPM; 1 = reference)",
    )
    p.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast where the device has native bf16"
    )


def sampling_options(args: argparse.Namespace, model: DiffusionModel) -> SamplingOptions:
    """The model's default (or with --fast, its fast) sampling options, with those given on the
    command line on top."""
    start_steps = getattr(args, "start_steps", None)
    given = {
        "fine_stride": args.fine_stride,
        "coarse_stride": args.coarse_stride,
        "omega": getattr(args, "omega", None),
        "start_steps": tuple(start_steps) if start_steps is not None else None,
        "bf16": True if args.bf16 else None,
    }
    base = model.fast_sampling if getattr(args, "fast", False) else model.default_sampling
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def check_counts(args: argparse.Namespace) -> None:
    """-n, --batch and --seed, checked before anything is loaded (with the command line's
    names)."""
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")
    check_seed(args.seed, args.count)


def check_seed(seed: int, count: int = 1) -> None:
    """Seeds seed … seed + count − 1 must all be valid (core.rules), named as the option."""
    check_seeds(seed, count, "--seed")


def check_train_arguments(args: argparse.Namespace) -> None:
    """`train`'s numbers that no config checks, before anything is loaded: 0 is a value, never
    "the preset's default" (left out, an option is None)."""
    for option, value in (("--steps", args.steps), ("--batch", args.batch)):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be at least 1, not {value}.")
    if args.save_every < 0:  # 0 is documented: saves only on Ctrl-C and at the end
        raise ConfigError(
            f"--save-every cannot be negative (0 saves only on Ctrl-C and at the end), not "
            f"{args.save_every}."
        )
    check_seed(given(args.seed, 0), count=2)  # the trainer also draws noise with seed + 1


def check_resume_arguments(args: argparse.Namespace, trainer: Trainer) -> str | None:
    """`train --resume` continues the model in -o with the image and settings it was trained
    with. An option that says otherwise (another width, batch, learning rate, pixel cap, seed,
    bf16 or image) is refused rather than silently ignored; the same values pass, so a command
    line run again with --resume works. Returns a note to print when the image cannot be read
    (the model holds its own copy, so training can go on)."""
    conflicts = [
        f"{asked} (the model's: {own:g})"
        for asked, value, own in _resume_settings(args, trainer)
        if not math.isclose(value, own, rel_tol=1e-6)
    ]
    if args.fp32 and trainer.bf16_requested:
        conflicts.append("--fp32 (the model trains with bf16 autocast)")
    schedule = _schedule_of(trainer.train_config)
    if args.schedule is not None and schedule is not None and args.schedule != schedule:
        conflicts.append(f"--schedule {args.schedule} (the model's: {schedule})")
    options = bool(conflicts)
    note, differs = _compare_image(args.image, trainer.pyramid)
    if differs:
        conflicts.append(f"the image {args.image} ({differs})")
    if conflicts:
        fix = " and ".join(
            part
            for part, wanted in (
                ("leave those options out", options),
                ("give the image it was trained on", differs),
            )
            if wanted
        )
        raise ConfigError(
            f"--resume continues {args.output} as it was trained, and these differ from it: "
            f"{'; '.join(conflicts)}. To continue it, {fix}; to train a new model, choose "
            "another -o."
        )
    return note


def _schedule_of(config: TrainConfig) -> str | None:
    """'reference' when a training's learning-rate halvings and EMA are the authors' step
    numbers, 'fitted' otherwise; None when the run is as long as theirs (then the two are the
    same schedule)."""
    from core.config import REFERENCE_MILESTONES, TrainConfig

    reference = TrainConfig()
    if config.steps == reference.steps:
        return None
    same = (config.lr_milestones, config.ema_start, config.ema_every) == (
        REFERENCE_MILESTONES,
        reference.ema_start,
        reference.ema_every,
    )
    return "reference" if same else "fitted"


def _resume_settings(args: argparse.Namespace, trainer: Trainer) -> list[tuple[str, float, float]]:
    """(what was asked for, as typed; its value; the model's value) for every setting given on
    the command line. A named --preset asks for its width, pixel cap and batch."""
    from core.training.presets import PRESETS

    model, train = trainer.model_config, trainer.train_config
    preset = PRESETS.get(args.preset)  # None for "auto": nothing was asked for
    settings: list[tuple[str, float, float]] = []
    for option, what, value, own in (
        ("--dim", "width", args.dim, model.dim),
        ("--max-pixels", "pixel cap", args.max_pixels, model.max_pixels),
        ("--batch", "batch", args.batch, train.batch_size),
    ):
        if value is not None:
            settings.append((f"{option} {value}", value, own))
        elif preset is not None:
            implied = {
                "width": preset.model.dim,
                "pixel cap": preset.model.max_pixels,
                "batch": preset.batch_size,
            }[what]
            settings.append((f"--preset {preset.name} ({what} {implied})", implied, own))
    if preset is not None:  # a refiner and a whole network are different models (§11)
        band = preset.model.refine
        settings.append((f"--preset {preset.name} (refiner band {band:g})", band, model.refine))
    if args.lr is not None:
        settings.append((f"--lr {args.lr:g}", args.lr, train.lr))
    if args.distill is not None:
        settings.append((f"--distill {args.distill:g}", args.distill, train.distill))
    if args.distill_until is not None:
        until = args.distill_until
        settings.append((f"--distill-until {until:g}", until, train.distill_until))
    if args.seed is not None:
        settings.append((f"--seed {args.seed}", args.seed, trainer.seed))
    return settings


def _compare_image(path: str, pyramid: Pyramid) -> tuple[str | None, str | None]:
    """(a note when `path` cannot be read, how it differs from the model's training image)."""
    import numpy as np
    from PIL import Image

    from core.imageio import load_image

    try:
        image = load_image(path)
    except SinDDMError as exc:
        return f"Note: {exc} Training goes on with the image stored in the model.", None
    if image.size != tuple(pyramid.source_size):
        width, height = pyramid.source_size
        return None, f"{image.width}×{image.height}, not {width}×{height}"
    # As build_pyramid makes the finest scale; a small tolerance absorbs resampling changes
    # between Pillow versions, while another photo differs by tens of levels.
    finest = image.resize(pyramid.sizes[-1], Image.Resampling.LANCZOS)
    gap = np.abs(np.asarray(finest, dtype=np.float32) - pyramid.sharp[-1]).mean()
    return None, ("another picture of the same size" if gap > 2.0 else None)


def check_text_arguments(args: argparse.Namespace) -> str | None:
    """`text`'s prompt, numbers and CLIP weights, before the model or CLIP is loaded: an
    empty prompt or a missing weights file fails at once, not after a download attempt.
    Returns a note to print when the weights will be downloaded first."""
    if not args.prompt.strip():
        raise ConfigError("The prompt is empty: describe what to add, e.g. --prompt fire.")
    if args.strength is not None and not 0.0 <= args.strength <= 1.0:
        raise ConfigError(f"--strength must lie between 0 and 1, not {args.strength}.")
    if args.fill is not None and not 0.0 < args.fill <= 1.0:
        raise ConfigError(f"--fill must lie in (0, 1], not {args.fill}.")
    if args.views < 1:
        raise ConfigError(f"--views must be at least 1, not {args.views}.")
    if args.mode == "region" and args.box is None:
        raise ConfigError("The region mode needs a box on the training image: --box x,y,w,h.")
    from core.generation.clip_weights import check_weights  # imports open_clip (no network)

    weights = check_weights(args.clip_model, args.clip_weights)
    if not weights.ready and not weights.downloadable:
        raise ConfigError(weights.message)
    return None if weights.ready else f"Note: {weights.message}"


def check_injection_arguments(args: argparse.Namespace, model: DiffusionModel) -> None:
    """--t and --at-scale of `style-transfer` and `harmonize`, against the model's T and scales
    (named as on the command line, before the content image is read)."""
    timesteps = model.schedule.timesteps
    if not 1 <= args.t < timesteps:
        raise ConfigError(f"--t must lie in 1..{timesteps - 1} for this model, not {args.t}.")
    scale = getattr(args, "at_scale", None)
    if scale is not None and not 0 <= scale < model.num_scales:
        last = model.num_scales - 1
        raise ConfigError(
            f"--at-scale must lie in 0..{last} for this model ({model.num_scales} scales, "
            f"{last} the finest), not {scale}."
        )


def given(value: T | None, default: T) -> T:
    """`value` unless the option was left out (None)."""
    return default if value is None else value
