"""A scriptable stand-in for app.engine.Engine: instant, deterministic, no torch."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from app.events import (
    Estimate,
    ImageSummary,
    ModelSummary,
    SampleProgress,
    SampleResult,
    TrainFinished,
    TrainPreview,
    TrainProgress,
)
from core.errors import CheckpointFormatError, ImageLoadError


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


class FakeEngine:
    def __init__(self, step_delay: float = 0.0):
        self.step_delay = step_delay
        self.saved: list[str] = []
        self.sample_calls: list[tuple] = []
        self.fast_calls: list[bool] = []
        self.edits: list = []
        self.model_path: str | None = None
        self.has_model = False

    def describe_image(self, path: str, preset_name: str) -> ImageSummary:
        if "bad" in Path(path).name:
            raise ImageLoadError(f"{Path(path).name} is not an image file that can be read.")
        return ImageSummary(
            path=path,
            source_size=(120, 90),
            train_sizes=((64, 48), (96, 72)),
            start_steps=(100, 53),
            parameters=1234,
            capped=False,
            pixels=pattern(96, 72),
        )

    def open_model(self, path: str) -> ModelSummary:
        if "bad" in Path(path).name:
            raise CheckpointFormatError(f"{Path(path).name} is not a SinDDM Studio model.")
        self.has_model, self.model_path = True, path
        return self.summary(path, steps=50, total=50, can_resume=False)

    @staticmethod
    def summary(path: str, steps: int, total: int, can_resume: bool) -> ModelSummary:
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
        )

    def save_model(self, path: str) -> None:
        self.saved.append(path)
        Path(path).write_bytes(b"fake model")

    def estimate_job(self, image_path, preset_name, steps, device):
        def job(stop: threading.Event):
            yield Estimate(0.01, 0.01 * steps, "cpu")

        return job

    def train_job(self, image_path, preset_name, steps, device, path, resume, seed=0):
        def job(stop: threading.Event):
            done = 0
            for done in range(1, steps + 1):
                time.sleep(self.step_delay)
                history = tuple(1.0 / (1 + i) for i in range(done // 10))
                yield TrainProgress(done, steps, 0.5, 1e-3, done % 2, 0.1, 1.0, history)
                if done == 2:
                    yield TrainPreview(done, pattern(64, 48, done))
                if stop.is_set():
                    break
            Path(path).write_bytes(b"fake checkpoint")
            self.has_model, self.model_path = True, path
            yield TrainFinished(self.summary(path, done, steps, True), done == steps)

        return job

    def sample_job(self, count, seed, size, device, edit=None, fast=False):
        if not self.has_model:
            raise ValueError("no model to sample from")
        self.sample_calls.append((count, seed, size, device))
        self.fast_calls.append(fast)
        self.edits.append(edit)
        width, height = size

        def job(stop: threading.Event):
            for index in range(1, 4):
                time.sleep(self.step_delay)
                yield SampleProgress(index, 3, index - 1, 3, 0, 0.5, pattern(width, height, index))
                if stop.is_set():
                    return
            for i in range(count):
                yield SampleResult(pattern(width, height, seed + i), seed + i, size, {"m": "x"})

        return job
