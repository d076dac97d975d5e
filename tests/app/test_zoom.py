"""ZoomState: the canvas's zoom and pan geometry, without widgets."""

from __future__ import annotations

import pytest

from app.widgets.zoom import MAX_ZOOM, STEP, ZoomState


def _state(image=(2000, 1500), view=(800.0, 500.0), dpr=1.0) -> ZoomState:
    state = ZoomState()
    state.set_view(*view, dpr)
    state.set_image(*image)
    return state


def test_fit_centres_the_whole_image():
    state = _state()
    assert state.fitting and state.zoom == pytest.approx(500 / 1500)
    x, y, width, height = state.image_rect()
    assert y == 0 and height == 500 and x == pytest.approx((800 - width) / 2, abs=0.5)
    assert not state.can_pan


def test_actual_size_follows_the_device_pixel_ratio():
    state = _state(dpr=2.0)
    state.zoom_to(state.actual_zoom)
    assert state.zoom == 0.5 and state.percent == pytest.approx(100)
    x, y, width, height = state.image_rect()
    assert (width, height) == (1000, 750), "one image pixel per device pixel"
    assert (x * 2, y * 2) == (round(x * 2), round(y * 2)), "on the device pixel grid"


def test_zoom_keeps_the_anchor_and_steps_land_on_1_to_1():
    state = _state()
    anchor = (350.0, 200.0)  # near the centre: the clamp to the edges does not move it
    zooms = []
    for _ in range(6):
        point = state.to_image(*anchor)
        state.zoom_by(STEP, anchor)
        zooms.append(state.zoom)
        assert state.to_view(*point) == pytest.approx(anchor, abs=1.0)
    assert 1.0 in zooms


def test_zoom_stays_within_its_limits_and_out_returns_to_fit():
    state = _state()
    for _ in range(40):
        state.zoom_by(STEP)
    assert state.zoom == MAX_ZOOM
    for _ in range(40):
        state.zoom_by(1 / STEP)
    assert state.fitting, "zoomed all the way out is Fit again"
    tiny = _state(image=(64, 48))
    for _ in range(40):
        tiny.zoom_by(1 / STEP)
    assert tiny.zoom == tiny.actual_zoom, "a tiny image zooms out down to 1:1"


def test_pan_is_clamped_to_the_image():
    state = _state()
    state.zoom_to(1.0)
    state.pan_by(10_000, 10_000)
    assert state.to_view(0, 0) == (0, 0)
    state.pan_by(-10_000, -10_000)
    assert state.to_view(2000, 1500) == (800, 500)
    state.fit()
    state.pan_by(50, 50)
    assert state.fitting and state.to_view(0, 0)[1] == 0, "a fitted image does not move"


def test_a_smaller_view_of_the_same_picture_keeps_the_place_another_picture_is_fitted():
    state = _state()
    state.zoom_to(1.0, (100.0, 100.0))
    shown_width, centre = state.image_rect()[2], state.to_image(400, 250)
    state.set_image(500, 375)  # a coarse preview of the same picture
    assert state.image_rect()[2] == shown_width
    assert state.to_image(400, 250) == pytest.approx((centre[0] / 4, centre[1] / 4), abs=0.5)
    state.set_image(2000, 1500)
    assert state.zoom == 1.0 and state.to_image(400, 250) == pytest.approx(centre, abs=1)
    state.set_image(1000, 1000)  # another aspect ratio: another picture
    assert state.fitting


def test_a_new_size_in_fit_mode_is_fitted():
    state = _state()
    state.set_image(64, 48)
    assert state.fitting and state.zoom == pytest.approx(500 / 48)


def test_a_new_size_drawn_smaller_than_fit_and_1_to_1_is_fitted():
    state = _state(image=(64, 48))
    state.zoom_to(2.0)  # below Fit (about 10), above 1:1
    state.set_image(3200, 2400)  # 128 DIP wide: smaller than both
    assert state.fitting
