"""The main window's file dialogs: saving the model, exporting and copying images, with the
questions asked before a file is replaced."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.results import export_name
from app.state import AppState
from app.widgets.canvas import to_qimage
from app.widgets.filters import MODEL_FILTER
from app.widgets.results_strip import ResultsStrip
from core.errors import SinDDMError

NO_OVERWRITE_PROMPT = QFileDialog.Option.DontConfirmOverwrite
"""The window asks before replacing a file itself (`FileDialogs.may_replace`), once the file
name has its extension."""


class FileDialogs(QObject):
    """Asks where to save or export, remembers the folders chosen (in `settings`), and hands
    the answer to the view-model. `message` and `error_raised` go to the window's status bar
    and warning dialogs."""

    message = Signal(str)
    error_raised = Signal(str, str)

    def __init__(
        self, window: QWidget, state: AppState, settings: QSettings, results: ResultsStrip
    ):
        super().__init__(window)
        self.window, self.state, self.settings, self.results = window, state, settings, results

    def ask_open_path(self, title: str, key: str, filters: str) -> str:
        """A file to open ('' when cancelled); its folder is remembered under `key`."""
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.last_dir(key), filters)
        if path:
            self.settings.setValue(key, str(Path(path).parent))
        return path

    @Slot()
    def save_model(self) -> None:
        model = self.state.model
        if model is None:
            return
        suggestion = str(Path(self.last_dir("last_model_dir")) / Path(model.path).name)
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save model", suggestion, MODEL_FILTER, options=NO_OVERWRITE_PROMPT
        )
        if not path:
            return
        if not path.endswith(".sinddm"):
            path += ".sinddm"
        self.settings.setValue("last_model_dir", str(Path(path).parent))
        same = Path(path).resolve() == Path(model.path).resolve()
        if same or self.may_replace(path):  # saving onto itself replaces nothing
            self.state.save_model(path)

    @Slot()
    def export_selected(self) -> None:
        """Export the result selected in the strip, or the newest."""
        index = self.results.selected_index()
        if index is None and self.state.results:
            index = len(self.state.results) - 1
        if index is not None:
            self.export(index)

    @Slot(int)
    def export(self, index: int) -> None:
        path = self._ask_save_path(export_name(self.state.results[index]))
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        if self.may_replace(path):
            self.state.export_result(index, path)

    @Slot()
    def export_all(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Export all images to", self.last_dir("last_export_dir")
        )
        if not folder:
            return
        self.settings.setValue("last_export_dir", folder)
        replace = True
        existing = self.state.existing_exports(folder)
        if existing:
            answer = self._ask_replace_some(folder, existing)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            replace = answer == QMessageBox.StandardButton.Yes
        count = self.state.export_all(folder, replace=replace)
        self.message.emit(f"Exported {count} images to {folder}")

    @Slot()
    def copy_canvas(self) -> None:
        if self.state.canvas is not None:
            QGuiApplication.clipboard().setImage(to_qimage(self.state.canvas))
            self.message.emit("Copied the image to the clipboard")

    @Slot(int)
    def copy_result(self, index: int) -> None:
        try:
            image = self.state.results[index].image  # read back when not in memory
        except SinDDMError as exc:
            self.error_raised.emit("Cannot copy the image", str(exc))
            return
        QGuiApplication.clipboard().setImage(to_qimage(image))

    def may_replace(self, path: str) -> bool:
        """True when nothing is at `path`, or the user agrees to replace it. (The file dialog's
        own question is off: it would ask about the name before `.png` or `.sinddm` is added.)"""
        if not Path(path).exists():
            return True
        answer = QMessageBox.question(
            self.window,
            "Replace the file?",
            f"{Path(path).name} already exists in {Path(path).parent}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def last_dir(self, key: str) -> str:
        return str(self.settings.value(key, str(Path.home())))

    def _ask_save_path(self, name: str) -> str:
        start = str(Path(self.last_dir("last_export_dir")) / name)
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export image", start, "PNG images (*.png)", options=NO_OVERWRITE_PROMPT
        )
        if path:
            self.settings.setValue("last_export_dir", str(Path(path).parent))
        return path

    def _ask_replace_some(self, folder: str, names: list[str]) -> QMessageBox.StandardButton:
        """Yes: replace the files already there; No: export only the others; Cancel: neither."""
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        total = len(self.state.results)
        return QMessageBox.question(
            self.window,
            "Replace the files?",
            f"{len(names)} of the {total} images are already in {folder} ({shown}).\n\n"
            "Replace them? Choose No to keep them and export only the others.",
            QMessageBox.StandardButton.Yes
            | QMessageBox.StandardButton.No
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
