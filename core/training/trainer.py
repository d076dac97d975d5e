"""Training as the reference does it, as a generator of steps (docs/method.md §4; Algorithm 1)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from core.config import ModelConfig, TrainConfig, uses_instant
from core.denoisers.instant import InstantModel, InstantSettings
from core.denoisers.network import SinDDMNet
from core.denoisers.refined import RefinedModel, refined_below, refined_scales, sampling_model
from core.denoisers.trained import SinDDMModel
from core.device import bf16_supported, make_generator, randn
from core.errors import TrainingDivergedError
from core.method.pyramid import Pyramid, build_pyramid
from core.method.schedule import schedule_for
from core.method.tensors import image_to_tensor


@dataclass(frozen=True)
class TrainStep:
    """One finished optimiser step: `step` is how many steps are now done (1-based)."""

    step: int
    loss: float
    lr: float
    scale: int


@dataclass
class TrainingState:
    """Everything that changes while training, so that a resumed run continues exactly."""

    step: int = 0
    loss_history: list[float] = field(default_factory=list)
    """Mean loss of each completed window of `TrainConfig.loss_window` steps."""
    window_losses: list[float] = field(default_factory=list)


class Trainer:
    """Owns the network, its EMA copy, Adam and the RNGs; `steps()` advances training.

    Each step follows the reference: one scale s drawn uniformly, a batch of copies of the full
    image x^s with per-sample t and ε, x_mix = γ_s[t]·x̃^s + (1 − γ_s[t])·x^s with the unclamped
    γ (x^0 itself at s = 0), x_t = sqrt(ᾱ_t)·x_mix + sqrt(1 − ᾱ_t)·ε, and an L1 loss on ε.
    """

    def __init__(
        self,
        pyramid: Pyramid,
        model_config: ModelConfig | None = None,
        train_config: TrainConfig | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        bf16: bool = False,
        instant_settings: InstantSettings | None = None,
    ):
        """`instant_settings`: Instant's, where a distilled or refining run uses it (the model
        file keeps them, so the refiner samples with the Instant it learned beside).
        `bf16` runs the forward pass under bfloat16 autocast where the device has native bf16
        (`bf16_supported`: CUDA GPUs, recent x86 CPUs); elsewhere it is ignored. A run-time choice
        that does not change what the model is: weights, Adam and the loss stay float32."""
        self.pyramid = pyramid
        self.model_config = model_config or ModelConfig()
        self.train_config = train_config or TrainConfig()
        self.device = torch.device(device)
        self.seed = seed
        self.instant_settings = instant_settings or InstantSettings()
        self.bf16_requested = bf16
        """Kept in checkpoints, so that a resumed run asks for the same numerics."""
        self.bf16 = bf16 and bf16_supported(self.device)
        self.schedule = schedule_for(pyramid, self.model_config)
        with torch.random.fork_rng(devices=[]):  # default init draws from the global RNG
            torch.manual_seed(seed)
            self.net = SinDDMNet(self.model_config.dim).to(self.device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False).eval()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.train_config.lr)
        self.state = TrainingState()
        # Scale and t are drawn on the CPU; noise on the device (no host round trip per step).
        self.index_rng = torch.Generator().manual_seed(seed)
        self.noise_rng = make_generator(self.device, seed + 1)
        self._instant: InstantModel | None = None
        """The closed-form denoiser of the distillation target, made on first use."""
        self._upload_training_images()

    @classmethod
    def from_image(
        cls,
        image: Image.Image,
        model_config: ModelConfig | None = None,
        train_config: TrainConfig | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        bf16: bool = False,
        instant_settings: InstantSettings | None = None,
    ) -> Trainer:
        """Build the pyramid of an RGB image under `model_config` and a trainer for it."""
        model_config = model_config or ModelConfig()
        pyramid = build_pyramid(image, model_config.max_pixels, model_config.scale_factor)
        return cls(pyramid, model_config, train_config, device, seed, bf16, instant_settings)

    def _upload_training_images(self) -> None:
        self._sharp = [image_to_tensor(img, self.device) for img in self.pyramid.sharp]
        self._blurry = [image_to_tensor(img, self.device) for img in self.pyramid.blurry]
        self._sqrt_ab = self.schedule.alpha_bar.sqrt().float().to(self.device)
        self._sqrt_one_minus_ab = (1 - self.schedule.alpha_bar).sqrt().float().to(self.device)
        self._gamma = self.schedule.gamma.float().to(self.device)

    @property
    def finished(self) -> bool:
        return self.state.step >= self.train_config.steps

    def steps(self) -> Generator[TrainStep, None, None]:
        """Run until `train_config.steps` are done, yielding after every step.

        The caller may stop between any two steps (closing the generator) and save: the state is
        always that of a whole number of steps.
        """
        while not self.finished:
            yield self.train_step()

    def train_step(self, scale: int | None = None) -> TrainStep:
        """One optimiser step, the EMA update and the loss bookkeeping.

        `scale` forces the scale instead of drawing it (benchmarks time each scale this way).
        """
        step = self.state.step
        lr = self.train_config.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        scale, t, noise = self._draw(scale)
        with torch.enable_grad():
            loss = self._loss(scale, t, noise)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        self.optimizer.step()
        self._update_ema(step)
        loss_value = float(loss.detach())
        self._record_loss(loss_value)
        self.state.step = step + 1
        return TrainStep(step=step + 1, loss=loss_value, lr=lr, scale=scale)

    @property
    def scales(self) -> tuple[int, ...]:
        """The scales a step draws from, uniformly: all, or a refiner's (§11)."""
        count = self.pyramid.num_scales
        return refined_scales(count) if self.model_config.refine else tuple(range(count))

    def _draw(self, scale: int | None = None) -> tuple[int, torch.Tensor, torch.Tensor]:
        """Algorithm 1, lines 2-4: s ~ U{0..N−1}; per-sample t ~ U{0..T−1} and ε ~ N(0, I).
        A refiner (ModelConfig.refine = r > 0) draws only its band instead: s among the finer
        scales, t < ceil(r·T[s]) (docs/method.md §11)."""
        batch, refine, scales = self.train_config.batch_size, self.model_config.refine, self.scales
        drawn = scales[int(torch.randint(len(scales), (1,), generator=self.index_rng))]
        scale = drawn if scale is None else scale
        steps = refined_below(self.schedule, scale, refine) if refine else self.schedule.timesteps
        t = torch.randint(steps, (batch,), generator=self.index_rng)
        height, width = self._sharp[scale].shape[-2:]
        noise = randn((batch, 3, height, width), self.noise_rng, self.device)
        return scale, t.to(self.device), noise

    def _loss(self, scale: int, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Mean |ε − ε_θ(x_t, t, s)| (Algorithm 1, line 11; eq. 1 for x_t), where the first
        `distilled_at(step)` samples' ε is the closed form's instead (docs/method.md §10)."""
        gamma = self._gamma[scale, t].view(-1, 1, 1, 1)
        x_mix = gamma * self._blurry[scale] + (1 - gamma) * self._sharp[scale]
        x_t = (
            self._sqrt_ab[t].view(-1, 1, 1, 1) * x_mix
            + self._sqrt_one_minus_ab[t].view(-1, 1, 1, 1) * noise
        )
        target = noise
        distilled = self.train_config.distilled_at(self.state.step)
        if distilled:
            target = noise.clone()
            target[:distilled] = self.closed_form_noise(x_t[:distilled], t[:distilled], scale)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            eps_pred = self.net(x_t, t, scale)
        return F.l1_loss(eps_pred.float(), target)

    @torch.no_grad()
    def closed_form_noise(self, x_t: torch.Tensor, t: torch.Tensor, scale: int) -> torch.Tensor:
        """ε* = (x_t − sqrt(ᾱ_t)·E[x_mix | x_t]) / sqrt(1 − ᾱ_t) for x_t (B, 3, H, W) that noise
        the training mixture of `scale` at timesteps t (B,), with E[·] Instant's closed-form
        posterior mean over the image's patches (docs/method.md §10): the regression target
        of the noise draw with the draw averaged out. Returns (B, 3, H, W)."""
        if self._instant is None:  # its patches are gathered only when distilling
            self._instant = InstantModel(
                self.pyramid,
                self.schedule,
                self.model_config,
                self.instant_settings,
                device=self.device,
            )
        targets = []
        for sample, step in zip(x_t, t.tolist(), strict=True):
            alpha_bar = float(self.schedule.alpha_bar[step])
            gamma = float(self.schedule.gamma[scale, step])
            mixture = self._instant.training_mixture(sample[None], alpha_bar, scale, gamma)
            noise = (sample[None] - math.sqrt(alpha_bar) * mixture) / math.sqrt(1 - alpha_bar)
            targets.append(noise)
        return torch.cat(targets)

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        """Every `ema_every` steps: copy before `ema_start`, else ema ← d·ema + (1 − d)·live."""
        config = self.train_config
        if step % config.ema_every != 0:
            return
        ema_params: list[torch.Tensor] = list(self.ema.parameters())
        live_params: list[torch.Tensor] = list(self.net.parameters())
        if step < config.ema_start:
            torch._foreach_copy_(ema_params, live_params)
        else:
            torch._foreach_lerp_(ema_params, live_params, 1 - config.ema_decay)

    def _record_loss(self, loss: float) -> None:
        self.state.window_losses.append(loss)
        if len(self.state.window_losses) >= self.train_config.loss_window:
            window = self.state.window_losses
            self.state.loss_history.append(sum(window) / len(window))
            self.state.window_losses = []

    def weights_finite(self) -> bool:
        """True when every weight of the network and of its EMA copy is a finite number (one
        pass, one device sync: cheap next to a training step)."""
        tensors = [*self.net.parameters(), *self.ema.parameters()]
        return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())

    @property
    def uses_instant(self) -> bool:
        """Whether Instant takes part: a refiner samples beside it, distillation learns from it."""
        return uses_instant(self.model_config, self.train_config)

    def sampling_model(self) -> SinDDMModel | RefinedModel:
        """The EMA network with its pyramid and schedule (shares weights with the trainer);
        Instant refined by it when the network is a refiner (docs/method.md §11)."""
        network = SinDDMModel(
            self.ema, self.pyramid, self.schedule, self.model_config, self.state.step
        )
        return sampling_model(network, self.instant_settings)


def checkpointed_steps(
    trainer: Trainer,
    save: Callable[[], None],
    save_due: Callable[[TrainStep], bool],
) -> Generator[TrainStep, None, None]:
    """`trainer.steps()`, calling `save()` after each step for which `save_due(step)` is true
    and once more when the iterator ends or is closed (the consumer stopped) with steps taken
    since the last save. The one training driver of the command line and the app.

    When the loss or the weights stop being finite numbers it raises `TrainingDivergedError`
    without saving again: the file keeps its last good save (no NaN model ever overwrites it).
    A save that fails is not tried again on the way out, so its error (which names the last good
    save) is the one the caller sees.
    """
    steps = trainer.steps()
    saved_at = trainer.state.step
    stopped_by_error = False

    def guarded_save() -> None:
        nonlocal saved_at, stopped_by_error
        stopped_by_error = True  # until the save below has succeeded
        if not trainer.weights_finite():
            raise _diverged(
                "the weights are no longer finite numbers", trainer.state.step, saved_at
            )
        save()
        saved_at = trainer.state.step
        stopped_by_error = False

    try:
        for step in steps:
            if not math.isfinite(step.loss):
                stopped_by_error = True
                problem = "NaN (not a number)" if math.isnan(step.loss) else "infinite"
                raise _diverged(f"the loss became {problem}", step.step, saved_at)
            if save_due(step):
                guarded_save()
            yield step
    finally:
        steps.close()
        if not stopped_by_error and trainer.state.step != saved_at:
            guarded_save()


def _diverged(problem: str, step: int, saved_at: int) -> TrainingDivergedError:
    """The plain sentence for a run that went numerically wrong at `step`."""
    kept = (
        f"The model file keeps step {saved_at:,}, its last good save"
        if saved_at
        else "Nothing was saved"
    )
    return TrainingDivergedError(
        f"Training stopped at step {step:,}: {problem}. {kept}; a lower learning rate may help."
    )


def run_training(
    trainer: Trainer,
    save: Callable[[], None] | None = None,
    save_every: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[TrainStep], None] | None = None,
) -> bool:
    """Drain `trainer.steps()`, calling `save()` every `save_every` steps, on stop and at the end.

    `should_stop` is polled between steps (a GUI's cancel button, a CLI's Ctrl-C flag). Returns
    True when training reached its last step, False when it was stopped early.
    """
    steps = checkpointed_steps(
        trainer,
        save or (lambda: None),
        lambda step: save is not None and save_every > 0 and step.step % save_every == 0,
    )
    with closing(steps):
        for step in steps:
            if on_step is not None:
                on_step(step)
            if should_stop():
                break
    return trainer.finished
