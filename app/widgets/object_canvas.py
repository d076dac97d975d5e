"""The harmonisation view: the background with the object on it, to move, scale and mask.

Mouse events become canvas pixels for app.object_placer.ObjectPlacer, which owns the
interaction; this widget only maps coordinates and paints. Outside the mask the object is shown
faint (and tinted while painting), so the user sees what will be pasted and what will not.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.object_placer import HANDLE, ObjectPlacer, Tool
from app.widgets.canvas import to_qimage
from app.widgets.display import ShownImage, fitted

OUTLINE = QColor(70, 200, 90)
BRUSH_COLOUR = QColor(240, 240, 120)
UNMASKED_ALPHA = {"move": 60, "paint": 110, "erase": 110}
"""How visible the object is where the mask does not cover it, per tool."""
HINTS = {
    "move": "Drag the object to move it; drag its corner or turn the wheel to scale it.",
    "paint": "Paint over the object to add to its mask (the part that is pasted).",
    "erase": "Paint to take away from the object's mask.",
}
HANDLE_PX = 8
"""Screen pixels around the object's corner that grab it for scaling (at least HANDLE canvas
pixels): a 4 MP background is shown at a third of its size or less."""


class ObjectCanvas(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)  # for the brush outline
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.placer: ObjectPlacer | None = None
        self._background: np.ndarray | None = None
        self._object: np.ndarray | None = None
        self._background_image: ShownImage | None = None
        self._object_image: QImage | None = None
        self._pointer: QPointF | None = None

    # -------------------------------------------------------------------- data

    @property
    def background(self) -> np.ndarray | None:
        return self._background

    def set_background(self, image: np.ndarray | None) -> None:
        """H×W×3 uint8; the object stays where it was, kept on the new canvas."""
        self._background = image
        self._background_image = ShownImage(image) if image is not None else None
        if image is not None and self.placer is not None:
            self.placer.set_canvas_size((image.shape[1], image.shape[0]))
        self.update()

    def set_object(self, pixels: np.ndarray, mask: np.ndarray) -> None:
        """A new object (h×w×3 uint8, mask h×w bool), centred on the background."""
        if self._background is None:
            raise ValueError("set a background before placing an object")
        self._object = pixels
        height, width = self._background.shape[:2]
        tool, brush = (self.placer.tool, self.placer.brush) if self.placer else ("move", 6)
        self.placer = ObjectPlacer.centred((width, height), mask)
        self.placer.tool, self.placer.brush = tool, brush
        self._refresh_object()
        self.changed.emit()

    def compose(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(composite, mask) as placed, or None when there is nothing to compose."""
        if self.placer is None or self._background is None or self._object is None:
            return None
        return self.placer.compose(self._background, self._object)

    def set_tool(self, tool: Tool, brush: int | None = None) -> None:
        if self.placer is not None:
            self.placer.tool = tool
            if brush is not None:
                self.placer.brush = brush
            self._refresh_object()

    def set_mask(self, mask: np.ndarray) -> None:
        if self.placer is not None:
            self.placer.set_mask(mask)
            self._refresh_object()
            self.changed.emit()

    def undo(self) -> None:
        if self.placer is not None and self.placer.undo():
            self._refresh_object()
            self.changed.emit()

    def _refresh_object(self) -> None:
        """Rebuild the object's picture: opaque on the mask, faint (tinted when painting) off it."""
        if self.placer is None or self._object is None:
            self._object_image = None
            self.update()
            return
        pixels = self._object.astype(np.float32)
        mask = self.placer.mask
        if self.placer.tool != "move":
            pixels[~mask] = 0.5 * pixels[~mask] + 0.5 * np.array([220, 60, 60], np.float32)
        alpha = np.where(mask, 255, UNMASKED_ALPHA[self.placer.tool]).astype(np.uint8)
        self._object_image = to_qimage(np.dstack([pixels.astype(np.uint8), alpha]))
        self.update()

    # ---------------------------------------------------------------- geometry

    def view_geometry(self) -> tuple[QRectF, float]:
        """Where the background is drawn and its scale (screen px per canvas px)."""
        area = QRectF(self.rect().adjusted(12, 12, -12, -30))
        if self._background is None:
            return area, 1.0
        height, width = self._background.shape[:2]
        return fitted(area, (width, height))

    def to_canvas(self, x: float, y: float) -> tuple[int, int]:
        rect, scale = self.view_geometry()
        return int((x - rect.left()) / scale), int((y - rect.top()) / scale)

    # ------------------------------------------------------------------ events

    def mousePressEvent(self, event) -> None:
        if self.placer is not None and event.button() == Qt.MouseButton.LeftButton:
            self.placer.handle = max(HANDLE, HANDLE_PX / self.view_geometry()[1])
            self.placer.press(*self.to_canvas(event.position().x(), event.position().y()))
            self._after_edit()

    def mouseMoveEvent(self, event) -> None:
        self._pointer = event.position()
        if self.placer is not None and self.placer.dragging:
            self.placer.move(*self.to_canvas(event.position().x(), event.position().y()))
            self._after_edit()
        else:
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self.placer is not None and self.placer.dragging:
            self.placer.release(*self.to_canvas(event.position().x(), event.position().y()))
            self._after_edit()
            self.changed.emit()

    def wheelEvent(self, event) -> None:
        if self.placer is None:
            return
        notches = event.angleDelta().y() / 120
        if notches:
            self.placer.scale_by(1.1**notches)
            self.update()
            self.changed.emit()

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            return
        super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:
        self._pointer = None
        self.update()

    def _after_edit(self) -> None:
        if self.placer is not None and self.placer.tool != "move":
            self._refresh_object()
        else:
            self.update()

    # ---------------------------------------------------------------- painting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 38, 42))
        rect, scale = self.view_geometry()
        if self._background_image is None:
            self._caption(painter, "Open or train a model first: its image is the background.")
            return
        self._background_image.draw(painter, rect)
        if self.placer is None or self._object_image is None:
            self._caption(painter, "Choose an object image, or paste one, to place it here.")
            return
        box = self.placer.box
        shown = QRectF(
            rect.left() + box.x * scale, rect.top() + box.y * scale, box.w * scale, box.h * scale
        )
        painter.save()
        painter.setClipRect(rect)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(shown, self._object_image)
        painter.setPen(QPen(OUTLINE, 1, Qt.PenStyle.DashLine))
        painter.drawRect(shown)
        painter.fillRect(
            QRectF(shown.right() - 3, shown.bottom() - 3, 7, 7), OUTLINE
        )  # the scaling handle
        if self.placer.tool != "move" and self._pointer is not None:
            painter.setPen(QPen(BRUSH_COLOUR, 1))
            radius = self.placer.brush * scale
            painter.drawEllipse(self._pointer, radius, radius)
        painter.restore()
        self._caption(painter, HINTS[self.placer.tool] + " Ctrl+Z takes back a stroke.")

    def _caption(self, painter: QPainter, text: str) -> None:
        painter.setPen(QColor(210, 210, 215))
        painter.drawText(
            self.rect().adjusted(12, 0, -12, -8),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            text,
        )
