"""Multi-scale sampling as the reference implements it (docs/method.md §5, paper Algorithm 2).

Scale 0 runs the standard 100-step stochastic DDPM. Each finer scale upsamples the previous
output, noises it once to index T[s] and runs the "reblurring" update from t = T[s] − 1 down to
0 with the clamped γ. Differences from the paper, all following the reference code:

* ω (`omega`) = 0 by default: steps at s ≥ 1 are deterministic (DDIM, η = 0); ω = 1 gives the
  paper's Algorithm 2, with fresh noise at every step.
* γ is clamped to 0.55 while sampling (training uses it unclamped).
* The initial noise uses index T[s] while the first network call uses T[s] − 1.

Three speed options of `SamplingOptions`, all off by default: `fine_stride` k > 1 evaluates
every k-th timestep at the scales ≥ 1 (the reblurring update is DDIM's, so it steps from t to
t − k exactly as DDIM skips steps), `coarse_stride` does the same at scale 0 with respaced DDPM
steps (still stochastic), and `bf16` runs the network under bfloat16 autocast where the device
has native bf16. `benchmarks/bench_sampling.py` measures both against
the plain sampler with the metrics of `sinddm eval`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from core.denoisers.protocol import DiffusionModel
from core.device import bf16_supported, make_generator, randn
from core.errors import ConfigError
from core.method.canvas import CanvasRules
from core.requests import PLAIN_SAMPLING, SamplingOptions
from core.rules import check_canvas

MIN_CANVAS_SIDE = 8


class X0Guidance(Protocol):
    """Edits the clean-image prediction inside a diffusion step (ROI, CLIP...)."""

    def apply(self, x0_pred: torch.Tensor, scale: int, t: int) -> torch.Tensor:
        """x0_pred: (B, 3, H, W) in about [-1, 1]; returns the edited prediction, same shape."""
        ...


@dataclass(frozen=True)
class Injection:
    """Start sampling from an image instead of noise (style transfer, harmonisation:
    docs/method.md §8).

    `image` is (1 or B, 3, H, W) in [-1, 1], resized to the canvas at `scale`; it is noised to
    index `start_step` and denoised with γ forced to 0 at that scale (the reference injects at
    the finest scale, t = 15 for style transfer and 5 for harmonisation). Finer scales, if any,
    follow as usual.
    """

    image: torch.Tensor
    scale: int
    start_step: int


@dataclass(frozen=True)
class SampleStep:
    """One network evaluation: scale s, timestep t and the current x̂₀ (B, 3, H, W) in [-1, 1].

    `index` counts evaluations from 1 to `total`. At the last step of a scale (`t == 0`),
    `x0_pred` is that scale's output; at the last step overall it is the final sample.
    """

    scale: int
    t: int
    index: int
    total: int
    x0_pred: torch.Tensor


def canvas_sizes(
    train_sizes: Sequence[tuple[int, int]],
    size: tuple[int, int] | None = None,
    multipliers: tuple[float, float] | None = None,
) -> list[tuple[int, int]]:
    """Per-scale (W, H) of the output canvas, coarsest first.

    Give either the finest output `size` (W, H) or per-axis `multipliers` (m_w, m_h); every scale
    is then (int(W_s·m_w), int(H_s·m_h)) as in the reference's --scale_mul, with the finest
    scale exactly `size` when that is given.
    """
    if size is not None and multipliers is not None:
        raise ConfigError("Give either an output size or multipliers, not both.")
    finest_w, finest_h = train_sizes[-1]
    if size is not None:
        out_w, out_h = int(size[0]), int(size[1])
        if out_w <= 0 or out_h <= 0:
            raise ConfigError(f"The output size must be positive, not {out_w}×{out_h}.")
        mul_w, mul_h = out_w / finest_w, out_h / finest_h
    else:
        mul_w, mul_h = multipliers or (1.0, 1.0)
        if mul_w <= 0 or mul_h <= 0:
            raise ConfigError(f"Size multipliers must be positive, not {mul_w}×{mul_h}.")
        out_w, out_h = int(finest_w * mul_w + 1e-9), int(finest_h * mul_h + 1e-9)
    sizes = [(int(w * mul_w + 1e-9), int(h * mul_h + 1e-9)) for w, h in train_sizes[:-1]]
    sizes.append((out_w, out_h))
    _check_canvas(sizes)
    return sizes


def _check_canvas(sizes: list[tuple[int, int]]) -> None:
    coarse_w, coarse_h = sizes[0]
    fine_w, fine_h = sizes[-1]
    if min(coarse_w, coarse_h) < MIN_CANVAS_SIDE:
        raise ConfigError(
            f"The output {fine_w}×{fine_h} is too small: its coarsest scale would be "
            f"{coarse_w}×{coarse_h}, below {MIN_CANVAS_SIDE} px. Choose a larger size."
        )
    check_canvas(fine_w, fine_h)


def resolve_start_steps(model: DiffusionModel, start_steps: Sequence[int] | None) -> list[int]:
    """T[s] for every scale: the model's own, or the user's list for scales 1..N−1."""
    steps = list(model.schedule.start_steps)
    if start_steps is None:
        return steps
    if len(start_steps) != len(steps) - 1:
        raise ConfigError(f"Give {len(steps) - 1} start steps (one per scale after the first).")
    for value in start_steps:
        if not 0 <= int(value) < model.schedule.timesteps:
            raise ConfigError(
                f"Start steps must lie in 0..{model.schedule.timesteps - 1}, not {value}."
            )
    return [steps[0], *(int(v) for v in start_steps)]


def fine_timesteps(start: int, stride: int = 1) -> list[int]:
    """The t evaluated at a scale ≥ 1 entered at T[s] = `start`: start − 1, start − 1 − stride, …,
    always ending at 0 (DDIM's sub-sequence; stride 1 is the reference's every step)."""
    if stride < 1:
        raise ConfigError(f"The fine-scale stride must be at least 1, not {stride}.")
    steps = list(range(start - 1, -1, -stride))
    if steps and steps[-1] != 0:
        steps.append(0)
    return steps


def sampling_work(
    sizes: Sequence[tuple[int, int]],
    starts: Sequence[int],
    injection: Injection | None = None,
    fine_stride: int = 1,
    coarse_stride: int = 1,
) -> list[float]:
    """Work of one sample's steps, scale by scale (steps × pixels; 0 before an injection).

    A step at a fine scale costs more than one at a coarse scale, so progress and time-left
    estimates weight each step by its pixel count.
    """
    starts = list(starts)
    first = 0
    if injection is not None:
        first, starts[injection.scale] = injection.scale, injection.start_step
    return [
        float(_evaluations(t, s > 0 or injection is not None, fine_stride, coarse_stride) * w * h)
        if s >= first
        else 0.0
        for s, (t, (w, h)) in enumerate(zip(starts, sizes, strict=True))
    ]


def _evaluations(start: int, fine: bool, stride: int, coarse_stride: int = 1) -> int:
    """Steps yielded at a scale entered at T[s] = `start`: its denoiser calls (the fine stride
    at scales ≥ 1 and injections, the coarse stride at scale 0 from noise), or the one step that
    passes x̃ through unchanged when T[s] = 0 leaves nothing to denoise."""
    return max(1, len(fine_timesteps(start, stride if fine else coarse_stride)))


def iter_sample(
    model: DiffusionModel,
    count: int = 1,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    multipliers: tuple[float, float] | None = None,
    options: SamplingOptions = PLAIN_SAMPLING,
    reblur: bool = True,
    guidance: Sequence[X0Guidance] = (),
    last_scale: int | None = None,
    injection: Injection | None = None,
    rules: CanvasRules | None = None,
    sizes: Sequence[tuple[int, int]] | None = None,
) -> Iterator[SampleStep]:
    """Generate `count` samples, yielding after every denoiser evaluation.

    Sample i is drawn with its own generator seeded `seed + i`, so it is the same whether it is
    made alone or in a batch. The canvas is `size` or `multipliers` of the training size
    (`canvas_sizes`), or `sizes`, every scale's (W, H) as a plan already worked them out (fewer
    than the model's scales: the run stops at the last one given).
    `options` holds ω, the start steps and the speed options (module docstring); plain DDPM
    steps at the finer scales (`reblur=False`, as the reference's CLIP modes) always take every
    step. `last_scale` stops early (e.g. 0 for a quick coarse preview while training).
    `injection` starts from an image at one scale instead of from noise. `rules` makes the
    canvas tile or mirror (core.method.canvas). No autograd graph is built unless guidance
    builds its own.
    """
    if count < 1:
        raise ConfigError(f"The number of samples must be at least 1, not {count}.")
    if sizes is None:
        sizes = canvas_sizes(model.sizes, size, multipliers)
    else:
        _check_canvas(list(sizes))
    sizes = list(sizes)
    if last_scale is not None:
        sizes = sizes[: last_scale + 1]
    starts = resolve_start_steps(model, options.start_steps)[: len(sizes)]
    first = 0
    if injection is not None:
        check_injection(injection, len(sizes), model.schedule.timesteps)
        first = injection.scale
        starts[first] = injection.start_step
    fine_stride = options.fine_stride if reblur else 1
    total = sum(
        _evaluations(start, s > 0 or injection is not None, fine_stride, options.coarse_stride)
        for s, start in enumerate(starts)
        if s >= first
    )
    runner = _Sampler(model, count, seed, options, reblur, list(guidance), total)
    runner.rules = rules or NO_RULES
    model.start_run()
    yield from runner.run(sizes, starts, injection)


def detail_run(
    model: DiffusionModel,
    base: torch.Tensor,
    seeds: Sequence[int],
    sizes: Sequence[tuple[int, int]],
    stride: int,
    guidance: Sequence[X0Guidance] = (),
    rules: CanvasRules | None = None,
) -> Iterator[SampleStep]:
    """Run scales 1 … N−1 of `model` (the detail scales of docs/method.md §12) as finer scales
    of §5, from finished samples `base` (B, 3, h, w) in [-1, 1] instead of a scale 0: x̃ of
    scale 1 is `base` upsampled. `sizes` are the (W, H) canvases of scales 1 … N−1, `seeds` each
    image's noise seed, `stride` the fine stride; `guidance` sees scales 1 … N−1 and `rules`
    tile or mirror the canvas as in `iter_sample`. The model's state for the run (`start_run`,
    anything else it needs) is the caller's to set up."""
    starts = list(model.schedule.start_steps)
    total = sum(_evaluations(starts[s], True, stride) for s in range(1, len(starts)))
    detail_options = SamplingOptions(fine_stride=stride)
    runner = _Sampler(model, len(seeds), 0, detail_options, True, list(guidance), total)
    runner.rules = rules or NO_RULES
    runner.generators = [make_generator(runner.device, seed) for seed in seeds]
    runner.output = base.to(runner.device)
    for scale, size in enumerate(sizes, start=1):
        yield from runner.finer_scale(runner.upsample(runner.output, size), scale, starts[scale])


def check_injection(injection: Injection, num_scales: int, timesteps: int) -> None:
    """Refuse an injection scale or step the model does not have, in plain words."""
    if not 0 <= injection.scale < num_scales:
        raise ConfigError(
            f"The injection scale must lie in 0..{num_scales - 1} (this model has {num_scales} "
            f"scales, {num_scales - 1} the finest), not {injection.scale}."
        )
    if not 1 <= injection.start_step < timesteps:
        raise ConfigError(
            f"The injection step t must lie in 1..{timesteps - 1}, not {injection.start_step}."
        )


def sample(model: DiffusionModel, **kwargs) -> torch.Tensor:
    """Drain `iter_sample` and return the samples, (B, 3, H, W) in [-1, 1]."""
    result = None
    for step in iter_sample(model, **kwargs):
        result = step.x0_pred
    assert result is not None
    return result


NO_RULES = CanvasRules()


class _Sampler:
    """State of one sampling run: per-sample generators, schedule constants, progress count,
    and the canvas rules (tiles, mirror: core.method.canvas) every step keeps."""

    rules: CanvasRules = NO_RULES

    def __init__(
        self,
        model: DiffusionModel,
        count: int,
        seed: int,
        options: SamplingOptions,
        reblur: bool,
        guidance: list[X0Guidance],
        total: int,
    ):
        """`total` is the number of steps the run yields (for progress)."""
        self.model = model
        self.device = model.device
        self.schedule = model.schedule
        self.alpha_bar = [float(v) for v in model.schedule.alpha_bar]
        self.generators = [make_generator(self.device, seed + i) for i in range(count)]
        self.omega = options.omega
        self.reblur = reblur
        self.guidance = guidance
        self.total = total
        self.index = 0
        self.coarse_stride = options.coarse_stride
        self.fine_stride = options.fine_stride if reblur else 1
        self.bf16 = options.bf16 and bf16_supported(model.device)
        self._padded: tuple[torch.Tensor, torch.Tensor] | None = None

    def noise(self, height: int, width: int) -> torch.Tensor:
        """(B, 3, H, W) standard normal noise, each sample from its own generator (mirrored
        when the canvas is)."""
        noise = torch.cat([randn((1, 3, height, width), g, self.device) for g in self.generators])
        return self.rules.project(noise)

    def upsample(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """x̃^s = x̂₀^{s−1}↑ (Algorithm 2, line 15): bilinear, no antialias, as the reference;
        across the wrapped edges of a tile."""
        if self.rules.wraps:
            return self.rules.upsample(image, size)
        width, height = size
        return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)

    def run(
        self, sizes: list[tuple[int, int]], starts: list[int], injection: Injection | None
    ) -> Iterator[SampleStep]:
        if injection is None:
            width, height = sizes[0]
            yield from self.coarsest_scale(self.noise(height, width), starts[0])
            first = 1
        else:
            width, height = sizes[injection.scale]
            image = F.interpolate(
                injection.image.to(self.device),
                size=(height, width),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            ).expand(len(self.generators), -1, -1, -1)
            # γ is forced to 0 at the injection scale (docs/method.md §8): DDIM from the image.
            yield from self.finer_scale(image, injection.scale, starts[injection.scale], True)
            first = injection.scale + 1
        for scale in range(first, len(sizes)):
            blurry = self.upsample(self.output, sizes[scale])
            yield from self.finer_scale(blurry, scale, starts[scale])

    def step(self, scale: int, t: int, x0_pred: torch.Tensor) -> SampleStep:
        self.index += 1
        return SampleStep(scale, t, self.index, self.total, x0_pred)

    def predict_eps(
        self,
        x: torch.Tensor,
        t: int,
        scale: int,
        blurry: torch.Tensor | None = None,
        gamma: float = 0.0,
    ) -> torch.Tensor:
        if self.rules.wraps:  # the denoiser sees the canvas wrapped around its tiled edges
            padded = self._denoise(self.rules.pad(x), t, scale, self._pad_once(blurry), gamma)
            return self.rules.crop(padded, x)
        return self._denoise(x, t, scale, blurry, gamma)

    def _denoise(self, x, t, scale, blurry, gamma) -> torch.Tensor:
        with torch.no_grad(), torch.autocast(x.device.type, torch.bfloat16, enabled=self.bf16):
            return self.model.predict_eps(x, t, scale, blurry, gamma).float()

    def _pad_once(self, blurry: torch.Tensor | None) -> torch.Tensor | None:
        """x̃ padded as the canvas, once per scale: the same tensor at every step tells a
        denoiser that keeps state per x̃ (Instant's candidates) that the scale goes on."""
        if blurry is None:
            return None
        if self._padded is None or self._padded[0] is not blurry:
            self._padded = (blurry, self.rules.pad(blurry))
        return self._padded[1]

    def constrain(
        self, x: torch.Tensor, x0_pred: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The state and x̂₀ after a step, kept symmetric when the canvas mirrors."""
        return self.rules.project(x), self.rules.project(x0_pred)

    def guide(self, x0_pred: torch.Tensor, scale: int, t: int) -> torch.Tensor:
        for guidance in self.guidance:
            x0_pred = guidance.apply(x0_pred, scale, t)
        return x0_pred

    def coarsest_scale(self, x: torch.Tensor, start: int) -> Iterator[SampleStep]:
        """Scale 0: ancestral DDPM from pure noise, t = T[0]−1 .. 0 (docs/method.md §5), every
        `coarse_stride`-th step (respaced DDPM) when that is above 1."""
        self.output = x
        timesteps = fine_timesteps(start, self.coarse_stride)
        for t, t_next in zip(timesteps, [*timesteps[1:], -1], strict=True):
            x, x0_pred = self.constrain(*self.ddpm_step(x, t, 0, t_next))
            self.output = x0_pred
            yield self.step(0, t, x0_pred)

    def ddpm_step(
        self, x: torch.Tensor, t: int, scale: int, t_next: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x_t -> x_{t_next} by the DDPM posterior q(x_{t_next} | x_t, x̂₀); returns
        (x_{t_next}, x̂₀). t_next = t − 1 is the reference; lower values respace the chain
        (Nichol & Dhariwal 2021): β becomes 1 − ᾱ_t/ᾱ_{t_next}."""
        t_next = t - 1 if t_next is None else t_next
        ab, ab_prev = self.alpha_bar[t], self.schedule.alpha_bar_prev(t_next + 1)
        beta = float(self.schedule.betas[t]) if t_next == t - 1 else 1 - ab / ab_prev
        eps = self.predict_eps(x, t, scale)
        x0_pred = (math.sqrt(1 / ab) * x - math.sqrt(1 / ab - 1) * eps).clamp(-1, 1)
        x0_pred = self.guide(x0_pred, scale, t)
        coef_x0 = beta * math.sqrt(ab_prev) / (1 - ab)
        coef_xt = (1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab)
        mean = coef_x0 * x0_pred + coef_xt * x
        if t == 0:
            return mean, x0_pred
        variance = beta * (1 - ab_prev) / (1 - ab)
        return mean + math.sqrt(variance) * self.noise(*x.shape[-2:]), x0_pred

    def finer_scale(
        self, blurry: torch.Tensor, scale: int, start: int, zero_gamma: bool = False
    ) -> Iterator[SampleStep]:
        """Scale s ≥ 1: noise x̃^s once to index T[s], then denoise t = T[s]−1 .. 0."""
        ab_start = self.alpha_bar[start] if start > 0 else 1.0
        noise = self.noise(*blurry.shape[-2:])
        x = math.sqrt(ab_start) * blurry + math.sqrt(1 - ab_start) * noise  # Alg. 2, line 17
        self.output = blurry
        if start == 0:
            # T[s] = 0 (e.g. --start-steps 0): no noise and nothing to denoise, x̂₀ is x̃ itself.
            # One step still reports it, so that every scale ends with its output at t = 0.
            self.output = blurry.clamp(-1, 1)
            yield self.step(scale, 0, self.output)
            return
        if not self.reblur:
            for t in range(start - 1, -1, -1):
                x, x0_pred = self.constrain(*self.ddpm_step(x, t, scale))
                self.output = x0_pred
                yield self.step(scale, t, x0_pred)
            return
        timesteps = fine_timesteps(start, self.fine_stride)
        for t, t_next in zip(timesteps, [*timesteps[1:], -1], strict=True):
            x, x0_pred = self.constrain(*self.reblur_step(x, blurry, t, scale, zero_gamma, t_next))
            self.output = x0_pred
            yield self.step(scale, t, x0_pred)

    def reblur_step(
        self,
        x: torch.Tensor,
        blurry: torch.Tensor,
        t: int,
        scale: int,
        zero_gamma: bool = False,
        t_next: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference's reblurring update (docs/method.md §5; Alg. 2, lines 6 and 11-12 with
        ω), from x_t to x_{t_next}; t_next = t − 1 is the reference, lower values skip steps as
        DDIM."""
        t_next = t - 1 if t_next is None else t_next
        ab, ab_prev = self.alpha_bar[t], self.schedule.alpha_bar_prev(t_next + 1)
        gamma = 0.0 if zero_gamma else self.schedule.sampling_gamma(scale, t)
        eps = self.predict_eps(x, t, scale, blurry, gamma)
        mixed_pred = math.sqrt(1 / ab) * x - math.sqrt(1 / ab - 1) * eps
        x0_pred = (mixed_pred - gamma * blurry) / (1 - gamma)  # deblur (Alg. 2, line 6)
        x0_pred = self.guide(x0_pred, scale, t)
        if t == 0:
            return x0_pred.clamp(-1, 1), x0_pred.clamp(-1, 1)
        gamma_prev = 0.0 if zero_gamma else self.schedule.sampling_gamma(scale, t_next)
        mixed_prev = (gamma_prev * blurry + (1 - gamma_prev) * x0_pred).clamp(-1, 1)
        mixed_pred = mixed_pred.clamp(-1, 1)
        variance = self.omega * (1 - ab_prev)
        # DDIM-style: keep the predicted noise direction, add fresh noise of variance v = ω(1−ᾱ).
        eps_dir = (x - math.sqrt(ab) * mixed_pred) / math.sqrt(1 - ab)
        x = math.sqrt(ab_prev) * mixed_prev + math.sqrt(max(1 - ab_prev - variance, 0.0)) * eps_dir
        if variance > 0:
            x = x + math.sqrt(variance) * self.noise(*x.shape[-2:])
        return x, x0_pred.clamp(-1, 1)
