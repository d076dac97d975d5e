"""The `.sinddm` model file: one self-describing, atomically written torch file (docs/method.md §4).

It holds only tensors and primitives, so it loads with `torch.load(weights_only=True)`: the
format tag and version, both configs, the pyramid (sharp and blurry uint8 images of every scale,
sizes, factor, rescale losses), the start steps, model and EMA weights, Adam's state, the step
count, the loss history and the RNG states. Sampling needs nothing else, and resuming continues
exactly where training stopped. A "sampling-only" file (`include_training_state=False`) keeps
just the EMA weights, optionally in float16, for shipping small demo models.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import __version__
from core.bundle import SinDDMModel, schedule_for
from core.config import ModelConfig, TrainConfig
from core.errors import CheckpointFormatError
from core.imageio import atomic_write
from core.model import SinDDMNet
from core.pyramid import Pyramid
from core.training import Trainer, TrainingState

FORMAT_TAG = "sinddm-studio-model"
FORMAT_VERSION = 1
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
) -> None:
    """Write the trainer to `path` atomically (temp file + rename); raises CheckpointWriteError."""
    data = trainer_to_dict(trainer, include_training_state, half, extra)
    atomic_write(path, lambda tmp: torch.save(data, tmp))


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and validate a `.sinddm` file's dictionary (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointFormatError(f"No model file at {path}.")
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
    ) as exc:
        raise CheckpointFormatError(
            f"{path.name} is not a SinDDM Studio model, or the file is damaged."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT_TAG:
        raise CheckpointFormatError(
            f"{path.name} is not a SinDDM Studio model (it may be a checkpoint of another program)."
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointFormatError(
            f"{path.name} was written by a newer SinDDM Studio (format {version}); please update."
        )
    missing = [key for key in ("model_config", "pyramid", "ema", "step") if key not in data]
    if missing:
        raise CheckpointFormatError(f"{path.name} is incomplete: it lacks {', '.join(missing)}.")
    return data


def model_info(path: str | os.PathLike) -> dict:
    """What a model file holds, as JSON-ready primitives (`sinddm info` prints it): sizes (W, H)
    coarsest first, start steps, parameter count, steps trained, both configs, last loss."""
    data = read_checkpoint(path)
    config = ModelConfig.from_dict(data["model_config"])
    pyramid = data["pyramid"]
    return {
        "file": str(path),
        "format_version": data["format_version"],
        "created_by": data.get("created_by"),
        "parameters": sum(int(v.numel()) for v in data["ema"].values()),
        "sizes": [[int(w), int(h)] for w, h in pyramid["sizes"]],
        "source_size": [int(v) for v in pyramid["source_size"]],
        "scale_factor": float(pyramid["scale_factor"]),
        "rescale_losses": [float(v) for v in pyramid["rescale_losses"]],
        "start_steps": [int(v) for v in data["start_steps"]],
        "steps_trained": int(data["step"]),
        "has_training_state": bool(data.get("has_training_state", False)),
        "config": config.to_dict(),
        "train_config": data.get("train_config", {}),
        "last_loss": data["loss_history"][-1] if data.get("loss_history") else None,
    }


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> SinDDMModel:
    """Load a model file for sampling: the EMA network on `device`, in eval mode."""
    return model_from_data(read_checkpoint(path), Path(path).name, device)


def model_from_data(data: dict, name: str, device: torch.device | str = "cpu") -> SinDDMModel:
    """The sampling model of a file already read by `read_checkpoint` (`name` for messages),
    so that a caller that also needs the file's other fields reads it once."""
    config, pyramid = _config_and_pyramid(data, name)
    net = _network(config, data["ema"], name).to(device).eval().requires_grad_(False)
    return SinDDMModel(net, pyramid, schedule_for(pyramid, config), config, int(data["step"]))


def load_trainer(
    path: str | os.PathLike, device: torch.device | str = "cpu", steps: int | None = None
) -> Trainer:
    """Rebuild a Trainer from a full checkpoint so that training continues exactly.

    `steps` replaces the total step count (e.g. to train longer). Exact continuation of the noise
    stream needs the same device type; on another device the noise RNG is reseeded.
    """
    path = Path(path)
    data = read_checkpoint(path)
    if not data.get("has_training_state", False):
        raise CheckpointFormatError(
            f"{path.name} is a sampling-only model; it cannot be trained further."
        )
    config, pyramid = _config_and_pyramid(data, path.name)
    train_config = TrainConfig.from_dict(data.get("train_config", {}))
    if steps is not None:
        train_config = TrainConfig.from_dict({**train_config.to_dict(), "steps": steps})
    seed, bf16 = int(data.get("seed", 0)), bool(data.get("bf16", False))
    trainer = Trainer(pyramid, config, train_config, device, seed, bf16)
    try:
        trainer.net.load_state_dict(data["model"])
        trainer.ema.load_state_dict(data["ema"])
        trainer.optimizer.load_state_dict(data["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointFormatError(f"{path.name} has weights that do not fit its config.") from exc
    trainer.state = TrainingState(
        step=int(data["step"]),
        loss_history=[float(v) for v in data.get("loss_history", [])],
        window_losses=[float(v) for v in data.get("window_losses", [])],
    )
    _restore_rng(trainer, data.get("rng", {}))
    return trainer


def _restore_rng(trainer: Trainer, rng: dict) -> None:
    if "index" in rng:
        trainer.index_rng.set_state(rng["index"])
    if rng.get("noise_device") == trainer.noise_rng.device.type and "noise" in rng:
        trainer.noise_rng.set_state(rng["noise"])
    else:
        trainer.noise_rng.manual_seed(trainer.seed + 1 + trainer.state.step)


def _config_and_pyramid(data: dict, name: str) -> tuple[ModelConfig, Pyramid]:
    try:
        config = ModelConfig.from_dict(data["model_config"])
        pyramid = _pyramid_from_dict(data["pyramid"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointFormatError(f"{name} has a damaged description of its model.") from exc
    return config, pyramid


def _network(config: ModelConfig, weights: dict, name: str) -> SinDDMNet:
    net = SinDDMNet(config.dim)
    try:
        net.load_state_dict({k: v.float() for k, v in weights.items()})
    except (RuntimeError, AttributeError) as exc:
        raise CheckpointFormatError(f"{name} has weights that do not fit its config.") from exc
    return net


def _pyramid_to_dict(pyramid: Pyramid) -> dict:
    return {
        "sharp": [torch.from_numpy(img.copy()) for img in pyramid.sharp],
        "blurry": [torch.from_numpy(img.copy()) for img in pyramid.blurry],
        "sizes": [list(size) for size in pyramid.sizes],
        "scale_factor": pyramid.scale_factor,
        "rescale_losses": list(pyramid.rescale_losses),
        "source_size": list(pyramid.source_size),
    }


def _pyramid_from_dict(data: dict) -> Pyramid:
    sharp = tuple(np.ascontiguousarray(t.numpy()).astype(np.uint8) for t in data["sharp"])
    blurry = tuple(np.ascontiguousarray(t.numpy()).astype(np.uint8) for t in data["blurry"])
    sizes = tuple((int(w), int(h)) for w, h in data["sizes"])
    if not (len(sharp) == len(blurry) == len(sizes) >= 1):
        raise ValueError("pyramid lists differ in length")
    for img, (w, h) in zip(sharp, sizes, strict=True):
        if img.shape != (h, w, 3):
            raise ValueError("pyramid image does not match its size")
    return Pyramid(
        sharp=sharp,
        blurry=blurry,
        sizes=sizes,
        scale_factor=float(data["scale_factor"]),
        rescale_losses=tuple(float(v) for v in data["rescale_losses"]),
        source_size=tuple(int(v) for v in data["source_size"]),
    )


def _to_cpu(value: Any) -> Any:
    """Recursively move tensors in an optimizer state dict to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value
