"""Zoom and pan of one image in a viewport: pure geometry, no Qt, so it is easy to test.

Coordinates: the view's are device-independent pixels (DIP) from the viewport's top-left; the
image's are image pixels, pixel (i, j) covering [i, i + 1) × [j, j + 1). `zoom` is DIP per image
pixel; 1:1 (one image pixel per screen pixel) is 1 / dpr. Where the image lands is rounded to
whole device pixels, so that 1:1 is drawn pixel for pixel, and all mappings use that rounded
rectangle, so they agree with what is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STEP = 1.25
"""Zoom In / Zoom Out multiply or divide the zoom by this."""
MAX_ZOOM = 32.0
"""DIP per image pixel at most (unless fitting a tiny image needs more)."""
SAME_ASPECT = 0.03
"""A new image whose aspect ratio is within 3 % of the last one's is the same picture at
another scale (a run's next preview): the view keeps its place on it instead of refitting."""

Rect = tuple[float, float, float, float]
"""x, y, width, height."""


@dataclass
class ZoomState:
    """Fit to the view (the default) or a chosen zoom with the image point at the view's centre.

    `zoom_to` and friends leave Fit mode; `fit` returns to it."""

    image: tuple[int, int] = (1, 1)
    view: tuple[float, float] = (1.0, 1.0)
    dpr: float = 1.0
    fitting: bool = True
    chosen: float = 1.0
    """The zoom when not fitting."""
    centre: tuple[float, float] = (0.5, 0.5)
    """The image point (image px) at the view's centre when not fitting."""

    # ------------------------------------------------------------------ reading

    @property
    def fit_zoom(self) -> float:
        return max(1e-6, min(self.view[0] / self.image[0], self.view[1] / self.image[1]))

    @property
    def actual_zoom(self) -> float:
        """1:1, one image pixel per device pixel."""
        return 1.0 / self.dpr

    @property
    def zoom(self) -> float:
        return self.fit_zoom if self.fitting else self.chosen

    @property
    def percent(self) -> float:
        """Screen (device) pixels per image pixel, in per cent: 100 at 1:1."""
        return self.displayed_scale * self.dpr * 100

    @property
    def displayed_scale(self) -> float:
        """DIP per image pixel as drawn (the rounded rectangle's width over the image's)."""
        return self.image_rect()[2] / self.image[0]

    def limits(self) -> tuple[float, float]:
        """The smallest and largest zoom that zooming reaches: from the smaller of Fit and 1:1
        up to the larger of Fit and MAX_ZOOM."""
        fit = self.fit_zoom
        return min(fit, self.actual_zoom), max(fit, MAX_ZOOM)

    def image_rect(self) -> Rect:
        """Where the whole image is drawn, in view DIP, snapped to device pixels."""
        zoom = self.zoom
        width, height = self.image[0] * zoom, self.image[1] * zoom
        if self.fitting:
            x, y = (self.view[0] - width) / 2, (self.view[1] - height) / 2
        else:
            x = self.view[0] / 2 - self.centre[0] * zoom
            y = self.view[1] / 2 - self.centre[1] * zoom
        least = 1.0 / self.dpr  # one device pixel
        snap = self._snap
        return snap(x), snap(y), max(least, snap(width)), max(least, snap(height))

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """A view point -> image pixel coordinates (outside the image too)."""
        rx, ry, rw, rh = self.image_rect()
        return (x - rx) * self.image[0] / rw, (y - ry) * self.image[1] / rh

    def to_view(self, x: float, y: float) -> tuple[float, float]:
        """Image pixel coordinates -> a view point."""
        rx, ry, rw, rh = self.image_rect()
        return rx + x * rw / self.image[0], ry + y * rh / self.image[1]

    @property
    def can_pan(self) -> bool:
        """Whether the image is larger than the view in some direction."""
        _, _, width, height = self.image_rect()
        return width > self.view[0] + 0.5 or height > self.view[1] + 0.5

    # ------------------------------------------------------------------ changing

    def set_view(self, width: float, height: float, dpr: float) -> None:
        """The viewport's new size: Fit refits; a chosen zoom stays, its centre kept inside."""
        self.view, self.dpr = (max(1.0, width), max(1.0, height)), dpr
        self._clamp()

    def set_image(self, width: int, height: int) -> None:
        """A new image. Fit fits it; a chosen zoom keeps the view's place on the picture (its
        displayed size and centre, relative to the image) where the aspect ratio is the same,
        as for a run's previews growing scale by scale; another picture, or one that would be
        drawn smaller than both Fit and 1:1, is fitted."""
        old_w, old_h = self.image
        self.image = (max(1, width), max(1, height))
        if self.fitting or (old_w, old_h) == self.image:
            self._clamp()
            return
        if abs(math.log((width / height) / (old_w / old_h))) > SAME_ASPECT:
            self.fit()
            return
        ratio = width / old_w
        # The same displayed size, beyond the largest zoom if need be (a coarse preview shown as
        # large as the user zoomed the final image); but smaller than Fit and 1:1 is no view.
        self.chosen /= ratio
        if self.chosen < self.limits()[0]:
            self.fit()
            return
        self.centre = (self.centre[0] * ratio, self.centre[1] * height / old_h)
        self._clamp()

    def fit(self) -> None:
        self.fitting = True
        self.centre = (self.image[0] / 2, self.image[1] / 2)

    def zoom_to(self, zoom: float, anchor: tuple[float, float] | None = None) -> None:
        """Zoom to `zoom` keeping the image point under `anchor` (a view point; the view's centre
        if None) where it is."""
        ax, ay = anchor if anchor is not None else (self.view[0] / 2, self.view[1] / 2)
        ix, iy = self.to_image(ax, ay)
        self.fitting, self.chosen = False, zoom
        self.centre = (ix + (self.view[0] / 2 - ax) / zoom, iy + (self.view[1] / 2 - ay) / zoom)
        if abs(zoom / self.fit_zoom - 1) < 1e-6:
            self.fit()  # zoomed back to Fit: later images are fitted again
        self._clamp()

    def zoom_by(self, factor: float, anchor: tuple[float, float] | None = None) -> None:
        """Multiply the zoom by `factor` within `limits()`, stopping at 1:1 and at Fit when it
        passes them (so the steps land on them)."""
        current = self.zoom
        low, high = self.limits()
        # Never backwards from a zoom already past a limit (one kept across a size change).
        target = min(max(current * factor, min(low, current)), max(high, current))
        passed = [
            mark
            for mark in (self.actual_zoom, self.fit_zoom)
            if min(current, target) * 1.0001 < mark < max(current, target) / 1.0001
        ]
        if passed:
            target = min(passed, key=lambda mark: abs(math.log(mark / current)))
        self.zoom_to(target, anchor)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) view DIP, as far as it can go."""
        if self.fitting:
            return
        zoom = self.chosen
        self.centre = (self.centre[0] - dx / zoom, self.centre[1] - dy / zoom)
        self._clamp()

    def _clamp(self) -> None:
        """Keep the view covered where the image is larger than it, centred where smaller."""
        if self.fitting:
            self.centre = (self.image[0] / 2, self.image[1] / 2)
            return
        self.centre = tuple(  # type: ignore[assignment]
            _clamp_axis(c, size, view, self.chosen)
            for c, size, view in zip(self.centre, self.image, self.view, strict=True)
        )

    def _snap(self, value: float) -> float:
        return round(value * self.dpr) / self.dpr


def _clamp_axis(centre: float, size: int, view: float, zoom: float) -> float:
    half = view / 2 / zoom  # half the view, in image pixels
    if 2 * half >= size:
        return size / 2
    return min(max(centre, half), size - half)
