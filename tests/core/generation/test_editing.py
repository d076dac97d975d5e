import numpy as np
import pytest
import torch
from PIL import Image

from cli.main import main
from core.errors import ConfigError
from core.generation.editing import (
    Box,
    RoiGuidance,
    harmonization_injection,
    harmonization_mask,
    match_histograms,
    object_mask_from,
    paste_object,
    style_transfer_injection,
)
from core.generation.sampling import canvas_sizes, iter_sample
from core.method.tensors import image_to_tensor, tensor_to_images


def test_box_parsing_and_checks():
    source = Box.parse("1,2,30,20")
    assert Box.parse("5,6", size_from=source) == Box(5, 6, 30, 20)
    assert Box(10, 10, 30, 20).scaled(0.5) == Box(5, 5, 15, 10)
    with pytest.raises(ConfigError, match="does not fit"):
        Box(80, 0, 30, 20).check_inside(96, 72, "target")
    with pytest.raises(ConfigError, match="empty"):
        Box(0, 0, 0, 5).check_inside(96, 72, "source")
    with pytest.raises(ConfigError, match="four numbers"):
        Box.parse("1,2,3")


def test_roi_guidance_blends_source_into_target_below_finest_scale(tiny_model):
    canvas = canvas_sizes(tiny_model.sizes, size=(192, 72))
    roi = RoiGuidance(tiny_model, canvas, [(Box(0, 0, 48, 36), Box(120, 20, 48, 36))], 1.0)
    x0 = torch.zeros(1, 3, 48, 128)
    guided = roi.apply(x0, 0, 10)
    box, patch = roi.targets[0][0]
    region = guided[..., box.y : box.y + box.h, box.x : box.x + box.w]
    assert torch.equal(region, patch.expand_as(region))
    assert torch.count_nonzero(guided) == torch.count_nonzero(region)
    finest = torch.zeros(1, 3, 72, 192)
    assert torch.equal(roi.apply(finest, 1, 10), finest)  # not at the finest scale
    gentle = RoiGuidance(tiny_model, canvas, [(Box(0, 0, 48, 36), Box(120, 20, 48, 36))], 0.0)
    assert torch.equal(gentle.apply(x0, 0, 10), x0)


def test_roi_sampling_places_the_source_at_the_coarse_scale(tiny_model):
    canvas = canvas_sizes(tiny_model.sizes)
    roi = RoiGuidance(tiny_model, canvas, [(Box(48, 36, 48, 36), Box(0, 0, 48, 36))], 1.0)
    for step in iter_sample(tiny_model, seed=2, guidance=[roi]):
        if step.scale == 0 and step.t == 0:
            box, patch = roi.targets[0][0]
            region = step.x0_pred[..., box.y : box.y + box.h, box.x : box.x + box.w]
            torch.testing.assert_close(region, patch.clamp(-1, 1).expand_as(region))


def test_match_histograms_takes_the_reference_distribution(demo_image):
    reference = np.asarray(demo_image)
    content = (np.asarray(demo_image.resize((100, 80))) // 2).astype(np.uint8)  # darker
    matched = match_histograms(content, reference)
    for c in range(3):
        assert abs(matched[..., c].mean() - reference[..., c].mean()) < 3
    np.testing.assert_array_equal(match_histograms(reference, reference), reference)


def test_harmonization_mask_is_soft_and_dilated():
    mask = np.zeros((60, 60), np.uint8)
    mask[25:35, 25:35] = 255
    soft = harmonization_mask(mask)
    assert soft.min() == 0.0 and soft.max() == pytest.approx(1.0)
    assert soft[30, 30] == pytest.approx(1.0, abs=0.05)
    assert soft[30, 20] > 0.3  # dilated by 7 px, then blurred
    assert soft[0, 0] < 0.01
    with pytest.raises(ConfigError, match="empty"):
        harmonization_mask(np.zeros((10, 10), np.uint8))


def test_style_transfer_injects_at_the_finest_scale(tiny_model, demo_image):
    content = demo_image.resize((90, 60))
    injection, size = style_transfer_injection(tiny_model, content, start_step=15)
    steps = list(iter_sample(tiny_model, seed=0, size=size, injection=injection))
    assert len(steps) == 15 and {s.scale for s in steps} == {1}
    assert steps[-1].x0_pred.shape == (1, 3, 60, 90)
    again = list(iter_sample(tiny_model, seed=0, size=size, injection=injection))
    assert torch.equal(steps[-1].x0_pred, again[-1].x0_pred)
    coarse, _ = style_transfer_injection(tiny_model, content, start_step=10, scale=0)
    expected = 10 + tiny_model.schedule.start_steps[1]
    assert len(list(iter_sample(tiny_model, size=size, injection=coarse))) == expected


def test_harmonization_keeps_the_background_outside_the_mask(tiny_model, demo_image):
    composite = demo_image.resize((96, 72))
    mask = Image.new("L", (96, 72), 0)
    mask.paste(255, (40, 30, 56, 42))
    plan = harmonization_injection(tiny_model, composite, mask)
    result = None
    for step in iter_sample(tiny_model, seed=1, size=plan.size, injection=plan.injection):
        result = step.x0_pred
    blended = plan.blend(result)
    outside = plan.mask[0, 0] == 0
    assert bool(outside.any())
    torch.testing.assert_close(blended[..., outside], plan.composite[..., outside])
    with pytest.raises(ConfigError, match="same size"):
        harmonization_injection(tiny_model, composite, mask.resize((50, 50)))


@pytest.fixture
def tiny_model_file(tmp_path, tiny_trainer):
    from core.files.model_file import save_trainer

    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    return path


def test_editing_commands_write_images(tmp_path, tiny_model_file, demo_image, capsys):
    model = str(tiny_model_file)
    assert (
        main(
            [
                "roi",
                model,
                "-o",
                str(tmp_path / "roi.png"),
                "--src",
                "0,0,40,30",
                "--dst",
                "50,30",
                "--dst",
                "0,40,20,20",
                "--size",
                "120x72",
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "roi.png").size == (120, 72)
    demo_image.resize((80, 60)).save(tmp_path / "content.png")
    assert (
        main(
            [
                "style-transfer",
                model,
                str(tmp_path / "content.png"),
                "-o",
                str(tmp_path / "st"),
                "-n",
                "2",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == [
        "sample_seed0.png",
        "sample_seed1.png",
    ]
    mask = Image.new("RGBA", (80, 60), (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), (30, 20, 50, 40))
    mask.save(tmp_path / "mask.png")
    assert (
        main(
            [
                "harmonize",
                model,
                str(tmp_path / "content.png"),
                "--mask",
                str(tmp_path / "mask.png"),
                "-o",
                str(tmp_path / "h.png"),
            ]
        )
        == 0
    )
    out = np.asarray(Image.open(tmp_path / "h.png"))
    original = np.asarray(Image.open(tmp_path / "content.png"))
    assert np.array_equal(out[0:5, 0:5], original[0:5, 0:5])  # far from the object


def test_editing_errors_are_plain(tmp_path, tiny_model_file, capsys):
    assert (
        main(
            [
                "roi",
                str(tiny_model_file),
                "-o",
                str(tmp_path / "r.png"),
                "--src",
                "90,0,40,30",
                "--dst",
                "0,0",
            ]
        )
        == 2
    )
    assert "does not fit" in capsys.readouterr().err
    assert (
        main(
            [
                "harmonize",
                str(tiny_model_file),
                str(tmp_path / "none.png"),
                "--mask",
                str(tmp_path / "none.png"),
                "-o",
                str(tmp_path / "h.png"),
            ]
        )
        == 2
    )
    assert "No file" in capsys.readouterr().err


def test_tensor_round_trip_helper_is_exact():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(tensor_to_images(image_to_tensor(image))[0], image)


def test_object_mask_comes_from_alpha_or_covers_the_whole_object():
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[1:3, 2:5, 3] = 255
    rgba[0, 0, 3] = 100  # mostly transparent: not the object
    shape = object_mask_from(Image.fromarray(rgba, "RGBA"))
    assert shape.shape == (4, 6) and shape.sum() == 6 and shape[1:3, 2:5].all()
    assert object_mask_from(Image.new("RGB", (6, 4))).all()


def test_paste_object_scales_the_object_and_cuts_it_at_the_edges():
    background = np.full((20, 30, 3), 10, np.uint8)
    obj = np.full((4, 4, 3), 200, np.uint8)
    shape = np.ones((4, 4), bool)
    shape[0, 0] = False  # a missing corner stays background
    composite, mask = paste_object(background, obj, shape, Box(26, 2, 8, 8))
    assert composite.shape == background.shape and mask.dtype == np.uint8
    assert (mask[2:10, 26:30] == 255).sum() == 4 * 8 - 2 * 2  # 4 columns visible, corner cut
    assert mask[:, :26].sum() == 0 and mask[10:].sum() == 0
    assert (composite[mask > 0] == 200).all() and (composite[mask == 0] == 10).all()
    assert background.max() == 10  # the input is untouched


def test_paste_object_refuses_empty_or_invisible_objects():
    background = np.zeros((10, 10, 3), np.uint8)
    obj = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ConfigError, match="outside"):
        paste_object(background, obj, np.ones((4, 4), bool), Box(12, 0, 4, 4))
    with pytest.raises(ConfigError, match="mask is empty"):
        paste_object(background, obj, np.zeros((4, 4), bool), Box(0, 0, 4, 4))
