"""The photo to train on, the training options (preset, steps, device) and the training job."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app import messages
from app import results as results_store
from app.engine_api import EngineApi, Job
from app.events import Estimate, ImageSummary, ModelSummary, TrainProgress
from app.viewmodels.engines import OpenEngines
from app.viewmodels.jobs import JobKind, Jobs
from app.viewmodels.settings import GenerationSettings
from core.errors import ImageTooSmallError, SinDDMError
from core.training.presets import PRESETS


def shrinks_more(name: str) -> bool:
    """Whether another preset keeps more of a photo's pixels than preset `name` does (a photo
    too small for that one may fit another)."""
    largest = max(preset.model.max_pixels for preset in PRESETS.values())
    return PRESETS[name].model.max_pixels < largest


def preset_limit(name: str) -> str:
    """'The preset “Tiny (a quick look)” trains at up to 8,000 pixels.'"""
    preset = PRESETS[name]
    return f"The preset “{preset.label}” trains at up to {preset.model.max_pixels:,} pixels."


def preset_refusal(name: str, kept: str, exc: SinDDMError) -> str:
    """Why the open photo cannot train under preset `name`, and that `kept` stays chosen."""
    keep = f"“{PRESETS[kept].label}” stays chosen."
    if isinstance(exc, ImageTooSmallError):
        return (
            f"{preset_limit(name)} Shrunk to that, this photo is too narrow for the coarsest "
            f"scale. {keep} Use a larger or less elongated photo for the smaller preset."
        )
    return f"{exc} {keep}"


def autosave_path(models_dir: Path, stem: str) -> Path:
    """A new file in `models_dir`, named after the photo's `stem` and the time: never one that
    is there already (the photo stays open after a training, so a second one may start within
    the same second)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, number = models_dir / f"{stem}-{stamp}.sinddm", 2
    while path.exists():
        path, number = models_dir / f"{stem}-{stamp}-{number}.sinddm", number + 1
    return path


class Training(QObject):
    """The open photo (`image`), the options the next training uses, its speed measured in
    the background (`estimate`), and the training job with its progress."""

    image_changed = Signal()
    estimate_changed = Signal()
    progress_changed = Signal(float, str)
    loss_changed = Signal(object)
    error_raised = Signal(str, str)
    message = Signal(str)

    def __init__(
        self,
        engine: EngineApi,
        jobs: Jobs,
        engines: OpenEngines,
        settings: GenerationSettings,
        models_dir: Path,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.engine, self.jobs, self.engines, self.settings = engine, jobs, engines, settings
        self.models_dir = models_dir
        self.image: ImageSummary | None = None
        self.preset_name = engine.default_preset(settings.device)
        self.steps = PRESETS[self.preset_name].steps
        self.estimate: Estimate | None = None
        self.loss_history: tuple[float, ...] = ()
        self.training_path: str | None = None
        """Where the running (or last) training autosaves its checkpoint."""

    @property
    def can_resume(self) -> bool:
        """Train continues the current model (a trained one with steps left) rather than
        training the open photo anew."""
        model = self.engines.current
        return bool(model and model.can_resume and not model.finished)

    @property
    def can_train(self) -> bool:
        return (self.image is not None or self.can_resume) and not self.jobs.busy

    def describe(self, path: str) -> ImageSummary | None:
        """The photo at `path` under the chosen preset; None (with `error_raised`) when it is
        no usable image."""
        try:
            return self.engine.describe_image(path, self.preset_name)
        except SinDDMError as exc:
            text = str(exc)
            if isinstance(exc, ImageTooSmallError) and shrinks_more(self.preset_name):
                text += f" {preset_limit(self.preset_name)} A preset with a larger limit may fit."
            self.error_raised.emit("Cannot open the image", text)
            return None

    def say_if_capped(self) -> None:
        """Tell the user when the open photo trains smaller than it is."""
        image = self.image
        if image is not None and image.capped:
            w, h = image.train_sizes[-1]
            self.message.emit(
                f"The image is {image.source_size[0]}×{image.source_size[1]}; "
                f"it will be trained at {w}×{h} (the preset's pixel limit)."
            )

    def follow_model_file(self, model: ModelSummary) -> None:
        """A model file was opened: its preset (and steps, when it can resume) become the
        options; the photo closes."""
        self.image = None
        if model.preset in PRESETS:
            self.preset_name = model.preset
        if model.can_resume:
            self.steps = max(model.total_steps, 1)

    def set_options(self, preset_name: str, steps: int, device: str) -> None:
        """Preset, step count and device for the next training (a new preset or device is
        measured again; the step count only scales the estimate).

        Choosing another device while the preset is the old device's default switches to the
        new device's default (engine.default_preset: fast on a CUDA GPU, refine elsewhere)
        with its step count."""
        old_device = self.settings.device
        old_default = self.engine.default_preset(old_device)
        new_default = self.engine.default_preset(device)
        if (
            device != old_device
            and preset_name == self.preset_name == old_default
            and new_default != preset_name
        ):
            preset_name = new_default
            steps = PRESETS[preset_name].steps
        image = self.image
        if preset_name != self.preset_name and image is not None:
            try:
                image = self.engine.describe_image(image.path, preset_name)
            except SinDDMError as exc:  # the open photo is too small for it, or went away
                message = preset_refusal(preset_name, self.preset_name, exc)
                self.error_raised.emit("Cannot use this preset", message)
                preset_name, steps = self.preset_name, self.steps
        changed_preset = preset_name != self.preset_name
        remeasure = changed_preset or device != old_device
        self.preset_name, self.steps, self.settings.device = preset_name, steps, device
        if changed_preset and image is not None:
            self.image = image
            self.image_changed.emit()
        if remeasure:
            self.request_estimate()

    def request_estimate(self) -> None:
        """Measure training speed for the current image, preset and device (in the background)."""
        if self.image is None or self.jobs.busy:
            return
        self.measure()

    def measure(self) -> None:
        """Start (or queue) the speed measurement for the current image."""
        assert self.image is not None
        self.set_estimate(None)
        device = self.settings.device
        job = self.engine.estimate_job(self.image.path, self.preset_name, self.steps, device)
        self.jobs.start(JobKind.ESTIMATE, job)

    def set_estimate(self, estimate: Estimate | None) -> None:
        self.estimate = estimate
        self.estimate_changed.emit()

    def train(self) -> None:
        """Resume the current model when it can (`can_resume`: a trained model with steps
        left), else train the open photo anew (while Instant, or a finished model, is current).
        """
        if not self.can_train:
            return
        started = self._resume_job() if self.can_resume else self._new_job()
        if started is None:
            return
        path, job = started
        self.loss_history = ()
        self.training_path = path
        self.jobs.start(JobKind.TRAIN, results_store.loading(job, self.models_dir))

    def on_progress(self, event: TrainProgress) -> None:
        self.loss_history = event.loss_history
        self.progress_changed.emit(*messages.train_progress(event))
        self.loss_changed.emit(event)

    def _resume_job(self) -> tuple[str, Job] | None:
        model, handle = self.engines.current, self.engines.handle
        if model is None:
            return None
        device = self.settings.device
        job = self.engine.train_job(model.path, self.preset_name, self.steps, device, resume=handle)
        return model.path, job

    def _new_job(self) -> tuple[str, Job] | None:
        if self.image is None:
            return None
        try:
            path = str(autosave_path(self.models_dir, Path(self.image.path).stem))
        except OSError as exc:  # the app's models folder cannot be made
            reason = messages.describe_write_failure(exc) or f"{exc}."
            self.error_raised.emit("Cannot train", f"No folder to save the model in. {reason}")
            return None
        job = self.engine.train_job(
            path, self.preset_name, self.steps, self.settings.device, image_path=self.image.path
        )
        return path, job
