"""SliderField: the slider and the typed value stay in step; one signal reports the value."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.widgets.slider_field import SliderField
from tests.app.slider_drag import drag_slider


@pytest.fixture
def field(qtbot):
    widget = SliderField(0.0, 1.0, 0.05, decimals=2, value=0.3)
    widget.resize(300, 30)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _type(qtbot, field: SliderField, text: str) -> None:
    field.spin.lineEdit().selectAll()
    qtbot.keyClicks(field.spin, text)
    qtbot.keyClick(field.spin, Qt.Key.Key_Return)


def test_slider_field_starts_at_its_value(field):
    assert field.value() == pytest.approx(0.3)
    assert field.slider.value() == 6 and field.slider.maximum() == 20
    assert (field.minimum(), field.maximum(), field.singleStep(), field.decimals()) == (
        0.0,
        1.0,
        0.05,
        2,
    )


def test_slider_field_drag_sets_the_value_shown_beside_it(qtbot, field):
    with qtbot.waitSignal(field.value_changed) as blocker:
        drag_slider(qtbot, field.slider, 1.0)
    assert blocker.args == [pytest.approx(1.0)]
    assert field.value() == pytest.approx(1.0) and field.spin.text() == "1.00"
    drag_slider(qtbot, field.slider, 0.5)
    assert field.value() == pytest.approx(field.slider.value() * 0.05)
    assert 0.4 <= field.value() <= 0.6


def test_slider_field_typed_value_is_kept_exactly_and_moves_the_slider(qtbot, field):
    with qtbot.waitSignal(field.value_changed, check_params_cb=lambda v: v == 0.33):
        _type(qtbot, field, "0.33")
    assert field.value() == pytest.approx(0.33), "not rounded to the slider's step"
    assert field.slider.value() == 7  # the nearest step, 0.35


def test_slider_field_clamps_to_its_range(field):
    field.setValue(5.0)
    assert field.value() == 1.0 and field.slider.value() == 20
    field.setRange(0.0, 0.5)
    assert field.value() == 0.5 and field.slider.maximum() == 10


def test_slider_field_without_decimals_gives_ints(qtbot):
    field = SliderField(1, 99, 1, decimals=0, value=15)
    qtbot.addWidget(field)
    assert field.value() == 15 and isinstance(field.value(), int)
    with qtbot.waitSignal(field.value_changed) as blocker:
        field.slider.setValue(29)  # what a drag or the arrow keys do
    assert blocker.args == [30] and isinstance(blocker.args[0], int)
