"""The real core, tiny configuration: train → generate 2× wide → export → reopen → same image."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from app.engine import Engine
from app.main import DEMO_IMAGE, build_window
from app.state import AppState


def _idle(qtbot, state, timeout=120_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def test_train_generate_export_reopen_regenerate(qtbot, qapp, tmp_path, tiny_image):
    photo = tmp_path / "photo.png"
    tiny_image.save(photo)
    state = AppState(Engine(train_preview_seconds=0.0), tmp_path / "models")
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
        state.generate(2 * width, height, 1, seed=123)
        _idle(qtbot, state)
        first = state.results[-1].image
        assert first.shape == (height, 2 * width, 3)
        exported = tmp_path / "out.png"
        assert state.export_result(len(state.results) - 1, str(exported))
        with Image.open(exported) as im:
            record = json.loads(im.text["sinddm"])
        assert record["seed"] == 123 and record["size"] == [2 * width, height]
    finally:
        assert state.shutdown()

    reopened = AppState(Engine(), tmp_path / "models")
    try:
        assert reopened.open_model(model.path)
        assert [r.seed for r in reopened.results] == [123]
        reopened.generate(2 * width, height, 1, seed=record["seed"])
        _idle(qtbot, reopened)
        np.testing.assert_array_equal(reopened.results[-1].image, first)
        reopened.generate(2 * width, height, 1, seed=record["seed"], fast=True)
        _idle(qtbot, reopened)
        fast = reopened.results[-1]
        assert fast.image.shape == first.shape and "stride 2" in fast.settings["fast sampling"]
    finally:
        assert reopened.shutdown()


def test_first_start_opens_demo_photo_and_model(qtbot, qapp, tmp_path, settings):
    window = build_window(["sinddm-studio"], models_dir=tmp_path / "models", settings=settings)
    qtbot.addWidget(window)
    state = window.state
    try:
        assert state.image is not None and state.image.path == str(DEMO_IMAGE)
        assert state.model is not None and state.model.parameters == 1_106_772
        assert state.can_generate and state.can_train
        assert window.train_panel.train_button.text() == "Train"
    finally:
        state.cancel()
        _idle(qtbot, state)
        assert state.shutdown()
