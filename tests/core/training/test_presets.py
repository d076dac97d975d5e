import pytest

from core.config import REFERENCE_MILESTONES, TrainConfig
from core.training.presets import PRESETS, fitted_train_config


def test_reference_preset_is_exactly_the_reference_schedule():
    config = PRESETS["reference"].train_config()
    assert config == TrainConfig()
    assert config.lr_milestones == REFERENCE_MILESTONES and config.ema_every == 10


def test_fitted_schedule_keeps_fractions_of_the_run():
    config = fitted_train_config(12_000, 8)
    assert config.lr_milestones == (2000, 4000, 7000, 8000, 9000, 11000)
    assert config.ema_start == 200
    # Horizon 1/(1 − d) = 1.7% of the run, updated every step: 200 steps here.
    assert config.ema_every == 1
    assert 1 / (1 - config.ema_decay) == pytest.approx(200, rel=0.01)


def test_fitted_schedule_of_a_very_short_run_uses_live_weights():
    config = fitted_train_config(30, 2)
    assert config.ema_decay == 0.0 and config.ema_start >= 1
    assert config.lr_at(29) < config.lr_at(0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_a_valid_config(name):
    preset = PRESETS[name]
    assert preset.train_config().steps == preset.steps
    assert preset.model.dim % 2 == 0


def test_default_preset_follows_the_device():
    from core.training.presets import default_preset_name

    assert default_preset_name("cuda") == "fast" and PRESETS["fast"].bf16
    assert default_preset_name("cpu") == "refine" and default_preset_name("mps") == "refine"
    assert PRESETS["cpu"].model.dim < PRESETS["fast"].model.dim


def test_cpu_preset_keeps_the_full_rate_for_half_the_run():
    config = PRESETS["cpu"].train_config()
    assert config.lr_milestones[0] == PRESETS["cpu"].steps // 2
    assert config.lr_at(config.lr_milestones[0] - 1) == config.lr
    assert config.lr_at(config.steps - 1) == config.lr / 32
    # A batch or length given by the user keeps the preset's fractions.
    assert PRESETS["cpu"].train_config(1000, 2).lr_milestones == (500, 600, 700, 800, 900)


@pytest.mark.parametrize("steps, batch", [(0, None), (None, 0), (-5, None), (None, -1)])
def test_preset_refuses_zero_and_negative_steps_and_batch(steps, batch):
    """0 is a value, not "the preset's default" (it once silently meant 2,200 steps)."""
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 1"):
        PRESETS["cpu"].train_config(steps, batch)


def test_preset_fills_in_only_what_is_left_out():
    preset = PRESETS["tiny"]
    assert preset.train_config(None, 2).steps == preset.steps
    assert preset.train_config(7, None).batch_size == preset.batch_size
    assert (preset.train_config(1).steps, preset.train_config(1).batch_size) == (1, 4)
