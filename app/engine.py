"""The GUI's bridge to core: describes images and models, and makes jobs that run in the worker.

A job is a generator of plain-data events (app.events). It runs in the worker thread, checks the
`stop` event between steps and ends on its own when asked, so that training can save and report.
Widgets and the view-model never touch torch; only this module and core do.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

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
from core.bundle import SinDDMModel, schedule_for, tensor_to_images
from core.checkpoint import load_model, load_trainer, read_checkpoint, save_trainer
from core.clip_guidance import load_clip, plan_text_guidance
from core.clip_weights import GuidanceUnavailableError, check_weights, download_weights
from core.config import ModelConfig
from core.device import bf16_supported, keep_freed_cpu_memory, resolve_device
from core.editing import (
    Box,
    RoiGuidance,
    harmonization_injection,
    style_transfer_injection,
)
from core.imageio import atomic_write, load_image, load_mask
from core.model import SinDDMNet, count_parameters
from core.presets import PRESETS, Preset
from core.progress import EtaEstimator
from core.pyramid import build_pyramid
from core.sampling import (
    Injection,
    canvas_sizes,
    iter_sample,
    resolve_start_steps,
    sampling_work,
)
from core.training import Trainer

PROGRESS_INTERVAL = 0.1
"""Seconds between progress events: the GUI repaints a few times a second, not every step."""
PREVIEW_INTERVAL = 0.12
CLIP_MODEL = "ViT-B-32"
"""The CLIP of spec §7 (ViT-B/32), whose weights the Edit tab checks and downloads."""

FAST_SAMPLING = {"fine_stride": 2, "bf16": True}
"""The Generate tab's "Fast sampling": every 2nd step at the finer scales, bf16 where native."""

Job = Callable[[threading.Event], Iterator[object]]
"""A job: given the stop event, yields plain-data events; runs in the worker thread."""


def preset_named(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}") from None


def _describe_speed(stride: int, device: torch.device) -> str:
    """What Fast sampling did on `device`, for a result's metadata."""
    bf16 = FAST_SAMPLING["bf16"] and bf16_supported(device)
    return f"stride {stride} at the finer scales" + (", bf16" if bf16 else "")


MEASURE_SECONDS = 2.0
"""Longest training step the speed estimate runs; slower scales are extrapolated."""


def _seconds_per_step(trainer: Trainer, stop: threading.Event) -> float | None:
    """Mean seconds per training step over the scales (drawn uniformly while training), from
    a timed step at each scale after a warm-up one (allocations, cuDNN autotuning). A scale that
    would take longer than MEASURE_SECONDS is extrapolated from the previous one by pixels: small
    scales use a CPU less well, so the extrapolation errs on the long side. None if stopped."""
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
    return sum(seconds) / len(seconds)


class Engine:
    """Owns the current model (torch objects) between jobs; one job runs at a time."""

    def __init__(self, train_preview_seconds: float = 30.0, save_every_seconds: float = 60.0):
        self.trainer: Trainer | None = None
        self.model: SinDDMModel | None = None
        self.model_path: str | None = None
        self.preset_name = "tiny"
        self.train_preview_seconds = train_preview_seconds
        self.save_every_seconds = save_every_seconds
        self._image_name = ""
        self._clip_cache = None
        self.clip_failures: dict[str, str] = {}
        """CLIP weight tags whose download failed in this session, with the reason."""

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

    def open_model(self, path: str) -> ModelSummary:
        """Load a `.sinddm` file for generating (and, if it can, for resuming training)."""
        data = read_checkpoint(path)
        self.model = load_model(path, "cpu")
        self.trainer = None
        self.model_path = str(path)
        self.preset_name = str(data.get("preset", "custom"))
        self._image_name = str(data.get("image_name", ""))  # kept when training resumes
        train_config = data.get("train_config", {})
        return ModelSummary(
            path=str(path),
            sizes=self.model.sizes,
            start_steps=self.model.schedule.start_steps,
            parameters=count_parameters(self.model.net),
            steps_trained=self.model.steps_trained,
            total_steps=int(train_config.get("steps", self.model.steps_trained)),
            can_resume=bool(data.get("has_training_state", False)),
            preset=self.preset_name,
            image_name=self._image_name or Path(path).stem,
            training_image=self.model.pyramid.sharp[-1],
        )

    def save_model(self, path: str) -> None:
        """Write the current model to `path` (the full training state when there is one)."""
        if self.trainer is not None:
            save_trainer(self.trainer, path, extra=self._extra())
        elif self.model_path is not None and Path(self.model_path) != Path(path):
            atomic_write(path, lambda tmp: shutil.copyfile(self.model_path, tmp))
        self.model_path = str(path)

    def _extra(self) -> dict:
        return {"preset": self.preset_name, "image_name": self._image_name}

    # -------------------------------------------------------------------------------- jobs

    def estimate_job(self, image_path: str, preset_name: str, steps: int, device_name: str) -> Job:
        """Time real training steps scale by scale; scales whose step would take longer than
        `MEASURE_SECONDS` are extrapolated by pixels from the last one measured instead."""

        def job(stop: threading.Event) -> Iterator[Estimate]:
            preset = preset_named(preset_name)
            device = resolve_device(device_name)
            if device.type == "cpu":
                keep_freed_cpu_memory()
            image = load_image(image_path)
            trainer = Trainer.from_image(
                image, preset.model, preset.train_config(steps), device, bf16=preset.bf16
            )
            per_step = _seconds_per_step(trainer, stop)
            if per_step is not None:
                yield Estimate(per_step, per_step * steps, device.type)

        return job

    def train_job(
        self,
        image_path: str | None,
        preset_name: str,
        steps: int,
        device_name: str,
        checkpoint_path: str,
        resume: bool,
        seed: int = 0,
    ) -> Job:
        """Train (or resume) and save to `checkpoint_path` periodically, on stop and at the end."""

        def job(stop: threading.Event):
            device = resolve_device(device_name)
            if device.type == "cpu":
                keep_freed_cpu_memory()  # about 10% faster CPU steps (docs/benchmarks.md)
            if resume:
                trainer = load_trainer(checkpoint_path, device, steps=steps)
            else:
                preset = preset_named(preset_name)
                image = load_image(image_path)
                self._image_name = Path(image_path).name
                trainer = Trainer.from_image(
                    image, preset.model, preset.train_config(steps), device, seed, preset.bf16
                )
                self.preset_name = preset_name
            self.trainer, self.model_path = trainer, checkpoint_path
            yield from self._train_loop(trainer, stop, checkpoint_path)

        return job

    def _train_loop(self, trainer: Trainer, stop: threading.Event, path: str):
        total = trainer.train_config.steps
        eta = EtaEstimator(total - trainer.state.step)
        last_progress = last_save = last_preview = time.monotonic()
        try:
            for step in trainer.steps():
                eta.advance()
                now = time.monotonic()
                if now - last_save >= self.save_every_seconds:
                    save_trainer(trainer, path, extra=self._extra())
                    last_save = now
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
                    yield TrainPreview(step.step, self._coarse_preview(trainer))
                    last_preview = time.monotonic()
                if stop.is_set():
                    break
        finally:
            save_trainer(trainer, path, extra=self._extra())
        self.model = trainer.sampling_model()
        yield TrainFinished(self._summary_of_trainer(trainer, path), trainer.finished)

    def _coarse_preview(self, trainer: Trainer):
        model = trainer.sampling_model()
        result = None
        for step in iter_sample(model, count=1, seed=trainer.state.step, last_scale=0):
            result = step.x0_pred
        return tensor_to_images(result)[0]

    def _summary_of_trainer(self, trainer: Trainer, path: str) -> ModelSummary:
        return ModelSummary(
            path=path,
            sizes=trainer.pyramid.sizes,
            start_steps=trainer.schedule.start_steps,
            parameters=count_parameters(trainer.net),
            steps_trained=trainer.state.step,
            total_steps=trainer.train_config.steps,
            can_resume=True,
            preset=self.preset_name,
            image_name=self._image_name or Path(path).stem,
            training_image=trainer.pyramid.sharp[-1],
        )

    def sample_job(
        self,
        count: int,
        seed: int,
        size: tuple[int, int] | None,
        device_name: str,
        edit: EditRequest | None = None,
        fast: bool = False,
    ) -> Job:
        """Generate `count` images (seeds seed .. seed+count−1), showing the first as it forms;
        `edit` guides them (regions, text) or starts from an image (style transfer, harmonise).
        `fast` samples with FAST_SAMPLING (docs/benchmarks.md says what it costs)."""
        if self.model is None:
            raise ValueError("no model to sample from")
        model = self.model

        def job(stop: threading.Event):
            device = resolve_device(device_name)
            model.net.to(device)
            if edit is not None and edit.kind == "text":
                yield from self._fetch_clip_weights(edit.clip_weights, stop)
                if stop.is_set():
                    return
            plan = self._edit_plan(model, edit, size, seed, device)
            sizes = canvas_sizes(model.sizes, plan.size)
            speed = FAST_SAMPLING if fast else {"fine_stride": 1, "bf16": False}
            stride = speed["fine_stride"] if plan.reblur else 1
            work = sampling_work(sizes, resolve_start_steps(model, None), plan.injection, stride)
            eta = EtaEstimator(sum(work))
            last, final = 0.0, None
            guides = plan.guidance()
            for step in iter_sample(
                model,
                count=count,
                seed=seed,
                size=sizes[-1],
                guidance=guides,
                injection=plan.injection,
                reblur=plan.reblur,
                **speed,
            ):
                eta.advance(sizes[step.scale][0] * sizes[step.scale][1])
                now = time.monotonic()
                if now - last >= PREVIEW_INTERVAL or step.t == 0:
                    last = now
                    preview = (
                        plan.finish(step.x0_pred[:1])
                        if step.index == step.total
                        else (step.x0_pred[:1])
                    )
                    yield SampleProgress(
                        step.index,
                        step.total,
                        step.scale,
                        len(sizes),
                        step.t,
                        eta.seconds_left(),
                        tensor_to_images(preview)[0],
                        _guided_region(guides),
                    )
                final = step.x0_pred
                if stop.is_set():
                    return
            settings = {
                "model": Path(self.model_path or "").name,
                "steps": model.steps_trained,
                **(edit.describe() if edit else {}),
                **({"fast sampling": _describe_speed(stride, device)} if fast else {}),
            }
            for i, image in enumerate(tensor_to_images(plan.finish(final))):
                yield SampleResult(image, seed + i, sizes[-1], settings)

        return job

    def _edit_plan(self, model, edit, size, seed, device) -> _Plan:
        if edit is None:
            return _Plan(size)
        if edit.kind == "regions":
            canvas = canvas_sizes(model.sizes, size)
            pairs = list(edit.pairs)
            return _Plan(size, lambda: [RoiGuidance(model, canvas, pairs, edit.strength)])
        if edit.kind == "style-transfer":
            content = load_image(edit.image_path)
            injection, out_size = style_transfer_injection(
                model, content, edit.start_step, edit.scale, edit.match
            )
            return _Plan(out_size, injection=injection)
        if edit.kind == "harmonize":
            if edit.composite is not None:  # placed in the app
                composite, mask = Image.fromarray(edit.composite), Image.fromarray(edit.mask)
            else:
                composite, mask = load_image(edit.image_path), load_mask(edit.mask_path)
            plan = harmonization_injection(model, composite, mask, edit.start_step)
            return _Plan(plan.size, injection=plan.injection, finish=plan.blend)
        clip, tokenizer = self._clip(edit.clip_weights, device)
        text = plan_text_guidance(
            model,
            clip,
            tokenizer,
            edit.prompt,
            edit.text_mode,
            edit.strength,
            edit.fill,
            edit.box,
            seed=seed,
            size=size,
        )
        return _Plan(text.size or size, text.make_guidance, text.injection, reblur=False)

    def _fetch_clip_weights(self, weights: str, stop: threading.Event) -> Iterator:
        """Download a tag's weights the first time, yielding DownloadProgress every 0.25 s.

        The download runs in a helper thread so that progress can be reported and Stop obeyed
        (a stopped download finishes in the background, where huggingface_hub keeps it).
        A failure is remembered in `clip_failures` so the Edit tab can say so before a retry.
        """
        check = check_weights(CLIP_MODEL, weights)
        if not check.downloadable:
            return
        progress: list[tuple[int, int]] = [(0, 0)]
        outcome: dict[str, object] = {}

        def download() -> None:
            try:
                download_weights(CLIP_MODEL, weights, lambda d, t: progress.append((d, t)))
            except GuidanceUnavailableError as exc:
                outcome["error"] = exc

        helper = threading.Thread(target=download, name="clip-download", daemon=True)
        helper.start()
        eta = EtaEstimator(0)
        while helper.is_alive() and not stop.is_set():
            helper.join(0.25)
            done, total = progress[-1]
            eta.total_work, eta.done_work = float(total), float(done)
            yield DownloadProgress(done, total, eta.seconds_left() if total else None)
        if "error" in outcome:
            self.clip_failures[weights] = str(outcome["error"])
            raise outcome["error"]
        self.clip_failures.pop(weights, None)

    def _clip(self, weights: str, device):
        """CLIP is loaded lazily, in the worker, the first time a prompt is used."""
        key = (weights, str(device))
        if self._clip_cache is None or self._clip_cache[0] != key:
            self._clip_cache = (key, load_clip(CLIP_MODEL, weights, device))
        return self._clip_cache[1]


@dataclass(frozen=True)
class EditRequest:
    """What the Edit tab asks for, as plain data (boxes in finest-scale pixels)."""

    kind: str
    """'regions', 'text', 'style-transfer' or 'harmonize'."""
    pairs: tuple = ()
    strength: float | None = None
    fill: float | None = None
    prompt: str = ""
    text_mode: str = "content"
    clip_weights: str = "openai"
    box: Box | None = None
    image_path: str | None = None
    mask_path: str | None = None
    start_step: int = 15
    scale: int | None = None
    match: bool = True
    composite: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Harmonisation placed in the app: the composite (H×W×3 uint8) instead of a file."""
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)
    """… and its mask (H×W uint8, 255 on the object)."""

    def describe(self) -> dict:
        """Settings worth keeping with a result so it can be recreated."""
        if self.kind == "regions":
            boxes = [[list(astuple(s)), list(astuple(t))] for s, t in self.pairs]
            return {"edit": "regions", "regions": boxes, "strength": self.strength}
        if self.kind == "text":
            return {
                "edit": "text",
                "prompt": self.prompt,
                "mode": self.text_mode,
                "strength": self.strength,
                "fill": self.fill,
            }
        settings = {"edit": self.kind, "image": Path(self.image_path or "").name}
        if self.scale is not None:
            settings["scale"] = self.scale
        return {**settings, "t": self.start_step}


@dataclass
class _Plan:
    size: tuple[int, int] | None
    guidance: Callable[[], list] = lambda: []
    injection: Injection | None = None
    finish: Callable = lambda x: x
    reblur: bool = True


def _guided_region(guides: list) -> np.ndarray | None:
    """The first sample's text-guidance mask (ClipGuidance.mask, (B, 1, H, W)), if one exists."""
    for guide in guides:
        mask = getattr(guide, "mask", None)
        if mask is not None:
            region = mask[0, 0].detach().float().cpu().numpy()
            return None if region.min() > 0.99 else region  # style: everything is guided
    return None


def available_devices() -> list[str]:
    """Device choices for this machine, 'auto' first."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_available():
        devices.append("mps")
    return devices


def _parameters_of(config: ModelConfig) -> int:
    with torch.device("meta"):
        return count_parameters(SinDDMNet(config.dim))
