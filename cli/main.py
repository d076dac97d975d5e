"""`sinddm`: the parser of every subcommand and the one place errors become a line of text."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from core import __version__
from core.errors import SinDDMError, out_of_memory

GPU_MEMORY_ADVICE = "Try a smaller --batch, a smaller size, or --device cpu."
CPU_MEMORY_ADVICE = "Try a smaller --batch or a smaller size."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sinddm` console script; returns the exit status.

    A known problem is one line `error: …` on stderr and status 2; Ctrl-C outside training's
    own handler is `Cancelled.` and status 130, also while the commands load (importing torch
    takes seconds); a reader that stops early (`sinddm info m.sinddm | head -1`) ends it
    quietly with status 1.
    """
    try:
        try:
            with _quit_on_ctrl_c():
                parser = build_parser()
            args = parser.parse_args(argv)
            return args.handler(args)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
    except SinDDMError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return 1
    except Exception as exc:
        message = out_of_memory(exc)
        if message is None:
            raise
        advice = CPU_MEMORY_ADVICE if "computer" in message else GPU_MEMORY_ADVICE
        return _fail(f"{message} {advice}")


def _fail(message: str) -> int:
    print(f"error: {one_line(message)}", file=sys.stderr)
    return 2


def one_line(message: str) -> str:
    """`message` on one line: a line break in it (from a file name, or text quoted from a
    library) becomes a space."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


@contextmanager
def _quit_on_ctrl_c() -> Iterator[None]:
    """While the commands load, Ctrl-C ends the process at once with "Cancelled." and status
    130: nothing has started that could be lost, and a KeyboardInterrupt raised inside torch's
    C++ start-up code aborts the process instead ("terminate called after throwing …")."""

    def quit_now(signum, frame) -> None:
        sys.stderr.write("\nCancelled.\n")
        sys.stderr.flush()
        os._exit(130)

    if (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        or threading.current_thread() is not threading.main_thread()
    ):
        yield  # Ctrl-C is ignored (a background job) or someone else's: leave it so
        return
    previous = signal.signal(signal.SIGINT, quit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _discard_stdout() -> None:
    """Point stdout at os.devnull, so that the flush at exit does not fail again on the closed
    pipe (the Python docs' "Note on SIGPIPE", in the signal module)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout replaced, as under pytest)
        pass


class OneLineParser(argparse.ArgumentParser):
    """An argument error is one line `error: …` and status 2, as every other known problem
    (argparse would print the whole usage first); `-h` still shows it. Subcommands' parsers are
    made of the same class."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {one_line(message)} ({self.prog} -h lists the options).\n")


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand's parser. Importing the commands imports torch, so it happens here,
    inside `main`'s handlers, not when this module is imported."""
    from cli import demo, evaluate, generate, info, train

    parser = OneLineParser(
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
