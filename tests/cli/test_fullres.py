"""The command line at the photo's own resolution (docs/method.md §12): --max-pixels, the
recipe, `info` and `eval`."""

import argparse
import json

import pytest
from PIL import Image

from cli.arguments import parse_pixel_cap
from cli.evaluate import _generated_samples
from cli.main import build_parser, main
from core.imageio import RECIPE_KEY, read_png_metadata


@pytest.fixture(scope="module")
def photo(tmp_path_factory, demo_image):
    """320×240: larger than Instant's 50,000-pixel pyramid (258×193), so detail scales apply."""
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    demo_image.resize((320, 240), Image.Resampling.LANCZOS).save(path)
    return path


def test_pixel_caps_read_as_people_write_them():
    assert parse_pixel_cap("4M") == parse_pixel_cap("4e6") == parse_pixel_cap("4,000,000")
    assert parse_pixel_cap("2.5MP") == 2_500_000
    for bad in ("lots", "0", "-3", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_pixel_cap(bad)


def test_sample_writes_the_photos_own_resolution_and_its_recipe(tmp_path, photo):
    out = tmp_path / "full.png"
    assert main(["sample", str(photo), "-o", str(out), "--seed", "2"]) == 0
    assert Image.open(out).size == (320, 240)
    recipe = json.loads(read_png_metadata(out)[RECIPE_KEY])
    assert recipe["seed"] == 2 and recipe["size"] == [320, 240]
    assert recipe["resolution"] == "320×240" and recipe["engine"] == "instant"
    assert recipe["detail scales"] == "1 above 258×193"


def test_max_pixels_caps_the_resolution(tmp_path, photo):
    out = tmp_path / "capped.png"
    assert main(["sample", str(photo), "-o", str(out), "--max-pixels", "60000"]) == 0
    assert Image.open(out).size == (282, 212)
    wide = tmp_path / "wide.png"
    assert main(["sample", str(photo), "-o", str(wide), "--scale", "2x1"]) == 0
    assert Image.open(wide).size == (640, 240)
    small = tmp_path / "model_size.png"
    assert main(["sample", str(photo), "-o", str(small), "--max-pixels", "1"]) == 0
    assert Image.open(small).size == (258, 193)  # the model's own size: no detail scales


def test_edit_commands_take_boxes_in_photo_pixels(tmp_path, photo):
    out = tmp_path / "roi.png"
    arguments = ["roi", str(photo), "-o", str(out), "--src", "200,150,100,80", "--dst", "10,10"]
    assert main(arguments) == 0
    assert Image.open(out).size == (320, 240)


def test_info_says_what_sample_makes(photo, capsys):
    assert main(["info", str(photo)]) == 0
    assert "full resolution 320×240, detail from the photo" in capsys.readouterr().out


def test_eval_measures_at_the_models_size_unless_asked(tmp_path, photo):
    """Samples at the training size by default (where the metrics are defined); with
    --max-pixels at the photo's resolution, against the photo at that size."""
    parser = build_parser()
    base = ["eval", str(photo), "-n", "1", "--save-samples", str(tmp_path / "s")]
    samples, reference = _generated_samples(parser.parse_args(base))
    assert samples[0].shape == reference.shape == (193, 258, 3)
    samples, reference = _generated_samples(parser.parse_args([*base, "--max-pixels", "4M"]))
    assert samples[0].shape == reference.shape == (240, 320, 3)
    assert Image.open(tmp_path / "s" / "sample_seed0.png").size == (320, 240)
