"""A network that refines Instant (docs/method.md §11): what it learns, how it samples, files."""

import math

import pytest
import torch

from core.config import ModelConfig, TrainConfig
from core.denoisers.instant import InstantSettings
from core.denoisers.refined import RefinedModel, refined_below, refined_scales
from core.errors import CheckpointFormatError, ConfigError
from core.files.model_file import (
    load_model,
    load_trainer,
    model_info,
    save_trainer,
    trainer_to_dict,
)
from core.generation.memory import estimate_generation_bytes
from core.generation.sampling import sample
from core.training.presets import PRESETS, REFINE_BAND
from core.training.trainer import Trainer

REFINE = 0.25


def _trainer(tiny_image, refine=REFINE, steps=12) -> Trainer:
    config = ModelConfig(dim=8, refine=refine)
    return Trainer.from_image(tiny_image, config, TrainConfig(steps=steps, batch_size=2), seed=1)


def test_the_refiner_learns_only_its_band(tiny_image):
    """Scales ≥ 1 only, t < ceil(r·T[s]); the full network draws every scale and t."""
    trainer = _trainer(tiny_image)
    start_steps = trainer.schedule.start_steps
    draws = [trainer._draw() for _ in range(200)]
    scales = {scale for scale, _, _ in draws}
    assert scales == set(range(1, trainer.pyramid.num_scales))
    for scale, t, _ in draws:
        assert int(t.max()) < math.ceil(REFINE * start_steps[scale])
    highest = max(int(t.max()) for scale, t, _ in draws if scale == 1)
    assert highest == math.ceil(REFINE * start_steps[1]) - 1  # the whole band is drawn
    full = _trainer(tiny_image, refine=0.0)
    full_draws = [full._draw() for _ in range(200)]
    assert {scale for scale, _, _ in full_draws} == set(range(full.pyramid.num_scales))
    assert max(int(t.max()) for _, t, _ in full_draws) > 90


def test_band_edges():
    assert refined_scales(3) == (1, 2)
    assert refined_scales(1) == (0,)  # a one-scale pyramid refines its only scale

    class Schedule:
        start_steps = (100, 0, 39)

    assert refined_below(Schedule, 2, 0.25) == 10
    assert refined_below(Schedule, 1, 0.25) == 1  # never an empty band
    assert refined_below(Schedule, 0, 1.0) == 100


def test_sampling_averages_the_two_estimates_only_inside_the_band(tiny_image):
    trainer = _trainer(tiny_image)
    model = trainer.sampling_model()
    assert isinstance(model, RefinedModel) and model.kind == "refined"
    assert model.parameters == trainer.sampling_model().network.parameters > 0
    instant, network = model.instant, model.network
    x = torch.randn(1, 3, *reversed(model.sizes[1]), generator=torch.Generator().manual_seed(0))
    below = refined_below(model.schedule, 1, REFINE)
    blurry = torch.zeros_like(x)
    for t, refined in ((below - 1, True), (below, False)):
        got = model.predict_eps(x, t, 1, blurry, 0.3)
        instant.start_run()
        closed_form = instant.predict_eps(x, t, 1, blurry, 0.3)
        if refined:
            learned = network.predict_eps(x, t, 1)
            expected = 0.5 * learned + 0.5 * closed_form
            assert not torch.allclose(got, closed_form, atol=1e-3)
        else:
            expected = closed_form
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    # Scale 0 is Instant's alone, at every t
    x0 = torch.randn(1, 3, *reversed(model.sizes[0]), generator=torch.Generator().manual_seed(1))
    model.start_run()
    got = model.predict_eps(x0, 0, 0)
    instant.start_run()
    torch.testing.assert_close(got, instant.predict_eps(x0, 0, 0))


def test_a_refiner_file_opens_as_a_refined_model_and_samples_the_same(tiny_image, tmp_path):
    trainer = _trainer(tiny_image, steps=3)
    for _ in trainer.steps():
        pass
    path = tmp_path / "refiner.sinddm"
    save_trainer(trainer, path)
    loaded = load_model(path)
    assert isinstance(loaded, RefinedModel)
    assert loaded.config.refine == REFINE and loaded.steps_trained == 3
    options = loaded.default_sampling
    first = sample(loaded, count=1, seed=5, options=options)
    again = sample(trainer.sampling_model(), count=1, seed=5, options=options)
    torch.testing.assert_close(first, again)
    assert first.shape[-2:] == tuple(reversed(loaded.sizes[-1]))
    assert float(first.abs().max()) <= 1


def test_a_refiner_resumes_exactly(tiny_image, tmp_path):
    """5 + 7 steps equal 12 steps, as for the full network (the band is in the model file)."""
    whole = _trainer(tiny_image)
    for _ in whole.steps():
        pass
    first = _trainer(tiny_image)
    for _ in range(5):
        first.train_step()
    save_trainer(first, tmp_path / "half.sinddm")
    resumed = load_trainer(tmp_path / "half.sinddm")
    assert resumed.model_config.refine == REFINE
    for _ in resumed.steps():
        pass
    for a, b in zip(whole.ema.parameters(), resumed.ema.parameters(), strict=True):
        assert torch.equal(a, b)


def test_memory_estimate_counts_instant_beside_the_network(tiny_image):
    refined = _trainer(tiny_image).sampling_model()
    network = refined.network
    both = estimate_generation_bytes(refined, 100, 100, 1)
    assert both > estimate_generation_bytes(network, 100, 100, 1)
    assert both > estimate_generation_bytes(refined.instant, 100, 100, 1)


@pytest.mark.parametrize(
    "fields", [{"refine": -0.1}, {"refine": 1.5}, {"refine": 0.2, "refine_weight": 0}]
)
def test_bad_bands_are_refused(fields):
    with pytest.raises(ConfigError, match="(?i)" + next(iter(reversed(fields)))):
        ModelConfig(**fields)


def test_the_refine_preset():
    preset = PRESETS["refine"]
    assert preset.model.refine == REFINE_BAND and not preset.bf16
    assert preset.steps * 3 < PRESETS["cpu"].steps  # fewer steps; docs/benchmarks.md times them
    assert preset.model.dim == PRESETS["cpu"].model.dim


def test_a_refiners_file_keeps_the_instant_it_was_trained_beside(tiny_image, tmp_path):
    """The file records Instant's settings; loading and resuming use them, not the defaults
    of the code that opens it, and `model_info` reports them."""
    settings = InstantSettings(patch_sizes=(9, 5), position_sigma=0.2, candidates=6)
    config = ModelConfig(dim=8, refine=REFINE)
    trainer = Trainer.from_image(
        tiny_image, config, TrainConfig(steps=2, batch_size=2), instant_settings=settings
    )
    path = tmp_path / "r.sinddm"
    save_trainer(trainer, path)
    loaded = load_model(path)
    assert isinstance(loaded, RefinedModel) and loaded.instant.settings == settings
    assert load_trainer(path).instant_settings == settings
    info = model_info(path)["instant_settings"]
    assert info["patch_sizes"] == [9, 5] and info["position_sigma"] == 0.2
    assert info["kept_in_file"] is True


def test_an_older_refiner_file_opens_with_the_default_instant(tiny_image, tmp_path):
    """Files written before the settings were kept follow today's defaults, and say so."""
    trainer = _trainer(tiny_image, steps=2)
    data = trainer_to_dict(trainer)
    del data["instant_settings"]
    path = tmp_path / "old.sinddm"
    torch.save(data, path)
    loaded = load_model(path)
    assert isinstance(loaded, RefinedModel) and loaded.instant.settings == InstantSettings()
    assert model_info(path)["instant_settings"]["kept_in_file"] is False


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("patch_sizes", [4], "Patch sizes must be odd"),
        ("candidates", 0, "instant_settings.candidates"),
        ("aggregation", 3, "aggregation"),
    ],
)
def test_damaged_instant_settings_are_refused_in_words(tiny_image, tmp_path, field, value, words):
    trainer = _trainer(tiny_image, steps=2)
    data = trainer_to_dict(trainer)
    data["instant_settings"][field] = value
    path = tmp_path / "bad.sinddm"
    torch.save(data, path)
    with pytest.raises(CheckpointFormatError, match=words):
        load_model(path)


def test_a_plain_network_keeps_no_instant_settings(tiny_image):
    trainer = _trainer(tiny_image, refine=0.0, steps=2)
    assert "instant_settings" not in trainer_to_dict(trainer)
