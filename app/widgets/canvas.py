"""Shows an image scaled to fit (smoothly, unless enlarged more than 4×)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget


def to_qimage(image: np.ndarray) -> QImage:
    """H×W×3 (RGB) or H×W×4 (RGBA) uint8 -> an owned QImage (copied, so the numpy buffer may
    go away)."""
    image = np.ascontiguousarray(image)
    height, width, channels = image.shape
    layout = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(image.data, width, height, channels * width, layout).copy()


GUIDED_TINT = (255, 190, 40)
GUIDED_ALPHA = 110


def guided_overlay(region: np.ndarray) -> QImage:
    """H×W weights in [0, 1] -> a translucent amber QImage marking where guidance acts."""
    height, width = region.shape
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., :3] = GUIDED_TINT
    rgba[..., 3] = (np.clip(region, 0, 1) * GUIDED_ALPHA).astype(np.uint8)
    return to_qimage(rgba)


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
        self.caption = ""
        self.comparing = False
        self.showing_guided = True

    @Slot(object, str, object)
    def set_image(
        self, image: np.ndarray | None, caption: str = "", guided: np.ndarray | None = None
    ) -> None:
        """`guided`: where text guidance acts (H'×W' in [0, 1], stretched over the image)."""
        self._image = to_qimage(image) if image is not None else None
        self._guided = guided_overlay(guided) if guided is not None else None
        self.caption = caption
        self.update()

    @Slot(bool)
    def set_showing_guided(self, on: bool) -> None:
        self.showing_guided = on
        self.update()

    @property
    def has_guided_region(self) -> bool:
        return self._guided is not None

    def set_reference(self, image: np.ndarray | None) -> None:
        self._reference = to_qimage(image) if image is not None else None
        self.update()

    @Slot(bool)
    def set_comparing(self, on: bool) -> None:
        self.comparing = on
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(800, 560)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        area = self.rect().adjusted(12, 12, -12, -36)
        images = [self._image]
        if self.comparing and self._reference is not None:
            images = [self._reference, self._image]
        images = [im for im in images if im is not None]
        if not images:
            painter.setPen(QColor(170, 170, 175))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Open a photo (Ctrl+O) or a model (Ctrl+Shift+O),\nor drop a file here.",
            )
            return
        slot_width = (area.width() - 12 * (len(images) - 1)) // len(images)
        for i, image in enumerate(images):
            slot = QRect(area.left() + i * (slot_width + 12), area.top(), slot_width, area.height())
            target = self._draw_fitted(painter, image, slot)
        if self._guided is not None and self.showing_guided:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._guided)  # over the generated image, drawn last
        painter.setPen(QColor(220, 220, 225))
        caption = self.caption
        if self.comparing and len(images) == 2:
            caption = f"Training image  |  {caption}"
        painter.drawText(
            self.rect().adjusted(12, 0, -12, -10),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            caption,
        )

    @staticmethod
    def _draw_fitted(painter: QPainter, image: QImage, slot: QRect) -> QRect:
        scale = min(slot.width() / image.width(), slot.height() / image.height())
        width, height = int(image.width() * scale), int(image.height() * scale)
        target = QRect(
            slot.left() + (slot.width() - width) // 2,
            slot.top() + (slot.height() - height) // 2,
            width,
            height,
        )
        # Smooth unless strongly enlarged: tiny coarse-scale previews keep visible pixels.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 4)
        painter.drawImage(target, image)
        return target
