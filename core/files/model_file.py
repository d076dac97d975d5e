"""The `.sinddm` model file: one self-describing, atomically written torch file (docs/method.md §4).

It holds only tensors and primitives, so it loads with `torch.load(weights_only=True)`: the
format tag and version, both configs, the pyramid (sharp and blurry uint8 images of every scale,
sizes, factor, rescale losses), the start steps, model and EMA weights, Adam's state, the step
count, the loss history and the RNG states. Sampling needs nothing else, and resuming continues
exactly where training stopped. A "sampling-only" file (`include_training_state=False`) keeps
just the EMA weights, optionally in float16, for shipping small demo models.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core import __version__
from core.config import ModelConfig, TrainConfig, uses_instant
from core.denoisers.instant import InstantSettings
from core.denoisers.network import SinDDMNet
from core.denoisers.refined import RefinedModel, sampling_model
from core.denoisers.trained import SinDDMModel
from core.errors import CheckpointFormatError
from core.files.model_file_checks import (
    FORMAT_TAG,
    FORMAT_VERSION,
    CheckedModel,
    check_model_data,
    check_model_header,
)
from core.imageio import atomic_write, missing_file
from core.method.pyramid import Pyramid, original_pixels
from core.method.schedule import schedule_for
from core.training.trainer import Trainer, TrainingState

FILE_SUFFIX = ".sinddm"


def trainer_to_dict(
    trainer: Trainer,
    include_training_state: bool = True,
    half: bool = False,
    extra: dict[str, str | int | float] | None = None,
) -> dict:
    """The checkpoint contents for a trainer. `half` stores the EMA weights as float16; `extra`
    adds primitive fields (e.g. the GUI's preset name) that loaders may ignore."""
    ema = {k: v.detach().cpu() for k, v in trainer.ema.state_dict().items()}
    if half:
        ema = {k: v.half() for k, v in ema.items()}
    data: dict[str, Any] = {
        **(extra or {}),
        "format": FORMAT_TAG,
        "format_version": FORMAT_VERSION,
        "created_by": f"sinddm-studio {__version__}",
        "model_config": trainer.model_config.to_dict(),
        "train_config": trainer.train_config.to_dict(),
        "pyramid": _pyramid_to_dict(trainer.pyramid),
        "start_steps": list(trainer.schedule.start_steps),
        "ema": ema,
        "step": trainer.state.step,
        "loss_history": list(trainer.state.loss_history),
        "seed": trainer.seed,
        "bf16": trainer.bf16_requested,
        "has_training_state": include_training_state,
    }
    if trainer.uses_instant:
        data["instant_settings"] = trainer.instant_settings.to_dict()
    if include_training_state:
        data.update(
            model={k: v.detach().cpu() for k, v in trainer.net.state_dict().items()},
            optimizer=_to_cpu(trainer.optimizer.state_dict()),
            window_losses=list(trainer.state.window_losses),
            rng={
                "index": trainer.index_rng.get_state(),
                "noise": trainer.noise_rng.get_state(),
                "noise_device": trainer.noise_rng.device.type,
            },
        )
    return data


def save_trainer(
    trainer: Trainer,
    path: str | os.PathLike,
    include_training_state: bool = True,
    half: bool = False,
    extra: dict[str, str | int | float] | None = None,
    replace: bool = True,
) -> None:
    """Write the trainer to `path` atomically (temp file + rename); raises CheckpointWriteError
    (FileAppearedError when `replace` is False and a file appeared at `path` meanwhile)."""
    data = trainer_to_dict(trainer, include_training_state, half, extra)
    atomic_write(path, lambda tmp: torch.save(data, tmp), replace)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a `.sinddm` file's dictionary (on the CPU) and check that it is one of ours
    (`check_model_header`); raises CheckpointFormatError with one plain sentence. Every field is
    checked once, by the `*_from_data` function that uses the dictionary."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointFormatError(f"{path} is a folder, not a model file.")
    if not path.is_file():
        raise CheckpointFormatError(missing_file(path, "model file"))
    _check_crc(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # foreign pickles warn before they fail
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        AttributeError,
        KeyError,
        TypeError,
        IndexError,
        OverflowError,
    ) as exc:
        raise CheckpointFormatError(
            f"{path.name} is not a SinDDM Studio model, or the file is damaged."
        ) from exc
    check_model_header(data, path.name)
    return data


def _check_crc(path: Path) -> None:
    """A model file is a zip archive whose entries carry CRC-32 checksums, which torch.load
    does not verify: one flipped byte in the weights would load (and --resume would save it
    for good). Reading every entry once checks them (about 8 ms for an 8 MB file)."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        return  # not a zip at all: torch.load's own error below names it
    if broken is not None:
        raise CheckpointFormatError(
            f"{path.name} is damaged: part of it ({Path(broken).name}) fails its checksum."
        )


def model_info(path: str | os.PathLike) -> dict:
    """What a model file holds, as JSON-ready primitives (`sinddm info` prints it): sizes (W, H)
    coarsest first, start steps, parameter count, steps trained, both configs, last loss."""
    return info_from_data(read_checkpoint(path), str(path))


def info_from_data(data: dict, file: str) -> dict:
    """`model_info` of a file's dictionary; `file` is what the "file" entry says."""
    checked = check_model_data(data, Path(file).name)
    pyramid = checked.pyramid
    history = data.get("loss_history", [])
    return {
        "file": file,
        "format_version": data["format_version"],
        "created_by": data.get("created_by"),
        "parameters": sum(int(v.numel()) for v in data["ema"].values()),
        "sizes": [[w, h] for w, h in pyramid.sizes],
        "source_size": list(pyramid.source_size),
        "photo_size": _photo_size(pyramid),
        "scale_factor": pyramid.scale_factor,
        "rescale_losses": list(pyramid.rescale_losses),
        "start_steps": list(data["start_steps"]),
        "steps_trained": data["step"],
        "has_training_state": data.get("has_training_state", False),
        "config": checked.config.to_dict(),
        "train_config": checked.train_config.to_dict() if "train_config" in data else {},
        "last_loss": float(history[-1]) if history else None,
        "instant_settings": _instant_settings_info(checked, data),
    }


def _instant_settings_info(checked: CheckedModel, data: dict) -> dict | None:
    """The Instant settings a refiner or distilled model samples or resumes with: the file's
    own, or (a file written before they were kept) today's defaults, marked as such. None for
    a model that never uses Instant."""
    if checked.instant_settings is not None:
        return {**checked.instant_settings.to_dict(), "kept_in_file": True}
    if not uses_instant(checked.config, checked.train_config):
        return None
    return {**InstantSettings().to_dict(), "kept_in_file": False}


def _photo_size(pyramid: Pyramid) -> list[int] | None:
    """(W, H) of the photo a file keeps for the detail scales (docs/method.md §12), or None."""
    if pyramid.original is None:
        return None
    height, width = pyramid.original.shape[:2]
    return [width, height]


def load_model(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> SinDDMModel | RefinedModel:
    """Load a model file for sampling: the EMA network on `device`, in eval mode (Instant
    refined by it when the file holds a refiner, docs/method.md §11)."""
    return model_from_data(read_checkpoint(path), Path(path).name, device)


def model_from_data(
    data: dict, name: str, device: torch.device | str = "cpu"
) -> SinDDMModel | RefinedModel:
    """The sampling model of a file's dictionary (`name` for messages), so that a caller that
    also needs the file's other fields reads it once. Checks the dictionary first (a few
    milliseconds), whoever read it."""
    checked = check_model_data(data, name)
    config, pyramid = checked.config, checked.pyramid
    net = _network(config, data["ema"], name).to(device).eval().requires_grad_(False)
    network = SinDDMModel(net, pyramid, schedule_for(pyramid, config), config, data["step"])
    return sampling_model(network, checked.instant_settings)


def load_trainer(
    path: str | os.PathLike, device: torch.device | str = "cpu", steps: int | None = None
) -> Trainer:
    """Rebuild a Trainer from a full checkpoint so that training continues exactly.

    `steps` replaces the total step count (e.g. to train longer). Exact continuation of the noise
    stream needs the same device type; on another device the noise RNG is reseeded.
    """
    path = Path(path)
    return trainer_from_data(read_checkpoint(path), path.name, device, steps)


def trainer_from_data(
    data: dict, name: str, device: torch.device | str = "cpu", steps: int | None = None
) -> Trainer:
    """`load_trainer` of a file's dictionary (`name` for messages)."""
    checked = check_model_data(data, name)
    if not data.get("has_training_state", False):
        raise CheckpointFormatError(
            f"{name} is a sampling-only model; it cannot be trained further."
        )
    train_config = checked.train_config
    if steps is not None:
        train_config = TrainConfig.from_dict({**train_config.to_dict(), "steps": steps})
    seed, bf16 = data.get("seed", 0), data.get("bf16", False)
    trainer = Trainer(
        checked.pyramid,
        checked.config,
        train_config,
        device,
        seed,
        bf16,
        checked.instant_settings,
    )
    try:
        trainer.net.load_state_dict(data["model"])
        trainer.ema.load_state_dict(data["ema"])
        trainer.optimizer.load_state_dict(data["optimizer"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise CheckpointFormatError(f"{name} has weights that do not fit its config.") from exc
    trainer.state = TrainingState(
        step=data["step"],
        loss_history=[float(v) for v in data.get("loss_history", [])],
        window_losses=[float(v) for v in data.get("window_losses", [])],
    )
    _restore_rng(trainer, data["rng"], name)
    return trainer


def _restore_rng(trainer: Trainer, rng: dict, name: str) -> None:
    """The RNG states of the file; the noise RNG is reseeded when the file's comes from another
    device type (its state would not fit this generator)."""
    try:
        trainer.index_rng.set_state(rng["index"])
        if rng["noise_device"] == trainer.noise_rng.device.type:
            trainer.noise_rng.set_state(rng["noise"])
        else:
            trainer.noise_rng.manual_seed(trainer.seed + 1 + trainer.state.step)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointFormatError(
            f"{name} is damaged: its saved random-number state is not valid."
        ) from exc


def _network(config: ModelConfig, weights: dict, name: str) -> SinDDMNet:
    net = SinDDMNet(config.dim)
    try:
        net.load_state_dict({k: v.float() for k, v in weights.items()})
    except (RuntimeError, AttributeError) as exc:
        raise CheckpointFormatError(f"{name} has weights that do not fit its config.") from exc
    return net


STORED_PHOTO_PIXELS = 4_000_000
"""A model file keeps its photo for the detail scales (docs/method.md §12) at up to this many
pixels (the default output cap), as PNG: about 2 bytes a pixel for a photo."""


def _pyramid_to_dict(pyramid: Pyramid) -> dict:
    photo = {} if pyramid.original is None else {"original_png": _photo_png(pyramid.original)}
    return {
        **photo,
        "sharp": [torch.from_numpy(img.copy()) for img in pyramid.sharp],
        "blurry": [torch.from_numpy(img.copy()) for img in pyramid.blurry],
        "sizes": [list(size) for size in pyramid.sizes],
        "scale_factor": pyramid.scale_factor,
        "rescale_losses": list(pyramid.rescale_losses),
        "source_size": list(pyramid.source_size),
    }


_encoded: list[tuple[np.ndarray, torch.Tensor]] = []
"""The last photo encoded and its PNG bytes: a training's autosaves reuse them."""


def _photo_png(original: np.ndarray) -> torch.Tensor:
    """The photo as a 1-D uint8 tensor of PNG bytes, encoded once per photo array (the pyramid
    keeps the same array for a whole training, which autosaves every minute)."""
    for photo, encoded in _encoded:
        if photo is original:
            return encoded
    image = Image.fromarray(original_pixels(Image.fromarray(original), STORED_PHOTO_PIXELS))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # photo-like: level 6 is no smaller
    encoded = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
    _encoded[:] = [(original, encoded)]
    return encoded


def _to_cpu(value: Any) -> Any:
    """Recursively move tensors in an optimizer state dict to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value
