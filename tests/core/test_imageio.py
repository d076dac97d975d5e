import io

import numpy as np
import pytest
from PIL import Image

from core import imageio
from core.errors import CheckpointWriteError, ImageLoadError, ImageTooLargeError
from core.imageio import load_image, save_png


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
