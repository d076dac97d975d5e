"""Images at the photo's own resolution in the app: the size offered, how long it will take on
this computer, the detail scales forming in the preview, thumbnails in the strip, regions in
photo pixels, export at full size and Stop during a detail scale (fake engine, then the real
one on a small photo with a tiny pixel cap, so that detail scales exist)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from app import engine as engine_module
from app import results as results_store
from app.engine import Engine
from app.state import AppState
from app.worker import JobRunner
from core.config import ModelConfig
from core.generation.compositing import paste_object
from core.requests import Box, HarmonizeEdit, RegionsEdit
from tests.app.fake_engine import pattern

PHOTO = (384, 288)
"""The fake photo's resolution; the fake models' finest scale is 96×72."""


def _idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


@pytest.fixture
def photo_window(window, fake_state, qtbot, tmp_path):
    """conftest's window with a photo open whose resolution is PHOTO (Instant)."""
    fake_state.engine.photo_size = PHOTO
    assert window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    return window


def test_the_generate_tab_offers_the_photos_resolution_and_doubles_it(
    qtbot, photo_window, fake_state
):
    panel = photo_window.generate_panel
    assert fake_state.size == PHOTO
    assert (panel.width_box.value(), panel.height_box.value()) == PHOTO
    assert "384×288" in panel.hint.text() and "96×72" in panel.hint.text()
    panel.quick["2× wide"].click()
    assert fake_state.size == (768, 288)
    panel.quick["2×"].click()
    assert fake_state.size == (768, 576)
    panel.quick["1×"].click()
    panel.lock_aspect.setChecked(True)
    panel.width_box.setValue(192)
    assert fake_state.size == (192, 144), "the photo's aspect is kept"
    panel.quick["1×"].click()
    fake_state.set_seed(2)
    panel.generate()
    _idle(qtbot, fake_state)
    assert fake_state.engine.requests[-1].size == PHOTO
    assert fake_state.results[-1].image.shape == (288, 384, 3)


def test_the_time_it_will_take_is_measured_and_follows_size_count_and_runs(
    qtbot, window, fake_state, tmp_path
):
    engine = fake_state.engine
    engine.photo_size = PHOTO
    engine.rates = (None, None)  # the test run could tell nothing
    window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    assert engine.calibrations == ["auto"], "a test run once Instant has arrived"
    time_label = window.generate_panel.time
    assert time_label.text() == "Time: estimating…"
    engine.run_rates = (2e-5, 1e-5)  # seconds per pixel-step, as a real run measures them
    fake_state.set_seed(1)
    fake_state.generate()
    _idle(qtbot, fake_state)
    # 100 steps × 96×72 px at 2e-5 s, and 4 × 384×288 px at 1e-5 s: 13.8 + 4.4 s
    assert time_label.text() == "About 18 s for 1 image at 384×288 on this computer"
    fake_state.set_size(768, 576)  # 4× the pixels on both parts
    assert time_label.text() == "About 1 min 13 s for 1 image at 768×576 on this computer"
    fake_state.set_count(3)
    assert time_label.text().startswith("About 3 min 39 s for 3 images at 768×576")


def test_a_first_guess_from_the_test_run_says_so_and_a_real_run_replaces_it(
    qtbot, photo_window, fake_state
):
    text = photo_window.generate_panel.time.text()
    assert text.startswith("About ") and text.endswith("(a first guess from a short test run)")
    fake_state.engine.run_rates = (1e-4, 1e-4)
    fake_state.generate()
    _idle(qtbot, fake_state)
    assert "first guess" not in photo_window.generate_panel.time.text()
    key = (fake_state.model.path, "instant", "auto")
    measured = fake_state.speeds.estimate(key, False, (1.0, 1.0))
    assert measured is not None and measured.seconds == pytest.approx(2e-4)


def test_the_first_run_of_a_model_also_prepares_its_detail_scales(
    qtbot, window, fake_state, tmp_path
):
    engine = fake_state.engine
    engine.photo_size = PHOTO
    engine.prepare_rate = 1e-4  # s per photo pixel: 11 s for 384×288
    window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    time_label = window.generate_panel.time
    assert time_label.text().startswith("About 12 s for 1 image at 384×288")  # 0.7 + 0.2 + 11
    engine.run_rates = (2e-5, 1e-5)
    fake_state.generate()
    _idle(qtbot, fake_state)
    assert time_label.text() == "About 18 s for 1 image at 384×288 on this computer"
    fake_state.generate(HarmonizeEdit(np.zeros((288, 384, 3), np.uint8), np.ones((288, 384))))
    _idle(qtbot, fake_state)
    assert time_label.text().startswith("About 29 s"), "harmonising prepared another size"


def test_the_test_run_waits_for_other_jobs_and_gives_way_to_generating(qtbot, fake_state, tmp_path):
    kinds: list[str] = []
    fake_state.job_changed.connect(kinds.append)
    fake_state.engine.step_delay = 0.3  # each job takes a while
    fake_state.open_image(str(tmp_path / "photo.png"))
    qtbot.waitUntil(lambda: fake_state.job == "calibrate", timeout=5000)
    assert fake_state.can_generate, "a test run does not keep the user waiting"
    fake_state.generate()
    _idle(qtbot, fake_state)
    assert [kind for kind in kinds if kind] == ["instant", "calibrate", "sample", "estimate"]
    assert len(fake_state.results) == 1


def test_the_strip_keeps_thumbnails_and_only_a_few_full_images(qtbot, window, fake_state, tmp_path):
    fake_state.engine.photo_size = (1200, 900)
    window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    fake_state.set_count(8)
    fake_state.set_seed(10)
    fake_state.generate()
    _idle(qtbot, fake_state)
    results = fake_state.results
    assert len(results) == 8 and window.results.count() == 8
    assert all(max(r.thumbnail.shape[:2]) <= results_store.THUMBNAIL_SIDE for r in results)
    in_memory = [r for r in results if r.pixels is not None]
    assert len(in_memory) <= results_store.KEEP_FULL and results[-1] in in_memory
    icon = window.results.item(0).icon().availableSizes()[0]
    assert max(icon.width(), icon.height()) <= 96
    window.results.setCurrentRow(0)  # the oldest: read back from its PNG
    np.testing.assert_array_equal(fake_state.canvas, pattern(1200, 900, 10))
    assert results[0].pixels is not None and sum(r.pixels is not None for r in results) <= 4
    exported = tmp_path / "first.png"
    assert fake_state.export_result(1, str(exported))
    with Image.open(exported) as im:
        assert im.size == (1200, 900)
        record = json.loads(im.text["sinddm"])
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), pattern(1200, 900, 11))
    assert record["seed"] == 11 and record["size"] == [1200, 900]


def test_a_result_whose_file_has_gone_shows_its_thumbnail(qtbot, window, fake_state, tmp_path):
    fake_state.engine.photo_size = (1200, 900)
    window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    fake_state.set_count(6)
    fake_state.generate()
    _idle(qtbot, fake_state)
    first = fake_state.results[0]
    assert first.pixels is None and first.path is not None
    first.path.unlink()
    fake_state.show_result(0)
    assert fake_state.canvas.shape == first.thumbnail.shape
    assert fake_state.canvas_caption.endswith("thumbnail only")


def _screen(canvas, pane: str, x: float, y: float) -> QPoint:
    """Where photo pixel (x, y) of a pane is drawn."""
    rect, scale = canvas.panes()[pane]
    return QPoint(round(rect.left() + (x + 0.5) * scale), round(rect.top() + (y + 0.5) * scale))


def _drag(qtbot, canvas, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)


@pytest.mark.parametrize("width", [700, 1400])
def test_regions_are_picked_and_placed_in_photo_pixels_at_any_window_size(
    qtbot, photo_window, fake_state, width
):
    photo_window.resize(width, 800)
    photo_window.tabs.setCurrentWidget(photo_window.edit_panel)
    canvas = photo_window.regions
    assert photo_window.centre_stack.currentWidget() is canvas
    qtbot.waitUntil(lambda: canvas.panes()["source"][1] > 0)
    editor = canvas.editor
    assert editor.source_size == PHOTO and editor.canvas_size == PHOTO
    _drag(qtbot, canvas, _screen(canvas, "source", 100, 80), _screen(canvas, "source", 220, 160))
    (pair,) = editor.pairs
    pixel = 1 / canvas.panes()["source"][1]  # photo pixels per screen pixel
    box = pair.source
    assert abs(box.x - 100) <= pixel + 1 and abs(box.y - 80) <= pixel + 1
    assert abs(box.w - 120) <= 2 * pixel + 1 and abs(box.h - 80) <= 2 * pixel + 1
    _drag(qtbot, canvas, _screen(canvas, "source", 150, 120), _screen(canvas, "canvas", 300, 200))
    target = editor.pairs[0].target
    assert target is not None and (target.w, target.h) == (box.w, box.h)
    assert abs(target.x + target.w / 2 - 300) <= pixel + 1
    photo_window.edit_panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert isinstance(edit, RegionsEdit) and edit.pairs == ((box, target),)
    assert fake_state.engine.requests[-1].size == PHOTO


def test_a_placed_regions_corner_is_grabbed_from_a_few_screen_pixels_away(
    qtbot, photo_window, fake_state
):
    fake_state.engine.photo_size = (3000, 2000)  # 4 MP-like: a screen pixel is several
    photo_window.open_path("/photos/large.png")
    _idle(qtbot, fake_state)
    photo_window.tabs.setCurrentWidget(photo_window.edit_panel)
    canvas = photo_window.regions
    _drag(qtbot, canvas, _screen(canvas, "source", 500, 500), _screen(canvas, "source", 1500, 1200))
    _drag(qtbot, canvas, _screen(canvas, "source", 900, 900), _screen(canvas, "canvas", 1500, 1000))
    target = canvas.editor.pairs[0].target
    corner = _screen(canvas, "canvas", target.x + target.w, target.y + target.h)
    grab = corner + QPoint(-4, -4)  # 4 screen px inside: well over HANDLE photo px here
    _drag(qtbot, canvas, grab, grab + QPoint(30, 20))
    resized = canvas.editor.pairs[0].target
    assert (resized.x, resized.y) == (target.x, target.y) and resized.w > target.w


def test_an_object_is_pasted_onto_the_photo_at_its_resolution(qtbot, window, fake_state, tmp_path):
    fake_state.engine.photo_size = (1200, 900)
    window.open_path(str(tmp_path / "photo.png"))
    _idle(qtbot, fake_state)
    window.tabs.setCurrentWidget(window.edit_panel)
    panel = window.edit_panel
    panel.mode.setCurrentIndex(3)
    assert window.objects.background.shape == (900, 1200, 3)
    assert panel.harmonize.brush.value() == 12, "the brush looks as on a small photo"
    path = tmp_path / "object.png"
    Image.fromarray(np.full((20, 40, 4), 200, np.uint8), "RGBA").save(path)
    assert panel.harmonize.load_object(str(path))
    panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert isinstance(edit, HarmonizeEdit)
    assert edit.composite.shape == (900, 1200, 3) and edit.mask.shape == (900, 1200)
    box = window.objects.placer.box
    placed = np.argwhere(edit.mask > 0)
    assert placed.min(0).tolist() == [box.y, box.x]
    canvas = window.objects  # its scaling corner is grabbed a few screen pixels away
    rect, scale = canvas.view_geometry()
    right, bottom = box.x + box.w, box.y + box.h
    corner = QPoint(round(rect.left() + right * scale), round(rect.top() + bottom * scale))
    _drag(qtbot, canvas, corner - QPoint(4, 4), corner + QPoint(26, 26))
    scaled = canvas.placer.box
    assert scaled.w > box.w and (scaled.x, scaled.y) == (box.x, box.y)


# ------------------------------------------------------------------------- the real engine


def test_a_photo_comes_back_at_its_own_resolution_as_detail_scales_form(
    qtbot, qapp, tmp_path, demo_image, monkeypatch
):
    photo = tmp_path / "photo.png"
    demo_image.resize((256, 192), Image.Resampling.LANCZOS).save(photo)
    engine = Engine(instant_config=ModelConfig(max_pixels=5000))  # 81×61: detail scales above
    state = AppState(engine, tmp_path / "models", JobRunner())
    shown: list[tuple[tuple[int, ...], str]] = []
    state.canvas_changed.connect(lambda image, caption, _: shown.append((image.shape, caption)))
    try:
        assert state.open_image(str(photo))
        _idle(qtbot, state, 120_000)  # Instant, its test run, the training estimate
        assert state.model.photo_size == (256, 192) and state.model.photo.shape == (192, 256, 3)
        assert state.size == (256, 192)
        assert state.time_estimate().startswith("About "), "the test run measured both parts"
        shown.clear()
        state.set_seed(3)
        state.generate()
        _idle(qtbot, state, 120_000)
        (result,) = state.results
        assert result.image.shape == (192, 256, 3) and result.size == (256, 192)
        previews = [size for size, caption in shown if "step t =" in caption]
        widths = [size[1] for size in previews]
        assert widths == sorted(widths) and widths[0] <= 64 and widths[-1] == 256
        assert len(set(widths)) >= 4, "the model's scales, then each detail scale"
        captions = " ".join(caption for _, caption in shown)
        assert "Scale 1 of 2" in captions and "Detail scale 2 of 2 · 256×192" in captions
        exported = tmp_path / "out.png"
        assert state.export_result(0, str(exported))
        with Image.open(exported) as im:
            assert im.size == (256, 192)
            record = json.loads(im.text["sinddm"])
        assert record["resolution"] == "256×192" and record["detail scales"].startswith("2 ")

        # The edits take photo pixels: regions on the photo, an object pasted onto it.
        state.generate(RegionsEdit(((Box(10, 10, 120, 90), Box(120, 90, 120, 90)),)))
        _idle(qtbot, state, 120_000)
        assert state.results[-1].image.shape == (192, 256, 3)
        background = state.training_image
        assert background.shape == (192, 256, 3), "the photo at its resolution"
        obj, shape = np.full((40, 60, 3), 250, np.uint8), np.ones((40, 60), bool)
        composite, mask = paste_object(background, obj, shape, Box(20, 20, 60, 40))
        state.generate(HarmonizeEdit(composite, mask, "pasted image"))
        _idle(qtbot, state, 120_000)
        harmonized = state.results[-1].image
        assert harmonized.shape == background.shape
        far = np.s_[140:, 180:]  # well outside the soft mask: the photo, blended back
        assert np.abs(harmonized[far].astype(int) - background[far]).max() <= 1

        # Stop during the second image's detail scales: the first, finished, is kept (each
        # image is finished before the next begins); nothing of the second is, no stray file.
        folder = result.path.parent
        kept = sorted(path.name for path in folder.iterdir())
        assert len(kept) == len(state.results) == 3
        slow_preview = engine_module.preview_of

        def slowly(plan, step):  # the GUI has time to stop the run at a detail scale
            if step.scale >= len(plan.sizes):
                time.sleep(0.3)
            return slow_preview(plan, step)

        monkeypatch.setattr(engine_module, "preview_of", slowly)
        stopped: list[str] = []

        def stop_at_detail(image, caption, region):
            second = len(state.results) == 4
            if second and caption.startswith("Detail scale") and not stopped:
                stopped.append(caption)
                state.cancel()

        state.canvas_changed.connect(stop_at_detail)
        state.set_count(2)
        state.set_seed(40)
        state.generate()
        _idle(qtbot, state, 120_000)
        assert stopped and [r.seed for r in state.results[3:]] == [40]
        assert sorted(path.name for path in folder.iterdir()) == sorted(
            [*kept, state.results[-1].path.name]
        )
    finally:
        assert state.shutdown()
