"""Generated images kept with their model: PNGs with metadata in a folder beside the model file.

For `photo.sinddm` the results live in `photo.sinddm.results/`, one PNG per image, each with its
seed, size, model and settings in PNG text chunks so that it can be recreated.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core.imageio import read_png_metadata, save_png

METADATA_KEY = "sinddm"


@dataclass
class Result:
    image: np.ndarray = field(repr=False)
    seed: int
    size: tuple[int, int]
    settings: dict
    path: Path | None = None

    def metadata(self) -> dict[str, str]:
        record = {"seed": self.seed, "size": list(self.size), **self.settings}
        return {
            METADATA_KEY: json.dumps(record),
            "Software": "SinDDM Studio",
            "Description": f"SinDDM sample, seed {self.seed}, {self.size[0]}×{self.size[1]}",
        }


BUNDLED_DIR = Path(__file__).resolve().parent.parent / "resources"


def results_folder(model_path: str | os.PathLike, fallback_dir: Path | None = None) -> Path:
    """`<model>.results` beside the model, or in `fallback_dir` when the model's folder is the
    bundled resources (or otherwise not writable): results never go into the installation."""
    model_path = Path(model_path)
    folder = Path(f"{model_path}.results")
    parent = model_path.parent.resolve()
    if fallback_dir is not None and (parent == BUNDLED_DIR or not os.access(parent, os.W_OK)):
        return Path(fallback_dir) / folder.name
    return folder


def store(result: Result, folder: Path, index: int) -> Path:
    """Write `result` into `folder` (created if needed) and remember where."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{index:04d}_seed{result.seed}.png"
    save_png(result.image, path, result.metadata())
    result.path = path
    return path


def load_all(folder: Path) -> list[Result]:
    """Every result stored in `folder`, oldest first; unreadable files are skipped."""
    if not folder.is_dir():
        return []
    results = []
    for path in sorted(folder.glob("*.png")):
        record = _record(path)
        if record is None:
            continue
        with Image.open(path) as im:
            image = np.asarray(im.convert("RGB")).copy()
        settings = {k: v for k, v in record.items() if k not in ("seed", "size")}
        size = tuple(record.get("size", image.shape[1::-1]))
        results.append(Result(image, int(record.get("seed", 0)), size, settings, path))
    return results


def _record(path: Path) -> dict | None:
    try:
        return json.loads(read_png_metadata(path).get(METADATA_KEY, ""))
    except (json.JSONDecodeError, TypeError):
        return None


def next_index(folder: Path) -> int:
    indices = [int(p.name[:4]) for p in folder.glob("*.png") if p.name[:4].isdigit()]
    return max(indices, default=-1) + 1


def remove(result: Result) -> None:
    if result.path is not None and result.path.exists():
        result.path.unlink()


def copy_folder(source: Path, target: Path) -> None:
    """Carry results along when a model is saved under a new name."""
    if source.is_dir() and source.resolve() != target.resolve():
        shutil.copytree(source, target, dirs_exist_ok=True)


def export(result: Result, path: str | os.PathLike) -> None:
    save_png(result.image, path, result.metadata())
