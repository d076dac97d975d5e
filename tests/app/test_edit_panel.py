"""The Edit tab: requests it builds, the region canvas's mouse mapping, and a real run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.engine import EditRequest, Engine
from app.main_window import MainWindow
from app.roi_editor import Pair
from app.state import AppState
from core.editing import Box, paste_object


@pytest.fixture
def window(qtbot, fake_state, settings, monkeypatch, tmp_path):
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a: None))
    win = MainWindow(fake_state, ["auto", "cpu"], settings)
    qtbot.addWidget(win)
    win.show()
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    win.tabs.setCurrentWidget(win.edit_panel)
    return win


def _idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _screen(canvas, pane, x, y) -> QPoint:
    rect, scale = canvas._panes()[pane]
    return QPoint(int(rect.left() + (x + 0.5) * scale), int(rect.top() + (y + 0.5) * scale))


def test_regions_are_drawn_with_the_mouse_and_sent_with_the_canvas_size(qtbot, window, fake_state):
    assert window.centre_stack.currentWidget() is window.regions
    canvas = window.regions
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_screen(canvas, "source", 10, 10))
    qtbot.mouseMove(canvas, _screen(canvas, "source", 40, 30))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_screen(canvas, "source", 40, 30))
    assert len(canvas.editor.pairs) == 1
    source = canvas.editor.pairs[0].source
    assert abs(source.w - 30) <= 1 and abs(source.h - 20) <= 1
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_screen(canvas, "source", 20, 20))
    qtbot.mouseMove(canvas, _screen(canvas, "canvas", 60, 40))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_screen(canvas, "canvas", 60, 40))
    assert len(canvas.editor.placed) == 1
    window.generate_panel.use_seed(9)
    window.edit_panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert edit.kind == "regions" and edit.pairs == tuple(canvas.editor.placed)
    assert window.tabs.currentWidget() is window.edit_panel, "an edit run keeps the Edit tab"
    assert fake_state.engine.sample_calls[-1][1:3] == (9, (96, 72))


def test_missing_inputs_are_explained_not_sent(qtbot, window, fake_state):
    window.edit_panel.run_button.click()
    assert "Place at least one region" in window.edit_panel.status.text()
    window.edit_panel.mode.setCurrentIndex(1)
    assert window.centre_stack.currentWidget() is window.canvas
    window.edit_panel.run_button.click()
    assert "prompt" in window.edit_panel.status.text()
    window.edit_panel.mode.setCurrentIndex(2)
    window.edit_panel.run_button.click()
    assert "content image" in window.edit_panel.status.text()
    assert fake_state.engine.edits == []


def test_style_transfer_offers_every_scale_finest_first(qtbot, window, fake_state, tmp_path):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(2)
    sizes = fake_state.model.sizes
    assert panel.style_scale.count() == len(sizes)
    assert panel.style_scale.currentData() == len(sizes) - 1
    panel.style_scale.setCurrentIndex(1)
    panel.content.path.setText(str(tmp_path / "content.png"))
    panel.style_t.setValue(30)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert (edit.kind, edit.scale, edit.start_step) == ("style-transfer", len(sizes) - 2, 30)
    assert edit.describe()["scale"] == len(sizes) - 2


def test_text_request_carries_prompt_settings_and_first_region(qtbot, window, fake_state):
    window.regions.editor.pairs.append(Pair(Box(1, 2, 20, 10)))
    panel = window.edit_panel
    panel.mode.setCurrentIndex(1)
    panel.prompt.setText("fire")
    panel.text_mode.setCurrentText("region")
    panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert (edit.kind, edit.prompt, edit.text_mode, edit.box) == (
        "text",
        "fire",
        "region",
        Box(1, 2, 20, 10),
    )


def test_real_engine_regions_and_style_transfer(qtbot, qapp, tmp_path, tiny_trainer):
    from core.checkpoint import save_trainer

    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    state = AppState(Engine(), tmp_path / "models")
    try:
        assert state.open_model(str(path))
        pairs = ((Box(0, 0, 40, 30), Box(50, 30, 40, 30)),)
        state.generate(120, 72, 1, 5, EditRequest("regions", pairs, strength=0.8))
        _idle(qtbot, state, 120_000)
        assert state.results[-1].size == (120, 72)
        assert state.results[-1].settings["edit"] == "regions"
        content = tmp_path / "content.png"
        Image.fromarray(np.full((50, 70, 3), 90, np.uint8)).save(content)
        state.generate(0, 0, 1, 1, EditRequest("style-transfer", image_path=str(content)))
        _idle(qtbot, state, 120_000)
        assert state.results[-1].image.shape == (50, 70, 3)
        background = state.training_image
        obj = np.full((12, 16, 3), 250, np.uint8)
        composite, mask = paste_object(background, obj, np.ones((12, 16), bool), Box(8, 6, 16, 12))
        edit = EditRequest("harmonize", image_path="pasted image", composite=composite, mask=mask)
        state.generate(0, 0, 1, 2, edit)
        _idle(qtbot, state, 120_000)
        result = state.results[-1]
        assert result.image.shape == background.shape and result.settings["edit"] == "harmonize"
        far = np.s_[40:, 60:]  # well outside the soft mask: the background, blended back
        assert np.abs(result.image[far].astype(int) - background[far]).max() <= 1
    finally:
        assert state.shutdown()


def test_clip_weights_choice_is_remembered(qtbot, fake_state, settings, tmp_path):
    first = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(first)
    first.edit_panel.clip_weights.setText(str(tmp_path / "clip.pt"))
    first.close()
    second = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(second)
    assert second.edit_panel.clip_weights.text() == str(tmp_path / "clip.pt")


def test_missing_clip_file_is_explained(qtbot, window, fake_state, tmp_path):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(1)
    panel.prompt.setText("fire")
    panel.clip_weights.setText(str(tmp_path / "nowhere" / "clip.pt"))
    panel.run_button.click()
    assert "No CLIP weights file" in panel.status.text()
    assert fake_state.engine.edits == []


def _object_file(tmp_path) -> str:
    """A 20×10 red cut-out: opaque in its left half, transparent in its right half."""
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0] = 220
    rgba[:, :10, 3] = 255
    path = tmp_path / "object.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return str(path)


def _object_screen(canvas, x, y) -> QPoint:
    rect, scale = canvas._view()
    return QPoint(int(rect.left() + (x + 0.5) * scale), int(rect.top() + (y + 0.5) * scale))


def test_harmonize_object_is_placed_with_its_alpha_and_sent(qtbot, window, fake_state, tmp_path):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(3)
    assert window.centre_stack.currentWidget() is window.objects
    panel.run_button.click()
    assert "Choose an object" in panel.status.text()
    assert panel.harmonize.load_object(_object_file(tmp_path))
    canvas = window.objects
    assert canvas.placer.box == Box(38, 31, 20, 10)  # centred on the 96×72 training image
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_object_screen(canvas, 40, 33))
    qtbot.mouseMove(canvas, _object_screen(canvas, 20, 13))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_object_screen(canvas, 20, 13))
    assert canvas.placer.box == Box(18, 11, 20, 10)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert edit.kind == "harmonize" and edit.composite.shape == (72, 96, 3)
    placed = np.argwhere(edit.mask > 0)
    assert placed.min(0).tolist() == [11, 18] and placed.max(0).tolist() == [20, 27]
    assert (edit.composite[11:21, 18:28, 0] == 220).all()


def test_harmonize_mask_is_painted_and_undone(qtbot, window, tmp_path):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(3)
    panel.harmonize.load_object(_object_file(tmp_path))
    canvas = window.objects
    placer = canvas.placer
    panel.harmonize.tools.button(1).click()  # Paint mask
    panel.harmonize.brush.setValue(2)
    assert placer.tool == "paint" and placer.brush == 2
    before = placer.mask.sum()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_object_screen(canvas, 53, 35))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_object_screen(canvas, 53, 35))
    assert placer.mask.sum() > before and placer.mask[:, 10:].any()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert placer.mask.sum() == before
    panel.harmonize.mask_clear()
    panel.run_button.click()
    assert "mask is empty" in panel.status.text()


def test_harmonize_object_can_be_pasted_and_files_used_instead(qtbot, window, fake_state):
    from PySide6.QtGui import QColor, QGuiApplication, QImage

    panel = window.edit_panel
    panel.mode.setCurrentIndex(3)
    image = QImage(12, 8, QImage.Format.Format_RGBA8888)
    image.fill(QColor(0, 0, 255, 0))
    QGuiApplication.clipboard().setImage(image)
    panel.harmonize.paste_object()
    assert panel.harmonize.object_name.text() == "pasted image, 12×8"
    assert not window.objects.placer.mask.any()  # fully transparent: nothing is the object
    panel.harmonize.use_files.setChecked(True)
    assert window.centre_stack.currentWidget() is window.canvas
    panel.run_button.click()
    assert "Choose the image and its mask" in panel.status.text()
    assert fake_state.engine.edits == []


def test_text_guided_region_is_shown_over_the_forming_image(
    qtbot, qapp, tmp_path, tiny_trainer, tiny_clip, monkeypatch, settings
):
    """A real text-guided run (tiny random CLIP): its mask reaches the canvas as an overlay,
    which View ▸ Show Guided Region hides."""
    from functools import partial

    import app.engine as engine_module
    from core.checkpoint import save_trainer
    from core.clip_guidance import ViewSettings, plan_text_guidance

    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)

    monkeypatch.setattr(Engine, "_clip", lambda self, weights, device: tiny_clip)
    small = ViewSettings(count=2, short_side=32, long_side_max=48)
    monkeypatch.setattr(
        engine_module, "plan_text_guidance", partial(plan_text_guidance, views=small)
    )
    errors = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a: errors.append(a[2])))
    state = AppState(Engine(), tmp_path / "models")
    window = MainWindow(state, ["cpu"], settings)
    qtbot.addWidget(window)
    guided = []
    state.canvas_changed.connect(lambda image, caption, region: guided.append(region))
    try:
        assert state.open_model(str(path))
        weights = tmp_path / "clip.pt"  # a local file: nothing to download (_clip is stubbed)
        weights.write_bytes(b"stub")
        edit = EditRequest("text", prompt="fire", strength=1.0, fill=0.3, clip_weights=str(weights))
        state.generate(96, 72, 1, 4, edit)
        _idle(qtbot, state, 120_000)
        assert errors == []
        region = next(r for r in reversed(guided) if r is not None)
        assert 0.15 < float((region > 0.5).mean()) < 0.5  # about the fill factor f = 0.3
        assert guided[-1] is not None, "the finished image keeps its guided region"
        assert window.canvas.has_guided_region and window.canvas.showing_guided
        window.guided_action.trigger()
        assert not window.canvas.showing_guided
        state.show_result(0)
        assert not window.canvas.has_guided_region
    finally:
        assert state.shutdown()


def test_text_tools_say_where_clip_weights_come_from(qtbot, window, fake_state, empty_clip_cache):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(1)
    assert "not on this computer yet" in panel.clip_status.text()
    assert panel.run_button.isEnabled()  # the first run downloads them
    panel.clip_weights.setText("no-such-tag")
    panel.check_clip()
    assert "no weights called" in panel.clip_status.text() and not panel.run_button.isEnabled()
    fake_state.engine.clip_failures = {"openai": "The download failed (offline)."}
    panel.clip_weights.setText("openai")
    panel.check_clip()
    assert "offline" in panel.clip_status.text() and not panel.run_button.isEnabled()
    assert panel.clip_retry.isVisibleTo(panel)
    panel.clip_retry.click()
    assert panel.run_button.isEnabled() and not panel.clip_retry.isVisibleTo(panel)


def test_first_text_run_downloads_weights_with_progress_or_says_why_not(
    qtbot, qapp, tmp_path, tiny_trainer, tiny_clip, monkeypatch, empty_clip_cache
):
    import time
    from functools import partial

    import app.engine as engine_module
    from core.checkpoint import save_trainer
    from core.clip_guidance import ViewSettings, plan_text_guidance
    from core.clip_weights import GuidanceUnavailableError

    def slow_download(model, tag, on_progress):
        for done in (0, 300_000_000, 600_000_000):
            on_progress(done, 600_000_000)
            time.sleep(0.6)  # several 0.25 s progress polls per value
        return "/cache/clip.safetensors"

    monkeypatch.setattr(engine_module, "download_weights", slow_download)
    monkeypatch.setattr(Engine, "_clip", lambda self, weights, device: tiny_clip)
    small = ViewSettings(count=2, short_side=32, long_side_max=48)
    monkeypatch.setattr(
        engine_module, "plan_text_guidance", partial(plan_text_guidance, views=small)
    )
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    state = AppState(Engine(), tmp_path / "models")
    texts, errors = [], []
    state.progress_changed.connect(lambda fraction, text: texts.append(text))
    state.error_raised.connect(lambda title, message: errors.append(message))
    edit = EditRequest("text", prompt="fire", strength=1.0, fill=0.3)
    try:
        assert state.open_model(str(path))
        state.generate(96, 72, 1, 0, edit)
        _idle(qtbot, state, 120_000)
        assert errors == [] and len(state.results) == 1
        assert any("Downloading CLIP weights (once): 300 of 600 MB" in t for t in texts)

        def offline(model, tag, on_progress):
            raise GuidanceUnavailableError("The CLIP weights 'openai' could not be downloaded.")

        monkeypatch.setattr(engine_module, "download_weights", offline)
        state.generate(96, 72, 1, 0, edit)
        _idle(qtbot, state, 120_000)
        assert "could not be downloaded" in errors[-1]
        assert "openai" in state.engine.clip_failures and len(state.results) == 1
    finally:
        assert state.shutdown()
