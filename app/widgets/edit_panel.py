"""The Edit tab: regions, text prompts (CLIP), style transfer, harmonisation, heal, extend, and
tile & mirror.

Each page builds a core.requests edit (plain data) and hands it to `AppState.generate`, which
adds the Generate tab's size, seed, count and Fast sampling (the state's settings); Tile &
mirror asks for a new image that repeats or reflects (app.widgets.fill_page).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.state import AppState
from app.widgets.controls import check_box
from app.widgets.file_field import FileField
from app.widgets.fill_page import FillPages
from app.widgets.fill_views import ExtendView, MaskCanvas
from app.widgets.harmonize_page import HarmonizePage
from app.widgets.object_canvas import ObjectCanvas
from app.widgets.region_canvas import RegionCanvas
from app.widgets.slider_field import SliderField
from core.requests import (
    DEFAULT_ROI_STRENGTH,
    STYLE_TRANSFER_STEP,
    TEXT_MODES,
    Edit,
    ExtendEdit,
    HealEdit,
    RegionsEdit,
    StyleTransferEdit,
    TextEdit,
    TextMode,
)

MODES = ("Regions", "Text", "Style transfer", "Harmonize", "Heal", "Extend", "Tile & mirror")
RUN_LABELS = (
    "Generate with regions",
    "Generate with text",
    "Transfer style",
    "Harmonize",
    "Heal",
    "Extend",
    "Generate tiled / mirrored",
)


def text_mode(name: str) -> TextMode:
    """The text mode named `name` (one of core.requests.TEXT_MODES, as the mode box lists)."""
    for mode in TEXT_MODES:
        if mode == name:
            return mode
    raise ValueError(f"no text mode {name!r}")


CENTRE_TOOLS = {"Regions": "regions", "Heal": "heal", "Extend": "extend"}
"""The view in the middle for a mode (Harmonize: 'object' while placing)."""


def _hint(text: str) -> QLabel:
    label = QLabel(text, wordWrap=True)
    label.setStyleSheet("color: palette(mid);")
    return label


def _strength(value: float) -> SliderField:
    """η or f in [0, 1], in steps of 0.05."""
    return SliderField(0.0, 1.0, 0.05, decimals=2, value=value)


class EditPanel(QWidget):
    centre_changed = Signal()
    """The view in the middle should change (see `centre_tool`)."""

    def __init__(
        self,
        state: AppState,
        regions: RegionCanvas,
        objects: ObjectCanvas,
        parent: QWidget | None = None,
        masks: MaskCanvas | None = None,
        extend_view: ExtendView | None = None,
    ):
        super().__init__(parent)
        self.state = state
        self.regions = regions
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.pages = QStackedWidget()
        self.region_strength = _strength(DEFAULT_ROI_STRENGTH)
        self.prompt = QLineEdit(placeholderText="e.g. fire, or Van Gogh")
        self.text_mode = QComboBox()
        self.text_mode.addItems(TEXT_MODES)
        self.text_strength = _strength(0.3)
        self.fill = _strength(0.3)
        self.clip_weights = QLineEdit(state.clip_weights)
        self.clip_status = _hint("")
        self.clip_retry = QPushButton("Try the download again")
        self.clip_retry.setVisible(False)
        self.content = FileField("Content image")
        self.style_t = SliderField(1, 99, 1, decimals=0, value=STYLE_TRANSFER_STEP)
        self.style_scale = QComboBox()
        self.style_scale.setToolTip(
            "Where the content is injected: the finest scale keeps its layout and redraws "
            "textures; coarser scales let the model redraw more."
        )
        self.match = check_box("Match colours to the training image", checked=True)
        self.harmonize = HarmonizePage(state, objects)
        self.masks = masks or MaskCanvas()
        self.extend_view = extend_view or ExtendView()
        self.fill_pages = FillPages(state, self.masks, self.extend_view, self)
        self.viewing_result = False
        """After a heal or extend run the middle shows its result until the user edits again."""
        self.run_button = QPushButton("Generate with regions")
        self.status = _hint("")
        self._build()
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.run_button.clicked.connect(self.request)
        self.regions.changed.connect(self.refresh)
        state.model_changed.connect(self.refresh)
        state.job_changed.connect(self.refresh)
        state.clip_status_changed.connect(self._show_clip_status)
        self.harmonize.placing_changed.connect(self.centre_changed)
        self.harmonize.status_changed.connect(self.status.setText)
        state.model_changed.connect(self.harmonize.refresh_background)
        state.model_changed.connect(self._fill_scales)
        state.model_changed.connect(self.fill_pages.refresh_photo)
        self.fill_pages.heal.editing.connect(self._back_to_tool)
        self.fill_pages.extend.editing.connect(self._back_to_tool)
        self._fill_scales()
        self.refresh()

    def _build(self) -> None:
        pages = [
            (
                self._form(("Strength η", self.region_strength)),
                "Pick regions on the photo and place them on the canvas (shown in the middle), "
                "in the photo's pixels at the resolution images come back at. The rest is "
                "generated around them; size, seed and count come from the Generate tab.",
            ),
            (
                self._text_form(),
                "Text guidance uses CLIP ViT-B/32: 'openai' downloads its weights once (then "
                "cached); or choose a local weights file. The region mode edits the first region "
                "you picked on the photo (Regions).",
            ),
            (
                self._form(
                    ("Content", self.content),
                    ("Inject at", self.style_scale),
                    ("Start at t", self.style_t),
                    ("", self.match),
                ),
                "Redraws the content image with this model's textures (train the model on the "
                "style image). Higher t changes more.",
            ),
            (
                self.harmonize,
                "Blends a pasted object into this model's kind of image. Place it on the image "
                "in the middle; its mask comes from its alpha channel or your brush, and a soft "
                "edge around it is generated. Higher t changes more.",
            ),
            (
                self.fill_pages.heal,
                "Paint over what should go (a blemish, a wire, a person) on the photo in the "
                "middle, or drag a box; Heal fills it from the rest of the photo and keeps every "
                "other pixel. Seed and count come from the Generate tab.",
            ),
            (
                self.fill_pages.extend,
                "Uncrop: the photo is kept exactly and the rest of the larger canvas is "
                "generated around it. Sizes are in the photo's own pixels.",
            ),
            (
                self.fill_pages.tiles,
                "Tile makes an image that repeats without a seam (textures, backgrounds); "
                "mirror makes it symmetric. One of them per axis. Size, seed and count come "
                "from the Generate tab; an exported image is the single tile.",
            ),
        ]
        for form, hint in pages:
            page = QWidget()
            column = QVBoxLayout(page)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(form)
            column.addWidget(_hint(hint))
            column.addStretch(1)
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)

    def _text_form(self) -> QWidget:
        choose = QPushButton("Weights file…")
        choose.clicked.connect(self._choose_weights)
        weights = QWidget()
        row = QHBoxLayout(weights)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.clip_weights, 1)
        row.addWidget(choose)
        self.clip_weights.editingFinished.connect(self.apply_clip_weights)
        self.clip_retry.clicked.connect(self.state.retry_clip_download)
        return self._form(
            ("Prompt", self.prompt),
            ("Mode", self.text_mode),
            ("Strength η", self.text_strength),
            ("Fill factor f", self.fill),
            ("CLIP weights", weights),
            ("", self.clip_status),
            ("", self.clip_retry),
        )

    # ------------------------------------------------------------------ CLIP weights

    @Slot()
    def apply_clip_weights(self) -> None:
        """The weights typed (or chosen) become the state's; its status follows by signal."""
        self.state.set_clip_weights(self.clip_weights.text())

    @Slot()
    def check_clip(self) -> None:
        """Say where the CLIP weights will come from, looking afresh (a file may have appeared
        since), and keep the text tools disabled when they cannot be had (a missing file, an
        unknown tag, a download that failed)."""
        self.apply_clip_weights()
        self.state.refresh_clip_status()
        self._show_clip_status()

    @Slot()
    def _show_clip_status(self) -> None:
        status = self.state.clip_status
        self.clip_status.setText(status.text)
        self.clip_retry.setVisible(status.can_retry)
        self.refresh()

    @staticmethod
    def _form(*rows) -> QWidget:
        widget = QWidget()
        form = QFormLayout(widget)
        form.setContentsMargins(0, 0, 0, 0)
        for label, field in rows:
            form.addRow(label, field)
        return widget

    @Slot()
    def _fill_scales(self) -> None:
        """One entry per scale of the model, finest first (the default)."""
        self.style_scale.clear()
        sizes = self.state.model.sizes if self.state.model else ()
        for index in range(len(sizes) - 1, -1, -1):
            width, height = sizes[index]
            label = "finest scale" if index == len(sizes) - 1 else f"scale {index + 1}"
            self.style_scale.addItem(f"{label} ({width}×{height})", index)

    @Slot()
    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "CLIP weights", "", "Weights (*.pt *.pth *.bin *.safetensors);;All files (*)"
        )
        if path:
            self.clip_weights.setText(path)
            self.apply_clip_weights()

    @Slot()
    def _back_to_tool(self) -> None:
        if self.viewing_result:
            self.viewing_result = False
            self.centre_changed.emit()

    @Slot(int)
    def _on_mode(self, index: int) -> None:
        self.viewing_result = False
        self.status.setText("")  # it spoke of the page left
        self.pages.setCurrentIndex(index)
        self.run_button.setText(RUN_LABELS[index])
        if MODES[index] == "Harmonize":
            self.harmonize.refresh_background()
        if MODES[index] in ("Heal", "Extend"):
            self.fill_pages.refresh_photo()
        if MODES[index] == "Text":
            self.check_clip()  # here, not at start-up: it imports open_clip
        self.centre_changed.emit()
        self.refresh()

    @property
    def centre_tool(self) -> str | None:
        """'regions', 'object', 'heal' or 'extend' when the mode works on a canvas of its own,
        else None."""
        mode = MODES[self.mode.currentIndex()]
        if mode == "Harmonize" and self.harmonize.placing:
            return "object"
        if mode in ("Heal", "Extend") and self.viewing_result:
            return None
        return CENTRE_TOOLS.get(mode)

    def current_request(self) -> Edit | None:
        """The edit for the chosen mode, or None with the reason in `status`."""
        mode = MODES[self.mode.currentIndex()]
        if mode == "Regions":
            pairs = tuple(self.regions.editor.placed)
            if not pairs:
                self._missing("Place at least one region on the canvas first.")
                return None
            return RegionsEdit(pairs, strength=self.region_strength.value())
        if mode == "Text":
            return self._text_request()
        if mode == "Tile & mirror":  # no edit: see `request`
            return None
        if mode == "Style transfer":
            path = self.content.value()
            if not path:
                self._missing("Choose a content image first.")
                return None
            return StyleTransferEdit(
                content=path,
                content_name=Path(path).name,
                start_step=self.style_t.whole_value(),
                scale=self.style_scale.currentData(),
                match=self.match.isChecked(),
            )
        request: Edit | str
        if mode == "Heal":
            request = self.fill_pages.heal.request()
        elif mode == "Extend":
            request = self.fill_pages.extend.request()
        else:
            request = self.harmonize.request()
        if isinstance(request, str):
            self._missing(request)
            return None
        return request

    def _text_request(self) -> TextEdit | None:
        """The prompt with its settings; the region mode edits the first region picked."""
        if not self.prompt.text().strip():
            self._missing("Type a prompt first.")
            return None
        self.check_clip()
        status = self.state.clip_status
        if not status.usable:
            self._missing(status.text)
            return None
        sources = [p.source for p in self.regions.editor.pairs]
        return TextEdit(
            self.prompt.text().strip(),
            mode=text_mode(self.text_mode.currentText()),
            strength=self.text_strength.value(),
            fill=self.fill.value(),
            box=sources[0] if sources else None,
            clip_weights=self.state.clip_weights,
        )

    def _missing(self, reason: str) -> None:
        """Say in `status` why there is no edit to run."""
        self.status.setText(reason)

    @Slot()
    def request(self) -> None:
        """Generate with the chosen edit (size, seed, count and speed are the state's)."""
        if MODES[self.mode.currentIndex()] == "Tile & mirror":
            tile, mirror = self.fill_pages.tiles.choice()
            if tile is None and mirror is None:
                self._missing("Choose a tile or a mirror (or generate on the Generate tab).")
                return
            self.status.setText("")
            self.state.generate(None, tile=tile, mirror=mirror)
            return
        edit = self.current_request()
        if edit is not None:
            self.status.setText("")
            self.state.generate(edit)
            if isinstance(edit, HealEdit | ExtendEdit) and self.state.busy:
                self.viewing_result = True  # the result stays in view when the run ends
                again = (
                    "Click a tool to paint the mask again."
                    if isinstance(edit, HealEdit)
                    else "Change the canvas or the anchor to set it up again."
                )
                self.status.setText(again)

    @Slot()
    def refresh(self, *_) -> None:
        # The CLIP status is looked up only on the Text page: the first look imports open_clip.
        text_blocked = (
            MODES[self.mode.currentIndex()] == "Text" and not self.state.clip_status.usable
        )
        self.run_button.setEnabled(self.state.can_generate and not text_blocked)
        if self.state.model is None:
            self.status.setText("Open or train a model to edit with it.")
        elif self.status.text().startswith("Open or train"):
            self.status.setText("")
