"""The main window and its panels, driven through their own methods (fake engine)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow


@pytest.fixture
def window(qtbot, fake_state, settings, monkeypatch):
    warnings = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text))
    )
    win = MainWindow(fake_state, ["auto", "cpu"], settings)
    win.warnings = warnings
    qtbot.addWidget(win)
    win.show()
    yield win


def _idle(qtbot, state):
    qtbot.waitUntil(lambda: not state.job, timeout=10_000)


def test_open_image_fills_train_panel_and_estimate(qtbot, window, fake_state):
    assert window.open_path("/photos/photo.png")
    _idle(qtbot, fake_state)
    panel = window.train_panel
    assert "64×48, 96×72" in panel.summary.text()
    assert "100, 53" in panel.summary.text()
    assert "Estimated training time" in panel.estimate.text()
    assert panel.train_button.isEnabled()
    assert not window.generate_panel.generate_button.isEnabled()
    assert window.canvas.caption.startswith("Training image")


def test_train_then_generate_twice_as_wide(qtbot, window, fake_state):
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(20)
    window.train_panel._on_options_edited()
    _idle(qtbot, fake_state)
    window.train_panel.train_button.click()
    _idle(qtbot, fake_state)
    assert window.tabs.currentWidget() is window.generate_panel
    panel = window.generate_panel
    panel.quick["2× wide"].click()
    assert (panel.width_box.value(), panel.height_box.value()) == (192, 72)
    panel.use_seed(5)
    panel.generate_button.click()
    _idle(qtbot, fake_state)
    assert window.results.count() == 1
    assert fake_state.engine.sample_calls[-1][1:3] == (5, (192, 72))
    assert "Seed 5" in window.canvas.caption
    assert fake_state.engine.fast_calls == [False]
    panel.fast.setChecked(True)
    panel.generate_button.click()
    _idle(qtbot, fake_state)
    assert fake_state.engine.fast_calls == [False, True]


def test_aspect_lock_keeps_ratio(qtbot, window, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    panel = window.generate_panel
    panel.lock_aspect.setChecked(True)
    panel.width_box.setValue(192)
    assert panel.height_box.value() == 144


def test_errors_show_a_dialog(qtbot, window):
    window.open_path("/photos/bad.png")
    assert window.warnings and "not an image" in window.warnings[-1]


def test_dropping_a_model_opens_it(qtbot, window, fake_state, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.sinddm"))])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert fake_state.model is not None and fake_state.model.path.endswith("dropped.sinddm")
    assert window.generate_panel.generate_button.isEnabled()


def test_recent_files_are_remembered(qtbot, window, settings):
    window.open_path("/photos/photo.png")
    assert window._recent()[0] == "/photos/photo.png"
    assert window.recent_menu.actions()[0].data() == "/photos/photo.png"
    _idle(qtbot, window.state)


def test_closing_during_training_asks_then_saves_and_closes(qtbot, window, fake_state, monkeypatch):
    fake_state.engine.step_delay = 0.01
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(100_000)
    window.train_panel._on_options_edited()
    _idle(qtbot, fake_state)
    fake_state.train()
    qtbot.waitUntil(lambda: fake_state.job == "train", timeout=5000)
    monkeypatch.setattr(window, "_confirm_stop", lambda: True)
    window.close()
    assert window.isVisible()  # waits for the checkpoint
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert fake_state.model is not None and fake_state.model.steps_trained < 100_000


def test_escape_stops_generation(qtbot, window, fake_state, tmp_path):
    fake_state.engine.step_delay = 0.2
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    window.generate_panel.generate()
    qtbot.waitUntil(lambda: fake_state.job == "sample", timeout=5000)
    window.cancel_action.trigger()
    _idle(qtbot, fake_state)
    assert window.results.count() == 0


def test_trained_model_is_added_to_recent_files(qtbot, window, fake_state):
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(5)
    window.train_panel._on_options_edited()
    _idle(qtbot, fake_state)
    fake_state.train()
    _idle(qtbot, fake_state)
    assert window._recent()[0] == fake_state.model.path
