"""An image drawn into a rectangle that changes with the window: shrunk by area averaging to
the size drawn (kept until that size changes), enlarged bilinearly, as app.widgets.canvas does.

The region and object canvases show the photo at its own resolution (up to 4 megapixels) in
a pane a few hundred pixels wide, and repaint on every mouse move while dragging: scaling 4 MP
each time would be slow, and drawn without smoothing it would alias.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter

from app.widgets.canvas import to_qimage

MAX_KEPT_SIDE = 2048
"""The copy kept of a larger image (longest side): more than any pane shows."""


def fitted(area: QRectF, size: tuple[int, int]) -> tuple[QRectF, float]:
    """Where an image of `size` (W, H) is drawn fitted and centred in `area`, and its scale."""
    width, height = size
    scale = min(area.width() / width, area.height() / height)
    left = area.left() + (area.width() - width * scale) / 2
    top = area.top() + (area.height() - height * scale) / 2
    return QRectF(left, top, width * scale, height * scale), scale


class ShownImage:
    """`image` (H×W×3 uint8) as drawn at any rectangle: converted when first drawn (a hidden
    canvas given every new result costs nothing) to a copy of at most MAX_KEPT_SIDE, kept with
    that copy at the size last drawn."""

    def __init__(self, image: np.ndarray):
        self.source = image
        """The array shown (compared by identity to skip converting it again)."""
        self._picture: QImage | None = None
        self._scaled: QImage | None = None

    def _converted(self) -> QImage:
        if self._picture is None:
            picture = to_qimage(self.source).convertToFormat(QImage.Format.Format_RGB32)
            if max(picture.width(), picture.height()) > MAX_KEPT_SIDE:
                picture = picture.scaled(
                    MAX_KEPT_SIDE,
                    MAX_KEPT_SIDE,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            self._picture = picture
        return self._picture

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        dpr = painter.device().devicePixelRatioF()
        size = QSize(max(1, round(rect.width() * dpr)), max(1, round(rect.height() * dpr)))
        picture = self._converted()
        if size.width() < picture.width() or size.height() < picture.height():
            if self._scaled is None or self._scaled.size() != size:
                self._scaled = picture.scaled(
                    size,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            picture = self._scaled
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(rect, picture)
        painter.restore()
