"""Reading any image Pillow understands as 8-bit RGB, and writing PNGs atomically."""

from __future__ import annotations

import os
import tempfile
import warnings
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
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"No file at {path}.")
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not an image file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixel_count(path, im.size)
                im.seek(0)
                im.load()
                return to_rgb(ImageOps.exif_transpose(im))
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


def load_mask(path: str | os.PathLike) -> Image.Image:
    """Open a mask image as is (keeping its alpha channel), upright; errors as `load_image`."""
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"No file at {path}.")
    try:
        with Image.open(path) as im:
            _check_pixel_count(path, im.size)
            im.load()
            return ImageOps.exif_transpose(im)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path.name} is not an image file that can be read.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path.name} could not be read; it may be damaged ({exc}).") from exc


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


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call `write(tmp_path)` to produce the file, then rename it over `path` in one step.

    A failure (disk full, no permission) leaves any existing file at `path` untouched and raises
    `CheckpointWriteError`.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CheckpointWriteError(f"Cannot write {path}: the folder {directory} does not exist.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp_name)
        with open(tmp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp creates files private (0600)
        os.replace(tmp_name, path)
    except OSError as exc:
        raise CheckpointWriteError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_png(
    image: np.ndarray, path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write an H×W×3 uint8 array as a PNG, atomically, with optional text chunks."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 array, got {image.dtype} {image.shape}")
    pil = Image.fromarray(image, mode="RGB")
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_itxt(key, str(value))
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG", pnginfo=info))


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG (empty for other files)."""
    try:
        with Image.open(path) as im:
            return {k: str(v) for k, v in getattr(im, "text", {}).items()}
    except (OSError, UnidentifiedImageError):
        return {}
