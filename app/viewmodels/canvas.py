"""The image the canvas shows, with its caption in words."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal


class CanvasImage(QObject):
    """What the canvas shows now; `changed(image, caption, guided)` with each new one."""

    changed = Signal(object, str, object)
    """(image H×W×3 uint8, caption, guided region H'×W' float in [0, 1] or None)"""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.caption = ""

    def show(self, image: np.ndarray, caption: str, guided: np.ndarray | None = None) -> None:
        self.image, self.caption = image, caption
        self.changed.emit(image, caption, guided)
