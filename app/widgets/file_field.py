"""A path with a Choose… button, for the Edit tab's image inputs."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from app.widgets.filters import IMAGE_FILTER


class FileField(QWidget):
    """A path with a Choose… button."""

    def __init__(self, caption: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = caption
        self.path = QLineEdit(placeholderText="no file chosen")
        button = QPushButton("Choose…")
        button.clicked.connect(self._choose)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(button)

    @Slot()
    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.caption, self.path.text(), IMAGE_FILTER)
        if path:
            self.path.setText(path)

    def value(self) -> str:
        return self.path.text().strip()
