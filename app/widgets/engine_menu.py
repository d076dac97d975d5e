"""Run ▸ Engine, and the status bar's word on it: which model Generate uses."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMenu

from app.events import ModelKind
from app.messages import engine_choice, engine_in_use
from app.state import AppState

ENGINE_CHOICES: tuple[tuple[ModelKind, str], ...] = (
    ("instant", "Instant (no training)"),
    ("trained", "Trained model"),
)


class EngineMenu(QObject):
    """Instant or the trained model, as the Generate tab's Engine box: one checkable action
    each (`actions`), enabled while both are open and nothing runs; `status` names the one
    in use."""

    def __init__(self, state: AppState, menu: QMenu, status: QLabel, parent: QObject):
        super().__init__(parent)
        self.state, self.status = state, status
        group = QActionGroup(self)  # exclusive: one is checked
        self.actions: dict[ModelKind, QAction] = {}
        for kind, text in ENGINE_CHOICES:
            action = QAction(text, self)
            action.setCheckable(True)
            group.addAction(action)
            action.triggered.connect(self._use_instant if kind == "instant" else self._use_trained)
            menu.addAction(action)
            self.actions[kind] = action

    def update(self) -> None:
        """The actions and the status bar follow the state."""
        state = self.state
        open_models = {model.kind: model for model in state.engines}
        for kind, action in self.actions.items():
            model = open_models.get(kind)
            if kind == "trained":
                action.setText(engine_choice(model) if model else "Trained model")
            action.setEnabled(model is not None and state.can_switch_engine)
            action.setChecked(state.model is not None and state.model.kind == kind)
        self.status.setText(engine_in_use(state.model) if state.model is not None else "")

    @Slot()
    def _use_instant(self) -> None:
        self._use("instant")

    @Slot()
    def _use_trained(self) -> None:
        self._use("trained")

    def _use(self, kind: ModelKind) -> None:
        self.state.use_engine(kind)
        self.update()  # checks the one in use, should the state have refused
