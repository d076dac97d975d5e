"""app.viewmodels.jobs on its own: which job runs, which waits, and when the app is idle."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from app.viewmodels.jobs import JobKind, Jobs


class ScriptedRunner(QObject):
    """A runner that runs nothing: the test ends each job with `finish`."""

    event_sent = Signal(object)
    failed = Signal(object)
    finished = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.running: str | None = None
        self.started: list[str] = []
        self.stops = 0

    def start(self, kind: str, job) -> None:
        assert self.running is None
        self.running = kind
        self.started.append(kind)

    def request_stop(self) -> None:
        self.stops += 1

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return True

    def finish(self) -> None:
        kind, self.running = self.running, None
        self.finished.emit(kind)


def _job(stop):
    yield from ()


@pytest.fixture
def jobs(qapp):
    return Jobs(ScriptedRunner())


def test_job_kinds_say_what_they_keep_from_the_user():
    assert {kind for kind in JobKind if kind.measuring} == {JobKind.ESTIMATE, JobKind.CALIBRATE}
    assert {kind for kind in JobKind if kind.quick} == {
        JobKind.OPEN,
        JobKind.INSTANT,
        JobKind.SAVE,
    }
    assert all(kind.busy != kind.measuring for kind in JobKind)
    assert JobKind.SAMPLE == "sample", "the runner and job_changed carry the plain value"


def test_a_job_starts_at_once_when_nothing_runs(jobs):
    changed = []
    jobs.changed.connect(changed.append)
    jobs.start(JobKind.SAMPLE, _job)
    assert jobs.running is JobKind.SAMPLE and jobs.busy
    assert changed == ["sample"]


def test_a_measurement_is_stopped_for_a_job_the_user_starts(jobs):
    jobs.start(JobKind.ESTIMATE, _job)
    assert not jobs.busy, "a measurement keeps nobody waiting"
    jobs.start(JobKind.OPEN, _job)
    assert jobs.runner.stops == 1 and jobs.queued == (JobKind.OPEN,)
    assert jobs.busy, "the queued job counts"
    jobs.runner.finish()
    assert jobs.running is JobKind.OPEN


def test_a_quick_job_is_waited_for_and_training_drops_what_comes_meanwhile(jobs):
    jobs.start(JobKind.INSTANT, _job)
    jobs.start(JobKind.ESTIMATE, _job)
    assert jobs.queued == (JobKind.ESTIMATE,) and jobs.runner.stops == 0
    jobs.runner.finish()
    jobs.runner.finish()
    jobs.start(JobKind.TRAIN, _job)
    jobs.start(JobKind.SAMPLE, _job)
    assert jobs.queued == (), "the GUI offers nothing while training"


def test_measurements_queue_quietly_calibration_before_the_estimate(jobs):
    jobs.start(JobKind.OPEN, _job)
    jobs.start(JobKind.ESTIMATE, _job)
    jobs.start_quietly(JobKind.CALIBRATE, _job)
    jobs.start_quietly(JobKind.CALIBRATE, _job)
    assert jobs.queued == (JobKind.CALIBRATE, JobKind.ESTIMATE), "one of a kind, calibrate first"
    jobs.drop(JobKind.CALIBRATE)
    assert jobs.queued == (JobKind.ESTIMATE,)
    assert jobs.runner.stops == 0, "a quiet start stops nothing"


def test_the_end_of_a_job_starts_the_next_and_idle_follows_the_last(jobs):
    seen: list[object] = []
    jobs.ended.connect(lambda kind: seen.append(("ended", kind)))
    jobs.changed.connect(lambda kind: seen.append(("changed", kind)))
    jobs.idle.connect(lambda: seen.append("idle"))
    jobs.start(JobKind.SAVE, _job)
    jobs.start(JobKind.ESTIMATE, _job)
    seen.clear()
    jobs.runner.finish()
    assert seen == [("ended", "save"), ("changed", "estimate")]
    jobs.runner.finish()
    assert seen[2:] == [("ended", "estimate"), ("changed", ""), "idle"]
    assert jobs.running is None and not jobs.busy


def test_cancel_stops_the_running_job_and_forgets_the_queue(jobs):
    assert not jobs.cancel(), "nothing to stop"
    jobs.start(JobKind.OPEN, _job)
    jobs.start(JobKind.ESTIMATE, _job)
    assert jobs.cancel()
    assert jobs.runner.stops == 1 and jobs.queued == ()
