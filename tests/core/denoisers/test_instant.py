"""The closed-form patch denoiser: exact against brute force, the right limits, any canvas."""

import math

import numpy as np
import pytest
import torch

from core.config import ModelConfig
from core.denoisers import patch_search, posterior
from core.denoisers.instant import InstantModel, InstantSettings
from core.denoisers.protocol import DiffusionModel
from core.errors import ConfigError
from core.generation.sampling import sample
from core.method.pyramid import Pyramid
from core.method.schedule import schedule_for
from core.method.tensors import image_to_tensor
from core.requests import SamplingOptions

FAST = InstantSettings(patch_sizes=(5, 3), position_sigma=0)
EXACT = InstantSettings(patch_sizes=(5, 3), exact_scales=99, components=0, position_sigma=0)


def _one_scale_model(pixels: np.ndarray, settings: InstantSettings) -> InstantModel:
    height, width = pixels.shape[:2]
    pyramid = Pyramid((pixels,), (pixels,), ((width, height),), 1.411, (0.0,), (width, height))
    config = ModelConfig()
    return InstantModel(pyramid, schedule_for(pyramid, config), config, settings)


def _brute_force(query: np.ndarray, clean: np.ndarray, k: int, ab: float, mode: str):
    """Posterior mean by loops in float64: query (3, H, W) noisy, clean (3, h, w) training."""
    pad = k // 2
    q_pad = np.pad(query, ((0, 0), (pad, pad), (pad, pad)))
    c_pad = np.pad(clean, ((0, 0), (pad, pad), (pad, pad)))
    _, height, width = query.shape
    _, h, w = clean.shape
    keys = np.stack([c_pad[:, y : y + k, x : x + k] for y in range(h) for x in range(w)])
    estimate = np.zeros((3, height + 2 * pad, width + 2 * pad))
    count = np.zeros((height + 2 * pad, width + 2 * pad))
    centre = np.zeros((3, height, width))
    for y in range(height):
        for x in range(width):
            q = q_pad[:, y : y + k, x : x + k]
            logits = np.array([-np.sum((q - math.sqrt(ab) * p) ** 2) for p in keys])
            weights = np.exp(logits / (2 * (1 - ab)) - np.max(logits / (2 * (1 - ab))))
            weights /= weights.sum()
            patch = np.tensordot(weights, keys, axes=1)
            centre[:, y, x] = patch[:, pad, pad]
            estimate[:, y : y + k, x : x + k] += patch
            count[y : y + k, x : x + k] += 1
    mean = (estimate / count)[:, pad : pad + height, pad : pad + width]
    return centre if mode == "centre" else mean


@pytest.mark.parametrize("mode", ["centre", "mean"])
def test_denoiser_equals_brute_force(mode):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    settings = InstantSettings(patch_sizes=(3,), aggregation=mode, components=0, position_sigma=0)
    model = _one_scale_model(pixels, settings)
    clean = image_to_tensor(pixels)[0].double().numpy()
    query = rng.normal(size=(3, 5, 9)) * 0.7  # another canvas size than the photo
    ab = 0.6
    got = model.predict_mixture(torch.tensor(query, dtype=torch.float32)[None], ab, 0)[0]
    want = _brute_force(query, clean, 3, ab, mode)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5)


def test_clean_image_as_noise_vanishes_comes_back(tiny_image):
    """t → 0: the weights collapse onto the patch at the same place, the image itself."""
    model = InstantModel.from_image(tiny_image, settings=EXACT)
    for scale in range(model.num_scales):
        clean = image_to_tensor(model.pyramid.sharp[scale])
        ab = 1 - 1e-6
        out = model.predict_mixture(math.sqrt(ab) * clean, ab, scale)
        torch.testing.assert_close(out, clean, atol=1e-4, rtol=0)


def test_very_high_noise_gives_the_mean_patch(tiny_image):
    model = InstantModel.from_image(tiny_image, settings=FAST)
    clean = image_to_tensor(model.pyramid.sharp[0])
    noisy = torch.randn(1, 3, 30, 40, generator=torch.Generator().manual_seed(0))
    out = model.predict_mixture(1e-8 * clean.mean() + noisy, 1e-8, 0)
    mean = clean.mean(dim=(2, 3), keepdim=True).expand_as(out)
    torch.testing.assert_close(out, mean, atol=1e-3, rtol=0)


def test_the_mixture_uses_the_blurry_patches(tiny_image):
    """With γ = 1 the prior is the blurry image's patches: a clean blurry image comes back."""
    model = InstantModel.from_image(tiny_image, settings=EXACT)
    blurry = image_to_tensor(model.pyramid.blurry[1])
    ab = 1 - 1e-6
    out = model.predict_mixture(math.sqrt(ab) * blurry, ab, 1, gamma=1.0)
    torch.testing.assert_close(out, blurry, atol=1e-4, rtol=0)


def test_instant_is_a_diffusion_model_the_sampler_runs(tiny_image):
    model = InstantModel.from_image(tiny_image, settings=FAST)
    assert isinstance(model, DiffusionModel)
    assert (model.kind, model.parameters, model.steps_trained) == ("instant", 0, 0)
    wide = sample(model, count=2, seed=3, size=(110, 50), options=SamplingOptions(fine_stride=3))
    assert wide.shape == (2, 3, 50, 110) and torch.isfinite(wide).all()
    again = sample(model, count=1, seed=4, size=(110, 50), options=SamplingOptions(fine_stride=3))
    # sample i uses seed + i: the same alone as in a batch, up to float rounding (batched
    # convolutions sum in another order), within one grey level
    torch.testing.assert_close(again[0], wide[1], atol=2 / 255, rtol=0)


def test_settings_refuse_even_patches():
    with pytest.raises(ConfigError, match="odd"):
        InstantSettings(patch_sizes=(4,))


def test_all_patches_as_candidates_is_the_exact_denoiser(tiny_image, monkeypatch):
    """The candidate path with every patch a candidate and all components is exact."""
    monkeypatch.setattr(patch_search, "EXACT_SEARCH_MAX_KEYS", 10**9)
    exact = InstantModel.from_image(tiny_image, settings=EXACT)
    n = tiny_image.width * tiny_image.height
    every = InstantSettings(patch_sizes=(5, 3), candidates=n, components=0, position_sigma=0)
    approximate = InstantModel.from_image(tiny_image, settings=every)
    blurry = image_to_tensor(exact.pyramid.blurry[1])
    noisy = 0.8 * blurry + 0.3 * torch.randn(
        blurry.shape, generator=torch.Generator().manual_seed(1)
    )
    want = exact.predict_mixture(noisy, 0.6, 1, gamma=0.4, blurry=blurry)
    got = approximate.predict_mixture(noisy, 0.6, 1, gamma=0.4, blurry=blurry)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("aggregation", ["centre", "mean"])
def test_candidates_agree_with_exact_search_at_low_noise(tiny_image, aggregation):
    """The defaults (8 candidates from x̃ refined towards the query, 16 components) at a fine
    scale's low noise (t = 2): within 8 grey levels of exact search on 99% of pixels (3×3
    patches on a tiny image, the hardest case: benchmarks/bench_instant.py measures more)."""
    exact_settings = InstantSettings(
        patch_sizes=(5, 3), exact_scales=99, aggregation=aggregation, components=0, position_sigma=0
    )
    exact = InstantModel.from_image(tiny_image, settings=exact_settings)
    fast = InstantModel.from_image(
        tiny_image,
        settings=InstantSettings(patch_sizes=(5, 3), aggregation=aggregation, position_sigma=0),
    )
    sharp, blurry = (image_to_tensor(p[1]) for p in (exact.pyramid.sharp, exact.pyramid.blurry))
    t = 2
    ab, gamma = float(exact.schedule.alpha_bar[t]), exact.schedule.sampling_gamma(1, t)
    mixture = gamma * blurry + (1 - gamma) * sharp
    noise = torch.randn(sharp.shape, generator=torch.Generator().manual_seed(2))
    noisy = math.sqrt(ab) * mixture + math.sqrt(1 - ab) * noise
    want = exact.predict_mixture(noisy, ab, 1, gamma, blurry)
    got = fast.predict_mixture(noisy, ab, 1, gamma, blurry)
    error = (got - want).abs().amax(dim=1)
    assert torch.quantile(error.flatten(), 0.99) < 8 * 2 / 255


def test_position_prior_keeps_each_pixel_where_it_was(tiny_image):
    """With a sharp position prior and no information in x_t, each pixel comes from the same
    relative place of the training image, whatever the canvas size."""
    settings = InstantSettings(patch_sizes=(5, 3), components=0, position_sigma=1e-3)
    model = InstantModel.from_image(tiny_image, settings=settings)
    clean = image_to_tensor(model.pyramid.sharp[0])
    out = model.predict_mixture(torch.zeros(1, 3, 96, 128), 1e-6, 0)
    upsized = torch.nn.functional.interpolate(clean, size=(96, 128), mode="nearest")
    torch.testing.assert_close(out, upsized, atol=1e-3, rtol=0)
    with pytest.raises(ConfigError, match="position_sigma"):
        InstantSettings(position_sigma=-1.0)


def test_a_run_never_inherits_the_previous_runs_candidates(tiny_image):
    """Plain DDPM steps (the text modes) give Instant no x̃; the same seed twice must still
    give the same image, however the model was used in between."""
    model = InstantModel.from_image(tiny_image, settings=FAST)
    first = sample(model, seed=5, reblur=False, options=SamplingOptions(coarse_stride=10))
    sample(model, seed=6, reblur=False, options=SamplingOptions(coarse_stride=10))
    again = sample(model, seed=5, reblur=False, options=SamplingOptions(coarse_stride=10))
    torch.testing.assert_close(again, first, atol=0, rtol=0)


def test_position_prior_equals_the_explicit_prior(tiny_image, monkeypatch):
    """The prior folded into the distances (PositionPrior.augment) gives the softmax of the
    explicit logits −dist/(2(1 − ᾱ)) − ‖p_q − p_i‖²/(2σ²), also when chunks cross images."""

    monkeypatch.setattr(posterior, "QUERY_CHUNK_ELEMENTS", 2**9)  # chunks across the two images
    generator = torch.Generator().manual_seed(3)
    queries, keys = torch.randn(2 * 12, 5, generator=generator), torch.randn(20, 5)
    values, alpha_bar, sigma = torch.randn(20, 3), 0.3, 0.2
    prior = posterior.PositionPrior((3, 4), (4, 5), sigma, "cpu")
    got = posterior.posterior_mean(queries, keys, values, alpha_bar, prior)
    distances = torch.cdist(queries, math.sqrt(alpha_bar) * keys).square()
    positions = torch.cdist(prior.canvas.repeat(2, 1), prior.train).square()
    logits = -distances / (2 * (1 - alpha_bar)) - positions / (2 * sigma**2)
    torch.testing.assert_close(got, torch.softmax(logits, dim=1) @ values, atol=1e-5, rtol=0)


def test_upscaled_candidates_keep_a_match_in_place():
    """Coarse pixels matched to their own training position suggest, one scale up, the fine
    pixels' own positions: the coarse-to-fine start loses nothing of an exact match, for a
    canvas the training size and for one twice as wide; 'none' stays 'none'."""
    coarse, fine = (5, 4), (7, 6)  # (W, H) of the training image at two scales
    for canvas_scale in (1, 2):
        rows, cols = coarse[1], coarse[0] * canvas_scale
        y, x = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        own = (y * coarse[0] + (x // canvas_scale)).to(patch_search.INDEX_DTYPE)
        candidates = torch.stack([own, torch.full_like(own, 20)], dim=-1)[None]
        fine_canvas = (fine[1], fine[0] * canvas_scale)
        got = patch_search.upscale_candidates(candidates, coarse, fine_canvas, fine)
        fy, fx = torch.meshgrid(*(torch.arange(n) for n in fine_canvas), indexing="ij")
        if canvas_scale == 1:
            torch.testing.assert_close(got[0, ..., 0], (fy * fine[0] + fx).to(got.dtype))
        else:  # two canvas pixels per training pixel across: each lands within one of its own
            found_x = got[0, ..., 0] % fine[0]
            assert (found_x - fx // 2).abs().max() <= 1
            assert (got[0, ..., 0] // fine[0] == fy).all()
        assert (got[0, ..., 1] == fine[0] * fine[1]).all()


def test_finer_scales_start_from_the_coarser_candidates(demo_image):
    """Within one run only the first candidate scale searches an index; the finer ones start
    from the scale below (coarse-to-fine)."""
    settings = InstantSettings(patch_sizes=(5, 3), position_sigma=0)
    model = InstantModel.from_image(demo_image.resize((112, 84)), settings=settings)
    assert model.num_scales == 3
    sample(model, seed=0, options=SamplingOptions(coarse_stride=10, fine_stride=4))
    assert model._scales[1].indexes and not model._scales[2].indexes


def test_floored_softmax_matches_softmax():
    """softmax_ gives torch.softmax's weights (to float precision) however far apart the logits
    are, and equal weights where every logit is the 'none' logit."""
    logits = torch.tensor([[0.0, -1.0, -50.0, -3000.0], [1e5, -1e5, 2.0, 1e5 - 0.5]])
    weights = posterior.softmax_(logits.clone())
    weights /= weights.sum(dim=1, keepdim=True)
    torch.testing.assert_close(weights, torch.softmax(logits, dim=1), atol=1e-7, rtol=0)
    none = torch.full((1, 3), posterior.NO_CANDIDATE_LOGIT)
    assert torch.equal(posterior.softmax_(none), torch.ones(1, 3))
