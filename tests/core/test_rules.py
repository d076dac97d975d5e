"""One rulebook (core.rules, core.requests): seeds, canvases, text modes and what Fast means,
the same for every front end; and each denoiser describing itself."""

import pytest

from core.config import ModelConfig, TrainConfig
from core.denoisers.instant import INSTANT_BYTES_PER_PIXEL, InstantModel
from core.denoisers.refined import RefinedModel
from core.denoisers.trained import NETWORK_BYTES_PER_CHANNEL, SAMPLER_BYTES_PER_PIXEL
from core.errors import ConfigError
from core.generation.plan import preview_plan
from core.generation.run import generate_images
from core.requests import (
    FAST_SAMPLING,
    PLAIN_SAMPLING,
    GenerationRequest,
    SamplingOptions,
    TextEdit,
    fast_sampling,
)
from core.rules import MAX_CANVAS_PIXELS, MAX_DIM, SEED_MAX, check_canvas, check_seed
from core.training.trainer import Trainer


@pytest.mark.parametrize("seed, count", [(0, 1), (SEED_MAX, 1), (SEED_MAX - 7, 8)])
def test_seeds_in_range_pass(seed, count):
    check_seed(seed, count)
    GenerationRequest(seed=seed, count=count)


@pytest.mark.parametrize(
    "seed, count, words",
    [
        (-1, 1, "-1 is out of range"),
        (SEED_MAX + 1, 1, "out of range"),
        (SEED_MAX - 6, 8, "its 8 images use seed"),
        (1.5, 1, "whole number"),
        (True, 1, "whole number"),
    ],
)
def test_seeds_out_of_range_are_refused_by_the_request_itself(seed, count, words):
    with pytest.raises(ConfigError, match=words):
        GenerationRequest(seed=seed, count=count)


def test_the_option_name_is_the_callers():
    with pytest.raises(ConfigError, match=r"^--seed -3 is out of range"):
        check_seed(-3, name="--seed")


def test_canvas_limit():
    check_canvas(4096, 4096)
    assert MAX_CANVAS_PIXELS == 4096 * 4096
    with pytest.raises(ConfigError, match="too large"):
        GenerationRequest(size=(4097, 4096))
    with pytest.raises(ConfigError, match="positive"):
        GenerationRequest(size=(0, 10))


def test_text_modes_are_checked_when_the_edit_is_made():
    TextEdit("fire", mode="style")
    with pytest.raises(ConfigError, match="Unknown mode 'dream'"):
        TextEdit("fire", mode="dream")  # type: ignore[arg-type]


def test_model_limits_are_the_configs():
    """The model-file checks and the settings share one set of limits."""
    with pytest.raises(ConfigError, match=f"{MAX_DIM:,}"):
        ModelConfig(dim=MAX_DIM + 2)
    with pytest.raises(ConfigError, match="at most 4,096"):
        TrainConfig(batch_size=10**9)


def test_fast_means_one_thing_per_kind_of_denoiser():
    strided = SamplingOptions(fine_stride=2, coarse_stride=4)
    assert fast_sampling("trained", PLAIN_SAMPLING) == FAST_SAMPLING
    for kind in ("instant", "refined"):
        fast = fast_sampling(kind, strided)
        assert (fast.fine_stride, fast.coarse_stride, fast.bf16) == (4, 8, False)


def test_every_denoiser_describes_itself(tiny_image, tiny_model):
    """Kind, Fast sampling and memory profile come from the denoiser: nothing outside needs
    isinstance or getattr to tell a refiner from a network."""
    assert tiny_model.kind == "trained" and tiny_model.fast_sampling == FAST_SAMPLING
    per_pixel = NETWORK_BYTES_PER_CHANNEL * tiny_model.config.dim + SAMPLER_BYTES_PER_PIXEL
    assert tiny_model.bytes_per_pixel == per_pixel
    instant = InstantModel.from_image(tiny_image)
    assert instant.kind == "instant" and instant.bytes_per_pixel == INSTANT_BYTES_PER_PIXEL
    assert instant.fast_sampling.fine_stride == 2 * instant.default_sampling.fine_stride
    refiner = RefinedModel.around(tiny_model)
    assert refiner.kind == "refined"
    assert refiner.fast_sampling == instant.fast_sampling
    assert refiner.bytes_per_pixel == per_pixel + INSTANT_BYTES_PER_PIXEL


def test_the_training_preview_goes_through_the_plan(tiny_image):
    """A coarse look while training: one image of the coarsest (or the refiner's first) scale."""
    trainer = Trainer.from_image(tiny_image, ModelConfig(dim=8), TrainConfig(steps=1))
    model = trainer.sampling_model()
    for last in (0, 1):
        images = generate_images(model, preview_plan(model, seed=3, last_scale=last))
        width, height = model.sizes[last]
        assert len(images) == 1 and images[0].shape == (height, width, 3)
    again = generate_images(model, preview_plan(model, seed=3, last_scale=0))
    assert (again[0] == generate_images(model, preview_plan(model, 3, 0))[0]).all()
