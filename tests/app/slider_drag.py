"""Dragging a QSlider's handle with the mouse, as a user does (shared by the GUI tests)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider


def _rects(slider: QSlider):
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    style = slider.style()
    control = QStyle.ComplexControl.CC_Slider
    handle = style.subControlRect(control, option, QStyle.SubControl.SC_SliderHandle, slider)
    groove = style.subControlRect(control, option, QStyle.SubControl.SC_SliderGroove, slider)
    return handle, groove


def drag_slider(qtbot, slider: QSlider, fraction: float) -> None:
    """Press on the handle and drag it to `fraction` (0 = left end, 1 = right end) of the
    groove, then release."""
    handle, groove = _rects(slider)
    span = groove.width() - handle.width()
    x = groove.left() + handle.width() // 2 + round(fraction * span)
    end = QPoint(x, handle.center().y())
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=handle.center())
    qtbot.mouseMove(slider, end)
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=end)
