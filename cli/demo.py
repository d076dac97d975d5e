"""`sinddm demo`: the whole pipeline on the bundled photo, as a chain of other subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.arguments import add_device_option
from core.files.model_file import FILE_SUFFIX
from core.training.presets import PRESETS
from resources import DEMO_IMAGE, DEMO_MODEL


def add_parser(commands) -> None:
    p = commands.add_parser(
        "demo",
        help="sample from the bundled demo model, then train a quick refiner on the demo image",
    )
    p.add_argument("-o", "--output", default="demo_output", help="folder for models and samples")
    p.add_argument(
        "--steps",
        type=int,
        default=PRESETS["refine"].steps,
        help=f"quick training steps (default {PRESETS['refine'].steps}, the refine preset's)",
    )
    add_device_option(p)
    p.add_argument("-n", "--count", type=int, default=2, help="samples of each model")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the whole pipeline on the bundled image: the GPU-trained demo model makes samples
    (one twice as wide), then the `refine` preset (a small network that finishes Instant's
    last steps, docs/method.md §11: minutes on a CPU) is trained here and samples too."""
    out = Path(args.output)
    bundled, quick = out / "bundled_model", out / "refined_model"
    quick_model = out / f"refined_model{FILE_SUFFIX}"  # not the cpu-preset quick_model of before
    count, device = str(args.count), args.device
    # the demo's folder is its own: a second run replaces the first run's samples
    replace = ["--overwrite"]
    print(f"1/3  Samples from the bundled model ({DEMO_MODEL.name}) → {bundled}", file=sys.stderr)
    status = _run(
        ["sample", str(DEMO_MODEL), "-o", str(bundled), "-n", count, "--device", device, *replace]
    )
    print(f"2/3  A sample twice as wide → {bundled / 'wide.png'}", file=sys.stderr)
    wide = ["-o", str(bundled / "wide.png"), "--scale", "2x1", "--seed", "100"]
    status = status or _run(["sample", str(DEMO_MODEL), *wide, "--device", device, *replace])
    print(
        f"3/3  Training a refiner of Instant on {DEMO_IMAGE.name} → {quick_model}", file=sys.stderr
    )
    training = ["--preset", "refine", "--steps", str(args.steps), "--save-every", "500", "--resume"]
    status = status or _run(
        ["train", str(DEMO_IMAGE), "-o", str(quick_model), *training, "--device", device]
    )
    status = status or _run(
        ["sample", str(quick_model), "-o", str(quick), "-n", count, "--device", device, *replace]
    )
    if status == 0:
        print(f"Done. Samples are in {bundled} and {quick}.", file=sys.stderr)
    return status


def _run(argv: list[str]) -> int:
    """One subcommand of the chain; its errors reach `main` like the demo's own."""
    from cli.main import run  # cli.main imports this module to build its parser

    return run(argv)
