"""Checks of what a model file holds, so that a damaged or crafted file is one plain sentence.

`check_model_data` checks every field that `model_file.trainer_to_dict` writes, before any of
it is used: the type and range of each value, the agreement of the pyramid, the start steps and
the weights with the model's settings, weights that are finite numbers, and for a resumable file
Adam's state and the random-number states. A file passes or raises `CheckpointFormatError`;
nothing else escapes. It runs one `torch.isfinite` pass over the tensors and builds the network
only on the meta device, so it costs a few milliseconds.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

import numpy as np
import torch
from PIL import Image

from core.config import ModelConfig, TrainConfig
from core.denoisers.instant import InstantSettings
from core.denoisers.network import SinDDMNet
from core.errors import CheckpointFormatError, ConfigError
from core.method.pyramid import ORIGINAL_MAX_PIXELS, Pyramid
from core.method.schedule import schedule_for
from core.rules import (
    MAX_BATCH,
    MAX_DIM,
    MAX_SCALES,
    MAX_STEPS,
    MAX_TIMESTEPS,
    MIN_MODEL_PIXELS,
    SEED_MAX,
)

FORMAT_TAG = "sinddm-studio-model"
FORMAT_VERSION = 1

MAX_WEIGHT = 10_000.0
"""No weight of a trained network comes near this (the demo model's largest is 0.6, a refiner's
0.7); a larger one is a damaged file, e.g. one flipped exponent bit (-2.8e35), which would
otherwise sample pure noise."""
MIN_SIDE = 8
"""Sampling needs at least 8 pixels a side at every scale (docs/method.md §5)."""
MAX_SIDE = 1_000_000
MAX_TEXT = 1_000
WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
ADAM_REQUIRED = ("lr", "betas", "eps", "weight_decay", "amsgrad")
"""Adam's settings that every torch version writes and that a loaded state must have (torch
fills in the newer ones itself)."""

NOT_FINITE = (
    "has weights that are not finite numbers (NaN or infinity), so it cannot make images; "
    "use an earlier copy of the model or train it again."
)
DO_NOT_FIT = "has weights that do not fit its config."


@dataclass(frozen=True)
class CheckedModel:
    """The settings and pyramid of a file that passed `check_model_data`."""

    config: ModelConfig
    train_config: TrainConfig
    pyramid: Pyramid
    instant_settings: InstantSettings | None = None
    """Instant's settings as the trainer used them (None: a file that does not keep them)."""


class _Damaged(Exception):
    """What is wrong, in words that follow '<file> is damaged: '."""


class _Refused(Exception):
    """A whole sentence that follows the file's name."""


def check_model_data(data: Any, name: str) -> CheckedModel:
    """Check a model file's dictionary (as `torch.load` gave it); `name` is the file's name for
    the message. Raises `CheckpointFormatError` with one plain sentence."""
    with _as_sentence(name):
        return _check(data)


def check_model_header(data: Any, name: str) -> None:
    """The cheap first part of `check_model_data`: is this a SinDDM Studio model dictionary of a
    format version this program reads, with the fields every model has?"""
    with _as_sentence(name):
        _check_header(data)


@contextmanager
def _as_sentence(name: str) -> Iterator[None]:
    """Turn what the checks found into `CheckpointFormatError` naming the file."""
    try:
        yield
    except _Refused as exc:
        raise CheckpointFormatError(f"{name} {exc}") from None
    except _Damaged as exc:
        raise CheckpointFormatError(f"{name} is damaged: {exc}.") from None


@lru_cache(maxsize=8)
def parameter_shapes(dim: int) -> dict[str, torch.Size]:
    """The name and shape of every weight of a network `dim` wide, in `parameters()` order
    (the network has no buffers). Built on the meta device: no memory, no time."""
    with torch.device("meta"):
        net = SinDDMNet(dim)
    return {key: value.shape for key, value in net.state_dict().items()}


def _check(data: Any) -> CheckedModel:
    _check_header(data)
    config = _model_config(data["model_config"])
    train_config = _train_config(data.get("train_config", {}))
    pyramid = _pyramid(data["pyramid"])
    _start_steps(data["start_steps"], schedule_for(pyramid, config).start_steps)
    shapes = parameter_shapes(config.dim)
    _weights(data["ema"], shapes)
    _other_fields(data)
    if data.get("has_training_state", False):
        _training_state(data, shapes)
    settings = _instant_settings(data["instant_settings"]) if "instant_settings" in data else None
    return CheckedModel(config, train_config, pyramid, settings)


def _check_header(data: Any) -> None:
    if not isinstance(data, dict) or not _same(data.get("format"), FORMAT_TAG):
        raise _Refused("is not a SinDDM Studio model (it may be a checkpoint of another program).")
    version = data.get("format_version")
    if _is_whole(version) and version > FORMAT_VERSION:
        raise _Refused(
            f"was written by a newer SinDDM Studio (format {_show(version)}); please update."
        )
    if not _is_whole(version) or version < 1:
        raise _Damaged(f"its format version is {_show(version)}")
    required = ("model_config", "pyramid", "start_steps", "ema", "step")
    missing = [key for key in required if key not in data]
    if missing:
        raise _Refused(f"is incomplete: it lacks {', '.join(missing)}.")


# ------------------------------------------------------------------------------ settings


def _model_config(value: Any) -> ModelConfig:
    fields = _table(value, "model_config")
    timesteps = fields.get("timesteps", 100)
    if _is_whole(timesteps) and timesteps > MAX_TIMESTEPS:
        raise _Refused(
            f"asks for {_show(timesteps)} diffusion steps; SinDDM uses 100 and this program "
            f"accepts at most {MAX_TIMESTEPS:,}, so the file is damaged or was altered."
        )
    limits = {
        "dim": (2, MAX_DIM),
        "timesteps": (2, MAX_TIMESTEPS),
        "max_pixels": (MIN_MODEL_PIXELS, MAX_SIDE**2),
        "scale_factor": (1.05, 4.0),
        "loss_factor": (1e-6, 1e6),
        "refine": (0.0, 1.0),
        "refine_weight": (0.0, 1.0),
    }
    _numbers(fields, limits, "model_config", whole={"dim", "timesteps", "max_pixels"})
    try:
        return ModelConfig.from_dict(fields)
    except ConfigError as exc:
        raise _Damaged(f"its model settings are wrong ({exc})") from None


def _instant_settings(value: Any) -> InstantSettings:
    fields = _table(value, "instant_settings")
    limits = {
        "exact_scales": (0, MAX_SCALES),
        "candidates": (1, 1_000),
        "components": (0, 10_000),
        "probes": (1, 10_000),
        "position_sigma": (0.0, 1e6),
    }
    whole = {"exact_scales", "candidates", "components", "probes"}
    _numbers(fields, limits, "instant_settings", whole)
    if "patch_sizes" in fields:
        sizes = _sequence(fields["patch_sizes"], "instant_settings.patch_sizes", 1, MAX_SCALES)
        for size in sizes:
            _number(size, "a patch size", 1, 255, whole=True)
    if "aggregation" in fields and not isinstance(fields["aggregation"], str):
        raise _Damaged("its Instant aggregation is not a word")
    try:
        return InstantSettings.from_dict(fields)
    except ConfigError as exc:
        raise _Damaged(f"its Instant settings are wrong ({exc})") from None


def _train_config(value: Any) -> TrainConfig:
    fields = _table(value, "train_config")
    whole = {"steps", "batch_size", "ema_every", "ema_start", "loss_window"}
    limits = {
        "steps": (1, MAX_STEPS),
        "batch_size": (1, MAX_BATCH),
        "lr": (0.0, 1.0),
        "lr_decay": (0.0, 1.0),
        "ema_decay": (0.0, 1.0),
        "ema_every": (1, MAX_STEPS),
        "ema_start": (0, MAX_STEPS),
        "loss_window": (1, MAX_STEPS),
        "distill": (0.0, 1.0),
        "distill_until": (0.0, 1.0),
    }
    _numbers(fields, limits, "train_config", whole)
    if "lr_milestones" in fields:
        milestones = _sequence(fields["lr_milestones"], "train_config.lr_milestones", 0, 1_000)
        for milestone in milestones:
            _number(milestone, "a learning-rate milestone", 0, MAX_STEPS, whole=True)
    try:
        return TrainConfig.from_dict(fields)
    except ConfigError as exc:
        raise _Damaged(f"its training settings are wrong ({exc})") from None


def _numbers(
    fields: dict, limits: dict[str, tuple[float, float]], where: str, whole: set[str]
) -> None:
    for key, (low, high) in limits.items():
        if key in fields:
            _number(fields[key], f"{where}.{key}", low, high, whole=key in whole)


# ------------------------------------------------------------------------------ pyramid


def _pyramid(value: Any) -> Pyramid:
    fields = _table(value, "pyramid")
    keys = ("sharp", "blurry", "sizes", "scale_factor", "rescale_losses", "source_size")
    missing = [key for key in keys if key not in fields]
    if missing:
        raise _Damaged(f"its pyramid lacks {', '.join(missing)}")
    sizes = [
        _size(size, "a pyramid size", MIN_SIDE)
        for size in _sequence(fields["sizes"], "pyramid.sizes", 1, MAX_SCALES)
    ]
    count = len(sizes)
    if any(a[0] > b[0] or a[1] > b[1] for a, b in itertools.pairwise(sizes)):
        raise _Damaged("its pyramid sizes do not grow from the coarsest scale to the finest")
    source = _size(fields["source_size"], "pyramid.source_size", 1)
    if source[0] < sizes[-1][0] or source[1] < sizes[-1][1]:
        raise _Damaged("its pyramid is larger than the image it was made from")
    losses = _sequence(fields["rescale_losses"], "pyramid.rescale_losses", count, count)
    original = _original(fields.get("original_png"), source, sizes[-1])
    return Pyramid(
        sharp=_images(fields["sharp"], sizes, "sharp"),
        blurry=_images(fields["blurry"], sizes, "blurry"),
        sizes=tuple(sizes),
        scale_factor=float(_number(fields["scale_factor"], "pyramid.scale_factor", 1.0, 4.0)),
        rescale_losses=tuple(float(_number(v, "a rescale loss", 0.0, math.inf)) for v in losses),
        source_size=source,
        original=original,
    )


def _original(value: Any, source: tuple[int, int], finest: tuple[int, int]) -> np.ndarray | None:
    """The photo a file keeps for the detail scales (PNG bytes, docs/method.md §12): H×W×3 uint8,
    no smaller than the finest scale, no larger than the source and of its shape; None where the
    file keeps none (made before full resolution)."""
    if value is None:
        return None
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        raise _Damaged("its photo is not stored as image bytes")
    try:
        with Image.open(io.BytesIO(value.numpy().tobytes())) as image:
            if image.format != "PNG" or image.mode != "RGB":
                raise _Damaged("its photo is not an RGB PNG")
            width, height = image.size
            if width * height > ORIGINAL_MAX_PIXELS:
                raise _Damaged("its photo is larger than any photo a model keeps")
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _Damaged("its photo cannot be read") from exc
    if width < finest[0] or height < finest[1] or width > source[0] or height > source[1]:
        raise _Damaged("its photo does not fit its pyramid")
    if abs(width / height - source[0] / source[1]) > 0.02 * source[0] / source[1] + 2 / height:
        raise _Damaged("its photo has another shape than the image it was made from")
    return pixels


def _size(value: Any, where: str, smallest: int) -> tuple[int, int]:
    pair = _sequence(value, where, 2, 2)
    width, height = (_number(side, where, smallest, MAX_SIDE, whole=True) for side in pair)
    return int(width), int(height)


def _images(value: Any, sizes: list[tuple[int, int]], kind: str) -> tuple[np.ndarray, ...]:
    """H×W×3 uint8 arrays from the file's tensors, one per scale, each of its scale's size."""
    tensors = _sequence(value, f"pyramid.{kind}", len(sizes), len(sizes))
    images = []
    for tensor, (width, height) in zip(tensors, sizes, strict=True):
        if not _is_tensor(tensor, (torch.uint8,)) or tuple(tensor.shape) != (height, width, 3):
            raise _Damaged(f"its {kind} pyramid images do not match the pyramid's sizes")
        images.append(np.array(tensor.detach().numpy(), copy=True, order="C"))
    return tuple(images)


def _start_steps(value: Any, expected: tuple[int, ...]) -> None:
    steps = _sequence(value, "start_steps", 1, MAX_SCALES)
    for step in steps:
        _number(step, "a start step", 0, MAX_TIMESTEPS, whole=True)
    if tuple(steps) != expected:
        raise _Damaged(
            f"its start steps {list(steps)} do not match its pyramid, which gives {list(expected)}"
        )


# ------------------------------------------------------------------------------ weights


def _weights(value: Any, shapes: dict[str, torch.Size], what: str = "weights") -> None:
    """The state dict of the network: its exact names and shapes, float tensors, all finite."""
    weights = _table(value, what)
    if set(weights) != set(shapes):
        raise _Refused(DO_NOT_FIT)
    for key, shape in shapes.items():
        if not _is_tensor(weights[key], WEIGHT_DTYPES) or weights[key].shape != shape:
            raise _Refused(DO_NOT_FIT)
    if not _all_finite(list(weights.values())):
        raise _Refused(NOT_FINITE)
    largest = _largest_magnitude(list(weights.values()))
    if largest > MAX_WEIGHT:
        raise _Damaged(f"its {what} hold a number ({largest:.3g}) that no training makes")


def _other_fields(data: dict) -> None:
    _number(data["step"], "step", 0, MAX_STEPS, whole=True)
    if "seed" in data:
        # older files may hold a negative seed (the command line once took them): torch does
        _number(data["seed"], "seed", -SEED_MAX - 1, SEED_MAX, whole=True)
    for key in ("bf16", "has_training_state"):
        if key in data and not isinstance(data[key], bool):
            raise _Damaged(f"{key} is {_show(data[key])}, not true or false")
    for key in ("created_by", "preset", "image_name"):
        if key in data and not (isinstance(data[key], str) and len(data[key]) <= MAX_TEXT):
            raise _Damaged(f"{key} is {_show(data[key])}, not a short text")
    for key in ("loss_history", "window_losses"):
        if key in data:
            for loss in _sequence(data[key], key, 0, MAX_STEPS):
                _number(loss, f"a value of {key}", 0.0, math.inf)


def _training_state(data: dict, shapes: dict[str, torch.Size]) -> None:
    """The live network, Adam's state and the RNG states of a resumable file."""
    missing = [key for key in ("model", "optimizer", "rng") if key not in data]
    if missing:
        raise _Refused(f"is incomplete: it lacks {', '.join(missing)}.")
    _weights(data["model"], shapes)
    _adam_state(data["optimizer"], list(shapes.values()))
    _rng_states(data["rng"])


def _adam_state(value: Any, shapes: list[torch.Size]) -> None:
    """`torch.optim.Adam.state_dict()` of the network: one parameter group with this program's
    settings, and per parameter a step count and two moment tensors of its shape, all finite."""
    optimizer = _table(value, "optimizer")
    groups = _sequence(optimizer.get("param_groups"), "optimizer.param_groups", 1, 1)
    _adam_settings(_table(groups[0], "optimizer.param_groups"), len(shapes))
    moments = []
    for index, state in _table(optimizer.get("state"), "optimizer.state").items():
        if not _is_whole(index) or not 0 <= index < len(shapes):
            raise _Damaged("its optimizer state does not fit its network")
        moments += _adam_moments(_table(state, "optimizer.state"), shapes[index])
    if not _all_finite(moments):
        raise _Damaged("its optimizer state holds numbers that are not finite")


def _adam_settings(group: dict, count: int) -> None:
    """The parameter group: parameters 0 … count − 1 and Adam's settings as this program makes
    them (the learning rate is set anew at every step)."""
    params = _sequence(group.get("params"), "optimizer.param_groups.params", 0, count + 1)
    if not all(_is_whole(p) for p in params) or list(params) != list(range(count)):
        raise _Damaged("its optimizer state does not fit its network")
    missing = [key for key in ADAM_REQUIRED if key not in group]
    if missing:
        raise _Damaged(f"its optimizer settings lack {', '.join(missing)}")
    defaults = _adam_defaults()
    for key, setting in group.items():
        if key in ("lr", "initial_lr"):
            _number(setting, f"optimizer.{key}", 0.0, 1.0)
        elif key != "params" and key in defaults and not _same(setting, defaults[key]):
            raise _Damaged(f"its optimizer setting {key} is {_show(setting)}")


def _adam_moments(state: dict, shape: torch.Size) -> list[torch.Tensor]:
    """One parameter's step count and moments (exp_avg, exp_avg_sq), which are returned."""
    step = state.get("step")
    step = float(step) if _is_tensor(step, WEIGHT_DTYPES) and step.numel() == 1 else step
    _number(step, "an optimizer step count", 0.0, MAX_STEPS)
    moments = []
    for key in ("exp_avg", "exp_avg_sq"):
        moment = state.get(key)
        if not _is_tensor(moment, WEIGHT_DTYPES) or moment.shape != shape:
            raise _Damaged("its optimizer state does not fit its network")
        moments.append(moment)
    if bool((moments[1] < 0).any()):  # Adam divides by its square root
        raise _Damaged("its optimizer state holds negative squared gradients")
    return moments


@lru_cache(maxsize=1)
def _adam_defaults() -> dict[str, Any]:
    """The settings of the Adam this program makes (`core.training.trainer.Trainer`)."""
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    return optimizer.state_dict()["param_groups"][0]


def _rng_states(value: Any) -> None:
    """Each state must be one the generator of its device type accepts (checked on a scratch
    CPU generator; another device's state only by its type, as this machine may lack it)."""
    rng = _table(value, "rng")
    device = rng.get("noise_device")
    if not isinstance(device, str) or not 0 < len(device) <= 16:
        raise _Damaged(f"its random-number state names the device {_show(device)}")
    for key, device_type in (("index", "cpu"), ("noise", device)):
        state = rng.get(key)
        if not _is_tensor(state, (torch.uint8,)) or state.dim() != 1:
            raise _Damaged("its saved random-number state is not valid")
        if device_type == "cpu":
            try:
                torch.Generator().set_state(state)
            except (RuntimeError, TypeError, ValueError):
                raise _Damaged("its saved random-number state is not valid") from None


# ------------------------------------------------------------------------------ small checks


def _table(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Damaged(f"{where} is {_show(value)}, not a table of values")
    return value


def _sequence(value: Any, where: str, shortest: int, longest: int) -> list | tuple:
    if not isinstance(value, list | tuple):
        raise _Damaged(f"{where} is {_show(value)}, not a list")
    if not shortest <= len(value) <= longest:
        wanted = f"{shortest}" if shortest == longest else f"{shortest} to {longest:,}"
        entries = "entry" if len(value) == 1 else "entries"
        raise _Damaged(f"{where} has {len(value):,} {entries} instead of {wanted}")
    return value


def _number(value: Any, where: str, low: float, high: float, whole: bool = False) -> int | float:
    """`value` if it is a finite number (a whole one if `whole`) from `low` to `high`."""
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _Damaged(f"{where} is {_show(value)}, not a {'whole ' if whole else ''}number")
    if not whole and isinstance(value, int):
        try:
            value = float(value)
        except OverflowError:  # an int beyond any float
            raise _Damaged(f"{where} is a huge number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _Damaged(f"{where} is {value}, not a finite number")
    if not low <= value <= high:
        span = f"{low:,} to {high:,}" if whole else f"{low:g} to {high:g}"
        raise _Damaged(f"{where} is {_show(value)}, outside {span}")
    return value


def _is_whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_tensor(value: Any, dtypes: tuple[torch.dtype, ...]) -> TypeGuard[torch.Tensor]:
    """A dense CPU tensor of one of `dtypes` (torch.load maps every tensor to the CPU)."""
    return (
        isinstance(value, torch.Tensor)
        and value.dtype in dtypes
        and value.layout == torch.strided
        and value.device.type == "cpu"
    )


def _largest_magnitude(tensors: list[torch.Tensor]) -> float:
    if not tensors:
        return 0.0
    return float(torch.stack([t.detach().float().abs().max() for t in tensors if t.numel()]).max())


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def _same(value: Any, expected: Any) -> bool:
    """`value == expected` for plain values (numbers, text, None, tuples of them), without
    letting a tensor's elementwise `==` decide."""
    plain = (type(None), bool, int, float, str)
    if isinstance(expected, tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(expected)
            and all(_same(v, e) for v, e in zip(value, expected, strict=True))
        )
    return isinstance(value, plain) and value == expected


def _show(value: Any) -> str:
    """A short description of a value for a message (never a huge text)."""
    if isinstance(value, torch.Tensor):
        return "a tensor"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if _is_whole(value):  # with thousands separators; never a 5,000-digit text
        return f"{value:,}" if abs(value) < 10**15 else "a huge number"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"
