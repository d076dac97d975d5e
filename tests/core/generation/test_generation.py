"""The generation plan: one request type, one loop, the same images as the sampler alone."""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from core.denoisers.protocol import DiffusionModel
from core.errors import ConfigError, ImageLoadError
from core.generation.editing import Box
from core.generation.plan import (
    FAST_SAMPLING,
    GenerationRequest,
    HarmonizeEdit,
    RegionsEdit,
    SamplingOptions,
    StyleTransferEdit,
    TextEdit,
    plan,
)
from core.generation.run import (
    GeneratedImages,
    GenerationStep,
    generate,
    generate_images,
    guided_region,
    preview_of,
)
from core.generation.sampling import sample
from core.method.tensors import tensor_to_images
from tests.conftest import assert_same_image


def test_trained_model_is_a_diffusion_model(tiny_model):
    assert isinstance(tiny_model, DiffusionModel)
    assert tiny_model.kind == "trained"
    assert tiny_model.parameters == sum(p.numel() for p in tiny_model.net.parameters())


def test_options_and_requests_refuse_bad_values():
    with pytest.raises(ConfigError, match="stride"):
        SamplingOptions(fine_stride=0)
    with pytest.raises(ConfigError, match="omega"):
        SamplingOptions(omega=2.0)
    with pytest.raises(ConfigError, match="at least 1"):
        GenerationRequest(count=0)
    with pytest.raises(ConfigError, match="batch"):
        GenerationRequest(batch=0)


def test_batches_give_the_images_of_one_run(tiny_model):
    """Three images in batches of 2 equal the sampler's three at once, seed by seed."""
    request = GenerationRequest(count=3, seed=5, size=(80, 72), batch=2)
    images = generate_images(tiny_model, plan(tiny_model, request))
    expected = tensor_to_images(sample(tiny_model, count=3, seed=5, size=(80, 72)))
    assert len(images) == 3
    for got, want in zip(images, expected, strict=True):
        assert_same_image(got, want)


def test_progress_counts_work_over_the_whole_request(tiny_model):
    request = GenerationRequest(count=2, seed=0, batch=1, options=FAST_SAMPLING)
    the_plan = plan(tiny_model, request)
    events = list(generate(tiny_model, the_plan))
    steps = [e for e in events if isinstance(e, GenerationStep)]
    batches = [e for e in events if isinstance(e, GeneratedImages)]
    assert [b.seeds for b in batches] == [(0,), (1,)]
    assert steps[-1].work_done == pytest.approx(steps[-1].work_total)
    assert all(a.work_done < b.work_done for a, b in itertools.pairwise(steps))
    assert steps[-1].final and preview_of(the_plan, steps[-1]).dtype == np.uint8
    assert "stride 2" in the_plan.settings(torch.device("cpu"))["fast sampling"]


def test_multipliers_give_the_canvas(tiny_model):
    the_plan = plan(tiny_model, GenerationRequest(multipliers=(2.0, 1.0)))
    assert the_plan.size == (192, 72)


def test_regions_edit_checks_boxes_at_plan_time(tiny_model):
    good = RegionsEdit(((Box(0, 0, 20, 20), Box(50, 10, 20, 20)),), strength=0.8)
    the_plan = plan(tiny_model, GenerationRequest(edit=good, size=(96, 72)))
    assert len(the_plan.make_guidance()) == 1
    assert the_plan.settings(torch.device("cpu"))["edit"] == "regions"
    bad = RegionsEdit(((Box(0, 0, 20, 20), Box(90, 10, 20, 20)),))
    with pytest.raises(ConfigError, match="does not fit"):
        plan(tiny_model, GenerationRequest(edit=bad, size=(96, 72)))


def test_style_transfer_takes_its_size_from_the_content(tiny_model):
    content = Image.new("RGB", (80, 60), (200, 30, 30))
    edit = StyleTransferEdit(content, "red.png", start_step=5)
    the_plan = plan(tiny_model, GenerationRequest(edit=edit, size=(300, 300)))
    assert the_plan.size == (80, 60)
    assert the_plan.injection is not None and the_plan.injection.start_step == 5
    assert the_plan.settings(torch.device("cpu")) == {
        "edit": "style-transfer",
        "image": "red.png",
        "t": 5,
        "resolution": "80×60",
        "max pixels": 4_000_000,
    }


def test_harmonize_blends_outside_the_mask(tiny_model):
    composite = Image.new("RGB", (96, 72), (0, 0, 255))
    mask = Image.new("L", (96, 72), 0)
    mask.paste(255, (44, 32, 52, 40))
    the_plan = plan(tiny_model, GenerationRequest(edit=HarmonizeEdit(composite, mask)))
    (image,) = generate_images(tiny_model, the_plan)
    far_corner = image[:6, :6]  # beyond the soft mask's reach: the composite, untouched
    np.testing.assert_array_equal(far_corner, np.broadcast_to([0, 0, 255], far_corner.shape))


def test_text_edit_uses_the_given_clip_loader(tiny_model, tiny_clip):
    loaded = []

    def loader(name, weights, device):
        loaded.append((name, weights))
        return tiny_clip

    edit = TextEdit("fire", clip_weights="local.pt", views=2)
    the_plan = plan(tiny_model, GenerationRequest(edit=edit), clip_loader=loader)
    assert loaded == [("ViT-B-32", "local.pt")] and not the_plan.reblur
    events = list(generate(tiny_model, the_plan))
    steps = [e for e in events if isinstance(e, GenerationStep)]
    assert guided_region(steps[-1].guidance) is not None


def test_text_edit_refuses_an_empty_prompt_before_loading_clip(tiny_model):
    def loader(*_):
        raise AssertionError("CLIP must not load for a bad request")

    with pytest.raises(ConfigError, match="prompt"):
        plan(tiny_model, GenerationRequest(edit=TextEdit("  ")), clip_loader=loader)
    with pytest.raises(ConfigError, match="mode"):
        plan(tiny_model, GenerationRequest(edit=TextEdit("x", mode="poster")), loader)


def test_requests_are_plain_data_without_torch():
    """A GUI builds requests on its own thread: the module must not pull in torch or PIL."""
    import subprocess
    import sys

    code = "import sys, core.requests; sys.exit(('torch' in sys.modules) + ('PIL' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_edits_take_image_files_and_arrays(tiny_model, tmp_path):
    path = tmp_path / "content.png"
    Image.new("RGB", (80, 60), (10, 200, 10)).save(path)
    from_file = plan(tiny_model, GenerationRequest(edit=StyleTransferEdit(path, "content.png")))
    pixels = np.zeros((60, 80, 3), np.uint8)
    from_array = plan(tiny_model, GenerationRequest(edit=StyleTransferEdit(pixels)))
    assert from_file.size == from_array.size == (80, 60)
    with pytest.raises(ImageLoadError, match="No file at"):
        plan(tiny_model, GenerationRequest(edit=StyleTransferEdit(tmp_path / "missing.png")))


@pytest.mark.parametrize("scale, step, match", [(2, 5, "scale must lie in 0..1"), (-1, 5, "0..1")])
def test_injection_outside_the_model_is_refused_at_plan_time(tiny_model, scale, step, match):
    """--at-scale 99 once raised an IndexError while the progress bar was drawn."""
    edit = StyleTransferEdit(Image.new("RGB", (80, 60)), "c.png", start_step=step, scale=scale)
    with pytest.raises(ConfigError, match=match):
        plan(tiny_model, GenerationRequest(edit=edit))


def test_start_step_zero_generates_the_full_size(tiny_model):
    options = SamplingOptions(start_steps=(0,))
    the_plan = plan(tiny_model, GenerationRequest(options=options, size=(120, 72)))
    events = list(generate(tiny_model, the_plan))
    assert events[-1].images[0].shape == (72, 120, 3)
    assert events[-2].work_done == pytest.approx(events[-2].work_total)
