"""How long a generation will take on this computer, from measurement (no torch, no Qt).

The worker times every generation step by step (`StepTimer`): seconds per pixel-step on the
model's scales and on the detail scales (docs/method.md §12), sent as `SpeedMeasured`.
`SpeedBook` keeps the latest rates per model; with the pixel-steps of a request
(core.generation.plan.work_estimate) they give the time it will take, with the time planning takes
to prepare the detail scales the first time and writing the PNGs. Before the first generation
a short test run (Engine.calibrate_job) gives a first guess; a real generation replaces it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace

from app.engine_api import Events, Job
from app.events import ResultsSaved, SpeedMeasured
from core.progress import format_duration

MIN_SECONDS = 0.2
"""A part timed for less than this says too little about its speed to keep."""
MIN_SAVED_PIXELS = 1_000_000
"""Fewer pixels of PNGs written say too little: a small file's fixed costs would make large
ones look slow (and small ones take a blink)."""


class StepTimer:
    """Times a run in the worker: each step's seconds and pixel-steps (GenerationStep.work_done)
    go to the part it belongs to, the model's scales or the detail scales."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self._clock = clock
        self._last = clock()
        self._work_done = 0.0
        self.seconds = {False: 0.0, True: 0.0}
        """Seconds by part (True: the detail scales)."""
        self.work = {False: 0.0, True: 0.0}
        """Pixel-steps by part."""
        self.prepare_seconds = 0.0
        self.prepare_pixels = 0

    def now(self) -> float:
        return self._clock()

    def restart(self) -> None:
        """Time from here, with the run's work counted from 0 (a new `generate`)."""
        self._last, self._work_done = self._clock(), 0.0

    def step(self, detail: bool, work_done: float) -> None:
        """A step ended: its time since the last one, and its work, go to its part."""
        now = self._clock()
        self.seconds[detail] += now - self._last
        self.work[detail] += work_done - self._work_done
        self._last, self._work_done = now, work_done

    def prepared(self, seconds: float, pixels: int) -> None:
        """Planning took `seconds`, building the detail scales of a photo of `pixels`."""
        self.prepare_seconds, self.prepare_pixels = seconds, pixels

    def prepare_rate(self) -> float | None:
        """Seconds per photo pixel of preparing the detail scales; None when planning found
        them built (a few milliseconds) or built none."""
        if self.prepare_seconds < MIN_SECONDS or self.prepare_pixels <= 0:
            return None
        return self.prepare_seconds / self.prepare_pixels

    def rate(self, detail: bool) -> float | None:
        """Seconds per pixel-step of a part, None when it ran too briefly to tell."""
        seconds, work = self.seconds[detail], self.work[detail]
        return seconds / work if seconds >= MIN_SECONDS and work > 0 else None


@dataclass(frozen=True)
class Rate:
    seconds: float
    """Per pixel-step (per pixel for preparing and saving)."""
    test: bool
    """From a short test run (or borrowed as a guess), not this model's real generation."""


@dataclass(frozen=True)
class TimeEstimate:
    seconds: float
    rough: bool
    """Some of it comes from a short test run, or is borrowed from another measure."""


ModelKey = tuple[str, str, str]
"""(model path, engine kind, device setting): whose speed a rate is."""


class SpeedBook:
    """The latest measured rates of each model (ModelKey): its scales with and without
    bfloat16, the detail scales, preparing them; and of writing PNGs. A real generation's rate
    replaces any; a test's only another test's (it errs on the long side). A model whose
    detail scales are not measured yet borrows, as a guess, the rates last measured on its
    device (they are Instant's closed form whatever the engine; per pixel they cost more on a
    small photo, so they are kept per model)."""

    def __init__(self) -> None:
        self._rates: dict[tuple[ModelKey, str], Rate] = {}
        """By (model, part): 'base', 'bf16', 'detail' or 'prepare'; the newest last."""
        self._saving: Rate | None = None
        """Per pixel of writing a result's PNG."""
        self.prepared_for: ModelKey | None = None
        """The model whose detail scales the last generation prepared (core keeps the last
        ones built): a run of it again skips preparing them."""

    def record(self, measured: SpeedMeasured | ResultsSaved) -> bool:
        """Keep what `measured` says; True when a rate changed."""
        if isinstance(measured, ResultsSaved):
            return self._record_saving(measured)
        model = measured.model or ("", measured.kind, measured.device)
        parts = {
            "bf16" if measured.bf16 else "base": measured.base,
            "detail": measured.detail,
            "prepare": measured.prepare,
        }
        changed = False
        for part, seconds in parts.items():
            if seconds is not None:
                changed |= self._keep((model, part), Rate(seconds, measured.test))
        return changed

    def _record_saving(self, saved: ResultsSaved) -> bool:
        """Keep how fast results are written (when it took long enough to tell: a small PNG's
        fixed costs would make large ones look slow)."""
        if saved.seconds < MIN_SECONDS or saved.pixels < MIN_SAVED_PIXELS:
            return False
        self._saving = Rate(saved.seconds / saved.pixels, test=False)
        return True

    def estimate(
        self,
        model: ModelKey,
        bf16: bool,
        work: tuple[float, float],
        prepare_pixels: float = 0.0,
        saved_pixels: float = 0.0,
    ) -> TimeEstimate | None:
        """Seconds for `work` (pixel-steps on the model's scales, on the detail scales), for
        writing `saved_pixels` of PNGs once that was timed, and, with detail scales, for
        preparing them for a photo of `prepare_pixels` (0: prepared already); None while a
        rate it needs has not been measured."""
        base = self._rate(model, "bf16" if bf16 else "base")
        if base is None:
            return None
        parts = [(base, work[0])]
        if work[1] > 0:
            detail, prepare = self._rate(model, "detail"), self._rate(model, "prepare")
            if detail is None:
                return None
            parts.append((detail, work[1]))
            if prepare is not None:
                parts.append((prepare, prepare_pixels))
        if self._saving is not None:
            parts.append((self._saving, saved_pixels))
        seconds = sum(rate.seconds * amount for rate, amount in parts)
        return TimeEstimate(seconds, any(rate.test for rate, amount in parts if amount > 0))

    def _rate(self, model: ModelKey, part: str) -> Rate | None:
        """`model`'s rate of `part`, or a guess: for its scales the other precision's (bfloat16
        runs a trained network at another speed), for the detail scales the last measured on
        the same device."""
        rate = self._rates.get((model, part))
        if rate is not None:
            return rate
        if part in ("base", "bf16"):
            other = "base" if part == "bf16" else "bf16"
            borrowed = self._rates.get((model, other))
        else:
            same_device = (
                rate
                for (owner, kind), rate in reversed(self._rates.items())
                if kind == part and owner[2] == model[2]
            )
            borrowed = next(same_device, None)
        return None if borrowed is None else Rate(borrowed.seconds, test=True)

    def _keep(self, key: tuple[ModelKey, str], rate: Rate) -> bool:
        old = self._rates.get(key)
        if old == rate or (old is not None and rate.test and not old.test):
            return False
        self._rates.pop(key, None)  # the newest last
        self._rates[key] = rate
        return True


def measuring(job: Job, model: ModelKey) -> Job:
    """`job` with each SpeedMeasured it yields marked as measuring `model` (the engine does
    not know which file or device setting the view-model calls its model)."""

    def marked(stop: threading.Event) -> Events:
        with closing(job(stop)) as events:
            for event in events:
                yield replace(event, model=model) if isinstance(event, SpeedMeasured) else event

    return marked


def describe(estimate: TimeEstimate | None, count: int, size: tuple[int, int]) -> str:
    """'About 12 s for 1 image at 2309×1732 on this computer' (a first guess says so), or that
    the speed is still being measured."""
    if estimate is None:
        return "Time: estimating…"
    images = "1 image" if count == 1 else f"{count} images"
    text = (
        f"About {format_duration(max(estimate.seconds, 1.0))} for {images} at "
        f"{size[0]}×{size[1]} on this computer"
    )
    return text + (" (a first guess from a short test run)" if estimate.rough else "")
