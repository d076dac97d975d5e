import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from cli.main import main
from tests.cli.conftest import TINY
from tests.conftest import DEMO_IMAGE, DEMO_MODEL, ROOT


def _info(path, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json_of_model_trained_on_demo_image(tmp_path, capsys):
    model = tmp_path / "m.sinddm"
    assert (
        main(
            [
                "train",
                str(DEMO_IMAGE),
                "-o",
                str(model),
                "--preset",
                "reference",
                "--steps",
                "1",
                "--dim",
                "8",
                "--batch",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    info = _info(model, capsys)
    assert info["sizes"] == [[64, 48], [91, 68], [129, 96], [182, 136], [258, 193]]
    assert info["start_steps"] == [100, 54, 43, 33, 24]
    assert info["steps_trained"] == 1 and isinstance(info["parameters"], int)
    assert info["scale_factor"] == pytest.approx(1.4161, abs=1e-3)
    assert info["config"]["dim"] == 8


def test_bundled_demo_model_is_the_default_network(capsys):
    info = _info(DEMO_MODEL, capsys)
    assert info["parameters"] == 1_106_772
    assert info["has_training_state"] is False


def test_train_resume_and_sample_at_twice_the_width(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    assert main(["train", str(small_image), "-o", str(model), "--steps", "4", *TINY]) == 0
    assert (
        main(["train", str(small_image), "-o", str(model), "--steps", "6", "--resume", *TINY]) == 0
    )
    assert _info(model, capsys)["steps_trained"] == 6
    out = tmp_path / "samples"
    assert (
        main(
            [
                "sample",
                str(model),
                "-o",
                str(out),
                "-n",
                "2",
                "--seed",
                "5",
                "--scale",
                "2x1",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sample_seed5.png", "sample_seed6.png"]
    # the photo's own resolution (the model file keeps it), not the model's finest scale
    width, height = _info(model, capsys)["source_size"]
    assert Image.open(out / names[0]).size == (2 * width, height)
    single = tmp_path / "one.png"
    assert (
        main(["sample", str(model), "-o", str(single), "--size", "90x60", "--device", "cpu"]) == 0
    )
    assert Image.open(single).size == (90, 60)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "missing.png", "-o", "{tmp}/m.sinddm"], "No file at missing.png"),
        (["train", "{img}", "-o", "{tmp}/m.pt"], "should end in .sinddm"),
        (["sample", "{tmp}/none.sinddm", "-o", "{tmp}/x.png"], "No model file"),
        (["info", "{tmp}/notes.txt"], "neither a SinDDM Studio model nor an image"),
        (["sample", "{tmp}/notes.txt", "-o", "{tmp}/x.png"], "neither a SinDDM Studio model"),
        (["train", "{img}", "-o", "{tmp}/m.sinddm", "--device", "cuda:7"], "CUDA|GPU"),
        (["train", "{img}", "-o", "{tmp}/m.sinddm", "--dim", "7"], "even number"),
    ],
)
def test_errors_are_one_plain_line(tmp_path, small_image, capsys, argv, message):
    (tmp_path / "notes.txt").write_text("not a model, not an image")
    argv = [a.format(tmp=tmp_path, img=small_image) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert re.search(message, err)


def test_existing_model_is_never_overwritten_without_resume(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    model.write_bytes(b"precious")
    assert main(["train", str(small_image), "-o", str(model), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert model.read_bytes() == b"precious"


def test_many_samples_need_a_folder(tmp_path, capsys):
    assert main(["sample", str(DEMO_MODEL), "-o", str(tmp_path / "a.png"), "-n", "2"]) == 2
    assert "give a folder" in capsys.readouterr().err


@pytest.mark.slow  # a separate process: run by .ci/run's second step
def test_ctrl_c_saves_a_checkpoint_and_exits(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "train",
            str(small_image),
            "-o",
            str(model),
            "--steps",
            "100000",
            "--save-every",
            "0",
            *TINY,
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    # The bar's first "step N/…" line is drawn from inside the Ctrl-C handler's block, after a
    # finished step: from then on SIGINT means "save and stop".
    buffer = ""
    deadline = time.monotonic() + 120
    while re.search(r"step \d", buffer) is None and time.monotonic() < deadline:
        char = process.stderr.read(1)
        if not char:  # the command ended early: the asserts below show its output
            break
        buffer += char
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, buffer + rest
    assert "saved" in rest
    assert _info(model, capsys)["steps_trained"] > 0


def test_fitted_schedule_is_the_default_and_reference_steps_an_option(
    tmp_path, small_image, capsys
):
    model = tmp_path / "m.sinddm"
    assert main(["train", str(small_image), "-o", str(model), "--steps", "2", *TINY]) == 0
    config = _info(model, capsys)["train_config"]
    assert config["steps"] == 2 and max(config["lr_milestones"]) <= 2
    reference = tmp_path / "r.sinddm"
    argv = ["train", str(small_image), "-o", str(reference), "--steps", "2", *TINY]
    assert main([*argv, "--schedule", "reference"]) == 0
    assert _info(reference, capsys)["train_config"]["lr_milestones"][0] == 20_000


def test_train_starts_from_the_device_preset_and_flags_override_it(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    argv = ["train", str(small_image), "-o", str(model), "--steps", "2", "--device", "cpu"]
    assert main([*argv, "--batch", "1"]) == 0
    assert "Preset refine: width 32, batch 1, 2 steps" in capsys.readouterr().err
    info = _info(model, capsys)
    assert info["config"]["dim"] == 32 and info["config"]["max_pixels"] == 20_000
    assert info["config"]["refine"] == 0.25  # on a CPU: a refiner for Instant (method §11)
    assert main(["info", str(model)]) == 0
    assert "refines Instant the last 25% of each finer scale's steps" in capsys.readouterr().out
    out = tmp_path / "refined.png"
    assert main(["sample", str(model), "-o", str(out), "--device", "cpu"]) == 0
    assert out.is_file()
    tiny = tmp_path / "t.sinddm"
    argv = ["train", str(small_image), "-o", str(tiny), "--preset", "tiny", "--steps", "3"]
    assert main([*argv, "--fp32"]) == 0
    info = _info(tiny, capsys)
    assert info["config"]["dim"] == 16 and info["train_config"]["batch_size"] == 4


def test_info_prints_a_readable_summary(capsys):
    assert main(["info", str(DEMO_MODEL)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{DEMO_MODEL}  (sinddm-studio 0.1.0, format 1)"
    assert "  parameters      1,106,772 (width 160)" in lines
    assert "  scales          64×48, 91×68, 129×96, 182×136, 258×193" in lines
    assert lines[-1] == "  sampling-only file (cannot be trained further)"


def test_demo_samples_the_bundled_model_then_trains_and_samples_a_quick_one(
    tmp_path, capsys, monkeypatch
):
    from cli import demo
    from cli.main import build_parser

    runs: list[list[str]] = []
    monkeypatch.setattr(demo, "_run", lambda argv: runs.append(argv) or 0)
    assert main(["demo", "-o", str(tmp_path), "--steps", "7", "-n", "3"]) == 0
    assert [argv[0] for argv in runs] == ["sample", "sample", "train", "sample"]
    parsed = [build_parser().parse_args(argv) for argv in runs]
    assert parsed[0].model == str(DEMO_MODEL) and parsed[0].count == 3
    assert parsed[1].scale == (2.0, 1.0) and parsed[1].output.endswith("wide.png")
    assert parsed[2].image == str(DEMO_IMAGE) and parsed[2].steps == 7 and parsed[2].resume
    assert parsed[2].preset == "refine"
    assert parsed[3].model == str(tmp_path / "refined_model.sinddm")
    # a second demo run replaces the first run's samples in the demo's own folder
    assert all(parsed[i].overwrite for i in (0, 1, 3))
    assert "Done. Samples are in" in capsys.readouterr().err

    runs.clear()
    monkeypatch.setattr(demo, "_run", lambda argv: runs.append(argv) or 2)
    assert main(["demo", "-o", str(tmp_path)]) == 2
    assert len(runs) == 1  # a failed step ends the demo
