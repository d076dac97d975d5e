"""Named training presets: the reference settings and shorter ones for CPUs and quick tries.

A preset fixes what the model is (width, pixel cap) and how long it trains. Shorter presets keep
the reference's learning-rate halvings and EMA start at the same *fractions* of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.config import REFERENCE_MILESTONES, ModelConfig, TrainConfig

REFERENCE_STEPS = 120_001
REFERENCE_EMA_START = 2000


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    model: ModelConfig
    steps: int
    batch_size: int
    bf16: bool = False
    """Train under bfloat16 autocast where the device has native bf16 (ignored elsewhere)."""
    milestone_fractions: tuple[float, ...] | None = None
    """Where the LR halvings fall, as fractions of the run; None: the reference's fractions."""
    distill: float = 0.0
    """TrainConfig.distill: the share of each batch on the closed-form target (0: none)."""
    distill_until: float = 1.0
    """TrainConfig.distill_until: the fraction of the run it lasts."""

    def train_config(self, steps: int | None = None, batch_size: int | None = None) -> TrainConfig:
        """The preset's schedule fitted to `steps` and `batch_size` (None: the preset's own; 0
        is not None and is refused by `TrainConfig`, never read as "the default")."""
        steps = self.steps if steps is None else steps
        batch_size = self.batch_size if batch_size is None else batch_size
        fitted = fitted_train_config(steps, batch_size, self.milestone_fractions)
        return replace(fitted, distill=self.distill, distill_until=self.distill_until)


LATE_DECAY = (0.5, 0.6, 0.7, 0.8, 0.9)
"""LR halvings for short CPU runs: the full rate for half the run, then five halvings. The
reference's fractions (1/6, 1/3, …) leave a short run at a small rate for most of its steps."""


def fitted_train_config(
    steps: int, batch_size: int, milestone_fractions: tuple[float, ...] | None = None
) -> TrainConfig:
    """The reference schedule fitted to `steps`: LR halvings, EMA start and EMA horizon keep the
    same *fractions* of the run (or the halvings fall at `milestone_fractions` of it).

    The reference averages with decay 0.995 every 10 steps, a horizon of 2,000 steps (1.7% of
    120,001). Kept as is, a 600-step run would end with EMA weights still close to those of its
    first steps, so shorter runs update every step with decay 1 − 1/h, h = 1.7% of the run.
    """
    if steps >= REFERENCE_STEPS:
        return TrainConfig(steps=steps, batch_size=batch_size)
    fraction = steps / REFERENCE_STEPS
    if milestone_fractions is None:
        milestones = tuple(max(1, round(m * fraction)) for m in REFERENCE_MILESTONES)
    else:
        milestones = tuple(max(1, round(f * steps)) for f in milestone_fractions)
    reference = TrainConfig()
    horizon = reference.ema_every / (1 - reference.ema_decay) * fraction
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr_milestones=milestones,
        ema_start=max(1, round(REFERENCE_EMA_START * fraction)),
        ema_every=1,
        ema_decay=max(0.0, 1 - 1 / max(horizon, 1.0)),
    )


REFINE_BAND = 0.25
"""The refine preset's ModelConfig.refine: the network takes the last quarter of each finer
scale's steps (docs/method.md §11; docs/quality.md measures 0.1-0.25 and weights 0.3-0.7).
It trains in float32: in bfloat16 the network's input x_t would be rounded by about 0.4%,
a sixth of the noise it must find at t = 0 (σ_0 = 0.025)."""


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "reference",
            "Reference (paper)",
            "The authors' settings: width 160, batch 32, 120,001 steps. Hours on a GPU.",
            ModelConfig(),
            REFERENCE_STEPS,
            32,
        ),
        Preset(
            "fast",
            "Fast (GPU)",
            "Width 160, batch 32, 10,000 steps in bf16: about 5 minutes on an H100.",
            ModelConfig(),
            10_000,
            32,
            bf16=True,
        ),
        Preset(
            "cpu",
            "CPU",
            "Width 32, batch 8, images up to 20,000 pixels, 2,200 steps (bf16 where the CPU "
            "has it, the learning rate halved late): about half an hour on 2 cores.",
            ModelConfig(dim=32, max_pixels=20_000),
            2_200,
            8,
            bf16=True,
            milestone_fractions=LATE_DECAY,
        ),
        Preset(
            "refine",
            "Refine Instant (CPU)",
            "Width 32, 600 steps, up to 20,000 pixels: a network that finishes Instant's last "
            "steps — Instant's layout, fewer pieces copied from the photo — in under a third of "
            "the CPU preset's time. More steps bring it closer to Instant, copies included.",
            ModelConfig(dim=32, max_pixels=20_000, refine=REFINE_BAND),
            # the first step count whose coherence is within Instant's spread; longer runs
            # converge on Instant, copies included (docs/quality.md, steps to quality)
            600,
            8,
            milestone_fractions=LATE_DECAY,
        ),
        Preset(
            "tiny",
            "Tiny (a quick look)",
            "Width 16, batch 4, images up to 8,000 pixels, 300 steps: a minute on a CPU.",
            ModelConfig(dim=16, max_pixels=8_000),
            300,
            4,
        ),
    )
}


def default_preset_name(device: object) -> str:
    """The preset to offer first on `device` (a torch.device or its name, 'cuda:1'): `fast` on a
    CUDA GPU, `refine` anywhere else (an Apple GPU runs the width-160 network far slower than a
    CUDA card, and on a CPU the `cpu` preset's network loses the layout: docs/quality.md).
    No torch import: the GUI's view-model reads the presets."""
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    return "fast" if kind == "cuda" else "refine"
