"""Argument types and option groups shared by the `sinddm` subcommands."""

from __future__ import annotations

import argparse
from typing import TypeVar

from core.errors import ConfigError

T = TypeVar("T")


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
    """--fine-stride and --bf16: faster sampling at a measured cost (docs/benchmarks.md)."""
    p.add_argument(
        "--fine-stride",
        type=int,
        default=1,
        help="evaluate every K-th step at the scales after the first (DDIM-style; 1 = reference)",
    )
    p.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast where the device has native bf16"
    )


def check_counts(args: argparse.Namespace) -> None:
    """-n and --batch, checked before anything is loaded (with the command line's names)."""
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")


def given(value: T | None, default: T) -> T:
    """`value` unless the option was left out (None)."""
    return default if value is None else value
