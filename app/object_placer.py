"""Placing an object for harmonisation, as a small state machine fed plain events (no Qt).

The user loads or pastes an object, drags it over the background, scales it (wheel, or its
bottom-right corner, keeping its proportions) and, where it has no alpha channel or a poor one,
paints or erases its mask with a round brush. Coordinates are background (canvas) pixels; the
mask lives at the object's own resolution, so scaling never blurs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.generation.compositing import paste_object
from core.requests import Box

Tool = Literal["move", "paint", "erase"]
HANDLE = 6
"""Canvas pixels around the object's bottom-right corner that grab it for scaling (`handle`'s
default; the widget makes it a few screen pixels on a large background)."""
MIN_SIDE = 4
KEEP_VISIBLE = 8
"""Canvas pixels of the object that always stay on the canvas, so it can be grabbed again."""
MAX_UNDO = 20


@dataclass
class ObjectPlacer:
    canvas_size: tuple[int, int]
    mask: np.ndarray
    """h×w bool at the object's resolution: True where the object is."""
    box: Box
    """Where the object lies on the canvas (it may reach past the edges)."""
    tool: Tool = "move"
    brush: int = 6
    """Brush radius in canvas pixels."""
    handle: float = HANDLE
    _mode: str = "idle"
    _anchor: tuple[int, int] = (0, 0)
    _undo: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def centred(cls, canvas_size: tuple[int, int], mask: np.ndarray) -> ObjectPlacer:
        """The object in the middle of the canvas, shrunk to half its size if it is larger."""
        width, height = canvas_size
        obj_h, obj_w = mask.shape
        scale = min(1.0, 0.5 * width / obj_w, 0.5 * height / obj_h)
        w, h = max(MIN_SIDE, round(obj_w * scale)), max(MIN_SIDE, round(obj_h * scale))
        return cls(canvas_size, mask.copy(), Box((width - w) // 2, (height - h) // 2, w, h))

    @property
    def object_size(self) -> tuple[int, int]:
        return self.mask.shape[1], self.mask.shape[0]

    @property
    def dragging(self) -> bool:
        return self._mode != "idle"

    # ------------------------------------------------------------------ events

    def press(self, x: int, y: int) -> None:
        self._anchor = (x, y)
        if self.tool in ("paint", "erase"):
            self._push_undo()
            self._mode = "paint"
            self._dab(x, y)
        elif self._near_corner(x, y):
            self._mode = "scale"
        elif _contains(self.box, x, y):
            self._mode = "move"

    def move(self, x: int, y: int) -> None:
        if self._mode == "move":
            dx, dy = x - self._anchor[0], y - self._anchor[1]
            self._anchor = (x, y)
            self.box = self._kept_visible(
                Box(self.box.x + dx, self.box.y + dy, self.box.w, self.box.h)
            )
        elif self._mode == "scale":
            self._resize(max(MIN_SIDE, x - self.box.x))
        elif self._mode == "paint":
            self._stroke(self._anchor, (x, y))
            self._anchor = (x, y)

    def release(self, x: int, y: int) -> None:
        self.move(x, y)
        self._mode = "idle"

    def scale_by(self, factor: float) -> None:
        """Scale about the object's centre (mouse wheel), at most 4× the canvas."""
        cx, cy = self.box.x + self.box.w / 2, self.box.y + self.box.h / 2
        width = round(self.box.w * factor)
        if width == self.box.w:
            width += 1 if factor > 1 else -1
        self._resize(width)
        self.box = self._kept_visible(
            Box(round(cx - self.box.w / 2), round(cy - self.box.h / 2), self.box.w, self.box.h)
        )

    # -------------------------------------------------------------------- mask

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the whole mask (from the alpha channel, or all of the object); undoable."""
        if mask.shape != self.mask.shape:
            raise ValueError(f"mask is {mask.shape}, the object {self.mask.shape}")
        self._push_undo()
        self.mask = mask.copy()

    def undo(self) -> bool:
        """Take back the last stroke or mask reset; False when there is nothing to undo."""
        if not self._undo:
            return False
        self.mask = self._undo.pop()
        return True

    def set_canvas_size(self, size: tuple[int, int]) -> None:
        self.canvas_size = size
        self.box = self._kept_visible(self.box)

    def compose(self, background: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(composite H×W×3 uint8, mask H×W uint8) for core.generation.editing."""
        return paste_object(background, obj, self.mask, self.box)

    # ----------------------------------------------------------------- helpers

    def _near_corner(self, x: int, y: int) -> bool:
        corner_x, corner_y = self.box.x + self.box.w, self.box.y + self.box.h
        return abs(x - corner_x) <= self.handle and abs(y - corner_y) <= self.handle

    def _resize(self, width: int) -> None:
        """New width in canvas pixels, height following the object's proportions."""
        obj_w, obj_h = self.object_size
        limit = 4 * max(self.canvas_size)
        width = min(max(MIN_SIDE, width), limit)
        height = max(MIN_SIDE, round(width * obj_h / obj_w))
        self.box = Box(self.box.x, self.box.y, width, height)

    def _kept_visible(self, box: Box) -> Box:
        width, height = self.canvas_size
        keep_x, keep_y = min(KEEP_VISIBLE, box.w), min(KEEP_VISIBLE, box.h)
        x = min(max(box.x, keep_x - box.w), width - keep_x)
        y = min(max(box.y, keep_y - box.h), height - keep_y)
        return Box(x, y, box.w, box.h)

    def _push_undo(self) -> None:
        self._undo.append(self.mask.copy())
        del self._undo[:-MAX_UNDO]

    def _stroke(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        """Dabs along the segment, closer than the brush radius, so fast drags leave no gaps."""
        distance = float(np.hypot(end[0] - start[0], end[1] - start[1]))
        count = max(1, int(distance / max(1.0, self.brush / 2)))
        for i in range(1, count + 1):
            self._dab(
                start[0] + (end[0] - start[0]) * i / count,
                start[1] + (end[1] - start[1]) * i / count,
            )

    def _dab(self, x: float, y: float) -> None:
        """Set (paint) or clear (erase) the mask in a disk of the brush radius around (x, y)."""
        obj_w, obj_h = self.object_size
        sx, sy = obj_w / self.box.w, obj_h / self.box.h  # object px per canvas px
        ox, oy = (x - self.box.x) * sx, (y - self.box.y) * sy
        rx, ry = max(0.5, self.brush * sx), max(0.5, self.brush * sy)
        # Only the disk's bounding box is touched: a stroke makes many dabs.
        left, right = max(0, int(ox - rx)), min(obj_w, int(ox + rx) + 1)
        top, bottom = max(0, int(oy - ry)), min(obj_h, int(oy + ry) + 1)
        if left >= right or top >= bottom:
            return
        cols = np.arange(left, right) + 0.5
        rows = np.arange(top, bottom) + 0.5
        inside = ((cols[None] - ox) / rx) ** 2 + ((rows[:, None] - oy) / ry) ** 2 <= 1.0
        self.mask[top:bottom, left:right][inside] = self.tool == "paint"


def _contains(box: Box, x: int, y: int) -> bool:
    return box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h
