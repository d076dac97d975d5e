"""The real engine's jobs, run directly (no thread): they take what they need as arguments and
report what they make, so two models can be used side by side and nothing leaks between jobs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine import Engine
from app.events import (
    ModelOpened,
    ModelSaved,
    SampleProgress,
    SpeedMeasured,
    TrainFinished,
)
from app.results import Result
from core.config import ModelConfig, TrainConfig
from core.errors import CheckpointFormatError
from core.files.model_file import save_trainer
from core.requests import FAST_SAMPLING, PLAIN_SAMPLING, GenerationRequest, fast_sampling
from core.training.trainer import Trainer


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
    assert engine.default_preset("cpu") == "refine"
    assert engine.default_preset("cuda:99") == "refine", "a GPU that is not there: any machine's"
    assert engine.default_preset("auto") == ("fast" if torch.cuda.is_available() else "refine")


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
        results = [e for e in events if isinstance(e, Result)]
        assert [r.seed for r in results] == [3, 4] and results[0].image.shape == shape
        assert results[0].settings == {
            "model": "m.sinddm",
            "engine": "trained",
            "steps": 0,
            "resolution": f"{shape[1]}×{shape[0]}",
            "max pixels": 4_000_000,
        }
        assert any(isinstance(e, SampleProgress) for e in events)


def test_fast_sampling_is_recorded_with_the_results(two_models):
    engine = Engine()
    opened = _open(engine, two_models[0])
    request = GenerationRequest(seed=1, options=FAST_SAMPLING)
    events = _run(engine.sample_job(opened.handle, request, "cpu", "wide.sinddm"))
    (result,) = [e for e in events if isinstance(e, Result)]
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
    assert summary.denoiser == "instant"
    assert summary.fast_sampling == fast_sampling("instant", summary.default_sampling)
    events = _run(engine.sample_job(opened.handle, GenerationRequest(seed=2), "cpu", "photo.png"))
    (result,) = [e for e in events if isinstance(e, Result)]
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
    assert isinstance(events[0], SampleProgress)
    assert all(isinstance(e, SpeedMeasured) for e in events[1:]), "then at most its speed"


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
    events = _run(engine.sample_job(finished.handle, GenerationRequest(), "cpu", "m"))
    result = next(event for event in events if isinstance(event, Result))
    assert result.settings["steps"] == 4


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


@pytest.mark.parametrize("fault", ["full disk", "read-only folder"])
def test_save_job_that_cannot_write_is_a_plain_error_and_keeps_the_old_file(
    two_models, tmp_path, monkeypatch, fault
):
    import errno
    import shutil
    import tempfile

    from core.errors import CheckpointWriteError

    target = tmp_path / "kept.sinddm"
    target.write_bytes(b"the model saved there before")
    if fault == "full disk":

        def no_space(source, destination):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(shutil, "copyfile", no_space)
    else:

        def denied(*args, dir=None, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", dir)

        monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointWriteError, match=r"(?i)no space left|permission"):
        _run(Engine().save_job(str(two_models[0]), str(target)))
    assert target.read_bytes() == b"the model saved there before"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "kept.sinddm",
        "tall.sinddm",
        "wide.sinddm",
    ]


def test_the_tiny_preset_can_be_too_small_for_a_photo_other_presets_take(tmp_path):
    """The case the app's preset choice must survive (test_reliability): a long strip that the
    CPU preset trains but Tiny's 8,000-pixel cap shrinks below the coarsest scale."""
    from core.errors import ImageTooSmallError

    strip = tmp_path / "strip.png"
    Image.new("RGB", (600, 100), (90, 140, 60)).save(strip)
    assert Engine().describe_image(str(strip), "cpu").train_sizes[-1][1] >= 42
    with pytest.raises(ImageTooSmallError):
        Engine().describe_image(str(strip), "tiny")


@pytest.fixture
def little_memory(monkeypatch):
    """The device has 100 MB free (core.generation.memory reads it; the estimate stays real)."""
    import core.generation.memory

    monkeypatch.setattr(core.generation.memory, "available_bytes", lambda device: 100 * 2**20)


def test_a_canvas_too_large_for_memory_is_refused_before_sampling(two_models, little_memory):
    from core.generation.memory import NotEnoughMemoryError

    opened = _open(Engine(), two_models[0])
    events = []
    request = GenerationRequest(count=2, seed=0, size=(4096, 4096), batch=2)
    job = Engine().sample_job(opened.handle, request, "cpu", "wide.sinddm")
    with pytest.raises(NotEnoughMemoryError, match=r"2 images of 4096×4096 at once need about"):
        events.extend(job(threading.Event()))
    assert events == [], "refused before the first step"
    small = GenerationRequest(count=1, seed=0, size=(96, 72))
    assert any(
        isinstance(e, Result)
        for e in _run(Engine().sample_job(opened.handle, small, "cpu", "wide.sinddm"))
    )


def test_the_app_says_a_canvas_is_too_large_in_a_plain_dialog(
    qtbot, qapp, two_models, little_memory, tmp_path
):
    """Through the view-model and the worker, as the Generate button runs it."""
    from app.state import AppState
    from app.worker import JobRunner

    state = AppState(Engine(), tmp_path / "models", JobRunner())
    try:
        with qtbot.waitSignal(state.model_changed, timeout=10_000):
            state.open_model(str(two_models[0]))
        qtbot.waitUntil(lambda: not state.job, timeout=10_000)
        state.set_size(4096, 4096)
        with qtbot.waitSignal(state.error_raised, timeout=10_000) as blocker:
            state.generate()
        qtbot.waitUntil(lambda: not state.job, timeout=10_000)
        title, text = blocker.args
        assert title == "Cannot generate"
        assert text.startswith("A 4096×4096 image needs about")
        assert text.endswith("this computer has 100 MB free. Try a smaller size.")
        assert state.results == [] and state.model is not None
    finally:
        assert state.shutdown()


def test_a_refiner_opens_and_previews_with_instant_strides(tmp_path, tiny_image):
    """A refiner's file opens with Instant's strides as its defaults (so the app asks for them),
    and its training preview reaches the first scale the network draws (method §11)."""
    from app.engine import _coarse_preview
    from app.messages import engine_label
    from core.denoisers.instant import INSTANT_SAMPLING

    config = TrainConfig(steps=2, batch_size=1)
    refiner = Trainer.from_image(tiny_image, ModelConfig(dim=8, refine=0.25), config, seed=0)
    whole = Trainer.from_image(tiny_image, ModelConfig(dim=8), config, seed=0)
    assert _coarse_preview(refiner).shape == (*reversed(refiner.pyramid.sizes[1]), 3)
    assert _coarse_preview(whole).shape == (*reversed(whole.pyramid.sizes[0]), 3)
    save_trainer(refiner, tmp_path / "refiner.sinddm")
    save_trainer(whole, tmp_path / "whole.sinddm")
    engine = Engine()
    opened = _open(engine, tmp_path / "refiner.sinddm")
    assert opened.model.default_sampling == INSTANT_SAMPLING
    assert opened.model.denoiser == "refined", "the model says what it is"
    assert opened.model.fast_sampling == fast_sampling("refined", INSTANT_SAMPLING)
    whole_summary = _open(engine, tmp_path / "whole.sinddm").model
    assert whole_summary.default_sampling == PLAIN_SAMPLING
    assert (whole_summary.denoiser, whole_summary.fast_sampling) == ("trained", FAST_SAMPLING)
    request = GenerationRequest(seed=1)
    events = _run(engine.sample_job(opened.handle, request, "cpu", "refiner.sinddm"))
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.settings["engine"] == "refined"
    assert engine_label(result.settings) == "Instant + trained refiner, 0 steps"
