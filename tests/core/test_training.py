import math

import pytest
import torch

from core.checkpoint import load_trainer, save_trainer
from core.config import ModelConfig, TrainConfig
from core.errors import ConfigError
from core.training import Trainer, run_training


def test_lr_schedule_halves_at_reference_milestones():
    config = TrainConfig()
    assert config.steps == 120_001 and config.batch_size == 32
    assert config.lr_at(0) == 1e-3 and config.lr_at(19_999) == 1e-3
    assert config.lr_at(20_000) == 5e-4
    assert config.lr_at(110_000) == pytest.approx(1.5625e-5)


def test_config_validation_says_what_is_wrong():
    with pytest.raises(ConfigError, match="even number"):
        ModelConfig(dim=7)
    with pytest.raises(ConfigError, match=r"(?i)batch size"):
        TrainConfig(batch_size=0)


def test_forward_process_uses_unclamped_gamma_mix(tiny_trainer):
    """x_t = sqrt(ᾱ_t)(γ_t x̃ + (1 − γ_t) x) + sqrt(1 − ᾱ_t) ε  (paper eq. 1)."""
    seen = {}

    def record(x_t, t, scale):
        seen.update(x_t=x_t.detach().clone(), t=t.clone(), scale=scale)
        return torch.zeros_like(x_t, requires_grad=True)

    tiny_trainer.net.forward = record
    t = torch.tensor([10, 90])
    noise = torch.randn(2, 3, 72, 96)
    loss = tiny_trainer._loss(1, t, noise)
    schedule = tiny_trainer.schedule
    for i, step in enumerate(t.tolist()):
        gamma = float(schedule.gamma[1, step])
        ab = float(schedule.alpha_bar[step])
        mix = gamma * tiny_trainer._blurry[1][0] + (1 - gamma) * tiny_trainer._sharp[1][0]
        expected = math.sqrt(ab) * mix + math.sqrt(1 - ab) * noise[i]
        torch.testing.assert_close(seen["x_t"][i], expected, rtol=1e-5, atol=1e-5)
    assert float(schedule.gamma[1, 90]) == 1.0  # unclamped while training
    assert float(loss.detach()) == pytest.approx(float(noise.abs().mean()), rel=1e-6)


def test_training_loss_falls(tiny_image):
    trainer = Trainer.from_image(
        tiny_image, ModelConfig(dim=16), TrainConfig(steps=150, batch_size=4), seed=1
    )
    losses = [step.loss for step in trainer.steps()]
    assert len(losses) == 150
    assert sum(losses[-30:]) / 30 < 0.7 * sum(losses[:10]) / 10
    assert trainer.state.loss_history and len(trainer.state.loss_history) == 1


def test_ema_copies_before_start_then_averages(tiny_trainer):
    config = tiny_trainer.train_config
    live = next(tiny_trainer.net.parameters())
    ema = next(tiny_trainer.ema.parameters())
    with torch.no_grad():
        live.add_(1.0)
    tiny_trainer._update_ema(config.ema_every + 1)  # not a multiple: no update
    assert not torch.equal(ema, live)
    tiny_trainer._update_ema(0)
    assert torch.equal(ema, live)
    before = ema.clone()
    with torch.no_grad():
        live.add_(1.0)
    tiny_trainer._update_ema(config.ema_start)
    torch.testing.assert_close(ema, before + (1 - config.ema_decay) * 1.0)


def test_resume_continues_exactly(tmp_path, tiny_image):
    def fresh():
        return Trainer.from_image(
            tiny_image, ModelConfig(dim=8), TrainConfig(steps=12, batch_size=2), seed=3
        )

    straight = fresh()
    straight_losses = [s.loss for s in straight.steps()]

    first = fresh()
    steps = first.steps()
    losses = [next(steps).loss for _ in range(5)]
    steps.close()
    save_trainer(first, tmp_path / "half.sinddm")
    resumed = load_trainer(tmp_path / "half.sinddm")
    assert resumed.state.step == 5
    losses += [s.loss for s in resumed.steps()]
    assert losses == straight_losses
    for a, b in zip(straight.ema.parameters(), resumed.ema.parameters(), strict=True):
        assert torch.equal(a, b)


def test_run_training_saves_on_interval_and_on_stop(tiny_trainer):
    saved_at = []
    finished = run_training(
        tiny_trainer,
        save=lambda: saved_at.append(tiny_trainer.state.step),
        save_every=4,
        should_stop=lambda: tiny_trainer.state.step >= 10,
    )
    assert not finished
    assert saved_at == [4, 8, 10]
