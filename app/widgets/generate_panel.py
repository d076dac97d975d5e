"""Generating: which engine (Instant or the trained model), canvas size (with aspect lock and
quick choices, in the pixels of the photo at the resolution images come back at), seed, number
of samples, and how long that will take on this computer.

The settings are the view-model's (AppState.size, seed, count, fast): the widgets write them
through its setters and follow its `<name>_changed` signals, so the Edit tab and a result's
"Use this seed" share them.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.messages import engine_choice
from app.state import AppState
from app.viewmodels.jobs import JobKind
from app.viewmodels.settings import SEED_WIDGET_MAX

MAX_SIDE = 16384
"""The spin boxes' limit; core refuses an image over 16.7 megapixels with a plain sentence."""
MAX_COUNT = 64
TIP = Qt.ItemDataRole.ToolTipRole
QUICK_SIZES = {"1×": (1, 1), "2× wide": (2, 1), "2× tall": (1, 2), "2×": (2, 2)}
"""Quick canvas sizes as multiples of the photo's resolution (width, height)."""
ENGINE_HELP = (
    "What Generate uses. Instant needs no training: it rearranges the photo's own patches. "
    "After a training of the photo both stay open: switch between them at any time."
)


class GeneratePanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.engine = QComboBox(placeholderText="Open a photo or a model")
        self.engine.setToolTip(ENGINE_HELP)
        # a long model name is cut short rather than widening the panel
        self.engine.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.engine.setMinimumContentsLength(12)
        self.width_box = QSpinBox(minimum=16, maximum=MAX_SIDE, suffix=" px")
        self.height_box = QSpinBox(minimum=16, maximum=MAX_SIDE, suffix=" px")
        self.lock_aspect = QCheckBox("Lock aspect ratio")
        self.quick = {label: QPushButton(label) for label in QUICK_SIZES}
        self.seed = QSpinBox(minimum=0, maximum=SEED_WIDGET_MAX)  # a QSpinBox holds int32
        self.random_seed = QCheckBox("Random seed")
        self.count = QSpinBox(minimum=1, maximum=MAX_COUNT)
        self.fast = QCheckBox("Fast sampling")
        self.fast.setToolTip(
            "A trained model: every second step at the finer scales, and bfloat16 where the "
            "processor has it: 1.7–4× faster, with the same measured quality. Images differ "
            "slightly from full sampling with the same seed.\n"
            "Instant: half its usual steps (every 4th at the finer scales, every 8th at the "
            "coarsest): about 1.5× faster; the layout can differ from the same seed's image."
        )
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Generate (Ctrl+G)")
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setToolTip("Stop generating (Esc)")
        self.time = QLabel(wordWrap=True)
        self.time.setToolTip(
            "Measured on this computer: a short test run when a model opens, then every generation."
        )
        self.hint = QLabel(wordWrap=True)
        self.hint.setStyleSheet("color: palette(mid);")
        self._aspect = 1.0
        self._editing_size = False
        self._build()
        self._connect()
        self._show_size(*state.size)
        self._show_seed(state.seed)
        self._show_count(state.count)
        self._show_fast(state.fast)
        self.refresh()

    def _build(self) -> None:
        quick = QGridLayout()
        for i, button in enumerate(self.quick.values()):
            quick.addWidget(button, i // 2, i % 2)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout()
        form.addRow("Engine", self.engine)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("", self.lock_aspect)
        form.addRow("Size", quick)
        form.addRow("Seed", seed_row)
        form.addRow("Images", self.count)
        form.addRow("", self.fast)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.time)
        layout.addWidget(self.hint)
        layout.addStretch(1)

    def _connect(self) -> None:
        state = self.state
        self.engine.currentIndexChanged.connect(self._on_engine_chosen)
        self.width_box.valueChanged.connect(self._on_width)
        self.height_box.valueChanged.connect(self._on_height)
        self.lock_aspect.toggled.connect(self._remember_aspect)
        for label, button in self.quick.items():
            button.clicked.connect(self._on_quick_size)
            button.setProperty("factor", QUICK_SIZES[label])
        self.random_seed.toggled.connect(self._on_seed_edited)
        self.seed.valueChanged.connect(self._on_seed_edited)
        self.count.valueChanged.connect(state.set_count)
        self.fast.toggled.connect(state.set_fast)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(state.cancel)
        state.size_changed.connect(self._show_size)
        state.seed_changed.connect(self._show_seed)
        state.count_changed.connect(self._show_count)
        state.fast_changed.connect(self._show_fast)
        state.model_changed.connect(self.refresh)
        state.job_changed.connect(self.refresh)
        for changed in (state.size_changed, state.count_changed, state.fast_changed):
            changed.connect(self.show_time)
        state.speed_changed.connect(self.show_time)

    @Slot()
    def generate(self) -> None:
        """Generate with the settings shown (they are the state's)."""
        self.state.generate()

    # ------------------------------------------------------------ widgets -> state

    @Slot(int)
    def _on_engine_chosen(self, index: int) -> None:
        kind = self.engine.itemData(index)
        if kind is not None and not self.state.use_engine(kind):
            self._show_engines()  # refused (busy): show the one still in use

    @Slot()
    def _on_quick_size(self) -> None:
        model = self.state.model
        if model is None:
            return
        fx, fy = self.sender().property("factor")
        width, height = model.output_size
        self.state.set_size(width * fx, height * fy)

    @Slot(int)
    def _on_width(self, width: int) -> None:
        height = self.height_box.value()
        if self.lock_aspect.isChecked():
            height = max(16, round(width / self._aspect))
        self._edit_size(width, height)

    @Slot(int)
    def _on_height(self, height: int) -> None:
        width = self.width_box.value()
        if self.lock_aspect.isChecked():
            width = max(16, round(height * self._aspect))
        self._edit_size(width, height)

    def _edit_size(self, width: int, height: int) -> None:
        self._editing_size = True  # typed: the locked aspect stays what it was
        try:
            self.state.set_size(width, height)
        finally:
            self._editing_size = False

    @Slot()
    def _on_seed_edited(self, *_) -> None:
        self.state.set_seed(None if self.random_seed.isChecked() else self.seed.value())

    @Slot()
    def _remember_aspect(self, *_) -> None:
        self._aspect = self.width_box.value() / max(self.height_box.value(), 1)

    # ------------------------------------------------------------ state -> widgets

    @Slot(int, int)
    def _show_size(self, width: int, height: int) -> None:
        """The boxes follow the state; a size set from elsewhere (a model, a quick size, a
        result's seed) becomes the aspect the lock keeps."""
        with QSignalBlocker(self.width_box), QSignalBlocker(self.height_box):
            self.width_box.setValue(width)
            self.height_box.setValue(height)
        if not self._editing_size:
            self._remember_aspect()

    @Slot(object)
    def _show_seed(self, seed: int | None) -> None:
        with QSignalBlocker(self.seed), QSignalBlocker(self.random_seed):
            self.random_seed.setChecked(seed is None)
            if seed is not None:
                self.seed.setValue(seed)
        self.seed.setDisabled(seed is None)

    @Slot(int)
    def _show_count(self, count: int) -> None:
        with QSignalBlocker(self.count):
            self.count.setValue(count)

    @Slot(bool)
    def _show_fast(self, on: bool) -> None:
        with QSignalBlocker(self.fast):
            self.fast.setChecked(on)

    def _show_engines(self) -> None:
        """One entry per open model (Instant, the trained one), the current one chosen;
        the items are rebuilt only when the models changed."""
        state = self.state
        wanted = [(engine_choice(model), model.kind, model.path) for model in state.engines]
        shown = [
            (self.engine.itemText(i), self.engine.itemData(i), self.engine.itemData(i, TIP))
            for i in range(self.engine.count())
        ]
        with QSignalBlocker(self.engine):
            if wanted != shown:
                self.engine.clear()
                for text, kind, path in wanted:
                    self.engine.addItem(text, kind)
                    self.engine.setItemData(self.engine.count() - 1, path, TIP)
            model = state.model
            self.engine.setCurrentIndex(-1 if model is None else self.engine.findData(model.kind))
        self.engine.setEnabled(state.can_switch_engine)

    @Slot()
    def refresh(self) -> None:
        state = self.state
        self._show_engines()
        self.generate_button.setEnabled(state.can_generate)
        self.cancel_button.setEnabled(state.job == JobKind.SAMPLE)
        for button in self.quick.values():
            button.setEnabled(state.model is not None)
        self.hint.setText(self._hint())
        self.show_time()

    @Slot()
    def show_time(self, *_) -> None:
        """How long the size, count and speed set will take (AppState.time_estimate)."""
        self.time.setText(self.state.time_estimate())

    def _hint(self) -> str:
        state = self.state
        if state.job == JobKind.TRAIN:
            return (
                "Training is running. Generating waits until it ends or is stopped: both need "
                "the whole processor."
            )
        model = state.model
        if model is None:
            return "Open a photo (Ctrl+O) or a model (Ctrl+Shift+O) to generate."
        w, h = model.sizes[-1]
        width, height = model.output_size
        detail = (
            f" Detail scales carry the photo's own detail up to {width}×{height}, its "
            "resolution here (1× above)."
            if (width, height) != (w, h)
            else ""
        )
        if model.instant:
            return (
                "Instant: new images from the photo's own patches, with no training, laid out "
                f"at {w}×{h}.{detail} Any canvas size works. Each image i of a run uses "
                "seed + i."
            )
        return (
            f"The model was trained at {w}×{h}.{detail} Any canvas size works: the same "
            "patterns are arranged anew. Each image i of a run uses seed + i."
        )
