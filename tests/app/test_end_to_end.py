"""The real core, tiny configuration, driven through the view-model: train → generate 2× wide →
export → reopen → same image; the edits; the first text run's CLIP download; a photo with Instant;
the first start (the demo photo with Instant)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from app.engine import Engine
from app.main import build_window
from app.state import AppState
from app.worker import JobRunner
from core.files.model_file import save_trainer
from core.generation.clip_weights import GuidanceUnavailableError
from core.generation.compositing import paste_object
from core.requests import Box, HarmonizeEdit, RegionsEdit, StyleTransferEdit, TextEdit
from resources import DEMO_IMAGE

pytestmark = pytest.mark.slow  # long runs: .ci/run's second step, not the quick default


def _idle(qtbot, state, timeout=120_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _state(engine: Engine, tmp_path) -> AppState:
    return AppState(engine, tmp_path / "models", JobRunner())


def _open(qtbot, state, path) -> None:
    assert state.open_model(str(path))
    _idle(qtbot, state)
    assert state.model is not None and state.model.path == str(path)


@pytest.fixture
def model_file(tmp_path, tiny_trainer):
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    return path


def test_train_generate_export_reopen_regenerate(qtbot, qapp, tmp_path, tiny_image):
    photo = tmp_path / "photo.png"
    tiny_image.save(photo)
    state = _state(Engine(train_preview_seconds=0.0), tmp_path)
    try:
        assert state.open_image(str(photo))
        _idle(qtbot, state)
        assert state.estimate is not None and state.estimate.seconds_per_step > 0
        state.set_training_options("tiny", 8, "cpu")
        state.train()
        _idle(qtbot, state)
        model = state.model
        assert model is not None and model.steps_trained == 8
        width, height = model.sizes[-1]
        assert state.size == (width, height)
        state.set_size(2 * width, height)
        state.set_seed(123)
        state.generate()
        _idle(qtbot, state)
        first = state.results[-1].image
        assert first.shape == (height, 2 * width, 3)
        exported = tmp_path / "out.png"
        assert state.export_result(len(state.results) - 1, str(exported))
        with Image.open(exported) as im:
            record = json.loads(im.text["sinddm"])
        assert record["seed"] == 123 and record["size"] == [2 * width, height]
        assert record["model"] == model.path.rsplit("/", 1)[-1] and record["steps"] == 8
    finally:
        assert state.shutdown()

    reopened = _state(Engine(), tmp_path)
    try:
        _open(qtbot, reopened, model.path)
        assert [r.seed for r in reopened.results] == [123]
        reopened.set_size(2 * width, height)
        reopened.set_seed(record["seed"])
        reopened.generate()
        _idle(qtbot, reopened)
        np.testing.assert_array_equal(reopened.results[-1].image, first)
        reopened.set_fast(True)
        reopened.generate()
        _idle(qtbot, reopened)
        fast = reopened.results[-1]
        assert fast.image.shape == first.shape and "stride 2" in fast.settings["fast sampling"]
    finally:
        assert reopened.shutdown()


def test_resumed_training_continues_the_checkpoint(qtbot, qapp, tmp_path, model_file):
    state = _state(Engine(), tmp_path)
    try:
        _open(qtbot, state, model_file)
        assert state.model.steps_trained == 0 and state.can_resume
        state.set_training_options(state.preset_name, 3, "cpu")
        state.train()
        _idle(qtbot, state)
        assert state.model.steps_trained == 3 and state.model.path == str(model_file)
        _open(qtbot, state, model_file)
        assert state.model.steps_trained == 3, "the checkpoint was saved at the end"
    finally:
        assert state.shutdown()


def test_regions_style_transfer_and_harmonize(qtbot, qapp, tmp_path, model_file):
    state = _state(Engine(), tmp_path)
    try:
        _open(qtbot, state, model_file)
        state.set_size(120, 72)
        state.set_seed(5)
        state.generate(RegionsEdit(((Box(0, 0, 40, 30), Box(50, 30, 40, 30)),), strength=0.8))
        _idle(qtbot, state)
        assert state.results[-1].size == (120, 72)
        assert state.results[-1].settings["edit"] == "regions"
        content = tmp_path / "content.png"
        Image.fromarray(np.full((50, 70, 3), 90, np.uint8)).save(content)
        state.generate(StyleTransferEdit(str(content), "content.png"))
        _idle(qtbot, state)
        assert state.results[-1].image.shape == (50, 70, 3)
        assert state.results[-1].settings["image"] == "content.png"
        background = state.training_image
        obj = np.full((12, 16, 3), 250, np.uint8)
        composite, mask = paste_object(background, obj, np.ones((12, 16), bool), Box(8, 6, 16, 12))
        state.generate(HarmonizeEdit(composite, mask, "pasted image"))
        _idle(qtbot, state)
        result = state.results[-1]
        assert result.image.shape == background.shape and result.settings["edit"] == "harmonize"
        far = np.s_[40:, 60:]  # well outside the soft mask: the background, blended back
        assert np.abs(result.image[far].astype(int) - background[far]).max() <= 1
    finally:
        assert state.shutdown()


def test_first_text_run_downloads_weights_with_progress_or_says_why_not(
    qtbot, qapp, tmp_path, model_file, tiny_clip, few_views, empty_clip_cache
):
    def slow_download(model, tag, on_progress):
        for done in (0, 300_000_000, 600_000_000):
            on_progress(done, 600_000_000)
            time.sleep(0.6)  # the download's work: several 0.25 s progress polls per value
        return "/cache/clip.safetensors"

    downloads = [slow_download]
    engine = Engine(
        clip_loader=lambda name, weights, device: tiny_clip,
        planner=few_views,
        download=lambda model, tag, on_progress: downloads[-1](model, tag, on_progress),
    )
    state = _state(engine, tmp_path)
    texts, errors = [], []
    state.progress_changed.connect(lambda fraction, text: texts.append(text))
    state.error_raised.connect(lambda title, message: errors.append((title, message)))
    edit = TextEdit("fire", strength=1.0, fill=0.3)
    try:
        _open(qtbot, state, model_file)
        state.set_seed(0)
        state.generate(edit)
        _idle(qtbot, state)
        assert errors == [] and len(state.results) == 1
        assert any("Downloading CLIP weights (once): 300 of 600 MB" in t for t in texts)

        def offline(model, tag, on_progress):
            raise GuidanceUnavailableError("The CLIP weights 'openai' could not be downloaded.")

        downloads.append(offline)
        state.generate(edit)
        _idle(qtbot, state)
        reason = "The CLIP weights 'openai' could not be downloaded."
        assert errors[-1] == ("Cannot generate", reason)
        assert state.clip_status.availability == "failed" and len(state.results) == 1
        assert "could not be downloaded" in state.clip_status.text
    finally:
        assert state.shutdown()


def test_a_photo_generates_with_instant_without_training(qtbot, qapp, tmp_path, tiny_image):
    photo = tmp_path / "photo.png"
    tiny_image.save(photo)
    state = _state(Engine(), tmp_path)
    try:
        assert state.open_image(str(photo))
        # the model arrives just before its job ends; Generate is offered once it has ended
        qtbot.waitUntil(lambda: state.can_generate, timeout=60_000)
        assert state.model.instant and state.image is not None
        state.set_seed(11)
        state.generate()  # abandons the speed measurement if it is running
        _idle(qtbot, state)
        (result,) = state.results
        assert result.image.shape == (72, 96, 3) and result.path is not None
        with Image.open(result.path) as im:
            record = json.loads(im.text["sinddm"])
        assert (record["engine"], record["model"], record["seed"]) == ("instant", "photo.png", 11)
        assert record["steps"] == 0 and "Instant" in state.canvas_caption
    finally:
        assert state.shutdown()


def test_first_start_opens_the_demo_photo_with_instant(qtbot, qapp, tmp_path, settings):
    window = build_window(["sinddm-studio"], models_dir=tmp_path / "models", settings=settings)
    qtbot.addWidget(window)
    state = window.state
    try:
        assert state.image is not None and state.image.path == str(DEMO_IMAGE)
        qtbot.waitUntil(lambda: state.can_generate, timeout=60_000)  # Instant has arrived
        assert state.model.instant and state.model.parameters == 0
        assert window.generate_panel.generate_button.isEnabled()
        assert window.tabs.currentWidget() is window.generate_panel
        assert window.train_panel.train_button.text() == "Train"
        state.set_seed(1)
        window.generate_panel.generate()  # the first image: seconds, not minutes
        _idle(qtbot, state)
        assert [r.settings["engine"] for r in state.results] == ["instant"]
        assert state.can_train and state.image is not None
    finally:
        state.cancel()
        _idle(qtbot, state)
        assert state.shutdown()
