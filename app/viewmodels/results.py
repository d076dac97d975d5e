"""The generated images in the strip: showing, deleting and exporting them (app.results keeps
them on disk)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app import messages
from app import results as results_store
from app.results import Result
from app.viewmodels.canvas import CanvasImage
from core.errors import SinDDMError


def result_caption(result: Result) -> str:
    """'Seed 7 · 258×193 · Instant (no training)': a result as the canvas names it."""
    size = f"{result.size[0]}×{result.size[1]}"
    return f"Seed {result.seed} · {size} · {messages.engine_label(result.settings)}"


class ResultsList(QObject):
    """The results shown in the strip, oldest first (`changed` when the list changes); a failed
    export is an `error_raised(title, message)`, a done one a `message`."""

    changed = Signal()
    error_raised = Signal(str, str)
    message = Signal(str)

    def __init__(self, canvas: CanvasImage, parent: QObject | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.items: list[Result] = []

    def replace_all(self, results: list[Result]) -> None:
        self.items = results
        self.changed.emit()

    def merged(self, stored: tuple[Result, ...]) -> list[Result]:
        """The results shown, then those of `stored` not shown yet (matched by file)."""
        shown = {result.path for result in self.items if result.path is not None}
        new = [result for result in stored if result.path is None or result.path not in shown]
        return [*self.items, *new]

    def add(self, result: Result) -> None:
        self.items.append(result)
        self.changed.emit()

    def delete(self, index: int) -> None:
        """Take result `index` out of the strip and delete its file."""
        results_store.remove(self.items.pop(index))
        self.changed.emit()

    def show(self, index: int) -> None:
        """Show result `index` at full resolution (read back from its file when it is not among
        the few kept in memory); a file that has gone shows its thumbnail and says so."""
        result = self.items[index]
        try:
            self.canvas.show(result.image, result_caption(result))
        except SinDDMError as exc:
            self.canvas.show(result.thumbnail, f"{result_caption(result)} · thumbnail only")
            self.message.emit(str(exc))

    def export(self, index: int, path: str) -> bool:
        """Write result `index` as a PNG at `path` (replacing a file there: the window asks
        first). A failed write (full disk, no permission) is an `error_raised`; the result stays
        in the strip either way."""
        failure = self._export(index, path)
        if failure is not None:
            self.error_raised.emit("Cannot export", failure)
            return False
        self.message.emit(f"Exported {path}")
        return True

    def existing_exports(self, folder: str) -> list[str]:
        """The names `export_all` would write that are already in `folder`."""
        names = (results_store.export_name(result) for result in self.items)
        return [name for name in names if (Path(folder) / name).exists()]

    def export_all(self, folder: str, replace: bool = True) -> int:
        """Export every result into `folder` under its `results.export_name` (files already
        there are replaced, or with `replace` False left as they are); how many were written.
        The first failed write stops it with one `error_raised` (a full disk would fail them
        all)."""
        written = 0
        for index, result in enumerate(self.items):
            path = Path(folder) / results_store.export_name(result)
            if not replace and path.exists():
                continue
            failure = self._export(index, str(path))
            if failure is not None:
                total = len(self.items)
                self.error_raised.emit(
                    "Cannot export", f"Exported {written} of {total} images. {failure}"
                )
                break
            written += 1
        return written

    def _export(self, index: int, path: str) -> str | None:
        """Write one result; None, or why it could not be written in plain words."""
        try:
            results_store.export(self.items[index], path)
        except SinDDMError as exc:
            return str(exc)
        except OSError as exc:  # core wraps its writes, but a write may fail before it can
            return messages.describe_write_failure(exc) or f"Could not write {path}: {exc}."
        return None
