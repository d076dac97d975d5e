import errno
import io
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import imageio
from core.errors import CheckpointWriteError, ImageLoadError, ImageTooLargeError
from core.imageio import ensure_writable, load_image, load_mask, save_png


def _save(tmp_path, image: Image.Image, name: str, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_load_image_rgba_composites_transparency_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 3), (10, 20, 30, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    loaded = load_image(_save(tmp_path, rgba, "a.png"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((1, 1)) == (10, 20, 30)


def test_load_image_greyscale_and_palette_become_rgb(tmp_path):
    grey = Image.new("L", (5, 5), 77)
    assert load_image(_save(tmp_path, grey, "g.png")).getpixel((2, 2)) == (77, 77, 77)
    palette = Image.new("RGB", (5, 5), (200, 10, 10)).convert("P")
    assert load_image(_save(tmp_path, palette, "p.gif")).getpixel((0, 0))[0] > 150


def test_load_image_scales_16_bit_range(tmp_path):
    values = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    path = _save(tmp_path, Image.fromarray(values), "deep.png")
    loaded = np.asarray(load_image(path))
    assert loaded[0, 0, 0] == 0 and loaded[0, 1, 0] == 255
    assert 126 <= loaded[1, 0, 0] <= 129


def test_load_image_applies_exif_orientation(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_load_image_rejects_non_images_with_plain_errors(tmp_path):
    with pytest.raises(ImageLoadError, match="No file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image(text)


def test_load_image_rejects_truncated_file(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:60])
    with pytest.raises(ImageLoadError):
        load_image(path)


def test_load_image_refuses_absurd_sizes(tmp_path, monkeypatch):
    path = _save(tmp_path, Image.new("RGB", (100, 100)), "big.png")
    monkeypatch.setattr(imageio, "MAX_SOURCE_PIXELS", 5000)
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        load_image(path)


def test_save_png_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_png(np.zeros((4, 5, 3), np.uint8), path)
    before = path.read_bytes()

    def failing_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as handle:
            handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(CheckpointWriteError, match="No space left"):
        save_png(np.ones((4, 5, 3), np.uint8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_save_png_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointWriteError, match="does not exist"):
        save_png(np.zeros((2, 2, 3), np.uint8), tmp_path / "nope" / "x.png")


# ------------------------------------------------------------- masks: bombs and folders


def _png_header_only(path, width: int, height: int) -> None:
    """A few hundred bytes whose PNG header claims `width`×`height` 8-bit grey pixels: a
    decompression bomb as far as any reader that trusts the header can tell."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + width))  # one row of the claimed many
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("loader", [load_image, load_mask])
def test_loaders_refuse_a_header_that_claims_a_huge_image(tmp_path, loader):
    path = tmp_path / "bomb.png"
    _png_header_only(path, 20_000, 20_000)
    with pytest.raises(ImageTooLargeError, match="too large"):
        loader(path)


@pytest.mark.parametrize("loader", [load_image, load_mask])
@pytest.mark.parametrize("side", [40, 100])  # Pillow warns between its limit and 2×, then raises
def test_loaders_refuse_images_over_pillows_bomb_limit(tmp_path, monkeypatch, loader, side):
    path = _save(tmp_path, Image.new("L", (side, side)), "mask.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageTooLargeError, match="too large to open safely"):
        loader(path)


def test_load_mask_names_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_mask(tmp_path)
    with pytest.raises(ImageLoadError, match="No file at"):
        load_mask(tmp_path / "missing.png")


def test_load_mask_keeps_alpha(tmp_path):
    path = _save(tmp_path, Image.new("RGBA", (6, 4), (255, 255, 255, 0)), "m.png")
    assert load_mask(path).mode == "RGBA"


# ----------------------------------------------------------- writing: plain failures


def _no_visible_chain(exc: BaseException) -> bool:
    return exc.__cause__ is None and exc.__suppress_context__


def test_atomic_write_when_the_temporary_file_cannot_be_created(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointWriteError, match="no permission to write") as caught:
        imageio.atomic_write(tmp_path / "r.json", lambda tmp: Path(tmp).write_text("{}"))
    assert _no_visible_chain(caught.value)


def _torch_like_failure(tmp):
    """What torch.save raises on a full disk: a RuntimeError about stream positions, chained
    to another RuntimeError, after part of the file was written."""
    Path(tmp).write_bytes(b"partial")
    try:
        raise RuntimeError("basic_ios::clear: iostream error")
    except RuntimeError as exc:
        raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 9") from exc


@pytest.mark.parametrize(("free", "message"), [(0, "disk is full"), (10**12, "write failed")])
def test_atomic_write_turns_runtime_errors_into_one_sentence(tmp_path, monkeypatch, free, message):
    path = tmp_path / "m.sinddm"
    path.write_bytes(b"the last good save")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=free))
    with pytest.raises(CheckpointWriteError, match=message) as caught:
        imageio.atomic_write(path, _torch_like_failure)
    assert _no_visible_chain(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == b"the last good save"
    assert [p.name for p in tmp_path.iterdir()] == ["m.sinddm"]


def test_atomic_write_says_the_disk_is_full_when_the_error_says_so(tmp_path):
    def failing(tmp):
        raise RuntimeError("write failed: No space left on device")

    with pytest.raises(CheckpointWriteError, match="the disk is full"):
        imageio.atomic_write(tmp_path / "m.sinddm", failing)
    assert not list(tmp_path.iterdir())


def test_ensure_writable_probes_and_leaves_nothing(tmp_path):
    ensure_writable(tmp_path / "m.sinddm", "model")
    assert not list(tmp_path.iterdir())


def test_ensure_writable_names_the_problem(tmp_path, monkeypatch):
    with pytest.raises(CheckpointWriteError, match="is a folder"):
        ensure_writable(tmp_path, "image")
    with pytest.raises(CheckpointWriteError, match=r"folder .*nope does not exist"):
        ensure_writable(tmp_path / "nope" / "x.png", "image")
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointWriteError, match="is a file, not a folder"):
        ensure_writable(tmp_path / "file" / "x.png", "image")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(CheckpointWriteError, match=r"Cannot write the report .*read-only disk"):
        ensure_writable(tmp_path / "r.json", "report")


def test_ensure_writable_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("chmod does not stop this user (root) from writing")
        with pytest.raises(CheckpointWriteError, match="no permission to write in the folder"):
            ensure_writable(folder / "x.png", "image")
    finally:
        folder.chmod(0o755)
