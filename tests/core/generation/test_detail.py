"""Detail scales: a photo comes back at its own resolution, with its detail (docs/method.md §12).

The small case of the issue: a 256×192 photo whose model pyramid is capped at 5,000 pixels
(81×61 at its finest), so that two detail scales carry it up to 256×192.
"""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

import core.generation.detail
from core.config import ModelConfig, TrainConfig
from core.denoisers.instant import InstantModel
from core.errors import ConfigError
from core.files.model_file import load_model, save_trainer
from core.generation.detail import DETAIL_FACTOR, DetailModel, detail_sizes
from core.generation.memory import NotEnoughMemoryError, ensure_plan_fits
from core.generation.plan import (
    GenerationRequest,
    HarmonizeEdit,
    RegionsEdit,
    photo_size,
    plan,
    work_estimate,
)
from core.generation.run import GeneratedImages, GenerationStep, generate, generate_images
from core.requests import Box
from core.training.trainer import Trainer
from tests.conftest import assert_same_image

SMALL_CAP = ModelConfig(max_pixels=5_000)


@pytest.fixture(scope="module")
def photo(demo_image) -> Image.Image:
    return demo_image.resize((256, 192), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def instant(photo) -> InstantModel:
    return InstantModel.from_image(photo, SMALL_CAP)


def _sharpness(image: np.ndarray) -> float:
    """Mean absolute step between neighbouring pixels (grey levels)."""
    grey = image.astype(np.float64).mean(axis=2)
    return (np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()) / 2


def test_detail_sizes_grow_by_at_most_the_factor_to_the_target():
    sizes = detail_sizes((258, 193), (2309, 1732))
    assert sizes[-1] == (2309, 1732)
    widths = [258] + [w for w, _ in sizes]
    assert all(1 < b / a <= DETAIL_FACTOR + 0.01 for a, b in itertools.pairwise(widths))
    assert detail_sizes((258, 193), (258, 193)) == []
    assert detail_sizes((258, 193), (260, 195)) == [(260, 195)]


def test_a_photo_comes_back_at_its_own_resolution_with_its_detail(instant, photo):
    assert instant.sizes[-1] == (81, 61)
    assert photo_size(instant) == (256, 192)
    the_plan = plan(instant, GenerationRequest(seed=3))
    assert the_plan.base_size == (81, 61) and the_plan.size == (256, 192)
    assert len(the_plan.detail_sizes) == 2
    image = generate_images(instant, the_plan)[0]
    assert image.shape == (192, 256, 3)
    own = _sharpness(np.asarray(photo))
    base = plan(instant, GenerationRequest(seed=3, max_pixels=5_000))
    assert base.detail is None and base.size == (81, 61)
    enlarged = Image.fromarray(generate_images(instant, base)[0]).resize((256, 192))
    # the photo's sharpness, where an enlarged base image has far less
    assert 0.75 * own <= _sharpness(image) <= 1.25 * own
    assert _sharpness(np.asarray(enlarged)) < 0.6 * own


def test_the_layout_is_the_base_images(instant):
    """Shrunk back to the model's size, a detailed image is its base image."""
    request = GenerationRequest(seed=1)
    detailed = generate_images(instant, plan(instant, request))[0]
    base = generate_images(instant, plan(instant, GenerationRequest(seed=1, max_pixels=5_000)))[0]
    shrunk = np.asarray(Image.fromarray(detailed).resize((81, 61), Image.Resampling.BOX))
    assert np.abs(shrunk.astype(int) - base.astype(int)).mean() < 12


def test_seeds_reproduce_and_batches_change_nothing(instant):
    one = generate_images(instant, plan(instant, GenerationRequest(count=2, seed=4, batch=1)))
    two = generate_images(instant, plan(instant, GenerationRequest(count=2, seed=4, batch=2)))
    again = generate_images(instant, plan(instant, GenerationRequest(count=1, seed=5)))
    # Batched sums round differently (Instant's): where that flips a near tie between two
    # candidates, PatchMatch's propagation carries the change to neighbours. On one 2-core
    # machine 6% of a batched image's pixels differed (the same picture by eye).
    for a, b in zip(one, two, strict=True):
        assert_same_image(a, b, share=0.1)
    assert_same_image(one[1], again[0])
    assert np.abs(one[0].astype(int) - one[1].astype(int)).mean() > 5


def test_bands_of_rows_change_nothing(instant, monkeypatch):
    """Memory stays flat by working in bands; the bands leave no seam (the same image)."""
    request = GenerationRequest(seed=2)
    whole = generate_images(instant, plan(instant, request))[0]
    core.generation.detail._cache.clear()
    monkeypatch.setattr(core.generation.detail, "BAND_PIXELS", 256 * 7)  # 7-row bands
    banded = generate_images(instant, plan(instant, request))[0]
    np.testing.assert_array_equal(whole, banded)


def test_progress_counts_the_detail_scales_and_previews_grow(instant):
    the_plan = plan(instant, GenerationRequest(count=2, seed=0, batch=2))
    steps = [e for e in generate(instant, the_plan) if isinstance(e, GenerationStep)]
    assert steps[-1].work_done == pytest.approx(steps[-1].work_total)
    assert [s.index for s in steps[: len(steps)]] == list(range(1, len(steps) + 1))
    assert steps[-1].final and not any(s.final for s in steps[:-1])
    detail = [s for s in steps if s.scale >= len(the_plan.sizes)]
    assert {s.first for s in detail} == {0, 1}
    widths = [s.x0_pred.shape[-1] for s in detail if s.first == 0]
    assert widths == sorted(widths) and widths[-1] == 256
    assert detail[-1].num_scales == the_plan.num_scales == len(the_plan.sizes) + 2
    base_work, detail_work = work_estimate(instant, GenerationRequest(count=2))
    assert base_work + detail_work == pytest.approx(steps[-1].work_total)


def test_closing_during_the_detail_scales_stops_cleanly(instant):
    events = generate(instant, plan(instant, GenerationRequest(seed=0)))
    for event in events:
        if isinstance(event, GenerationStep) and event.scale >= len(instant.sizes):
            break
    events.close()
    assert not any(isinstance(e, GeneratedImages) for e in events)


def test_sizes_and_multipliers_are_in_photo_pixels(instant):
    wide = plan(instant, GenerationRequest(multipliers=(2.0, 1.0)))
    assert wide.size == (512, 192) and wide.base_size == (162, 61)
    exact = plan(instant, GenerationRequest(size=(300, 150)))
    assert exact.size == (300, 150)
    assert exact.detail_sizes[0][0] > exact.base_size[0]
    with pytest.raises(ConfigError, match="too large"):
        plan(instant, GenerationRequest(size=(5000, 5000)))
    image = generate_images(instant, exact)[0]
    assert image.shape == (150, 300, 3)


def test_region_boxes_are_photo_pixels(instant, photo):
    source = Box(100, 60, 60, 48)
    edit = RegionsEdit(((source, Box(10, 100, 60, 48)),), strength=1.0)
    the_plan = plan(instant, GenerationRequest(seed=0, edit=edit))
    assert the_plan.size == (256, 192)
    image = generate_images(instant, the_plan)[0].astype(int)
    pasted = image[100:148, 10:70]
    original = np.asarray(photo)[60:108, 100:160].astype(int)
    elsewhere = np.asarray(photo)[0:48, 196:256].astype(int)
    assert np.abs(pasted - original).mean() < np.abs(pasted - elsewhere).mean()
    with pytest.raises(ConfigError, match="256×192"):
        plan(instant, GenerationRequest(edit=RegionsEdit(((Box(230, 0, 40, 40), source),))))


def test_harmonisation_keeps_the_composite_outside_the_mask(instant, photo):
    composite = np.asarray(photo).copy()
    composite[80:120, 100:160] = (250, 20, 20)
    mask = np.zeros((192, 256), np.uint8)
    mask[80:120, 100:160] = 255
    edit = HarmonizeEdit(composite, mask)
    the_plan = plan(instant, GenerationRequest(seed=0, edit=edit))
    assert the_plan.size == (256, 192) and the_plan.detail is not None
    image = generate_images(instant, the_plan)[0].astype(int)
    far = (slice(0, 40), slice(0, 60))
    assert np.abs(image[far] - composite[far].astype(int)).max() <= 1


def test_a_model_file_keeps_its_photo(tmp_path, photo):
    trainer = Trainer.from_image(photo, ModelConfig(dim=8, max_pixels=5_000), TrainConfig(steps=2))
    for _ in trainer.steps():
        pass
    path = tmp_path / "m.sinddm"
    save_trainer(trainer, path)
    model = load_model(path)
    assert model.pyramid.original is not None
    np.testing.assert_array_equal(model.pyramid.original, np.asarray(photo))
    the_plan = plan(model, GenerationRequest(seed=0))
    assert the_plan.size == (256, 192) and the_plan.detail is not None
    assert generate_images(model, the_plan)[0].shape == (192, 256, 3)


def test_a_model_without_its_photo_samples_at_its_own_size(tmp_path, photo):
    trainer = Trainer.from_image(photo, ModelConfig(dim=8, max_pixels=5_000), TrainConfig(steps=1))
    data_path = tmp_path / "old.sinddm"
    save_trainer(trainer, data_path)
    data = torch.load(data_path, weights_only=True)
    del data["pyramid"]["original_png"]  # as a file from before full resolution
    torch.save(data, data_path)
    model = load_model(data_path)
    assert model.pyramid.original is None and photo_size(model) == (81, 61)
    assert plan(model, GenerationRequest()).size == (81, 61)


def test_a_damaged_photo_in_a_model_file_is_named(tmp_path, photo):
    from core.errors import CheckpointFormatError

    trainer = Trainer.from_image(photo, ModelConfig(dim=8, max_pixels=5_000), TrainConfig(steps=1))
    path = tmp_path / "bad.sinddm"
    save_trainer(trainer, path)
    data = torch.load(path, weights_only=True)
    data["pyramid"]["original_png"] = data["pyramid"]["original_png"][:200]
    torch.save(data, path)
    with pytest.raises(CheckpointFormatError, match="photo"):
        load_model(path)


def test_memory_refusal_names_the_largest_size_that_fits(instant, monkeypatch):
    import core.generation.memory

    the_plan = plan(instant, GenerationRequest())
    monkeypatch.setattr(core.generation.memory, "available_bytes", lambda device: 70 * 2**20)
    with pytest.raises(NotEnoughMemoryError, match="largest that fits"):
        ensure_plan_fits(instant, the_plan, "cpu")


def test_the_detail_model_needs_its_start(instant, photo):
    detail = DetailModel.above(
        instant.pyramid, instant.schedule, instant.config, np.asarray(photo), (256, 192)
    )
    assert detail is not None and detail.sizes[-1] == (256, 192)
    with pytest.raises(RuntimeError, match="begin"):
        detail.predict_eps(torch.zeros(1, 3, 192, 256), 3, detail.num_scales - 1)


def test_style_transfer_comes_back_at_its_contents_resolution(instant, photo):
    from core.requests import StyleTransferEdit

    content = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((240, 180))
    the_plan = plan(instant, GenerationRequest(edit=StyleTransferEdit(content, "c.png")))
    assert the_plan.size == (240, 180) and the_plan.detail is not None
    small = plan(instant, GenerationRequest(edit=StyleTransferEdit(content.resize((60, 45)))))
    assert small.detail is None  # no larger than the model's canvas: nothing to add
    assert generate_images(instant, the_plan)[0].shape == (180, 240, 3)


def test_text_guidance_comes_back_at_the_photos_resolution(instant, tiny_clip):
    from core.requests import TextEdit

    def loader(name, weights, device):
        return tiny_clip

    edit = TextEdit("fire", views=2, mode="region", box=Box(120, 80, 80, 60))
    the_plan = plan(instant, GenerationRequest(edit=edit), clip_loader=loader)
    assert the_plan.size == (256, 192) and the_plan.detail is not None
    assert generate_images(instant, the_plan)[0].shape == (192, 256, 3)
    outside = TextEdit("fire", mode="region", box=Box(230, 80, 80, 60))
    with pytest.raises(ConfigError, match="256×192"):
        plan(instant, GenerationRequest(edit=outside), clip_loader=loader)
