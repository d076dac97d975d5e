"""app.viewmodels.engines on its own: the open models, and which one Generate uses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.events import ModelHandle, ModelSummary
from app.viewmodels.engines import OpenEngines, engine_caption


def _model(kind: str, path: str) -> tuple[ModelSummary, ModelHandle]:
    image = np.zeros((48, 64, 3), np.uint8)
    summary = ModelSummary(path, ((64, 48),), (100,), 0, 0, 0, False, "fast", "m", image, kind)
    return summary, ModelHandle((kind, path))


def test_a_model_opened_alone_closes_the_others():
    engines = OpenEngines()
    engines.open_only(*_model("instant", "/p.png"))
    trained = _model("trained", "/m.sinddm")
    engines.open_only(*trained)
    assert engines.models == (trained[0],) and engines.current is trained[0]
    assert engines.handle is trained[1] and not engines.is_open("instant")
    engines.open_only(None, None)
    assert engines.models == () and engines.current is None


def test_a_training_keeps_instant_beside_it_and_lists_instant_first():
    engines = OpenEngines()
    instant = _model("instant", "/p.png")
    engines.open_only(*instant)
    trained = _model("trained", "/p-1.sinddm")
    engines.add_trained(*trained)
    assert engines.models == (instant[0], trained[0]) and engines.current is trained[0]
    assert engines.switch_to("instant") and engines.current is instant[0]
    assert engines.handle is instant[1]


def test_switching_to_a_kind_not_open_changes_nothing():
    engines = OpenEngines()
    trained = _model("trained", "/m.sinddm")
    engines.open_only(*trained)
    assert not engines.switch_to("instant")
    assert engines.current is trained[0]


def test_a_saved_model_lives_at_its_new_path():
    engines = OpenEngines()
    assert not engines.moved("/x.sinddm"), "no model"
    trained = _model("trained", "/m.sinddm")
    engines.open_only(*trained)
    assert engines.moved("/saved.sinddm")
    assert engines.current == replace(trained[0], path="/saved.sinddm")
    assert engines.models == (engines.current,) and engines.handle is trained[1]


def test_the_caption_says_which_engine_generates():
    assert "Instant is ready" in engine_caption(_model("instant", "/a/p.png")[0])
    assert engine_caption(_model("trained", "/a/m.sinddm")[0]).startswith("Training image of m")
