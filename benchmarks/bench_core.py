"""Seconds per training step at each scale and seconds per sample, on the current device.

    python -m benchmarks.bench_core --image resources/demo.png --size 250x200 --dim 160 --batch 32
    python -m benchmarks.bench_core --size 150x112 --dim 32 --batch 8 --bf16   # the cpu preset

The image is resized to --size first (the reference's figures are for a 250×200 image). Speed
figures belong in docs/benchmarks.md with the device and the command, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from core.config import ModelConfig, TrainConfig
from core.device import resolve_device
from core.generation.sampling import sample
from core.imageio import load_image
from core.method.pyramid import build_pyramid
from core.requests import SamplingOptions
from core.training.trainer import Trainer


@dataclass
class StepTimes:
    sizes: list[tuple[int, int]]
    seconds_per_step: list[float]

    @property
    def mean_over_scales(self) -> float:
        """Expected seconds per step when scales are drawn uniformly (as in training)."""
        return sum(self.seconds_per_step) / len(self.seconds_per_step)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def make_trainer(
    image: Image.Image, dim: int, batch: int, device: torch.device, bf16: bool = False
) -> Trainer:
    """`bf16` trains under bfloat16 autocast where the device has it (ignored elsewhere)."""
    config = ModelConfig(dim=dim)
    pyramid = build_pyramid(image, config.max_pixels, config.scale_factor)
    return Trainer(pyramid, config, TrainConfig(batch_size=batch), device, seed=0, bf16=bf16)


def training_step_times(trainer: Trainer, repeats: int, warmup: int = 1) -> StepTimes:
    """Time a full step (draws, forward, L1, backward, Adam, EMA) at each scale separately."""
    times = [
        timed(lambda s=s: trainer.train_step(scale=s), trainer.device, repeats, warmup)
        for s in range(trainer.pyramid.num_scales)
    ]
    return StepTimes(list(trainer.pyramid.sizes), times)


def sampling_seconds(trainer: Trainer, count: int, repeats: int = 1) -> float:
    """Seconds to make `count` samples at the training size in one batch (in bf16 when the
    trainer trains in bf16)."""
    model = trainer.sampling_model()
    return timed(
        lambda: sample(model, count=count, seed=0, options=SamplingOptions(bf16=trainer.bf16)),
        trainer.device,
        repeats,
        warmup=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="resources/demo.png")
    parser.add_argument("--size", default="250x200", help="resize the image to WxH first")
    parser.add_argument("--dim", type=int, default=160)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per scale")
    parser.add_argument("--samples", type=int, default=1, help="samples per timed batch")
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast where the device has it"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    device = resolve_device(args.device)
    image = load_image(args.image)
    if args.size:
        w, h = (int(v) for v in args.size.lower().split("x"))
        image = image.resize((w, h), Image.Resampling.LANCZOS)
    trainer = make_trainer(image, args.dim, args.batch, device, args.bf16)
    steps = training_step_times(trainer, args.repeats)
    sample_time = sampling_seconds(trainer, args.samples)

    print(
        f"device {device} ({_device_name(device)}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, dim {args.dim}, batch {args.batch}, "
        f"bf16 {'on' if trainer.bf16 else 'off'}"
    )
    for s, ((w, h), sec) in enumerate(zip(steps.sizes, steps.seconds_per_step, strict=True)):
        print(f"scale {s}  {w}×{h}  {sec:.4f} s per training step")
    print(f"mean over scales: {steps.mean_over_scales:.4f} s per step")
    print(
        f"sampling {args.samples} × {image.width}×{image.height}: {sample_time:.3f} s "
        f"({sample_time / args.samples:.3f} s per sample)"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "device": _device_name(device),
                    "dim": args.dim,
                    "batch": args.batch,
                    "bf16": trainer.bf16,
                    "sizes": steps.sizes,
                    "seconds_per_step": steps.seconds_per_step,
                    "mean_seconds_per_step": steps.mean_over_scales,
                    "samples": args.samples,
                    "seconds_per_sample": sample_time / args.samples,
                },
                handle,
                indent=1,
            )


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
