"""The running job and those waiting: one job at a time runs in the worker (app.worker)."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QObject, Signal, Slot

from app.engine_api import Job, Runner


class JobKind(StrEnum):
    """What a job does. Its value is what the runner and `Jobs.changed` carry."""

    TRAIN = "train"
    SAMPLE = "sample"
    OPEN = "open"
    INSTANT = "instant"
    SAVE = "save"
    ESTIMATE = "estimate"
    CALIBRATE = "calibrate"

    @property
    def measuring(self) -> bool:
        """A speed measurement: stopped when the user starts something, stopping nothing."""
        return self in (JobKind.ESTIMATE, JobKind.CALIBRATE)

    @property
    def busy(self) -> bool:
        """Keeps the user from starting another job (a measurement is abandoned instead)."""
        return not self.measuring

    @property
    def quick(self) -> bool:
        """Over in a second or so: a job the user starts meanwhile waits for it."""
        return self in (JobKind.OPEN, JobKind.INSTANT, JobKind.SAVE)


class Jobs(QObject):
    """Starts jobs on the runner, queues the ones that must wait, and says when it is idle.

    `changed(kind)`: a job started (its kind) or the last one ended (''); `ended(kind)`: a job
    ended, before the next queued one starts; `idle`: nothing runs or waits any more."""

    changed = Signal(str)
    ended = Signal(str)
    idle = Signal()

    def __init__(self, runner: Runner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self._queue: list[tuple[JobKind, Job]] = []
        runner.finished.connect(self._on_finished)

    @property
    def running(self) -> JobKind | None:
        kind = self.runner.running
        return JobKind(kind) if kind else None

    @property
    def queued(self) -> tuple[JobKind, ...]:
        return tuple(kind for kind, _ in self._queue)

    @property
    def busy(self) -> bool:
        """True while a job that is not a measurement runs or waits."""
        kinds = [self.running, *self.queued]
        return any(kind is not None and kind.busy for kind in kinds)

    def start(self, kind: JobKind, job: Job) -> None:
        """Run `job` now; after a measurement (which stops) or a quick job (which ends soon).
        While training or generating the GUI offers nothing else to start: it is dropped."""
        running = self.running
        if running is None:
            self._run(kind, job)
        elif running.measuring:  # cheap to abandon: stop it and run this next
            self.drop(running)
            self._queue.insert(0, (kind, job))  # before other measurements still waiting
            self.runner.request_stop()
        elif running.quick:
            self._queue.append((kind, job))

    def start_quietly(self, kind: JobKind, job: Job) -> None:
        """A speed measurement: now when nothing runs, else queued (replacing one of its kind,
        ahead of a training estimate, as generating comes first); it never stops a job."""
        if self.running is None:
            self._run(kind, job)
            return
        self.drop(kind)
        kinds = self.queued
        at = kinds.index(JobKind.ESTIMATE) if JobKind.ESTIMATE in kinds else len(kinds)
        self._queue.insert(at, (kind, job))

    def drop(self, kind: JobKind) -> None:
        """Forget the queued jobs of `kind` (the running one goes on)."""
        self._queue = [queued for queued in self._queue if queued[0] != kind]

    def cancel(self) -> bool:
        """Stop the running job and forget the queued ones; False when nothing runs."""
        if self.running is None:
            return False
        self._queue.clear()
        self.runner.request_stop()
        return True

    def shutdown(self) -> bool:
        """Stop any job and end the worker thread; True if it ended in time."""
        return self.runner.shutdown()

    def _run(self, kind: JobKind, job: Job) -> None:
        self.runner.start(kind, job)
        self.changed.emit(kind)

    @Slot(str)
    def _on_finished(self, kind: str) -> None:
        self.ended.emit(kind)
        if self.runner.running is None and self._queue:
            self._run(*self._queue.pop(0))
        if self.runner.running is None:
            self.changed.emit("")
            self.idle.emit()
