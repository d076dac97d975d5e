"""The view-model against the fake engine: opening, training, generating, results."""

from __future__ import annotations

import json

from PIL import Image

from app import results as results_store


def _wait_idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def test_open_image_shows_it_and_measures_speed(qtbot, fake_state):
    shown = []
    fake_state.canvas_changed.connect(lambda image, caption, guided: shown.append(caption))
    assert fake_state.open_image("/photos/photo.png")
    assert fake_state.image.train_sizes == ((64, 48), (96, 72))
    assert shown and "photo.png" in shown[-1]
    qtbot.waitUntil(lambda: fake_state.estimate is not None, timeout=5000)
    assert fake_state.estimate.seconds_per_step == 0.01
    _wait_idle(qtbot, fake_state)


def test_bad_image_is_a_plain_error_and_keeps_state(qtbot, fake_state):
    fake_state.open_image("/photos/photo.png")
    _wait_idle(qtbot, fake_state)
    with qtbot.waitSignal(fake_state.error_raised) as blocker:
        assert not fake_state.open_image("/photos/bad.png")
    assert "not an image" in blocker.args[1]
    assert fake_state.image.path == "/photos/photo.png"


def test_training_reports_progress_and_yields_a_model(qtbot, fake_state):
    fake_state.open_image("/photos/photo.png")
    fake_state.set_training_options("tiny", 30, "cpu")
    progress = []
    fake_state.progress_changed.connect(lambda f, text: progress.append(text))
    fake_state.train()
    _wait_idle(qtbot, fake_state)
    assert fake_state.model is not None and fake_state.model.steps_trained == 30
    assert fake_state.image is None and fake_state.can_generate
    assert any("Training step" in text for text in progress)
    assert fake_state.loss_history and fake_state.model.path.endswith(".sinddm")


def test_stop_training_keeps_checkpoint_and_allows_resume(qtbot, fake_state):
    fake_state.engine.step_delay = 0.01
    fake_state.open_image("/photos/photo.png")
    fake_state.set_training_options("tiny", 10_000, "cpu")
    _wait_idle(qtbot, fake_state)
    fake_state.train()
    qtbot.waitUntil(lambda: fake_state.job == "train", timeout=5000)
    qtbot.wait(100)
    with qtbot.waitSignal(fake_state.message, check_params_cb=lambda m: "stopped" in m):
        fake_state.cancel()
    _wait_idle(qtbot, fake_state)
    assert fake_state.model.steps_trained < 10_000
    assert fake_state.can_resume and fake_state.can_train


def test_generate_stores_results_with_metadata(qtbot, fake_state, tmp_path):
    model_path = tmp_path / "m.sinddm"
    model_path.write_bytes(b"x")
    assert fake_state.open_model(str(model_path))
    fake_state.generate(192, 72, 2, seed=41)
    _wait_idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [41, 42]
    stored = sorted(results_store.results_folder(model_path).glob("*.png"))
    assert len(stored) == 2
    with Image.open(stored[0]) as im:
        assert im.size == (192, 72)
        record = json.loads(im.text["sinddm"])
    assert record["seed"] == 41 and record["size"] == [192, 72]
    # Reopening the model brings its results back.
    fake_state.open_model(str(model_path))
    assert [r.seed for r in fake_state.results] == [41, 42]
    fake_state.delete_result(0)
    assert len(list(results_store.results_folder(model_path).glob("*.png"))) == 1


def test_export_writes_png_with_seed(qtbot, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    fake_state.generate(96, 72, 1, seed=7)
    _wait_idle(qtbot, fake_state)
    out = tmp_path / "export.png"
    assert fake_state.export_result(0, str(out))
    with Image.open(out) as im:
        assert json.loads(im.text["sinddm"])["seed"] == 7
    assert fake_state.export_all(str(tmp_path)) == 1


def test_random_seed_is_chosen_when_none_given(qtbot, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    fake_state.generate(96, 72, 3, seed=None)
    _wait_idle(qtbot, fake_state)
    count, seed, size, _ = fake_state.engine.sample_calls[-1]
    assert count == 3 and seed >= 0 and size == (96, 72)
    assert [r.seed for r in fake_state.results] == [seed, seed + 1, seed + 2]


def test_corrupt_model_is_a_plain_error(qtbot, fake_state):
    with qtbot.waitSignal(fake_state.error_raised) as blocker:
        assert not fake_state.open_model("/models/bad.sinddm")
    assert "not a SinDDM Studio model" in blocker.args[1]
    assert fake_state.model is None


def test_starting_a_job_replaces_a_running_estimate(qtbot, fake_state, tmp_path):
    fake_state.open_model(str(tmp_path / "m.sinddm"))
    fake_state.open_image("/photos/photo.png", keep_model=True)
    assert fake_state.job == "estimate"
    fake_state.generate(96, 72, 1, seed=3)
    _wait_idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [3]


def test_results_of_bundled_models_go_to_the_app_folder(qtbot, fake_state, tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(results_store, "BUNDLED_DIR", bundled.resolve())
    fake_state.open_model(str(bundled / "demo.sinddm"))
    fake_state.generate(96, 72, 1, seed=1)
    _wait_idle(qtbot, fake_state)
    assert not (bundled / "demo.sinddm.results").exists()
    assert len(list((fake_state.models_dir / "demo.sinddm.results").glob("*.png"))) == 1


def test_preset_follows_the_device_until_the_user_picks_one(qtbot, fake_state, monkeypatch):
    from app import state as state_module
    from core.presets import PRESETS

    monkeypatch.setattr(
        state_module, "preset_for_device", lambda device: "fast" if device == "cuda" else "cpu"
    )
    fake_state.preset_name, fake_state.device = "cpu", "auto"
    fake_state.set_training_options("cpu", 3000, "cuda")
    assert (fake_state.preset_name, fake_state.steps) == ("fast", PRESETS["fast"].steps)
    fake_state.set_training_options("fast", 10_000, "cpu")
    assert (fake_state.preset_name, fake_state.steps) == ("cpu", PRESETS["cpu"].steps)
    fake_state.set_training_options("tiny", 50, "cpu")  # a choice of the user's is kept
    fake_state.set_training_options("tiny", 50, "cuda")
    assert (fake_state.preset_name, fake_state.steps) == ("tiny", 50)
    _wait_idle(qtbot, fake_state)


def test_a_new_window_offers_the_preset_of_this_machine(fake_state):
    from app.state import preset_for_device

    assert fake_state.preset_name == preset_for_device("auto")
    assert preset_for_device("cpu") == "cpu"
    assert preset_for_device("cuda:7") in ("fast", "cpu")  # no such GPU here: a plain fallback
