"""Faults during `sinddm train` on a tiny model: Ctrl-C, SIGTERM and kill -9, each followed by a
`--resume` that completes with a loadable model, and a loss that turns NaN."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from core.files.model_file import load_model
from core.training.trainer import Trainer
from tests.conftest import ROOT

TINY = ["--dim", "16", "--batch", "2", "--device", "cpu"]
STEPS = 300
"""Long enough (several seconds here) for a signal to land while training runs."""


@pytest.fixture
def small_image(tmp_path, tiny_image) -> Path:
    path = tmp_path / "small.png"
    tiny_image.save(path)  # 96×72
    return path


def _start(image: Path, model: Path, save_every: int) -> subprocess.Popen:
    argv = ["train", str(image), "-o", str(model), "--steps", str(STEPS), *TINY]
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *argv, "--save-every", str(save_every)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for_step(process: subprocess.Popen, at_least: int) -> str:
    """Read the progress bar until it shows step `at_least` or later; what was read. The bar is
    drawn inside the stop handler's block after whole steps (and after that step's save)."""
    assert process.stderr is not None
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        char = process.stderr.read(1)
        if not char:  # it ended early: the caller's asserts show the output
            break
        text += char
        shown = re.search(r"step (\d+)/\S*\s$", text[-40:])
        if shown and int(shown.group(1)) >= at_least:
            break
    return text


def _resume_completes(image: Path, model: Path, done: int, capsys) -> None:
    """`--resume` from step `done` trains 20 more steps, exits 0 and leaves a loadable model."""
    capsys.readouterr()
    argv = ["train", str(image), "-o", str(model), "--resume", "--steps", str(done + 20)]
    assert main([*argv, "--device", "cpu"]) == 0
    assert f"Resuming {model} at step {done:,}" in capsys.readouterr().err
    assert load_model(model).steps_trained == done + 20


@pytest.mark.slow  # a separate process: run by .ci/run's second step
@pytest.mark.parametrize(
    "signum, again",
    [(signal.SIGINT, "Ctrl-C again"), (signal.SIGTERM, "a second signal")],
    ids=["SIGINT", "SIGTERM"],
)
def test_stop_signal_saves_and_resume_completes(tmp_path, small_image, capsys, signum, again):
    model = tmp_path / "m.sinddm"
    process = _start(small_image, model, save_every=100_000)  # only the save on stop
    head = _wait_for_step(process, 1)
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    output = head + rest
    assert process.returncode == 130, output
    assert f"({again} quits now)" in output and "Traceback" not in output
    done = load_model(model).steps_trained
    assert 0 < done < STEPS
    assert f"Training stopped at step {done:,}; saved {model}." in output
    _resume_completes(small_image, model, done, capsys)


@pytest.mark.slow  # a separate process: run by .ci/run's second step
def test_kill_9_leaves_a_whole_model_and_resume_completes(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    process = _start(small_image, model, save_every=1)  # a save every step: kills land in some
    _wait_for_step(process, 10)
    process.kill()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    done = load_model(model).steps_trained  # one whole save, never a torn file
    assert 10 <= done < STEPS
    others = {p.name for p in tmp_path.iterdir()} - {"small.png", "m.sinddm"}
    assert all(re.fullmatch(r"\.m\.sinddm\..+\.tmp", name) for name in others), others
    _resume_completes(small_image, model, done, capsys)


@pytest.mark.slow
def test_kill_9_at_many_moments_never_breaks_the_model(tmp_path, small_image, capsys):
    model = tmp_path / "m.sinddm"
    done = 0
    for at_step in (5, 12, 19, 26, 33):
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "cli", "train", str(small_image), "-o", str(model)),
                *("--steps", str(STEPS), "--save-every", "1", "--device", "cpu"),
                *(["--resume"] if done else TINY),
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        _wait_for_step(process, at_step)
        process.kill()
        process.wait(timeout=30)
        assert load_model(model).steps_trained >= done
        done = load_model(model).steps_trained
    _resume_completes(small_image, model, done, capsys)


def test_nan_loss_stops_train_in_one_line_and_keeps_the_last_save(
    tmp_path, small_image, capsys, monkeypatch
):
    model = tmp_path / "m.sinddm"
    loss = Trainer._loss

    def poisoned(self, *args):
        value = loss(self, *args)
        return value * math.nan if self.state.step + 1 == 13 else value

    monkeypatch.setattr(Trainer, "_loss", poisoned)
    argv = ["train", str(small_image), "-o", str(model), "--steps", "30", "--save-every", "5"]
    assert main([*argv, *TINY]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: Training stopped at step 13: the loss became NaN (not a number). The model file "
        "keeps step 10, its last good save; a lower learning rate may help."
    ]
    assert load_model(model).steps_trained == 10
    monkeypatch.undo()
    _resume_completes(small_image, model, 10, capsys)
