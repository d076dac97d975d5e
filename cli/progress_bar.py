"""The terminal progress bar of long commands: tqdm on stderr with a label, a message and an ETA.

A bar reads `sample  42%|██████▏        | scale 1 t  23  elapsed 00:12, ETA 00:16`. Work units
may differ per update (a sampling step at a fine scale counts its pixels), and the ETA comes
from the average rate since the start (smoothing 0), so a slow first scale does not mislead it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar:24}| {message}  elapsed {elapsed}, ETA {remaining}"


class ProgressBar(tqdm):
    """tqdm with a free-text `message` shown after the bar (what is being done right now)."""

    monitor_interval = 0  # no monitor thread: redraws are paced by mininterval alone

    def __init__(self, total: float, label: str):
        self.message = ""
        super().__init__(
            total=total,
            desc=label,
            file=sys.stderr,
            bar_format=BAR_FORMAT,
            smoothing=0,
            mininterval=0.2,
            miniters=0,  # redraw by time only: steps differ in work
        )

    @property
    def format_dict(self) -> dict:
        return {**super().format_dict, "message": self.message}

    def advance(self, message: str = "", work: float = 1) -> None:
        """Count `work` more units done, now doing `message`."""
        self.message = message
        self.update(work)


@contextmanager
def progress_bar(total: float, label: str) -> Iterator[ProgressBar]:
    """A bar of `total` work units, closed (final line kept) however the block ends."""
    bar = ProgressBar(total, label)
    try:
        yield bar
    finally:
        bar.close()
