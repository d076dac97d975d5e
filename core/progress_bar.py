"""A one-line terminal progress bar with ETA for the `sinddm` command (prints)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from core.progress import EtaEstimator, format_duration


class ProgressBar:
    """Redraws `[#####.....]  42%  <message>  ETA 3 min 02 s` on one line, a few times a second."""

    def __init__(
        self,
        total_work: float,
        label: str = "",
        stream: TextIO | None = None,
        width: int = 24,
        min_interval: float = 0.2,
    ):
        self.eta = EtaEstimator(total_work)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._last_message = ""
        self._drawn_fraction = -1.0

    def update(self, message: str = "", work: float = 1.0) -> None:
        self.eta.advance(work)
        self._last_message = message
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval or self.eta.fraction >= 1.0:
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        self._drawn_fraction = self.eta.fraction
        filled = int(self.width * self.eta.fraction)
        bar = "#" * filled + "." * (self.width - filled)
        line = (
            f"\r{self.label} [{bar}] {self.eta.fraction:4.0%}  {self._last_message}  "
            f"elapsed {format_duration(self.eta.elapsed)}, "
            f"ETA {format_duration(self.eta.seconds_left())}"
        )
        self.stream.write(line.ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self._drawn_fraction != self.eta.fraction:
            self._draw()
        self.stream.write("\n")
        self.stream.flush()
