"""Generated images kept with their model: PNGs with metadata in a folder beside the model file.

For `photo.sinddm` the results live in `photo.sinddm.results/`, one PNG per image, each with its
seed, size, model, engine ('trained' or 'instant') and settings in PNG text chunks so that it
can be recreated. Instant has no file of its own: its results go into the app's models folder,
under the photo's name (`instant_results_folder`).

Results are written and read in the worker thread: `storing`, `loading` and `copying` wrap a
job so that its events arrive with the files already written or read.

A result can be 4 megapixels (12 MB): each keeps a small thumbnail for the strip, and only the
KEEP_FULL most recently made or shown keep their full pixels in memory; the others read them
back from their PNG when asked (a tenth of a second).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from app.engine_api import Events, Job
from app.events import (
    ModelOpened,
    ModelSaved,
    ModelWithResults,
    ResultsSaved,
    ResultStored,
    TrainFinished,
)
from core.errors import CheckpointWriteError, ImageLoadError, SinDDMError
from core.imageio import (
    RECIPE_KEY,
    atomic_write,
    read_png_metadata,
    recipe_metadata,
    save_png,
)
from resources import RESOURCES_DIR

METADATA_KEY = RECIPE_KEY
THUMBNAIL_SIDE = 192
"""Longest side of a result's thumbnail (the strip shows 96 px, twice that on HiDPI)."""
KEEP_FULL = 4
"""Results whose full pixels stay in memory: the ones made or shown last."""


@dataclass(eq=False)
class Result:
    """A generated image: its recipe (seed, size, settings), where it is stored, a thumbnail,
    and its full pixels while it is among the KEEP_FULL most recent (`image` reads them back
    from `path` otherwise)."""

    seed: int
    size: tuple[int, int]
    settings: dict
    thumbnail: np.ndarray = field(repr=False)
    """At most THUMBNAIL_SIDE on its longest side, H×W×3 uint8."""
    path: Path | None = None
    pixels: np.ndarray | None = field(default=None, repr=False)
    """The full image when in memory (always while it has no file to be read back from)."""

    _recent: ClassVar[list[Result]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def made(cls, image: np.ndarray, seed: int, size: tuple[int, int], settings: dict) -> Result:
        """A result just generated: its pixels kept, as one of the most recent."""
        result = cls(seed, size, settings, thumbnail_of(image), pixels=image)
        result._touch()
        return result

    @property
    def image(self) -> np.ndarray:
        """The full image, H×W×3 uint8 (read back from its PNG when not in memory; raises
        ImageLoadError when that file is gone)."""
        pixels = self.pixels
        if pixels is None:
            pixels = _read_pixels(self.path)
            self.pixels = pixels
        self._touch()
        return pixels

    def metadata(self) -> dict[str, str]:
        return recipe_metadata(self.seed, self.size, self.settings)

    def _touch(self) -> None:
        """This one is among the most recent: older ones beyond KEEP_FULL let go of their
        pixels (those that have a file to read them back from)."""
        with Result._lock:
            recent = [r for r in Result._recent if r is not self] + [self]
            Result._recent, dropped = recent[-KEEP_FULL:], recent[:-KEEP_FULL]
        for result in dropped:
            if result.path is not None:
                result.pixels = None


def thumbnail_of(image: np.ndarray) -> np.ndarray:
    """`image` shrunk (area averaging) to at most THUMBNAIL_SIDE on its longest side."""
    picture = Image.fromarray(image)
    picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return np.asarray(picture, dtype=np.uint8)


def _read_pixels(path: Path | None) -> np.ndarray:
    if path is None:
        raise ImageLoadError("This image is no longer in memory and has no file.")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except OSError as exc:
        raise ImageLoadError(f"Could not read {path} back: {exc.strerror or exc}.") from exc


BUNDLED_DIR = RESOURCES_DIR


def results_folder(
    model_path: str | os.PathLike, fallback_dir: Path | None = None, kind: str = "trained"
) -> Path:
    """`<model>.results` beside the model, or in `fallback_dir` when the model's folder is the
    bundled resources (or otherwise not writable): results never go into the installation.
    For Instant (`kind` 'instant', `model_path` the photo) with a `fallback_dir`, see
    `instant_results_folder`."""
    if kind == "instant" and fallback_dir is not None:
        return instant_results_folder(model_path, fallback_dir)
    model_path = Path(model_path)
    folder = Path(f"{model_path}.results")
    parent = model_path.parent.resolve()
    if fallback_dir is not None and (parent == BUNDLED_DIR or not os.access(parent, os.W_OK)):
        return Path(fallback_dir) / folder.name
    return folder


def instant_results_folder(photo: str | os.PathLike, models_dir: Path) -> Path:
    """Where the results of Instant for `photo` are kept: `<stem>-<hash>.instant.results` in
    `models_dir` (beside the models trained from photos, which are named after the photo's stem
    too). A photo's own folder is not ours to write into; the short hash of its absolute path
    keeps two photos of the same name apart, so reopening a photo brings back its results."""
    path = Path(photo).absolute()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return Path(models_dir) / f"{path.stem}-{digest}.instant.results"


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
            full_size = im.size
            im.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
            thumbnail = np.asarray(im.convert("RGB"), dtype=np.uint8)
        settings = {k: v for k, v in record.items() if k not in ("seed", "size")}
        size = tuple(record.get("size", full_size))
        results.append(Result(int(record.get("seed", 0)), size, settings, thumbnail, path))
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


def export_name(result: Result) -> str:
    """The file name an exported result gets (or is offered): seed and size, e.g.
    `sinddm_seed7_192x72.png`."""
    return f"sinddm_seed{result.seed}_{result.size[0]}x{result.size[1]}.png"


def export(result: Result, path: str | os.PathLike) -> None:
    """Write `result` at full resolution with its recipe: a copy of its stored PNG (which has
    both; re-encoding 4 MP takes over a second), else encoded from its pixels."""
    stored = result.path
    if stored is not None and stored.is_file():
        atomic_write(path, lambda tmp: shutil.copyfile(stored, tmp))
    else:
        save_png(result.image, path, result.metadata())


# ----------------------------------------------------------------- in the worker thread


def _events(job: Job, stop: threading.Event) -> closing[Events]:
    """The job's events, closed when the wrapper is (so that training's `finally` saves)."""
    return closing(job(stop))


def storing(job: Job, folder: Path) -> Job:
    """`job` with each new Result (the engine yields them made: `Result.made`) written into
    `folder` and sent on as ResultStored (with the reason when it could not be written: the
    image is kept in memory all the same), and at the end ResultsSaved: how long the writing
    took."""

    def stored(stop: threading.Event) -> Events:
        seconds, pixels = 0.0, 0
        with _events(job, stop) as events:
            for event in events:
                if not isinstance(event, Result):
                    yield event
                    continue
                result, (height, width) = event, event.image.shape[:2]
                started = time.perf_counter()
                try:
                    store(result, folder, next_index(folder))
                except (SinDDMError, OSError) as exc:
                    yield ResultStored(result, str(exc))
                    continue
                seconds += time.perf_counter() - started
                pixels += width * height
                yield ResultStored(result)
        if pixels:
            yield ResultsSaved(seconds, pixels)

    return stored


def loading(job: Job, fallback_dir: Path) -> Job:
    """`job` with each model it opens or trains sent on as ModelWithResults, holding the
    results stored beside the model (see `results_folder` for `fallback_dir`)."""

    def loaded(stop: threading.Event) -> Events:
        with _events(job, stop) as events:
            for event in events:
                if isinstance(event, ModelOpened | TrainFinished):
                    model = event.model
                    folder = results_folder(model.path, fallback_dir, model.kind)
                    yield ModelWithResults(event, tuple(load_all(folder)))
                else:
                    yield event

    return loaded


def copying(job: Job, source: Path, target: Path) -> Job:
    """`job` (a save) with the results folder `source` copied to `target` once the model is
    saved; a failed copy is a CheckpointWriteError (the user's disk, not a bug)."""

    def copied(stop: threading.Event) -> Events:
        with _events(job, stop) as events:
            for event in events:
                if isinstance(event, ModelSaved):
                    try:
                        copy_folder(source, target)
                    except OSError as exc:
                        raise CheckpointWriteError(str(exc)) from exc
                yield event

    return copied
