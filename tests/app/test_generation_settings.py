"""app.viewmodels.settings on its own: the Generate tab's settings and the seed rule."""

from __future__ import annotations

import numpy as np
import pytest

from app.events import ModelSummary
from app.viewmodels.settings import (
    DEFAULT_SIZE,
    SEED_WIDGET_MAX,
    GenerationSettings,
    random_seed,
    sampling_for,
)
from core.errors import ConfigError
from core.requests import FAST_SAMPLING, PLAIN_SAMPLING, SamplingOptions
from core.rules import SEED_MAX


@pytest.fixture
def settings(qapp):
    return GenerationSettings()


def test_each_setting_says_when_it_changes_and_only_then(settings):
    seen: list[tuple] = []
    settings.size_changed.connect(lambda w, h: seen.append(("size", w, h)))
    settings.seed_changed.connect(lambda seed: seen.append(("seed", seed)))
    settings.count_changed.connect(lambda count: seen.append(("count", count)))
    settings.fast_changed.connect(lambda on: seen.append(("fast", on)))
    settings.set_size(*DEFAULT_SIZE)
    settings.set_seed(None)
    settings.set_count(1)
    settings.set_fast(False)
    assert seen == []
    settings.set_size(120, 80)
    settings.set_seed(3)
    settings.set_count(2)
    settings.set_fast(True)
    assert seen == [("size", 120, 80), ("seed", 3), ("count", 2), ("fast", True)]
    assert (settings.size, settings.seed, settings.count, settings.fast) == ((120, 80), 3, 2, True)


def test_impossible_sizes_and_counts_are_refused(settings):
    with pytest.raises(ValueError):
        settings.set_size(0, 10)
    with pytest.raises(ValueError):
        settings.set_count(0)


def test_a_seed_follows_core_rules(settings):
    settings.set_seed(SEED_MAX)  # the whole range core takes, beyond what the seed box shows
    assert settings.seed == SEED_MAX
    for bad in (-1, SEED_MAX + 1):
        with pytest.raises(ConfigError, match="out of range"):
            settings.set_seed(bad)
    assert settings.seed == SEED_MAX, "a refused seed changes nothing"


def test_the_seed_box_ceiling_is_what_a_qspinbox_holds():
    assert SEED_WIDGET_MAX == 2**31 - 1 <= SEED_MAX
    assert all(0 <= random_seed(4) <= SEED_WIDGET_MAX - 4 for _ in range(50))


def _summary(default: SamplingOptions, fast: SamplingOptions) -> ModelSummary:
    image = np.zeros((48, 64, 3), np.uint8)
    return ModelSummary(
        "m", ((64, 48),), (100,), 0, 0, 0, False, "fast", "m", image,
        default_sampling=default, fast_sampling=fast,
    )  # fmt: skip


def test_sampling_comes_from_the_model():
    trained = _summary(PLAIN_SAMPLING, FAST_SAMPLING)
    assert sampling_for(trained, fast=False) == PLAIN_SAMPLING
    assert sampling_for(trained, fast=True) == FAST_SAMPLING
    own, faster = SamplingOptions(fine_stride=3), SamplingOptions(fine_stride=9)
    other = _summary(own, faster)
    assert (sampling_for(other, False), sampling_for(other, True)) == (own, faster)
