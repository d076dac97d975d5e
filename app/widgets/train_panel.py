"""Training: what the model will be, preset, steps, device, measured time, Train / Resume."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.events import ModelSummary
from app.state import AppState
from app.viewmodels.jobs import JobKind
from app.widgets.loss_plot import LossPlot
from core.progress import format_duration
from core.training.presets import PRESETS

INSTANT_VERSUS_TRAINING = (
    "Instant needs no training and keeps the photo's layout. Training makes a model file to "
    "keep or share, in the time estimated below. On a CPU, “Refine Instant” trains a small "
    "network to finish Instant's last steps: the same layout, with fewer pieces copied "
    "verbatim from the photo. The other presets train a network that works alone; on a "
    "laptop's CPU it learns the photo's colours and textures but not where things go."
)
"""Measured in docs/quality.md ("A network that refines Instant"): on four photos the refine
preset trains in about 0.3 of the `cpu` preset's time, keeps Instant's layout and coherence and
copies less where Instant copies at all; the `cpu` preset's model loses mountains_trail's
layout."""


class TrainPanel(QWidget):
    def __init__(self, state: AppState, devices: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.summary = QLabel(
            wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.versus = QLabel(INSTANT_VERSUS_TRAINING, wordWrap=True)
        """What training buys over Instant, shown while a photo is open."""
        self.preset = QComboBox()
        for name, preset in PRESETS.items():
            self.preset.addItem(preset.label, name)
        self.preset_help = QLabel(wordWrap=True)
        self.preset_help.setStyleSheet("color: palette(mid);")
        self.steps = QSpinBox(minimum=1, maximum=10_000_000, singleStep=100)
        self.steps.setGroupSeparatorShown(True)
        self.device = QComboBox()
        self.device.addItems(devices)
        self.estimate = QLabel(wordWrap=True)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Start training (Ctrl+T)")
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setToolTip("Stop and keep the last checkpoint (Esc)")
        self.loss = LossPlot()
        self.saved_to = QLabel(wordWrap=True)
        self.saved_to.setStyleSheet("color: palette(mid);")
        self._build()
        self._connect()
        self._sync_options_from_state()
        self.refresh()

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("", self.preset_help)
        form.addRow("Steps", self.steps)
        form.addRow("Device", self.device)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.versus)
        layout.addLayout(form)
        layout.addWidget(self.estimate)
        layout.addLayout(buttons)
        layout.addWidget(self.loss, 1)
        layout.addWidget(self.saved_to)

    def _connect(self) -> None:
        self.preset.currentIndexChanged.connect(self._on_preset_chosen)
        self.steps.editingFinished.connect(self._on_options_edited)
        self.device.currentIndexChanged.connect(self._on_options_edited)
        self.train_button.clicked.connect(self.state.train)
        self.cancel_button.clicked.connect(self.state.cancel)
        for signal in (
            self.state.image_changed,
            self.state.model_changed,
            self.state.estimate_changed,
        ):
            signal.connect(self.refresh)
        self.state.job_changed.connect(self.refresh)
        self.state.loss_changed.connect(self._on_loss)

    @Slot()
    def _on_preset_chosen(self) -> None:
        self.steps.setValue(PRESETS[self.preset.currentData()].steps)
        self._on_options_edited()

    @Slot()
    def _on_options_edited(self) -> None:
        self.state.set_training_options(
            self.preset.currentData(), self.steps.value(), self.device.currentText()
        )
        self.refresh()

    @Slot(object)
    def _on_loss(self, progress) -> None:
        self.loss.set_values(progress.loss_history)

    def _sync_options_from_state(self) -> None:
        for widget in (self.preset, self.steps, self.device):
            widget.blockSignals(True)
        self.preset.setCurrentIndex(max(self.preset.findData(self.state.preset_name), 0))
        self.steps.setValue(self.state.steps)
        self.device.setCurrentText(self.state.device)
        for widget in (self.preset, self.steps, self.device):
            widget.blockSignals(False)

    @Slot()
    def refresh(self) -> None:
        state = self.state
        self._sync_options_from_state()
        self.preset_help.setText(PRESETS[state.preset_name].description)
        self.summary.setText(self._summary_text())
        instant_or_none = state.model is None or state.model.instant
        self.versus.setVisible(state.image is not None and instant_or_none)
        self.estimate.setText(self._estimate_text())
        resuming = state.can_resume  # the current model has steps left (see AppState.train)
        self.train_button.setText("Resume training" if resuming else "Train")
        self.train_button.setEnabled(state.can_train)
        self.cancel_button.setEnabled(state.job == JobKind.TRAIN)
        editable = not state.busy and not resuming
        for widget in (self.preset, self.device):
            widget.setEnabled(editable)
        self.steps.setEnabled(not state.busy)
        model = state.model
        if state.job == JobKind.TRAIN:
            self.saved_to.setText(f"Autosaving to {state.training_path}")
        else:
            has_file = model is not None and not model.instant
            self.saved_to.setText(f"Model file: {model.path}" if model and has_file else "")
        if model is None and state.job != JobKind.TRAIN:
            self.loss.set_values(())

    def _summary_text(self) -> str:
        state = self.state
        if state.model is not None and not state.model.instant:
            lines = self._model_lines(state.model)
            photo = Path(state.image.path).name if state.image is not None else None
            if photo is not None and state.can_resume:
                lines.append(f"To train a new model of {photo}, choose Instant in Generate.")
            elif photo is not None:
                lines.append(f"Train starts a new model of {photo}.")
        elif state.image is not None:
            info = state.image
            sizes = ", ".join(f"{w}×{h}" for w, h in info.train_sizes)
            src_w, src_h = info.source_size
            lines = [
                f"<b>{Path(info.path).name}</b> ({src_w}×{src_h})",
                f"Scales: {sizes}",
                f"Start steps T[s]: {', '.join(map(str, info.start_steps))}",
                f"Network: {info.parameters:,} parameters",
            ]
        else:
            return "Open a photo to train on, or a model to generate from."
        return "<br>".join(lines)

    @staticmethod
    def _model_lines(model: ModelSummary) -> list[str]:
        sizes = ", ".join(f"{w}×{h}" for w, h in model.sizes)
        return [
            f"<b>Model {Path(model.path).name}</b>",
            f"Trained {model.steps_trained:,} of {model.total_steps:,} steps",
            f"Scales: {sizes}",
            f"Start steps T[s]: {', '.join(map(str, model.start_steps))}",
            f"Network: {model.parameters:,} parameters",
        ]

    def _estimate_text(self) -> str:
        """The measured time of training the open photo anew (not of resuming a model)."""
        state = self.state
        if state.image is None or state.can_resume:
            return ""
        if state.job == JobKind.ESTIMATE:
            return "Measuring training speed on this device…"
        if state.estimate is None:
            return ""
        e = state.estimate
        return (
            f"Estimated training time: <b>{format_duration(e.seconds_per_step * state.steps)}</b>"
            f"<br>({e.seconds_per_step:.3f} s per step, measured on {e.device})"
        )
