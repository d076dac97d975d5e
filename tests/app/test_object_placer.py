"""The harmonisation object tool's state machine, driven by plain events (no widgets)."""

import numpy as np
import pytest

from app.object_placer import KEEP_VISIBLE, ObjectPlacer
from core.requests import Box


def _drag(placer, start, end):
    placer.press(*start)
    placer.move(*end)
    placer.release(*end)


def test_a_large_object_starts_centred_at_half_the_canvas():
    placer = ObjectPlacer.centred((200, 100), np.ones((100, 300), bool))
    assert placer.box == Box(50, 33, 100, 33)
    small = ObjectPlacer.centred((200, 100), np.ones((10, 20), bool))
    assert small.box == Box(90, 45, 20, 10)


def test_move_keeps_part_of_the_object_on_the_canvas():
    placer = ObjectPlacer.centred((200, 100), np.ones((10, 20), bool))
    _drag(placer, (95, 50), (105, 40))
    assert placer.box == Box(100, 35, 20, 10)
    _drag(placer, (110, 40), (900, -900))
    assert placer.box.x == 200 - KEEP_VISIBLE and placer.box.y == KEEP_VISIBLE - 10
    _drag(placer, (0, 0), (50, 50))  # pressed outside the object: nothing moves
    assert placer.box.x == 200 - KEEP_VISIBLE


def test_corner_drag_and_wheel_scale_with_fixed_proportions():
    placer = ObjectPlacer.centred((200, 100), np.ones((10, 20), bool))
    _drag(placer, (110, 55), (130, 80))  # the bottom-right corner
    assert placer.box == Box(90, 45, 40, 20)
    placer.scale_by(0.5)
    assert placer.box == Box(100, 50, 20, 10)
    for _ in range(40):
        placer.scale_by(2.0)
    assert placer.box.w == 800 and placer.box.h == 400  # at most 4× the canvas


def test_painting_and_erasing_the_mask_at_the_object_resolution():
    placer = ObjectPlacer.centred((100, 100), np.zeros((20, 20), bool))
    placer.box = Box(0, 0, 40, 40)  # 2 canvas px per object px
    placer.tool, placer.brush = "paint", 4
    _drag(placer, (4, 20), (36, 20))  # a horizontal stroke across the object
    row = placer.mask[10]
    assert row[2:18].all(), "dabs along a fast drag leave no gaps"
    assert not placer.mask[:7].any() and not placer.mask[14:].any()
    placer.tool = "erase"
    _drag(placer, (20, 20), (20, 20))
    assert not placer.mask[10, 9:11].any() and placer.mask[10, 3]
    assert placer.undo() and placer.mask[10, 9:11].all()
    assert placer.undo() and not placer.mask.any()
    assert not placer.undo()


def test_mask_reset_is_undoable_and_checked():
    placer = ObjectPlacer.centred((100, 100), np.zeros((20, 20), bool))
    placer.set_mask(np.ones((20, 20), bool))
    assert placer.mask.all()
    placer.undo()
    assert not placer.mask.any()
    with pytest.raises(ValueError):
        placer.set_mask(np.ones((5, 5), bool))


def test_compose_pastes_what_was_placed():
    placer = ObjectPlacer.centred((30, 20), np.ones((4, 4), bool))
    placer.box = Box(2, 3, 4, 4)
    composite, mask = placer.compose(
        np.zeros((20, 30, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
    )
    assert mask[3:7, 2:6].all() and mask.sum() == 16 * 255
    assert composite[3:7, 2:6].min() == 255 and composite.sum() == 16 * 3 * 255
