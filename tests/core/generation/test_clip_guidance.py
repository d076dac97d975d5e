"""CLIP guidance mechanics with a tiny random-weight open_clip model (tests never download)."""

import pytest
import torch

from core.errors import SinDDMError
from core.generation import clip_guidance
from core.generation.clip_guidance import (
    STOP_GUIDANCE_STEPS,
    ClipGuidance,
    ClipScorer,
    GuidanceUnavailableError,
    ViewSettings,
    encode_any_size,
    plan_text_guidance,
)
from core.generation.sampling import iter_sample, sample

VIEWS = ViewSettings(count=4, short_side=32, long_side_max=48)


def _guidance(tiny_clip, model, strength=1.0, fill=0.3, scales=None, seed=0):
    clip, tokenizer = tiny_clip
    scorer = ClipScorer(clip, tokenizer, "fire", views=VIEWS, seed=seed)
    last = model.num_scales - 1
    return ClipGuidance(scorer, scales or {1}, last, strength, fill, 0.2)


def test_non_square_views_use_resized_positional_embeddings(tiny_clip):
    clip, _ = tiny_clip
    wide = encode_any_size(clip.visual, torch.rand(2, 3, 32, 48))
    square = encode_any_size(clip.visual, torch.rand(2, 3, 32, 32))
    assert wide.shape == square.shape == (2, 16)
    same = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(encode_any_size(clip.visual, same), clip.visual(same))


def test_guided_loss_ends_lower_than_unguided(tiny_clip, tiny_model):
    guidance = _guidance(tiny_clip, tiny_model, strength=1.0, fill=1.0)
    guided = sample(tiny_model, seed=3, reblur=False, guidance=[guidance])
    plain = sample(tiny_model, seed=3, reblur=False)
    clip, tokenizer = tiny_clip
    judge = ClipScorer(clip, tokenizer, "fire", views=ViewSettings(16, 32, 48), seed=9)
    with torch.no_grad():
        torch.manual_seed(0)
        guided_loss = float(judge.loss((guided + 1) / 2))
        judge.rng.seed(9)
        plain_loss = float(judge.loss((plain + 1) / 2))
    assert guided_loss < plain_loss


def test_strength_zero_equals_unguided(tiny_clip, tiny_model):
    guidance = _guidance(tiny_clip, tiny_model, strength=0.0)
    assert torch.equal(
        sample(tiny_model, seed=4, reblur=False, guidance=[guidance]),
        sample(tiny_model, seed=4, reblur=False),
    )


def test_mask_covers_about_the_fill_factor(tiny_clip, tiny_model):
    guidance = _guidance(tiny_clip, tiny_model, fill=0.25)
    for _ in iter_sample(tiny_model, seed=5, reblur=False, guidance=[guidance]):
        if guidance.mask is not None:
            break
    assert abs(float(guidance.mask.mean()) - 0.25) < 0.05


def test_last_steps_of_finest_scale_are_unguided(tiny_clip, tiny_model):
    guidance = _guidance(tiny_clip, tiny_model)
    guided_at = []
    original = guidance._descent_direction
    calls = iter(range(10_000))

    def record(x0):
        guided_at.append(next(calls))
        return original(x0)

    guidance._descent_direction = record
    steps = list(iter_sample(tiny_model, seed=6, reblur=False, guidance=[guidance]))
    finest = [s for s in steps if s.scale == 1]
    assert len(guided_at) == len(finest) - STOP_GUIDANCE_STEPS
    assert not guidance.active(1, STOP_GUIDANCE_STEPS - 1) and guidance.active(1, 3)
    assert not guidance.active(0, 50)  # content guidance skips the coarsest scale


def test_modes_and_bad_input(tiny_clip, tiny_model):
    clip, tokenizer = tiny_clip
    with pytest.raises(SinDDMError, match="prompt is empty"):
        plan_text_guidance(tiny_model, clip, tokenizer, "  ", views=VIEWS)
    with pytest.raises(SinDDMError, match="Unknown mode"):
        plan_text_guidance(tiny_model, clip, tokenizer, "fire", mode="dream", views=VIEWS)
    style = plan_text_guidance(tiny_model, clip, tokenizer, "Van Gogh", "style-image", views=VIEWS)
    steps = list(
        iter_sample(
            tiny_model,
            size=style.size,
            injection=style.injection,
            reblur=False,
            guidance=style.make_guidance(),
        )
    )
    assert len(steps) == tiny_model.schedule.start_steps[-1]
    with pytest.raises(SinDDMError, match="needs a box"):
        plan_text_guidance(tiny_model, clip, tokenizer, "fire", "region", views=VIEWS)


def test_region_mode_edits_only_the_box(tiny_clip, tiny_model, monkeypatch):
    from core.generation.editing import Box

    monkeypatch.setattr(clip_guidance, "REGION_ITERATIONS", 3)
    clip, tokenizer = tiny_clip
    box = Box(10, 10, 30, 20)
    edited = clip_guidance.edit_region(tiny_model, clip, tokenizer, "fire", box, VIEWS, 0)
    from core.method.tensors import image_to_tensor

    original = image_to_tensor(tiny_model.pyramid.sharp[-1])
    changed = (edited != original).any(dim=1)[0]
    assert changed[10:30, 10:40].any() and not changed[40:, :].any()


def test_missing_weights_say_how_to_fix(tmp_path):
    with pytest.raises(GuidanceUnavailableError, match="No CLIP weights file"):
        clip_guidance.load_clip("ViT-B-32", str(tmp_path / "missing" / "clip.pt"))


def test_text_command_with_a_local_model(tmp_path, tiny_clip, tiny_trainer, monkeypatch):
    from cli.main import main
    from core.files.model_file import save_trainer
    from core.generation import clip_weights

    monkeypatch.setattr(clip_guidance, "load_clip", lambda *a, **k: tiny_clip)
    monkeypatch.setattr(clip_weights, "ensure_hub_reachable", lambda *args: None)  # "online"
    model = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, model)
    out = tmp_path / "t.png"
    assert (
        main(
            [
                "text",
                str(model),
                "--prompt",
                "fire",
                "-o",
                str(out),
                "--views",
                "2",
                "--strength",
                "0.5",
                "--fill",
                "0.5",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert out.exists()
