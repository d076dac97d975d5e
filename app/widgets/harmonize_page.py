"""The Harmonize page of the Edit tab: place an object on the canvas, or use ready files.

The object comes from a file or the clipboard; its mask from its alpha channel, or painted. The
background is the model's training image or the image shown (a sample). The placing itself
happens on app.widgets.object_canvas.ObjectCanvas, which the main window shows in the middle.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.object_placer import Tool
from app.state import AppState
from app.widgets.controls import push_button
from app.widgets.file_field import FileField
from app.widgets.filters import IMAGE_FILTER
from app.widgets.object_canvas import ObjectCanvas
from app.widgets.slider_field import SliderField
from core.errors import SinDDMError
from core.generation.compositing import object_mask_from
from core.imageio import load_mask, to_rgb
from core.requests import HARMONIZATION_STEP, HarmonizeEdit

BACKGROUNDS = ("Training image", "Image shown")
MAX_OBJECT_SIDE = 1024
"""Larger objects are shrunk on loading (they are pasted smaller than the background, which
is the photo at up to 4 megapixels)."""
BRUSH_SHARE = 100
"""A new background's brush: its longer side over this (at least 6 px), so that the brush
looks the same on a 4 MP photo as on a small one."""
TOOLS: tuple[tuple[str, Tool], ...] = (
    ("Move", "move"),
    ("Paint mask", "paint"),
    ("Erase mask", "erase"),
)


class HarmonizePage(QWidget):
    placing_changed = Signal()
    """The object canvas should be shown or hidden (files chosen instead, or back)."""
    status_changed = Signal(str)
    """A plain-worded message for the user (empty to clear)."""

    def __init__(self, state: AppState, canvas: ObjectCanvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.object_name = QLabel("none yet")
        self._object_source = ""
        self.background = QComboBox()
        self.background.addItems(BACKGROUNDS)
        self.tools = QButtonGroup(self)
        self.brush = QSpinBox(minimum=1, maximum=512, value=6, suffix=" px")
        self.brush.setToolTip("The brush's radius in the background's pixels")
        self.start_step = SliderField(1, 99, 1, decimals=0, value=HARMONIZATION_STEP)
        self.use_files = QGroupBox("Use a ready composite and mask instead", checkable=True)
        self.use_files.setChecked(False)
        self.composite = FileField("Image with the pasted object")
        self.mask_file = FileField("Mask of the object")
        self._object_alpha: np.ndarray | None = None
        self._build()
        self.background.currentIndexChanged.connect(self.refresh_background)
        self.tools.idClicked.connect(self._on_tool)
        self.brush.valueChanged.connect(self._on_tool)
        self.use_files.toggled.connect(self.placing_changed)

    def _build(self) -> None:
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_object)
        paste = QPushButton("Paste")
        paste.setToolTip("Use the image on the clipboard as the object")
        paste.clicked.connect(self.paste_object)
        object_row = _row(choose, paste)
        tool_buttons = []
        for index, (label, _) in enumerate(TOOLS):
            button = push_button(label, checkable=True, checked=index == 0)
            self.tools.addButton(button, index)
            tool_buttons.append(button)
        mask_buttons = []
        for label, slot, tip in (
            ("Alpha", self.mask_from_alpha, "The object's alpha channel"),
            ("All", self.mask_whole, "All of the object's rectangle"),
            ("Clear", self.mask_clear, "Nothing, to paint the object from scratch"),
        ):
            button = push_button(label, tip)
            button.clicked.connect(slot)
            mask_buttons.append(button)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Object", object_row)
        form.addRow("", self.object_name)
        form.addRow("Background", self.background)
        form.addRow("Tool", _row(*tool_buttons))
        form.addRow("Brush", self.brush)
        form.addRow("Mask", _row(*mask_buttons))
        form.addRow("Start at t", self.start_step)
        files = QFormLayout(self.use_files)
        files.addRow("Image", self.composite)
        files.addRow("Mask", self.mask_file)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(self.use_files)

    @property
    def placing(self) -> bool:
        """True when the object is placed on the canvas (not taken from files)."""
        return not self.use_files.isChecked()

    # ----------------------------------------------------------------- object

    @Slot()
    def choose_object(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Object to paste", "", IMAGE_FILTER)
        if path:
            self.load_object(path)

    def load_object(self, path: str) -> bool:
        """Load an object file (its alpha channel, if any, becomes the mask). A file that is no
        image, is damaged or would decode to an absurd size is refused in plain words."""
        name = Path(path).name
        try:
            with warnings.catch_warnings():  # a decompression bomb stops at its header
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = _rgb_or_rgba(load_mask(path))
        except SinDDMError as exc:
            return self._fail(str(exc))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
            return self._fail(f"{name} is too large to open safely. Use a smaller image.")
        except (OSError, ValueError) as exc:  # decoded lazily, after load_mask's checks
            return self._fail(f"{name} could not be read; it may be damaged ({exc}).")
        return self._set_object(image, path)

    @Slot()
    def paste_object(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self._fail("The clipboard holds no image. Copy one first (a cut-out keeps its alpha).")
            return
        self._set_object(_from_qimage(image), "pasted image")

    def _set_object(self, image: Image.Image, source: str) -> bool:
        self.refresh_background()
        if self.canvas.background is None:
            return self._fail("Open or train a model first: its image is the background.")
        if min(image.size) < 2:
            return self._fail(f"The object is only {image.width}×{image.height} pixels.")
        original = image.size
        if max(image.size) > MAX_OBJECT_SIDE:  # it is pasted far smaller; keeps painting quick
            image = image.copy()
            image.thumbnail((MAX_OBJECT_SIDE, MAX_OBJECT_SIDE), Image.Resampling.LANCZOS)
        self._object_alpha = object_mask_from(image)
        self.canvas.set_object(np.asarray(to_rgb(image)), self._object_alpha)
        self._object_source = source
        self.object_name.setText(f"{Path(source).name}, {original[0]}×{original[1]}")
        self._on_tool()
        self.status_changed.emit(
            ""
            if not self._object_alpha.all()
            else "The object has no transparency: all of it is pasted. Paint or erase its mask "
            "to keep just the object."
        )
        return True

    # ------------------------------------------------------------------- mask

    @Slot()
    def mask_from_alpha(self) -> None:
        if self._object_alpha is not None:
            self.canvas.set_mask(self._object_alpha)

    @Slot()
    def mask_whole(self) -> None:
        if self._object_alpha is not None:
            self.canvas.set_mask(np.ones_like(self._object_alpha))

    @Slot()
    def mask_clear(self) -> None:
        if self._object_alpha is not None:
            self.canvas.set_mask(np.zeros_like(self._object_alpha))
            self.tools.button(1).setChecked(True)
            self._on_tool()

    @Slot()
    def _on_tool(self, *_) -> None:
        tool = TOOLS[max(self.tools.checkedId(), 0)][1]
        self.canvas.set_tool(tool, self.brush.value())

    # ------------------------------------------------------------- background

    @Slot()
    def refresh_background(self, *_) -> None:
        """Show the chosen background: the photo at the resolution images come back at (the
        composite is made at its size, and the result comes back at it), or the image shown.
        A background of another size gets a brush of the same look (BRUSH_SHARE)."""
        image = self.state.training_image
        if self.background.currentIndex() == 1 and self.state.canvas is not None:
            image = self.state.canvas
        old = self.canvas.background
        if image is None or (old is not None and np.array_equal(image, old)):
            return
        self.canvas.set_background(image)
        if old is None or old.shape != image.shape:
            self.brush.setValue(max(6, round(max(image.shape[:2]) / BRUSH_SHARE)))

    # ---------------------------------------------------------------- request

    def request(self) -> HarmonizeEdit | str:
        """The harmonisation to run, or the reason it cannot run yet."""
        if not self.placing:
            path, mask_path = self.composite.value(), self.mask_file.value()
            if not path or not mask_path:
                return "Choose the image and its mask first."
            return HarmonizeEdit(path, mask_path, Path(path).name, self.start_step.whole_value())
        try:
            composed = self.canvas.compose()
        except SinDDMError as exc:
            return str(exc)
        if composed is None:
            return "Choose an object (or paste one) and place it on the image first."
        composite, mask = composed  # H×W×3 uint8 and H×W uint8, 255 on the object
        name = Path(self._object_source).name
        return HarmonizeEdit(composite, mask, name, self.start_step.whole_value())

    def _fail(self, message: str) -> bool:
        self.status_changed.emit(message)
        return False


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Any mode Pillow opens (16-bit, CMYK, palette, …) as RGBA when it has transparency, else
    8-bit RGB, so that shrinking and masking see one of two modes."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    return image.convert("RGBA") if has_alpha else to_rgb(image)


def _from_qimage(image: QImage) -> Image.Image:
    """A clipboard QImage as an RGBA Pillow image (alpha kept)."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    rows = pixels.reshape(height, image.bytesPerLine())[:, : 4 * width]
    return Image.fromarray(rows.reshape(height, width, 4).copy(), "RGBA")
