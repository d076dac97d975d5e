"""One background QThread that runs jobs (generators of plain-data events) one at a time.

The contract (after superqt's thread workers): the GUI asks for a job; the worker pulls events
from it, emitting `event_sent` for each; a stop request sets an event the job checks between steps
(jobs end themselves when it is set, so that training can save and report), and the worker
closes the generator so its `finally` blocks free memory. A job's exception crosses to the GUI
as the exception object, through `failed`, for the view-model to put into words. Connect these
signals to @Slot methods of GUI-thread objects.

No torch here: the jobs bring their own (app.engine).
"""

from __future__ import annotations

import threading
import weakref
from typing import ClassVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.engine_api import Job


class _JobWorker(QObject):
    """Lives in the worker thread."""

    event_sent = Signal(object)
    failed = Signal(object)
    finished = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()

    @Slot(str, object)
    def run(self, kind: str, job: Job) -> None:
        events = None
        try:
            events = job(self.stop)
            for event in events:
                self.event_sent.emit(event)
        except BaseException as exc:
            self.failed.emit(exc)
        finally:
            if events is not None:
                events.close()  # runs the job's `finally` blocks
            self.finished.emit(kind)


class JobRunner(QObject):
    """GUI-thread handle on the worker thread: start, stop, and know what is running.

    `event_sent(object)`, `failed(object)` (the exception) and `finished(str)` (the job's kind) are
    re-emitted in the GUI thread, in the order the worker sent them.
    """

    _instances: ClassVar[weakref.WeakSet[JobRunner]] = weakref.WeakSet()

    event_sent = Signal(object)
    failed = Signal(object)
    finished = Signal(str)
    _run_requested = Signal(str, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.running: str | None = None
        self._thread = QThread()
        self._thread.setObjectName("sinddm-worker")
        self._worker = _JobWorker()
        self._worker.moveToThread(self._thread)
        self._run_requested.connect(self._worker.run)
        # Signal to signal: queued into this (GUI-thread) object, so re-emitted there.
        self._worker.event_sent.connect(self.event_sent)
        self._worker.failed.connect(self.failed)
        self._worker.finished.connect(self._on_finished)
        self._thread.start()
        JobRunner._instances.add(self)

    @classmethod
    def instances(cls) -> list[JobRunner]:
        """Live runners (tests check that none is left running)."""
        return list(cls._instances)

    def thread_running(self) -> bool:
        return self._thread.isRunning()

    def start(self, kind: str, job: Job) -> None:
        if self.running is not None:
            raise RuntimeError(f"a {self.running} job is already running")
        self.running = kind
        self._worker.stop.clear()
        self._run_requested.emit(kind, job)

    def request_stop(self) -> None:
        self._worker.stop.set()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop any job and end the thread; True if it ended in time."""
        self.request_stop()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    @Slot(str)
    def _on_finished(self, kind: str) -> None:
        self.running = None
        self.finished.emit(kind)
