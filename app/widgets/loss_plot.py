"""A small live plot of the training loss (mean L1 per window of steps)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from core.config import TrainConfig

WINDOW = TrainConfig.loss_window
"""Training steps per plotted value (no preset changes TrainConfig's default)."""


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values: tuple[float, ...] = ()
        self.setMinimumHeight(90)

    def sizeHint(self) -> QSize:
        return QSize(260, 110)

    def set_values(self, values: tuple[float, ...]) -> None:
        self.values = tuple(values)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(250, 250, 252))
        painter.setPen(QColor(120, 120, 130))
        if len(self.values) < 2:
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "The loss curve appears here\nafter the first 200 steps.",
            )
            return
        low, high = min(self.values), max(self.values)
        span = (high - low) or 1.0
        left, top = 40, 8
        width, height = self.width() - left - 8, self.height() - top - 20
        points = QPolygonF(
            [
                QPointF(
                    left + width * i / (len(self.values) - 1), top + height * (1 - (v - low) / span)
                )
                for i, v in enumerate(self.values)
            ]
        )
        painter.drawText(2, top + 10, f"{high:.3f}")
        painter.drawText(2, top + height, f"{low:.3f}")
        painter.drawText(left, self.height() - 4, f"loss, {len(self.values) * WINDOW:,} steps")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(40, 110, 200), 1.6))
        painter.drawPolyline(points)
