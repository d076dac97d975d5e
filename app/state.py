"""The view-model the widgets use: one facade over the small view-models in app.viewmodels.

Widgets read its properties, call its commands and listen to its `<name>_changed` signals; they
never call each other or touch torch. The engine (real or a scripted fake in tests) makes the
jobs, which the runner runs in its thread; both are reached only through app.engine_api, so
this module imports neither torch nor the engine nor the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app import messages
from app import results as results_store
from app.engine_api import EngineApi, ModelHandle, Runner
from app.events import (
    ClipDownloadFailed,
    ClipStatus,
    DownloadProgress,
    Estimate,
    ImageSummary,
    ModelKind,
    ModelSaved,
    ModelSummary,
    ModelWithResults,
    ResultsSaved,
    ResultStored,
    SampleProgress,
    SpeedMeasured,
    TrainFinished,
    TrainPreview,
    TrainProgress,
)
from app.results import Result
from app.speed import SpeedBook
from app.viewmodels.canvas import CanvasImage
from app.viewmodels.clip import ClipWeights
from app.viewmodels.engines import OpenEngines, engine_caption
from app.viewmodels.forwarding import Forwarded
from app.viewmodels.generation import Generation
from app.viewmodels.jobs import JobKind, Jobs
from app.viewmodels.results import ResultsList
from app.viewmodels.settings import DEFAULT_SIZE, GenerationSettings
from app.viewmodels.training import Training
from core.requests import GenerationRequest

__all__ = ["DEFAULT_SIZE", "AppState"]


class AppState(QObject):
    """What the GUI shows and the commands it gives, over the parts it is composed of:
    `settings`, `clip`, `result_list`, `open_models`, `jobs`, `training`, `generation` and
    `canvas_image` (each re-sends its signals as this object's)."""

    image_changed = Signal()
    model_changed = Signal()
    estimate_changed = Signal()
    job_changed = Signal(str)
    """The running job's kind (a JobKind value) or '' when idle."""
    progress_changed = Signal(float, str)
    loss_changed = Signal(object)
    canvas_changed = Signal(object, str, object)
    """(image H×W×3 uint8, caption, guided region H'×W' float in [0, 1] or None)"""
    results_changed = Signal()
    size_changed = Signal(int, int)
    seed_changed = Signal(object)
    """The fixed seed, or None for a random one each run."""
    count_changed = Signal(int)
    fast_changed = Signal(bool)
    clip_status_changed = Signal()
    speed_changed = Signal()
    """A generation's speed was measured (`time_estimate` may say something new)."""
    error_raised = Signal(str, str)
    """(title, message): user errors say what to do, out-of-memory what to try, bugs say so."""
    message = Signal(str)
    idle = Signal()

    def __init__(
        self, engine: EngineApi, models_dir: Path, runner: Runner, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.engine, self.runner, self.models_dir = engine, runner, Path(models_dir)
        runner.event_sent.connect(self._on_event)
        runner.failed.connect(self._on_failed)
        self.jobs = Jobs(runner, self)
        self.settings = GenerationSettings(self)
        self.clip = ClipWeights(engine, self)
        self.canvas_image = CanvasImage(self)
        self.result_list = ResultsList(self.canvas_image, self)
        self.open_models = OpenEngines()
        self.training = Training(
            engine, self.jobs, self.open_models, self.settings, self.models_dir, self
        )
        self.generation = Generation(
            engine,
            self.jobs,
            self.open_models,
            self.settings,
            self.result_list,
            self.clip,
            self.models_dir,
            self,
        )
        self._forward_signals()

    def _forward_signals(self) -> None:
        """Each part's signals are re-sent as this object's, which the widgets listen to."""
        self.jobs.changed.connect(self.job_changed)
        self.jobs.ended.connect(self._on_job_ended)
        self.jobs.idle.connect(self.idle)
        self.canvas_image.changed.connect(self.canvas_changed)
        self.result_list.changed.connect(self.results_changed)
        self.clip.status_changed.connect(self.clip_status_changed)
        for name in ("size_changed", "seed_changed", "count_changed", "fast_changed"):
            getattr(self.settings, name).connect(getattr(self, name))
        for part in (self.result_list, self.training, self.generation):
            part.error_raised.connect(self.error_raised)
            part.message.connect(self.message)
        for name in ("image_changed", "estimate_changed", "progress_changed", "loss_changed"):
            getattr(self.training, name).connect(getattr(self, name))
        self.generation.progress_changed.connect(self.progress_changed)
        self.generation.speed_changed.connect(self.speed_changed)

    # ---------------------------------------------------------------- what the GUI shows

    busy = Forwarded[bool]("jobs")
    """True while training, generating, opening or saving (an estimate does not count)."""
    model = Forwarded[ModelSummary | None]("open_models", "current")
    """The model Generate uses (one of `engines`), None before one is open."""
    engines = Forwarded[tuple[ModelSummary, ...]]("open_models", "models")
    """The models Generate can use now, Instant first: after a training of the open photo
    both Instant and the trained model; otherwise the one model open (or none)."""
    canvas = Forwarded[np.ndarray | None]("canvas_image", "image")
    canvas_caption = Forwarded[str]("canvas_image", "caption")
    """What `canvas` shows, in words (as sent with `canvas_changed`)."""
    results = Forwarded[list[Result]]("result_list", "items")
    request = Forwarded[GenerationRequest | None]("generation")
    """The last generation asked for (the canvas repeats a tiled one as it forms)."""
    speeds = Forwarded[SpeedBook]("generation")
    image = Forwarded[ImageSummary | None]("training")
    """The open photo, to train on (and Instant's), None when a model file is open."""
    preset_name = Forwarded[str]("training")
    steps = Forwarded[int]("training")
    estimate = Forwarded[Estimate | None]("training")
    loss_history = Forwarded[tuple[float, ...]]("training")
    training_path = Forwarded[str | None]("training")
    can_train = Forwarded[bool]("training")
    can_resume = Forwarded[bool]("training")
    device = Forwarded[str]("settings")
    size = Forwarded[tuple[int, int]]("settings")
    seed = Forwarded[int | None]("settings")
    count = Forwarded[int]("settings")
    fast = Forwarded[bool]("settings")
    clip_weights = Forwarded[str]("clip", "weights")
    clip_status = Forwarded[ClipStatus]("clip", "status")
    """The first read imports open_clip (a second or two): ask when text is wanted."""

    @property
    def job(self) -> str:
        """The running job's kind, '' when idle."""
        return self.jobs.running or ""

    @property
    def can_generate(self) -> bool:
        return self.model is not None and not self.busy

    @property
    def can_switch_engine(self) -> bool:
        return len(self.engines) > 1 and not self.busy

    @property
    def training_image(self) -> np.ndarray | None:
        """The photo the model learnt from, at the resolution images come back at (regions
        are picked and objects pasted on it); the open photo's training size before a model
        arrives."""
        if self.model is not None:
            return self.model.photo_image
        return self.image.pixels if self.image is not None else None

    # ------------------------------------------------------ commands of the parts

    set_size = Forwarded[Callable[[int, int], None]]("settings")
    set_seed = Forwarded[Callable[[int | None], None]]("settings")
    set_count = Forwarded[Callable[[int], None]]("settings")
    set_fast = Forwarded[Callable[[bool], None]]("settings")
    set_clip_weights = Forwarded[Callable[[str], None]]("clip", "set_weights")
    refresh_clip_status = Forwarded[Callable[[], None]]("clip", "refresh")
    retry_clip_download = Forwarded[Callable[[], None]]("clip", "retry_download")
    set_training_options = Forwarded[Callable[[str, int, str], None]]("training", "set_options")
    request_estimate = Forwarded[Callable[[], None]]("training")
    train = Forwarded[Callable[[], None]]("training")
    time_estimate = Forwarded[Callable[[], str]]("generation")
    delete_result = Forwarded[Callable[[int], None]]("result_list", "delete")
    show_result = Forwarded[Callable[[int], None]]("result_list", "show")
    export_result = Forwarded[Callable[[int, str], bool]]("result_list", "export")
    existing_exports = Forwarded[Callable[[str], list[str]]]("result_list")
    shutdown = Forwarded[Callable[[], bool]]("jobs")
    generate = Forwarded[Callable[..., None]]("generation")
    """Generation.generate(edit, tile, mirror): `count` images of `size` with `seed`, as set."""
    export_all = Forwarded[Callable[..., int]]("result_list")
    """ResultsList.export_all(folder, replace=True): every result as a PNG; how many."""

    # ------------------------------------------------------------------ commands

    def open_image(self, path: str) -> bool:
        """Load a photo to train on and to generate from at once with Instant, which is built
        in the worker (a second) and arrives with `model_changed`; the training speed is
        measured after it. The open models (a trained one, Instant) close. False when busy or
        not an image."""
        if self.busy:
            return False
        summary = self.training.describe(path)
        if summary is None:
            return False
        self.training.image = summary
        self._open_alone(None, None, [])
        self.image_changed.emit()
        self.canvas_image.show(summary.pixels, f"Training image · {Path(path).name}")
        job = results_store.loading(self.engine.instant_job(path), self.models_dir)
        self.jobs.start(JobKind.INSTANT, job)
        self.training.measure()  # runs once Instant has arrived
        self.training.say_if_capped()
        return True

    def open_model(self, path: str) -> bool:
        """Open a trained model to generate from (or to resume training), reading it in the
        worker: it arrives with `model_changed`, or a failure with `error_raised`. False when
        busy."""
        if self.busy:
            return False
        job = self.engine.open_job(str(path))
        self.jobs.start(JobKind.OPEN, results_store.loading(job, self.models_dir))
        return True

    def save_model(self, path: str) -> bool:
        """Save the model (and copy its results) under `path`, in the worker; `model_changed`
        and a message follow, or `error_raised`. False when there is nothing to save (no model,
        or Instant: it has no file) or busy."""
        model = self.model
        if model is None or model.instant or self.busy:
            return False
        saved = replace(model, path=str(path))
        folders = self.generation.results_dir(model), self.generation.results_dir(saved)
        job = results_store.copying(self.engine.save_job(model.path, saved.path), *folders)
        self.jobs.start(JobKind.SAVE, job)
        return True

    def use_engine(self, kind: ModelKind) -> bool:
        """Generate with Instant or with the trained model from now on. Both are loaded: no job
        runs, and the results strip stays as it is. A canvas size left at the old model's
        training size follows the new one's (a size the user chose stays). False when busy or
        no such model is open."""
        old = self.model
        if not self.open_models.is_open(kind) or self.busy:
            return False
        if old is not None and old.kind == kind:
            return True
        self.open_models.switch_to(kind)
        new = self.open_models.current
        assert new is not None
        if old is None or self.size == old.output_size:
            self.set_size(*new.output_size)
        self.model_changed.emit()
        self.canvas_image.show(new.photo_image, engine_caption(new))
        return True

    def cancel(self) -> None:
        if self.jobs.cancel():
            self.message.emit("Stopping…")

    # ------------------------------------------------------------------ events

    @Slot(object)
    def _on_event(self, event: object) -> None:
        """An event of the running job, to the part it concerns."""
        if isinstance(event, TrainProgress):
            self.training.on_progress(event)
        elif isinstance(event, SampleProgress):
            self.generation.on_progress(event)
        elif isinstance(event, DownloadProgress):
            self.progress_changed.emit(*messages.download_progress(event))
        elif isinstance(event, ResultStored):
            self.generation.on_result(event)
        elif isinstance(event, TrainPreview):
            height, width = event.image.shape[:2]  # the coarsest scale, or a refiner's first
            self.canvas_image.show(
                event.image, f"Preview at step {event.step:,} ({width}×{height})"
            )
        elif isinstance(event, ModelWithResults):
            self._on_model_arrived(event)
        elif isinstance(event, ModelSaved):
            if self.open_models.moved(event.path):
                self.model_changed.emit()
            self.message.emit(f"Saved {event.path}")
        elif isinstance(event, Estimate):
            self.training.set_estimate(event)
        elif isinstance(event, ClipDownloadFailed):
            self.clip.download_failed(event.weights, event.reason)
        elif isinstance(event, SpeedMeasured | ResultsSaved):
            self.generation.on_measured(event)

    def _on_model_arrived(self, event: ModelWithResults) -> None:
        arrived, summary = event.event, event.event.model
        self.generation.calibrate(summary, arrived.handle)
        if isinstance(arrived, TrainFinished):
            self.open_models.add_trained(summary, arrived.handle)
            self._make_current(summary, self.result_list.merged(event.results))
            verb = "finished" if arrived.completed else "stopped"
            also = " Instant stays a click away (Generate tab)."
            also = also if self.open_models.is_open("instant") else ""
            self.message.emit(
                f"Training {verb} at step {summary.steps_trained:,}; saved {summary.path}.{also}"
            )
            return
        if not summary.instant:  # a model file: the photo (and its Instant) close
            self.training.follow_model_file(summary)
            self.image_changed.emit()
        self._open_alone(summary, arrived.handle, list(event.results))

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        """A job's exception, in the words its kind calls for (app.messages)."""
        self.error_raised.emit(*messages.describe_failure(exc, self.job))

    @Slot(str)
    def _on_job_ended(self, kind: str) -> None:
        self.progress_changed.emit(0.0, "")
        if kind == JobKind.SAMPLE:
            self.generation.on_ended()

    def _open_alone(
        self, model: ModelSummary | None, handle: ModelHandle | None, results: list[Result]
    ) -> None:
        """Open `model` alone (None: no model), closing any other, with `results` shown."""
        self.open_models.open_only(model, handle)
        self._make_current(model, results)

    def _make_current(self, model: ModelSummary | None, results: list[Result]) -> None:
        """The parts follow the model that just became current, then `model_changed`."""
        if model is not None:
            self.set_size(*model.output_size)
        self.result_list.replace_all(results)
        self.model_changed.emit()
        if model is not None:
            self.canvas_image.show(model.photo_image, engine_caption(model))
