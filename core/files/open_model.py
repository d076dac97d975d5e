"""Open what the user gave as a model: a trained `.sinddm` file, or a photo, which means Instant.

Every front end that takes a model (each `sinddm` command, the app) goes through
`open_diffusion_model` and `describe_source`, so a photo works wherever a model does, with the
same seeds, outputs and errors (docs/method.md §9).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image

from core.config import ModelConfig
from core.denoisers.instant import InstantModel, InstantSettings
from core.denoisers.protocol import DiffusionModel
from core.errors import ImageLoadError
from core.files.model_file import load_model, model_info
from core.imageio import load_image
from core.method.pyramid import ORIGINAL_MAX_PIXELS, build_pyramid, capped_size
from core.method.schedule import schedule_for

ZIP_MAGIC = b"PK\x03\x04"
"""Model files are torch.save archives (zip); anything else is tried as an image."""


def is_model_file(path: str | os.PathLike) -> bool:
    """True for a file that starts like a model archive (whatever its suffix)."""
    try:
        with open(path, "rb") as file:
            return file.read(4) == ZIP_MAGIC
    except OSError:
        return Path(path).suffix.lower() == ".sinddm"


def open_diffusion_model(
    path: str | os.PathLike,
    device: torch.device | str = "cpu",
    settings: InstantSettings | None = None,
    config: ModelConfig | None = None,
) -> DiffusionModel:
    """A trained model from a `.sinddm` file, or Instant built from a photo (shrunk to the
    pixel cap of `config`, 50,000 by default, as training would). Raises the loaders' plain
    errors (CheckpointFormatError, ImageLoadError, …)."""
    if is_model_file(path):
        return load_model(path, device)
    return InstantModel.from_image(_load_photo(path), config, settings, device)


def describe_source(path: str | os.PathLike, config: ModelConfig | None = None) -> dict:
    """JSON-ready facts (as `core.files.model_file.model_info`) about a model file, or about the
    Instant model a photo would give: its pyramid and start steps, no parameters, no steps."""
    if is_model_file(path):
        info = model_info(path)
        return {"kind": "refined" if info["config"]["refine"] > 0 else "trained", **info}
    config = config or ModelConfig()
    image = _load_photo(path)
    pyramid = build_pyramid(image, config.max_pixels, config.scale_factor)
    schedule = schedule_for(pyramid, config)
    settings = InstantSettings()
    return {
        "kind": "instant",
        "file": str(path),
        "parameters": 0,
        "sizes": [[int(w), int(h)] for w, h in pyramid.sizes],
        "source_size": [int(v) for v in pyramid.source_size],
        "photo_size": [int(v) for v in capped_size(*image.size, ORIGINAL_MAX_PIXELS)],
        "scale_factor": float(pyramid.scale_factor),
        "rescale_losses": [float(v) for v in pyramid.rescale_losses],
        "start_steps": [int(v) for v in schedule.start_steps],
        "patch_sizes": [settings.patch_size(s) for s in range(pyramid.num_scales)],
        "steps_trained": 0,
        "config": config.to_dict(),
    }


def _load_photo(path: str | os.PathLike) -> Image.Image:
    """The photo, or an error that names both things the file could have been."""
    try:
        return load_image(path)
    except ImageLoadError as exc:
        if "not an image file" in str(exc) and Path(path).is_file():
            name = Path(path).name
            raise ImageLoadError(
                f"{name} is neither a SinDDM Studio model nor an image that can be read."
            ) from exc
        raise
