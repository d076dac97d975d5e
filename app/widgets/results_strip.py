"""A horizontal strip of thumbnails of everything generated from the open photo or model (by any
of its engines), each labelled with its seed and the engine that made it (Instant or a trained
model). Each item holds a 96 px pixmap made from the result's thumbnail (app.results)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QMenu, QWidget

from app.messages import engine_label
from app.results import Result
from app.state import AppState
from app.widgets.canvas import to_qimage

THUMB = 96


class ResultsStrip(QListWidget):
    export_requested = Signal(int)
    copy_requested = Signal(int)
    use_seed_requested = Signal(int)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.app_state = state
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setFixedHeight(THUMB + 46)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.currentRowChanged.connect(self._on_row)
        self._shown: list[Result] = []
        """The results the items show, in order (compared by identity)."""
        state.results_changed.connect(self.refresh)
        self.refresh()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Generated images appear here (right-click one for more).",
            )

    @Slot()
    def refresh(self) -> None:
        """Show the state's results. Results added at the end only get their own thumbnails
        (a run of 50 images adds 50, not 50 × all of them); any other change rebuilds the strip.
        """
        results = self.app_state.results
        shown = self._shown
        appended = len(results) >= len(shown) and all(
            old is new for old, new in zip(shown, results, strict=False)
        )
        self.blockSignals(True)
        if not appended:
            self.clear()
            shown = []
        for result in results[len(shown) :]:
            self.addItem(_item(result))
        self._shown = list(results)
        self.blockSignals(False)
        if self.count():
            self.scrollToItem(self.item(self.count() - 1))

    def selected_index(self) -> int | None:
        row = self.currentRow()
        return row if 0 <= row < len(self.app_state.results) else None

    @Slot(int)
    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.app_state.results):
            self.app_state.show_result(row)

    def keyPressEvent(self, event) -> None:
        index = self.selected_index()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and index is not None:
            self.app_state.delete_result(index)
            return
        super().keyPressEvent(event)

    @Slot(object)
    def _menu(self, position) -> None:
        item = self.itemAt(position)
        if item is None:
            return
        index = self.row(item)
        menu = QMenu(self)
        menu.addAction("Export PNG…", lambda: self.export_requested.emit(index))
        menu.addAction("Copy", lambda: self.copy_requested.emit(index))
        menu.addAction("Use this seed", lambda: self.use_seed_requested.emit(index))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.app_state.delete_result(index))
        menu.exec(self.mapToGlobal(position))


def _item(result: Result) -> QListWidgetItem:
    """A thumbnail labelled with the seed and the engine, its tooltip the details. Made from
    the result's small thumbnail: the strip never holds full-size images."""
    pixmap = QPixmap.fromImage(to_qimage(result.thumbnail)).scaled(
        THUMB,
        THUMB,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    engine = "Instant" if result.settings.get("engine") == "instant" else "trained"
    item = QListWidgetItem(QIcon(pixmap), f"seed {result.seed}\n{engine}")
    size = f"{result.size[0]}×{result.size[1]}"
    item.setToolTip(f"Seed {result.seed}, {size}, made by {engine_label(result.settings)}")
    return item
