"""The region tool's view: the photo (left) and the output canvas (right), each fitted to its
half of the widget (no zoom: a region is picked and placed on the whole image).

It maps mouse events to (pane, photo pixel) and feeds app.roi_editor.RoiEditor, which owns the
interaction; here we only translate coordinates and paint. Boxes are in photo pixels (those of
the photo at the resolution images come back at, as core.requests.RegionsEdit wants them),
exact at any window size: the panes only scale how they are drawn.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.roi_editor import HANDLE, MIN_SIDE, Pane, RoiEditor
from app.widgets.display import ShownImage
from core.requests import Box

SOURCE_COLOUR = QColor(230, 70, 60)
TARGET_COLOUR = QColor(70, 200, 90)
HANDLE_PX = 8
"""Screen pixels around a placed region's corner that grab it (at least HANDLE photo px)."""
MIN_SIDE_PX = 8
"""Screen pixels: a shorter drag makes no region (at least MIN_SIDE photo px)."""


class RegionCanvas(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.editor = RoiEditor((1, 1), (1, 1))
        self._source: ShownImage | None = None
        self._background: ShownImage | None = None

    def set_source(self, image: np.ndarray | None, size: tuple[int, int] | None = None) -> None:
        """The photo regions are picked on, and its size in photo pixels (`size`, the boxes'
        units; by default the image's own): the image may be of any resolution. A new size
        clears the regions."""
        if image is None:
            self._source = None
        else:
            if self._source is None or self._source.source is not image:
                self._source = ShownImage(image)
            size = size or (image.shape[1], image.shape[0])
            if size != self.editor.source_size:
                self.editor = RoiEditor(size, self.editor.canvas_size)
        self.update()

    def set_canvas(self, width: int, height: int, background: np.ndarray | None = None) -> None:
        """The canvas size in photo pixels, over `background` when it is that size."""
        self.editor.set_canvas_size((width, height))
        if background is None or background.shape[:2] != (height, width):
            self._background = None
        elif self._background is None or self._background.source is not background:
            self._background = ShownImage(background)
        self.update()

    # ------------------------------------------------------------------ geometry

    def panes(self) -> dict[str, tuple[QRectF, float]]:
        """Each pane's drawing rectangle and its scale (screen px per image px)."""
        area = self.rect().adjusted(12, 12, -12, -30)
        half = (area.width() - 16) // 2
        panes = {}
        for i, (name, (w, h)) in enumerate(
            (("source", self.editor.source_size), ("canvas", self.editor.canvas_size))
        ):
            slot = QRect(area.left() + i * (half + 16), area.top(), half, area.height())
            scale = min(slot.width() / w, slot.height() / h)
            rect = QRectF(
                slot.left() + (slot.width() - w * scale) / 2,
                slot.top() + (slot.height() - h * scale) / 2,
                w * scale,
                h * scale,
            )
            panes[name] = (rect, scale)
        return panes

    def to_image(self, x: float, y: float) -> tuple[Pane, int, int]:
        """Screen point -> (pane, x, y) in that pane's photo pixels (nearest pane)."""
        panes = self.panes()
        middle = (panes["source"][0].right() + panes["canvas"][0].left()) / 2
        name: Pane = "source" if x < middle else "canvas"
        rect, scale = panes[name]
        return name, math.floor((x - rect.left()) / scale), math.floor((y - rect.top()) / scale)

    def _fit_tolerances(self) -> None:
        """The editor's grab and size thresholds, in photo pixels, as a few screen pixels at
        the panes' current scale (a 4 MP photo is shown at a sixth of its size or less)."""
        panes = self.panes()
        self.editor.handle = max(HANDLE, HANDLE_PX / panes["canvas"][1])
        self.editor.min_side = max(MIN_SIDE, math.ceil(MIN_SIDE_PX / panes["source"][1]))

    # -------------------------------------------------------------------- events

    def mousePressEvent(self, event) -> None:
        self._fit_tolerances()
        self.editor.press(*self.to_image(event.position().x(), event.position().y()))
        self.update()

    def mouseMoveEvent(self, event) -> None:
        self.editor.move(*self.to_image(event.position().x(), event.position().y()))
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        self.editor.release(*self.to_image(event.position().x(), event.position().y()))
        self.update()
        self.changed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.editor.delete_selected()
            self.update()
            self.changed.emit()
            return
        super().keyPressEvent(event)

    def clear(self) -> None:
        self.editor.clear()
        self.update()
        self.changed.emit()

    # ------------------------------------------------------------------- painting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 38, 42))
        panes = self.panes()
        source_rect, source_scale = panes["source"]
        canvas_rect, canvas_scale = panes["canvas"]
        if self._source is not None:
            self._source.draw(painter, source_rect)
        if self._background is not None:
            self._background.draw(painter, canvas_rect)
        else:
            painter.fillRect(canvas_rect, QColor(90, 90, 96))
        for index, pair in enumerate(self.editor.pairs):
            self._box(painter, pair.source, source_rect, source_scale, SOURCE_COLOUR, index)
            if pair.target is not None:
                width = 3 if index == self.editor.selected else 2
                self._box(
                    painter, pair.target, canvas_rect, canvas_scale, TARGET_COLOUR, index, width
                )
        preview = self.editor.preview
        if preview is not None:
            drawing = self.editor.drawing
            rect, scale = (source_rect, source_scale) if drawing else (canvas_rect, canvas_scale)
            self._box(painter, preview, rect, scale, QColor(240, 240, 120), None, 1)
        painter.setPen(QColor(210, 210, 215))
        painter.drawText(
            self.rect().adjusted(12, 0, -12, -8),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            "Drag on the photo to pick a region, then drag it onto the "
            "canvas. Drag a placed region to move it, its corner to resize; Delete "
            "removes it.",
        )

    @staticmethod
    def _box(painter, box: Box, rect: QRectF, scale: float, colour: QColor, label, width=2):
        painter.setPen(QPen(colour, width))
        shown = QRectF(
            rect.left() + box.x * scale, rect.top() + box.y * scale, box.w * scale, box.h * scale
        )
        painter.drawRect(shown)
        if label is not None:
            painter.drawText(shown.adjusted(3, 1, 0, 0), str(label + 1))
