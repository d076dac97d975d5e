"""`sinddm sample` and the editing commands: each is one core GenerationRequest, written to PNGs."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from cli import generate as generate_command
from cli.arguments import sampling_options
from cli.main import build_parser, main
from core.config import ModelConfig, TrainConfig
from core.files.model_file import load_model, save_trainer
from core.generation.plan import plan
from core.generation.run import generate_images
from core.requests import (
    FAST_SAMPLING,
    Box,
    GenerationRequest,
    HarmonizeEdit,
    RegionsEdit,
    SamplingOptions,
    StyleTransferEdit,
)
from core.training.trainer import Trainer


@pytest.fixture
def model_file(tmp_path, tiny_trainer):
    """A two-scale (64×48, 96×72) width-8 model file, untrained: its samples are still seeded."""
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    return path


@pytest.fixture
def edit_images(tmp_path, demo_image):
    """content.png (80×60) and mask.png: an opaque 20×20 square on a transparent sheet."""
    demo_image.resize((80, 60)).save(tmp_path / "content.png")
    mask = Image.new("RGBA", (80, 60), (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), (30, 20, 50, 40))
    mask.save(tmp_path / "mask.png")
    return tmp_path / "content.png", tmp_path / "mask.png"


def _read(paths) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) for path in paths]


def _expected(model_file, request: GenerationRequest) -> list[np.ndarray]:
    model = load_model(model_file, "cpu")
    return generate_images(model, plan(model, request))


def test_sample_options_reach_the_core_request(tmp_path, model_file, capsys):
    out = tmp_path / "s"
    argv = ["sample", str(model_file), "-o", str(out), "-n", "3", "--batch", "2", "--seed", "4"]
    speed = ["--scale", "1.5x1", "--omega", "0.5", "--start-steps", "30", "--fine-stride", "2"]
    assert main([*argv, *speed, "--device", "cpu"]) == 0
    paths = [out / f"sample_seed{seed}.png" for seed in (4, 5, 6)]
    assert capsys.readouterr().out.split() == [str(p) for p in paths]
    request = GenerationRequest(
        count=3,
        seed=4,
        multipliers=(1.5, 1.0),
        options=SamplingOptions(fine_stride=2, omega=0.5, start_steps=(30,)),
        batch=2,
    )
    expected = _expected(model_file, request)
    assert expected[0].shape == (72, 144, 3)
    for got, want in zip(_read(paths), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_fast_is_the_apps_fast_sampling_and_other_options_go_on_top(tmp_path, model_file):
    """`--fast` asks the model for its fast sampling (a trained network: FAST_SAMPLING);
    a speed option given with it changes only that option."""
    model = load_model(model_file, "cpu")
    fast = build_parser().parse_args(["sample", str(model_file), "-o", "x.png", "--fast"])
    assert sampling_options(fast, model) == FAST_SAMPLING
    argv = ["sample", str(model_file), "-o", "x.png", "--fast", "--fine-stride", "3"]
    both = build_parser().parse_args(argv)
    assert sampling_options(both, model) == replace(FAST_SAMPLING, fine_stride=3)
    plain = build_parser().parse_args(["sample", str(model_file), "-o", "x.png"])
    assert sampling_options(plain, model) == model.default_sampling


def test_info_shows_the_instant_a_refiner_samples_beside(tmp_path, tiny_image, capsys):
    trainer = Trainer.from_image(
        tiny_image, ModelConfig(dim=8, refine=0.25), TrainConfig(steps=1, batch_size=1)
    )
    path = tmp_path / "r.sinddm"
    save_trainer(trainer, path)
    assert main(["info", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "Instant  " in x)
    assert "patch sizes [15, 7, 5], position σ 0.12, 8 candidates, centre" in line


@pytest.mark.parametrize("command", ["roi", "style-transfer", "harmonize"])
def test_editing_commands_make_the_core_plans_images(
    tmp_path, model_file, edit_images, capsys, command
):
    content, mask = edit_images
    out = tmp_path / "out"
    common = ["-o", str(out), "-n", "2", "--batch", "1", "--seed", "7", "--device", "cpu"]
    if command == "roi":
        argv = ["roi", str(model_file), "--src", "0,0,40,30", "--dst", "50,30", "--size", "120x72"]
        source = Box(0, 0, 40, 30)
        edit, size = RegionsEdit(((source, Box(50, 30, 40, 30)),)), (120, 72)
    elif command == "style-transfer":
        argv = ["style-transfer", str(model_file), str(content), "--t", "12", "--no-match"]
        edit, size = StyleTransferEdit(content, start_step=12, match=False), None
    else:
        argv = ["harmonize", str(model_file), str(content), "--mask", str(mask), "--t", "4"]
        edit, size = HarmonizeEdit(content, mask, start_step=4), None
    assert main([*argv, *common]) == 0
    request = GenerationRequest(count=2, seed=7, size=size, edit=edit, batch=1)
    expected = _expected(model_file, request)
    got = _read([out / "sample_seed7.png", out / "sample_seed8.png"])
    for image, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(image, want)
    assert "100%" in capsys.readouterr().err


def test_harmonize_keeps_the_background_far_from_the_object(tmp_path, model_file, edit_images):
    content, mask = edit_images
    out = tmp_path / "h.png"
    argv = ["harmonize", str(model_file), str(content), "--mask", str(mask), "-o", str(out)]
    assert main(argv) == 0
    result, original = np.asarray(Image.open(out)), np.asarray(Image.open(content))
    assert np.array_equal(result[0:5, 0:5], original[0:5, 0:5])
    assert not np.array_equal(result[25:35, 35:45], original[25:35, 35:45])


def test_sample_draws_a_progress_bar_on_stderr_and_prints_only_paths(tmp_path, model_file, capsys):
    out = tmp_path / "one.png"
    assert main(["sample", str(model_file), "-o", str(out), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{out}\n"
    final = captured.err.strip().split("\r")[-1]
    assert final.startswith("sample 100%") and "scale 1 t   0" in final and "ETA" in final


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-n", "0"], "error: -n and --batch must be at least 1.\n"),
        (["--batch", "0"], "error: -n and --batch must be at least 1.\n"),
        (
            ["--size", "90x60", "--scale", "2x1"],
            "error: Give either an output size or multipliers, not both.\n",
        ),
        (["--fine-stride", "0"], "error: The fine-scale stride must be at least 1, not 0.\n"),
    ],
)
def test_sample_option_errors_are_one_line(tmp_path, model_file, capsys, extra, message):
    out = tmp_path / "s"
    assert main(["sample", str(model_file), "-o", str(out), *extra]) == 2
    assert capsys.readouterr().err == message
    assert not list(out.glob("*.png"))


def test_a_bad_region_writes_nothing(tmp_path, model_file, capsys):
    out = tmp_path / "r"
    argv = ["roi", str(model_file), "-o", str(out), "--src", "90,0,40,30", "--dst", "0,0"]
    assert main(argv) == 2
    assert "does not fit" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
            "error: The GPU ran out of memory. Try a smaller --batch, a smaller size, or "
            "--device cpu.\n",
        ),
        (
            MemoryError(),
            "error: The computer ran out of memory. Try a smaller --batch or a smaller size.\n",
        ),
    ],
)
def test_out_of_memory_is_one_line_with_advice(
    tmp_path, model_file, capsys, monkeypatch, error, message
):
    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr(generate_command, "generate", exhausted)
    assert main(["sample", str(model_file), "-o", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.endswith(message) and err.count("error") == 1


def test_other_exceptions_are_not_hidden(tmp_path, model_file, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(generate_command, "generate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["sample", str(model_file), "-o", str(tmp_path / "s")])


def test_ctrl_c_while_sampling_cancels(tmp_path, model_file, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_command, "generate", interrupted)
    assert main(["sample", str(model_file), "-o", str(tmp_path / "s")]) == 130
    assert capsys.readouterr().err.endswith("\nCancelled.\n")
