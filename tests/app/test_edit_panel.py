"""The Edit tab: requests it builds, the region canvas's mouse mapping, and a real run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.engine import Engine
from app.main_window import MainWindow
from app.roi_editor import Pair
from app.state import AppState
from app.worker import JobRunner
from core.requests import Box, HarmonizeEdit, RegionsEdit, StyleTransferEdit, TextEdit
from tests.app.slider_drag import drag_slider


@pytest.fixture
def window(window, qtbot, fake_state, tmp_path):
    """conftest's window with a model open, on the Edit tab."""
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    qtbot.waitUntil(lambda: not fake_state.job, timeout=10_000)  # read in the worker
    window.tabs.setCurrentWidget(window.edit_panel)
    return window


def _idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _screen(canvas, pane, x, y) -> QPoint:
    rect, scale = canvas.panes()[pane]
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
    fake_state.set_seed(9)
    window.edit_panel.run_button.click()
    _idle(qtbot, fake_state)
    edit = fake_state.engine.edits[-1]
    assert isinstance(edit, RegionsEdit) and edit.pairs == tuple(canvas.editor.placed)
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
    assert isinstance(edit, StyleTransferEdit)
    assert (edit.scale, edit.start_step) == (len(sizes) - 2, 30)
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
    assert isinstance(edit, TextEdit)
    assert (edit.prompt, edit.mode, edit.box) == ("fire", "region", Box(1, 2, 20, 10))


def test_clip_weights_choice_is_remembered(qtbot, fake_state, settings, tmp_path):
    first = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(first)
    first.edit_panel.clip_weights.setText(str(tmp_path / "clip.pt"))  # no Enter before quitting
    first.close()
    assert fake_state.clip_weights == str(tmp_path / "clip.pt")
    fake_state.set_clip_weights("openai")
    second = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(second)
    assert fake_state.clip_weights == str(tmp_path / "clip.pt")
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
    rect, scale = canvas.view_geometry()
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
    assert isinstance(edit, HarmonizeEdit) and edit.composite.shape == (72, 96, 3)
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
    qtbot, qapp, tmp_path, tiny_trainer, tiny_clip, few_views, monkeypatch, settings
):
    """A real text-guided run (tiny random CLIP): its mask reaches the canvas as an overlay,
    which View ▸ Show Guided Region hides."""
    from core.files.model_file import save_trainer

    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)

    errors = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a: errors.append(a[2])))
    engine = Engine(clip_loader=lambda name, weights, device: tiny_clip, planner=few_views)
    state = AppState(engine, tmp_path / "models", JobRunner())
    window = MainWindow(state, ["cpu"], settings)
    qtbot.addWidget(window)
    guided = []
    state.canvas_changed.connect(lambda image, caption, region: guided.append(region))
    try:
        assert state.open_model(str(path))
        _idle(qtbot, state)
        weights = tmp_path / "clip.pt"  # a local file: nothing to download (CLIP is the tiny one)
        weights.write_bytes(b"stub")
        state.set_size(96, 72)
        state.set_seed(4)
        state.generate(TextEdit("fire", strength=1.0, fill=0.3, clip_weights=str(weights)))
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
    qtbot.keyClicks(panel.clip_weights, "-and-no-such-tag")
    qtbot.keyClick(panel.clip_weights, Qt.Key.Key_Return)
    assert fake_state.clip_weights == "openai-and-no-such-tag"
    assert "no weights called" in panel.clip_status.text() and not panel.run_button.isEnabled()
    panel.clip_weights.setText("openai")
    panel.check_clip()
    assert panel.run_button.isEnabled()
    fake_state.engine.download_failure = "The download failed (offline)."
    panel.prompt.setText("fire")
    panel.run_button.click()  # the run tries the download, which fails
    _idle(qtbot, fake_state)
    assert "offline" in panel.clip_status.text() and not panel.run_button.isEnabled()
    assert panel.clip_retry.isVisibleTo(panel)
    panel.clip_retry.click()
    assert panel.run_button.isEnabled() and not panel.clip_retry.isVisibleTo(panel)
    assert "not on this computer yet" in panel.clip_status.text()


def _type(qtbot, field, text: str) -> None:
    """Type a value into a SliderField's box, as a user does."""
    field.spin.lineEdit().selectAll()
    qtbot.keyClicks(field.spin, text)
    qtbot.keyClick(field.spin, Qt.Key.Key_Return)


def _run(qtbot, window, state):
    window.edit_panel.run_button.click()
    _idle(qtbot, state)
    return state.engine.edits[-1]


def test_region_strength_slider_reaches_the_request(qtbot, qapp, window, fake_state):
    panel = window.edit_panel
    assert panel.region_strength.value() == pytest.approx(0.8)  # η's default
    window.regions.editor.pairs.append(Pair(Box(0, 0, 20, 10), Box(5, 5, 20, 10)))
    qapp.processEvents()  # lay the page out, so the slider has its size
    drag_slider(qtbot, panel.region_strength.slider, 1.0)
    assert _run(qtbot, window, fake_state).strength == pytest.approx(1.0)
    _type(qtbot, panel.region_strength, "0.35")
    assert panel.region_strength.slider.value() == 7
    assert _run(qtbot, window, fake_state).strength == pytest.approx(0.35)


def test_text_strength_and_fill_sliders_reach_the_request(
    qtbot, qapp, window, fake_state, tmp_path
):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(1)
    weights = tmp_path / "clip.pt"  # a local file: usable at once
    weights.write_bytes(b"stub")
    panel.clip_weights.setText(str(weights))
    panel.prompt.setText("fire")
    qapp.processEvents()
    assert (panel.text_strength.value(), panel.fill.value()) == (0.3, 0.3)
    drag_slider(qtbot, panel.text_strength.slider, 0.0)
    _type(qtbot, panel.fill, "0.45")
    edit = _run(qtbot, window, fake_state)
    assert isinstance(edit, TextEdit) and edit.clip_weights == str(weights)
    assert (edit.strength, edit.fill) == (0.0, pytest.approx(0.45))
    drag_slider(qtbot, panel.fill.slider, 1.0)
    _type(qtbot, panel.text_strength, "0.6")
    edit = _run(qtbot, window, fake_state)
    assert (edit.strength, edit.fill) == (pytest.approx(0.6), pytest.approx(1.0))


def test_style_transfer_and_harmonize_t_sliders_reach_the_request(
    qtbot, qapp, window, fake_state, tmp_path
):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(2)
    panel.content.path.setText(str(tmp_path / "content.png"))
    qapp.processEvents()
    assert panel.style_t.value() == 15  # STYLE_TRANSFER_STEP
    drag_slider(qtbot, panel.style_t.slider, 1.0)
    assert _run(qtbot, window, fake_state).start_step == 99
    _type(qtbot, panel.style_t, "42")
    edit = _run(qtbot, window, fake_state)
    assert edit.start_step == 42 and isinstance(edit.start_step, int)
    panel.mode.setCurrentIndex(3)
    harmonize = panel.harmonize
    harmonize.use_files.setChecked(True)
    harmonize.composite.path.setText(str(tmp_path / "composite.png"))
    harmonize.mask_file.path.setText(str(tmp_path / "mask.png"))
    qapp.processEvents()
    assert harmonize.start_step.value() == 5  # HARMONIZATION_STEP
    _type(qtbot, harmonize.start_step, "12")
    edit = _run(qtbot, window, fake_state)
    assert isinstance(edit, HarmonizeEdit) and edit.start_step == 12
    assert (edit.composite, edit.mask) == (
        str(tmp_path / "composite.png"),
        str(tmp_path / "mask.png"),
    )
    drag_slider(qtbot, harmonize.start_step.slider, 0.0)
    assert _run(qtbot, window, fake_state).start_step == 1


def test_edits_use_the_states_size_seed_count_and_speed(qtbot, window, fake_state):
    window.regions.editor.pairs.append(Pair(Box(0, 0, 20, 10), Box(5, 5, 20, 10)))
    fake_state.set_size(150, 60)
    assert window.regions.editor.canvas_size == (150, 60), "the region canvas follows"
    fake_state.set_seed(3)
    fake_state.set_count(2)
    fake_state.set_fast(True)
    _run(qtbot, window, fake_state)
    assert fake_state.engine.sample_calls[-1][:3] == (2, 3, (150, 60))
    assert fake_state.engine.fast_calls[-1]
    assert len(fake_state.results) == 2
