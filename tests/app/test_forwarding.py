"""app.viewmodels.forwarding, and AppState as a facade over its parts."""

from __future__ import annotations

import numpy as np

from app.state import AppState
from app.viewmodels.forwarding import Forwarded


class Part:
    size = (3, 4)

    def double(self, x: int) -> int:
        return 2 * x


class Facade:
    def __init__(self) -> None:
        self.part = Part()

    size = Forwarded[tuple[int, int]]("part")
    twice = Forwarded[object]("part", "double")


def test_a_forwarded_attribute_reads_the_part():
    facade = Facade()
    assert facade.size == (3, 4)
    assert facade.twice(5) == 10
    assert isinstance(Facade.size, Forwarded), "the class holds the descriptor"


def test_every_attribute_the_state_forwards_is_there(fake_state):
    forwarded = {
        name: value for name, value in vars(AppState).items() if isinstance(value, Forwarded)
    }
    assert len(forwarded) > 30
    for name in forwarded:
        getattr(fake_state, name)  # raises AttributeError for a part or name that went away


def test_the_state_re_sends_its_parts_signals(fake_state, qtbot):
    with qtbot.waitSignal(fake_state.size_changed, timeout=1000):
        fake_state.settings.set_size(40, 30)
    with qtbot.waitSignal(fake_state.canvas_changed, timeout=1000):
        fake_state.canvas_image.show(np.zeros((4, 4, 3), np.uint8), "x")
    assert fake_state.canvas_caption == "x"
