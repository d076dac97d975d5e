"""The training-time estimate: real steps at every affordable scale, the rest extrapolated."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from app import engine
from core.config import ModelConfig, TrainConfig
from core.training.trainer import Trainer


@pytest.fixture
def trainer(tiny_image):
    return Trainer.from_image(tiny_image, ModelConfig(dim=8), TrainConfig(steps=10, batch_size=1))


def test_every_scale_is_timed_when_steps_are_quick(trainer):
    seconds = engine.seconds_per_step(trainer, threading.Event())
    assert seconds > 0 and trainer.state.step == 2 * trainer.pyramid.num_scales


def test_slow_scales_are_extrapolated_by_pixels(trainer, monkeypatch):
    monkeypatch.setattr(engine, "MEASURE_SECONDS", 0.0)
    clock = iter([10.0, 11.0, 12.0, 13.0])  # two timed steps of 1 s each
    monkeypatch.setattr(engine, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    seconds = engine.seconds_per_step(trainer, threading.Event())
    assert trainer.state.step == 2  # the coarsest scale only
    (w0, h0), (w1, h1) = trainer.pyramid.sizes
    assert seconds == pytest.approx((1.0 + 1.0 * w1 * h1 / (w0 * h0)) / 2)


def test_a_stopped_estimate_yields_nothing(trainer):
    stop = threading.Event()
    stop.set()
    assert engine.seconds_per_step(trainer, stop) is None
