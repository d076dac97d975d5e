"""Progress and time-left estimates for long work, shared by the CLI and the GUI (no printing)."""

from __future__ import annotations

import time
from collections.abc import Callable


class EtaEstimator:
    """Estimates time left from work done so far; work units may differ per step.

    Sampling steps at a fine scale cost more than at a coarse one, so callers pass the work of
    each step (e.g. its pixel count); training steps can all count as 1.
    """

    def __init__(self, total_work: float, clock: Callable[[], float] = time.monotonic):
        self.total_work = float(total_work)
        self.done_work = 0.0
        self._clock = clock
        self._start = clock()

    def advance(self, work: float = 1.0) -> None:
        self.done_work += work

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    @property
    def fraction(self) -> float:
        return min(self.done_work / self.total_work, 1.0) if self.total_work > 0 else 1.0

    def seconds_left(self) -> float | None:
        """None until some work is done; then elapsed · remaining / done."""
        if self.done_work <= 0:
            return None
        remaining = max(self.total_work - self.done_work, 0.0)
        return self.elapsed * remaining / self.done_work


def format_duration(seconds: float | None) -> str:
    """12 s, 4 min 05 s, 2 h 07 min; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"
