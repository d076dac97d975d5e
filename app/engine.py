"""The GUI's bridge to core: describes images and models, and makes jobs that run in the worker.

A job is a generator of plain-data events (app.events). It runs in the worker thread, takes
everything it needs as arguments and reports everything it makes in its events (a model comes
back as an opaque `ModelHandle` the view-model passes to later jobs); the engine itself keeps
nothing a job writes. Jobs check the `stop` event between steps and end on their own when it is
set, so that training can save and report. Widgets and the view-model never touch torch; only
this module and core do. `app.engine_api.EngineApi` is the interface the view-model sees.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from app.engine_api import Events, Job
from app.events import (
    ClipDownloadFailed,
    ClipStatus,
    DownloadProgress,
    Estimate,
    ImageSummary,
    ModelHandle,
    ModelKind,
    ModelOpened,
    ModelSaved,
    ModelSummary,
    SampleProgress,
    SpeedMeasured,
    TrainFinished,
    TrainPreview,
    TrainProgress,
)
from app.results import Result
from app.speed import StepTimer
from core.config import ModelConfig
from core.denoisers.network import SinDDMNet, count_parameters
from core.denoisers.protocol import DiffusionModel
from core.device import keep_freed_cpu_memory, resolve_device
from core.errors import CheckpointWriteError, SinDDMError
from core.files.model_file import load_trainer, model_from_data, read_checkpoint, save_trainer
from core.files.open_model import open_diffusion_model
from core.generation.clip_weights import (
    GuidanceUnavailableError,
    check_weights,
    download_weights,
    is_local_file,
)
from core.generation.memory import ensure_plan_fits
from core.generation.plan import (
    ClipLoader,
    GenerationPlan,
    default_clip_loader,
    photo_size,
    plan,
    preview_plan,
    work_estimate,
)
from core.generation.run import (
    GeneratedImages,
    generate,
    generate_images,
    guided_region,
    preview_of,
)
from core.imageio import atomic_write, load_image
from core.method.pyramid import build_pyramid
from core.method.schedule import schedule_for
from core.progress import EtaEstimator
from core.requests import (
    CLIP_MODEL,
    GenerationRequest,
    SamplingOptions,
    TextEdit,
)
from core.rules import MAX_CANVAS_PIXELS
from core.training.presets import PRESETS, Preset, default_preset_name
from core.training.trainer import Trainer, TrainStep, checkpointed_steps

__all__ = ["CachedClipLoader", "Engine", "Planner"]

PROGRESS_INTERVAL = 0.1
"""Seconds between progress events: the GUI repaints a few times a second, not every step."""
PREVIEW_INTERVAL = 0.12
"""Seconds between previews of the forming image, up to PREVIEW_PIXELS; larger ones are
spaced in proportion (a 4 MP preview is 12 MB to convert here and about 50 ms to show in the
GUI thread: at most every half second keeps the GUI free nine tenths of the time)."""
PREVIEW_PIXELS = 1_000_000
MEASURE_SECONDS = 2.0
"""Longest training step the speed estimate runs; slower scales are extrapolated."""
CALIBRATION_SECONDS = 0.6
"""How long the test run times each part (the model's scales, the detail scales)."""
CALIBRATION_PIXELS = 600_000
"""The test run's detail scales go up to the photo at this many pixels (per pixel, smaller
ones cost more: measured, 1.2 µs per pixel-step at 150,000 pixels, 0.67 at 600,000, as at
4 MP; planning them needs about 250 MB for a moment)."""
CALIBRATION_CANVAS = 1.0
"""The test run's canvas, per side, of the model's finest scale (smaller canvases cost more
per pixel: measured, half the side gave Instant 1.8 µs per pixel-step against 1.0)."""
CALIBRATION_STRIDES = (4, 8, 16)
"""The test's strides: the model's own × 4, at least 8 at the finer scales and 16 at the
coarsest (seconds per pixel-step barely depend on them, and a trained network's plain
sampling would take minutes)."""

Planner = Callable[[DiffusionModel, GenerationRequest, ClipLoader | None], GenerationPlan]
"""core.generation.plan.plan, or a stand-in."""
Downloader = Callable[[str, str, Callable[[int, int], None]], str]
"""core.generation.clip_weights.download_weights(model, tag, on_progress(done, total)) -> path."""


def preset_named(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}") from None


@dataclass(frozen=True, eq=False)
class _Loaded:
    """What a ModelHandle holds for this engine: the model (trained, or Instant) and what its
    file says of it."""

    model: DiffusionModel
    preset: str
    image_name: str
    """The training photo's file name ('' when unknown), kept when training resumes."""
    kind: ModelKind = "trained"


def _loaded(handle: ModelHandle) -> _Loaded:
    if not isinstance(handle.payload, _Loaded):
        raise TypeError(f"not a model of this engine: {handle!r}")
    return handle.payload


class CachedClipLoader:
    """A ClipLoader that keeps the last CLIP it loaded (loading takes seconds, and prompts are
    tried one after another). Safe to call from the worker thread."""

    def __init__(self, load: ClipLoader):
        self._load = load
        self._lock = threading.Lock()
        self._last: tuple[tuple[str, str, str], tuple[object, object]] | None = None

    def __call__(self, name: str, weights: str, device: torch.device) -> tuple[object, object]:
        key = (name, weights, str(device))
        with self._lock:
            if self._last is None or self._last[0] != key:
                self._last = (key, self._load(name, weights, device))
            return self._last[1]


def seconds_per_step(trainer: Trainer, stop: threading.Event) -> float | None:
    """Mean seconds per training step over the scales the trainer draws (uniformly; a refiner
    only the finer ones), from a timed step at each scale after a warm-up one (allocations,
    cuDNN autotuning). A scale that would take longer than MEASURE_SECONDS is extrapolated from
    the previous one by pixels: small scales use a CPU less well, so the extrapolation errs on
    the long side. None if stopped."""
    seconds: list[float] = []
    pixels = [w * h for w, h in trainer.pyramid.sizes]
    for scale, count in enumerate(pixels):
        predicted = seconds[-1] * count / pixels[scale - 1] if seconds else 0.0
        if predicted > MEASURE_SECONDS:
            seconds.append(predicted)
            continue
        timings = []
        for _ in range(2):
            if stop.is_set():
                return None
            start = time.perf_counter()
            trainer.train_step(scale=scale)
            timings.append(time.perf_counter() - start)
        seconds.append(timings[-1])
    drawn = trainer.scales
    return sum(seconds[scale] for scale in drawn) / len(drawn)


class Engine:
    """Makes the jobs of app.engine_api.EngineApi over core.

    `clip_loader` loads CLIP for text edits (kept between runs) and `planner` turns a request
    into a plan (core.generation.plan.plan); `download` fetches CLIP weights (tests pass stand-ins);
    `instant_config` is the ModelConfig Instant is built with (None: the default 50,000-pixel
    cap; tests pass a smaller one, so that a small photo gets detail scales).
    """

    def __init__(
        self,
        train_preview_seconds: float = 30.0,
        save_every_seconds: float = 60.0,
        clip_loader: ClipLoader = default_clip_loader,
        planner: Planner = plan,
        download: Downloader = download_weights,
        instant_config: ModelConfig | None = None,
    ):
        self.train_preview_seconds = train_preview_seconds
        self.save_every_seconds = save_every_seconds
        self._clip_loader = CachedClipLoader(clip_loader)
        self._planner = planner
        self._download = download
        self._instant_config = instant_config

    # ------------------------------------------------------------------------ descriptions

    def describe_image(self, path: str, preset_name: str) -> ImageSummary:
        """Load an image and say what a model of it under `preset_name` will be (fast)."""
        preset = preset_named(preset_name)
        image = load_image(path)
        pyramid = build_pyramid(image, preset.model.max_pixels, preset.model.scale_factor)
        schedule = schedule_for(pyramid, preset.model)
        return ImageSummary(
            path=str(path),
            source_size=image.size,
            train_sizes=pyramid.sizes,
            start_steps=schedule.start_steps,
            parameters=_parameters_of(preset.model),
            capped=pyramid.was_capped,
            pixels=pyramid.sharp[-1],
        )

    def default_preset(self, device: str) -> str:
        try:
            return default_preset_name(resolve_device(device))
        except SinDDMError:  # a device that went away: offer what any machine can run
            return default_preset_name("cpu")

    def clip_status(self, weights: str) -> ClipStatus:
        check = check_weights(CLIP_MODEL, weights)
        local = is_local_file(weights)
        return ClipStatus.of_check(weights, local, check.ready, check.downloadable, check.message)

    # -------------------------------------------------------------------------- model files

    def open_job(self, path: str) -> Job:
        """Read a `.sinddm` file once: its model for generating, and what the GUI shows."""

        def job(stop: threading.Event) -> Events:
            data = read_checkpoint(path)
            model = model_from_data(data, Path(path).name)
            preset, image_name = str(data.get("preset", "custom")), str(data.get("image_name", ""))
            loaded = _Loaded(model, preset, image_name)
            train_config = data.get("train_config", {})
            summary = ModelSummary(
                path=str(path),
                sizes=model.sizes,
                start_steps=model.schedule.start_steps,
                parameters=count_parameters(model.net),
                steps_trained=model.steps_trained,
                total_steps=int(train_config.get("steps", model.steps_trained)),
                can_resume=bool(data.get("has_training_state", False)),
                preset=loaded.preset,
                image_name=loaded.image_name or Path(path).stem,
                training_image=model.pyramid.sharp[-1],
                **_sampling_fields(model),
                **_photo_fields(model),
            )
            yield ModelOpened(summary, ModelHandle(loaded))

        return job

    def instant_job(self, image_path: str) -> Job:
        """Build Instant for a photo (core.files.open_model.open_diffusion_model: the pyramid as the
        command line builds it, shrunk to the default 50,000-pixel cap) on the CPU; sample_job
        moves it to the device it runs on."""

        def job(stop: threading.Event) -> Events:
            model = open_diffusion_model(image_path, "cpu", config=self._instant_config)
            name = Path(image_path).name
            summary = ModelSummary(
                path=str(image_path),
                sizes=model.sizes,
                start_steps=model.schedule.start_steps,
                parameters=model.parameters,
                steps_trained=model.steps_trained,
                total_steps=0,
                can_resume=False,
                preset=model.kind,
                image_name=name,
                training_image=model.pyramid.sharp[-1],
                kind="instant",
                **_sampling_fields(model),
                **_photo_fields(model),
            )
            yield ModelOpened(summary, ModelHandle(_Loaded(model, model.kind, name, "instant")))

        return job

    def save_job(self, source: str, target: str) -> Job:
        """Copy the model file `source` (the one opened, or trained into: training saves its
        full state there when it ends) to `target`, atomically."""

        def job(stop: threading.Event) -> Events:
            if Path(source).resolve() != Path(target).resolve():
                if not Path(source).is_file():
                    raise CheckpointWriteError(f"The model file {source} is no longer there.")
                try:
                    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
                except OSError as exc:  # e.g. no permission to make the temporary file
                    reason = exc.strerror or str(exc)
                    raise CheckpointWriteError(f"Could not write {target}: {reason}.") from exc
            yield ModelSaved(str(target))

        return job

    # -------------------------------------------------------------------------------- training

    def estimate_job(self, image_path: str, preset_name: str, steps: int, device: str) -> Job:
        """Time real training steps scale by scale; scales whose step would take longer than
        `MEASURE_SECONDS` are extrapolated by pixels from the last one measured instead."""

        def job(stop: threading.Event) -> Events:
            preset = preset_named(preset_name)
            torch_device = resolve_device(device)
            if torch_device.type == "cpu":
                keep_freed_cpu_memory()
            image = load_image(image_path)
            trainer = Trainer.from_image(
                image, preset.model, preset.train_config(steps), torch_device, bf16=preset.bf16
            )
            per_step = seconds_per_step(trainer, stop)
            if per_step is not None:
                yield Estimate(per_step, per_step * steps, torch_device.type)

        return job

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
        """Train a model of `image_path` (or resume the checkpoint `resume` was opened from) and
        save to `checkpoint_path` every `save_every_seconds`, on stop and at the end."""
        if (image_path is None) == (resume is None):
            raise ValueError("train_job needs either an image or a model to resume")

        def job(stop: threading.Event) -> Events:
            torch_device = resolve_device(device)
            if torch_device.type == "cpu":
                keep_freed_cpu_memory()  # about 10% faster CPU steps (docs/benchmarks.md)
            if resume is not None:
                loaded = _loaded(resume)
                trainer = load_trainer(checkpoint_path, torch_device, steps=steps)
                preset, image_name = loaded.preset, loaded.image_name
            else:
                assert image_path is not None
                chosen = preset_named(preset_name)
                trainer = Trainer.from_image(
                    load_image(image_path),
                    chosen.model,
                    chosen.train_config(steps),
                    torch_device,
                    seed,
                    chosen.bf16,
                )
                preset, image_name = preset_name, Path(image_path).name
            yield from self._train_loop(trainer, stop, checkpoint_path, preset, image_name)

        return job

    def _train_loop(
        self, trainer: Trainer, stop: threading.Event, path: str, preset: str, image_name: str
    ) -> Iterator[object]:
        total = trainer.train_config.steps
        eta = EtaEstimator(total - trainer.state.step)
        last_progress = last_save = last_preview = time.monotonic()

        def save() -> None:
            save_trainer(trainer, path, extra={"preset": preset, "image_name": image_name})

        def save_due(step: TrainStep) -> bool:
            nonlocal last_save
            if time.monotonic() - last_save < self.save_every_seconds:
                return False
            last_save = time.monotonic()
            return True

        with closing(checkpointed_steps(trainer, save, save_due)) as steps:
            for step in steps:
                eta.advance()
                now = time.monotonic()
                if now - last_progress >= PROGRESS_INTERVAL or step.step == total:
                    last_progress = now
                    yield TrainProgress(
                        step.step,
                        total,
                        step.loss,
                        step.lr,
                        step.scale,
                        eta.elapsed,
                        eta.seconds_left(),
                        tuple(trainer.state.loss_history),
                    )
                if now - last_preview >= self.train_preview_seconds:
                    yield TrainPreview(step.step, _coarse_preview(trainer))
                    last_preview = time.monotonic()
                if stop.is_set():
                    break  # checkpointed_steps saves as it closes
        model = trainer.sampling_model()
        handle = ModelHandle(_Loaded(model, preset, image_name))
        summary = _summary_of_trainer(trainer, path, preset, image_name, model)
        yield TrainFinished(summary, trainer.finished, handle)

    # ------------------------------------------------------------------------------ sampling

    def sample_job(
        self, model: ModelHandle, request: GenerationRequest, device: str, model_name: str
    ) -> Job:
        """Plan `request` (core.generation.plan.plan) and run it, showing the first image as it
        forms; a text edit first downloads its CLIP weights if they are not here yet."""
        loaded = _loaded(model)

        def job(stop: threading.Event) -> Events:
            torch_device = resolve_device(device)
            sinddm = loaded.model.to(torch_device)
            edit = request.edit
            if isinstance(edit, TextEdit):
                yield from self._fetch_clip_weights(edit.clip_model, edit.clip_weights, stop)
                if stop.is_set():
                    return
            timer = StepTimer()
            plan = _planned(timer, self._planner, sinddm, request, self._clip_loader)
            plan = _one_image_at_a_time(plan)
            ensure_plan_fits(sinddm, plan, torch_device)  # before any sampling
            settings = {  # what the PNG records (app.results): which engine, which model
                "model": model_name,
                "engine": sinddm.kind,
                "steps": sinddm.steps_trained,
                **plan.settings(torch_device),
            }
            timer.restart()
            yield from _sample(sinddm, plan, settings, stop, timer)
            if not isinstance(edit, TextEdit):  # CLIP's gradients cost far more per step
                yield from _measured(timer, loaded.kind, device, plan.options.bf16, test=False)

        return job

    def work_estimate(self, model: ModelHandle, request: GenerationRequest) -> tuple[float, float]:
        """Pixel-steps of `request` without its edit, on the model's scales and on the detail
        scales (core.generation.plan.work_estimate: geometry only, quick in the GUI thread)."""
        return work_estimate(_loaded(model).model, replace(request, edit=None))

    def calibrate_job(self, model: ModelHandle, device: str) -> Job:
        """Time a short test run of `model` (1–2 s): the model's scales with large strides,
        then the detail scales up to a small photo above a model's run cut short, each for at
        most CALIBRATION_SECONDS; yields SpeedMeasured(test=True) unless stopped."""
        loaded = _loaded(model)

        def job(stop: threading.Event) -> Events:
            sinddm = loaded.model.to(resolve_device(device))
            base = _timed(sinddm, _calibration_base(sinddm), stop).rate(False)
            detail = prepare = None
            if not stop.is_set() and photo_size(sinddm, CALIBRATION_PIXELS) != sinddm.sizes[-1]:
                timer = _timed(sinddm, _calibration_detail(sinddm), stop)
                detail, prepare = timer.rate(True), timer.prepare_rate()
            if not stop.is_set():
                measured = SpeedMeasured(
                    loaded.kind, device, base, detail, test=True, prepare=prepare
                )
                yield from _measured_event(measured)

        return job

    def _fetch_clip_weights(
        self, model_name: str, weights: str, stop: threading.Event
    ) -> Iterator[object]:
        """Download a tag's weights the first time, yielding DownloadProgress every 0.25 s.

        The download runs in a helper thread so that progress can be reported and Stop obeyed
        (a stopped download finishes in the background, where huggingface_hub keeps it).
        A failure is sent as ClipDownloadFailed before the error, so the Edit tab can say so.
        """
        if not check_weights(model_name, weights).downloadable:
            return
        progress: list[tuple[int, int]] = [(0, 0)]
        errors: list[GuidanceUnavailableError] = []

        def download() -> None:
            try:
                self._download(model_name, weights, lambda d, t: progress.append((d, t)))
            except GuidanceUnavailableError as exc:
                errors.append(exc)

        helper = threading.Thread(target=download, name="clip-download", daemon=True)
        helper.start()
        eta = EtaEstimator(0)
        while helper.is_alive() and not stop.is_set():
            helper.join(0.25)
            done, total = progress[-1]
            eta.total_work, eta.done_work = float(total), float(done)
            yield DownloadProgress(done, total, eta.seconds_left() if total else None)
        if errors:
            yield ClipDownloadFailed(weights, str(errors[0]))
            raise errors[0]


def _one_image_at_a_time(plan: GenerationPlan) -> GenerationPlan:
    """With detail scales, batches of one: each image is finished (and stored, and shown in the
    strip) before the next begins, so that Stop keeps every finished one. Batching changes no
    image (each has its own seed), and these images go through the detail scales one at a time
    anyway."""
    if plan.detail is None or plan.request.batch == 1:
        return plan
    return replace(plan, request=replace(plan.request, batch=1))


def _sample(
    model: DiffusionModel,
    plan: GenerationPlan,
    settings: dict,
    stop: threading.Event,
    timer: StepTimer,
) -> Iterator[object]:
    """core.generation.run.generate as GUI events: the first image as it forms, at most every
    PREVIEW_INTERVAL (longer for large images: `_preview_interval`) and at the end of each
    scale, then every finished image; `timer` times the steps."""
    eta = EtaEstimator(0)
    last = 0.0
    model_scales = len(plan.sizes)
    with closing(generate(model, plan)) as steps:
        for step in steps:
            if isinstance(step, GeneratedImages):
                for seed, image in zip(step.seeds, step.images, strict=True):
                    yield Result.made(image, seed, plan.size, dict(settings))
                continue
            timer.step(step.scale >= model_scales, step.work_done)
            eta.total_work, eta.done_work = step.work_total, step.work_done
            now = time.monotonic()
            if now - last >= _preview_interval(step.x0_pred) or step.t == 0:
                last = now
                yield SampleProgress(
                    step.index,
                    step.total,
                    step.scale,
                    step.num_scales,
                    step.t,
                    eta.seconds_left(),
                    preview_of(plan, step),
                    guided_region(step.guidance),
                    model_scales if plan.detail is not None else 0,
                    eta.fraction,
                )
            if stop.is_set():
                return


def _preview_interval(x0_pred: torch.Tensor) -> float:
    """Seconds a preview of `x0_pred` (B, 3, H, W) waits after the last one."""
    pixels = x0_pred.shape[-1] * x0_pred.shape[-2]
    return PREVIEW_INTERVAL * max(1.0, pixels / PREVIEW_PIXELS)


def _measured(
    timer: StepTimer, kind: ModelKind, device: str, bf16: bool, test: bool
) -> Iterator[object]:
    """The rates `timer` measured, as one SpeedMeasured (nothing when no part ran long
    enough)."""
    base, detail, prepare = timer.rate(False), timer.rate(True), timer.prepare_rate()
    yield from _measured_event(SpeedMeasured(kind, device, base, detail, bf16, test, prepare))


def _planned(
    timer: StepTimer,
    planner: Planner,
    model: DiffusionModel,
    request: GenerationRequest,
    clip_loader: ClipLoader | None = None,
) -> GenerationPlan:
    """`planner`'s plan of `request`, its time told to `timer` when it has detail scales (it
    builds them, seconds at 4 MP, unless core kept them from the last run)."""
    started = timer.now()
    run = planner(model, request, clip_loader)
    if run.detail is not None:
        width, height = run.detail.sizes[-1]
        timer.prepared(timer.now() - started, width * height)
    return run


def _measured_event(measured: SpeedMeasured) -> Iterator[object]:
    if measured.base is not None or measured.detail is not None:
        yield measured


def _timed(model: DiffusionModel, request: GenerationRequest, stop: threading.Event) -> StepTimer:
    """Run `request` for CALIBRATION_SECONDS, timing its steps: cut short when it takes
    longer, run again when it is over sooner (a small model's run lasts a fraction of that)."""
    timer = StepTimer()
    run = _planned(timer, plan, model, request)
    deadline = timer.now() + CALIBRATION_SECONDS
    model_scales = len(run.sizes)
    while timer.now() < deadline and not stop.is_set():
        timer.restart()
        with closing(generate(model, run)) as steps:
            for step in steps:
                if isinstance(step, GeneratedImages):
                    continue
                timer.step(step.scale >= model_scales, step.work_done)
                if stop.is_set() or timer.now() > deadline:
                    break
    return timer


def _calibration_base(model: DiffusionModel) -> GenerationRequest:
    """The test of the model's scales: the model's canvas with large strides, no detail scales
    (the pixel cap is the model's finest scale)."""
    factor, fine, coarse = CALIBRATION_STRIDES
    own = model.default_sampling
    options = replace(
        own,
        fine_stride=max(own.fine_stride * factor, fine),
        coarse_stride=max(own.coarse_stride * factor, coarse),
        bf16=False,
    )
    width, height = model.sizes[-1]
    scale = CALIBRATION_CANVAS
    return GenerationRequest(
        multipliers=(scale, scale), options=options, max_pixels=width * height, batch=1
    )


def _calibration_detail(model: DiffusionModel) -> GenerationRequest:
    """The test of the detail scales: the photo at CALIBRATION_PIXELS above a model's run that
    denoises only the coarsest scale, in one step (T = 0 passes the finer ones through)."""
    starts = model.schedule.start_steps
    options = SamplingOptions(coarse_stride=max(starts[0], 1), start_steps=(0,) * (len(starts) - 1))
    return GenerationRequest(options=options, max_pixels=CALIBRATION_PIXELS, batch=1)


def _coarse_preview(trainer: Trainer) -> np.ndarray:
    """A quick sample at the coarsest scale only (H0×W0×3 uint8) to watch training progress;
    for a refiner, which does not draw scale 0 (docs/method.md §11), up to its first scale,
    with Instant's strides (core.generation.plan.preview_plan)."""
    model = trainer.sampling_model()
    last = min(trainer.scales[0], model.num_scales - 1)
    return generate_images(model, preview_plan(model, trainer.state.step, last))[0]


def _summary_of_trainer(
    trainer: Trainer, path: str, preset: str, image_name: str, model: DiffusionModel
) -> ModelSummary:
    return ModelSummary(
        path=path,
        sizes=trainer.pyramid.sizes,
        start_steps=trainer.schedule.start_steps,
        parameters=count_parameters(trainer.net),
        steps_trained=trainer.state.step,
        total_steps=trainer.train_config.steps,
        can_resume=True,
        preset=preset,
        image_name=image_name or Path(path).stem,
        training_image=trainer.pyramid.sharp[-1],
        **_sampling_fields(model),
        **_photo_fields(model),
    )


def _sampling_fields(model: DiffusionModel) -> dict[str, Any]:
    """ModelSummary's denoiser, default_sampling and fast_sampling: what the model says."""
    return {
        "denoiser": model.kind,
        "default_sampling": model.default_sampling,
        "fast_sampling": model.fast_sampling,
    }


def _photo_fields(model: DiffusionModel) -> dict:
    """ModelSummary's photo_size and photo: the photo at the resolution images come back at
    (Lanczos, as the detail scales' finest level is made), None where that is the finest
    scale's training image."""
    size = photo_size(model)
    own = photo_size(model, MAX_CANVAS_PIXELS)  # extend's canvas is in these pixels
    original = model.pyramid.original
    if original is None or size == tuple(model.sizes[-1]):
        return {"photo_size": size, "photo": None, "own_size": own}
    photo = Image.fromarray(original)
    if photo.size != size:
        photo = photo.resize(size, Image.Resampling.LANCZOS)
    return {"photo_size": size, "photo": np.asarray(photo, dtype=np.uint8), "own_size": own}


def _parameters_of(config: ModelConfig) -> int:
    with torch.device("meta"):
        return count_parameters(SinDDMNet(config.dim))
