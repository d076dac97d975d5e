"""`sinddm sample --tile/--mirror`, `heal` and `extend` (docs/method.md §13): what they write,
and the bad input each refuses in one line before writing anything."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from cli.main import main
from core.imageio import RECIPE_KEY, read_png_metadata


@pytest.fixture(scope="module")
def photo(tmp_path_factory, demo_image):
    """128×96: Instant's pyramid is the photo itself, so each command takes a few seconds."""
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    demo_image.resize((128, 96), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture(scope="module")
def mask(tmp_path_factory):
    path = tmp_path_factory.mktemp("mask") / "mask.png"
    pixels = np.zeros((96, 128), np.uint8)
    pixels[30:50, 40:70] = 255
    Image.fromarray(pixels).save(path)
    return path


def _recipe(path) -> dict:
    return json.loads(read_png_metadata(path)[RECIPE_KEY])


def _refused(capsys, arguments: list[str]) -> str:
    """Run `arguments`, expecting the one-line refusal; returns its line."""
    assert main(arguments) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_sample_tile_and_mirror_are_written_and_recorded(tmp_path, photo):
    out = tmp_path / "tile.png"
    assert main(["sample", str(photo), "-o", str(out), "--tile", "x", "--mirror", "y"]) == 0
    image = np.asarray(Image.open(out))
    assert np.array_equal(image, image[::-1])  # mirrored top to bottom
    recipe = _recipe(out)
    assert recipe["tile"] == "x" and recipe["mirror"] == "y"


def test_heal_keeps_the_photo_outside_the_mask(tmp_path, photo, mask):
    out = tmp_path / "healed.png"
    assert main(["heal", str(photo), "--mask", str(mask), "-o", str(out), "--seed", "3"]) == 0
    healed, original = np.asarray(Image.open(out)), np.asarray(Image.open(photo))
    outside = np.asarray(Image.open(mask)) == 0
    assert np.array_equal(healed[outside], original[outside])
    recipe = _recipe(out)
    assert recipe["edit"] == "heal" and recipe["mask"] == "mask.png" and recipe["seed"] == 3
    header, data = recipe["mask image"].split(",")  # the mask itself, to make it again
    assert header == "data:image/png;base64"
    recorded = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L")) > 0
    assert np.array_equal(recorded, ~outside)


def test_extend_keeps_the_photo_at_its_anchor(tmp_path, photo):
    out = tmp_path / "wide.png"
    assert (
        main(["extend", str(photo), "--size", "200x96", "--anchor", "right", "-o", str(out)]) == 0
    )
    extended = np.asarray(Image.open(out))
    assert extended.shape == (96, 200, 3)
    assert np.array_equal(extended[:, 72:], np.asarray(Image.open(photo)))
    assert _recipe(out)["anchor"] == "right"


def test_heal_works_on_a_model_file(tmp_path, model_file, tiny_image):
    mask = tmp_path / "mask.png"
    pixels = np.zeros((72, 96), np.uint8)  # the tiny model's photo is 96×72
    pixels[20:40, 30:60] = 255
    Image.fromarray(pixels).save(mask)
    out = tmp_path / "healed.png"
    assert main(["heal", str(model_file), "--mask", str(mask), "-o", str(out)]) == 0
    assert Image.open(out).size == (96, 72)


def test_tile_and_mirror_on_one_axis_are_refused_before_loading(capsys, tmp_path, photo):
    out = tmp_path / "x.png"
    line = _refused(capsys, ["sample", str(photo), "-o", str(out), "--tile", "x", "--mirror", "x"])
    assert "same axis" in line
    assert not out.exists()


def test_a_mask_of_another_size_is_refused(capsys, tmp_path, photo):
    mask = tmp_path / "small_mask.png"
    Image.new("L", (64, 48), 255).save(mask)
    out = tmp_path / "h.png"
    line = _refused(capsys, ["heal", str(photo), "--mask", str(mask), "-o", str(out)])
    assert "64×48 but the photo is" in line and "128×96" in line
    assert not out.exists()


@pytest.mark.parametrize(("fill", "words"), [(0, "empty"), (255, "whole photo")])
def test_empty_and_full_masks_are_refused(capsys, tmp_path, photo, fill, words):
    mask = tmp_path / "mask.png"
    Image.new("L", (128, 96), fill).save(mask)
    out = tmp_path / "h.png"
    assert words in _refused(capsys, ["heal", str(photo), "--mask", str(mask), "-o", str(out)])
    assert not out.exists()


def test_a_missing_mask_is_named(capsys, tmp_path, photo):
    line = _refused(
        capsys,
        ["heal", str(photo), "--mask", str(tmp_path / "no.png"), "-o", str(tmp_path / "h.png")],
    )
    assert "no.png" in line


def test_extend_refuses_a_canvas_smaller_than_the_photo(capsys, tmp_path, photo):
    out = tmp_path / "e.png"
    line = _refused(capsys, ["extend", str(photo), "--size", "100x200", "-o", str(out)])
    assert "smaller than the photo (128×96)" in line
    assert not out.exists()
