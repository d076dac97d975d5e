"""A scriptable stand-in for app.engine.Engine: instant, deterministic, no torch work.

It satisfies app.engine_api.EngineApi (mypy checks tests/app/engine_conformance.py) and records
what it was asked: `requests` (GenerationRequest per generation), `saved` (save targets),
`trainings` (checkpoint path and whether it resumed, per training), `calibrations` (device per
test run).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.engine_api import Events, Job
from app.events import (
    ClipDownloadFailed,
    ClipStatus,
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
from core.errors import CheckpointFormatError, ImageLoadError, ImageTooSmallError
from core.generation.clip_weights import GuidanceUnavailableError
from core.imageio import atomic_write
from core.requests import GenerationRequest, SamplingOptions, TextEdit, fast_sampling

INSTANT_DEFAULTS = SamplingOptions(fine_stride=2, coarse_stride=4)
"""As core.denoisers.instant's (not imported: it brings torch)."""


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


class FakeEngine:
    """Files named '*bad*' fail to open; `failure` (an exception) ends the next sampling
    job; `download_failure` (a reason) makes text runs fail their CLIP download."""

    def __init__(self, step_delay: float = 0.0):
        self.step_delay = step_delay
        """Seconds each training or sampling step takes (simulated work)."""
        self.saved: list[str] = []
        self.trainings: list[tuple[str, bool]] = []
        self.instant_sizes: tuple[tuple[int, int], ...] | None = None
        """Instant's scale sizes when they should differ from a trained model's."""
        self.requests: list[GenerationRequest] = []
        self.devices: list[str] = []
        self.gpus: tuple[str, ...] = ()
        """Devices that count as CUDA GPUs here ('cuda', 'cuda:1')."""
        self.clip_statuses: dict[str, ClipStatus] = {}
        """Scripted clip_status answers; other weights ask core.generation.clip_weights."""
        self.failure: BaseException | None = None
        self.download_failure: str | None = None
        self.too_small_for: set[str] = set()
        """Presets whose pixel cap leaves the photos too small (describe_image refuses)."""
        self.sample_steps = 3
        """SampleProgress events before a generation's images (each after `step_delay`)."""
        self.photo_size: tuple[int, int] | None = None
        """The photo's resolution the models report (ModelSummary.photo_size); None: the
        finest scale's, as a model that keeps no photo."""
        self.rates: tuple[float | None, float | None] = (1e-6, 5e-7)
        """Seconds per pixel-step (model's scales, detail scales) the test runs report."""
        self.calibrations: list[str] = []
        self.prepare_rate: float | None = None
        """Seconds per photo pixel the test runs report for preparing detail scales."""
        self.run_rates: tuple[float | None, float | None] | None = None
        """Rates a generation reports when it ends (None: it reports none)."""

    # ------------------------------------------------------------------ descriptions

    def describe_image(self, path: str, preset_name: str) -> ImageSummary:
        if "bad" in Path(path).name:
            raise ImageLoadError(f"{Path(path).name} is not an image file that can be read.")
        if preset_name in self.too_small_for:
            raise ImageTooSmallError("The image is 219×36 pixels; SinDDM needs at least 42.")
        return ImageSummary(
            path=path,
            source_size=(120, 90),
            train_sizes=((64, 48), (96, 72)),
            start_steps=(100, 53),
            parameters=1234,
            capped=False,
            pixels=pattern(96, 72),
        )

    def default_preset(self, device: str) -> str:
        on_gpu = device in self.gpus or (device == "auto" and bool(self.gpus))
        return "fast" if on_gpu else "refine"

    def clip_status(self, weights: str) -> ClipStatus:
        if weights in self.clip_statuses:
            return self.clip_statuses[weights]
        from core.generation.clip_weights import check_weights, is_local_file

        check = check_weights("ViT-B-32", weights)
        local = is_local_file(weights)
        return ClipStatus.of_check(weights, local, check.ready, check.downloadable, check.message)

    @staticmethod
    def summary(
        path: str,
        steps: int,
        total: int,
        can_resume: bool,
        photo_size: tuple[int, int] | None = None,
    ) -> ModelSummary:
        photo = None if photo_size is None else pattern(*photo_size, seed=5)
        return ModelSummary(
            path=path,
            sizes=((64, 48), (96, 72)),
            start_steps=(100, 53),
            parameters=1234,
            steps_trained=steps,
            total_steps=total,
            can_resume=can_resume,
            preset="tiny",
            image_name="photo.png",
            training_image=pattern(96, 72),
            photo_size=photo_size,
            photo=photo,
        )

    @property
    def edits(self) -> list:
        """The edit of every generation asked for (None for plain ones)."""
        return [request.edit for request in self.requests]

    @property
    def fast_calls(self) -> list[bool]:
        return [bool(request.options and request.options.fast) for request in self.requests]

    @property
    def sample_calls(self) -> list[tuple]:
        """(count, seed, size, device) of every generation asked for."""
        return [
            (r.count, r.seed, r.size, d) for r, d in zip(self.requests, self.devices, strict=True)
        ]

    # -------------------------------------------------------------------------- jobs

    def open_job(self, path: str) -> Job:
        def job(stop: threading.Event) -> Events:
            if "bad" in Path(path).name:
                raise CheckpointFormatError(f"{Path(path).name} is not a SinDDM Studio model.")
            summary = self.summary(path, 50, 50, False, self.photo_size)
            yield ModelOpened(summary, ModelHandle(("opened", path)))

        return job

    def instant_job(self, image_path: str) -> Job:
        def job(stop: threading.Event) -> Events:
            summary = replace(
                self.summary(image_path, 0, 0, False, self.photo_size),
                parameters=0,
                preset="instant",
                image_name=Path(image_path).name,
                kind="instant",
                default_sampling=INSTANT_DEFAULTS,
                fast_sampling=fast_sampling("instant", INSTANT_DEFAULTS),
                denoiser="instant",
            )
            if self.instant_sizes is not None:
                summary = replace(summary, sizes=self.instant_sizes)
            yield ModelOpened(summary, ModelHandle(("instant", image_path)))

        return job

    def save_job(self, source: str, target: str) -> Job:
        def job(stop: threading.Event) -> Events:
            self.saved.append(target)
            atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"fake model"))  # as Engine
            yield ModelSaved(target)

        return job

    def estimate_job(self, image_path: str, preset_name: str, steps: int, device: str) -> Job:
        def job(stop: threading.Event) -> Events:
            for _ in range(10):  # measuring: stopped when another job starts
                if stop.is_set():
                    return
                time.sleep(self.step_delay)
            yield Estimate(0.01, 0.01 * steps, "cpu")

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
        self.trainings.append((checkpoint_path, resume is not None))

        def job(stop: threading.Event) -> Events:
            done = 0
            for done in range(1, steps + 1):
                time.sleep(self.step_delay)
                history = tuple(1.0 / (1 + i) for i in range(done // 10))
                yield TrainProgress(done, steps, 0.5, 1e-3, done % 2, 0.1, 1.0, history)
                if done == 2:
                    yield TrainPreview(done, pattern(64, 48, done))
                if stop.is_set():
                    break
            Path(checkpoint_path).write_bytes(b"fake checkpoint")
            summary = self.summary(checkpoint_path, done, steps, True, self.photo_size)
            handle = ModelHandle(("trained", checkpoint_path))
            yield TrainFinished(summary, done == steps, handle)

        return job

    def work_estimate(self, model: ModelHandle, request: GenerationRequest) -> tuple[float, float]:
        """100 steps a pixel at the finest scale's size; 4 a pixel of the detail scales above
        it when the photo is larger."""
        width, height = request.size or self.photo_size or (96, 72)
        base_w, base_h = 96, 72
        if self.photo_size is not None:
            base_w = round(base_w * width / self.photo_size[0])
            base_h = round(base_h * height / self.photo_size[1])
        detail = 4.0 * width * height if self.photo_size is not None else 0.0
        return 100.0 * base_w * base_h * request.count, detail * request.count

    def calibrate_job(self, model: ModelHandle, device: str) -> Job:
        self.calibrations.append(device)
        kind = _kind_of(model)

        def job(stop: threading.Event) -> Events:
            time.sleep(self.step_delay)
            if not stop.is_set():
                rates = self.rates
                yield SpeedMeasured(kind, device, *rates, test=True, prepare=self.prepare_rate)

        return job

    def sample_job(
        self, model: ModelHandle, request: GenerationRequest, device: str, model_name: str
    ) -> Job:
        self.requests.append(request)
        self.devices.append(device)
        width, height = request.size or self.photo_size or (96, 72)

        def job(stop: threading.Event) -> Events:
            if isinstance(request.edit, TextEdit) and self.download_failure is not None:
                yield ClipDownloadFailed(request.edit.clip_weights, self.download_failure)
                raise GuidanceUnavailableError(self.download_failure)
            if self.failure is not None:
                failure, self.failure = self.failure, None
                raise failure
            steps = self.sample_steps
            for index in range(1, steps + 1):
                time.sleep(self.step_delay)
                image = pattern(width, height, index)
                yield SampleProgress(index, steps, min(index - 1, 2), 3, 0, 0.5, image)
                if stop.is_set():
                    return
            engine = _kind_of(model)
            fast = bool(request.options and request.options.fast)
            settings = {"model": model_name, "engine": engine, "fast": fast}
            layout = {"tile": request.tile, "mirror": request.mirror}  # as core's plan.settings()
            settings.update({key: value for key, value in layout.items() if value})
            for i in range(request.count):
                seed = request.seed + i
                image = pattern(width, height, seed)
                yield Result.made(image, seed, (width, height), dict(settings))
            if self.run_rates is not None:
                bf16 = bool(request.options and request.options.bf16)
                yield SpeedMeasured(engine, device, *self.run_rates, bf16)

        return job


def _kind_of(model: ModelHandle) -> ModelKind:
    instant = isinstance(model.payload, tuple) and model.payload[0] == "instant"
    return "instant" if instant else "trained"
