"""`sinddm info`: describe a model file, or the Instant model of a photo (core.files.open_model)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from core.config import ModelConfig
from core.errors import ImageTooSmallError
from core.files.model_file import FILE_SUFFIX
from core.files.open_model import describe_source, is_model_file
from core.imageio import load_image
from core.method.pyramid import capped_size, check_image_shape
from core.requests import DEFAULT_OUTPUT_PIXELS


def add_parser(commands) -> None:
    p = commands.add_parser("info", help="describe a model file, or what Instant makes of a photo")
    p.add_argument("model", help=f"a model file ({FILE_SUFFIX}) or a photo")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_info)


def describe_sizes(sizes: Sequence[Sequence[int]]) -> str:
    """'64×48, 91×68, …': the (W, H) of every scale, coarsest first."""
    return ", ".join(f"{w}×{h}" for w, h in sizes)


def cmd_info(args: argparse.Namespace) -> int:
    try:
        facts = describe_source(args.model)
    except ImageTooSmallError:
        # core names the size the pixel cap shrank a long, thin photo to ("4472×4" for
        # 20000×20); say what the photo is and why instead (Instant keeps the default cap).
        if not is_model_file(args.model):
            check_image_shape(load_image(args.model).size, ModelConfig().max_pixels)
        raise
    if args.json:
        print(json.dumps(facts))
        return 0
    if facts["kind"] == "instant":
        print(_describe_instant(facts))
        return 0
    total = facts["train_config"].get("steps")
    lines = [
        f"{facts['file']}  ({facts['created_by']}, format {facts['format_version']})",
        f"  trained steps   {facts['steps_trained']:,}" + (f" of {total:,}" if total else ""),
        f"  parameters      {facts['parameters']:,} (width {facts['config']['dim']})",
        f"  scales          {describe_sizes(facts['sizes'])}",
        f"  scale factor    {facts['scale_factor']:.4f}",
        f"  start steps     {facts['start_steps']}",
        f"  source image    {facts['source_size'][0]}×{facts['source_size'][1]}",
        f"  full resolution {_full_resolution(facts)}",
    ]
    refine = facts["config"].get("refine", 0.0)
    if refine:
        weight = facts["config"].get("refine_weight", 0.5)
        lines.append(
            f"  refines Instant the last {refine:.0%} of each finer scale's steps, "
            f"weight {weight:g} (docs/method.md §11)"
        )
    if facts.get("instant_settings"):
        lines.append(f"  Instant         {describe_instant_settings(facts['instant_settings'])}")
    if facts["last_loss"] is not None:
        lines.append(f"  last loss       {facts['last_loss']:.4f}")
    if not facts["has_training_state"]:
        lines.append("  sampling-only file (cannot be trained further)")
    print("\n".join(lines))
    return 0


def describe_instant_settings(settings: dict) -> str:
    """The Instant a refiner samples beside (or a distilled model learned from): its patch
    sizes and position prior σ, and whether the file kept them (older files did not)."""
    text = (
        f"patch sizes {settings['patch_sizes']}, position σ {settings['position_sigma']:g}, "
        f"{settings['candidates']} candidates, {settings['aggregation']}"
    )
    if not settings.get("kept_in_file", True):
        text += " (today's defaults: the file is older than kept settings)"
    return text


def _describe_instant(facts: dict) -> str:
    """What Instant would use for a photo: no training, the pyramid and its patch sizes."""
    width, height = facts["source_size"]
    return "\n".join(
        [
            f"{facts['file']}  (a photo: Instant, no training)",
            f"  scales          {describe_sizes(facts['sizes'])}",
            f"  patch sizes     {facts['patch_sizes']}",
            f"  scale factor    {facts['scale_factor']:.4f}",
            f"  start steps     {facts['start_steps']}",
            f"  source image    {width}×{height}",
            f"  full resolution {_full_resolution(facts)}",
        ]
    )


def _full_resolution(facts: dict) -> str:
    """What `sample` makes by default: the photo's own resolution under the default cap
    (docs/method.md §12), or the training size for a file that keeps no photo."""
    photo = facts.get("photo_size")
    if not photo:
        width, height = facts["sizes"][-1]
        return f"{width}×{height} (the file keeps no photo: made before full resolution)"
    width, height = capped_size(photo[0], photo[1], DEFAULT_OUTPUT_PIXELS)
    capped = " (under the 4 MP cap; --max-pixels)" if (width, height) != tuple(photo) else ""
    return f"{width}×{height}{capped}, detail from the photo"
