"""The main image view: fit to the window, 1:1, zoom and pan, always drawn smoothly.

Enlarged images are drawn bilinearly. Shrunk ones are drawn pixel for pixel from a copy made
with area averaging (QImage.scaled, SmoothTransformation) and cached per image and size: plain
bilinear drawing of a 4 MP image into an 800 px window aliases (moiré, jagged lines). Images are
kept as RGB32 / ARGB32_Premultiplied, which Qt scales several times faster than RGB888.

Comparing (the training image beside the result) fits both panes; zooming in or out, 1:1, the
wheel and panning act on the single view and are ignored while comparing, so the chosen zoom
comes back after (Fit to Window still applies).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Slot
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPalette,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.widgets.zoom import STEP, ZoomState


def to_qimage(image: np.ndarray) -> QImage:
    """H×W×3 (RGB) or H×W×4 (RGBA) uint8 -> an owned QImage (copied, so the numpy buffer may
    go away)."""
    image = np.ascontiguousarray(image)
    height, width, channels = image.shape
    layout = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(image.data, width, height, channels * width, layout).copy()


GUIDED_TINT = (255, 190, 40)
GUIDED_ALPHA = 110
GAP = 12
"""Space around the image(s) and between the compared panes."""
CAPTION_SPACE = 36
PAN_BUTTONS = (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton)


def guided_overlay(region: np.ndarray) -> QImage:
    """H×W weights in [0, 1] -> a translucent amber QImage marking where guidance acts."""
    height, width = region.shape
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., :3] = GUIDED_TINT
    rgba[..., 3] = (np.clip(region, 0, 1) * GUIDED_ALPHA).astype(np.uint8)
    return to_qimage(rgba)


def _for_display(image: QImage) -> QImage:
    alpha = image.hasAlphaChannel()
    return image.convertToFormat(
        QImage.Format.Format_ARGB32_Premultiplied if alpha else QImage.Format.Format_RGB32
    )


def zoom_text(percent: float) -> str:
    """'33 %', '100 %', '6.3 %'."""
    return f"{percent:.1f} %" if percent < 9.95 else f"{percent:.0f} %"


Pane = tuple[QImage, QRectF, QRect]
"""An image, where the whole of it is drawn (widget DIP) and the area it is clipped to."""


class ImageCanvas(QWidget):
    """The main view: one image, or the image beside the training image when comparing."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(38, 38, 42))
        self.setPalette(palette)
        self._image: QImage | None = None
        self._reference: QImage | None = None
        self._guided: QImage | None = None
        self._view = ZoomState()
        self._downscaled: dict[int, QImage] = {}
        """Per image (its cacheKey), its copy at the size last drawn, when shrunk."""
        self._drag_from: QPointF | None = None
        self.caption = ""
        self.comparing = False
        self.showing_guided = True

    # ------------------------------------------------------------------ content

    @Slot(object, str, object)
    def set_image(
        self, image: np.ndarray | None, caption: str = "", guided: np.ndarray | None = None
    ) -> None:
        """`guided`: where text guidance acts (H'×W' in [0, 1], stretched over the image).
        An image of a new size is fitted in Fit mode; see ZoomState.set_image otherwise."""
        self._image = _for_display(to_qimage(image)) if image is not None else None
        self._guided = _for_display(guided_overlay(guided)) if guided is not None else None
        self.caption = caption
        if self._image is not None:
            self._view.set_image(self._image.width(), self._image.height())
        self._changed()

    @Slot(bool)
    def set_showing_guided(self, on: bool) -> None:
        self.showing_guided = on
        self.update()

    @property
    def has_guided_region(self) -> bool:
        return self._guided is not None

    def set_reference(self, image: np.ndarray | None) -> None:
        self._reference = _for_display(to_qimage(image)) if image is not None else None
        self._changed()

    @Slot(bool)
    def set_comparing(self, on: bool) -> None:
        self.comparing = on
        self._changed()

    # ------------------------------------------------------------------ zoom

    @property
    def zoom(self) -> float:
        """The result image's scale as drawn: DIP per image pixel (1 / dpr at 1:1)."""
        pane = self._main_pane()
        if pane is None:
            return self._view.zoom
        return pane[1].width() / pane[0].width()

    @property
    def fitting(self) -> bool:
        """Whether the single view is in Fit mode (then each new image is fitted)."""
        return self._view.fitting

    @Slot()
    def fit_to_window(self) -> None:
        self._view.fit()
        self._changed()

    @Slot()
    def actual_size(self) -> None:
        """1:1: one image pixel per screen (device) pixel, around the view's centre."""
        if self._zoomable():
            view = self._synced_view()
            view.zoom_to(view.actual_zoom)
            self._changed()

    @Slot()
    def zoom_in(self) -> None:
        self._zoom_by(STEP)

    @Slot()
    def zoom_out(self) -> None:
        self._zoom_by(1 / STEP)

    def view_to_image(self, point: QPoint | QPointF) -> tuple[float, float] | None:
        """The result image's pixel coordinates (x, y; fractional, pixel i covering [i, i + 1))
        under a widget point, or None off the image."""
        pane = self._main_pane()
        if pane is None:
            return None
        image, target, clip = pane
        point = QPointF(point)
        x = (point.x() - target.x()) * image.width() / target.width()
        y = (point.y() - target.y()) * image.height() / target.height()
        inside = 0 <= x < image.width() and 0 <= y < image.height()
        return (x, y) if inside and QRectF(clip).contains(point) else None

    def image_to_view(self, x: float, y: float) -> QPointF | None:
        """Where the result image's pixel coordinates (x, y) are drawn in the widget (possibly
        outside it when zoomed in), or None without an image."""
        pane = self._main_pane()
        if pane is None:
            return None
        image, target, _ = pane
        return QPointF(
            target.x() + x * target.width() / image.width(),
            target.y() + y * target.height() / image.height(),
        )

    def _zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if not self._zoomable():
            return
        area = self._area()
        at = None if anchor is None else (anchor.x() - area.x(), anchor.y() - area.y())
        self._synced_view().zoom_by(factor, at)
        self._changed()

    def _zoomable(self) -> bool:
        return self._image is not None and not (self.comparing and self._reference is not None)

    def _pannable(self) -> bool:
        return self._zoomable() and self._synced_view().can_pan

    def _changed(self) -> None:
        """After any change of image, zoom or mode: drop stale copies, show the hand, repaint."""
        shown = (self._image, self._reference, self._guided)
        live = {image.cacheKey() for image in shown if image is not None}
        self._downscaled = {k: v for k, v in self._downscaled.items() if k in live}
        if self._drag_from is None:
            if self._pannable():
                self.setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.unsetCursor()
        self.update()

    # ------------------------------------------------------------------ geometry

    def _area(self) -> QRect:
        return self.rect().adjusted(GAP, GAP, -GAP, -CAPTION_SPACE)

    def _synced_view(self) -> ZoomState:
        """The zoom state, told the widget's current size and device pixel ratio."""
        area = self._area()
        self._view.set_view(area.width(), area.height(), self.devicePixelRatioF())
        return self._view

    def _panes(self) -> list[Pane]:
        """What to draw: the single zoomable view, or compared images each fitted."""
        area = self._area()
        if self._zoomable():
            assert self._image is not None
            x, y, width, height = self._synced_view().image_rect()
            return [(self._image, QRectF(area.x() + x, area.y() + y, width, height), area)]
        shown = [self._reference, self._image] if self.comparing else [self._image]
        images = [im for im in shown if im is not None]
        if not images:
            return []
        slot_width = (area.width() - GAP * (len(images) - 1)) // len(images)
        panes = []
        for i, image in enumerate(images):
            slot = QRect(
                area.left() + i * (slot_width + GAP), area.top(), slot_width, area.height()
            )
            fitted = ZoomState(image=(image.width(), image.height()))
            fitted.set_view(slot.width(), slot.height(), self.devicePixelRatioF())
            x, y, width, height = fitted.image_rect()
            panes.append((image, QRectF(slot.x() + x, slot.y() + y, width, height), slot))
        return panes

    def _main_pane(self) -> Pane | None:
        panes = self._panes()
        return panes[-1] if panes and panes[-1][0] is self._image else None

    # ------------------------------------------------------------------ painting

    def sizeHint(self) -> QSize:
        return QSize(800, 560)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        panes = self._panes()
        if not panes:
            painter.setPen(QColor(170, 170, 175))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Open a photo (Ctrl+O) or a model (Ctrl+Shift+O),\nor drop a file here.",
            )
            return
        for image, target, clip in panes:
            self._draw(painter, image, target, clip)
        main = self._main_pane()
        if main is not None and self._guided is not None and self.showing_guided:
            self._draw(painter, self._guided, main[1], main[2])  # over the result, drawn last
        painter.setPen(QColor(220, 220, 225))
        painter.drawText(
            self.rect().adjusted(GAP, 0, -GAP, -10),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            self._caption_text(panes),
        )

    @property
    def drawn_caption(self) -> str:
        """The caption as drawn: `caption` and the zoom ('Seed 4 · 96×72 · … · 33 %')."""
        panes = self._panes()
        return self._caption_text(panes) if panes else ""

    def _caption_text(self, panes: list[Pane]) -> str:
        caption = self.caption
        if len(panes) == 2:
            caption = f"Training image  |  {caption}"
        image, target, _ = panes[-1]
        percent = zoom_text(target.width() * self.devicePixelRatioF() / image.width() * 100)
        return f"{caption} · {percent}" if caption else percent

    def _draw(self, painter: QPainter, image: QImage, target: QRectF, clip: QRect) -> None:
        """Draw the part of `image` (whole at `target`) that shows inside `clip`: enlarged
        bilinearly, or shrunk from an area-averaged copy at the drawn size, pixel for pixel."""
        visible = target.intersected(QRectF(clip))
        if visible.isEmpty():
            return
        dpr = self.devicePixelRatioF()
        width, height = round(target.width() * dpr), round(target.height() * dpr)
        source_image = image
        if width < image.width() or height < image.height():
            source_image = self._downscale(image, max(1, width), max(1, height))
        sx, sy = source_image.width() / target.width(), source_image.height() / target.height()
        source = QRectF(
            (visible.x() - target.x()) * sx,
            (visible.y() - target.y()) * sy,
            visible.width() * sx,
            visible.height() * sy,
        )
        # Whole pixels and one more around: bilinear samples at the part's edges as in the whole.
        part = source.adjusted(-1, -1, 1, 1).toAlignedRect().intersected(source_image.rect())
        drawn_at = QRectF(
            target.x() + part.x() / sx,
            target.y() + part.y() / sy,
            part.width() / sx,
            part.height() / sy,
        )
        painter.save()
        painter.setClipRect(clip)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(drawn_at, source_image, QRectF(part))
        painter.restore()

    def _downscale(self, image: QImage, width: int, height: int) -> QImage:
        """`image` at width×height by area averaging, kept until another size or image."""
        key = image.cacheKey()
        cached = self._downscaled.get(key)
        if cached is None or cached.size() != QSize(width, height):
            cached = image.scaled(
                width,
                height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._downscaled[key] = cached
        return cached

    # ------------------------------------------------------------------ mouse

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom by STEP a notch, keeping the image point under the cursor where it is."""
        notches = event.angleDelta().y() / 120
        if not notches or not self._zoomable():
            event.ignore()
            return
        self._zoom_by(STEP**notches, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in PAN_BUTTONS and self._pannable():
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is None:
            super().mouseMoveEvent(event)
            return
        delta = event.position() - self._drag_from
        self._drag_from = event.position()
        self._synced_view().pan_by(delta.x(), delta.y())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None and event.button() in PAN_BUTTONS:
            self._drag_from = None
            self._changed()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Double-click: 1:1 at the point clicked, or back to Fit."""
        if event.button() != Qt.MouseButton.LeftButton or not self._zoomable():
            super().mouseDoubleClickEvent(event)
            return
        view = self._synced_view()
        if view.fitting:
            area = self._area()
            at = (event.position().x() - area.x(), event.position().y() - area.y())
            view.zoom_to(view.actual_zoom, at)
        else:
            view.fit()
        self._changed()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._changed()  # the hand shows only while the image overflows
