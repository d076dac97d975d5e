"""Bad image files for the app's loaders, made by code (no binary files checked in)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A PNG of a few dozen bytes whose header claims `width`×`height` 1-bit pixels
    (20,000² is 400 megapixels, past Pillow's decompression-bomb error; 10,000² only warns)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )
    return path


def truncated_png(path: Path) -> Path:
    """A real 64×48 PNG cut off half-way through its pixels."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def unreadable_files(folder: Path) -> dict[str, Path]:
    """Name → a file (or folder) no image loader can use."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "notes.png"
    text.write_text("not an image at all")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    a_folder = folder / "a-folder.png"
    a_folder.mkdir()
    return {
        "bomb": bomb_png(folder / "bomb.png"),
        "warning bomb": bomb_png(folder / "bomb-warning.png", 10_000, 10_000),
        "truncated": truncated_png(folder / "truncated.png"),
        "text": text,
        "zero bytes": empty,
        "folder": a_folder,
        "missing": folder / "gone.png",
    }
