"""The limits every front end and file check shares, defined once (torch-free, like requests).

`GenerationRequest` checks itself against these; the command line, the app and the model-file
checks use the same names, so a seed or a canvas that one accepts the others accept too.
"""

from __future__ import annotations

from core.errors import ConfigError

SEED_MIN = 0
SEED_MAX = 2**63 - 1
"""Seeds are whole numbers 0 … 2⁶³ − 1: torch.Generator.manual_seed takes every one of them, and
they fit the signed 64-bit integers that files and most widgets hold. Image i of a run uses
seed + i, so a run of n images starts at SEED_MAX − (n − 1) at the most."""

MAX_CANVAS_PIXELS = 4096 * 4096
"""The largest canvas the sampler draws, in pixels (the model's finest scale of a sample).
Detail scales reach larger outputs from it (docs/method.md §12)."""

MIN_MODEL_PIXELS = 42 * 42
"""A model's pixel cap is at least a 42×42 image: smaller has too few scales to sample."""
MAX_TIMESTEPS = 1_000
"""The method uses T = 100 diffusion steps (docs/method.md §2). Ten times that is headroom; more
would only make sampling take hours (a sample costs up to N·T network evaluations, §5)."""
MAX_DIM = 1_024
"""The reference network is 160 wide (docs/method.md §3)."""
MAX_SCALES = 32
"""A 250×200 image has 5 scales and a 20,000-pixel short side under 20 (docs/method.md §1)."""
MAX_STEPS = 100_000_000
"""About 800 times the reference's 120,001 training steps."""
MAX_BATCH = 4_096
"""The reference trains on 32 copies of the image per step."""


def check_seed(seed: int, count: int = 1, name: str = "The seed") -> None:
    """Raise ConfigError, naming the seed `name` ("--seed", "The seed"), unless seeds
    seed … seed + count − 1 are all valid."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{name} must be a whole number, not {seed!r}.")
    if not SEED_MIN <= seed <= SEED_MAX - (count - 1):
        run = "" if count == 1 else f" (its {count} images use seed … seed + {count - 1})"
        raise ConfigError(
            f"{name} {seed} is out of range{run}; use a whole number from 0 to 2^63 − 1."
        )


def check_canvas(width: int, height: int, what: str = "The output") -> None:
    """Raise ConfigError unless a width×height canvas is positive and within MAX_CANVAS_PIXELS."""
    if width < 1 or height < 1:
        raise ConfigError(f"{what} size must be positive, not {width}×{height}.")
    if width * height > MAX_CANVAS_PIXELS:
        raise ConfigError(
            f"{what} {width}×{height} is too large (at most {MAX_CANVAS_PIXELS:,} pixels)."
        )
