"""The view-model: one object that owns what the GUI shows and runs the jobs.

Widgets read its properties, call its commands and listen to its `<name>_changed` signals; they
never call each other or touch torch. The engine (real or a scripted fake in tests) does the work
in the JobRunner's thread.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app import results as results_store
from app.engine import EditRequest, Engine, Job
from app.events import (
    DownloadProgress,
    Estimate,
    ImageSummary,
    ModelSummary,
    SampleProgress,
    SampleResult,
    TrainFinished,
    TrainPreview,
    TrainProgress,
)
from app.worker import JobRunner
from core.device import resolve_device
from core.errors import SinDDMError
from core.presets import PRESETS, default_preset_name
from core.progress import format_duration

MAX_SEED = 2**31 - 1


class AppState(QObject):
    image_changed = Signal()
    model_changed = Signal()
    estimate_changed = Signal()
    job_changed = Signal(str)
    """The running job's kind ('estimate', 'train', 'sample') or '' when idle."""
    progress_changed = Signal(float, str)
    loss_changed = Signal(object)
    canvas_changed = Signal(object, str, object)
    """(image H×W×3 uint8, caption, guided region H'×W' float in [0, 1] or None)"""
    results_changed = Signal()
    error_raised = Signal(str, str)
    message = Signal(str)
    idle = Signal()

    def __init__(self, engine: Engine, models_dir: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.models_dir = Path(models_dir)
        self.runner = JobRunner(self)
        self.runner.event.connect(self._on_event)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self.image: ImageSummary | None = None
        self.model: ModelSummary | None = None
        self.estimate: Estimate | None = None
        self.device = "auto"
        self.preset_name = preset_for_device(self.device)
        self.steps = PRESETS[self.preset_name].steps
        self.loss_history: tuple[float, ...] = ()
        self.results: list[results_store.Result] = []
        self.canvas: np.ndarray | None = None
        self.training_path: str | None = None
        """Where the running (or last) training autosaves its checkpoint."""
        self._queued: tuple[str, Job] | None = None
        self._guided: np.ndarray | None = None
        """The text-guided region of the current generation, shown over its images."""

    # --------------------------------------------------------------------------- queries

    @property
    def job(self) -> str:
        return self.runner.running or ""

    @property
    def busy(self) -> bool:
        """True while training or generating (an estimate does not count)."""
        return self.job in ("train", "sample")

    @property
    def can_generate(self) -> bool:
        return self.model is not None and not self.busy

    @property
    def can_train(self) -> bool:
        return (self.image is not None or self.can_resume) and not self.busy

    @property
    def can_resume(self) -> bool:
        model = self.model
        return bool(model and model.can_resume and not model.finished)

    @property
    def training_image(self) -> np.ndarray | None:
        if self.model is not None:
            return self.model.training_image
        return self.image.pixels if self.image is not None else None

    # -------------------------------------------------------------------------- commands

    def open_image(self, path: str, keep_model: bool = False) -> bool:
        """Load a photo to train on; the open model is closed unless `keep_model` (first start:
        the demo model stays open for generating while its photo waits to be trained)."""
        try:
            summary = self.engine.describe_image(path, self.preset_name)
        except SinDDMError as exc:
            self.error_raised.emit("Cannot open the image", str(exc))
            return False
        self.image = summary
        if not keep_model:
            self._set_model(None)
        self.image_changed.emit()
        self._show(summary.pixels, f"Training image · {Path(path).name}")
        if summary.capped:
            w, h = summary.train_sizes[-1]
            self.message.emit(
                f"The image is {summary.source_size[0]}×{summary.source_size[1]}; "
                f"it will be trained at {w}×{h} (the preset's pixel limit)."
            )
        self.request_estimate()
        return True

    def open_model(self, path: str) -> bool:
        """Open a trained model to generate from (or to resume training)."""
        if self.busy:
            return False
        try:
            summary = self.engine.open_model(path)
        except SinDDMError as exc:
            self.error_raised.emit("Cannot open the model", str(exc))
            return False
        self.image = None
        self.image_changed.emit()
        self._set_model(summary)
        if summary.preset in PRESETS:
            self.preset_name = summary.preset
        if summary.can_resume:
            self.steps = max(summary.total_steps, 1)
        self._show(summary.training_image, f"Training image of {Path(path).name}")
        return True

    def save_model(self, path: str) -> bool:
        if self.model is None or self.busy:
            return False
        try:
            self.engine.save_model(path)
            results_store.copy_folder(self._results_dir(self.model.path), self._results_dir(path))
        except (SinDDMError, OSError) as exc:
            self.error_raised.emit("Cannot save the model", str(exc))
            return False
        self.model = replace(self.model, path=str(path))
        self.model_changed.emit()
        self.message.emit(f"Saved {path}")
        return True

    def set_training_options(self, preset_name: str, steps: int, device: str) -> None:
        """Preset, step count and device for the next training (a new preset or device is
        measured again; the step count only scales the estimate).

        Choosing another device while the preset is the old device's default switches to the
        new device's default (fast on a GPU, cpu elsewhere) with its step count."""
        if (
            device != self.device
            and preset_name == self.preset_name == preset_for_device(self.device)
            and preset_for_device(device) != preset_name
        ):
            preset_name = preset_for_device(device)
            steps = PRESETS[preset_name].steps
        changed_preset = preset_name != self.preset_name
        remeasure = changed_preset or device != self.device
        self.preset_name, self.steps, self.device = preset_name, steps, device
        if changed_preset and self.image is not None:
            self.image = self.engine.describe_image(self.image.path, preset_name)
            self.image_changed.emit()
        if remeasure:
            self.request_estimate()

    def request_estimate(self) -> None:
        """Measure training speed for the current image, preset and device (in the background)."""
        if self.image is None or self.busy:
            return
        self.estimate = None
        self.estimate_changed.emit()
        job = self.engine.estimate_job(self.image.path, self.preset_name, self.steps, self.device)
        self._start("estimate", job)

    def train(self) -> None:
        """Start training the open image, or resume the open model."""
        if not self.can_train:
            return
        if self.can_resume and self.image is None:
            path, resume, image_path = self.model.path, True, None
        else:
            path, resume, image_path = str(self._autosave_path()), False, self.image.path
        self.loss_history = ()
        self.training_path = path
        job = self.engine.train_job(
            image_path, self.preset_name, self.steps, self.device, path, resume
        )
        self._start("train", job)

    def generate(
        self,
        width: int,
        height: int,
        count: int,
        seed: int | None,
        edit: EditRequest | None = None,
        fast: bool = False,
    ) -> None:
        """Make `count` images of width×height; seed None picks a random one; `edit` guides
        them or starts them from an image (the Edit tab); `fast` trades a little quality for
        speed (the Generate tab's Fast sampling)."""
        if not self.can_generate:
            return
        seed = random.randint(0, MAX_SEED - count) if seed is None else seed
        try:
            job = self.engine.sample_job(count, seed, (width, height), self.device, edit, fast)
        except (SinDDMError, ValueError) as exc:
            self.error_raised.emit("Cannot generate", str(exc))
            return
        self.message.emit(f"Generating {count} × {width}×{height}, seed {seed}…")
        self._guided = None
        self._start("sample", job)

    def cancel(self) -> None:
        if self.job:
            self._queued = None
            self.runner.request_stop()
            self.message.emit("Stopping…")

    def delete_result(self, index: int) -> None:
        result = self.results.pop(index)
        results_store.remove(result)
        self.results_changed.emit()

    def export_result(self, index: int, path: str) -> bool:
        try:
            results_store.export(self.results[index], path)
        except SinDDMError as exc:
            self.error_raised.emit("Cannot export", str(exc))
            return False
        self.message.emit(f"Exported {path}")
        return True

    def export_all(self, folder: str) -> int:
        written = 0
        for result in self.results:
            name = f"sinddm_seed{result.seed}_{result.size[0]}x{result.size[1]}.png"
            written += self.export_result(self.results.index(result), str(Path(folder) / name))
        return written

    def show_result(self, index: int) -> None:
        result = self.results[index]
        self._show(result.image, f"Seed {result.seed} · {result.size[0]}×{result.size[1]}")

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    # ----------------------------------------------------------------------- job plumbing

    def _start(self, kind: str, job: Job) -> None:
        if self.runner.running == "estimate":
            self._queued = (kind, job)  # the estimate is cheap to abandon
            self.runner.request_stop()
            return
        if self.runner.running:
            return
        self.runner.start(kind, job)
        self.job_changed.emit(kind)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, TrainProgress):
            self._on_train_progress(event)
        elif isinstance(event, SampleProgress):
            self._on_sample_progress(event)
        elif isinstance(event, DownloadProgress):
            self._on_download_progress(event)
        elif isinstance(event, SampleResult):
            self._on_sample_result(event)
        elif isinstance(event, TrainPreview):
            self._show(event.image, f"Preview at step {event.step:,} (coarsest scale)")
        elif isinstance(event, TrainFinished):
            self._on_train_finished(event)
        elif isinstance(event, Estimate):
            self.estimate = event
            self.estimate_changed.emit()

    def _on_train_progress(self, event: TrainProgress) -> None:
        self.loss_history = event.loss_history
        text = (
            f"Training step {event.step:,} of {event.total:,} · loss {event.loss:.4f} · "
            f"{format_duration(event.seconds_left)} left"
        )
        self.progress_changed.emit(event.step / max(event.total, 1), text)
        self.loss_changed.emit(event)

    def _on_sample_progress(self, event: SampleProgress) -> None:
        caption = f"Scale {event.scale + 1} of {event.num_scales} · step t = {event.t}"
        self._guided = event.guided if event.guided is not None else self._guided
        self._show(event.image, caption, self._guided)
        text = f"Generating: scale {event.scale + 1}/{event.num_scales}, " + (
            f"{format_duration(event.seconds_left)} left"
        )
        self.progress_changed.emit(event.index / max(event.total, 1), text)

    def _on_download_progress(self, event: DownloadProgress) -> None:
        megabytes = event.done / 1e6
        if event.total:
            text = (
                f"Downloading CLIP weights (once): {megabytes:,.0f} of {event.total / 1e6:,.0f} "
                f"MB, {format_duration(event.seconds_left)} left"
            )
        else:
            text = f"Downloading CLIP weights (once): {megabytes:,.0f} MB"
        self.progress_changed.emit(event.done / event.total if event.total else 0.0, text)

    def _on_sample_result(self, event: SampleResult) -> None:
        result = results_store.Result(event.image, event.seed, event.size, dict(event.settings))
        if self.model is not None:
            folder = self._results_dir(self.model.path)
            try:
                results_store.store(result, folder, results_store.next_index(folder))
            except SinDDMError as exc:
                self.error_raised.emit("Cannot keep the result", str(exc))
        self.results.append(result)
        self.results_changed.emit()
        caption = f"Seed {event.seed} · {event.size[0]}×{event.size[1]}"
        self._show(event.image, caption, self._guided)

    def _on_train_finished(self, event: TrainFinished) -> None:
        self._set_model(event.model)
        self.image = None
        self.image_changed.emit()
        verb = "finished" if event.completed else "stopped"
        self.message.emit(
            f"Training {verb} at step {event.model.steps_trained:,}; saved {event.model.path}"
        )

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.error_raised.emit("Something went wrong", message)

    @Slot(str)
    def _on_finished(self, kind: str) -> None:
        self.progress_changed.emit(0.0, "")
        queued, self._queued = self._queued, None
        if queued is not None:
            self.runner.start(*queued)
            self.job_changed.emit(queued[0])
            return
        self.job_changed.emit("")
        self.idle.emit()

    # --------------------------------------------------------------------------- helpers

    def _set_model(self, model: ModelSummary | None) -> None:
        self.model = model
        self.results = results_store.load_all(self._results_dir(model.path)) if model else []
        self.results_changed.emit()
        self.model_changed.emit()

    def _results_dir(self, model_path: str) -> Path:
        return results_store.results_folder(model_path, self.models_dir)

    def _show(self, image: np.ndarray, caption: str, guided: np.ndarray | None = None) -> None:
        self.canvas = image
        self.canvas_changed.emit(image, caption, guided)

    def _autosave_path(self) -> Path:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(self.image.path).stem if self.image else "model"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return self.models_dir / f"{stem}-{stamp}.sinddm"


def preset_for_device(device: str) -> str:
    """The preset to offer for a device choice ('auto', 'cpu', 'cuda', …)."""
    try:
        return default_preset_name(resolve_device(device))
    except SinDDMError:  # a device that went away: offer what any machine can run
        return "cpu"
