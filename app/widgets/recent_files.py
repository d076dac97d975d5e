"""File ▸ Open Recent: the files opened last, kept in the settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

MAX_RECENT = 8


class RecentFiles(QObject):
    """The recent files (newest first) and the menu that lists them; choosing one is an
    `open_requested(path)`."""

    open_requested = Signal(str)

    def __init__(self, settings: QSettings, menu: QMenu, parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.menu = settings, menu
        self.rebuild_menu()

    def paths(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):  # QSettings gives back a list of one as its only item
            return [value]
        return [str(path) for path in value] if isinstance(value, list) else []

    def remember(self, path: str) -> None:
        recent = [p for p in self.paths() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self.rebuild_menu()

    def rebuild_menu(self) -> None:
        self.menu.clear()
        for path in self.paths():
            action = self.menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(self._on_chosen)
        self.menu.setEnabled(bool(self.paths()))

    @Slot()
    def _on_chosen(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.open_requested.emit(str(action.data()))
