"""Tiles, mirror, heal and extend (docs/method.md §13), on small cases.

A 128×96 photo with its model pyramid capped at 3,000 pixels (63×47 at its finest), so that
a detail scale runs above it, as for a real photo.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from core.config import ModelConfig, TrainConfig
from core.denoisers.instant import InstantModel
from core.denoisers.patch_search import PATCH_ALLOWED, PATCH_EXCLUDED, PATCH_NEAR, AllowedPatches
from core.errors import ConfigError
from core.files.model_file import load_model, save_trainer
from core.generation.fill import onion_fill
from core.generation.plan import plan
from core.generation.run import generate_images
from core.method.canvas import CanvasRules, KnownCanvas, PriorLayout, anchored_offset, smooth_fill
from core.requests import ExtendEdit, GenerationRequest, HealEdit
from core.training.trainer import Trainer

SMALL_CAP = ModelConfig(max_pixels=3_000)


@pytest.fixture(scope="module")
def photo(demo_image) -> Image.Image:
    return demo_image.resize((128, 96), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def instant(photo) -> InstantModel:
    return InstantModel.from_image(photo, SMALL_CAP)


@pytest.fixture(scope="module")
def hole() -> np.ndarray:
    """The mask: 255 over a 24×20 box in the middle of the 128×96 photo."""
    mask = np.zeros((96, 128), np.uint8)
    mask[32:52, 48:72] = 255
    return mask


def _one(model, **request) -> np.ndarray:
    return generate_images(model, plan(model, GenerationRequest(**request)))[0]


def _steps(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean absolute difference (grey levels) between neighbouring lines along `axis`."""
    grey = image.astype(np.float64).mean(axis=2)
    return np.abs(np.diff(grey, axis=axis)).mean(axis=1 - axis)


def wrap_ratio(image: np.ndarray, axis: int) -> float:
    """The step across the wrap-around edge ÷ the median step between neighbouring lines."""
    grey = image.astype(np.float64).mean(axis=2)
    first, last = np.take(grey, 0, axis=axis), np.take(grey, -1, axis=axis)
    return float(np.abs(first - last).mean() / np.median(_steps(image, axis)))


# ------------------------------------------------------------------------------ the rules


def test_upsample_without_wrap_is_the_samplers_bilinear():
    image = torch.randn(2, 3, 7, 9)
    ours = CanvasRules(mirror="x").upsample(image, (20, 15))
    theirs = F.interpolate(image, size=(15, 20), mode="bilinear", align_corners=False)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_wrapped_upsample_reads_across_the_edge():
    image = torch.zeros(1, 1, 1, 4)
    image[..., 0] = 1.0  # the first column bright: upsampled, the last columns take some of it
    clamped = CanvasRules().upsample(image, (8, 1))
    wrapped = CanvasRules(wrap_x=True).upsample(image, (8, 1))
    assert float(clamped[..., -1]) == 0.0
    assert float(wrapped[..., -1]) > 0.2
    expected = torch.tensor([0.75, 0.75, 0.25, 0, 0, 0, 0, 0.25])  # the bright column's centre
    assert torch.allclose(wrapped.flatten(), expected)  # lies between outputs 0 and 1


def test_pad_and_crop_give_back_the_canvas():
    rules = CanvasRules(wrap_x=True, wrap_y=True)
    image = torch.randn(1, 3, 10, 30)
    padded = rules.pad(image)
    assert padded.shape[-2:] == (30, 70)  # 10 rows wrap by at most their own number
    assert torch.equal(rules.crop(padded, image), image)
    assert torch.equal(padded[..., 10:20, :20], image[..., -20:])


@pytest.mark.parametrize(("axis", "width"), [("x", 9), ("y", 8)])
def test_mirror_projection_is_symmetric_and_keeps_the_first_half(axis, width):
    image = torch.randn(1, 3, 6, width) if axis == "x" else torch.randn(1, 3, width, 5)
    mirrored = CanvasRules(mirror=axis).project(image)
    dim = -1 if axis == "x" else -2
    assert torch.equal(mirrored, mirrored.flip(dim))
    half = (width + 1) // 2
    assert torch.equal(mirrored.narrow(dim, 0, half), image.narrow(dim, 0, half))


def test_prior_layout_places_the_photo_and_clamps_beyond_it():
    layout = PriorLayout(frame=(0.0, 0.5, 1.0, 0.5))  # the photo fills the right half
    positions = layout.positions(2, 4).reshape(2, 4, 2)
    assert torch.allclose(positions[0, :, 1], torch.tensor([0.0, 0.0, 0.25, 0.75]))
    assert PriorLayout(free_x=True).weights().tolist() == [1.0, 0.0]


def test_smooth_fill_reads_no_unknown_pixel():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    known = np.ones((20, 30), bool)
    known[5:12, 8:20] = False
    other = image.copy()
    other[~known] = 0
    filled = smooth_fill(image, known)
    assert np.array_equal(filled, smooth_fill(other, known))
    assert np.array_equal(filled[known], image[known])


def test_onion_fill_continues_stripes_into_the_hole_without_reading_it():
    stripes = np.zeros((24, 30, 3), np.uint8)
    stripes[:, ::4] = 255  # a white column every 4 pixels
    stripes[:, 1::4] = 255
    known = np.ones((24, 30), bool)
    known[8:16, 10:20] = False
    hidden = stripes.copy()
    hidden[~known] = 77
    filled = onion_fill(hidden, known)
    assert np.array_equal(filled, stripes)  # the stripes go on through the hole


def test_the_border_blend_touches_only_drawn_pixels_near_the_kept_ones():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (12, 20, 3), dtype=np.uint8)
    known = np.zeros((12, 20), bool)
    known[:, :10] = True  # the photo's left half is kept, the right half drawn
    canvas = KnownCanvas(photo, known)
    drawn = np.full((12, 20, 3), 200, np.uint8)
    result = canvas.composite(drawn)
    assert np.array_equal(result[:, :10], photo[:, :10])  # kept exactly
    assert np.array_equal(result[:, 14:], drawn[:, 14:])  # beyond 3 px: as drawn
    # the first drawn column is 3/4 the kept image mirrored across the border (column 9)
    expected = np.round(0.75 * photo[:, 9].astype(float) + 0.25 * 200).astype(np.uint8)
    assert np.array_equal(result[:, 10], expected)
    other = photo.copy()
    other[:, 10:] = 0  # what lies under the drawn pixels is never read
    assert np.array_equal(KnownCanvas(other, known).composite(drawn), result)


def test_allowed_patches_never_hand_out_an_excluded_one():
    use = np.full((6, 8), PATCH_ALLOWED, np.uint8)
    use[2:4, 3:6] = PATCH_EXCLUDED
    excluded = use == PATCH_EXCLUDED
    allowed = AllowedPatches(use)
    indices = torch.arange(49)  # 48 patches and "none"
    kept = allowed.filter(indices)
    assert (kept[excluded.reshape(-1).nonzero()[0]] == 48).all()
    assert (kept[(~excluded).reshape(-1).nonzero()[0]] != 48).all()
    drawn = allowed.random((1000,), torch.Generator().manual_seed(0))
    assert not excluded.reshape(-1)[drawn.numpy()].any()
    use[0, :2] = PATCH_NEAR  # random candidates only among these two
    assert set(AllowedPatches(use).random((100,), torch.Generator()).tolist()) == {0, 1}


# ------------------------------------------------------------------------------ requests


@pytest.mark.parametrize(("tile", "mirror"), [("x", "x"), ("y", "y"), ("both", "x")])
def test_tile_and_mirror_on_one_axis_are_refused(tile, mirror):
    with pytest.raises(ConfigError, match="same axis"):
        GenerationRequest(tile=tile, mirror=mirror)


def test_tile_and_mirror_on_other_axes_are_accepted():
    assert GenerationRequest(tile="x", mirror="y").mirror == "y"


def test_tile_is_refused_with_heal(hole):
    with pytest.raises(ConfigError, match="heal"):
        GenerationRequest(tile="x", edit=HealEdit(hole))


def test_an_unknown_anchor_is_refused():
    with pytest.raises(ConfigError, match="anchor"):
        ExtendEdit((10, 10), "middle")


# ------------------------------------------------------------------------------ tiles


@pytest.mark.parametrize("tile", ["x", "y", "both"])
def test_tiles_wrap_without_a_seam_at_full_resolution(instant, tile):
    image = _one(instant, seed=3, tile=tile)
    assert image.shape == (96, 128, 3)  # the detail scales ran
    axes = {"x": [1], "y": [0], "both": [0, 1]}[tile]
    for axis in axes:
        assert wrap_ratio(image, axis) < 2.0, axis  # a random line's step is up to about 3


def test_an_untiled_sample_has_a_seam_where_the_tile_has_none(instant):
    """What the tile test measures can fail: the plain samples' wrap-around step is larger."""
    plain = [wrap_ratio(_one(instant, seed=s), 1) for s in range(2)]
    tiled = [wrap_ratio(_one(instant, seed=s, tile="x"), 1) for s in range(2)]
    assert np.mean(tiled) < 0.6 * np.mean(plain)


def test_a_tile_is_recorded_in_the_plans_settings(instant):
    made = plan(instant, GenerationRequest(tile="both"))
    assert made.settings(instant.device)["tile"] == "both"


# ------------------------------------------------------------------------------ mirror


@pytest.mark.parametrize("axis", ["x", "y"])
def test_mirrored_images_are_exactly_symmetric(instant, axis):
    image = _one(instant, seed=2, mirror=axis, size=(121, 91))  # odd sides: a middle line
    flipped = image[:, ::-1] if axis == "x" else image[::-1]
    assert np.array_equal(image, flipped)


# ------------------------------------------------------------------------------ heal


def test_heal_keeps_every_pixel_outside_the_mask(instant, photo, hole):
    image = _one(instant, seed=1, edit=HealEdit(hole))
    pixels = np.asarray(photo)
    outside = hole == 0
    assert image.shape == pixels.shape
    assert np.array_equal(image[outside], pixels[outside])
    assert not np.array_equal(image[~outside], pixels[~outside])


def test_heal_never_reads_the_masked_pixels(photo, hole):
    """Two photos that differ only under the mask heal to the same image, bit for bit."""
    other = np.asarray(photo).copy()
    other[hole > 0] = [255, 0, 255]
    images = [
        _one(InstantModel.from_image(image, SMALL_CAP), seed=4, edit=HealEdit(hole))
        for image in (photo, Image.fromarray(other))
    ]
    assert np.array_equal(images[0], images[1])


def test_the_heal_fill_has_detail_not_a_blur(instant, photo, hole):
    image = _one(instant, seed=1, edit=HealEdit(hole))
    filled = image[32:52, 48:72].astype(np.float64).mean(axis=2)
    blurred = smooth_fill(np.asarray(photo), hole == 0)[32:52, 48:72].astype(np.float64)
    sharp = np.abs(np.diff(filled, axis=1)).mean()
    smooth = np.abs(np.diff(blurred.mean(axis=2), axis=1)).mean()
    assert sharp > 3 * smooth


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((96, 128), np.uint8), "empty"),
        (np.full((96, 128), 255, np.uint8), "whole photo"),
        (np.full((60, 80), 255, np.uint8), "80×60 but the photo is"),
    ],
)
def test_bad_masks_are_refused_in_words(instant, mask, message):
    with pytest.raises(ConfigError, match=message):
        plan(instant, GenerationRequest(edit=HealEdit(mask)))


def test_heal_works_on_a_trained_model_file(tmp_path, photo, hole):
    config = ModelConfig(max_pixels=3_000, dim=8)
    trainer = Trainer.from_image(photo, config, TrainConfig(steps=2, batch_size=1), "cpu", seed=0)
    for _ in trainer.steps():
        pass
    path = tmp_path / "m.sinddm"
    save_trainer(trainer, path)
    model = load_model(path)
    image = _one(model, seed=0, edit=HealEdit(hole))
    pixels = np.asarray(photo)
    assert np.array_equal(image[hole == 0], pixels[hole == 0])


# ------------------------------------------------------------------------------ extend


@pytest.mark.parametrize("anchor", ["left", "center", "bottom-right"])
def test_extend_keeps_the_photo_exactly_at_its_anchor(instant, photo, anchor):
    image = _one(instant, seed=0, edit=ExtendEdit((176, 112), anchor))
    assert image.shape == (112, 176, 3)
    left, top = anchored_offset((176, 112), (128, 96), anchor)
    assert np.array_equal(image[top : top + 96, left : left + 128], np.asarray(photo))


def test_extend_has_no_seam_at_the_photos_border(instant):
    image = _one(instant, seed=0, edit=ExtendEdit((192, 96), "left"))
    steps = _steps(image, 1)
    assert steps[127] < 2.5 * np.median(steps)  # between the photo's last column and the next


@pytest.mark.parametrize(
    ("size", "message"), [((150, 90), "smaller than the photo"), ((128, 96), "nothing to add")]
)
def test_extend_refuses_a_canvas_no_larger_than_the_photo(instant, size, message):
    with pytest.raises(ConfigError, match=message):
        plan(instant, GenerationRequest(edit=ExtendEdit(size)))


def test_extend_shrinks_canvas_and_photo_together_under_the_cap(instant):
    made = plan(instant, GenerationRequest(edit=ExtendEdit((256, 96)), max_pixels=12_288))
    assert made.size == (180, 67)  # the photo at 90×67, the canvas twice as wide
    assert made.known is not None and made.known.known[:, 45:135].all()


def test_known_canvas_refuses_a_mask_that_keeps_nothing():
    with pytest.raises(ConfigError, match="covers all"):
        KnownCanvas(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool))
