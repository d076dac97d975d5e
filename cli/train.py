"""`sinddm train`: train a model on one image, saving every --save-every steps and on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from cli.arguments import (
    add_device_option,
    check_resume_arguments,
    check_train_arguments,
    given,
)
from cli.info import describe_sizes
from cli.progress_bar import progress_bar
from core.config import TrainConfig
from core.denoisers.network import count_parameters
from core.device import bf16_supported, keep_freed_cpu_memory, resolve_device
from core.errors import CheckpointWriteError, ConfigError
from core.files.model_file import FILE_SUFFIX, load_trainer, save_trainer
from core.imageio import FileAppearedError, ensure_writable, load_image
from core.method.pyramid import build_pyramid, check_image_shape
from core.training.presets import PRESETS, default_preset_name
from core.training.trainer import Trainer, run_training


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model on one image")
    p.add_argument("image", help="the training image (any format Pillow reads)")
    p.add_argument("-o", "--output", required=True, help=f"model file to write ({FILE_SUFFIX})")
    p.add_argument(
        "--preset",
        choices=("auto", *PRESETS),
        default="auto",
        help="settings to start from; auto: fast on a CUDA GPU, refine elsewhere. "
        + " ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items()),
    )
    p.add_argument("--steps", type=int, default=None, help="total steps (default: the preset's)")
    p.add_argument("--batch", type=int, default=None, help="images per step (default: preset's)")
    p.add_argument("--dim", type=int, default=None, help="network width (default: the preset's)")
    p.add_argument(
        "--lr", type=float, default=None, help=f"Adam learning rate (default {TrainConfig().lr:g})"
    )
    p.add_argument("--max-pixels", type=int, default=None, help="pixel cap (default: preset's)")
    p.add_argument(
        "--distill",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of each batch (0-1) trained on Instant's closed-form target instead of its "
        "own noise draw (default: the preset's; 0 is the authors' loss)",
    )
    p.add_argument(
        "--distill-until",
        type=float,
        default=None,
        metavar="FRACTION",
        help="fraction of the run (0-1) after which --distill stops (default: the preset's)",
    )
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast even if the preset has it")
    add_device_option(p)
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument(
        "--save-every",
        type=int,
        default=1000,
        help="checkpoint interval in steps (0: only on Ctrl-C and at the end)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue training the model in -o with its own image and settings (only --steps "
        "can change)",
    )
    p.add_argument(
        "--schedule",
        choices=("reference", "fitted"),
        default=None,
        help="fitted (default): the authors' LR halvings and EMA at the same fractions of the "
        "run (identical to theirs at 120,001 steps); reference: their step numbers, whatever the "
        "length of the run",
    )
    p.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """Train to --steps; 0 when finished, 130 when Ctrl-C stopped it (saved either way)."""
    check_train_arguments(args)
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
        f"Training on {device.type}: scales {describe_sizes(trainer.pyramid.sizes)}, start steps "
        f"{list(trainer.schedule.start_steps)}, {count_parameters(trainer.net):,} parameters, "
        f"steps {trainer.state.step:,} → {total:,}. Ctrl-C saves and stops.",
        file=sys.stderr,
    )
    stop = StopFlag()
    with stop.installed(), progress_bar(total - trainer.state.step, "train") as bar:
        finished = run_training(
            trainer,
            save=_saver(trainer, output),
            save_every=args.save_every,
            should_stop=stop.is_set,
            on_step=lambda s: bar.advance(
                f"step {s.step:,}/{total:,} loss {s.loss:.4f} lr {s.lr:.2e} scale {s.scale}"
            ),
        )
    state = "finished" if finished else "stopped"
    print(f"Training {state} at step {trainer.state.step:,}; saved {output}.", file=sys.stderr)
    return 0 if finished else 130


def _saver(trainer: Trainer, output: Path) -> Callable[[], None]:
    """`save_trainer` onto `output`; when a save fails (disk full, folder gone read-only) the
    one-line error also says what the file still holds (writes are atomic: the last good save)."""
    saved_step = trainer.state.step if output.exists() else None  # a resumed file's step

    def save() -> None:
        nonlocal saved_step
        try:
            # the run's first save of a new model never replaces a file that appeared since
            # the start (another `train -o` of the same name); later saves replace its own
            save_trainer(trainer, output, replace=saved_step is not None)
        except FileAppearedError:
            raise
        except CheckpointWriteError as exc:
            if saved_step is None:
                kept = "No checkpoint was saved in this run."
            else:
                kept = (
                    f"{output} keeps the last good checkpoint (step {saved_step:,}); "
                    "add --resume to continue from it."
                )
            raise CheckpointWriteError(f"{exc} Training stopped. {kept}") from None
        saved_step = trainer.state.step

    return save


def _check_output(output: Path, resume: bool) -> None:
    """Refuse to overwrite a model, a wrong suffix, a missing or read-only folder before any
    work (with --resume, `load_trainer` then refuses a file that is not a model)."""
    if output.is_dir():
        raise ConfigError(f"{output} is a folder; give a model file name for -o.")
    if output.exists() and not resume:
        raise ConfigError(
            f"{output} already exists. Add --resume to continue training it, or choose another -o."
        )
    if output.suffix != FILE_SUFFIX:
        raise ConfigError(
            f"The model file name should end in {FILE_SUFFIX}, e.g. model{FILE_SUFFIX}."
        )
    if output.parent.exists() and not output.parent.is_dir():
        raise ConfigError(f"{output.parent} is a file, not a folder.")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after hours of training
    except OSError as exc:
        raise CheckpointWriteError(
            f"Could not create the folder {output.parent}: {exc.strerror or exc}."
        ) from None
    ensure_writable(output, "model")


def _resumed_or_new_trainer(args: argparse.Namespace, output: Path, device: torch.device):
    _check_output(output, args.resume)
    if args.resume and output.exists():
        trainer = load_trainer(output, device, steps=args.steps)
        note = check_resume_arguments(args, trainer)
        if note:
            print(note, file=sys.stderr)
        print(
            f"Resuming {output} at step {trainer.state.step:,}, with the image, width, batch, "
            "learning rate and schedule it was trained with.",
            file=sys.stderr,
        )
        return trainer
    return _new_trainer(args, device)


def _new_trainer(args: argparse.Namespace, device: torch.device) -> Trainer:
    """A trainer from the chosen preset, with the options given on the command line on top."""
    preset = PRESETS[default_preset_name(device) if args.preset == "auto" else args.preset]
    model_config = replace(
        preset.model,
        dim=given(args.dim, preset.model.dim),
        max_pixels=given(args.max_pixels, preset.model.max_pixels),
    )
    steps, batch = given(args.steps, preset.steps), given(args.batch, preset.batch_size)
    lr = given(args.lr, TrainConfig().lr)
    if (args.schedule or "fitted") == "fitted":
        train_config = replace(preset.train_config(steps, batch), lr=lr)
    else:
        train_config = TrainConfig(steps=steps, batch_size=batch, lr=lr)
    train_config = replace(
        train_config,
        distill=given(args.distill, preset.distill),
        distill_until=given(args.distill_until, preset.distill_until),
    )
    bf16 = preset.bf16 and not args.fp32
    image = load_image(args.image)  # a bad image is the one line printed
    check_image_shape(image.size, model_config.max_pixels, "--max-pixels")
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
    return Trainer(pyramid, model_config, train_config, device, given(args.seed, 0), bf16)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and the polite request to end that `kill` and a system shutdown send."""


class StopFlag:
    """First Ctrl-C (or SIGTERM) asks training to stop after the current step and save; a second
    one quits."""

    def __init__(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def _handle(self, signum, frame) -> None:
        if self._set:
            raise KeyboardInterrupt
        self._set = True
        again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
        print(f"\nStopping after this step and saving ({again} quits now)…", file=sys.stderr)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle Ctrl-C and SIGTERM with this flag inside the `with` block only."""
        previous = {number: signal.signal(number, self._handle) for number in STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
