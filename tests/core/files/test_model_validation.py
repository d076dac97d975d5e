"""The model-file checks (core.files.model_file_checks): a damaged or crafted field gives one plain
sentence (CheckpointFormatError), never another exception, and never a model that cannot work."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.config import ModelConfig, TrainConfig
from core.errors import CheckpointFormatError, SinDDMError
from core.files.model_file import (
    info_from_data,
    model_from_data,
    trainer_from_data,
    trainer_to_dict,
)
from core.imageio import load_image
from core.training.trainer import Trainer
from tests.conftest import DEMO_IMAGE

NAME = "m.sinddm"
Path = tuple[Any, ...]


@cache
def _valid() -> dict[str, dict]:
    """The data of a tiny resumable model (two Adam steps taken) and of its sampling-only,
    float16 copy; built once per module, never changed (mutations copy what they touch)."""
    image = load_image(DEMO_IMAGE).resize((96, 72), Image.Resampling.LANCZOS)
    trainer = Trainer.from_image(
        image, ModelConfig(dim=8), TrainConfig(steps=4, batch_size=1), "cpu", seed=0
    )
    for _ in range(2):
        trainer.train_step()
    return {
        "full": trainer_to_dict(trainer),
        "sampling": trainer_to_dict(trainer, include_training_state=False, half=True),
    }


@pytest.fixture
def valid() -> dict[str, dict]:
    return _valid()


# ------------------------------------------------------------------------------ named cases


def _set(path: Path, value: Any) -> Callable[[dict], dict]:
    return lambda data: _replaced(data, path, value)


def _delete(path: Path) -> Callable[[dict], dict]:
    return lambda data: _replaced(data, path, DELETE)


def _first_weight(transform: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict], dict]:
    def mutate(data: dict) -> dict:
        key = next(iter(data["ema"]))
        return _replaced(data, ("ema", key), transform(data["ema"][key]))

    return mutate


def _with_nan(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.clone()
    tensor.view(-1)[0] = math.nan
    return tensor


NAMED_CASES = {
    "model_config is text": (_set(("model_config",), "dim=8"), "model_config is 'dim=8'"),
    "step is text": (_set(("step",), "abc"), "step is 'abc', not a whole number"),
    "step is negative": (_set(("step",), -5), "step is -5, outside 0 to"),
    "start_steps missing": (_delete(("start_steps",)), "lacks start_steps"),
    "start_steps changed": (_set(("start_steps", 1), 3), "do not match its pyramid"),
    "timesteps 10⁶": (
        _set(("model_config", "timesteps"), 10**6),
        "asks for 1,000,000 diffusion steps; SinDDM uses 100",
    ),
    "dim is a float": (_set(("model_config", "dim"), 8.0), "dim is 8.0, not a whole number"),
    "dim is odd": (_set(("model_config", "dim"), 7), "even number"),
    "refiner band text": (
        _set(("model_config", "refine"), "x"),
        "model_config.refine is 'x', not a number",
    ),
    "refiner weight 0": (
        _set(("model_config", "refine_weight"), 0),
        "weight (refine_weight) must be above 0",
    ),
    "pyramid sizes swapped": (
        _set(("pyramid", "sizes"), [[96, 72], [64, 48]]),
        "sizes do not grow",
    ),
    "pyramid size of another image": (
        _set(("pyramid", "sizes", 1), [90, 72]),
        "images do not match",
    ),
    "pyramid image missing": (
        _delete(("pyramid", "blurry", 1)),
        "pyramid.blurry has 1 entry instead of 2",
    ),
    "rescale loss NaN": (_set(("pyramid", "rescale_losses", 1), math.nan), "not a finite number"),
    "weights of the wrong shape": (_first_weight(lambda t: torch.zeros(3, 3)), "do not fit"),
    "weights of the wrong type": (_first_weight(lambda t: t.to(torch.int32)), "do not fit"),
    "NaN weights": (_first_weight(_with_nan), "not finite numbers"),
    "infinite weights": (_first_weight(lambda t: t * math.inf), "not finite numbers"),
    "train steps text": (_set(("train_config", "steps"), "abc"), "train_config.steps is 'abc'"),
    "absurd batch": (_set(("train_config", "batch_size"), 10**9), "outside 1 to 4,096"),
    "format version text": (_set(("format_version",), "1"), "format version is '1'"),
    "created_by a tensor": (_set(("created_by",), torch.zeros(2)), "created_by is a tensor"),
    "loss history text": (_set(("loss_history",), ["x"]), "loss_history is 'x'"),
    "bad RNG state": (
        _set(("rng", "index"), torch.zeros(10, dtype=torch.uint8)),
        "random-number state is not valid",
    ),
    "RNG state missing": (_delete(("rng",)), "lacks rng"),
    "Adam moment of the wrong shape": (
        _set(("optimizer", "state", 0, "exp_avg"), torch.zeros(2)),
        "optimizer state does not fit",
    ),
    "Adam betas text": (
        _set(("optimizer", "param_groups", 0, "betas"), "x"),
        "optimizer setting betas is 'x'",
    ),
    "Adam negative second moment": (
        lambda d: _replaced(
            d, ("optimizer", "state", 0, "exp_avg_sq"), -d["optimizer"]["state"][0]["exp_avg_sq"]
        ),
        "negative squared gradients",
    ),
}


@pytest.mark.parametrize("mutate, message", NAMED_CASES.values(), ids=NAMED_CASES.keys())
def test_model_check_names_each_damaged_field_in_one_sentence(valid, mutate, message):
    data = mutate(valid["full"])
    for load in (model_from_data, info_from_data, trainer_from_data):
        with pytest.raises(CheckpointFormatError) as caught:
            load(data, NAME)
        text = str(caught.value)
        assert text.startswith(f"{NAME} ") and "\n" not in text and text.endswith(".")
        assert message in text, text


def test_model_check_accepts_what_training_writes(valid):
    for data in valid.values():
        model = model_from_data(data, NAME)
        assert model.steps_trained == 2 and model.sizes == ((64, 48), (96, 72))
        json.dumps(info_from_data(data, NAME), allow_nan=False)
    trainer = trainer_from_data(valid["full"], NAME)
    assert trainer.state.step == 2 and math.isfinite(trainer.train_step().loss)


def test_model_check_accepts_files_of_older_versions(valid):
    """Fields that older files lack (bf16: the demo model's era) keep their defaults."""
    data = _replaced(valid["sampling"], ("bf16",), DELETE)
    assert model_from_data(data, NAME).steps_trained == 2


# ------------------------------------------------------------------------------ properties

DELETE = object()
"""A mutation's value that means: remove the entry."""

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.sampled_from([0, 1, 2, -1, 3, 7, 8, 100, 10**6, 10**9, 2**63, -(2**63), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 200), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(
        [
            torch.zeros(3),
            torch.tensor(math.nan),
            torch.zeros(2, 2, dtype=torch.uint8),
            torch.zeros((), dtype=torch.int64),
            torch.full((4,), math.inf),
        ]
    ),
)


def _tensor_mutations(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Same-named tensors that are wrong in one way: a NaN, an infinity, a flattened or cut
    shape, another dtype."""
    changed = [tensor.flatten()[: tensor.numel() // 2], tensor[None], tensor.to(torch.int32)]
    if tensor.is_floating_point() and tensor.numel():
        changed += [_with_nan(tensor), tensor * math.inf]
    return changed


class Mutated:
    """A valid model's data with some entries changed; its repr (what hypothesis prints for a
    failing example) names the changes, not the whole model."""

    def __init__(self, data: dict, changes: tuple[str, ...]):
        self.data, self.changes = data, changes

    def __repr__(self) -> str:
        return f"Mutated({'; '.join(self.changes)})"


@st.composite
def mutated_models(draw) -> Mutated:
    """A valid model's data with one to three entries deleted or replaced, anywhere in it."""
    base = draw(st.sampled_from(["full", "sampling"]))
    data, changes = _valid()[base], [base]
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        fields = [path for path in paths if not isinstance(_get(data, path), torch.Tensor)]
        path = draw(st.sampled_from(fields) | st.sampled_from(paths))  # settings as often
        current = _get(data, path)
        choices = [st.just(DELETE), JUNK]
        if isinstance(current, torch.Tensor):
            choices.append(st.sampled_from(_tensor_mutations(current)))
        if isinstance(current, int | float) and not isinstance(current, bool):
            choices.append(st.sampled_from([-current, current * 2, current + 1, current * 10**6]))
        value = draw(st.one_of(choices))
        data = _replaced(data, path, value)
        changes.append(f"{'/'.join(map(str, path))} = {_describe(value)}")
    return Mutated(data, tuple(changes))


def _describe(value: Any) -> str:
    if value is DELETE:
        return "deleted"
    if isinstance(value, torch.Tensor):
        finite = bool(torch.isfinite(value).all()) if value.is_floating_point() else True
        return f"tensor{tuple(value.shape)} {value.dtype}{'' if finite else ' non-finite'}"
    text = repr(value) if not (isinstance(value, int) and abs(value) > 10**30) else "huge int"
    return text[:60]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=mutated_models())
def test_any_mutation_gives_a_plain_error_or_a_working_model(mutation):
    mutated = mutation.data
    try:
        model = model_from_data(mutated, NAME)
    except SinDDMError as exc:  # anything else fails the test
        assert str(exc).startswith(f"{NAME} ") and "\n" not in str(exc)
        return
    # It passed: every use of the file works and gives finite numbers.
    json.dumps(info_from_data(mutated, NAME), allow_nan=False)
    x = torch.zeros(1, 3, *reversed(model.sizes[0]))
    assert torch.isfinite(model.net(x, torch.tensor([1]), 0)).all()
    if mutated.get("has_training_state", False):
        trainer = trainer_from_data(mutated, NAME)
        assert math.isfinite(trainer.train_step().loss)


# ------------------------------------------------------------------------------ helpers


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every entry of nested dicts and lists (tensors are leaves)."""
    found = []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list | tuple)
        else ()
    )
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _get(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _replaced(value: Any, path: Path, new: Any) -> Any:
    """A copy of `value` with the entry at `path` replaced by `new` (or removed, for DELETE);
    only the containers on the path are copied."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if rest or new is not DELETE:
            copy[key] = _replaced(value[key], rest, new)
        else:
            del copy[key]
        return copy
    items = list(value)
    if rest or new is not DELETE:
        items[key] = _replaced(items[key], rest, new)
    else:
        del items[key]
    return type(value)(items) if isinstance(value, tuple) else items
