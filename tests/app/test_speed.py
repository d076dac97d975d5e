"""The bookkeeping behind "About 12 s for 1 image": steps timed by part, rates kept per model,
a short test run's guess never replacing a real run's measure."""

from __future__ import annotations

import threading

import pytest
import torch

from app.engine import PREVIEW_INTERVAL, _preview_interval
from app.events import ResultsSaved, SpeedMeasured
from app.speed import SpeedBook, StepTimer, describe, measuring

PHOTO = ("/photos/a.jpg", "instant", "cpu")
OTHER = ("/photos/b.jpg", "instant", "cpu")


def _measured(model, base, detail, test=False, **more) -> SpeedMeasured:
    return SpeedMeasured(model[1], model[2], base, detail, test=test, model=model, **more)


def test_each_step_is_timed_into_its_part():
    ticks = iter([0.0, 1.0, 1.5, 4.5])
    timer = StepTimer(clock=lambda: next(ticks))
    timer.step(False, 1000.0)  # a model scale's step: 1 s for 1000 pixel-steps
    timer.step(False, 1500.0)
    timer.step(True, 4500.0)  # a detail step: 3 s for 3000
    assert timer.rate(False) == pytest.approx(1.5 / 1500)
    assert timer.rate(True) == pytest.approx(3.0 / 3000)
    assert StepTimer(clock=lambda: 0.0).rate(True) is None, "nothing timed: no rate"


def test_a_test_runs_guess_never_replaces_a_real_runs_rate():
    book = SpeedBook()
    assert book.estimate(PHOTO, False, (100.0, 0.0)) is None
    assert book.record(_measured(PHOTO, 1e-3, 2e-3, test=True))
    guess = book.estimate(PHOTO, False, (100.0, 50.0))
    assert guess is not None and guess.rough and guess.seconds == pytest.approx(0.2)
    assert book.record(_measured(PHOTO, 2e-3, None))
    assert not book.record(_measured(PHOTO, 9.0, None, test=True))
    mixed = book.estimate(PHOTO, False, (100.0, 50.0))
    assert mixed is not None and mixed.rough, "the detail rate is still the test's"
    assert mixed.seconds == pytest.approx(0.2 + 0.1)
    trained = ("/m.sinddm", "trained", "cpu")
    assert book.estimate(trained, False, (1.0, 0.0)) is None, "another network"
    assert book.estimate(("/photos/a.jpg", "instant", "cuda"), False, (1.0, 0.0)) is None


def test_a_model_borrows_detail_rates_of_its_device_and_the_other_precision():
    book = SpeedBook()
    book.record(_measured(PHOTO, 1e-3, 1e-3))
    book.record(_measured(OTHER, 5e-3, None))
    borrowed = book.estimate(OTHER, False, (10.0, 10.0))
    assert borrowed is not None and borrowed.rough and borrowed.seconds == pytest.approx(0.06)
    bf16 = book.estimate(OTHER, True, (10.0, 0.0))
    assert bf16 is not None and bf16.rough and bf16.seconds == pytest.approx(0.05)
    book.record(_measured(OTHER, None, 2e-3))
    own = book.estimate(OTHER, False, (10.0, 10.0))
    assert own is not None and not own.rough and own.seconds == pytest.approx(0.07)


def test_preparing_the_detail_scales_counts_until_done():
    book = SpeedBook()
    book.record(_measured(PHOTO, 1e-3, 1e-3, test=True, prepare=1e-2))
    first = book.estimate(PHOTO, False, (100.0, 100.0), prepare_pixels=50)
    assert first is not None and first.seconds == pytest.approx(0.1 + 0.1 + 0.5)
    without_detail = book.estimate(PHOTO, False, (100.0, 0.0), prepare_pixels=50)
    assert without_detail is not None and without_detail.seconds == pytest.approx(0.1)
    timer = StepTimer(clock=lambda: 0.0)
    timer.prepared(0.3, 1000)
    assert timer.prepare_rate() == pytest.approx(3e-4)
    timer.prepared(0.004, 1000)  # found them built: a few milliseconds say nothing
    assert timer.prepare_rate() is None


def test_writing_large_results_counts_once_timed():
    book = SpeedBook()
    book.record(_measured(PHOTO, 1e-3, None))
    assert not book.record(ResultsSaved(0.05, 20_000)), "a small PNG's fixed costs say little"
    assert book.record(ResultsSaved(1.3, 4_000_000))
    estimate = book.estimate(PHOTO, False, (1000.0, 0.0), saved_pixels=8_000_000)
    assert estimate is not None and estimate.seconds == pytest.approx(1.0 + 2.6)


def test_the_view_model_marks_whose_speed_a_job_measured():
    def job(stop):
        yield "progress"
        yield SpeedMeasured("instant", "auto", 1.0, None)

    events = list(measuring(job, PHOTO)(threading.Event()))
    assert events[0] == "progress" and events[1].model == PHOTO


def test_the_estimate_in_words():
    assert describe(None, 1, (10, 10)) == "Time: estimating…"
    book = SpeedBook()
    book.record(_measured(PHOTO, 1.0, None))
    estimate = book.estimate(PHOTO, False, (75.0, 0.0))
    assert describe(estimate, 2, (2309, 1732)) == (
        "About 1 min 15 s for 2 images at 2309×1732 on this computer"
    )


def test_large_previews_are_spaced_out():
    assert _preview_interval(torch.zeros(1, 3, 193, 274)) == PREVIEW_INTERVAL
    four_mp = _preview_interval(torch.zeros(1, 3, 1631, 2451))
    assert four_mp == pytest.approx(PREVIEW_INTERVAL * 1631 * 2451 / 1e6)
