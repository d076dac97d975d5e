"""Argument types and option groups shared by the `sinddm` subcommands."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from core.errors import ConfigError
from core.requests import SamplingOptions

if TYPE_CHECKING:
    from core.bundle import DiffusionModel

T = TypeVar("T")


MODEL_HELP = "a trained model (.sinddm), or a photo: Instant, with no training"


def parse_size(text: str) -> tuple[int, int]:
    """'512x200' -> (512, 200): a width and height in pixels."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 512x200") from None
    return w, h


def parse_multipliers(text: str) -> tuple[float, float]:
    """'2x1' -> (2.0, 1.0): per-axis multipliers of the training size."""
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a pair like 2x1 or 1.5x1") from None
    return w, h


def parse_int_list(text: str) -> list[int]:
    """'54,43,33,24' -> [54, 43, 33, 24]."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list like 54,43,33,24") from None


def add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def add_output_options(p: argparse.ArgumentParser, count_default: int = 1) -> None:
    """-o, -n, --seed, --device and --batch of the editing commands."""
    p.add_argument("-o", "--output", required=True, help="a .png file (one image) or a folder")
    p.add_argument("-n", "--count", type=int, default=count_default, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i")
    add_device_option(p)
    p.add_argument("--batch", type=int, default=8, help="images computed together")


def add_speed_options(p: argparse.ArgumentParser) -> None:
    """--fine-stride, --coarse-stride and --bf16: faster sampling at a measured cost
    (docs/benchmarks.md). Left out, they are the model's defaults (every step for a trained
    model; Instant's are strided)."""
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
    """The model's default sampling options with those given on the command line on top."""
    start_steps = getattr(args, "start_steps", None)
    given = {
        "fine_stride": args.fine_stride,
        "coarse_stride": args.coarse_stride,
        "omega": getattr(args, "omega", None),
        "start_steps": tuple(start_steps) if start_steps is not None else None,
        "bf16": True if args.bf16 else None,
    }
    return replace(model.default_sampling, **{k: v for k, v in given.items() if v is not None})


def check_counts(args: argparse.Namespace) -> None:
    """-n and --batch, checked before anything is loaded (with the command line's names)."""
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")


def given(value: T | None, default: T) -> T:
    """`value` unless the option was left out (None)."""
    return default if value is None else value
