"""Both engines after a training: Instant for the photo and the trained model, one click apart
(fake engine)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.messages import engine_choice
from app.viewmodels.results import result_caption
from core.requests import PLAIN_SAMPLING
from tests.app.fake_engine import INSTANT_DEFAULTS, FakeEngine

PHOTO = "/photos/photo.png"


def _idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _generate(qtbot, state, seed: int) -> None:
    state.set_seed(seed)
    state.generate()
    _idle(qtbot, state)


def _photo_then_training(qtbot, state, steps: int = 5) -> None:
    """Open the photo (Instant arrives), then train it to the end."""
    assert state.open_image(PHOTO)
    state.set_training_options("tiny", steps, "cpu")
    _idle(qtbot, state)
    state.train()
    _idle(qtbot, state)


def _stopped_training(qtbot, state) -> None:
    """Train for a few steps of many, then stop: the model can resume."""
    state.engine.step_delay = 0.01
    steps = []
    state.loss_changed.connect(lambda event: steps.append(event.step))
    state.train()
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=5000)
    state.cancel()
    _idle(qtbot, state)


# ------------------------------------------------------------------------- view-model


def test_a_finished_training_keeps_instant_beside_the_trained_model(qtbot, fake_state):
    _photo_then_training(qtbot, fake_state)
    assert [model.kind for model in fake_state.engines] == ["instant", "trained"]
    assert fake_state.model.kind == "trained", "the trained model is the current one"
    assert fake_state.image.path == PHOTO and fake_state.can_switch_engine
    assert "trained model" in fake_state.canvas_caption
    instant = fake_state.engines[0]
    assert (instant.path, instant.instant) == (PHOTO, True)


def test_switching_changes_the_engine_of_the_next_run_and_the_caption(qtbot, fake_state):
    _photo_then_training(qtbot, fake_state)
    models = []
    fake_state.model_changed.connect(lambda: models.append(fake_state.model.kind))
    assert fake_state.use_engine("instant")
    assert fake_state.model.kind == "instant" and models == ["instant"]
    assert not fake_state.busy, "no job: both are loaded"
    assert "Instant" in fake_state.canvas_caption
    _generate(qtbot, fake_state, 1)
    assert fake_state.engine.requests[-1].options == INSTANT_DEFAULTS, "Instant's own"
    assert fake_state.use_engine("trained")
    assert "trained model" in fake_state.canvas_caption
    _generate(qtbot, fake_state, 2)
    assert fake_state.engine.requests[-1].options == PLAIN_SAMPLING
    assert [r.settings["engine"] for r in fake_state.results] == ["instant", "trained"]
    assert fake_state.use_engine("trained") and models == ["instant", "trained"], "no change"


def test_results_of_both_engines_stay_in_the_strip_with_their_engine(qtbot, fake_state):
    assert fake_state.open_image(PHOTO)
    fake_state.set_training_options("tiny", 5, "cpu")
    _idle(qtbot, fake_state)
    _generate(qtbot, fake_state, 1)  # Instant, before any training
    fake_state.train()
    _idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [1], "Instant's result stays"
    _generate(qtbot, fake_state, 2)
    fake_state.use_engine("instant")
    assert [r.seed for r in fake_state.results] == [1, 2], "switching keeps the strip"
    _generate(qtbot, fake_state, 3)
    engines = [r.settings["engine"] for r in fake_state.results]
    assert engines == ["instant", "trained", "instant"]
    captions = [result_caption(r) for r in fake_state.results]
    assert captions[0].endswith("Instant (no training)")
    assert captions[1].endswith("trained model")


def test_a_resumed_training_does_not_repeat_the_results_shown(qtbot, fake_state):
    assert fake_state.open_image(PHOTO)
    fake_state.set_training_options("tiny", 100_000, "cpu")
    _idle(qtbot, fake_state)
    _generate(qtbot, fake_state, 1)
    _stopped_training(qtbot, fake_state)
    assert fake_state.can_resume and fake_state.model.kind == "trained"
    _generate(qtbot, fake_state, 2)
    path = fake_state.model.path
    _stopped_training(qtbot, fake_state)  # resumes: the model's stored results come back
    assert fake_state.engine.trainings[-1] == (path, True)
    assert [r.seed for r in fake_state.results] == [1, 2]


def test_train_with_instant_chosen_trains_the_photo_anew(qtbot, fake_state):
    assert fake_state.open_image(PHOTO)
    fake_state.set_training_options("tiny", 100_000, "cpu")
    _idle(qtbot, fake_state)
    _stopped_training(qtbot, fake_state)
    stopped = fake_state.model.path
    assert fake_state.use_engine("instant") and not fake_state.can_resume
    assert fake_state.can_train
    fake_state.set_training_options("tiny", 5, "cpu")
    fake_state.train()
    _idle(qtbot, fake_state)
    path, resumed = fake_state.engine.trainings[-1]
    assert not resumed and path != stopped, "a new model file: the stopped one is kept"
    assert fake_state.model.steps_trained == 5 and fake_state.model.path == path
    assert [model.kind for model in fake_state.engines] == ["instant", "trained"]


def test_save_model_works_for_the_trained_model_only(qtbot, fake_state, tmp_path):
    _photo_then_training(qtbot, fake_state)
    fake_state.use_engine("instant")
    assert not fake_state.save_model(str(tmp_path / "instant.sinddm")), "Instant has no file"
    fake_state.use_engine("trained")
    target = tmp_path / "kept.sinddm"
    assert fake_state.save_model(str(target))
    _idle(qtbot, fake_state)
    assert fake_state.model.path == str(target)
    fake_state.use_engine("instant")
    fake_state.use_engine("trained")
    assert fake_state.model.path == str(target), "the saved path is kept across switches"


def test_switching_is_refused_while_busy_or_without_that_engine(qtbot, fake_state):
    assert not fake_state.use_engine("instant"), "nothing open"
    assert fake_state.open_image(PHOTO)
    fake_state.set_training_options("tiny", 100_000, "cpu")
    _idle(qtbot, fake_state)
    assert not fake_state.use_engine("trained") and not fake_state.can_switch_engine
    fake_state.engine.step_delay = 0.01
    fake_state.train()
    qtbot.waitUntil(lambda: fake_state.job == "train", timeout=5000)
    fake_state.cancel()
    _idle(qtbot, fake_state)
    fake_state.generate()
    assert fake_state.busy and not fake_state.can_switch_engine
    assert not fake_state.use_engine("instant") and fake_state.model.kind == "trained"
    _idle(qtbot, fake_state)


def test_a_canvas_size_left_as_it_was_follows_the_engine(qtbot, fake_state):
    fake_state.engine.instant_sizes = ((40, 30), (80, 60))
    _photo_then_training(qtbot, fake_state)
    assert fake_state.size == (96, 72)
    fake_state.use_engine("instant")
    assert fake_state.size == (80, 60), "the training size of the engine in use"
    fake_state.set_size(200, 50)
    fake_state.use_engine("trained")
    assert fake_state.size == (200, 50), "a size the user chose stays"


def test_opening_another_photo_or_a_model_file_closes_both(qtbot, fake_state, tmp_path):
    _photo_then_training(qtbot, fake_state)
    assert fake_state.open_image("/photos/other.png")
    _idle(qtbot, fake_state)
    assert [(m.kind, m.path) for m in fake_state.engines] == [("instant", "/photos/other.png")]
    assert fake_state.model.instant and not fake_state.can_switch_engine
    _photo_then_training(qtbot, fake_state)
    assert fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    assert [(m.kind, m.path) for m in fake_state.engines] == [
        ("trained", str(tmp_path / "m.sinddm"))
    ]
    assert fake_state.image is None and not fake_state.use_engine("instant")


def test_the_switch_names_a_long_model_by_both_ends():
    model = FakeEngine.summary("/m/a_very_long_holiday_photo-20250101-120000.sinddm", 5, 5, True)
    assert engine_choice(model) == "Trained: a_very_long…0101-120000"
    assert engine_choice(replace(model, path="/m/short.sinddm")) == "Trained: short"
    assert engine_choice(replace(model, kind="instant")) == "Instant (no training)"


# ----------------------------------------------------------------------------- window


@pytest.fixture
def window(window, monkeypatch):
    """conftest's window; a test that fails while a job runs closes it busy: no modal
    "Stop and quit?"."""
    no = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *args, **kwargs: no))
    return window


def test_the_engine_box_offers_both_only_after_a_training(qtbot, window, fake_state):
    box, actions = window.generate_panel.engine, window.engine_actions
    assert box.count() == 0 and not box.isEnabled() and box.currentIndex() == -1
    assert not any(action.isChecked() or action.isEnabled() for action in actions.values())
    window.open_path(PHOTO)
    window.train_panel.steps.setValue(5)
    window.train_panel.steps.editingFinished.emit()
    _idle(qtbot, fake_state)
    assert [box.itemText(i) for i in range(box.count())] == ["Instant (no training)"]
    assert not box.isEnabled(), "nothing to switch to"
    assert actions["instant"].isChecked() and not actions["trained"].isChecked()
    assert not any(action.isEnabled() for action in actions.values())
    window.train_panel.train_button.click()
    _idle(qtbot, fake_state)
    name = fake_state.model.path.rsplit("/", 1)[-1]
    texts = [box.itemText(i) for i in range(box.count())]
    assert texts == ["Instant (no training)", f"Trained: {name.removesuffix('.sinddm')}"]
    assert box.itemData(1, Qt.ItemDataRole.ToolTipRole) == fake_state.model.path
    assert box.isEnabled() and box.currentData() == "trained"
    assert window.windowTitle() == f"{name} (trained model) — SinDDM Studio"
    assert window.engine_status.text() == f"Generate uses the trained model {name}"
    assert window.save_action.isEnabled()
    box.setCurrentIndex(0)
    assert fake_state.model.kind == "instant"
    assert window.windowTitle() == "photo.png (Instant) — SinDDM Studio"
    assert window.engine_status.text() == "Generate uses Instant (no training)"
    assert "Instant" in window.canvas.caption and not window.save_action.isEnabled()
    fake_state.use_engine("trained")  # from elsewhere: the box follows
    assert box.currentData() == "trained" and actions["trained"].isChecked()
    assert actions["trained"].text() == texts[1] and not actions["instant"].isChecked()
    window.open_path("/photos/other.png")  # another photo: its Instant only
    _idle(qtbot, fake_state)
    assert [box.itemText(i) for i in range(box.count())] == ["Instant (no training)"]
    assert actions["instant"].isChecked() and actions["trained"].text() == "Trained model"
    assert window.windowTitle() == "other.png (Instant) — SinDDM Studio"


def test_the_engine_box_and_menu_are_off_while_busy(qtbot, window, fake_state):
    window.open_path(PHOTO)
    window.train_panel.steps.setValue(5)
    window.train_panel.steps.editingFinished.emit()
    _idle(qtbot, fake_state)
    fake_state.train()
    _idle(qtbot, fake_state)
    box, actions = window.generate_panel.engine, window.engine_actions
    assert box.isEnabled() and all(action.isEnabled() for action in actions.values())
    fake_state.engine.step_delay = 0.05
    fake_state.generate()
    assert fake_state.job == "sample"
    assert not box.isEnabled() and not any(action.isEnabled() for action in actions.values())
    _idle(qtbot, fake_state)
    assert box.isEnabled()
    actions["instant"].trigger()
    assert fake_state.model.kind == "instant" and box.currentData() == "instant"
    assert actions["instant"].isChecked() and not actions["trained"].isChecked()


def test_the_train_tab_resumes_the_trained_model_and_trains_anew_from_instant(
    qtbot, window, fake_state
):
    window.open_path(PHOTO)
    window.train_panel.steps.setValue(100_000)
    window.train_panel.steps.editingFinished.emit()
    _idle(qtbot, fake_state)
    _stopped_training(qtbot, fake_state)
    panel = window.train_panel
    assert panel.train_button.text() == "Resume training" and panel.train_button.isEnabled()
    assert "choose Instant in Generate" in panel.summary.text()
    fake_state.use_engine("instant")
    assert panel.train_button.text() == "Train" and panel.train_button.isEnabled()
    assert "photo.png" in panel.summary.text() and panel.versus.isVisibleTo(panel)


def test_the_strip_names_the_engine_of_each_result(qtbot, window, fake_state):
    window.open_path(PHOTO)
    window.train_panel.steps.setValue(5)
    window.train_panel.steps.editingFinished.emit()
    _idle(qtbot, fake_state)
    _generate(qtbot, fake_state, 1)
    fake_state.train()
    _idle(qtbot, fake_state)
    _generate(qtbot, fake_state, 2)
    strip = window.results
    assert [strip.item(i).text() for i in range(strip.count())] == [
        "seed 1\nInstant",
        "seed 2\ntrained",
    ]
    assert strip.item(0).toolTip().endswith("made by Instant (no training)")
    assert strip.item(1).toolTip().endswith("made by trained model")
    strip.setCurrentRow(0)
    assert window.canvas.caption == "Seed 1 · 96×72 · Instant (no training)"
    strip.setCurrentRow(1)
    assert window.canvas.caption == "Seed 2 · 96×72 · trained model"
