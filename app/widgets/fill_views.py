"""The views in the middle for Heal and Extend.

`MaskCanvas`: the photo with the area to heal tinted, painted with the mouse (app.fill_tools.
HealMask owns the painting; this widget maps coordinates and paints). `ExtendView`: the larger
canvas with the photo at its anchor, the rest to be generated.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.fill_tools import HealMask, MaskTool, anchored
from app.widgets.canvas import to_qimage
from app.widgets.display import ShownImage, fitted

BACKDROP = QColor(38, 38, 42)
MASK_TINT = (235, 60, 60)
MASK_ALPHA = 140
BRUSH_COLOUR = QColor(240, 240, 120)
MAX_OVERLAY_SIDE = 1024
"""The tint is drawn from the mask sampled to at most this side (a 4 MP photo repaints at
every mouse move while painting)."""
HINTS = {
    "paint": "Paint over what should go; Heal fills it from the rest of the photo.",
    "erase": "Paint to take away from the area to heal.",
    "box": "Drag a box over what should go.",
}
MARGINS = (12, 12, -12, -30)


def _caption(widget: QWidget, painter: QPainter, text: str) -> None:
    painter.setPen(QColor(210, 210, 215))
    painter.drawText(
        widget.rect().adjusted(12, 0, -12, -8),
        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
        text,
    )


class MaskCanvas(QWidget):
    changed = Signal()
    """The mask changed (a stroke, a box, an undo, a clearing)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)  # for the brush outline
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.heal: HealMask | None = None
        self._photo: ShownImage | None = None
        self._overlay: QImage | None = None
        self._pointer: QPointF | None = None

    # -------------------------------------------------------------------- data

    def set_photo(self, image: np.ndarray | None) -> None:
        """The photo to heal (H×W×3 uint8); the mask stays when the size does."""
        self._photo = ShownImage(image) if image is not None else None
        if image is None:
            self.heal = None
        else:
            size = (image.shape[1], image.shape[0])
            if self.heal is None or self.heal.size != size:
                tool, brush = (self.heal.tool, self.heal.brush) if self.heal else ("paint", 6)
                self.heal = HealMask(size, tool, brush)
        self._refresh()

    def set_tool(self, tool: MaskTool, brush: int) -> None:
        if self.heal is not None:
            self.heal.tool, self.heal.brush = tool, brush
        self.update()

    def clear(self) -> None:
        if self.heal is not None:
            self.heal.clear()
            self._refresh()
            self.changed.emit()

    def undo(self) -> None:
        if self.heal is not None and self.heal.undo():
            self._refresh()
            self.changed.emit()

    def _refresh(self) -> None:
        """Rebuild the tint from the mask (sampled down for a large photo)."""
        self._overlay = None
        if self.heal is not None and self.heal.mask.any():
            mask = self.heal.mask
            step = max(1, -(-max(mask.shape) // MAX_OVERLAY_SIDE))
            shown = mask[::step, ::step]
            rgba = np.zeros((*shown.shape, 4), np.uint8)
            rgba[..., :3] = MASK_TINT
            rgba[..., 3] = np.where(shown, MASK_ALPHA, 0)
            self._overlay = to_qimage(rgba)
        self.update()

    # ---------------------------------------------------------------- geometry

    def view_geometry(self) -> tuple[QRectF, float]:
        """Where the photo is drawn and its scale (screen px per photo px)."""
        area = QRectF(self.rect().adjusted(*MARGINS))
        if self.heal is None:
            return area, 1.0
        return fitted(area, self.heal.size)

    def to_photo(self, point: QPointF) -> tuple[int, int]:
        rect, scale = self.view_geometry()
        return int((point.x() - rect.left()) / scale), int((point.y() - rect.top()) / scale)

    # ------------------------------------------------------------------ events

    def mousePressEvent(self, event) -> None:
        if self.heal is not None and event.button() == Qt.MouseButton.LeftButton:
            self.heal.press(*self.to_photo(event.position()))
            self._after_edit()

    def mouseMoveEvent(self, event) -> None:
        self._pointer = event.position()
        if self.heal is not None and self.heal.dragging:
            self.heal.move(*self.to_photo(event.position()))
            self._after_edit()
        else:
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self.heal is not None and self.heal.dragging:
            self.heal.release(*self.to_photo(event.position()))
            self._refresh()
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
        if self.heal is not None and self.heal.tool != "box":
            self._refresh()
        else:
            self.update()

    # ---------------------------------------------------------------- painting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self._photo is None or self.heal is None:
            _caption(self, painter, "Open a photo or a model first: heal works on its photo.")
            return
        rect, scale = self.view_geometry()
        self._photo.draw(painter, rect)
        painter.save()
        painter.setClipRect(rect)
        if self._overlay is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(rect, self._overlay)
        box = self.heal.box
        if box is not None:
            painter.setPen(QPen(BRUSH_COLOUR, 1, Qt.PenStyle.DashLine))
            painter.drawRect(
                QRectF(rect.left() + box.x * scale, rect.top() + box.y * scale, *_wh(box, scale))
            )
        elif self.heal.tool != "box" and self._pointer is not None:
            painter.setPen(QPen(BRUSH_COLOUR, 1))
            radius = self.heal.brush * scale
            painter.drawEllipse(self._pointer, radius, radius)
        painter.restore()
        _caption(self, painter, HINTS[self.heal.tool] + " Ctrl+Z takes back a stroke.")


def _wh(box, scale: float) -> tuple[float, float]:
    return box.w * scale, box.h * scale


class ExtendView(QWidget):
    """The canvas extend will make (grey) with the photo where the anchor puts it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self._photo: ShownImage | None = None
        self.canvas: tuple[int, int] = (1, 1)
        self.own: tuple[int, int] = (1, 1)
        self.anchor = "center"

    def set_photo(self, image: np.ndarray | None, own: tuple[int, int]) -> None:
        """The photo as shown (any resolution) and its size in its own pixels (W, H)."""
        self._photo = ShownImage(image) if image is not None else None
        self.own = own
        self.update()

    def set_layout(self, canvas: tuple[int, int], anchor: str) -> None:
        """The canvas (W, H, the photo's own pixels) and where the photo sits on it."""
        self.canvas, self.anchor = canvas, anchor
        self.update()

    def photo_rect(self) -> QRectF:
        """Where the photo is drawn on the canvas as shown."""
        area = QRectF(self.rect().adjusted(*MARGINS))
        canvas = (max(self.canvas[0], self.own[0]), max(self.canvas[1], self.own[1]))
        rect, scale = fitted(area, canvas)
        left, top = anchored(canvas, self.own, self.anchor)
        return QRectF(
            rect.left() + left * scale,
            rect.top() + top * scale,
            self.own[0] * scale,
            self.own[1] * scale,
        )

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self._photo is None:
            _caption(self, painter, "Open a photo or a model first: extend adds around its photo.")
            return
        area = QRectF(self.rect().adjusted(*MARGINS))
        canvas = (max(self.canvas[0], self.own[0]), max(self.canvas[1], self.own[1]))
        rect, _ = fitted(area, canvas)
        painter.fillRect(rect, QColor(70, 70, 78))
        painter.setPen(QPen(QColor(150, 150, 160), 1, Qt.PenStyle.DashLine))
        painter.drawRect(rect)
        self._photo.draw(painter, self.photo_rect())
        width, height = self.canvas
        _caption(
            self,
            painter,
            f"Canvas {width}×{height} · the photo {self.own[0]}×{self.own[1]} stays as it is; "
            "the grey is generated.",
        )
