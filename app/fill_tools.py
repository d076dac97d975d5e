"""Heal, extend, tile and mirror (issue 21) as the app builds them: plain data and numpy, no Qt.

`HealMask` is the painted mask of the area to heal (brush, eraser, box; undo), at the photo's
resolution. `request_for` makes the GenerationRequest a run asks for: heal and extend take
their canvas from the photo and the edit, so they send no size. `repeated` lays a tiled image
side by side for the canvas's repeat preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from app.object_placer import ObjectPlacer
from core.requests import (
    Box,
    Edit,
    ExtendEdit,
    GenerationRequest,
    HealEdit,
    SamplingOptions,
)

MaskTool = Literal["paint", "erase", "box"]
TILE_CHOICES = (("Off", None), ("Horizontal", "x"), ("Vertical", "y"), ("Both", "both"))
"""The Tile box's entries: what the user reads, what core.requests.GenerationRequest takes."""
MIRROR_CHOICES = (("Off", None), ("Left–right", "x"), ("Top–bottom", "y"))
ANCHOR_GRID = (
    ("top-left", "top", "top-right"),
    ("left", "center", "right"),
    ("bottom-left", "bottom", "bottom-right"),
)
"""core.requests.ANCHORS as laid out on the 3×3 anchor chooser (row by row)."""
EXTEND_FACTOR = 1.5
"""Extend's first canvas: the photo's width times this, its height as it is."""
MAX_REPEAT_PIXELS = 4096 * 4096
"""The repeat preview shrinks a tile first where the repeated image would be larger."""


def mirror_allowed(tile: str | None, mirror: str | None) -> bool:
    """Whether core accepts the pair: a tile and a mirror never act on the same axis."""
    return mirror is None or tile not in ("both", mirror)


def repeats(tile: str | None) -> tuple[int, int]:
    """(rows, columns) of the repeat preview: two copies along every tiled axis."""
    return (2 if tile in ("y", "both") else 1), (2 if tile in ("x", "both") else 1)


def repeated(image: np.ndarray, tile: str | None) -> np.ndarray:
    """`image` (H×W×C, or H×W) laid out `repeats(tile)` times; shrunk first where that would
    pass MAX_REPEAT_PIXELS (it is only looked at)."""
    rows, cols = repeats(tile)
    height, width = image.shape[:2]
    scale = (MAX_REPEAT_PIXELS / (rows * cols * height * width)) ** 0.5
    if scale < 1 and image.dtype == np.uint8:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
    reps = (rows, cols) + (1,) * (image.ndim - 2)
    return np.tile(image, reps)


def anchored(canvas: tuple[int, int], photo: tuple[int, int], anchor: str) -> tuple[int, int]:
    """(left, top) of a `photo` (W, H) on a `canvas` (W, H) at `anchor`, as core places it."""
    column = next(row.index(anchor) for row in ANCHOR_GRID if anchor in row)
    row = next(i for i, names in enumerate(ANCHOR_GRID) if anchor in names)
    return round((canvas[0] - photo[0]) * column / 2), round((canvas[1] - photo[1]) * row / 2)


def extend_default(own: tuple[int, int]) -> tuple[int, int]:
    """The canvas Extend offers first: EXTEND_FACTOR × the photo's width."""
    return round(own[0] * EXTEND_FACTOR), own[1]


def extend_problem(size: tuple[int, int], own: tuple[int, int]) -> str | None:
    """Why core would refuse extend's canvas `size` for a photo of `own` pixels, or None."""
    if size[0] < own[0] or size[1] < own[1]:
        return f"The canvas must be at least the photo's size, {own[0]}×{own[1]}."
    if size == own:
        return "The canvas is the photo's own size: make it wider or taller to add around it."
    return None


def request_for(
    size: tuple[int, int],
    count: int,
    seed: int,
    options: SamplingOptions | None,
    edit: Edit | None,
    tile: str | None = None,
    mirror: str | None = None,
) -> GenerationRequest:
    """What a run asks for (one batch: the engine splits it where detail scales follow). Heal
    keeps the photo's size and extend takes its canvas from the edit: neither gets `size`.
    Raises core.errors.ConfigError for what core refuses (a tile and a mirror on one axis)."""
    own_canvas = isinstance(edit, HealEdit | ExtendEdit)
    return GenerationRequest(
        count=count,
        seed=seed,
        size=None if own_canvas else size,
        options=options,
        edit=edit,
        batch=count,
        tile=tile,
        mirror=mirror,
    )


def made_size(request: GenerationRequest, photo: tuple[int, int]) -> tuple[int, int]:
    """The size a run's images come back at, for the status line: the photo's for heal,
    extend's canvas (in the photo's own pixels), the request's size otherwise."""
    if isinstance(request.edit, HealEdit):
        return photo
    if isinstance(request.edit, ExtendEdit):
        return request.edit.size
    return request.size or photo


@dataclass
class HealMask:
    """The area to heal on a photo of `size` (W, H): painted with a round brush, erased, or
    filled by a dragged box; every stroke or box can be taken back. The brush is
    app.object_placer.ObjectPlacer's, over the photo as its whole canvas."""

    size: tuple[int, int]
    tool: MaskTool = "paint"
    brush: int = 6
    box: Box | None = None
    """The box being dragged (photo pixels), None when not dragging one."""
    _placer: ObjectPlacer = field(init=False, repr=False)
    _from: tuple[int, int] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        width, height = self.size
        empty = np.zeros((height, width), bool)
        self._placer = ObjectPlacer(self.size, empty, Box(0, 0, width, height), tool="paint")

    @property
    def mask(self) -> np.ndarray:
        """H×W bool: True where the photo is to be filled."""
        return self._placer.mask

    @property
    def dragging(self) -> bool:
        return self._from is not None

    def image(self) -> np.ndarray:
        """The mask as core takes it: H×W uint8, 255 where to fill."""
        return np.where(self.mask, 255, 0).astype(np.uint8)

    def press(self, x: int, y: int) -> None:
        self._from = (x, y)
        if self.tool == "box":
            self.box = Box(x, y, 0, 0)
            return
        self._placer.tool, self._placer.brush = self.tool, self.brush
        self._placer.press(x, y)

    def move(self, x: int, y: int) -> None:
        if self._from is None:
            return
        if self.tool == "box":
            self.box = _box_between(self._from, (x, y), self.size)
        else:
            self._placer.move(x, y)

    def release(self, x: int, y: int) -> None:
        if self._from is None:
            return
        self.move(x, y)
        if self.tool == "box" and self.box is not None and self.box.w and self.box.h:
            filled = self.mask.copy()
            filled[self.box.y : self.box.y + self.box.h, self.box.x : self.box.x + self.box.w] = 1
            self._placer.set_mask(filled)
        elif self.tool != "box":
            self._placer.release(x, y)
        self.box, self._from = None, None

    def clear(self) -> None:
        """Nothing to heal (undoable)."""
        if self.mask.any():
            self._placer.set_mask(np.zeros_like(self.mask))

    def undo(self) -> bool:
        """Take back the last stroke, box or clearing; False when there is nothing to undo."""
        return self._placer.undo()


def _box_between(a: tuple[int, int], b: tuple[int, int], size: tuple[int, int]) -> Box:
    """The box spanned by two corners, kept on the photo."""
    left, right = sorted((min(max(a[0], 0), size[0]), min(max(b[0], 0), size[0])))
    top, bottom = sorted((min(max(a[1], 0), size[1]), min(max(b[1], 0), size[1])))
    return Box(left, top, right - left, bottom - top)
