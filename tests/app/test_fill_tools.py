"""Heal, extend, tile and mirror in the Edit tab (issue 21): the requests built, the mask painted
and undone, impossible choices greyed out or refused in a dialog, the 2×2 repeat preview, and a
real run of each on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from app.fill_tools import HealMask, anchored, repeated, request_for
from core.errors import ConfigError
from core.imageio import RECIPE_KEY, read_png_metadata
from core.requests import ExtendEdit, HealEdit

HEAL, EXTEND, TILES = 4, 5, 6
"""The Edit tab's modes (app.widgets.edit_panel.MODES)."""


@pytest.fixture
def window(window, qtbot, fake_state, tmp_path):
    """conftest's window with a model open (its photo 96×72), on the Edit tab."""
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    qtbot.waitUntil(lambda: not fake_state.job, timeout=10_000)
    window.tabs.setCurrentWidget(window.edit_panel)
    return window


def _idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _at(canvas, x, y) -> QPoint:
    """Where photo pixel (x, y) is on the mask canvas."""
    rect, scale = canvas.view_geometry()
    return QPoint(int(rect.left() + (x + 0.5) * scale), int(rect.top() + (y + 0.5) * scale))


def _drag(qtbot, canvas, start, end) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, *start))
    qtbot.mouseMove(canvas, _at(canvas, *end))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, *end))


def test_heal_mask_is_painted_undone_boxed_and_sent(qtbot, window, fake_state):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(HEAL)
    assert window.centre_stack.currentWidget() is window.masks
    canvas, page = window.masks, panel.fill_pages.heal
    assert canvas.heal.size == (96, 72), "the mask is the photo's size"
    page.brush.setValue(3)
    _drag(qtbot, canvas, (10, 10), (30, 10))
    painted = canvas.heal.mask.copy()
    assert painted[10, 10:31].all() and not painted[20:].any()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not canvas.heal.mask.any(), "Ctrl+Z takes the stroke back"
    panel.run_button.click()
    assert "Paint over" in panel.status.text() and fake_state.engine.edits == []
    page.tools.button(2).click()  # Box
    _drag(qtbot, canvas, (40, 30), (60, 50))
    page.tools.button(1).click()  # Erase a corner of it
    _drag(qtbot, canvas, (41, 31), (41, 31))
    fake_state.set_seed(7)
    fake_state.set_count(2)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    edit = request.edit
    assert isinstance(edit, HealEdit) and edit.mask_name == "painted"
    assert edit.mask.shape == (72, 96) and edit.mask.dtype == np.uint8
    filled = np.argwhere(edit.mask == 255)
    assert filled.min(0).tolist() == [30, 40] and filled.max(0).tolist() == [49, 59]
    assert edit.mask[31, 41] == 0 and edit.mask[45, 55] == 255, "erased inside the box"
    assert set(np.unique(edit.mask)) == {0, 255}
    assert request.size is None, "heal keeps the photo's size"
    assert (request.count, request.seed, request.tile) == (2, 7, None)
    assert len(fake_state.results) == 2
    assert window.centre_stack.currentWidget() is window.canvas, "the result stays in view"
    page.tools.button(0).click()
    assert window.centre_stack.currentWidget() is window.masks


def test_heal_clear_is_undone_too(qtbot, window):
    window.edit_panel.mode.setCurrentIndex(HEAL)
    canvas, page = window.masks, window.edit_panel.fill_pages.heal
    page.tools.button(2).click()
    _drag(qtbot, canvas, (5, 5), (20, 20))
    before = canvas.heal.mask.sum()
    canvas.clear()
    assert not canvas.heal.mask.any()
    canvas.undo()
    assert canvas.heal.mask.sum() == before == 15 * 15


def test_extend_sends_its_canvas_and_anchor(qtbot, window, fake_state):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(EXTEND)
    assert window.centre_stack.currentWidget() is window.extend_view
    page = panel.fill_pages.extend
    assert page.canvas_size == (144, 72), "1.5 × the photo's width first"
    assert (page.width_box.minimum(), page.height_box.minimum()) == (96, 72)
    page.width_box.setValue(10)
    assert page.width_box.value() == 96, "never smaller than the photo"
    page.height_box.setValue(72)
    panel.run_button.click()
    assert "own size" in panel.status.text() and fake_state.engine.edits == []
    page.width_box.setValue(120)
    page.height_box.setValue(100)
    page.anchors.button(2).click()  # top-right
    assert page.anchor == "top-right"
    photo = window.extend_view.photo_rect()
    assert photo.top() < window.extend_view.height() / 3  # drawn at the top …
    panel.run_button.click()
    _idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    assert request.edit == ExtendEdit(size=(120, 100), anchor="top-right")
    assert request.size is None and request.edit.describe()["edit"] == "extend"


def test_extend_refusal_from_core_is_a_dialog(qtbot, window, fake_state, monkeypatch):
    """Should the spin boxes let a bad canvas through, core's ConfigError is a dialog."""
    from app.widgets import fill_page

    monkeypatch.setattr(fill_page, "extend_problem", lambda size, own: None)
    fake_state.engine.failure = ConfigError("The canvas 96×72 is the photo's own size.")
    panel = window.edit_panel
    panel.mode.setCurrentIndex(EXTEND)
    panel.fill_pages.extend.width_box.setValue(96)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    assert any("own size" in text for text in window.warnings)


def test_tile_and_mirror_reach_the_request_and_clashes_are_greyed(qtbot, window, fake_state):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(TILES)
    assert window.centre_stack.currentWidget() is window.canvas
    tiles = panel.fill_pages.tiles
    panel.run_button.click()
    assert "Choose a tile or a mirror" in panel.status.text() and fake_state.engine.requests == []
    tiles.tile.setCurrentIndex(1)  # horizontal
    enabled = [tiles.mirror.model().item(i).isEnabled() for i in range(3)]
    assert enabled == [True, False, True], "no left–right mirror with a horizontal tile"
    tiles.mirror.setCurrentIndex(2)  # top–bottom
    enabled = [tiles.tile.model().item(i).isEnabled() for i in range(4)]
    assert enabled == [True, True, False, False], "no vertical tile with a top–bottom mirror"
    fake_state.set_size(150, 60)
    fake_state.set_seed(4)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    assert (request.tile, request.mirror, request.edit) == ("x", "y", None)
    assert (request.size, request.seed) == ((150, 60), 4)


def test_a_tile_and_mirror_on_one_axis_is_refused_in_a_dialog(qtbot, window, fake_state):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(TILES)
    tiles = panel.fill_pages.tiles
    tiles.mirror.setCurrentIndex(1)
    tiles.tile.setCurrentIndex(3)  # both: greyed out, but set here all the same
    assert tiles.choice() == ("both", "x")
    panel.run_button.click()
    assert any("same axis" in text for text in window.warnings)
    assert fake_state.engine.requests == [] and not fake_state.job


def test_tiled_results_are_shown_repeated_and_exported_single(qtbot, window, fake_state, tmp_path):
    panel = window.edit_panel
    panel.mode.setCurrentIndex(TILES)
    panel.fill_pages.tiles.tile.setCurrentIndex(3)  # both
    fake_state.set_size(40, 30)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    shown = window.canvas._image
    assert (shown.width(), shown.height()) == (80, 60), "2×2 on the canvas"
    assert "2×2" in window.canvas.caption
    assert fake_state.canvas.shape == (30, 40, 3), "the state keeps the single tile"
    path = tmp_path / "tile.png"
    assert fake_state.export_result(0, str(path))
    with Image.open(path) as image:
        assert image.size == (40, 30)
    assert json.loads(read_png_metadata(path)[RECIPE_KEY])["tile"] == "both"
    window.repeat_action.trigger()  # View ▸ Repeat Tiled Images off
    assert window.canvas._image.width() == 40
    assert not panel.fill_pages.tiles.repeat.isChecked(), "the page's box follows"
    panel.fill_pages.tiles.repeat.setChecked(True)
    assert window.canvas._image.width() == 80 and window.repeat_action.isChecked()
    panel.fill_pages.tiles.tile.setCurrentIndex(1)  # horizontal: two side by side
    panel.run_button.click()
    _idle(qtbot, fake_state)
    assert (window.canvas._image.width(), window.canvas._image.height()) == (80, 30)
    fake_state.show_result(0)  # shown again from the strip: its recipe says tiled
    assert window.canvas._image.width() == 80 and window.canvas._image.height() == 60
    panel.mode.setCurrentIndex(0)
    window.regions.editor.pairs.clear()
    fake_state.generate()  # a plain image is shown as it is
    _idle(qtbot, fake_state)
    assert window.canvas._image.width() == 40


def test_fill_tools_plain_helpers():
    heal = HealMask((10, 8), tool="box")
    heal.press(8, 6)
    heal.move(20, 20)  # past the photo: kept on it
    heal.release(20, 20)
    assert heal.mask.sum() == 2 * 2 and heal.mask[6:8, 8:10].all()
    assert heal.undo() and not heal.mask.any() and not heal.undo()
    assert anchored((200, 100), (100, 50), "bottom-right") == (100, 50)
    assert anchored((200, 100), (100, 50), "center") == (50, 25)
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert repeated(image, "y").shape == (4, 3, 3) and repeated(image, "both").shape == (4, 6, 3)
    assert (repeated(image, "x")[:, 3:] == image).all()
    request = request_for((50, 40), 1, 0, None, HealEdit(mask=np.zeros((2, 2), np.uint8)))
    assert request.size is None
    with pytest.raises(ConfigError, match="same axis"):
        request_for((50, 40), 1, 0, None, None, tile="y", mirror="y")


def test_the_requests_built_are_what_core_plans(qtbot, window, fake_state, tiny_image, tmp_path):
    """The requests the Edit tab sends, planned by core for a real model of a photo of the same
    size (Instant, built in a moment): accepted, at the sizes meant, recorded in the recipe."""
    from core.files.open_model import open_diffusion_model
    from core.generation.plan import plan

    panel = window.edit_panel
    panel.mode.setCurrentIndex(HEAL)
    panel.fill_pages.heal.tools.button(2).click()
    _drag(qtbot, window.masks, (20, 20), (40, 35))
    panel.run_button.click()
    _idle(qtbot, fake_state)
    panel.mode.setCurrentIndex(EXTEND)
    panel.fill_pages.extend.anchors.button(6).click()  # bottom-left
    panel.run_button.click()
    _idle(qtbot, fake_state)
    panel.mode.setCurrentIndex(TILES)
    panel.fill_pages.tiles.tile.setCurrentIndex(1)
    panel.fill_pages.tiles.mirror.setCurrentIndex(2)
    fake_state.set_size(80, 48)
    panel.run_button.click()
    _idle(qtbot, fake_state)
    path = tmp_path / "photo.png"
    tiny_image.save(path)  # 96×72, as the fake model's photo
    model = open_diffusion_model(path, "cpu")
    heal, extend, tiled = (plan(model, request) for request in fake_state.engine.requests)
    assert heal.size == (96, 72) and heal.settings(model.device)["edit"] == "heal"
    assert extend.size == (144, 72)
    recipe = extend.settings(model.device)
    assert (recipe["edit"], recipe["anchor"], recipe["canvas"]) == (
        "extend",
        "bottom-left",
        "144×72",
    )
    assert tiled.size == (80, 48)
    assert (tiled.settings(model.device)["tile"], tiled.settings(model.device)["mirror"]) == (
        "x",
        "y",
    )


@pytest.mark.slow
def test_heal_extend_and_tile_run_on_a_real_model(qtbot, tmp_path, tiny_image, settings):
    """The app's requests as core takes them: Instant on a small photo heals at the photo's
    size, extends to the canvas asked for and tiles; each result records what it was."""
    from app.engine import Engine
    from app.main_window import MainWindow
    from app.state import AppState
    from app.worker import JobRunner

    path = tmp_path / "photo.png"
    tiny_image.save(path)
    state = AppState(Engine(), tmp_path / "models", JobRunner())
    window = MainWindow(state, ["cpu"], settings)
    qtbot.addWidget(window)
    errors: list[tuple[str, str]] = []
    state.error_raised.connect(lambda title, text: errors.append((title, text)))
    try:
        assert state.open_image(str(path))
        qtbot.waitUntil(lambda: state.model is not None, timeout=60_000)
        state.set_fast(True)
        state.set_seed(1)
        panel = window.edit_panel
        window.tabs.setCurrentWidget(panel)
        photo = state.model.photo_image
        panel.mode.setCurrentIndex(HEAL)
        window.edit_panel.fill_pages.heal.tools.button(2).click()
        _drag(qtbot, window.masks, (20, 20), (40, 35))
        panel.run_button.click()
        _idle(qtbot, state, 120_000)
        panel.mode.setCurrentIndex(EXTEND)
        panel.run_button.click()
        _idle(qtbot, state, 120_000)
        panel.mode.setCurrentIndex(TILES)
        panel.fill_pages.tiles.tile.setCurrentIndex(1)
        state.set_size(80, 48)
        panel.run_button.click()
        _idle(qtbot, state, 120_000)
        assert errors == []
        healed, extended, tiled = state.results
        height, width = photo.shape[:2]
        assert healed.size == (width, height) and healed.settings["edit"] == "heal"
        keep = np.ones((height, width), bool)
        keep[18:38, 18:43] = False  # the box and a margin: every other pixel is the photo's
        difference = np.abs(healed.image.astype(int) - photo.astype(int)).max(axis=2)
        assert difference[keep].max() <= 2
        assert extended.settings["edit"] == "extend"
        assert extended.size == (round(width * 1.5), height)
        assert tiled.settings["tile"] == "x" and tiled.size == (80, 48)
        assert window.canvas._image.width() == 160, "the tile shown twice side by side"
    finally:
        assert state.shutdown()
