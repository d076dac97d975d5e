"""Typed, validated settings. `ModelConfig` defines a trained model; `TrainConfig` how to train it.

Defaults are the reference code's (docs/method.md §1–§4). Run-time choices (device, seed) live
elsewhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from core.errors import ConfigError
from core.rules import MAX_BATCH, MAX_DIM, MAX_STEPS, MAX_TIMESTEPS, MIN_MODEL_PIXELS

REFERENCE_MILESTONES = (20_000, 40_000, 70_000, 80_000, 90_000, 110_000)


@dataclass(frozen=True)
class ModelConfig:
    """What a trained model is: network width, diffusion length and pyramid rules."""

    dim: int = 160
    """Widest channel count of the denoiser (the reference's --dim)."""
    timesteps: int = 100
    """Diffusion steps T at the coarsest scale."""
    scale_factor: float = 1.411
    """Target pyramid factor; the actual factor r is re-fitted to the image (docs/method.md §1)."""
    max_pixels: int = 50_000
    """Pixel cap: larger images are shrunk to about this many pixels before training."""
    loss_factor: float = 1.0
    """λ_L in T[s] and γ (docs/method.md §2); the reference's dev option --loss_factor."""
    refine: float = 0.0
    """0: the network is the whole denoiser (the paper). 0 < r ≤ 1: the network refines Instant
    (docs/method.md §11): it learns only the finer scales' last r·T[s] steps, and sampling
    averages its ε̂ with Instant's there; Instant alone draws everything else."""
    refine_weight: float = 0.5
    """The network's weight w in that average, ε̂ = w·ε_θ + (1 − w)·ε* (§11); unused when
    `refine` is 0."""

    def __post_init__(self) -> None:
        _require(
            self.dim >= 2 and self.dim % 2 == 0, f"dim must be an even number ≥ 2, not {self.dim}"
        )
        _at_most(self.dim, MAX_DIM, "dim")
        _require(self.timesteps >= 2, f"timesteps must be at least 2, not {self.timesteps}")
        _at_most(self.timesteps, MAX_TIMESTEPS, "timesteps")
        _require(
            1.05 <= self.scale_factor <= 4.0,
            f"scale_factor must be between 1.05 and 4, not {self.scale_factor}",
        )
        _require(
            self.max_pixels >= MIN_MODEL_PIXELS,
            f"max_pixels must be at least {MIN_MODEL_PIXELS} (a 42×42 image), "
            f"not {self.max_pixels}",
        )
        _require(self.loss_factor > 0, f"loss_factor must be positive, not {self.loss_factor}")
        _require(
            0 <= self.refine <= 1,
            f"the refiner's band (refine) must be between 0 and 1, not {self.refine}",
        )
        _require(
            0 < self.refine_weight <= 1,
            f"the refiner's weight (refine_weight) must be above 0 and at most 1, "
            f"not {self.refine_weight}",
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the reference's schedule by default (docs/method.md §4)."""

    steps: int = 120_001
    """Total optimiser steps (the reference loop runs steps 0 .. 120,000)."""
    batch_size: int = 32
    """Copies of the full image per step, each with its own t and noise."""
    lr: float = 1e-3
    """Adam learning rate before the first halving."""
    lr_milestones: tuple[int, ...] = REFERENCE_MILESTONES
    """Steps at which the learning rate is multiplied by `lr_decay` (MultiStepLR)."""
    lr_decay: float = 0.5
    ema_decay: float = 0.995
    ema_every: int = 10
    """The EMA is updated on steps divisible by this."""
    ema_start: int = 2000
    """Before this step an EMA update copies the live weights instead of averaging."""
    loss_window: int = 100
    """Steps per entry of the loss history (mean L1 loss over the window)."""
    distill: float = 0.0
    """Share of each batch whose target is the closed-form posterior mean's noise instead of
    its own noise draw (docs/method.md §10). 0 is the reference's loss."""
    distill_until: float = 1.0
    """Fraction of the run after which every sample takes its own noise draw again (a
    curriculum); 1: the whole run."""

    def __post_init__(self) -> None:
        _require(self.steps >= 1, f"steps must be at least 1, not {self.steps}")
        _at_most(self.steps, MAX_STEPS, "steps")
        _require(self.batch_size >= 1, f"batch size must be at least 1, not {self.batch_size}")
        _at_most(self.batch_size, MAX_BATCH, "batch size")
        _require(0 < self.lr < 1, f"learning rate must be between 0 and 1, not {self.lr}")
        _require(0 < self.lr_decay <= 1, f"lr_decay must be in (0, 1], not {self.lr_decay}")
        _require(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), not {self.ema_decay}")
        _require(self.ema_every >= 1, f"ema_every must be at least 1, not {self.ema_every}")
        _require(self.loss_window >= 1, f"loss_window must be at least 1, not {self.loss_window}")
        _require(
            0 <= self.distill <= 1,
            f"the distilled share of a batch must be between 0 and 1, not {self.distill}",
        )
        _require(
            0 <= self.distill_until <= 1,
            f"distillation must stop between 0 and 1 of the run, not at {self.distill_until}",
        )
        object.__setattr__(self, "lr_milestones", tuple(sorted(int(m) for m in self.lr_milestones)))

    def lr_at(self, step: int) -> float:
        """Learning rate of 0-based step `step`: lr · decay^(milestones ≤ step), as MultiStepLR."""
        passed = sum(1 for milestone in self.lr_milestones if milestone <= step)
        return self.lr * self.lr_decay**passed

    def distilled_at(self, step: int) -> int:
        """How many samples of 0-based step `step`'s batch take the closed-form target."""
        if step >= self.distill_until * self.steps:
            return 0
        return round(self.distill * self.batch_size)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lr_milestones"] = list(self.lr_milestones)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = _known_fields(cls, data)
        if "lr_milestones" in known:
            known["lr_milestones"] = tuple(known["lr_milestones"])
        return cls(**known)


def uses_instant(model: ModelConfig, train: TrainConfig) -> bool:
    """Whether training and sampling use Instant: a refiner samples beside it (docs/method.md
    §11), distillation learns from it (§10); a model file then keeps Instant's settings."""
    return model.refine > 0 or train.distill > 0


def _at_most(value: float, limit: float, name: str) -> None:
    """The upper limits of core.rules, which the model-file checks share."""
    _require(value <= limit, f"{name} must be at most {limit:,}, not {value:,}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message[0].upper() + message[1:] + ".")


def _known_fields(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}
