"""The view-model against the fake engine: opening, training, generating, results, errors."""

from __future__ import annotations

import errno
import json

import pytest
from PIL import Image

from app import results as results_store
from app.events import ClipStatus
from app.messages import BUG_TITLE, generation_done
from app.state import DEFAULT_SIZE, AppState
from app.worker import JobRunner
from core.errors import ConfigError
from core.requests import FAST_SAMPLING, PLAIN_SAMPLING, Box, RegionsEdit, TextEdit
from core.training.presets import PRESETS
from tests.app.fake_engine import INSTANT_DEFAULTS, FakeEngine


def _wait_idle(qtbot, state, timeout=10_000):
    qtbot.waitUntil(lambda: not state.job, timeout=timeout)


def _open_model(qtbot, state, path) -> None:
    """Open a model and wait until it has arrived (it is read in the worker)."""
    with qtbot.waitSignal(state.model_changed, timeout=5000):
        assert state.open_model(str(path))
    _wait_idle(qtbot, state)


def test_open_image_shows_it_and_measures_speed(qtbot, fake_state):
    shown = []
    fake_state.canvas_changed.connect(lambda image, caption, guided: shown.append(caption))
    assert fake_state.open_image("/photos/photo.png")
    assert fake_state.image.train_sizes == ((64, 48), (96, 72))
    assert shown and "photo.png" in shown[-1]
    qtbot.waitUntil(lambda: fake_state.estimate is not None, timeout=5000)
    assert fake_state.estimate.seconds_per_step == 0.01
    _wait_idle(qtbot, fake_state)


def test_opening_a_photo_makes_instant_the_model_and_keeps_the_photo_to_train(
    qtbot, fake_state, tmp_path
):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    assert fake_state.open_image("/photos/photo.png")
    assert fake_state.model is None, "the trained model is closed"
    assert fake_state.busy and not fake_state.can_generate  # Instant is built in the worker
    qtbot.waitUntil(lambda: fake_state.model is not None, timeout=5000)
    model = fake_state.model
    assert (model.kind, model.path, model.parameters, model.steps_trained) == (
        "instant",
        "/photos/photo.png",
        0,
        0,
    )
    assert not model.can_resume and "Instant" in fake_state.canvas_caption
    _wait_idle(qtbot, fake_state)
    assert fake_state.estimate is not None, "the training speed is measured after it"
    assert fake_state.image.path == "/photos/photo.png" and fake_state.can_train
    assert fake_state.can_generate and not fake_state.can_resume
    assert not fake_state.save_model(str(tmp_path / "instant.sinddm")), "Instant has no file"


def test_generating_with_instant_uses_its_own_sampling_and_keeps_results_of_the_photo(
    qtbot, fake_state, tmp_path
):
    photo = str(tmp_path / "photo.png")
    fake_state.open_image(photo)
    _wait_idle(qtbot, fake_state)
    fake_state.set_seed(9)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert fake_state.engine.requests[-1].options == INSTANT_DEFAULTS, "Instant's own"
    fake_state.set_fast(True)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    faster = fake_state.engine.requests[-1].options
    assert (faster.fine_stride, faster.coarse_stride, faster.bf16) == (4, 8, False)
    assert "Instant" in fake_state.canvas_caption
    folder = results_store.instant_results_folder(photo, fake_state.models_dir)
    stored = sorted(folder.glob("*.png"))
    assert len(stored) == 2 and folder.parent == fake_state.models_dir
    with Image.open(stored[0]) as im:
        record = json.loads(im.text["sinddm"])
    assert (record["engine"], record["model"], record["seed"]) == ("instant", "photo.png", 9)
    fake_state.open_image(photo)  # as after a restart: the photo brings its results back
    _wait_idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [9, 9]
    other = tmp_path / "elsewhere" / "photo.png"
    assert results_store.instant_results_folder(other, fake_state.models_dir) != folder


def test_training_from_instant_hands_over_to_the_trained_model(qtbot, fake_state):
    fake_state.open_image("/photos/photo.png")
    fake_state.set_training_options("tiny", 5, "cpu")
    _wait_idle(qtbot, fake_state)
    assert fake_state.model.instant
    fake_state.train()
    _wait_idle(qtbot, fake_state)
    assert fake_state.model.kind == "trained" and fake_state.model.steps_trained == 5
    assert fake_state.image.path == "/photos/photo.png", "the photo stays open (and Instant)"
    assert [model.kind for model in fake_state.engines] == ["instant", "trained"]
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert fake_state.engine.requests[-1].options == PLAIN_SAMPLING
    assert "trained model" in fake_state.canvas_caption


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
    _wait_idle(qtbot, fake_state)  # Instant arrives, the speed is measured
    progress, shown = [], []
    fake_state.progress_changed.connect(lambda f, text: progress.append(text))
    fake_state.canvas_changed.connect(lambda image, caption, guided: shown.append(caption))
    fake_state.train()
    _wait_idle(qtbot, fake_state)
    assert "Preview at step 2 (64×48)" in shown  # the fake's preview: 64×48 at step 2
    assert fake_state.model is not None and fake_state.model.steps_trained == 30
    assert fake_state.image is not None and fake_state.can_generate
    assert any("Training step" in text for text in progress)
    assert fake_state.loss_history and fake_state.model.path.endswith(".sinddm")
    assert fake_state.size == (96, 72), "the canvas starts at the model's training size"


def test_stop_training_keeps_checkpoint_and_allows_resume(qtbot, fake_state):
    fake_state.engine.step_delay = 0.01
    fake_state.open_image("/photos/photo.png")
    fake_state.set_training_options("tiny", 10_000, "cpu")
    _wait_idle(qtbot, fake_state)
    steps = []
    fake_state.loss_changed.connect(lambda event: steps.append(event.step))
    fake_state.train()
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=5000)
    with qtbot.waitSignal(fake_state.message, check_params_cb=lambda m: "stopped" in m):
        fake_state.cancel()
    _wait_idle(qtbot, fake_state)
    assert 3 <= fake_state.model.steps_trained < 10_000
    assert fake_state.can_resume and fake_state.can_train


def test_generate_stores_results_with_metadata(qtbot, fake_state, tmp_path):
    model_path = tmp_path / "m.sinddm"
    model_path.write_bytes(b"x")
    _open_model(qtbot, fake_state, model_path)
    fake_state.set_size(192, 72)
    fake_state.set_count(2)
    fake_state.set_seed(41)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [41, 42]
    stored = sorted(results_store.results_folder(model_path).glob("*.png"))
    assert len(stored) == 2
    with Image.open(stored[0]) as im:
        assert im.size == (192, 72)
        record = json.loads(im.text["sinddm"])
    assert record["seed"] == 41 and record["size"] == [192, 72] and record["model"] == "m.sinddm"
    # Reopening the model brings its results back.
    _open_model(qtbot, fake_state, model_path)
    assert [r.seed for r in fake_state.results] == [41, 42]
    fake_state.delete_result(0)
    assert len(list(results_store.results_folder(model_path).glob("*.png"))) == 1


def test_the_status_line_says_when_a_generation_is_done(qtbot, fake_state, tmp_path):
    """'Generating …' is not left on the status line once the images are there."""
    messages = []
    fake_state.message.connect(messages.append)
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_count(2)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert messages[-2].startswith("Generating 2 ×") and messages[-1] == "Done: 2 images."
    assert generation_done(1, 3) == "Generation ended after 1 of 3 images."


def test_generation_settings_signal_real_changes_only(qtbot, fake_state):
    seen = []
    fake_state.size_changed.connect(lambda w, h: seen.append(("size", w, h)))
    fake_state.seed_changed.connect(lambda seed: seen.append(("seed", seed)))
    fake_state.count_changed.connect(lambda count: seen.append(("count", count)))
    fake_state.fast_changed.connect(lambda on: seen.append(("fast", on)))
    assert (fake_state.size, fake_state.seed, fake_state.count, fake_state.fast) == (
        DEFAULT_SIZE,
        None,
        1,
        False,
    )
    fake_state.set_size(*DEFAULT_SIZE)
    fake_state.set_seed(None)
    fake_state.set_count(1)
    fake_state.set_fast(False)
    assert seen == []
    fake_state.set_size(120, 80)
    fake_state.set_seed(0)
    fake_state.set_count(4)
    fake_state.set_fast(True)
    fake_state.set_seed(None)
    assert seen == [("size", 120, 80), ("seed", 0), ("count", 4), ("fast", True), ("seed", None)]
    with pytest.raises(ValueError):
        fake_state.set_count(0)
    with pytest.raises(ValueError):
        fake_state.set_size(0, 10)


def test_generate_sends_the_settings_as_one_request(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_size(128, 64)
    fake_state.set_count(3)
    fake_state.set_seed(5)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    assert (request.size, request.count, request.seed, request.batch) == ((128, 64), 3, 5, 3)
    assert request.options == PLAIN_SAMPLING and request.edit is None


def test_fast_sampling_reaches_edit_runs(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_fast(True)
    edit = RegionsEdit(((Box(0, 0, 10, 10), Box(20, 20, 10, 10)),))
    fake_state.generate(edit)
    _wait_idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    assert request.edit is edit and request.options == FAST_SAMPLING
    assert len(fake_state.results) == 1


def test_export_writes_png_with_seed(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_seed(7)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    out = tmp_path / "export.png"
    assert fake_state.export_result(0, str(out))
    with Image.open(out) as im:
        assert json.loads(im.text["sinddm"])["seed"] == 7


def test_export_all_writes_every_result_under_its_name(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_size(96, 72)
    fake_state.set_count(3)
    fake_state.set_seed(10)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    folder = tmp_path / "exported"
    folder.mkdir()
    assert fake_state.export_all(str(folder)) == 3
    names = sorted(p.name for p in folder.glob("*.png"))
    assert names == [f"sinddm_seed{seed}_96x72.png" for seed in (10, 11, 12)]
    assert results_store.export_name(fake_state.results[0]) == names[0]


def test_random_seed_is_chosen_when_none_given(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.set_count(3)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    request = fake_state.engine.requests[-1]
    assert request.count == 3 and request.seed >= 0 and fake_state.seed is None
    assert [r.seed for r in fake_state.results] == [request.seed + i for i in range(3)]


def test_corrupt_model_is_a_plain_error(qtbot, fake_state):
    with qtbot.waitSignal(fake_state.error_raised) as blocker:
        assert fake_state.open_model("/models/bad.sinddm")
    assert blocker.args == ["Cannot open the model", "bad.sinddm is not a SinDDM Studio model."]
    _wait_idle(qtbot, fake_state)
    assert fake_state.model is None


def test_opening_a_model_closes_the_photo(qtbot, fake_state, tmp_path):
    fake_state.open_image("/p/demo.png")
    _wait_idle(qtbot, fake_state)
    assert fake_state.open_model(str(tmp_path / "demo.sinddm"))
    assert fake_state.model.instant and fake_state.busy  # read in the worker
    _wait_idle(qtbot, fake_state)
    assert fake_state.model.kind == "trained" and fake_state.image is None


def test_save_model_copies_results_and_moves_the_model(qtbot, fake_state, tmp_path):
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    target = tmp_path / "saved" / "copy.sinddm"
    target.parent.mkdir()
    with qtbot.waitSignal(fake_state.message, check_params_cb=lambda m: m.startswith("Saved")):
        assert fake_state.save_model(str(target))
    _wait_idle(qtbot, fake_state)
    assert fake_state.engine.saved == [str(target)] and fake_state.model.path == str(target)
    assert len(list(results_store.results_folder(target).glob("*.png"))) == 1


def test_starting_a_job_replaces_a_running_estimate(qtbot, fake_state, tmp_path):
    fake_state.engine.step_delay = 0.05  # the estimate takes 0.5 s unless stopped
    fake_state.open_image("/photos/photo.png")
    qtbot.waitUntil(lambda: fake_state.job == "estimate", timeout=5000)
    assert fake_state.model.instant and fake_state.can_generate
    fake_state.set_seed(3)
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert [r.seed for r in fake_state.results] == [3] and fake_state.estimate is None


def test_results_of_bundled_models_go_to_the_app_folder(qtbot, fake_state, tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(results_store, "BUNDLED_DIR", bundled.resolve())
    _open_model(qtbot, fake_state, bundled / "demo.sinddm")
    fake_state.generate()
    _wait_idle(qtbot, fake_state)
    assert not (bundled / "demo.sinddm.results").exists()
    assert len(list((fake_state.models_dir / "demo.sinddm.results").glob("*.png"))) == 1


def test_preset_follows_the_device_until_the_user_picks_one(qtbot, fake_state):
    fake_state.engine.gpus = ("cuda",)
    fake_state.set_training_options("refine", 3000, "cpu")
    fake_state.set_training_options("refine", 3000, "cuda")
    assert (fake_state.preset_name, fake_state.steps) == ("fast", PRESETS["fast"].steps)
    fake_state.set_training_options("fast", 10_000, "cpu")
    assert (fake_state.preset_name, fake_state.steps) == ("refine", PRESETS["refine"].steps)
    fake_state.set_training_options("tiny", 50, "cpu")  # a choice of the user's is kept
    fake_state.set_training_options("tiny", 50, "cuda")
    assert (fake_state.preset_name, fake_state.steps) == ("tiny", 50)
    _wait_idle(qtbot, fake_state)


@pytest.mark.parametrize(("gpus", "preset"), [((), "refine"), (("cuda",), "fast")])
def test_a_new_window_offers_the_preset_of_this_machine(qapp, tmp_path, gpus, preset):
    engine = FakeEngine()
    engine.gpus = gpus
    state = AppState(engine, tmp_path / "models", JobRunner())
    try:
        assert (state.preset_name, state.steps) == (preset, PRESETS[preset].steps)
    finally:
        assert state.shutdown()


# ----------------------------------------------------------------------------- errors


def _failing_run(qtbot, state, tmp_path, failure: BaseException) -> list:
    _open_model(qtbot, state, tmp_path / "m.sinddm")
    state.engine.failure = failure
    with qtbot.waitSignal(state.error_raised) as blocker:
        state.generate()
    _wait_idle(qtbot, state)
    assert state.results == []
    return blocker.args


def test_a_user_error_is_shown_as_is(qtbot, fake_state, tmp_path):
    message = "The region box is empty."
    title, text = _failing_run(qtbot, fake_state, tmp_path, ConfigError(message))
    assert (title, text) == ("Cannot generate", message)


def test_running_out_of_memory_says_what_to_try(qtbot, fake_state, tmp_path):
    title, text = _failing_run(qtbot, fake_state, tmp_path, MemoryError())
    assert title == "Out of memory"
    assert text == (
        "The computer ran out of memory. Choose a smaller preset, canvas or sample count."
    )


def test_a_bug_says_it_is_one(qtbot, fake_state, tmp_path, crash_reports):
    title, text = _failing_run(qtbot, fake_state, tmp_path, ZeroDivisionError("division by zero"))
    assert title == BUG_TITLE and "bug" in title
    assert "ZeroDivisionError: division by zero" in text
    (report,) = crash_reports.glob("crash-*.txt")  # a file the user can send
    assert str(report) in text
    details = report.read_text(encoding="utf-8")
    assert "Traceback" in details and "ZeroDivisionError: division by zero" in details
    assert "Traceback" not in text


def test_the_gpu_running_out_of_memory_says_what_to_try(qtbot, fake_state, tmp_path):
    import torch

    failure = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    title, text = _failing_run(qtbot, fake_state, tmp_path, failure)
    assert title == "Out of memory"
    assert text.startswith("The GPU ran out of memory. Choose a smaller preset or canvas")


def test_a_full_disk_in_a_job_is_not_called_a_bug(qtbot, fake_state, tmp_path, crash_reports):
    failure = OSError(errno.ENOSPC, "No space left on device", "/data/m.sinddm.results/0000.png")
    title, text = _failing_run(qtbot, fake_state, tmp_path, failure)
    assert title == "Cannot generate"
    assert text == (
        "The disk is full: could not write /data/m.sinddm.results/0000.png. "
        "Free some space or choose another disk."
    )
    assert not crash_reports.exists(), "no bug report for the user's disk"


def test_a_failed_open_reads_as_the_users_file_not_a_bug(qtbot, fake_state, tmp_path):
    with qtbot.waitSignal(fake_state.error_raised) as blocker:
        fake_state.open_model(str(tmp_path / "bad.sinddm"))
    _wait_idle(qtbot, fake_state)
    assert blocker.args == ["Cannot open the model", "bad.sinddm is not a SinDDM Studio model."]


# ------------------------------------------------------------------------ CLIP weights


def _statuses(engine: FakeEngine) -> None:
    engine.clip_statuses = {
        "openai": ClipStatus("openai", "download", "The first text run downloads them."),
        "/w/clip.pt": ClipStatus("/w/clip.pt", "present", "CLIP weights: clip.pt."),
        "nope": ClipStatus("nope", "unavailable", "open_clip has no weights called 'nope'."),
    }


def test_clip_status_follows_the_weights_chosen(qtbot, fake_state):
    _statuses(fake_state.engine)
    changes = []
    fake_state.clip_status_changed.connect(lambda: changes.append(fake_state.clip_status))
    assert fake_state.clip_weights == "openai"
    assert fake_state.clip_status.availability == "download" and fake_state.clip_status.usable
    fake_state.set_clip_weights(" /w/clip.pt ")
    fake_state.set_clip_weights("/w/clip.pt")
    fake_state.set_clip_weights("nope")
    assert [s.availability for s in changes] == ["present", "unavailable"]
    assert not fake_state.clip_status.usable
    fake_state.set_clip_weights("")  # empty: the default tag
    assert fake_state.clip_weights == "openai" and changes[-1].availability == "download"


def test_a_failed_download_blocks_text_runs_until_retried(qtbot, fake_state, tmp_path):
    _statuses(fake_state.engine)
    _open_model(qtbot, fake_state, tmp_path / "m.sinddm")
    assert fake_state.clip_status.usable
    fake_state.engine.download_failure = "The CLIP weights 'openai' could not be downloaded."
    with qtbot.waitSignal(fake_state.error_raised) as blocker:
        fake_state.generate(TextEdit("fire"))
    _wait_idle(qtbot, fake_state)
    assert blocker.args[0] == "Cannot generate" and "could not be downloaded" in blocker.args[1]
    status = fake_state.clip_status
    assert status.availability == "failed" and status.can_retry and not status.usable
    assert "could not be downloaded" in status.text
    with qtbot.waitSignal(fake_state.clip_status_changed):
        fake_state.retry_clip_download()
    assert fake_state.clip_status.availability == "download"


# ----------------------------------------------------------------------------- worker


def test_the_runner_delivers_events_errors_and_the_end_in_the_gui_thread(qtbot, qapp):
    from PySide6.QtCore import QThread

    runner = JobRunner()
    arrived = []

    def record(what):
        return lambda *args: arrived.append((what, QThread.currentThread() is qapp.thread()))

    runner.event_sent.connect(record("event"))
    runner.failed.connect(record("failed"))
    runner.finished.connect(record("finished"))

    def job(stop):
        yield "one"
        raise ValueError("boom")

    try:
        with qtbot.waitSignal(runner.finished):
            runner.start("sample", job)
        assert arrived == [("event", True), ("failed", True), ("finished", True)]
        assert runner.running is None
    finally:
        assert runner.shutdown()


@pytest.mark.parametrize("denoiser", ["trained", "instant", "refined"])
def test_a_run_asks_for_what_the_model_says_its_sampling_is(denoiser):
    """A network alone: plain or Fast sampling. Instant, and a trained refiner of Instant
    (docs/method.md §11, whose defaults are Instant's strides): its own, or twice them. The
    summary carries both (core.requests.fast_sampling): the app guesses nothing."""
    import numpy as np

    from app.events import ModelSummary
    from app.viewmodels.settings import sampling_for
    from core.denoisers.instant import INSTANT_SAMPLING
    from core.requests import STRIDED_FAST_FACTOR, fast_sampling

    default = PLAIN_SAMPLING if denoiser == "trained" else INSTANT_SAMPLING
    summary = ModelSummary(
        "m", ((64, 48),), (100,), 0, 0, 0, False, "refine", "m", np.zeros((48, 64, 3)),
        default_sampling=default, fast_sampling=fast_sampling(denoiser, default),
        denoiser=denoiser,
    )  # fmt: skip
    assert sampling_for(summary, fast=False) == default
    fast = sampling_for(summary, fast=True)
    if denoiser == "trained":
        assert (default, fast) == (PLAIN_SAMPLING, FAST_SAMPLING), "what the app always sent"
    else:
        assert fast.fine_stride == INSTANT_SAMPLING.fine_stride * STRIDED_FAST_FACTOR
        assert fast.coarse_stride == INSTANT_SAMPLING.coarse_stride * STRIDED_FAST_FACTOR
