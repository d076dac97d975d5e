import math

import pytest
import torch

from core.config import ModelConfig, TrainConfig
from core.errors import CheckpointWriteError, ConfigError, TrainingDivergedError
from core.files.model_file import load_model, load_trainer, save_trainer
from core.training.trainer import Trainer, TrainStep, checkpointed_steps, run_training


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


def _poison_loss_at(trainer: Trainer, step: int) -> None:
    """Make the loss of 1-based step `step` NaN (and so its gradients and the weights after it),
    as a diverging run would."""
    loss = trainer._loss

    def poisoned(*args):
        value = loss(*args)
        return value * math.nan if trainer.state.step + 1 == step else value

    trainer._loss = poisoned


def test_nan_loss_stops_training_and_keeps_the_last_good_save(tmp_path, tiny_trainer):
    path = tmp_path / "m.sinddm"
    _poison_loss_at(tiny_trainer, 8)
    with pytest.raises(TrainingDivergedError) as caught:
        run_training(tiny_trainer, save=lambda: save_trainer(tiny_trainer, path), save_every=5)
    assert str(caught.value) == (
        "Training stopped at step 8: the loss became NaN (not a number). The model file keeps "
        "step 5, its last good save; a lower learning rate may help."
    )
    model = load_model(path)  # refused if a NaN weight had been written
    assert model.steps_trained == 5
    assert load_trainer(path).state.step == 5


def test_nan_loss_before_any_save_writes_nothing(tmp_path, tiny_trainer):
    path = tmp_path / "m.sinddm"
    _poison_loss_at(tiny_trainer, 3)
    with pytest.raises(TrainingDivergedError, match=r"at step 3: .* Nothing was saved"):
        run_training(tiny_trainer, save=lambda: save_trainer(tiny_trainer, path), save_every=5)
    assert not path.exists()


def test_weights_that_stop_being_finite_are_never_saved(tiny_trainer):
    """A finite loss with overflowing weights (the EMA here) is caught when it is time to save,
    on the interval or when the consumer stops."""
    saved_at: list[int] = []

    def save_due(step: TrainStep) -> bool:
        if step.step == 6:
            with torch.no_grad():
                next(tiny_trainer.ema.parameters()).view(-1)[0] = math.inf
        return step.step % 4 == 0

    steps = checkpointed_steps(
        tiny_trainer, lambda: saved_at.append(tiny_trainer.state.step), save_due
    )
    with pytest.raises(TrainingDivergedError, match="at step 8: the weights are no longer finite"):
        for _ in steps:
            pass
    assert saved_at == [4]

    stopped = checkpointed_steps(tiny_trainer, lambda: saved_at.append(0), lambda step: False)
    next(stopped)
    with pytest.raises(TrainingDivergedError, match="keeps step 8"):
        stopped.close()  # the save on stop is refused too
    assert saved_at == [4]


def test_a_failed_save_is_not_tried_again_on_the_way_out(tiny_trainer):
    """The save's own error (naming the last good checkpoint) is what the caller sees; the
    driver's save-on-stop must not write again behind it."""
    attempts: list[int] = []

    def failing_save() -> None:
        attempts.append(tiny_trainer.state.step)
        raise CheckpointWriteError("Could not write m.sinddm: the disk is full.")

    steps = checkpointed_steps(tiny_trainer, failing_save, lambda step: step.step == 2)
    with pytest.raises(CheckpointWriteError, match="disk is full"):
        for _ in steps:
            pass
    assert attempts == [2]
