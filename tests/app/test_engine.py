"""The real engine's jobs, run directly (no thread): they take what they need as arguments and
report what they make, so two models can be used side by side and nothing leaks between jobs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine import Engine
from app.events import ModelOpened, ModelSaved, SampleProgress, SampleResult, TrainFinished
from core.checkpoint import save_trainer
from core.config import ModelConfig, TrainConfig
from core.errors import CheckpointFormatError
from core.requests import FAST_SAMPLING, GenerationRequest
from core.training import Trainer


def _run(job) -> list:
    return list(job(threading.Event()))


def _open(engine: Engine, path) -> ModelOpened:
    (opened,) = _run(engine.open_job(str(path)))
    assert isinstance(opened, ModelOpened)
    return opened


@pytest.fixture
def two_models(tmp_path, tiny_image):
    """Two checkpoints of different sizes: 96×72 and 72×96."""
    paths = []
    tall = tiny_image.transpose(Image.Transpose.ROTATE_90)
    for name, image in (("wide", tiny_image), ("tall", tall)):
        trainer = Trainer.from_image(
            image, ModelConfig(dim=8), TrainConfig(steps=4, batch_size=1), "cpu", seed=0
        )
        path = tmp_path / f"{name}.sinddm"
        save_trainer(trainer, path, extra={"preset": "tiny", "image_name": f"{name}.png"})
        paths.append(path)
    return paths


def test_a_new_machine_offers_the_preset_its_device_can_run():
    engine = Engine()
    assert engine.default_preset("cpu") == "cpu"
    assert engine.default_preset("cuda:99") == "cpu", "a GPU that is not there: any machine's"
    assert engine.default_preset("auto") == ("fast" if torch.cuda.is_available() else "cpu")


def test_open_job_reports_the_model_and_a_handle(two_models):
    opened = _open(Engine(), two_models[0])
    summary = opened.model
    assert summary.path == str(two_models[0]) and summary.sizes[-1] == (96, 72)
    assert (summary.preset, summary.image_name, summary.steps_trained) == ("tiny", "wide.png", 0)
    assert summary.can_resume and summary.total_steps == 4
    assert summary.training_image.shape == (72, 96, 3)


def test_opening_reads_the_file_once(two_models, monkeypatch):
    reads = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: reads.append(a[0]) or load(*a, **k))
    _open(Engine(), two_models[1])
    assert reads == [two_models[1]]


def test_a_damaged_file_is_a_plain_error(tmp_path):
    path = tmp_path / "broken.sinddm"
    path.write_bytes(b"not a model")
    with pytest.raises(CheckpointFormatError, match=r"broken\.sinddm"):
        _run(Engine().open_job(str(path)))


def test_two_open_models_generate_side_by_side(two_models):
    engine = Engine()
    wide, tall = (_open(engine, path) for path in two_models)
    request = GenerationRequest(count=2, seed=3, batch=2)
    for opened, shape in ((tall, (96, 72, 3)), (wide, (72, 96, 3)), (tall, (96, 72, 3))):
        events = _run(engine.sample_job(opened.handle, request, "cpu", "m.sinddm"))
        results = [e for e in events if isinstance(e, SampleResult)]
        assert [r.seed for r in results] == [3, 4] and results[0].image.shape == shape
        assert results[0].settings == {"model": "m.sinddm", "engine": "trained", "steps": 0}
        assert any(isinstance(e, SampleProgress) for e in events)


def test_fast_sampling_is_recorded_with_the_results(two_models):
    engine = Engine()
    opened = _open(engine, two_models[0])
    request = GenerationRequest(seed=1, options=FAST_SAMPLING)
    events = _run(engine.sample_job(opened.handle, request, "cpu", "wide.sinddm"))
    (result,) = [e for e in events if isinstance(e, SampleResult)]
    assert result.settings["fast sampling"].startswith("stride 2")


def test_instant_is_built_for_a_photo_and_generates_with_its_own_sampling(tmp_path, tiny_image):
    photo = tmp_path / "photo.png"
    tiny_image.save(photo)
    engine = Engine()
    (opened,) = _run(engine.instant_job(str(photo)))
    summary = opened.model
    assert isinstance(opened, ModelOpened) and summary.instant and summary.path == str(photo)
    assert (summary.parameters, summary.steps_trained, summary.can_resume) == (0, 0, False)
    assert summary.sizes[-1] == (96, 72) and summary.training_image.shape == (72, 96, 3)
    assert summary.default_sampling.coarse_stride > 1, "Instant's strided defaults"
    events = _run(engine.sample_job(opened.handle, GenerationRequest(seed=2), "cpu", "photo.png"))
    (result,) = [e for e in events if isinstance(e, SampleResult)]
    assert result.image.shape == (72, 96, 3)
    assert result.settings["engine"] == "instant" and result.settings["steps"] == 0
    assert "at the coarsest" in result.settings["fast sampling"], "options=None: its defaults"


def test_a_stopped_generation_ends_without_results(two_models):
    engine = Engine()
    opened = _open(engine, two_models[0])
    stop = threading.Event()
    events = []
    for event in engine.sample_job(opened.handle, GenerationRequest(), "cpu", "m")(stop):
        events.append(event)
        stop.set()
    assert len(events) == 1 and isinstance(events[0], SampleProgress)


def test_training_resumes_from_the_handle_and_saves(two_models):
    engine = Engine(train_preview_seconds=0.0)
    opened = _open(engine, two_models[0])
    path = str(two_models[0])
    events = _run(engine.train_job(path, "cpu", 4, "cpu", resume=opened.handle))
    finished = events[-1]
    assert isinstance(finished, TrainFinished) and finished.completed
    assert finished.model.steps_trained == 4 and finished.model.preset == "tiny"
    reopened = _open(engine, path).model
    assert reopened.steps_trained == 4 and reopened.image_name == "wide.png"
    result = _run(engine.sample_job(finished.handle, GenerationRequest(), "cpu", "m"))[-1]
    assert isinstance(result, SampleResult) and result.settings["steps"] == 4


def test_a_stopped_training_saves_what_it_did(tmp_path, tiny_image):
    photo = tmp_path / "photo.png"
    tiny_image.save(photo)
    path = str(tmp_path / "new.sinddm")
    stop = threading.Event()
    engine = Engine(train_preview_seconds=0.0)  # an event after every step
    job = engine.train_job(path, "tiny", 1000, "cpu", image_path=str(photo))
    for event in job(stop):
        stop.set()
        last = event
    assert isinstance(last, TrainFinished) and not last.completed
    assert 1 <= last.model.steps_trained < 1000
    assert _open(Engine(), path).model.steps_trained == last.model.steps_trained


def test_save_job_copies_the_file(two_models, tmp_path):
    target = tmp_path / "copy.sinddm"
    (saved,) = _run(Engine().save_job(str(two_models[0]), str(target)))
    assert saved == ModelSaved(str(target))
    assert target.read_bytes() == two_models[0].read_bytes()
    copy, original = (_open(Engine(), path).model for path in (target, two_models[0]))
    np.testing.assert_array_equal(copy.training_image, original.training_image)
