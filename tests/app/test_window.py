"""The main window and its panels, driven through their own methods (fake engine)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.main_window import MainWindow
from tests.app.fake_engine import INSTANT_DEFAULTS


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
    assert "Instant needs no training" in panel.versus.text() and panel.versus.isVisibleTo(panel)
    assert window.generate_panel.generate_button.isEnabled(), "Instant generates at once"
    assert window.tabs.currentWidget() is window.generate_panel
    assert "Instant" in window.canvas.caption and "photo.png" in window.canvas.caption
    assert not window.save_action.isEnabled(), "Instant has no model file to save"
    assert window.windowTitle() == "photo.png (Instant) — SinDDM Studio"


def test_open_a_photo_and_generate_without_training(qtbot, window, fake_state, tmp_path):
    from app.results import instant_results_folder

    photo = str(tmp_path / "photo.png")
    assert window.open_path(photo)
    _idle(qtbot, fake_state)
    panel = window.generate_panel
    assert panel.hint.text().startswith("Instant:")
    panel.random_seed.setChecked(False)
    panel.seed.setValue(4)
    panel.generate_button.click()
    qtbot.waitUntil(lambda: "Instant" in window.canvas.caption, timeout=5000)  # as it forms
    _idle(qtbot, fake_state)
    assert fake_state.engine.requests[-1].options == INSTANT_DEFAULTS
    assert window.canvas.caption == "Seed 4 · 96×72 · Instant (no training)"
    item = window.results.item(0)
    assert item.text() == "seed 4\nInstant" and "made by Instant" in item.toolTip()
    assert len(list(instant_results_folder(photo, fake_state.models_dir).glob("*.png"))) == 1
    assert window.recent_files() == [photo], "the photo, not Instant, is the recent file"


def test_generating_waits_for_training_and_says_so(qtbot, window, fake_state):
    fake_state.engine.step_delay = 0.01
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(100_000)
    window.train_panel.steps.editingFinished.emit()
    _idle(qtbot, fake_state)
    panel = window.generate_panel
    assert panel.generate_button.isEnabled()
    fake_state.train()
    qtbot.waitUntil(lambda: fake_state.job == "train", timeout=5000)
    assert not panel.generate_button.isEnabled() and not window.generate_action.isEnabled()
    assert panel.hint.text().startswith("Training is running. Generating waits")
    fake_state.cancel()
    _idle(qtbot, fake_state)
    assert fake_state.model.kind == "trained" and panel.generate_button.isEnabled()
    assert panel.hint.text().startswith("The model was trained at")


def test_train_then_generate_twice_as_wide(qtbot, window, fake_state):
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(20)
    window.train_panel.steps.editingFinished.emit()  # as when the user leaves the box
    _idle(qtbot, fake_state)
    window.train_panel.train_button.click()
    _idle(qtbot, fake_state)
    assert window.tabs.currentWidget() is window.generate_panel
    panel = window.generate_panel
    panel.quick["2× wide"].click()
    assert (panel.width_box.value(), panel.height_box.value()) == (192, 72)
    assert fake_state.size == (192, 72)
    panel.random_seed.setChecked(False)
    panel.seed.setValue(5)
    assert fake_state.seed == 5
    panel.generate_button.click()
    _idle(qtbot, fake_state)
    assert window.results.count() == 1
    assert fake_state.engine.sample_calls[-1][1:3] == (5, (192, 72))
    assert "Seed 5" in window.canvas.caption
    assert fake_state.engine.fast_calls == [False]
    panel.fast.setChecked(True)
    assert fake_state.fast
    panel.generate_button.click()
    _idle(qtbot, fake_state)
    assert fake_state.engine.fast_calls == [False, True]


def test_generate_panel_writes_its_settings_to_the_state_and_follows_them(
    qtbot, window, fake_state, tmp_path
):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    panel = window.generate_panel
    assert fake_state.size == (96, 72) and panel.width_box.value() == 96  # the model's size
    panel.width_box.setValue(120)
    assert fake_state.size == (120, 72)
    assert fake_state.seed is None and not panel.seed.isEnabled()
    panel.random_seed.setChecked(False)
    assert fake_state.seed == panel.seed.value() and panel.seed.isEnabled()
    panel.count.setValue(3)
    assert fake_state.count == 3
    fake_state.set_size(200, 100)
    fake_state.set_seed(42)
    fake_state.set_count(2)
    fake_state.set_fast(True)
    assert (panel.width_box.value(), panel.height_box.value()) == (200, 100)
    assert (panel.seed.value(), panel.random_seed.isChecked()) == (42, False)
    assert panel.count.value() == 2 and panel.fast.isChecked()
    fake_state.set_seed(None)
    assert panel.random_seed.isChecked() and not panel.seed.isEnabled()
    window.generate_action.trigger()
    _idle(qtbot, fake_state)
    count, _, size, _ = fake_state.engine.sample_calls[-1]
    assert (count, size) == (2, (200, 100)) and fake_state.engine.fast_calls[-1]


def test_use_this_seed_sets_the_states_seed_and_size(qtbot, window, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    fake_state.set_size(150, 60)
    fake_state.set_seed(11)
    fake_state.generate()
    _idle(qtbot, fake_state)
    fake_state.set_size(96, 72)
    fake_state.set_seed(None)
    window.tabs.setCurrentWidget(window.train_panel)
    window.results.use_seed_requested.emit(0)
    assert (fake_state.seed, fake_state.size) == (11, (150, 60))
    assert window.tabs.currentWidget() is window.generate_panel
    panel = window.generate_panel
    assert (panel.seed.value(), panel.width_box.value(), panel.height_box.value()) == (11, 150, 60)


def test_export_offers_the_results_export_name(qtbot, window, fake_state, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from app.results import export_name

    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    fake_state.set_seed(7)
    fake_state.generate()
    _idle(qtbot, fake_state)
    offered = []

    def ask(parent, title, start, filters, **options):
        offered.append(start)
        return str(tmp_path / "out"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(ask))
    window.export_action.trigger()
    assert offered[-1].endswith(export_name(fake_state.results[0]))
    assert export_name(fake_state.results[0]) == "sinddm_seed7_96x72.png"
    assert (tmp_path / "out.png").exists()


def test_fast_sampling_setting_is_remembered_through_the_state(qtbot, fake_state, settings):
    first = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(first)
    first.generate_panel.fast.setChecked(True)
    first.close()
    fake_state.set_fast(False)
    second = MainWindow(fake_state, ["cpu"], settings)
    qtbot.addWidget(second)
    assert fake_state.fast and second.generate_panel.fast.isChecked()


def test_a_model_joins_the_recent_files_once_it_has_opened(qtbot, window, fake_state, tmp_path):
    window.tabs.setCurrentWidget(window.train_panel)
    assert window.open_path(str(tmp_path / "bad.sinddm"))  # read in the worker, then refused
    _idle(qtbot, fake_state)
    assert window.warnings and str(tmp_path / "bad.sinddm") not in window.recent_files()
    assert window.tabs.currentWidget() is window.train_panel
    assert window.open_path(str(tmp_path / "good.sinddm"))
    _idle(qtbot, fake_state)
    assert window.recent_files()[0] == str(tmp_path / "good.sinddm")
    assert window.tabs.currentWidget() is window.generate_panel


def test_aspect_lock_keeps_ratio(qtbot, window, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)  # the model is read in the worker
    panel = window.generate_panel
    panel.lock_aspect.setChecked(True)
    panel.width_box.setValue(192)
    assert panel.height_box.value() == 144 and fake_state.size == (192, 144)
    panel.quick["2× wide"].click()  # a new aspect to keep
    panel.height_box.setValue(36)
    assert fake_state.size == (96, 36)


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
    _idle(qtbot, fake_state)
    assert fake_state.model is not None and fake_state.model.path.endswith("dropped.sinddm")
    assert window.generate_panel.generate_button.isEnabled()


def test_recent_files_are_remembered(qtbot, window, settings):
    window.open_path("/photos/photo.png")
    assert window.recent_files()[0] == "/photos/photo.png"
    assert window.recent_menu.actions()[0].data() == "/photos/photo.png"
    _idle(qtbot, window.state)


def test_closing_during_training_asks_then_saves_and_closes(qtbot, window, fake_state, monkeypatch):
    fake_state.engine.step_delay = 0.01
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(100_000)
    window.train_panel.steps.editingFinished.emit()  # as when the user leaves the box
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
    _idle(qtbot, fake_state)
    window.generate_panel.generate()
    qtbot.waitUntil(lambda: fake_state.job == "sample", timeout=5000)
    window.cancel_action.trigger()
    _idle(qtbot, fake_state)
    assert window.results.count() == 0


def test_trained_model_is_added_to_recent_files(qtbot, window, fake_state):
    window.open_path("/photos/photo.png")
    window.train_panel.steps.setValue(5)
    window.train_panel.steps.editingFinished.emit()  # as when the user leaves the box
    _idle(qtbot, fake_state)
    fake_state.train()
    _idle(qtbot, fake_state)
    assert window.recent_files()[0] == fake_state.model.path
