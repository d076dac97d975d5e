"""Pieces shared by the `sinddm` subcommands: argument parsers, batched generation, output paths."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.bundle import SinDDMModel, tensor_to_images
from core.errors import ConfigError
from core.imageio import save_png
from core.progress_bar import ProgressBar
from core.sampling import (
    Injection,
    canvas_sizes,
    iter_sample,
    resolve_start_steps,
    sampling_work,
)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 512x200") from None
    return w, h


def parse_multipliers(text: str) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a pair like 2x1 or 1.5x1") from None
    return w, h


def parse_int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list like 54,43,33,24") from None


def add_output_options(p, count_default: int = 1) -> None:
    p.add_argument("-o", "--output", required=True, help="a .png file (one image) or a folder")
    p.add_argument("-n", "--count", type=int, default=count_default, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch", type=int, default=8, help="images computed together")


def add_speed_options(p) -> None:
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
    fine_stride = getattr(args, "fine_stride", 1)
    work = sampling_work(sizes, starts, injection, fine_stride if reblur else 1)
    bar = ProgressBar(sum(work) * args.count, label="sample")
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
            fine_stride=fine_stride,
            bf16=getattr(args, "bf16", False),
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


def save_generated(model: SinDDMModel, args, **sampling) -> int:
    if args.count < 1 or args.batch < 1:
        raise ConfigError("-n and --batch must be at least 1.")
    paths = sample_paths(Path(args.output), args.count, args.seed)
    for first, images in generate_in_chunks(model, args, **sampling):
        for image, path in zip(images, paths[first:], strict=False):
            save_png(image, path)
    for path in paths:
        print(path)
    return 0
