"""Reading any image Pillow understands as 8-bit RGB, and writing files atomically, with every
read or write failure turned into one plain sentence."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from core.errors import CheckpointWriteError, ImageLoadError, ImageTooLargeError

MAX_SOURCE_PIXELS = 200_000_000
"""Images above this many pixels are refused before decoding (about 600 MB as RGB)."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open `path` and return an 8-bit RGB image, upright according to its EXIF orientation.

    Handles RGBA / LA / palette transparency (composited on white), greyscale, 16-bit and float
    images, CMYK and the first frame of animations. Raises `ImageLoadError` or
    `ImageTooLargeError` with a plain-worded message.
    """
    with _opened(Path(path)) as im:
        im.seek(0)
        im.load()
        return to_rgb(ImageOps.exif_transpose(im))


def load_mask(path: str | os.PathLike) -> Image.Image:
    """Open a mask image as is (keeping its alpha channel), upright; errors as `load_image`."""
    with _opened(Path(path)) as im:
        im.load()
        return ImageOps.exif_transpose(im)


def missing_file(path: Path, what: str = "file") -> str:
    """Why nothing can be read at `path`, which does not exist: "No file at …", or that it is
    a symbolic link to nothing, or one of a loop of links."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python 3.11-3.12 raise this for a loop
            return f"{path} is a loop of symbolic links (it points back to itself)."
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{path} is a loop of symbolic links (it points back to itself)."
        return f"{path} is a symbolic link to a {what} that is not there."
    return f"No {what} at {path}."


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Pillow's lazily decoded image at `path`; the one place that turns a missing file, a
    folder, a decompression bomb or a damaged file into `ImageLoadError`/`ImageTooLargeError`
    (also for what the `with` body decodes)."""
    if not path.exists():
        raise ImageLoadError(missing_file(path))
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not an image file.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it: refuse those as well.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixel_count(path, im.size)
                yield im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"{path.name} is too large to open safely ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path.name} is not an image file that can be read.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path.name} could not be read; it may be damaged ({exc}).") from exc


def _check_pixel_count(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{path.name} has no pixels ({width}×{height}).")
    if width * height > MAX_SOURCE_PIXELS:
        raise ImageTooLargeError(
            f"{path.name} is {width}×{height} pixels, more than the "
            f"{MAX_SOURCE_PIXELS // 1_000_000} megapixels this tool opens. "
            "Downscale it first; SinDDM trains at about 50,000 pixels anyway."
        )


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparent areas become white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _high_depth_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit or 32-bit greyscale: scale the value range to 0..255 (Pillow's convert clips)."""
    values = np.asarray(im, dtype=np.float64)
    if im.mode == "F":
        top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
    else:
        top = 65535.0 if values.max(initial=0.0) > 255 else 255.0
    grey = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")


def ensure_writable(path: str | os.PathLike, kind: str) -> None:
    """Raise `CheckpointWriteError` unless a `kind` file ("model", "image", "report") can be
    written at `path`: its folder exists and accepts a new file, probed by creating and removing
    a temporary file there. Called before any work, so that a read-only folder fails at once
    rather than after hours of training or sampling."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointWriteError(f"{path} is a folder; give a file name for the {kind}.")
    directory = _folder_of(path)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
    except OSError as exc:
        raise CheckpointWriteError(
            f"Cannot write the {kind} {path}: {_write_problem(exc, directory)}."
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def atomic_write(
    path: str | os.PathLike, write: Callable[[str], object], replace: bool = True
) -> None:
    """Call `write(tmp_path)` to produce the file, then rename it over `path` in one step.

    A failure (disk full, no permission; an OSError, or the RuntimeError torch.save raises)
    leaves any existing file at `path` untouched, removes the temporary file and raises
    `CheckpointWriteError` with one plain sentence. With `replace` False a file that appeared
    at `path` meanwhile (another run writing the same name) is never replaced: the temporary
    file is published with a hard link, which fails when the name exists (`FileAppearedError`).
    """
    path = Path(path)
    directory = _folder_of(path)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
        write(tmp_name)
        with open(tmp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp creates files private (0600)
        if replace:
            os.replace(tmp_name, path)
        else:
            _publish_new(tmp_name, path)
    except FileExistsError:
        raise FileAppearedError(
            f"{path} already exists: another run wrote it while this one ran, and it was not "
            "replaced."
        ) from None
    except (OSError, RuntimeError) as exc:
        # `from None`: the message is the whole story (torch chains four unreadable errors).
        raise CheckpointWriteError(
            f"Could not write {path}: {_write_problem(exc, directory)}."
        ) from None
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


class FileAppearedError(CheckpointWriteError):
    """A file to be created appeared at its name while it was being written."""


def _publish_new(tmp_name: str, path: Path) -> None:
    """Give the written file `tmp_name` the name `path` only if no file has it: a hard link
    fails with FileExistsError where a rename would replace. Where the file system has no hard
    links, a last check and a rename (a window of microseconds instead of the whole run)."""
    try:
        os.link(tmp_name, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp_name, path)


def _folder_of(path: Path) -> Path:
    """The existing folder that will hold `path`; `CheckpointWriteError` when there is none."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.exists():
        raise CheckpointWriteError(f"Cannot write {path}: the folder {directory} does not exist.")
    if not directory.is_dir():
        raise CheckpointWriteError(f"Cannot write {path}: {directory} is a file, not a folder.")
    return directory


LOW_SPACE_BYTES = 1 << 20
"""A write that fails with less free space than this left is reported as a full disk."""


def _write_problem(exc: BaseException, directory: Path) -> str:
    """Why a write into `directory` failed, in plain words (the clause after "Could not write
    X:"). torch.save reports a full disk as a RuntimeError about stream positions, so a failed
    write with almost no space left is called a full disk as well."""
    number = getattr(exc, "errno", None)
    text = str(exc)
    if number in (errno.EACCES, errno.EPERM):
        return f"no permission to write in the folder {directory}"
    if number == errno.EROFS:
        return f"the folder {directory} is on a read-only disk"
    torch_full = not isinstance(exc, OSError) and _nearly_full(directory)
    if number == errno.ENOSPC or "No space left" in text or torch_full:
        return "the disk is full (No space left on device). Free some space and try again"
    if isinstance(exc, OSError):
        return exc.strerror or text
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"the write failed ({first_line[:120]})"


def _nearly_full(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < LOW_SPACE_BYTES
    except OSError:
        return False


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_png(
    image: np.ndarray,
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
    replace: bool = True,
) -> None:
    """Write an H×W×3 uint8 array as a PNG, atomically, with optional text chunks; with
    `replace` False never over a file that appeared meanwhile (`atomic_write`)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 array, got {image.dtype} {image.shape}")
    pil = Image.fromarray(image, mode="RGB")
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_itxt(key, str(value))
    # level 1: a third of the default's time on a 4-megapixel photo-like image, 0.5% larger
    atomic_write(
        path, lambda tmp: pil.save(tmp, format="PNG", pnginfo=info, compress_level=1), replace
    )


RECIPE_KEY = "sinddm"
"""The PNG text chunk that holds an image's recipe (JSON: seed, size and settings)."""


def recipe_metadata(seed: int, size: tuple[int, int], settings: dict) -> dict[str, str]:
    """The text chunks that record how an image was made, for `save_png`: the recipe as JSON
    under RECIPE_KEY, and a one-line description."""
    record = {"seed": seed, "size": list(size), **settings}
    return {
        RECIPE_KEY: json.dumps(record),
        "Software": "SinDDM Studio",
        "Description": f"SinDDM sample, seed {seed}, {size[0]}×{size[1]}",
    }


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG (empty for other files)."""
    try:
        with Image.open(path) as im:
            return {k: str(v) for k, v in getattr(im, "text", {}).items()}
    except (OSError, UnidentifiedImageError):
        return {}
