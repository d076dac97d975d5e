"""`sinddm info`: describe a model file (the facts come from core.checkpoint.model_info)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from core.checkpoint import FILE_SUFFIX, model_info


def add_parser(commands) -> None:
    p = commands.add_parser("info", help="describe a model file")
    p.add_argument("model", help=f"a model file ({FILE_SUFFIX})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_info)


def describe_sizes(sizes: Sequence[Sequence[int]]) -> str:
    """'64×48, 91×68, …': the (W, H) of every scale, coarsest first."""
    return ", ".join(f"{w}×{h}" for w, h in sizes)


def cmd_info(args: argparse.Namespace) -> int:
    facts = model_info(args.model)
    if args.json:
        print(json.dumps(facts))
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
    ]
    if facts["last_loss"] is not None:
        lines.append(f"  last loss       {facts['last_loss']:.4f}")
    if not facts["has_training_state"]:
        lines.append("  sampling-only file (cannot be trained further)")
    print("\n".join(lines))
    return 0
