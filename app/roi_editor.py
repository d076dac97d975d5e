"""The region tool's interaction as a small state machine fed plain events (no Qt).

Two panes: "source" (the training image) and "canvas" (the output). Drag on the source to draw
a box; drag from inside a source box onto the canvas to place a copy; drag a placed copy to move
it, or its bottom-right corner to resize it; Delete removes the selected copy. Coordinates are
photo pixels (those of the photo at the resolution images come back at; the canvas is the
Generate tab's size in them), whatever size the panes are drawn at: the widget only maps mouse
events here, sets `handle` and `min_side` to a few screen pixels, and paints `pairs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.requests import Box

Pane = Literal["source", "canvas"]
MIN_SIDE = 4
"""The smallest box side, in pixels (`RoiEditor.min_side`'s default)."""
HANDLE = 6
"""Pixels around a target's bottom-right corner that grab it for resizing (`handle`'s
default)."""


@dataclass
class Pair:
    source: Box
    target: Box | None = None


@dataclass
class RoiEditor:
    source_size: tuple[int, int]
    canvas_size: tuple[int, int]
    pairs: list[Pair] = field(default_factory=list)
    selected: int | None = None
    handle: float = HANDLE
    min_side: int = MIN_SIDE
    _mode: str = "idle"
    _anchor: tuple[int, int] = (0, 0)
    _active: int | None = None
    _preview: Box | None = None

    @property
    def placed(self) -> list[tuple[Box, Box]]:
        """(source, target) pairs ready for guidance."""
        return [(p.source, p.target) for p in self.pairs if p.target is not None]

    @property
    def drawing(self) -> bool:
        """True while a source box is being drawn (the preview belongs to the source pane)."""
        return self._mode == "draw"

    @property
    def preview(self) -> Box | None:
        """The box being drawn or dragged, for painting."""
        return self._preview

    def press(self, pane: Pane, x: int, y: int) -> None:
        self._anchor = (x, y)
        if pane == "source":
            hit = self._hit_source(x, y)
            self._mode, self._active = ("carry", hit) if hit is not None else ("draw", None)
            return
        hit = self._hit_target(x, y)
        if hit is None:
            self.selected = None
            return
        self.selected, self._active = hit, hit
        target = self._active_target()
        near_corner = (
            abs(x - (target.x + target.w)) <= self.handle
            and abs(y - (target.y + target.h)) <= self.handle
        )
        self._mode = "resize" if near_corner else "move"

    def move(self, pane: Pane, x: int, y: int) -> None:
        if self._mode == "draw" and pane == "source":
            self._preview = _box_between(self._anchor, (x, y), self.source_size)
        elif self._mode == "carry":
            source = self._active_pair().source
            self._preview = self._centred(source, x, y) if pane == "canvas" else None
        elif self._mode == "move":
            target = self._active_target()
            dx, dy = x - self._anchor[0], y - self._anchor[1]
            self._anchor = (x, y)
            self._active_pair().target = self._clamped(
                Box(target.x + dx, target.y + dy, target.w, target.h)
            )
        elif self._mode == "resize":
            target = self._active_target()
            width = max(self.min_side, min(x - target.x, self.canvas_size[0] - target.x))
            height = max(self.min_side, min(y - target.y, self.canvas_size[1] - target.y))
            self._active_pair().target = Box(target.x, target.y, width, height)

    def release(self, pane: Pane, x: int, y: int) -> None:
        self.move(pane, x, y)
        if self._mode == "draw" and self._preview is not None:
            if self._preview.w >= self.min_side and self._preview.h >= self.min_side:
                self.pairs.append(Pair(self._preview))
        elif self._mode == "carry" and pane == "canvas" and self._preview is not None:
            pair = self._active_pair()
            if pair.target is None:
                pair.target = self._preview
                self.selected = self._active
            else:  # another copy of the same source
                self.pairs.append(Pair(pair.source, self._preview))
                self.selected = len(self.pairs) - 1
        self._mode, self._active, self._preview = "idle", None, None

    def delete_selected(self) -> None:
        if self.selected is not None:
            del self.pairs[self.selected]
            self.selected = None

    def clear(self) -> None:
        self.pairs.clear()
        self.selected = None

    def set_canvas_size(self, size: tuple[int, int]) -> None:
        """A new canvas size keeps targets inside it (moved in, or shrunk if too big)."""
        self.canvas_size = size
        for pair in self.pairs:
            if pair.target is not None:
                pair.target = self._clamped(pair.target)

    def _active_pair(self) -> Pair:
        """The pair being carried, moved or resized (there is one in those modes)."""
        assert self._active is not None, f"no pair is active while {self._mode!r}"
        return self.pairs[self._active]

    def _active_target(self) -> Box:
        """The target being moved or resized (only placed pairs can be hit on the canvas)."""
        target = self._active_pair().target
        assert target is not None, "an active target was placed"
        return target

    def _hit_source(self, x: int, y: int) -> int | None:
        for index in range(len(self.pairs) - 1, -1, -1):
            if _contains(self.pairs[index].source, x, y):
                return index
        return None

    def _hit_target(self, x: int, y: int) -> int | None:
        for index in range(len(self.pairs) - 1, -1, -1):
            target = self.pairs[index].target
            if target is not None and _contains(target, x, y, margin=self.handle):
                return index
        return None

    def _centred(self, source: Box, x: int, y: int) -> Box:
        return self._clamped(Box(x - source.w // 2, y - source.h // 2, source.w, source.h))

    def _clamped(self, box: Box) -> Box:
        width, height = self.canvas_size
        w, h = min(box.w, width), min(box.h, height)
        return Box(min(max(box.x, 0), width - w), min(max(box.y, 0), height - h), w, h)


def _contains(box: Box, x: int, y: int, margin: float = 0) -> bool:
    return (
        box.x - margin <= x <= box.x + box.w + margin
        and box.y - margin <= y <= box.y + box.h + margin
    )


def _box_between(a: tuple[int, int], b: tuple[int, int], size: tuple[int, int]) -> Box:
    left, right = sorted((min(max(a[0], 0), size[0]), min(max(b[0], 0), size[0])))
    top, bottom = sorted((min(max(a[1], 0), size[1]), min(max(b[1], 0), size[1])))
    return Box(left, top, right - left, bottom - top)
