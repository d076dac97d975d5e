"""A slider with its value beside it in a spin box, where the value can also be typed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget


class SliderField(QWidget):
    """A strength-like value: drag the slider, or type into the spin box beside it.

    The spin box holds the value; the slider moves in `step`s between `minimum` and `maximum`
    and follows the spin box (a typed value between two steps keeps its exact value, the slider
    shows the nearest step). With `decimals` 0 the value is an int.
    """

    value_changed = Signal(object)
    """The new value: an int when `decimals` is 0, else a float."""

    def __init__(
        self,
        minimum: float,
        maximum: float,
        step: float,
        decimals: int = 2,
        value: float | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.spin = QDoubleSpinBox(decimals=decimals, singleStep=step)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(max(1, round(0.1 * (maximum - minimum) / step)))
        self.setRange(minimum, maximum)
        self.setValue(minimum if value is None else value)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)

    # ---------------------------------------------------------------- the value

    def value(self) -> float | int:
        value = self.spin.value()
        return round(value) if self.decimals() == 0 else value

    def whole_value(self) -> int:
        """The value rounded to a whole number (for a field with no decimals: its value)."""
        return round(self.spin.value())

    def setValue(self, value: float) -> None:
        self.spin.setValue(value)  # clamped to the range; _on_spin moves the slider
        self._follow_spin()

    def setRange(self, minimum: float, maximum: float) -> None:
        self.spin.setRange(minimum, maximum)
        self.slider.setRange(0, self._position(maximum))
        self._follow_spin()

    def minimum(self) -> float:
        return self.spin.minimum()

    def maximum(self) -> float:
        return self.spin.maximum()

    def singleStep(self) -> float:
        return self.spin.singleStep()

    def decimals(self) -> int:
        return self.spin.decimals()

    # ---------------------------------------------------------------- syncing

    def _position(self, value: float) -> int:
        """The slider position (0 … steps) nearest to `value`."""
        return round((value - self.spin.minimum()) / self.spin.singleStep())

    def _follow_spin(self) -> None:
        self.slider.blockSignals(True)  # the slider follows; it must not round the value
        self.slider.setValue(self._position(self.spin.value()))
        self.slider.blockSignals(False)

    @Slot(int)
    def _on_slider(self, position: int) -> None:
        value = self.spin.minimum() + position * self.spin.singleStep()
        self.spin.setValue(min(value, self.spin.maximum()))

    @Slot(float)
    def _on_spin(self, _value: float) -> None:
        self._follow_spin()
        self.value_changed.emit(self.value())
