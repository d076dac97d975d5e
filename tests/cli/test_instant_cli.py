"""Every command that takes a model takes a photo too, and then means Instant (no training)."""

import json

import numpy as np
import pytest
from PIL import Image

from cli.main import main
from core.generation import clip_guidance
from tests.conftest import assert_same_image


@pytest.fixture
def photo(tmp_path, tiny_image):
    path = tmp_path / "photo.jpg"
    tiny_image.save(path, quality=95)
    return path


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_sample_from_a_photo_keeps_seeds_and_sizes(tmp_path, photo):
    out = tmp_path / "out"
    argv = ["sample", str(photo), "-o", str(out), "-n", "2", "--seed", "1", "--size", "120x60"]
    assert main([*argv, "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["sample_seed1.png", "sample_seed2.png"]
    assert Image.open(out / "sample_seed2.png").size == (120, 60)
    alone = tmp_path / "alone.png"
    argv = ["sample", str(photo), "-o", str(alone), "--seed", "2", "--size", "120x60"]
    assert main([*argv, "--device", "cpu"]) == 0
    # the same image alone as second in a batch (up to float rounding)
    assert_same_image(_pixels(alone), _pixels(out / "sample_seed2.png"))


def test_info_of_a_photo_is_the_pyramid_instant_uses(photo, capsys):
    assert main(["info", str(photo), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["kind"] == "instant" and facts["parameters"] == 0
    assert facts["sizes"][-1] == [96, 72] and facts["start_steps"][0] == 100
    assert main(["info", str(photo)]) == 0
    assert "Instant, no training" in capsys.readouterr().out


def test_eval_of_a_photo(tmp_path, photo, capsys):
    report = tmp_path / "r.json"
    assert main(["eval", str(photo), "-n", "2", "--json", str(report), "--device", "cpu"]) == 0
    assert json.loads(report.read_text())["n"] == 2


def test_edits_from_a_photo(tmp_path, photo):
    roi = tmp_path / "roi.png"
    argv = ["roi", str(photo), "-o", str(roi), "--src", "0,0,30,30", "--dst", "60,20"]
    assert main([*argv, "--size", "128x72", "--device", "cpu"]) == 0
    assert Image.open(roi).size == (128, 72)

    content = tmp_path / "content.png"
    Image.new("RGB", (80, 60), (200, 40, 40)).save(content)
    styled = tmp_path / "styled.png"
    argv = ["style-transfer", str(photo), str(content), "-o", str(styled), "--device", "cpu"]
    assert main(argv) == 0 and Image.open(styled).size == (80, 60)

    mask = tmp_path / "mask.png"
    shape = Image.new("L", (96, 72), 0)
    shape.paste(255, (40, 30, 56, 46))
    shape.save(mask)
    blended = tmp_path / "blended.png"
    argv = ["harmonize", str(photo), str(content.with_name("photo.jpg")), "--mask", str(mask)]
    assert main([*argv, "-o", str(blended), "--device", "cpu"]) == 0
    assert Image.open(blended).size == (96, 72)


def test_text_from_a_photo(tmp_path, photo, tiny_clip, monkeypatch):
    from core.generation import clip_weights

    monkeypatch.setattr(clip_guidance, "load_clip", lambda *a, **k: tiny_clip)
    monkeypatch.setattr(clip_weights, "ensure_hub_reachable", lambda *args: None)  # "online"
    out = tmp_path / "t.png"
    argv = ["text", str(photo), "--prompt", "fire", "-o", str(out), "--views", "2"]
    assert main([*argv, "--device", "cpu"]) == 0
    assert Image.open(out).size == (96, 72)
