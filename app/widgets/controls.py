"""Small constructors for the Edit tab's buttons, with their state set through the setters
the Qt stubs know (Qt also takes properties as keyword arguments, which the stubs do not)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QPushButton, QToolButton


def push_button(
    label: str, tip: str = "", checkable: bool = False, checked: bool = False
) -> QPushButton:
    button = QPushButton(label)
    if tip:
        button.setToolTip(tip)
    button.setCheckable(checkable)
    button.setChecked(checkable and checked)
    return button


def tool_button(text: str, checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setCheckable(checkable)
    return button


def check_box(label: str, checked: bool) -> QCheckBox:
    box = QCheckBox(label)
    box.setChecked(checked)
    return box
