"""Plain data that crosses from the worker thread to the GUI: numbers, strings, uint8 arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImageSummary:
    """A loaded training image and what a model of it will be under a preset."""

    path: str
    source_size: tuple[int, int]
    train_sizes: tuple[tuple[int, int], ...]
    start_steps: tuple[int, ...]
    parameters: int
    capped: bool
    pixels: np.ndarray = field(repr=False)
    """The image at its training (finest-scale) size, H×W×3 uint8."""


@dataclass(frozen=True)
class ModelSummary:
    """A trained (or training) model as the GUI sees it."""

    path: str
    sizes: tuple[tuple[int, int], ...]
    start_steps: tuple[int, ...]
    parameters: int
    steps_trained: int
    total_steps: int
    can_resume: bool
    preset: str
    image_name: str
    training_image: np.ndarray = field(repr=False)

    @property
    def finished(self) -> bool:
        return self.steps_trained >= self.total_steps


@dataclass(frozen=True)
class Estimate:
    seconds_per_step: float
    total_seconds: float
    device: str


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int
    loss: float
    lr: float
    scale: int
    elapsed: float
    seconds_left: float | None
    loss_history: tuple[float, ...]


@dataclass(frozen=True)
class TrainPreview:
    """A quick coarse-scale sample made during training, H×W×3 uint8."""

    step: int
    image: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class TrainFinished:
    model: ModelSummary
    completed: bool
    """False when the user stopped it (the checkpoint is saved either way)."""


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of CLIP weights downloaded so far (total 0 when the server does not say)."""

    done: int
    total: int
    seconds_left: float | None


@dataclass(frozen=True)
class SampleProgress:
    """The x̂₀ prediction of the first sample in the batch as it forms."""

    index: int
    total: int
    scale: int
    num_scales: int
    t: int
    seconds_left: float | None
    image: np.ndarray = field(repr=False)
    guided: np.ndarray | None = field(default=None, repr=False)
    """Where text guidance acts (H'×W' float in [0, 1], any size), once its mask exists."""


@dataclass(frozen=True)
class SampleResult:
    image: np.ndarray = field(repr=False)
    seed: int = 0
    size: tuple[int, int] = (0, 0)
    settings: dict = field(default_factory=dict)
