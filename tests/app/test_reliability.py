"""Faults and careless use in the app (issue 12): no traceback, no lost work, no silent
overwrite. Dialogs are answered by replacing their functions, never by clicking."""

from __future__ import annotations

import errno
import hashlib

import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.main_window import MainWindow
from app.messages import BUG_TITLE
from app.results import results_folder
from core.training.presets import PRESETS
from tests.app.bad_files import unreadable_files

Yes, No, Cancel = (
    QMessageBox.StandardButton.Yes,
    QMessageBox.StandardButton.No,
    QMessageBox.StandardButton.Cancel,
)


@pytest.fixture
def window(qtbot, fake_state, settings, monkeypatch):
    """The main window; `warnings` records (title, text) of each warning dialog and
    `answers` is what the next questions answer (asked ones are kept in `questions`)."""
    warnings: list[tuple[str, str]] = []
    questions: list[str] = []
    answers: list[QMessageBox.StandardButton] = []

    def question(parent, title, text, *args):
        questions.append(text)
        return answers.pop(0)

    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda p, title, text: warnings.append((title, text)))
    )
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    win = MainWindow(fake_state, ["auto", "cpu"], settings)
    win.warnings, win.questions, win.answers = warnings, questions, answers
    qtbot.addWidget(win)
    win.show()
    return win


def _idle(qtbot, state):
    qtbot.waitUntil(lambda: not state.job, timeout=10_000)


def _with_results(qtbot, state, tmp_path, count: int = 1) -> None:
    """Open a model and generate `count` images, seeds 10, 11, … of 96×72."""
    state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, state)
    state.set_count(count)
    state.set_seed(10)
    state.generate()
    _idle(qtbot, state)
    assert len(state.results) == count


def _save_as(monkeypatch, path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), ""))
    )


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------- no silent overwrite


def test_export_asks_before_replacing_a_file(qtbot, window, fake_state, tmp_path, monkeypatch):
    _with_results(qtbot, fake_state, tmp_path)
    photo = tmp_path / "holiday.png"
    photo.write_bytes(b"the user's own photo")
    before = _digest(photo)
    _save_as(monkeypatch, tmp_path / "holiday")  # the extension is added after the dialog
    window.answers.append(No)
    window.export_action.trigger()
    assert len(window.questions) == 1 and "holiday.png already exists" in window.questions[0]
    assert _digest(photo) == before
    window.answers.append(Yes)
    window.export_action.trigger()
    with Image.open(photo) as im:
        assert im.size == (96, 72)
    _save_as(monkeypatch, tmp_path / "new.png")
    window.export_action.trigger()
    assert len(window.questions) == 2, "a new file needs no question"
    assert (tmp_path / "new.png").is_file()


def test_export_all_of_three_asks_once_then_keeps_or_replaces(
    qtbot, window, fake_state, tmp_path, monkeypatch
):
    _with_results(qtbot, fake_state, tmp_path, count=3)
    folder = tmp_path / "out"
    folder.mkdir()
    mine = folder / "sinddm_seed11_96x72.png"
    mine.write_bytes(b"an earlier export the user edited")
    before = _digest(mine)
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder))
    )
    window.answers.append(Cancel)
    window.export_all_action.trigger()
    assert sorted(p.name for p in folder.iterdir()) == [mine.name]
    assert "1 of the 3 images are already in" in window.questions[-1]
    window.answers.append(No)  # only the others
    window.export_all_action.trigger()
    assert len(list(folder.glob("*.png"))) == 3 and _digest(mine) == before
    assert window.statusBar().currentMessage() == f"Exported 2 images to {folder}"
    window.answers.append(Yes)
    window.export_all_action.trigger()
    assert _digest(mine) != before and window.warnings == []
    assert window.statusBar().currentMessage() == f"Exported 3 images to {folder}"


def test_save_model_asks_before_replacing_another_model(
    qtbot, window, fake_state, tmp_path, monkeypatch
):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    other = tmp_path / "other.sinddm"
    other.write_bytes(b"another model")
    _save_as(monkeypatch, tmp_path / "other")
    window.answers.append(No)
    window.save_action.trigger()
    _idle(qtbot, fake_state)
    assert fake_state.engine.saved == [] and other.read_bytes() == b"another model"
    window.answers.append(Yes)
    window.save_action.trigger()
    _idle(qtbot, fake_state)
    assert fake_state.engine.saved == [str(other)]
    _save_as(monkeypatch, other)  # onto itself: nothing is replaced, nothing asked
    window.save_action.trigger()
    _idle(qtbot, fake_state)
    assert len(window.questions) == 2


# ----------------------------------------------------------- full disk, read-only folder


def _full_disk(monkeypatch) -> None:
    """Every PNG write fails as on a full disk (inside core.imageio.atomic_write): encoding one,
    and copying a stored one (an export), whose data reaches the disk at fsync."""
    import core.imageio

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", no_space)
    monkeypatch.setattr(core.imageio.os, "fsync", no_space)


def _read_only_folder(monkeypatch) -> None:
    """Creating the temporary file fails as in a read-only folder (the tests run as root, for
    whom chmod does not make a folder read-only)."""
    import tempfile

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(tempfile, "mkstemp", denied)


@pytest.mark.parametrize("fault", [_full_disk, _read_only_folder])
def test_export_that_cannot_be_written_is_a_plain_dialog_and_keeps_the_results(
    qtbot, window, fake_state, tmp_path, monkeypatch, fault
):
    _with_results(qtbot, fake_state, tmp_path, count=3)
    fault(monkeypatch)
    _save_as(monkeypatch, tmp_path / "one.png")
    window.export_action.trigger()
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder))
    )
    window.export_all_action.trigger()
    assert [title for title, _ in window.warnings] == ["Cannot export", "Cannot export"]
    single, every = (text for _, text in window.warnings)
    reason = "No space left on device" if fault is _full_disk else "ermission"
    assert reason in single and "Traceback" not in single
    assert every.startswith("Exported 0 of 3 images.") and reason in every  # one dialog, not 3
    assert len(fake_state.results) == 3 and window.results.count() == 3
    assert not (tmp_path / "one.png").exists() and list(folder.iterdir()) == []


@pytest.mark.parametrize("fault", ["full disk", "read-only folder"])
def test_save_model_that_cannot_be_written_is_a_plain_dialog_and_loses_nothing(
    qtbot, window, fake_state, tmp_path, monkeypatch, fault
):
    model = tmp_path / "m.sinddm"
    _with_results(qtbot, fake_state, tmp_path, count=2)
    if fault == "full disk":  # the data reaches the disk only at fsync, which fails
        import core.imageio

        def no_space(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(core.imageio.os, "fsync", no_space)
    else:
        _read_only_folder(monkeypatch)
    target = tmp_path / "saved.sinddm"
    _save_as(monkeypatch, target)
    window.save_action.trigger()
    _idle(qtbot, fake_state)
    assert len(window.warnings) == 1
    title, text = window.warnings[0]
    assert title == "Cannot save the model" and title != BUG_TITLE
    assert ("No space left" if fault == "full disk" else "ermission") in text
    assert fake_state.model.path == str(model), "the model stays the one opened"
    assert len(fake_state.results) == 2 and window.results.count() == 2
    assert not target.exists() and not results_folder(target).exists()
    assert window.save_action.isEnabled(), "the user can try again elsewhere"
    assert list(tmp_path.glob(".saved.sinddm.*")) == [], "no temporary file left behind"


# ------------------------------------------------------------------------- presets


def test_a_preset_too_small_for_the_photo_is_refused_in_words(qtbot, window, fake_state):
    fake_state.engine.too_small_for = {"tiny"}
    window.open_path("/photos/long-strip.png")
    _idle(qtbot, fake_state)
    panel = window.train_panel
    steps = panel.steps.value()
    panel.preset.setCurrentIndex(panel.preset.findData("tiny"))  # raised in the slot before
    assert len(window.warnings) == 1
    title, text = window.warnings[0]
    assert title == "Cannot use this preset"
    assert "“Tiny (a quick look)” trains at up to 8,000 pixels" in text
    assert f"“{PRESETS['refine'].label}” stays chosen" in text
    assert fake_state.preset_name == "refine" and panel.preset.currentData() == "refine"
    assert panel.steps.value() == steps
    assert fake_state.image is not None and panel.train_button.isEnabled()


def test_a_photo_too_small_for_the_chosen_preset_says_another_may_fit(qtbot, window, fake_state):
    window.train_panel.preset.setCurrentIndex(window.train_panel.preset.findData("tiny"))
    _idle(qtbot, fake_state)
    fake_state.engine.too_small_for = {"tiny"}
    assert not window.open_path("/photos/long-strip.png")
    title, text = window.warnings[-1]
    assert title == "Cannot open the image" and "A preset with a larger limit may fit." in text


# --------------------------------------------------------------- Harmonize's object


@pytest.mark.parametrize(
    "kind", ["bomb", "warning bomb", "truncated", "text", "zero bytes", "folder", "missing"]
)
def test_harmonize_object_that_cannot_be_read_is_refused_in_words(
    qtbot, window, fake_state, tmp_path, kind
):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    page = window.edit_panel.harmonize
    path = unreadable_files(tmp_path / "bad")[kind]
    assert not page.load_object(str(path))
    status = window.edit_panel.status.text()
    assert path.name in status and "Traceback" not in status
    if "bomb" in kind:
        assert "too large to open safely" in status
    assert page.object_name.text() == "none yet" and window.objects.placer is None


def test_results_that_cannot_be_stored_are_kept_in_the_strip_and_said_once(
    qtbot, window, fake_state, tmp_path, monkeypatch
):
    """A full disk while generating: one dialog for the run, every image still in the strip."""
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    _idle(qtbot, fake_state)
    _full_disk(monkeypatch)
    fake_state.set_count(5)
    fake_state.generate()
    _idle(qtbot, fake_state)
    assert len(fake_state.results) == 5 and window.results.count() == 5
    assert [title for title, _ in window.warnings] == ["Cannot keep the result"]
    assert "No space left on device" in window.warnings[0][1]
    assert "export the ones you want to keep" in window.warnings[0][1]
