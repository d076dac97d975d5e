"""Argument checks of the `sinddm` command: every bad value is one line `error: …` and exit 2,
found before the work it would spoil (issue 12, defects 3, 4 and 9)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import open_clip
import pytest
from PIL import Image

from cli.main import main
from core.generation import memory
from core.generation.clip_weights import load_failure
from tests.conftest import DEMO_MODEL, ROOT


def _error(capsys) -> str:
    """The one line printed on stderr (and nothing else)."""
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("error: "), err
    return err


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if a command opens its model: its arguments should have failed first."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was opened before the arguments were checked")

    monkeypatch.setattr("cli.generate.open_diffusion_model", refuse)


# ----------------------------------------------------------------------------------- train


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--steps", "0", "--steps must be at least 1, not 0."),
        ("--batch", "0", "--batch must be at least 1, not 0."),
        ("--steps", "-5", "--steps must be at least 1, not -5."),
        ("--save-every", "-1", "--save-every cannot be negative"),
        ("--seed", str(2**64), "--seed 18446744073709551616 is out of range"),
    ],
)
def test_train_refuses_zero_and_out_of_range_numbers_first(
    tmp_path, capsys, option, value, message
):
    """0 once meant "the preset's value" (2,200 steps); checked before the image is read."""
    output = tmp_path / "m.sinddm"
    args = ["train", str(tmp_path / "missing.png"), "-o", str(output), option, value]
    assert main(args) == 2
    assert message in _error(capsys)
    assert not output.exists()


def test_resume_refuses_settings_that_differ_from_the_model(model_file, small_image, capsys):
    before = model_file.read_bytes()
    args = ["train", str(small_image), "-o", str(model_file), "--resume", "--steps", "21"]
    assert main([*args, "--dim", "16", "--lr", "0.01", "--device", "cpu"]) == 2
    error = _error(capsys)
    assert "--dim 16 (the model's: 8)" in error and "--lr 0.01 (the model's: 0.001)" in error
    assert main([*args, "--preset", "tiny", "--device", "cpu"]) == 2
    assert "--preset tiny (width 16)" in _error(capsys)  # a preset stands for its settings
    assert main([*args, "--distill", "0.5", "--device", "cpu"]) == 2
    assert "--distill 0.5 (the model's: 0)" in _error(capsys)
    # the refine preset has the model's width 8 here, but a refiner is another model (§11)
    assert main([*args, "--preset", "refine", "--dim", "8", "--device", "cpu"]) == 2
    assert "--preset refine (refiner band 0.25) (the model's: 0)" in _error(capsys)
    # the model trains on the authors' step numbers (TrainConfig's defaults): "reference"
    assert main([*args, "--schedule", "fitted", "--device", "cpu"]) == 2
    assert "--schedule fitted (the model's: reference)" in _error(capsys)
    assert model_file.read_bytes() == before


def test_train_distills_and_refuses_a_share_outside_0_to_1(tmp_path, small_image, capsys):
    from core.files.model_file import load_trainer

    output = tmp_path / "m.sinddm"
    base = ["train", str(small_image), "-o", str(output), "--preset", "tiny", "--device", "cpu"]
    assert main([*base, "--steps", "2", "--distill", "1.5"]) == 2
    assert "distilled share of a batch must be between 0 and 1" in _error(capsys)
    assert not output.exists()
    args = [*base, "--steps", "2", "--dim", "8", "--distill", "0.5", "--distill-until", "0.5"]
    assert main(args) == 0
    config = load_trainer(output).train_config
    assert (config.distill, config.distill_until) == (0.5, 0.5)


def test_resume_refuses_another_image(tmp_path, model_file, tiny_image, capsys):
    other = tmp_path / "other.png"
    Image.fromarray(255 - np.asarray(tiny_image)).save(other)  # same size, other picture
    bigger = tmp_path / "bigger.png"
    tiny_image.resize((192, 144)).save(bigger)
    for image, reason in ((other, "another picture"), (bigger, "192×144, not 96×72")):
        args = ["train", str(image), "-o", str(model_file), "--resume", "--device", "cpu"]
        assert main(args) == 2
        assert reason in _error(capsys)


def test_resume_with_the_same_settings_continues(tmp_path, model_file, small_image, capsys):
    """A command line run again with --resume passes; an image that is gone is only a note
    (the model holds its own copy)."""
    same = ["--dim", "8", "--batch", "2", "--lr", "1e-3", "--seed", "0", "--device", "cpu"]
    same += ["--schedule", "reference"]
    args = ["train", str(small_image), "-o", str(model_file), "--resume", "--steps", "1"]
    assert main([*args, *same]) == 0
    assert "with the image, width, batch" in capsys.readouterr().err
    gone = ["train", str(tmp_path / "gone.png"), "-o", str(model_file), "--resume"]
    assert main([*gone, "--steps", "2", "--device", "cpu"]) == 0
    assert "Training goes on with the image stored in the model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "size, expected",
    [
        (
            (20000, 100),
            "20000×100 pixels, too long and thin: shrunk to at most 20,000 pixels it "
            "would be 2000×10",
        ),
        ((20000, 20), "20000×20 pixels; SinDDM needs at least 42 pixels on its short side"),
    ],
)
def test_a_thin_image_is_described_by_its_own_size(tmp_path, capsys, size, expected):
    """A 20000×20 image was reported as "4472×4": the size the pixel cap shrank it to."""
    image = tmp_path / "thin.png"
    Image.new("RGB", size, (90, 120, 60)).save(image)
    output = tmp_path / "m.sinddm"
    args = ["train", str(image), "-o", str(output), "--preset", "cpu", "--device", "cpu"]
    assert main(args) == 2
    error = _error(capsys)
    assert expected in error
    if size[1] >= 42:
        assert "shape, or raise --max-pixels to 352,800." in error  # 20000·100·(42/100)²
    assert main(["info", str(image)]) == 2
    assert f"{size[0]}×{size[1]} pixels" in _error(capsys)


# ---------------------------------------------------------------------------- sample, edits


def test_start_steps_zero_samples_the_full_size(tmp_path, model_file, capsys):
    """Documented as allowed, --start-steps 0 crashed after the coarsest scale."""
    output = tmp_path / "s.png"
    args = ["sample", str(model_file), "-o", str(output), "--start-steps", "0"]
    assert main([*args, "--device", "cpu"]) == 0
    assert Image.open(output).size == (96, 72)


def test_injection_scale_and_step_are_checked_against_the_model(
    tmp_path, model_file, small_image, capsys
):
    base = ["style-transfer", str(model_file), str(small_image), "-o", str(tmp_path / "s.png")]
    assert main([*base, "--at-scale", "99", "--device", "cpu"]) == 2
    assert "--at-scale must lie in 0..1 for this model (2 scales, 1 the finest), not 99" in (
        _error(capsys)
    )
    assert main([*base, "--t", "0", "--device", "cpu"]) == 2
    assert "--t must lie in 1..99 for this model, not 0." in _error(capsys)
    harmonize = ["harmonize", str(model_file), str(small_image), "--mask", str(small_image)]
    assert main([*harmonize, "-o", str(tmp_path / "h.png"), "--t", "100"]) == 2
    assert "--t must lie in 1..99" in _error(capsys)


def test_a_canvas_too_large_for_memory_is_refused_before_sampling(
    tmp_path, model_file, monkeypatch, capsys
):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2 * 2**30)
    output = tmp_path / "big.png"
    args = ["sample", str(model_file), "-o", str(output), "--size", "4096x4096"]
    assert main([*args, "--device", "cpu"]) == 2
    error = _error(capsys)
    assert error.startswith("error: A 4096×4096 image needs about ")
    assert "this computer has 2.0 GB free. Try a smaller size." in error
    assert not output.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--prompt", "  "], "The prompt is empty"),
        (["--prompt", "fire", "--strength", "nan"], "--strength must lie between 0 and 1"),
        (["--prompt", "fire", "--fill", "0"], "--fill must lie in (0, 1]"),
        (["--prompt", "fire", "--views", "0"], "--views must be at least 1"),
        (["--prompt", "fire", "--mode", "region"], "The region mode needs a box"),
        (["--prompt", "fire", "--clip-weights", "/no/such/w.pt"], "No CLIP weights file at"),
    ],
)
def test_text_arguments_are_checked_before_any_loading(
    tmp_path, capsys, no_model_loading, options, message
):
    """An empty prompt once waited ~50 s for network retries of the CLIP download."""
    args = ["text", str(DEMO_MODEL), *options, "-o", str(tmp_path / "t.png"), "--device", "cpu"]
    assert main(args) == 2
    assert message in _error(capsys)


def test_clip_weights_that_do_not_load_are_one_short_line(tmp_path, monkeypatch, capsys):
    """open_clip's own message lists every state-dict key (14 KB)."""
    weights = tmp_path / "other.pt"
    weights.write_bytes(b"not CLIP")
    keys = ", ".join(f'"visual.transformer.resblocks.{i}.ln_1.weight"' for i in range(400))
    torch_says = f"Error(s) in loading state_dict for CLIP:\n\tMissing key(s) in state_dict: {keys}"

    def create_model(*args, **kwargs):
        raise RuntimeError(torch_says)

    # the real loader (core.generation.clip_guidance.load_clip) meets torch's message
    monkeypatch.setattr(open_clip, "create_model", create_model)
    args = ["text", str(DEMO_MODEL), "--prompt", "fire", "--clip-weights", str(weights)]
    assert main([*args, "-o", str(tmp_path / "t.png"), "--device", "cpu"]) == 2
    error = _error(capsys)
    assert error == (
        "error: other.pt holds other weights than CLIP ViT-B-32's. Choose a ViT-B-32 weights "
        "file, or the tag 'openai' to download them once."
    )


def test_clip_load_failures_name_the_cause_briefly():
    unsafe = RuntimeError(
        "Weights only load failed. In PyTorch 2.6, we changed the default value of the "
        "`weights_only` argument…\nPlease file an issue…"
    )
    assert load_failure("ViT-B-32", "/x/photo.png", unsafe) == (
        "photo.png is not a CLIP weights file that can be read (Weights only load failed). "
        "Choose a ViT-B-32 weights file (.pt, .bin or .safetensors)."
    )
    offline = OSError("We couldn't connect to 'https://huggingface.co' to load this file.\n…")
    message = load_failure("ViT-B-32", "openai", offline)
    assert "(We couldn't connect to 'https://huggingface.co' to load this file)" in message
    assert "\n" not in message and len(message) < 300


def test_argument_errors_are_one_line_without_the_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "m.sinddm", "-o", "x.png", "--scale", "nanx1"])
    assert exit_.value.code == 2
    assert _error(capsys) == (
        "error: argument --scale: 'nanx1': multipliers must be positive numbers like 2x1 or "
        "0.5x1.5 (sinddm sample -h lists the options)."
    )


# ------------------------------------------------------------------- pipes and interrupts


@pytest.mark.slow  # a separate process: run by .ci/run's second step
def test_a_reader_that_stops_early_ends_it_quietly():
    """`sinddm info m.sinddm | head -1`: the pipe is closed before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all: the first write fails, every time
    try:
        run = subprocess.run(
            [sys.executable, "-m", "cli", "info", str(DEMO_MODEL)],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert run.returncode == 1
    assert run.stderr == ""


CTRL_C_AT_IMPORT = textwrap.dedent(
    """
    import os, signal, sys

    # Ctrl-C as a terminal delivers it: a job started in the background inherits SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)

    class CtrlC:
        def find_spec(self, name, path=None, target=None):
            if name == sys.argv[1]:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the commands load

    sys.meta_path.insert(0, CtrlC())
    from cli.main import main

    sys.exit(main(["info", "m.sinddm"]))
    """
)


@pytest.mark.slow  # a separate process: run by .ci/run's second step
@pytest.mark.parametrize("module", ["torch", "cli.train"])
def test_ctrl_c_while_the_commands_load_is_cancelled_not_a_traceback(module):
    """Once a traceback (and, landing inside torch's C++ start-up, an abort)."""
    run = subprocess.run(
        [sys.executable, "-c", CTRL_C_AT_IMPORT, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 130
    assert run.stderr.strip() == "Cancelled."
