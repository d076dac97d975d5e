"""The main image view: zoom, pan and smooth drawing, checked on grabbed pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.widgets.canvas import ImageCanvas


@pytest.fixture
def canvas(qtbot):
    view = ImageCanvas()
    view.resize(800, 560)  # the area for the image: 776×512 at (12, 12)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def _noise(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _grab(view: ImageCanvas) -> np.ndarray:
    """The widget as drawn, H×W×3, one entry per device pixel."""
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, stride * height).reshape(height, stride)
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def _drawn_region(view: ImageCanvas, image_size: tuple[int, int]) -> np.ndarray:
    """The grabbed pixels inside where the image is drawn, less a pixel at each edge."""
    dpr = view.devicePixelRatioF()
    top_left = view.image_to_view(0, 0)
    bottom_right = view.image_to_view(*image_size)
    x0, y0 = int(top_left.x() * dpr) + 1, int(top_left.y() * dpr) + 1
    x1, y1 = int(bottom_right.x() * dpr) - 1, int(bottom_right.y() * dpr) - 1
    return _grab(view)[y0:y1, x0:x1].astype(float)


def _wheel(view: ImageCanvas, at: QPointF, notches: int) -> None:
    event = QWheelEvent(
        at,
        view.mapToGlobal(at),
        QPoint(),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)


def _drag(view: ImageCanvas, start: QPointF, end: QPointF, button=Qt.MouseButton.LeftButton):
    none = Qt.MouseButton.NoButton
    for kind, at, pressed, held in (
        (QEvent.Type.MouseButtonPress, start, button, button),
        (QEvent.Type.MouseMove, (start + end) / 2, none, button),
        (QEvent.Type.MouseMove, end, none, button),
        (QEvent.Type.MouseButtonRelease, end, button, none),
    ):
        modifiers = Qt.KeyboardModifier.NoModifier
        event = QMouseEvent(kind, at, view.mapToGlobal(at), pressed, held, modifiers)
        QApplication.sendEvent(view, event)


def test_fit_shows_a_large_image_whole_and_smaller_than_1_to_1(canvas):
    canvas.set_image(_noise(2000, 1500), "Seed 1")
    assert canvas.fitting and canvas.zoom == pytest.approx(512 / 1500, abs=0.002)
    assert canvas.zoom < 1 / canvas.devicePixelRatioF()
    assert canvas.view_to_image(QPointF(400, 268)) is not None
    assert canvas.view_to_image(QPointF(5, 5)) is None, "the margin is off the image"
    percent = round(canvas.zoom * canvas.devicePixelRatioF() * 100)  # screen pixels: 34 at dpr 1
    assert canvas.drawn_caption == f"Seed 1 · {percent} %"
    assert canvas.caption == "Seed 1", "the caption itself stays as given"


def test_actual_size_draws_one_image_pixel_per_screen_pixel(canvas):
    image = _noise(2000, 1500)
    canvas.set_image(image)
    canvas.actual_size()
    dpr = canvas.devicePixelRatioF()
    assert canvas.zoom == pytest.approx(1 / dpr) and not canvas.fitting
    assert canvas.drawn_caption == "100 %"
    corner = canvas.image_to_view(900, 600)
    x, y = round(corner.x() * dpr), round(corner.y() * dpr)
    assert np.array_equal(_grab(canvas)[y : y + 100, x : x + 150], image[600:700, 900:1050])


def test_wheel_zoom_keeps_the_image_point_under_the_cursor(canvas):
    canvas.set_image(_noise(2000, 1500))
    cursor = QPointF(300.0, 200.0)
    for notches in (1, 1, 2, -1, 3):
        before = canvas.zoom
        point = canvas.view_to_image(cursor)
        _wheel(canvas, cursor, notches)
        assert canvas.zoom > before if notches > 0 else canvas.zoom < before
        after = canvas.image_to_view(*point)
        assert abs(after.x() - cursor.x()) <= 1 and abs(after.y() - cursor.y()) <= 1


def test_zoom_steps_reach_1_to_1_and_fit_again(canvas):
    canvas.set_image(_noise(2000, 1500))
    zooms = []
    for _ in range(8):
        canvas.zoom_in()
        zooms.append(canvas.zoom)
    assert 1 / canvas.devicePixelRatioF() in zooms and zooms == sorted(zooms)
    canvas.fit_to_window()
    assert canvas.fitting and canvas.zoom == pytest.approx(512 / 1500, abs=0.002)


def test_panning_is_clamped_to_the_image(canvas):
    canvas.set_image(_noise(2000, 1500))
    canvas.actual_size()
    _drag(canvas, QPointF(400, 300), QPointF(5000, 5000))
    assert canvas.image_to_view(0, 0) == QPointF(12, 12), "the top-left corner at most"
    _drag(canvas, QPointF(400, 300), QPointF(-5000, -5000), Qt.MouseButton.MiddleButton)
    assert canvas.image_to_view(2000, 1500) == QPointF(788, 524), "the bottom-right at most"
    _drag(canvas, QPointF(400, 300), QPointF(450, 320))
    assert canvas.image_to_view(2000, 1500) == QPointF(838, 544), "dragged along"


def test_a_fitted_image_does_not_pan(canvas):
    canvas.set_image(_noise(2000, 1500))
    before = canvas.image_to_view(0, 0)
    _drag(canvas, QPointF(400, 300), QPointF(600, 400))
    assert canvas.image_to_view(0, 0) == before and canvas.fitting


def test_view_to_image_round_trips_at_any_zoom_and_pan(canvas):
    canvas.set_image(_noise(2000, 1500))
    points = [QPointF(x, y) for x in (20.5, 133.0, 400.0, 777.25) for y in (30.0, 260.5, 500.0)]
    for step in ("fit", "in", "in", "pan", "in", "pan"):
        if step == "in":
            canvas.zoom_in()
        elif step == "pan":
            _drag(canvas, QPointF(400, 300), QPointF(350, 280))
        for point in points:
            image_point = canvas.view_to_image(point)
            if image_point is None:
                continue
            x, y = image_point
            assert 0 <= x < 2000 and 0 <= y < 1500
            back = canvas.image_to_view(x, y)
            assert back.x() == pytest.approx(point.x()) and back.y() == pytest.approx(point.y())


def test_a_small_image_enlarged_is_drawn_smoothly(canvas):
    image = np.zeros((12, 16, 3), np.uint8)
    image[:, 8:] = 255  # one sharp edge down the middle
    canvas.set_image(image)
    assert canvas.zoom > 30
    row = _drawn_region(canvas, (16, 12))[100, :, 0]
    assert len(np.unique(row)) > 20, "nearest-neighbour drawing gives only black and white"


def test_a_fine_checkerboard_shrunk_to_fit_is_grey_not_moire(canvas):
    yy, xx = np.mgrid[0:1500, 0:2000]
    board = np.repeat((((xx + yy) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    canvas.set_image(board)
    drawn = _drawn_region(canvas, (2000, 1500))
    assert drawn.mean() == pytest.approx(127.5, abs=3)
    assert drawn.std() < 15, "plain bilinear sampling leaves a moiré (a deviation over 40)"


def test_an_image_of_a_new_size_is_fitted_in_fit_mode(canvas):
    for width, height in ((2000, 1500), (64, 48), (3000, 1000)):
        canvas.set_image(_noise(width, height))
        assert canvas.fitting
        assert canvas.zoom == pytest.approx(min(776 / width, 512 / height), rel=0.01)


def test_a_chosen_zoom_follows_growing_previews_of_the_same_picture(canvas):
    canvas.set_image(_noise(2000, 1500))
    canvas.actual_size()
    _drag(canvas, QPointF(400, 300), QPointF(300, 250))
    centre = canvas.view_to_image(QPointF(400, 268))
    canvas.set_image(_noise(64, 48))  # a run's first, coarsest preview
    one_to_one = 1 / canvas.devicePixelRatioF()
    assert canvas.zoom == pytest.approx(one_to_one * 2000 / 64), "as large as the final image"
    canvas.set_image(_noise(2000, 1500))
    assert canvas.zoom == pytest.approx(one_to_one)
    assert canvas.view_to_image(QPointF(400, 268)) == pytest.approx(centre, abs=1)
    canvas.set_image(_noise(500, 800))  # another picture
    assert canvas.fitting


def test_comparing_fits_both_panes_and_ignores_zoom(canvas):
    canvas.set_image(_noise(2000, 1500), "Seed 2")
    canvas.set_reference(_noise(1000, 750))
    canvas.zoom_in()
    canvas.set_comparing(True)
    fitted = canvas.zoom
    assert fitted == pytest.approx(382 / 2000, abs=0.002), "a pane is (776 - 12) / 2 wide"
    percent = round(fitted * canvas.devicePixelRatioF() * 100)  # 19 at dpr 1
    assert canvas.drawn_caption == f"Training image  |  Seed 2 · {percent} %"
    canvas.zoom_in()
    _wheel(canvas, QPointF(600, 200), 2)
    assert canvas.zoom == fitted
    assert canvas.view_to_image(QPointF(200, 268)) is None, "the training image's pane"
    assert canvas.view_to_image(QPointF(600, 268)) is not None
    canvas.set_comparing(False)
    assert not canvas.fitting and canvas.zoom > fitted, "the chosen zoom is back"


def test_the_guided_region_is_drawn_over_the_image_at_any_zoom(canvas):
    canvas.set_image(np.zeros((150, 200, 3), np.uint8), "", np.ones((15, 20)))
    for _ in range(3):
        canvas.zoom_in()
        red, green, blue = _grab(canvas)[280, 400].astype(int)
        assert red > green > blue and red > 60, "amber over black"
    canvas.set_showing_guided(False)
    assert _grab(canvas)[280, 400].max() == 0


def test_view_menu_zooms_the_canvas(window):
    actions = {a.text(): a for a in window.menuBar().actions()}
    view = {a.text(): a for a in actions["&View"].menu().actions()}
    shortcuts = {text: [s.toString() for s in a.shortcuts()] for text, a in view.items()}
    assert shortcuts["Fit to Window"] == ["Ctrl+0"] and shortcuts["Zoom Out"] == ["Ctrl+-"]
    assert shortcuts["Actual Size (1:1)"] == ["Ctrl+1"]
    assert shortcuts["Zoom In"] == ["Ctrl++", "Ctrl+="]
    canvas = window.canvas
    canvas.set_image(_noise(3000, 2000))
    view["Actual Size (1:1)"].trigger()
    assert canvas.zoom == pytest.approx(1 / canvas.devicePixelRatioF())
    view["Zoom In"].trigger()
    assert canvas.zoom == pytest.approx(1.25 / canvas.devicePixelRatioF())
    view["Zoom Out"].trigger()
    view["Zoom Out"].trigger()
    assert canvas.zoom == pytest.approx(0.8 / canvas.devicePixelRatioF())
    view["Fit to Window"].trigger()
    assert canvas.fitting
