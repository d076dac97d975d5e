"""Running generations, and foretelling how long the next one takes on this machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app import messages, speed
from app import results as results_store
from app.engine_api import EngineApi, ModelHandle
from app.events import (
    ModelKind,
    ModelSummary,
    ResultsSaved,
    ResultStored,
    SampleProgress,
    SpeedMeasured,
)
from app.fill_tools import made_size, request_for
from app.viewmodels.clip import ClipWeights
from app.viewmodels.engines import OpenEngines
from app.viewmodels.jobs import JobKind, Jobs
from app.viewmodels.results import ResultsList, result_caption
from app.viewmodels.settings import GenerationSettings, random_seed, sampling_for
from core.errors import SinDDMError
from core.requests import (
    Edit,
    ExtendEdit,
    GenerationRequest,
    HarmonizeEdit,
    HealEdit,
    StyleTransferEdit,
    TextEdit,
)

PHOTO_SIZED_EDITS = (StyleTransferEdit, HarmonizeEdit, HealEdit, ExtendEdit)
"""Edits that do not draw the photo at its own resolution: they prepare no detail scales for
the runs after them."""


@dataclass
class GenerationRun:
    """The generation running now (or the last one)."""

    count: int = 0
    """How many images it was asked for."""
    made: int = 0
    kind: ModelKind = "trained"
    """The kind of model it uses, for its captions."""
    text: bool = False
    """A text-guided run (the CLIP weights may have been downloaded when it ends)."""
    prepares: speed.ModelKey | None = None
    """Whose detail scales it prepares for the next runs (`Generation.model_key`)."""
    guided: np.ndarray | None = field(default=None, repr=False)
    """The text-guided region, shown over its images."""
    store_failed: bool = False
    """One of its results could not be written (said once a run)."""


class Generation(QObject):
    """Starts generations with the settings and the current model, shows their images as
    they form and as they arrive in the results, and keeps the speeds measured (`speeds`)."""

    progress_changed = Signal(float, str)
    speed_changed = Signal()
    """A generation's speed was measured (`time_estimate` may say something new)."""
    error_raised = Signal(str, str)
    message = Signal(str)

    def __init__(
        self,
        engine: EngineApi,
        jobs: Jobs,
        engines: OpenEngines,
        settings: GenerationSettings,
        results: ResultsList,
        clip: ClipWeights,
        models_dir: Path,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.engine, self.jobs, self.engines, self.settings = engine, jobs, engines, settings
        self.results, self.clip, self.models_dir = results, clip, models_dir
        self.speeds = speed.SpeedBook()
        """Seconds per pixel-step of generating, measured on this machine."""
        self.request: GenerationRequest | None = None
        """The last generation asked for (the canvas repeats a tiled one as it forms)."""
        self.run = GenerationRun()

    def results_dir(self, model: ModelSummary) -> Path:
        return results_store.results_folder(model.path, self.models_dir, model.kind)

    def model_key(self, model: ModelSummary) -> speed.ModelKey:
        """Whose speed a run measures (and what it prepares detail scales for)."""
        return (model.path, model.kind, self.settings.device)

    def generate(
        self, edit: Edit | None = None, tile: str | None = None, mirror: str | None = None
    ) -> None:
        """Make `count` images of `size` with `seed` (None: a random one) and Fast sampling as
        set; `edit` guides them or starts them from an image (the Edit tab); `tile` and
        `mirror` make them repeat or reflect (core.requests.TILE_AXES, MIRROR_AXES)."""
        model, handle = self.engines.current, self.engines.handle
        if model is None or handle is None or self.jobs.busy:
            return
        settings = self.settings
        count = settings.count
        seed = random_seed(count) if settings.seed is None else settings.seed
        options = sampling_for(model, settings.fast)
        try:
            request = request_for(settings.size, count, seed, options, edit, tile, mirror)
        except SinDDMError as exc:
            self.error_raised.emit("Cannot generate", str(exc))
            return
        self.request = request
        self.jobs.drop(JobKind.CALIBRATE)  # this run times the model anyway
        self._start(model, handle, request)

    def _start(self, model: ModelSummary, handle: ModelHandle, request: GenerationRequest) -> None:
        key = self.model_key(model)
        photo_run = not isinstance(request.edit, PHOTO_SIZED_EDITS)
        text = isinstance(request.edit, TextEdit)
        self.run = GenerationRun(request.count, 0, model.kind, text, key if photo_run else None)
        name = Path(model.path).name
        job = self.engine.sample_job(handle, request, self.settings.device, name)
        size = made_size(request, model.output_size)
        self.message.emit(f"Generating {request.count} × {size[0]}×{size[1]}, seed {request.seed}…")
        storing = results_store.storing(speed.measuring(job, key), self.results_dir(model))
        self.jobs.start(JobKind.SAMPLE, storing)

    def time_estimate(self) -> str:
        """How long Generate will take with the size, count and speed set, on this machine
        (app.speed: rates measured here); '' with no model."""
        model, handle = self.engines.current, self.engines.handle
        if model is None or handle is None:
            return ""
        size, count = self.settings.size, self.settings.count
        try:
            options = sampling_for(model, self.settings.fast)
            request = request_for(size, count, 0, options, None)
            work = self.engine.work_estimate(handle, request)
        except SinDDMError as exc:  # a size the model cannot make
            return str(exc)
        bf16 = bool(request.options and request.options.bf16)
        key = self.model_key(model)
        photo_w, photo_h = model.output_size
        prepare = 0 if self.speeds.prepared_for == key else photo_w * photo_h
        estimate = self.speeds.estimate(key, bf16, work, prepare, size[0] * size[1] * count)
        return speed.describe(estimate, count, size)

    def calibrate(self, model: ModelSummary, handle: ModelHandle) -> None:
        """Time a short test run of a model that just arrived, so that the Generate tab can
        say how long a run will take before its first one."""
        self.speeds.prepared_for = None  # its run prepares others
        self.speed_changed.emit()
        job = self.engine.calibrate_job(handle, self.settings.device)
        self.jobs.start_quietly(JobKind.CALIBRATE, speed.measuring(job, self.model_key(model)))

    def on_progress(self, event: SampleProgress) -> None:
        """Show the first image as it forms."""
        run = self.run
        caption = messages.sample_caption(event, run.kind)
        run.guided = event.guided if event.guided is not None else run.guided
        self.results.canvas.show(event.image, caption, run.guided)
        self.progress_changed.emit(*messages.sample_progress(event))

    def on_result(self, event: ResultStored) -> None:
        """A new image: into the strip and onto the canvas (a failed write is said once)."""
        run = self.run
        if event.error is not None and not run.store_failed:
            run.store_failed = True
            self.error_raised.emit(
                "Cannot keep the result",
                f"{event.error} The new images stay in the strip while the model is open: "
                "export the ones you want to keep.",
            )
        run.made += 1
        self.results.add(event.result)
        self.results.canvas.show(event.result.image, result_caption(event.result), run.guided)

    def on_measured(self, event: SpeedMeasured | ResultsSaved) -> None:
        if self.speeds.record(event):
            self.speed_changed.emit()

    def on_ended(self) -> None:
        """The generation ended: say how much it made, and look at the CLIP weights again
        after a text run (it may have downloaded them)."""
        run = self.run
        self.message.emit(messages.generation_done(run.made, run.count))
        if run.made:
            self.speeds.prepared_for = run.prepares
            self.speed_changed.emit()
        if run.text:
            run.text = False
            self.clip.update()
