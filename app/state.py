"""The view-model: one object that owns what the GUI shows and runs the jobs.

Widgets read its properties, call its commands and listen to its `<name>_changed` signals; they
never call each other or touch torch. The engine (real or a scripted fake in tests) makes the
jobs, which the runner runs in its thread; both are reached only through app.engine_api, so
this module imports neither torch nor the engine nor the worker.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app import messages, speed
from app import results as results_store
from app.engine_api import EngineApi, Job, ModelHandle, Runner
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
from app.fill_tools import made_size, request_for
from core.errors import ImageTooSmallError, SinDDMError
from core.presets import PRESETS
from core.requests import (
    FAST_SAMPLING,
    PLAIN_SAMPLING,
    Edit,
    ExtendEdit,
    GenerationRequest,
    HarmonizeEdit,
    HealEdit,
    SamplingOptions,
    StyleTransferEdit,
    TextEdit,
)

MAX_SEED = 2**31 - 1
INSTANT_FAST_FACTOR = 2
"""Fast sampling with Instant multiplies its own strides by this: every 8th step at the coarsest
scale and every 4th at the finer ones instead of every 4th and 2nd (half the denoiser calls).
Not yet held to the quality bar: the layout differs more from the same seed's default image than
a trained model's Fast does. bf16 is left off: in a one-off timing the closed form's distances
ran slower under bf16 autocast, even on a CPU with native bf16."""
DEFAULT_SIZE = (16, 16)
"""The canvas before any model is open (a model sets its own training size)."""
DEFAULT_CLIP_WEIGHTS = "openai"
BUSY_JOBS = ("train", "sample", "open", "instant", "save")
"""Jobs that keep the user from starting another (an estimate is abandoned instead)."""
MEASURING_JOBS = ("estimate", "calibrate")
"""Speed measurements: stopped when the user starts something, never stopping anything."""


def sampling_options(model: ModelSummary, fast: bool) -> SamplingOptions | None:
    """What a run asks for. A trained network: plain sampling, or FAST_SAMPLING (every 2nd step
    at the finer scales, bf16 where native). Instant, and a network that refines Instant (its
    own defaults are Instant's strides): None, i.e. the model's own defaults
    (ModelSummary.default_sampling), or with Fast sampling those strides × INSTANT_FAST_FACTOR."""
    if not model.instant and model.default_sampling == PLAIN_SAMPLING:
        return FAST_SAMPLING if fast else PLAIN_SAMPLING
    if not fast:
        return None
    own = model.default_sampling
    return replace(
        own,
        fine_stride=own.fine_stride * INSTANT_FAST_FACTOR,
        coarse_stride=own.coarse_stride * INSTANT_FAST_FACTOR,
    )


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


def result_caption(result: results_store.Result) -> str:
    """'Seed 7 · 258×193 · Instant (no training)': a result as the canvas names it."""
    size = f"{result.size[0]}×{result.size[1]}"
    return f"Seed {result.seed} · {size} · {messages.engine_label(result.settings)}"


def engine_caption(model: ModelSummary) -> str:
    """What the canvas says over a model's training image: which engine Generate uses now."""
    name = Path(model.path).name
    if model.instant:
        return f"{name} · Instant is ready: Generate needs no training"
    return f"Training image of {name} · Generate uses this trained model"


class AppState(QObject):
    image_changed = Signal()
    model_changed = Signal()
    estimate_changed = Signal()
    job_changed = Signal(str)
    """The running job's kind ('estimate', 'train', 'sample', 'open', 'instant', 'save') or ''
    when idle."""
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
        self,
        engine: EngineApi,
        models_dir: Path,
        runner: Runner,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.engine = engine
        self.models_dir = Path(models_dir)
        self.runner = runner
        runner.event.connect(self._on_event)
        runner.failed.connect(self._on_failed)
        runner.finished.connect(self._on_finished)
        self.image: ImageSummary | None = None
        self.model: ModelSummary | None = None
        self._handle: ModelHandle | None = None
        """The engine's handle on `model`, passed back to the jobs that use it."""
        self._engines: dict[ModelKind, tuple[ModelSummary, ModelHandle]] = {}
        """The models open now by kind, `model` one of them: Instant for the open photo, and
        the model trained from it (or a model file opened on its own)."""
        self.estimate: Estimate | None = None
        self.device = "auto"
        self.preset_name = self.engine.default_preset(self.device)
        self.steps = PRESETS[self.preset_name].steps
        self.loss_history: tuple[float, ...] = ()
        self.results: list[results_store.Result] = []
        self.canvas: np.ndarray | None = None
        self.canvas_caption = ""
        """What `canvas` shows, in words (as sent with `canvas_changed`)."""
        self.training_path: str | None = None
        """Where the running (or last) training autosaves its checkpoint."""
        self._size: tuple[int, int] = DEFAULT_SIZE
        self._seed: int | None = None
        self._count = 1
        self._fast = False
        self._clip_weights = DEFAULT_CLIP_WEIGHTS
        self._clip_status: ClipStatus | None = None
        """Computed when first asked for (it imports open_clip), then kept up to date."""
        self._clip_failures: dict[str, str] = {}
        """Weights whose download failed in this session, with the reason."""
        self._queue: list[tuple[str, Job]] = []
        self._run_made = self._run_count = 0
        """Images made so far by the generation running now, and how many it was asked for."""
        self._text_run = False
        self._sampling_kind = "trained"
        """The kind of model the running (or last) generation uses, for its captions."""
        self._guided: np.ndarray | None = None
        """The text-guided region of the current generation, shown over its images."""
        self._store_failed = False
        """A result of the current generation could not be written (said once a run)."""
        self._run_prepares: speed.ModelKey | None = None
        """What the running generation prepares detail scales for (`_model_key`)."""
        self.speeds = speed.SpeedBook()
        """Seconds per pixel-step of generating, measured on this machine."""
        self.request: GenerationRequest | None = None
        """The last generation asked for (the canvas repeats a tiled one as it forms)."""

    # --------------------------------------------------------------------------- queries

    @property
    def job(self) -> str:
        return self.runner.running or ""

    @property
    def busy(self) -> bool:
        """True while training, generating, opening or saving (an estimate does not count)."""
        kinds = [self.job, *(kind for kind, _ in self._queue)]
        return any(kind in BUSY_JOBS for kind in kinds)

    @property
    def can_generate(self) -> bool:
        return self.model is not None and not self.busy

    @property
    def can_train(self) -> bool:
        return (self.image is not None or self.can_resume) and not self.busy

    @property
    def can_resume(self) -> bool:
        """Train continues the current model (a trained one with steps left) rather than
        training the open photo anew."""
        model = self.model
        return bool(model and model.can_resume and not model.finished)

    @property
    def engines(self) -> tuple[ModelSummary, ...]:
        """The models Generate can use now, Instant first: after a training of the open photo
        both Instant and the trained model; otherwise the one model open (or none)."""
        kinds: tuple[ModelKind, ...] = ("instant", "trained")
        return tuple(self._engines[kind][0] for kind in kinds if kind in self._engines)

    @property
    def can_switch_engine(self) -> bool:
        return len(self._engines) > 1 and not self.busy

    @property
    def training_image(self) -> np.ndarray | None:
        """The photo the model learnt from, at the resolution images come back at (regions
        are picked and objects pasted on it); the open photo's training size before a model
        arrives."""
        if self.model is not None:
            return self.model.photo_image
        return self.image.pixels if self.image is not None else None

    # ------------------------------------------------------------- generation settings

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
        """Fast sampling for plain and edit runs alike (`sampling_options` says what it
        means for each kind of model)."""
        return self._fast

    def set_size(self, width: int, height: int) -> None:
        size = (int(width), int(height))
        if min(size) < 1:
            raise ValueError(f"a canvas needs a positive size, not {size[0]}×{size[1]}")
        if size != self._size:
            self._size = size
            self.size_changed.emit(*size)

    def set_seed(self, seed: int | None) -> None:
        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise ValueError(f"a seed lies between 0 and {MAX_SEED}, not {seed}")
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

    # ---------------------------------------------------------------------- CLIP weights

    @property
    def clip_weights(self) -> str:
        """The CLIP weights text runs use: an open_clip tag ('openai') or a local file."""
        return self._clip_weights

    @property
    def clip_status(self) -> ClipStatus:
        """Where those weights come from, and whether a text run can use them. The first
        call imports open_clip (a second or two): ask when text guidance is wanted."""
        if self._clip_status is None:
            self._clip_status = self._check_clip()
        return self._clip_status

    def set_clip_weights(self, weights: str) -> None:
        weights = weights.strip() or DEFAULT_CLIP_WEIGHTS
        if weights != self._clip_weights:
            self._clip_weights = weights
            self._update_clip_status()

    def refresh_clip_status(self) -> None:
        """Look again (a weights file may have appeared since)."""
        self._update_clip_status(force=True)

    def retry_clip_download(self) -> None:
        """Forget that the download of the current weights failed, so a text run tries again."""
        if self._clip_failures.pop(self._clip_weights, None) is not None:
            self._update_clip_status(force=True)

    def _check_clip(self) -> ClipStatus:
        weights = self._clip_weights
        status = self.engine.clip_status(weights)
        failure = self._clip_failures.get(weights)
        if failure is not None and status.availability not in ("present", "cached"):
            text = f"{failure} Text guidance stays off until the weights can be had."
            return ClipStatus(weights, "failed", text)
        return status

    def _update_clip_status(self, force: bool = False) -> None:
        """Recompute the status if anyone has seen it (or `force`), and say if it changed."""
        old = self._clip_status
        if old is None and not force:
            return  # nobody asked yet: it is computed when first read
        self._clip_status = self._check_clip()
        if self._clip_status != old:
            self.clip_status_changed.emit()

    # -------------------------------------------------------------------------- commands

    def open_image(self, path: str) -> bool:
        """Load a photo to train on and to generate from at once with Instant, which is built
        in the worker (a second) and arrives with `model_changed`; the training speed is
        measured after it. The open models (a trained one, Instant) close. False when busy or
        not an image."""
        if self.busy:
            return False
        try:
            summary = self.engine.describe_image(path, self.preset_name)
        except SinDDMError as exc:
            text = str(exc)
            if isinstance(exc, ImageTooSmallError) and shrinks_more(self.preset_name):
                text += f" {preset_limit(self.preset_name)} A preset with a larger limit may fit."
            self.error_raised.emit("Cannot open the image", text)
            return False
        self.image = summary
        self._set_model(None, None, ())
        self.image_changed.emit()
        self._show(summary.pixels, f"Training image · {Path(path).name}")
        self._start(
            "instant", results_store.loading(self.engine.instant_job(path), self.models_dir)
        )
        self._measure()  # runs once Instant has arrived
        if summary.capped:
            w, h = summary.train_sizes[-1]
            self.message.emit(
                f"The image is {summary.source_size[0]}×{summary.source_size[1]}; "
                f"it will be trained at {w}×{h} (the preset's pixel limit)."
            )
        return True

    def open_model(self, path: str) -> bool:
        """Open a trained model to generate from (or to resume training), reading it in the
        worker: it arrives with `model_changed`, or a failure with `error_raised`. False when
        busy."""
        if self.busy:
            return False
        job = self.engine.open_job(str(path))
        self._start("open", results_store.loading(job, self.models_dir))
        return True

    def save_model(self, path: str) -> bool:
        """Save the model (and copy its results) under `path`, in the worker; `model_changed`
        and a message follow, or `error_raised`. False when there is nothing to save (no model,
        or Instant: it has no file) or busy."""
        if self.model is None or self.model.instant or self.busy:
            return False
        source, target = self.model.path, str(path)
        job = self.engine.save_job(source, target)
        copying = results_store.copying(
            job, self._results_dir(self.model), self._results_dir(replace(self.model, path=target))
        )
        self._start("save", copying)
        return True

    def set_training_options(self, preset_name: str, steps: int, device: str) -> None:
        """Preset, step count and device for the next training (a new preset or device is
        measured again; the step count only scales the estimate).

        Choosing another device while the preset is the old device's default switches to the
        new device's default (fast on a GPU, cpu elsewhere) with its step count."""
        old_default = self.engine.default_preset(self.device)
        new_default = self.engine.default_preset(device)
        if (
            device != self.device
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
        remeasure = changed_preset or device != self.device
        self.preset_name, self.steps, self.device = preset_name, steps, device
        if changed_preset and image is not None:
            self.image = image
            self.image_changed.emit()
        if remeasure:
            self.request_estimate()

    def request_estimate(self) -> None:
        """Measure training speed for the current image, preset and device (in the background)."""
        if self.image is None or self.busy:
            return
        self._measure()

    def _measure(self) -> None:
        """Start (or queue) the speed measurement for the current image."""
        assert self.image is not None
        self.estimate = None
        self.estimate_changed.emit()
        job = self.engine.estimate_job(self.image.path, self.preset_name, self.steps, self.device)
        self._start("estimate", job)

    def train(self) -> None:
        """Resume the current model when it can (`can_resume`: a trained model with steps
        left), else train the open photo anew (while Instant, or a finished model, is current).
        """
        if not self.can_train:
            return
        if self.model is not None and self.can_resume:
            path = self.model.path
            job = self.engine.train_job(
                path, self.preset_name, self.steps, self.device, resume=self._handle
            )
        elif self.image is not None:
            try:
                path = str(self._autosave_path())
            except OSError as exc:  # the app's models folder cannot be made
                reason = messages.describe_write_failure(exc) or f"{exc}."
                self.error_raised.emit("Cannot train", f"No folder to save the model in. {reason}")
                return
            job = self.engine.train_job(
                path, self.preset_name, self.steps, self.device, image_path=self.image.path
            )
        else:
            return
        self.loss_history = ()
        self.training_path = path
        self._start("train", results_store.loading(job, self.models_dir))

    def use_engine(self, kind: ModelKind) -> bool:
        """Generate with Instant or with the trained model from now on. Both are loaded: no job
        runs, and the results strip stays as it is. A canvas size left at the old model's
        training size follows the new one's (a size the user chose stays). False when busy or
        no such model is open."""
        if kind not in self._engines or self.busy:
            return False
        old = self.model
        if old is not None and old.kind == kind:
            return True
        self.model, self._handle = self._engines[kind]
        if old is None or self.size == old.output_size:
            self.set_size(*self.model.output_size)
        self.model_changed.emit()
        self._show(self.model.photo_image, engine_caption(self.model))
        return True

    def generate(
        self, edit: Edit | None = None, tile: str | None = None, mirror: str | None = None
    ) -> None:
        """Make `count` images of `size` with `seed` (None: a random one) and Fast sampling as
        set; `edit` guides them or starts them from an image (the Edit tab); `tile` and
        `mirror` make them repeat or reflect (core.requests.TILE_AXES, MIRROR_AXES)."""
        self._generate(self.size, self.count, self.seed, self.fast, edit, tile, mirror)

    def _generate(
        self,
        size: tuple[int, int],
        count: int,
        seed: int | None,
        fast: bool,
        edit: Edit | None,
        tile: str | None = None,
        mirror: str | None = None,
    ) -> None:
        if not self.can_generate or self.model is None or self._handle is None:
            return
        seed = random.randint(0, MAX_SEED - count) if seed is None else seed
        try:
            request = self._request(size, count, seed, fast, edit, tile, mirror)
        except SinDDMError as exc:
            self.error_raised.emit("Cannot generate", str(exc))
            return
        self.request = request
        size = made_size(request, self.model.output_size)
        self._queue = [queued for queued in self._queue if queued[0] != "calibrate"]  # it times
        # a run for the photo at its resolution prepares its detail scales for the next ones
        photo_run = not isinstance(edit, StyleTransferEdit | HarmonizeEdit | HealEdit | ExtendEdit)
        key = self._model_key(self.model)
        self._run_prepares = key if photo_run else None
        name = Path(self.model.path).name
        job = speed.measuring(self.engine.sample_job(self._handle, request, self.device, name), key)
        self.message.emit(f"Generating {count} × {size[0]}×{size[1]}, seed {seed}…")
        self._run_made, self._run_count = 0, count
        self._guided = None
        self._store_failed = False
        self._text_run = isinstance(edit, TextEdit)
        self._sampling_kind = self.model.kind
        self._start("sample", results_store.storing(job, self._results_dir(self.model)))

    def _request(
        self,
        size: tuple[int, int],
        count: int,
        seed: int,
        fast: bool,
        edit: Edit | None,
        tile: str | None = None,
        mirror: str | None = None,
    ) -> GenerationRequest:
        """What a run asks for (app.fill_tools.request_for)."""
        assert self.model is not None
        options = sampling_options(self.model, fast)
        return request_for(size, count, seed, options, edit, tile, mirror)

    def _model_key(self, model: ModelSummary) -> speed.ModelKey:
        """Whose speed a run measures (and what it prepares detail scales for)."""
        return (model.path, model.kind, self.device)

    def time_estimate(self) -> str:
        """How long Generate will take with the size, count and speed set, on this machine
        (app.speed: rates measured here); '' with no model."""
        model, handle = self.model, self._handle
        if model is None or handle is None:
            return ""
        try:
            request = self._request(self.size, self.count, 0, self.fast, None)
            work = self.engine.work_estimate(handle, request)
        except SinDDMError as exc:  # a size the model cannot make
            return str(exc)
        bf16 = bool(request.options and request.options.bf16)
        key = self._model_key(model)
        photo_w, photo_h = model.output_size
        prepare = 0 if self.speeds.prepared_for == key else photo_w * photo_h
        saved = self.size[0] * self.size[1] * self.count
        estimate = self.speeds.estimate(key, bf16, work, prepare, saved)
        return speed.describe(estimate, self.count, self.size)

    def cancel(self) -> None:
        if self.job:
            self._queue.clear()
            self.runner.request_stop()
            self.message.emit("Stopping…")

    def delete_result(self, index: int) -> None:
        result = self.results.pop(index)
        results_store.remove(result)
        self.results_changed.emit()

    def export_result(self, index: int, path: str) -> bool:
        """Write result `index` as a PNG at `path` (replacing a file there: the window asks
        first). A failed write (full disk, no permission) is an `error_raised`; the result stays
        in the strip either way."""
        failure = self._export(index, path)
        if failure is not None:
            self.error_raised.emit("Cannot export", failure)
            return False
        self.message.emit(f"Exported {path}")
        return True

    def existing_exports(self, folder: str) -> list[str]:
        """The names `export_all` would write that are already in `folder`."""
        names = (results_store.export_name(result) for result in self.results)
        return [name for name in names if (Path(folder) / name).exists()]

    def export_all(self, folder: str, replace: bool = True) -> int:
        """Export every result into `folder` under its `results.export_name` (files already
        there are replaced, or with `replace` False left as they are); how many were written.
        The first failed write stops it with one `error_raised` (a full disk would fail them
        all)."""
        written = 0
        for index, result in enumerate(self.results):
            path = Path(folder) / results_store.export_name(result)
            if not replace and path.exists():
                continue
            failure = self._export(index, str(path))
            if failure is not None:
                self.error_raised.emit(
                    "Cannot export", f"Exported {written} of {len(self.results)} images. {failure}"
                )
                break
            written += 1
        return written

    def _export(self, index: int, path: str) -> str | None:
        """Write one result; None, or why it could not be written in plain words."""
        try:
            results_store.export(self.results[index], path)
        except SinDDMError as exc:
            return str(exc)
        except OSError as exc:  # core wraps its writes, but a write may fail before it can
            return messages.describe_write_failure(exc) or f"Could not write {path}: {exc}."
        return None

    def show_result(self, index: int) -> None:
        """Show result `index` at full resolution (read back from its file when it is not among
        the few kept in memory); a file that has gone shows its thumbnail and says so."""
        result = self.results[index]
        try:
            self._show(result.image, result_caption(result))
        except SinDDMError as exc:
            self._show(result.thumbnail, f"{result_caption(result)} · thumbnail only")
            self.message.emit(str(exc))

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    # ----------------------------------------------------------------------- job plumbing

    def _start(self, kind: str, job: Job) -> None:
        running = self.runner.running
        if running is None:
            self._run(kind, job)
        elif running in MEASURING_JOBS:  # cheap to abandon: stop it and run this next
            self._queue = [queued for queued in self._queue if queued[0] != running]
            self._queue.insert(0, (kind, job))  # before other measurements still waiting
            self.runner.request_stop()
        elif running in ("open", "instant", "save"):  # quick: this waits for it
            self._queue.append((kind, job))
        # While training or generating the GUI offers nothing else to start.

    def _start_quietly(self, kind: str, job: Job) -> None:
        """A speed measurement: now when nothing runs, else queued (ahead of a training
        estimate, as generating comes first); it never stops another job."""
        if self.runner.running is None:
            self._run(kind, job)
            return
        self._queue = [queued for queued in self._queue if queued[0] != kind]
        kinds = [queued[0] for queued in self._queue]
        at = kinds.index("estimate") if "estimate" in kinds else len(kinds)
        self._queue.insert(at, (kind, job))

    def _calibrate(self, model: ModelSummary, handle: ModelHandle) -> None:
        """Time a short test run of a model that just arrived, so that the Generate tab can
        say how long a run will take before its first one."""
        self.speeds.prepared_for = None  # its run prepares others
        self.speed_changed.emit()
        job = self.engine.calibrate_job(handle, self.device)
        self._start_quietly("calibrate", speed.measuring(job, self._model_key(model)))

    def _run(self, kind: str, job: Job) -> None:
        self.runner.start(kind, job)
        self.job_changed.emit(kind)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, TrainProgress):
            self._on_train_progress(event)
        elif isinstance(event, SampleProgress):
            self._on_sample_progress(event)
        elif isinstance(event, DownloadProgress):
            self.progress_changed.emit(*messages.download_progress(event))
        elif isinstance(event, ResultStored):
            self._on_result_stored(event)
        elif isinstance(event, TrainPreview):
            height, width = event.image.shape[:2]  # the coarsest scale, or a refiner's first
            self._show(event.image, f"Preview at step {event.step:,} ({width}×{height})")
        elif isinstance(event, ModelWithResults):
            self._on_model_arrived(event)
        elif isinstance(event, ModelSaved):
            self._on_model_saved(event)
        elif isinstance(event, Estimate):
            self.estimate = event
            self.estimate_changed.emit()
        elif isinstance(event, ClipDownloadFailed):
            self._clip_failures[event.weights] = event.reason
            self._update_clip_status(force=True)
        elif isinstance(event, SpeedMeasured | ResultsSaved) and self.speeds.record(event):
            self.speed_changed.emit()

    def _on_train_progress(self, event: TrainProgress) -> None:
        self.loss_history = event.loss_history
        self.progress_changed.emit(*messages.train_progress(event))
        self.loss_changed.emit(event)

    def _on_sample_progress(self, event: SampleProgress) -> None:
        caption = messages.sample_caption(event, self._sampling_kind)
        self._guided = event.guided if event.guided is not None else self._guided
        self._show(event.image, caption, self._guided)
        self.progress_changed.emit(*messages.sample_progress(event))

    def _on_result_stored(self, event: ResultStored) -> None:
        if event.error is not None and not self._store_failed:  # once a run, not per image
            self._store_failed = True
            self.error_raised.emit(
                "Cannot keep the result",
                f"{event.error} The new images stay in the strip while the model is open: "
                "export the ones you want to keep.",
            )
        result = event.result
        self._run_made += 1
        self.results.append(result)
        self.results_changed.emit()
        self._show(result.image, result_caption(result), self._guided)

    def _on_model_arrived(self, event: ModelWithResults) -> None:
        arrived = event.event
        summary = arrived.model
        self._calibrate(summary, arrived.handle)
        if isinstance(arrived, TrainFinished):
            self._add_trained(summary, arrived.handle, event.results)
            self._show(summary.photo_image, engine_caption(summary))
            verb = "finished" if arrived.completed else "stopped"
            kept = "instant" in self._engines
            also = " Instant stays a click away (Generate tab)." if kept else ""
            self.message.emit(
                f"Training {verb} at step {summary.steps_trained:,}; saved {summary.path}.{also}"
            )
            return
        if not summary.instant:  # a model file: the photo (and its Instant) close
            self.image = None
            self.image_changed.emit()
            if summary.preset in PRESETS:
                self.preset_name = summary.preset
            if summary.can_resume:
                self.steps = max(summary.total_steps, 1)
        self._set_model(summary, arrived.handle, event.results)
        self._show(summary.photo_image, engine_caption(summary))

    def _on_model_saved(self, event: ModelSaved) -> None:
        if self.model is not None and self._handle is not None:
            self.model = replace(self.model, path=event.path)
            self._engines[self.model.kind] = (self.model, self._handle)
            self.model_changed.emit()
        self.message.emit(f"Saved {event.path}")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        """A job's exception, in the words its kind calls for (app.messages)."""
        self.error_raised.emit(*messages.describe_failure(exc, self.job))

    @Slot(str)
    def _on_finished(self, kind: str) -> None:
        self.progress_changed.emit(0.0, "")
        if kind == "sample":
            self.message.emit(messages.generation_done(self._run_made, self._run_count))
            if self._run_made:
                self.speeds.prepared_for = self._run_prepares
                self.speed_changed.emit()
        if kind == "sample" and self._text_run:
            self._text_run = False
            self._update_clip_status()  # the weights may have been downloaded
        if self.runner.running is None and self._queue:
            self._run(*self._queue.pop(0))
        if self.runner.running is None:
            self.job_changed.emit("")
            self.idle.emit()

    # --------------------------------------------------------------------------- helpers

    def _set_model(
        self,
        model: ModelSummary | None,
        handle: ModelHandle | None,
        results: tuple[results_store.Result, ...],
    ) -> None:
        """Open `model` alone (None: no model), closing any other, with `results` shown."""
        self._engines = {}
        if model is not None and handle is not None:
            self._engines[model.kind] = (model, handle)
        self._make_current(model, handle, list(results))

    def _add_trained(
        self, model: ModelSummary, handle: ModelHandle, results: tuple[results_store.Result, ...]
    ) -> None:
        """A training ended: its model becomes the current one, and Instant for the photo stays
        open beside it. The strip keeps what it shows (Instant's results too) and gains the
        model's stored results it does not show yet (none for a new model; a resumed one's
        are shown already)."""
        self._engines["trained"] = (model, handle)
        shown = {result.path for result in self.results if result.path is not None}
        new = [result for result in results if result.path is None or result.path not in shown]
        self._make_current(model, handle, [*self.results, *new])

    def _make_current(
        self,
        model: ModelSummary | None,
        handle: ModelHandle | None,
        results: list[results_store.Result],
    ) -> None:
        self.model, self._handle = model, handle
        self.results = results
        if model is not None:
            self.set_size(*model.output_size)
        self.results_changed.emit()
        self.model_changed.emit()

    def _results_dir(self, model: ModelSummary) -> Path:
        return results_store.results_folder(model.path, self.models_dir, model.kind)

    def _show(self, image: np.ndarray, caption: str, guided: np.ndarray | None = None) -> None:
        self.canvas, self.canvas_caption = image, caption
        self.canvas_changed.emit(image, caption, guided)

    def _autosave_path(self) -> Path:
        """A new file in the models folder, named after the photo and the time: never one that
        is there already (the photo stays open after a training, so a second one may start
        within the same second)."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(self.image.path).stem if self.image else "model"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path, number = self.models_dir / f"{stem}-{stamp}.sinddm", 2
        while path.exists():
            path, number = self.models_dir / f"{stem}-{stamp}-{number}.sinddm", number + 1
        return path
