import numpy as np
import pytest
from PIL import Image

from core.errors import ImageTooSmallError
from core.method.pyramid import build_pyramid, capped_size, pyramid_geometry, rescale_loss
from core.method.schedule import make_schedule


def test_geometry_of_250x200_matches_reference():
    sizes, r = pyramid_geometry(250, 200)
    assert sizes == [(63, 50), (88, 71), (125, 100), (177, 141), (250, 200)]
    assert r == pytest.approx(1.4142, abs=1e-4)


@pytest.mark.parametrize(
    ("size", "num_scales", "factor"),
    [((298, 167), 5, 1.4121), ((248, 186), 5, 1.4030), ((294, 169), 5, 1.4163)],
)
def test_geometry_refits_factor_as_reference(size, num_scales, factor):
    sizes, r = pyramid_geometry(*size)
    assert len(sizes) == num_scales
    assert r == pytest.approx(factor, abs=1e-4)
    assert sizes[-1] == size


def test_spec_rescale_losses_give_reference_start_steps():
    # Measured L_s of the reference on its synthetic 250×200 image (docs/method.md §1 table).
    schedule = make_schedule([0.0, 1.156, 0.819, 0.576, 0.409])
    assert schedule.start_steps == (100, 54, 43, 32, 24)
    balloons = make_schedule([0.0, 1.087, 0.777, 0.545, 0.387])
    assert balloons.start_steps == (100, 52, 41, 31, 22)


def test_demo_image_pyramid_matches_issue(demo_image):
    pyramid = build_pyramid(demo_image)
    assert pyramid.sizes == ((64, 48), (91, 68), (129, 96), (182, 136), (258, 193))
    assert make_schedule(pyramid.rescale_losses).start_steps == (100, 54, 43, 33, 24)
    assert pyramid.was_capped and pyramid.source_size == (267, 200)


def test_rescale_loss_wraps_negative_differences_like_uint8():
    sharp = np.zeros((1, 1, 3), np.uint8)
    blurry = np.full((1, 1, 3), 3, np.uint8)
    # 0 − 3 wraps to 253 in each channel: ||(253, 253, 253)|| / 3.
    assert rescale_loss(sharp, blurry) == pytest.approx(np.sqrt(3 * 253**2) / 3)
    assert rescale_loss(blurry, sharp) == pytest.approx(np.sqrt(3 * 3**2) / 3)


def test_levels_are_lanczos_from_original_and_blurry_is_bilinear(tiny_image):
    pyramid = build_pyramid(tiny_image)
    assert pyramid.sizes == ((64, 48), (96, 72))
    coarse = np.asarray(tiny_image.resize((64, 48), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(pyramid.sharp[0], coarse)
    up = np.asarray(Image.fromarray(coarse).resize((96, 72), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(pyramid.blurry[1], up)
    np.testing.assert_array_equal(pyramid.blurry[0], pyramid.sharp[0])


def test_pixel_cap_truncates_and_is_a_parameter(demo_image):
    assert capped_size(267, 200, 50_000) == (258, 193)
    assert capped_size(100, 80, 50_000) == (100, 80)
    small = build_pyramid(demo_image, max_pixels=20_000)
    assert small.sizes[-1] == capped_size(267, 200, 20_000)
    assert small.was_capped


def test_too_small_and_too_elongated_images_are_refused():
    with pytest.raises(ImageTooSmallError, match="at least 42"):
        build_pyramid(Image.new("RGB", (30, 30)))
    with pytest.raises(ImageTooSmallError, match="short side"):
        build_pyramid(Image.new("RGB", (5000, 50)))  # the cap shrinks it to 2236×22


def test_image_just_above_minimum_is_single_scale():
    pyramid = build_pyramid(Image.new("RGB", (50, 50), (9, 9, 9)))
    assert pyramid.sizes == ((50, 50),)
    assert make_schedule(pyramid.rescale_losses).start_steps == (100,)


def test_a_long_thin_image_is_refused_with_its_own_size():
    """Opening (Instant, the app) names the photo's size and the cause, not the shrunk size."""
    with pytest.raises(ImageTooSmallError, match="20000×20 pixels; SinDDM needs at least 42"):
        build_pyramid(Image.new("RGB", (20000, 20)))
    with pytest.raises(ImageTooSmallError, match="5000×60 pixels, too long and thin"):
        build_pyramid(Image.new("RGB", (5000, 60)))
