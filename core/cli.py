"""The `sinddm` command: train, sample, info and demo over the core library."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from core import __version__
from core.checkpoint import FILE_SUFFIX, load_model, load_trainer, read_checkpoint, save_trainer
from core.cli_common import (
    add_speed_options,
    generate_in_chunks,
    parse_int_list,
    parse_multipliers,
    parse_size,
    sample_paths,
)
from core.cli_editing import add_editing, add_eval
from core.config import ModelConfig, TrainConfig
from core.device import bf16_supported, keep_freed_cpu_memory, resolve_device
from core.errors import ConfigError, SinDDMError
from core.imageio import load_image, save_png
from core.model import count_parameters
from core.presets import PRESETS, default_preset_name
from core.progress_bar import ProgressBar
from core.pyramid import build_pyramid
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
    add_eval(commands)
    add_editing(commands)
    _add_demo(commands)
    return parser


def _add_train(commands) -> None:
    p = commands.add_parser("train", help="train a model on one image")
    p.add_argument("image", help="the training image (any format Pillow reads)")
    p.add_argument("-o", "--output", required=True, help=f"model file to write ({FILE_SUFFIX})")
    p.add_argument(
        "--preset",
        choices=("auto", *PRESETS),
        default="auto",
        help="settings to start from; auto: fast on a CUDA GPU, cpu elsewhere. "
        + " ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items()),
    )
    p.add_argument("--steps", type=int, default=None, help="total steps (default: the preset's)")
    p.add_argument("--batch", type=int, default=None, help="images per step (default: preset's)")
    p.add_argument("--dim", type=int, default=None, help="network width (default: the preset's)")
    p.add_argument("--lr", type=float, default=TrainConfig().lr, help="Adam learning rate")
    p.add_argument("--max-pixels", type=int, default=None, help="pixel cap (default: preset's)")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast even if the preset has it")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--save-every", type=int, default=1000, help="checkpoint interval in steps")
    p.add_argument("--resume", action="store_true", help="continue training the model in -o")
    p.add_argument(
        "--schedule",
        choices=("reference", "fitted"),
        default="fitted",
        help="fitted (default): the authors' LR halvings and EMA at the same fractions of the "
        "run (identical to theirs at 120,001 steps); reference: their step numbers, whatever the "
        "length of the run",
    )
    p.set_defaults(handler=cmd_train)


def _add_sample(commands) -> None:
    p = commands.add_parser("sample", help="generate images from a trained model")
    p.add_argument("model", help=f"a trained model ({FILE_SUFFIX})")
    p.add_argument("-o", "--output", required=True, help="a .png file (one sample) or a folder")
    p.add_argument("-n", "--count", type=int, default=1, help="number of samples")
    p.add_argument("--size", type=parse_size, help="output size WxH in pixels, e.g. 512x200")
    p.add_argument("--scale", type=parse_multipliers, help="per-axis multipliers, e.g. 2x1")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch", type=int, default=8, help="samples computed together")
    p.add_argument("--omega", type=float, default=0.0, help="fresh noise at scales ≥ 1 (paper: 1)")
    p.add_argument(
        "--start-steps", type=parse_int_list, help="T[s] for scales 1.., e.g. 54,43,33,24"
    )
    add_speed_options(p)
    p.set_defaults(handler=cmd_sample)


def _add_info(commands) -> None:
    p = commands.add_parser("info", help="describe a model file")
    p.add_argument("model", help=f"a model file ({FILE_SUFFIX})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_info)


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


# ---------------------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    device = resolve_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()  # about 10% faster CPU steps (docs/benchmarks.md)
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
    preset = PRESETS[default_preset_name(device) if args.preset == "auto" else args.preset]
    model_config = replace(
        preset.model,
        dim=_given(args.dim, preset.model.dim),
        max_pixels=_given(args.max_pixels, preset.model.max_pixels),
    )
    steps, batch = _given(args.steps, preset.steps), _given(args.batch, preset.batch_size)
    if args.schedule == "fitted":
        train_config = replace(preset.train_config(steps, batch), lr=args.lr)
    else:
        train_config = TrainConfig(steps=steps, batch_size=batch, lr=args.lr)
    bf16 = preset.bf16 and not args.fp32
    image = load_image(args.image)  # a bad image is the one line printed
    print(
        f"Preset {preset.name}: width {model_config.dim}, batch {batch}, {steps:,} steps"
        f"{', bf16 autocast' if bf16 and bf16_supported(device) else ''}.",
        file=sys.stderr,
    )
    pyramid = build_pyramid(image, model_config.max_pixels, model_config.scale_factor)
    if pyramid.was_capped:
        w, h = pyramid.sizes[-1]
        print(
            f"Note: the image is {image.width}×{image.height}; it is trained at {w}×{h} to stay "
            f"under {model_config.max_pixels:,} pixels (change with --max-pixels).",
            file=sys.stderr,
        )
    return Trainer(pyramid, model_config, train_config, device, args.seed, bf16)


def _given(value, default):
    return default if value is None else value


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

    @contextmanager
    def installed(self):
        """Handle Ctrl-C with this flag inside the `with` block only."""
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


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
            "--preset",
            "cpu",
            "--steps",
            str(args.steps),
            "--device",
            device,
            "--save-every",
            "500",
            "--resume",
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
