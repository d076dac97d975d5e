"""What the next generation asks for: canvas size, seed, image count, Fast sampling, device."""

from __future__ import annotations

import random

from PySide6.QtCore import QObject, Signal

from app.events import ModelSummary
from core.requests import SamplingOptions
from core.rules import SEED_MAX, check_seed

DEFAULT_SIZE = (16, 16)
"""The canvas before any model is open (a model sets its own training size)."""
SEED_WIDGET_MAX = min(SEED_MAX, 2**31 - 1)
"""The largest seed the Generate tab's seed box can show: a QSpinBox holds a C int (32 bits),
far below core's SEED_MAX. Random seeds stay below it too, so that the box can show them."""


def sampling_for(model: ModelSummary, fast: bool) -> SamplingOptions:
    """What a run with `model` asks for: the model's own Fast sampling, or its defaults (both
    come from the model: core.requests.fast_sampling)."""
    return model.fast_sampling if fast else model.default_sampling


def random_seed(count: int) -> int:
    """A seed for a run of `count` images whose every seed the seed box can show."""
    return random.randint(0, SEED_WIDGET_MAX - count)


class GenerationSettings(QObject):
    """The Generate tab's settings; each `set_…` says so with its `…_changed` signal when the
    value is new. `device` (for training too) has no signal: the Train tab sets it."""

    size_changed = Signal(int, int)
    seed_changed = Signal(object)
    """The fixed seed, or None for a random one each run."""
    count_changed = Signal(int)
    fast_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._size: tuple[int, int] = DEFAULT_SIZE
        self._seed: int | None = None
        self._count = 1
        self._fast = False
        self.device = "auto"
        """Where jobs run: 'auto', 'cpu', 'cuda', … (the Train tab's choice)."""

    @property
    def size(self) -> tuple[int, int]:
        """The canvas (width, height) in photo pixels (those of the photo at the resolution
        images come back at); opening or training a model resets it to that resolution."""
        return self._size

    @property
    def seed(self) -> int | None:
        """The seed of the next run's first image (image i uses seed + i); None: random."""
        return self._seed

    @property
    def count(self) -> int:
        """How many images a run makes."""
        return self._count

    @property
    def fast(self) -> bool:
        """Fast sampling for plain and edit runs alike (`sampling_for` says what it means)."""
        return self._fast

    def set_size(self, width: int, height: int) -> None:
        size = (int(width), int(height))
        if min(size) < 1:
            raise ValueError(f"a canvas needs a positive size, not {size[0]}×{size[1]}")
        if size != self._size:
            self._size = size
            self.size_changed.emit(*size)

    def set_seed(self, seed: int | None) -> None:
        """A fixed seed (core.rules.check_seed: ConfigError outside 0 … SEED_MAX) or None."""
        if seed is not None:
            check_seed(seed)
        if seed != self._seed:
            self._seed = seed
            self.seed_changed.emit(seed)

    def set_count(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"a run makes at least one image, not {count}")
        if count != self._count:
            self._count = count
            self.count_changed.emit(count)

    def set_fast(self, on: bool) -> None:
        if bool(on) != self._fast:
            self._fast = bool(on)
            self.fast_changed.emit(self._fast)
