"""The words the view-model shows: progress lines, and error dialogs that tell a user's error
(say what to do) from running out of memory or disk (say what to try) from a bug (say it is one,
and where its report is)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from app import crash
from app.events import DownloadProgress, ModelSummary, SampleProgress, TrainProgress
from core.errors import SinDDMError, out_of_memory
from core.progress import format_duration

log = logging.getLogger(__name__)

ERROR_TITLES = {
    "open": "Cannot open the model",
    "instant": "Cannot use the photo with Instant",
    "save": "Cannot save the model",
    "train": "Cannot train",
    "sample": "Cannot generate",
    "estimate": "Cannot estimate the training time",
}
"""Dialog titles of a user's error (core.errors.SinDDMError), by the kind of job."""
OUT_OF_MEMORY_TITLE = "Out of memory"
OUT_OF_MEMORY_ADVICE = {
    "The GPU ran out of memory.": (
        "Choose a smaller preset or canvas, fewer samples at once, or the CPU."
    ),
    "The computer ran out of memory.": "Choose a smaller preset, canvas or sample count.",
}
"""What to try, after core.errors.out_of_memory's sentence."""
BUG_TITLE = crash.CRASH_TITLE
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
NO_PERMISSION = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def describe_failure(exc: BaseException, kind: str) -> tuple[str, str]:
    """(title, message) for a job of `kind` that raised `exc`: a SinDDMError's message as is,
    out of memory with what to try, a full or read-only disk as such (core wraps most writes in
    CheckpointWriteError; this catches any it missed), anything else as the bug it is (logged,
    and written to a report the user can send: app.crash)."""
    title = ERROR_TITLES.get(kind, "Cannot continue")
    if isinstance(exc, SinDDMError):
        return title, str(exc)
    memory = out_of_memory(exc)
    if memory is not None:
        return OUT_OF_MEMORY_TITLE, f"{memory} {OUT_OF_MEMORY_ADVICE.get(memory, '')}".strip()
    disk = describe_write_failure(exc)
    if disk is not None:
        return title, disk
    log.error("a %s job failed", kind or "background", exc_info=exc)
    report = crash.write_report((type(exc), exc, exc.__traceback__), f"a {kind or '?'} job")
    send = f"send the report saved in {report}" if report else "say what you were doing"
    return BUG_TITLE, (
        f"This is a bug, not something you did: {type(exc).__name__}: {exc}\n\n"
        f"Your images and models are kept. Please report it and {send}."
    )


def describe_write_failure(exc: BaseException) -> str | None:
    """A plain sentence for a write that failed because the disk is full or the place is not
    writable, else None (e.g. `OSError(errno.ENOSPC, …)` → 'The disk is full …')."""
    if not isinstance(exc, OSError):
        return None
    target = f" {exc.filename}" if exc.filename else ""
    if exc.errno in DISK_FULL:
        return f"The disk is full: could not write{target}. Free some space or choose another disk."
    if exc.errno in NO_PERMISSION:
        return f"Could not write{target}: no permission. Choose a folder you can write to."
    return None


def engine_label(settings: dict) -> str:
    """Which engine made a result, for captions and tooltips, from its recorded settings:
    'Instant (no training)', 'trained model, 2,200 steps' or, for a network that refines
    Instant (docs/method.md §11), 'Instant + trained refiner, 600 steps' (results kept before
    the engine was recorded are all from trained models)."""
    if settings.get("engine") == "instant":
        return "Instant (no training)"
    what = "Instant + trained refiner" if settings.get("engine") == "refined" else "trained model"
    steps = settings.get("steps")
    return f"{what}, {steps:,} steps" if isinstance(steps, int) else what


def engine_name(kind: str) -> str:
    """'Instant' or 'trained model', for a model's kind (app.events.ModelKind)."""
    return "Instant" if kind == "instant" else "trained model"


ENGINE_CHOICE_NAME = 24
"""The most characters of a model's name the engine switch shows (it keeps both ends)."""


def engine_choice(model: ModelSummary) -> str:
    """How the engine switch names an open model: 'Instant (no training)' or
    'Trained: photo-20250101-120000' (the file name without '.sinddm'; a longer one than
    ENGINE_CHOICE_NAME keeps its start and end, so that it fits the panel)."""
    if model.instant:
        return "Instant (no training)"
    name = Path(model.path).stem
    if len(name) > ENGINE_CHOICE_NAME:
        half = (ENGINE_CHOICE_NAME - 1) // 2
        name = f"{name[:half]}…{name[-half:]}"
    return f"Trained: {name}"


def engine_in_use(model: ModelSummary) -> str:
    """'Generate uses Instant (no training)' or 'Generate uses the trained model m.sinddm':
    the engine a run would use, for the status line."""
    if model.instant:
        return "Generate uses Instant (no training)"
    return f"Generate uses the trained model {Path(model.path).name}"


def generation_done(made: int, asked: int) -> str:
    """The status line once a generation has ended (made, stopped, or failed part-way)."""
    images = "image" if asked == 1 else "images"
    if made >= asked:
        return f"Done: {made} {images}."
    return f"Generation ended after {made} of {asked} {images}."


def train_progress(event: TrainProgress) -> tuple[float, str]:
    """(fraction done, status line) of a training."""
    text = (
        f"Training step {event.step:,} of {event.total:,} · loss {event.loss:.4f} · "
        f"{format_duration(event.seconds_left)} left"
    )
    return event.step / max(event.total, 1), text


def scale_name(event: SampleProgress) -> str:
    """'scale 3 of 5' for the model's scales, 'detail scale 2 of 3' above them."""
    if event.detail:
        detail_scales = event.num_scales - event.model_scales
        return f"detail scale {event.scale - event.model_scales + 1} of {detail_scales}"
    return f"scale {event.scale + 1} of {event.model_scales or event.num_scales}"


def sample_caption(event: SampleProgress, kind: str) -> str:
    """'Detail scale 2 of 3 · 1181×785 · step t = 10 · Instant': the forming image, named."""
    height, width = event.image.shape[:2]
    where = scale_name(event)
    return (
        f"{where[0].upper()}{where[1:]} · {width}×{height} · step t = {event.t} · "
        f"{engine_name(kind)}"
    )


def sample_progress(event: SampleProgress) -> tuple[float, str]:
    """(fraction done, status line) of a generation; the fraction counts pixel-steps, detail
    scales included, where the event has it (a detail scale's few steps are most of the
    work)."""
    text = f"Generating: {scale_name(event)}, {format_duration(event.seconds_left)} left"
    done = event.done if event.done is not None else event.index / max(event.total, 1)
    return done, text


def download_progress(event: DownloadProgress) -> tuple[float, str]:
    """(fraction done, status line) of the CLIP weights' download (0 while the size is
    unknown)."""
    megabytes = event.done / 1e6
    if not event.total:
        return 0.0, f"Downloading CLIP weights (once): {megabytes:,.0f} MB"
    text = (
        f"Downloading CLIP weights (once): {megabytes:,.0f} of {event.total / 1e6:,.0f} "
        f"MB, {format_duration(event.seconds_left)} left"
    )
    return event.done / event.total, text
