"""Fixtures shared by the CLI tests: a small photo file and a tiny model file."""

import pytest

from core.files.model_file import save_trainer

TINY = ["--dim", "8", "--batch", "1", "--max-pixels", "6000", "--device", "cpu"]
"""Training options that make a width-8 model on a tiny image in seconds."""


@pytest.fixture
def small_image(tmp_path, tiny_image):
    path = tmp_path / "small.png"
    tiny_image.save(path)
    return path


@pytest.fixture
def model_file(tmp_path, tiny_trainer):
    """A two-scale width-8 model (batch 2, 20 steps) with its training state, at step 0."""
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    return path
