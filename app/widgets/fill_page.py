"""The Heal, Extend and Tile & mirror pages of the Edit tab (issue 21).

Each page builds what a run needs as plain data (app.fill_tools, core.requests) or says in
words why it cannot run yet; the Edit tab (app.widgets.edit_panel) runs it with the Generate
tab's seed and count, as every edit.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.fill_tools import (
    ANCHOR_GRID,
    MIRROR_CHOICES,
    TILE_CHOICES,
    MaskTool,
    extend_default,
    extend_problem,
    mirror_allowed,
)
from app.state import AppState
from app.widgets.controls import check_box, push_button, tool_button
from app.widgets.fill_views import ExtendView, MaskCanvas
from app.widgets.generate_panel import MAX_SIDE
from app.widgets.harmonize_page import _row  # one row helper for the Edit tab's pages
from core.requests import ExtendEdit, HealEdit

TOOLS: tuple[tuple[str, MaskTool], ...] = (("Paint", "paint"), ("Erase", "erase"), ("Box", "box"))
BRUSH_SHARE = 60
"""A new photo's brush: its longer side over this (at least 4 px)."""
ANCHOR_ARROWS = {
    "top-left": "↖",
    "top": "↑",
    "top-right": "↗",
    "left": "←",
    "center": "●",
    "right": "→",
    "bottom-left": "↙",
    "bottom": "↓",
    "bottom-right": "↘",
}
SHAPES = (("1.5× wide", (1.5, 1.0)), ("1.5× tall", (1.0, 1.5)), ("2× both", (2.0, 2.0)))


class HealPage(QWidget):
    """Paint (or box) the area to heal on the photo shown in the middle (a MaskCanvas)."""

    editing = Signal()
    """The user turned to the mask again (after a run the middle shows its result)."""

    def __init__(self, state: AppState, canvas: MaskCanvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.tools = QButtonGroup(self)
        self.brush = QSpinBox(minimum=1, maximum=512, value=6, suffix=" px")
        self.brush.setToolTip("The brush's radius in the photo's pixels")
        buttons = []
        for index, (label, _) in enumerate(TOOLS):
            button = push_button(label, checkable=True, checked=index == 0)
            self.tools.addButton(button, index)
            buttons.append(button)
        undo = push_button("Undo", "Take back the last stroke or box (Ctrl+Z)")
        clear = push_button("Clear", "Nothing to heal: start again")
        undo.clicked.connect(canvas.undo)
        clear.clicked.connect(canvas.clear)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Tool", _row(*buttons))
        form.addRow("Brush", self.brush)
        form.addRow("Mask", _row(undo, clear))
        self.tools.idClicked.connect(self._on_tool)
        self.brush.valueChanged.connect(self._on_tool)
        for signal in (self.tools.idClicked, undo.clicked, clear.clicked):
            signal.connect(self.editing)

    @Slot()
    def _on_tool(self, *_) -> None:
        self.canvas.set_tool(TOOLS[max(self.tools.checkedId(), 0)][1], self.brush.value())

    @Slot()
    def refresh_photo(self, *_) -> None:
        """Show the model's photo at the resolution results come back at (the mask's size);
        a photo of a new size gets a brush of the same look."""
        image = self.state.training_image
        old = self.canvas.heal.size if self.canvas.heal else None
        self.canvas.set_photo(image)
        if image is not None and old != (image.shape[1], image.shape[0]):
            self.brush.setValue(max(4, round(max(image.shape[:2]) / BRUSH_SHARE)))
        self._on_tool()

    def request(self) -> HealEdit | str:
        """The heal to run, or why it cannot run yet."""
        heal = self.canvas.heal
        if heal is None:
            return "Open a photo or a model first."
        if not heal.mask.any():
            return "Paint over (or drag a box around) what should go first."
        return HealEdit(mask=heal.image(), mask_name="painted")


class ExtendPage(QWidget):
    """The larger canvas (in the photo's own pixels) and where the photo sits on it."""

    editing = Signal()
    """The user changed the canvas or the anchor (the middle shows the layout again)."""

    def __init__(self, state: AppState, view: ExtendView, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.view = view
        self.own: tuple[int, int] | None = None
        self.width_box = QSpinBox(maximum=MAX_SIDE, suffix=" px")
        self.height_box = QSpinBox(maximum=MAX_SIDE, suffix=" px")
        self.anchors = QButtonGroup(self)
        grid = QWidget()
        cells = QGridLayout(grid)
        cells.setContentsMargins(0, 0, 0, 0)
        cells.setSpacing(2)
        for row, names in enumerate(ANCHOR_GRID):
            for column, name in enumerate(names):
                button = tool_button(ANCHOR_ARROWS[name], checkable=True)
                button.setToolTip(f"The photo at the {name.replace('-', ' ')} of the canvas")
                button.setFixedSize(30, 30)
                button.setProperty("anchor", name)
                button.setChecked(name == "center")
                self.anchors.addButton(button, row * 3 + column)
                cells.addWidget(button, row, column)
        shapes = []
        for label, factors in SHAPES:
            shape = QPushButton(label)
            shape.setProperty("factors", factors)
            shape.clicked.connect(self._on_shape)
            shapes.append(shape)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("", _row(*shapes))
        form.addRow("Photo at", _row(grid))
        self.width_box.valueChanged.connect(self._on_layout)
        self.height_box.valueChanged.connect(self._on_layout)
        self.anchors.idClicked.connect(self._on_layout)

    @property
    def anchor(self) -> str:
        button = self.anchors.checkedButton()
        return button.property("anchor") if button is not None else "center"

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The extended canvas (width, height), in the photo's own pixels."""
        return self.width_box.value(), self.height_box.value()

    @Slot()
    def refresh_photo(self, *_) -> None:
        """The open model's photo: its own size bounds the canvas from below (a new photo
        starts at extend_default)."""
        model = self.state.model
        own = model.extend_unit if model is not None else None
        self.view.set_photo(self.state.training_image, own or (1, 1))
        if own is None or own == self.own:
            return
        self.own = own
        self.width_box.setMinimum(own[0])
        self.height_box.setMinimum(own[1])
        self.width_box.setValue(extend_default(own)[0])
        self.height_box.setValue(extend_default(own)[1])
        self._on_layout()

    @Slot()
    def _on_shape(self) -> None:
        if self.own is not None:
            fx, fy = self.sender().property("factors")
            self.width_box.setValue(round(self.own[0] * fx))
            self.height_box.setValue(round(self.own[1] * fy))

    @Slot()
    def _on_layout(self, *_) -> None:
        self.view.set_layout(self.canvas_size, self.anchor)
        self.editing.emit()

    def request(self) -> ExtendEdit | str:
        if self.own is None:
            return "Open a photo or a model first."
        problem = extend_problem(self.canvas_size, self.own)
        return problem if problem else ExtendEdit(size=self.canvas_size, anchor=self.anchor)


class TilePage(QWidget):
    """Tile and mirror for a new image; a tile and a mirror on one axis cannot be chosen."""

    repeat_toggled = Signal(bool)
    """The canvas should (or should not) repeat tiled images 2×2."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tile = QComboBox()
        for label, value in TILE_CHOICES:
            self.tile.addItem(label, value)
        self.mirror = QComboBox()
        for label, value in MIRROR_CHOICES:
            self.mirror.addItem(label, value)
        self.repeat = check_box("Repeat tiles on the canvas", checked=True)
        self.repeat.setToolTip(
            "Show a tiled image repeated, to judge its seams. Only the view: an exported "
            "image is the single tile"
        )
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Tile", self.tile)
        form.addRow("Mirror", self.mirror)
        form.addRow("", self.repeat)
        self.tile.currentIndexChanged.connect(self._limit)
        self.mirror.currentIndexChanged.connect(self._limit)
        self.repeat.toggled.connect(self.repeat_toggled)

    def choice(self) -> tuple[str | None, str | None]:
        """(tile, mirror) as core.requests.GenerationRequest takes them."""
        return self.tile.currentData(), self.mirror.currentData()

    @Slot()
    def _limit(self, *_) -> None:
        """Grey out the entries that would put a tile and a mirror on one axis."""
        tile, mirror = self.choice()
        for index in range(self.mirror.count()):
            _enable_entry(self.mirror, index, mirror_allowed(tile, self.mirror.itemData(index)))
        for index in range(self.tile.count()):
            _enable_entry(self.tile, index, mirror_allowed(self.tile.itemData(index), mirror))

    @Slot(bool)
    def set_repeat(self, on: bool) -> None:
        self.repeat.setChecked(on)


class FillPages:
    """The three pages together, for the Edit tab."""

    def __init__(
        self, state: AppState, masks: MaskCanvas, extend_view: ExtendView, parent: QWidget
    ):
        self.heal = HealPage(state, masks, parent)
        self.extend = ExtendPage(state, extend_view, parent)
        self.tiles = TilePage(parent)

    @Slot()
    def refresh_photo(self) -> None:
        self.heal.refresh_photo()
        self.extend.refresh_photo()


def _enable_entry(box: QComboBox, index: int, enabled: bool) -> None:
    """Grey out (or not) entry `index` of a combo box (its model is a QStandardItemModel)."""
    model = box.model()
    assert isinstance(model, QStandardItemModel)
    item = model.item(index)
    if item is not None:
        item.setEnabled(enabled)
