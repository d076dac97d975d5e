"""Where the CLIP weights for text guidance come from, and whether a text run can use them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.engine_api import EngineApi
from app.events import ClipStatus

DEFAULT_CLIP_WEIGHTS = "openai"


class ClipWeights(QObject):
    """The weights text runs use, and their status (`status_changed` when it changes).

    The status is computed when first asked for (the engine imports open_clip: a second or
    two), then kept up to date; a download that failed in this session marks it 'failed'."""

    status_changed = Signal()

    def __init__(self, engine: EngineApi, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self._weights = DEFAULT_CLIP_WEIGHTS
        self._status: ClipStatus | None = None
        self._failures: dict[str, str] = {}
        """Weights whose download failed in this session, with the reason."""

    @property
    def weights(self) -> str:
        """An open_clip tag ('openai') or a local file."""
        return self._weights

    @property
    def status(self) -> ClipStatus:
        if self._status is None:
            self._status = self._check()
        return self._status

    def set_weights(self, weights: str) -> None:
        weights = weights.strip() or DEFAULT_CLIP_WEIGHTS
        if weights != self._weights:
            self._weights = weights
            self.update()

    def refresh(self) -> None:
        """Look again (a weights file may have appeared since)."""
        self.update(force=True)

    def retry_download(self) -> None:
        """Forget that the download of the current weights failed, so a text run tries again."""
        if self._failures.pop(self._weights, None) is not None:
            self.update(force=True)

    def download_failed(self, weights: str, reason: str) -> None:
        self._failures[weights] = reason
        self.update(force=True)

    def update(self, force: bool = False) -> None:
        """Recompute the status if anyone has seen it (or `force`), and say if it changed."""
        old = self._status
        if old is None and not force:
            return  # nobody asked yet: it is computed when first read
        self._status = self._check()
        if self._status != old:
            self.status_changed.emit()

    def _check(self) -> ClipStatus:
        weights = self._weights
        status = self.engine.clip_status(weights)
        failure = self._failures.get(weights)
        if failure is not None and status.availability not in ("present", "cached"):
            text = f"{failure} Text guidance stays off until the weights can be had."
            return ClipStatus(weights, "failed", text)
        return status
