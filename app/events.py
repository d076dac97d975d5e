"""Plain data that crosses from the worker thread to the GUI: numbers, strings, uint8 arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from core.requests import FAST_SAMPLING, PLAIN_SAMPLING, DenoiserKind, SamplingOptions

if TYPE_CHECKING:
    from app.results import Result


@dataclass(frozen=True, eq=False)
class ModelHandle:
    """A model an engine has loaded (opened or trained), opaque to the GUI.

    The view-model keeps the one that came with `ModelOpened` / `TrainFinished` and passes it
    back to later jobs (generating, resuming); only the engine that made it looks inside.
    """

    payload: object = field(repr=False)


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


ModelKind = Literal["trained", "instant"]
"""What answers a generation: a trained network, or Instant (a closed-form denoiser over the
photo's patches, built in a second with no training: core.denoisers.instant)."""


@dataclass(frozen=True)
class ModelSummary:
    """A trained (or training) model, or Instant for a photo, as the GUI sees it.

    For Instant `path` is the photo, and there are no parameters and no steps to resume."""

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
    kind: ModelKind = "trained"
    default_sampling: SamplingOptions = PLAIN_SAMPLING
    """What a request without options gets (DiffusionModel.default_sampling, core.denoisers)."""
    fast_sampling: SamplingOptions = FAST_SAMPLING
    """What "Fast sampling" asks of it (DiffusionModel.fast_sampling: core.requests.fast_sampling
    of its denoiser kind and default sampling)."""
    denoiser: DenoiserKind = "trained"
    """Which denoiser answers (DiffusionModel.kind): a refiner of Instant is a 'trained' model
    file whose denoiser is 'refined'."""
    photo_size: tuple[int, int] | None = None
    """(W, H) that images come back at by default (core.generation.plan.photo_size): the photo's own
    resolution under the default pixel cap. Canvas sizes and region boxes are in these "photo
    pixels". None: the finest scale's (a model that keeps no larger photo)."""
    photo: np.ndarray | None = field(default=None, repr=False)
    """The photo at `photo_size`, H×W×3 uint8; None when that is `training_image`."""
    own_size: tuple[int, int] | None = None
    """(W, H) of the photo in its own pixels (core.generation.plan.photo_size under
    core.rules.MAX_CANVAS_PIXELS), in which extend's canvas is given; None: `output_size`."""

    @property
    def extend_unit(self) -> tuple[int, int]:
        """The photo's own size, in whose pixels Extend's canvas is given."""
        return self.own_size or self.output_size

    @property
    def output_size(self) -> tuple[int, int]:
        """(W, H) of an image at the photo's resolution: the canvas Generate offers first."""
        return self.photo_size or self.sizes[-1]

    @property
    def photo_image(self) -> np.ndarray:
        """The photo at `output_size` (regions are picked on it, objects pasted onto it)."""
        return self.photo if self.photo is not None else self.training_image

    @property
    def instant(self) -> bool:
        return self.kind == "instant"

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
    handle: ModelHandle = field(repr=False)
    """The trained model, for the jobs that use it next (generating, resuming)."""


@dataclass(frozen=True)
class ModelOpened:
    """A model file was read, or Instant was built for a photo: what the GUI shows of it, and
    the engine's handle on it."""

    model: ModelSummary
    handle: ModelHandle = field(repr=False)


@dataclass(frozen=True)
class ModelSaved:
    path: str


@dataclass(frozen=True)
class ModelWithResults:
    """A model that is now open (ModelOpened or TrainFinished) with the results stored beside
    it, read in the worker thread."""

    event: ModelOpened | TrainFinished
    results: tuple[Result, ...] = field(repr=False)


@dataclass(frozen=True)
class ResultStored:
    """A generated image as kept beside its model; `error` says why it could not be written."""

    result: Result = field(repr=False)
    error: str | None = None


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of CLIP weights downloaded so far (total 0 when the server does not say)."""

    done: int
    total: int
    seconds_left: float | None


@dataclass(frozen=True)
class ClipDownloadFailed:
    """Sent just before the error of a text run whose CLIP weights could not be downloaded."""

    weights: str
    reason: str


ClipAvailability = Literal["present", "cached", "download", "unavailable", "failed"]


@dataclass(frozen=True)
class ClipStatus:
    """Where the CLIP weights for text guidance come from, in plain words (`text`).

    `availability`: 'present' (a local file), 'cached' (downloaded earlier), 'download' (the
    first text run downloads them), 'unavailable' (no such file or tag) or 'failed' (a download
    failed in this session; `text` says why, and the user may try again).
    """

    weights: str
    availability: ClipAvailability
    text: str

    @property
    def usable(self) -> bool:
        """A text run can start (perhaps downloading first)."""
        return self.availability in ("present", "cached", "download")

    @property
    def can_retry(self) -> bool:
        return self.availability == "failed"

    @classmethod
    def of_check(
        cls, weights: str, local: bool, ready: bool, downloadable: bool, message: str
    ) -> ClipStatus:
        """From core.generation.clip_weights: is_local_file(weights) and check_weights' ready,
        downloadable and message."""
        availability: ClipAvailability
        if ready:
            availability = "present" if local else "cached"
        else:
            availability = "download" if downloadable else "unavailable"
        return cls(weights, availability, message)


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
    model_scales: int = 0
    """The model's own scales: `scale` ≥ this is a detail scale (docs/method.md §12); 0 when
    the run has none."""
    done: float | None = None
    """Fraction of the whole run's work done (pixel-steps, detail scales included); None: use
    index / total."""

    @property
    def detail(self) -> bool:
        """Whether this step is at a detail scale above the model's finest."""
        return 0 < self.model_scales <= self.scale


@dataclass(frozen=True)
class SpeedMeasured:
    """Seconds per pixel-step of generating on this machine (core.generation.plan.work_estimate
    counts the pixel-steps), timed in the worker: `base` on the model's scales, `detail` on the
    detail scales (None: not run long enough to tell). `test`: a short calibration run, not a
    real generation. `kind` and `device` are the engine and the device setting it ran on;
    `bf16` whether the run asked for bfloat16 (a trained model's Fast sampling); `prepare`
    the seconds per photo pixel planning took to build the detail scales (once per model: the
    next run finds them built; None when it did not build them)."""

    kind: ModelKind
    device: str
    base: float | None
    detail: float | None
    bf16: bool = False
    test: bool = False
    prepare: float | None = None
    model: tuple[str, str, str] | None = None
    """Which model it measured (app.speed.ModelKey), as the view-model marks it."""


@dataclass(frozen=True)
class ResultsSaved:
    """Writing a generation's images as PNGs beside their model took `seconds` for `pixels`
    (in the worker, after each image: part of the wait the time estimate foretells)."""

    seconds: float
    pixels: int
