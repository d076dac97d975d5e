"""The canvas's repeat preview: a tiled image shown twice along each tiled axis (2×2 for both),
so that the seams can be checked by eye. Only the view: the state's canvas, copying and every
export keep the single tile.

It stands between `AppState.canvas_changed` and `ImageCanvas.set_image`: an image is tiled when
it is a result whose recipe says so (core's plan.settings() records "tile"), or while a tiled
run forms (the state's last request).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.fill_tools import repeated, repeats
from app.state import AppState
from app.viewmodels.jobs import JobKind
from app.widgets.canvas import ImageCanvas


class RepeatPreview(QObject):
    toggled = Signal(bool)
    """The preview was switched on or off."""

    def __init__(self, state: AppState, canvas: ImageCanvas, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.enabled = True
        self.tile: str | None = None
        """How the image shown now is tiled (None: it is not)."""
        self._shown: tuple[np.ndarray | None, str, np.ndarray | None] = (None, "", None)

    def tile_of(self, image: np.ndarray) -> str | None:
        """How `image` is tiled: its result's recipe, or the running tiled generation's."""
        for result in reversed(self.state.results):
            if result.pixels is image:
                return result.settings.get("tile")
        request = self.state.request
        if self.state.job == JobKind.SAMPLE and request is not None:
            return request.tile
        return None

    @Slot(object, str, object)
    def show(self, image: np.ndarray | None, caption: str, guided: np.ndarray | None) -> None:
        self._shown = (image, caption, guided)
        self.tile = self.tile_of(image) if image is not None else None
        if image is None or self.tile is None or not self.enabled:
            self.canvas.set_image(image, caption, guided)
            return
        rows, cols = repeats(self.tile)
        tiled_guide = repeated(guided, self.tile) if guided is not None else None
        caption = f"{caption} · shown {cols}×{rows} (the image is one tile)"
        self.canvas.set_image(repeated(image, self.tile), caption, tiled_guide)

    @Slot(bool)
    def set_enabled(self, on: bool) -> None:
        if on == self.enabled:
            return
        self.enabled = on
        self.show(*self._shown)
        self.toggled.emit(on)
