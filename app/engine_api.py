"""What the view-model asks of an engine and of the job runner, with no torch and no thread.

`app.engine.Engine` (the real one, over core) and `tests/app/fake_engine.FakeEngine` (scripted)
both satisfy `EngineApi`; `app.worker.JobRunner` satisfies `Runner`. The view-model
(`app.state`) is written against these Protocols only, so the widgets that import it never reach
torch, the engine or the worker thread (import-linter checks this; mypy checks the Protocols).

A job is a generator function: given the stop event it yields plain-data events (app.events),
runs in the worker thread, takes everything it needs as arguments and reports everything it
makes in its events. It checks `stop` between steps and ends on its own when it is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Protocol

from PySide6.QtCore import SignalInstance

from app.events import ClipStatus, ImageSummary, ModelHandle
from core.requests import GenerationRequest

Events = Generator[object, None, None]
Job = Callable[[threading.Event], Events]
"""A job: given the stop event, yields plain-data events; runs in the worker thread."""

__all__ = ["EngineApi", "Events", "Job", "ModelHandle", "Runner"]


class EngineApi(Protocol):
    """Describes images and devices at once, and makes the jobs that do the real work."""

    def describe_image(self, path: str, preset_name: str) -> ImageSummary:
        """Load an image and say what a model of it under the preset will be (fast: no
        training). Raises SinDDMError for a file that is not a usable image."""
        ...

    def default_preset(self, device: str) -> str:
        """The preset to offer for a device choice ('auto', 'cpu', 'cuda', …): 'fast' on a CUDA
        GPU, 'refine' elsewhere and for a device that is not there
        (core.training.presets.default_preset_name)."""
        ...

    def clip_status(self, weights: str) -> ClipStatus:
        """Where CLIP weights (a tag such as 'openai', or a file) would come from; no network.
        May import open_clip (slow the first time): ask only when text guidance is wanted."""
        ...

    def open_job(self, path: str) -> Job:
        """Read a `.sinddm` file (once) and yield ModelOpened with its summary and handle."""
        ...

    def instant_job(self, image_path: str) -> Job:
        """Build Instant for the photo at `image_path` (about a second on a CPU: no training)
        and yield ModelOpened with its summary (kind 'instant', the photo as its path) and
        handle, ready for sample_job. Raises SinDDMError for a file that is not a usable
        image."""
        ...

    def save_job(self, source: str, target: str) -> Job:
        """Write the model at `source` (the file a model was opened from or trained into) to
        `target`, atomically, and yield ModelSaved."""
        ...

    def estimate_job(self, image_path: str, preset_name: str, steps: int, device: str) -> Job:
        """Time a few real training steps and yield an Estimate (nothing when stopped)."""
        ...

    def train_job(
        self,
        checkpoint_path: str,
        preset_name: str,
        steps: int,
        device: str,
        image_path: str | None = None,
        resume: ModelHandle | None = None,
        seed: int = 0,
    ) -> Job:
        """Train a new model of `image_path`, or continue the checkpoint `resume` came from
        (it was opened from `checkpoint_path`), saving to `checkpoint_path` now and then, on
        stop and at the end. Yields TrainProgress, TrainPreview and finally TrainFinished."""
        ...

    def sample_job(
        self, model: ModelHandle, request: GenerationRequest, device: str, model_name: str
    ) -> Job:
        """Generate what `request` asks with `model`: SampleProgress as the first image forms,
        then one app.results.Result per image (`model_name` goes into its settings). A text edit
        first downloads its CLIP weights if needed (DownloadProgress, or ClipDownloadFailed
        before the error). Then, except for text runs, SpeedMeasured: the seconds per
        pixel-step it took."""
        ...

    def work_estimate(self, model: ModelHandle, request: GenerationRequest) -> tuple[float, float]:
        """Pixel-steps `request` (its edit left out) takes on the model's scales and on the
        detail scales, from its geometry alone: quick enough for the GUI thread. Raises
        SinDDMError for a size the model cannot make."""
        ...

    def calibrate_job(self, model: ModelHandle, device: str) -> Job:
        """Time a short test run (about 2 s) and yield SpeedMeasured(test=True): rates to say
        how long a generation will take before the first one has run. Stopped: nothing."""
        ...


class Runner(Protocol):
    """Runs one job at a time in a background thread (app.worker.JobRunner).

    `event_sent(object)` carries each event, `failed(object)` the exception that ended a job and
    `finished(str)` the job's kind; all arrive in the GUI thread, in the order they were sent.
    """

    @property
    def event_sent(self) -> SignalInstance: ...

    @property
    def failed(self) -> SignalInstance: ...

    @property
    def finished(self) -> SignalInstance: ...

    @property
    def running(self) -> str | None:
        """The kind of the job running now, None when idle."""
        ...

    def start(self, kind: str, job: Job) -> None: ...

    def request_stop(self) -> None: ...

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop any job and end the thread; True if it ended in time."""
        ...
