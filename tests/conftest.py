"""Shared fixtures: tiny, seeded, CPU-only configurations (seconds, not minutes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resources import DEMO_IMAGE, DEMO_MODEL

__all__ = ["DEMO_IMAGE", "DEMO_MODEL", "ROOT", "assert_same_image"]  # tests import these

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the working folder of subprocess tests)."""


def assert_same_image(got, want, share: float = 0.005) -> None:
    """Two uint8 images are the same image up to float rounding: every pixel within a grey
    level, but for a `share` of them where rounding flipped which of two near-equal patches
    Instant took (a batch's matrix products round differently on some processors: on one
    2-core machine a few pixels of a batched image differed by up to 107 levels)."""
    import numpy as np

    assert got.shape == want.shape
    difference = np.abs(got.astype(int) - want.astype(int)).max(axis=-1)
    assert (difference > 1).mean() <= share, f"{(difference > 1).mean():.2%} of pixels differ"


@pytest.fixture(scope="session")
def demo_image():
    from core.imageio import load_image

    return load_image(DEMO_IMAGE)


@pytest.fixture(scope="session")
def tiny_image(demo_image):
    """96×72 RGB: a two-scale pyramid (64×48, 96×72)."""
    from PIL import Image

    return demo_image.resize((96, 72), Image.Resampling.LANCZOS)


@pytest.fixture
def tiny_trainer(tiny_image):
    from core.config import ModelConfig, TrainConfig
    from core.training.trainer import Trainer

    return Trainer.from_image(
        tiny_image, ModelConfig(dim=8), TrainConfig(steps=20, batch_size=2), "cpu", seed=0
    )


@pytest.fixture(scope="session")
def tiny_model(tiny_image):
    """A tiny model trained for a few steps, for sampling tests (its samples are not pretty)."""
    from core.config import ModelConfig, TrainConfig
    from core.training.trainer import Trainer

    trainer = Trainer.from_image(
        tiny_image, ModelConfig(dim=8), TrainConfig(steps=10, batch_size=2), "cpu", seed=0
    )
    for _ in trainer.steps():
        pass
    return trainer.sampling_model()


@pytest.fixture(scope="session")
def tiny_clip():
    """A random-weight open_clip CLIP (1-layer ViT, 32 px) and the ViT-B-32 tokenizer: the
    mechanics of text guidance without downloaded weights."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=16,
        vision_cfg={"layers": 1, "width": 32, "head_width": 16, "patch_size": 8, "image_size": 32},
        text_cfg={"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    )
    return model.eval().requires_grad_(False), open_clip.get_tokenizer("ViT-B-32")


@pytest.fixture
def empty_clip_cache(monkeypatch, tmp_path):
    """open_clip's caches pointed at empty folders: no weights 'downloaded before'."""
    import huggingface_hub.constants

    from core.generation import clip_weights

    hub = tmp_path / "hf-hub"
    hub.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(clip_weights, "URL_CACHE", tmp_path / "clip-url-cache")
    return hub
