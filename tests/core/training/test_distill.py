"""Distillation: the closed-form posterior mean as the training target (docs/method.md §10)."""

import math

import pytest
import torch

from core.config import ModelConfig, TrainConfig
from core.denoisers import patch_search
from core.denoisers.instant import InstantModel, InstantSettings
from core.errors import ConfigError
from core.files.model_file import load_trainer, save_trainer
from core.method.tensors import image_to_tensor
from core.training.presets import PRESETS, Preset
from core.training.trainer import Trainer

EXACT = InstantSettings(patch_sizes=(3,), exact_scales=99, components=0, position_sigma=0)


def _trainer(tiny_image, **train) -> Trainer:
    config = TrainConfig(**{"steps": 12, "batch_size": 2, **train})
    return Trainer.from_image(tiny_image, ModelConfig(dim=8), config, seed=3)


def _noised(trainer: Trainer, scale: int, t: torch.Tensor) -> torch.Tensor:
    """x_t of the training mixture at `scale` for each t (B,), as the trainer makes it."""
    gamma = trainer.schedule.gamma[scale, t].float().view(-1, 1, 1, 1)
    sharp, blurry = trainer._sharp[scale], trainer._blurry[scale]
    ab = trainer.schedule.alpha_bar[t].float().view(-1, 1, 1, 1)
    noise = torch.randn((len(t), *sharp.shape[1:]), generator=torch.Generator().manual_seed(0))
    return ab.sqrt() * (gamma * blurry + (1 - gamma) * sharp) + (1 - ab).sqrt() * noise


def _explicit_posterior(x_t: torch.Tensor, keys: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """Σ_i w_i·centre_i, w = softmax(−‖q − sqrt(ᾱ)·k_i‖² / (2(1 − ᾱ))), by cdist: (1, 3, H, W)
    for x_t (1, 3, H, W) and (N, 27) zero-padded 3×3 keys."""
    height, width = x_t.shape[-2:]
    queries = torch.nn.functional.unfold(x_t, 3, padding=1)[0].T.double()
    logits = -torch.cdist(queries, math.sqrt(alpha_bar) * keys.double()).square()
    weights = torch.softmax(logits / (2 * (1 - alpha_bar)), dim=1)
    centres = keys[:, 4::9].double()
    return (weights @ centres).T.reshape(1, 3, height, width).float()


@pytest.mark.parametrize("scale", [0, 1])
def test_the_target_is_the_noise_the_closed_form_implies(tiny_image, scale):
    """ε* = (x_t − sqrt(ᾱ_t)·E[x_mix | x_t]) / sqrt(1 − ᾱ_t), with per-sample t and γ_s[t],
    E computed here by brute force over every 3×3 patch of the mixture γ·x̃ + (1 − γ)·x."""
    trainer = _trainer(tiny_image)
    pyramid = trainer.pyramid
    trainer._instant = InstantModel(pyramid, trainer.schedule, trainer.model_config, EXACT)
    t = torch.tensor([3, 40])
    x_t = _noised(trainer, scale, t)
    got = trainer.closed_form_noise(x_t, t, scale)
    for i, step in enumerate(t.tolist()):
        ab = float(trainer.schedule.alpha_bar[step])
        gamma = float(trainer.schedule.gamma[scale, step])
        mixture = gamma * trainer._blurry[scale] + (1 - gamma) * trainer._sharp[scale]
        keys = torch.nn.functional.unfold(mixture, 3, padding=1)[0].T
        expected = _explicit_posterior(x_t[i : i + 1], keys, ab)
        want = (x_t[i : i + 1] - math.sqrt(ab) * expected) / math.sqrt(1 - ab)
        torch.testing.assert_close(got[i : i + 1], want, atol=2e-3, rtol=0)


def test_training_candidates_with_every_patch_are_the_exact_closed_form(tiny_image, monkeypatch):
    """The distillation's candidate path (each training pixel's nearest patches, found once)
    equals the exact closed form when every patch is a candidate."""
    monkeypatch.setattr(patch_search, "EXACT_SEARCH_MAX_KEYS", 10**9)
    trainer = _trainer(tiny_image)
    n = tiny_image.width * tiny_image.height
    monkeypatch.setattr("core.denoisers.instant.TRAINING_CANDIDATES", n)
    every = InstantSettings(patch_sizes=(5, 3), candidates=n, components=0, position_sigma=0)
    exact = InstantSettings(patch_sizes=(5, 3), exact_scales=99, components=0, position_sigma=0)
    fast = InstantModel(trainer.pyramid, trainer.schedule, trainer.model_config, every)
    slow = InstantModel(trainer.pyramid, trainer.schedule, trainer.model_config, exact)
    x_t = _noised(trainer, 1, torch.tensor([10]))
    ab, gamma = float(trainer.schedule.alpha_bar[10]), float(trainer.schedule.gamma[1, 10])
    torch.testing.assert_close(
        fast.training_mixture(x_t, ab, 1, gamma),
        slow.training_mixture(x_t, ab, 1, gamma),
        atol=1e-4,
        rtol=0,
    )


def test_distilled_steps_reduce_the_loss_against_the_target(tiny_image):
    """A few steps with the closed-form target alone bring the network closer to it."""
    trainer = _trainer(tiny_image, steps=40, distill=1.0)
    t = torch.tensor([5, 30, 60, 90])
    x_t = _noised(trainer, 1, t)
    target = trainer.closed_form_noise(x_t, t, 1)

    def error() -> float:
        with torch.no_grad():
            return float((trainer.net(x_t, t, 1) - target).abs().mean())

    before = error()
    for _ in range(40):
        trainer.train_step(scale=1)
    assert error() < 0.8 * before


def test_the_share_of_distilled_samples_follows_the_config():
    config = TrainConfig(steps=100, batch_size=8, distill=0.5, distill_until=0.3)
    assert [config.distilled_at(step) for step in (0, 29, 30, 99)] == [4, 4, 0, 0]
    assert TrainConfig(steps=10, batch_size=8).distilled_at(0) == 0
    with pytest.raises(ConfigError, match=r"(?i)distilled share of a batch .* not 1\.5"):
        TrainConfig(distill=1.5)
    with pytest.raises(ConfigError, match=r"(?i)distillation must stop .* not at -0\.1"):
        TrainConfig(distill_until=-0.1)


def test_a_distilled_run_resumes_exactly(tmp_path, tiny_image):
    """Save half-way through a mixed run, load, go on: the same losses and weights as a run
    that never stopped, and the distillation settings come back from the file."""
    straight = _trainer(tiny_image, distill=0.5, distill_until=0.75)
    straight_losses = [s.loss for s in straight.steps()]
    first = _trainer(tiny_image, distill=0.5, distill_until=0.75)
    steps = first.steps()
    losses = [next(steps).loss for _ in range(5)]
    steps.close()
    save_trainer(first, tmp_path / "half.sinddm")
    resumed = load_trainer(tmp_path / "half.sinddm")
    assert (resumed.train_config.distill, resumed.train_config.distill_until) == (0.5, 0.75)
    losses += [s.loss for s in resumed.steps()]
    assert losses == straight_losses
    for a, b in zip(straight.ema.parameters(), resumed.ema.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_preset_passes_its_distillation_on():
    base = PRESETS["tiny"]
    preset = Preset(**{**base.__dict__, "distill": 0.25, "distill_until": 0.5})
    config = preset.train_config(steps=200)
    assert (config.distill, config.distill_until, config.steps) == (0.25, 0.5, 200)
    assert base.train_config().distill == 0.0


def test_the_target_uses_the_training_images_own_pixels(tiny_image):
    """At almost no noise the closed form over the image's patches returns the image: its
    target is then the noise draw itself (what the reference's loss asks for)."""
    trainer = _trainer(tiny_image)
    t = torch.tensor([0])
    x_t = _noised(trainer, 0, t)
    ab = float(trainer.schedule.alpha_bar[0])
    noise = (x_t - math.sqrt(ab) * trainer._sharp[0]) / math.sqrt(1 - ab)
    got = trainer.closed_form_noise(x_t, t, 0)
    assert float((got - noise).abs().mean()) < 0.05 * float(noise.abs().mean())
    assert image_to_tensor(trainer.pyramid.sharp[0]).shape == x_t.shape
