"""`sinddm`: the parser of every subcommand and the one place errors become a line of text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import demo, evaluate, generate, info, train
from core import __version__
from core.errors import SinDDMError, out_of_memory

GPU_MEMORY_ADVICE = "Try a smaller --batch, a smaller size, or --device cpu."
CPU_MEMORY_ADVICE = "Try a smaller --batch or a smaller size."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sinddm` console script; returns the exit status.

    A known problem is one line `error: …` on stderr and status 2; Ctrl-C outside training's
    own handler is `Cancelled.` and status 130.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SinDDMError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return 130
    except Exception as exc:
        message = out_of_memory(exc)
        if message is None:
            raise
        advice = CPU_MEMORY_ADVICE if isinstance(exc, MemoryError) else GPU_MEMORY_ADVICE
        return _fail(f"{message} {advice}")


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
    train.add_parser(commands)
    generate.add_sample_parser(commands)
    info.add_parser(commands)
    evaluate.add_parser(commands)
    generate.add_editing_parsers(commands)
    demo.add_parser(commands)
    return parser


def run(argv: Sequence[str]) -> int:
    """Run one subcommand and let its errors propagate (the demo chains several)."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
