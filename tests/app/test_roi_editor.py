"""The region tool's state machine, driven by plain events (no widgets)."""

from app.roi_editor import RoiEditor
from core.requests import Box


def _draw(editor, a, b):
    editor.press("source", *a)
    editor.move("source", *b)
    editor.release("source", *b)


def _carry(editor, start, end):
    editor.press("source", *start)
    editor.move("canvas", *end)
    editor.release("canvas", *end)


def test_draw_a_source_then_place_two_copies():
    editor = RoiEditor((100, 80), (200, 80))
    _draw(editor, (10, 10), (40, 30))
    assert editor.pairs[0].source == Box(10, 10, 30, 20) and editor.placed == []
    _carry(editor, (20, 20), (100, 40))
    assert editor.placed == [(Box(10, 10, 30, 20), Box(85, 30, 30, 20))]
    _carry(editor, (20, 20), (195, 5))  # clamped inside the canvas
    assert editor.placed[1][1] == Box(170, 0, 30, 20)
    assert editor.selected == 1


def test_tiny_drags_do_not_make_boxes_and_drawing_is_clamped():
    editor = RoiEditor((100, 80), (200, 80))
    _draw(editor, (5, 5), (7, 6))
    assert editor.pairs == []
    _draw(editor, (90, 70), (150, 120))
    assert editor.pairs[0].source == Box(90, 70, 10, 10)


def test_move_resize_and_delete_a_target():
    editor = RoiEditor((100, 80), (200, 80))
    _draw(editor, (0, 0), (20, 20))
    _carry(editor, (10, 10), (50, 40))
    target = editor.placed[0][1]
    editor.press("canvas", target.x + 5, target.y + 5)
    editor.release("canvas", target.x + 15, target.y + 5)
    moved = editor.placed[0][1]
    assert (moved.x, moved.y) == (target.x + 10, target.y)
    editor.press("canvas", moved.x + moved.w, moved.y + moved.h)
    editor.release("canvas", moved.x + 40, moved.y + 30)
    assert editor.placed[0][1].w == 40 and editor.placed[0][1].h == 30
    editor.delete_selected()
    assert editor.pairs == [] and editor.selected is None


def test_a_smaller_canvas_keeps_targets_inside():
    editor = RoiEditor((100, 80), (200, 80))
    _draw(editor, (0, 0), (30, 30))
    _carry(editor, (5, 5), (180, 40))
    editor.set_canvas_size((100, 25))
    target = editor.placed[0][1]
    assert target.x + target.w <= 100 and target.y + target.h <= 25
