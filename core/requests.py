"""What to generate, as plain data: sampling options, edits and the request that holds them.

These types import neither torch nor PIL, so a GUI can build them on its own thread;
`core.generation.plan.plan` checks them against a model and loads any image files they name (in the
thread that generates). Images are given as an `ImageSource`: a file path, a PIL image or an
H×W×3 (masks: H×W or H×W×4) uint8 array.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field, replace
from typing import Any, Literal

from core.errors import ConfigError
from core.rules import check_canvas, check_seed

ImageSource = "str | os.PathLike[str] | Image.Image | np.ndarray"
"""A file path, a PIL image or a uint8 array (resolved by `core.generation.plan`)."""

TextMode = Literal["content", "style", "style-image", "region"]
TEXT_MODES: tuple[TextMode, ...] = ("content", "style", "style-image", "region")


def check_text_mode(mode: str) -> None:
    """Raise ConfigError unless `mode` is one of TEXT_MODES."""
    if mode not in TEXT_MODES:
        raise ConfigError(f"Unknown mode '{mode}'; choose one of {', '.join(TEXT_MODES)}.")


CLIP_MODEL = "ViT-B-32"
"""The CLIP of docs/method.md §7 (ViT-B/32)."""
DEFAULT_ROI_STRENGTH = 0.8
"""η of paper eq. (2) (hard-coded in the authors' code)."""
STYLE_TRANSFER_STEP = 15
HARMONIZATION_STEP = 5
DEFAULT_OUTPUT_PIXELS = 4_000_000
"""The default cap on an image's pixels: the photo comes back at its own resolution, shrunk to
at most this many pixels (docs/method.md §12)."""
TILE_AXES: tuple[str, ...] = ("x", "y", "both")
"""What `tile` may wrap: left to right, top to bottom, or both (docs/method.md §13)."""
MIRROR_AXES: tuple[str, ...] = ("x", "y")
"""`mirror` "x": the right half mirrors the left; "y": the bottom half mirrors the top."""
ANCHORS: tuple[str, ...] = (
    "center",
    "left",
    "right",
    "top",
    "bottom",
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
)
"""Where extend places the photo on its larger canvas."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: left x, top y, width w, height h."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def parse(cls, text: str, size_from: Box | None = None) -> Box:
        """'x,y,w,h', or 'x,y' taking the width and height of `size_from`."""
        try:
            values = [int(v) for v in text.split(",")]
        except ValueError:
            raise ConfigError(f"'{text}' is not a box like 10,20,64,48.") from None
        if len(values) == 2 and size_from is not None:
            values += [size_from.w, size_from.h]
        if len(values) != 4:
            raise ConfigError(f"'{text}' needs four numbers x,y,w,h.")
        return cls(*values)

    def scaled(self, factor: float) -> Box:
        """Every coordinate multiplied by `factor` and truncated, as the reference does."""
        return Box(*(int(v * factor) for v in (self.x, self.y, self.w, self.h)))

    def check_inside(self, width: int, height: int, what: str) -> None:
        if self.w <= 0 or self.h <= 0:
            raise ConfigError(f"The {what} box {self} is empty.")
        if self.x < 0 or self.y < 0 or self.x + self.w > width or self.y + self.h > height:
            raise ConfigError(
                f"The {what} box (x {self.x}, y {self.y}, {self.w}×{self.h}) does not fit "
                f"inside the {width}×{height} image."
            )


@dataclass(frozen=True)
class SamplingOptions:
    """How the sampler runs (docs/method.md §5), apart from what to make.

    `fine_stride` k > 1 evaluates every k-th step at the scales ≥ 1, `coarse_stride` every k-th
    at scale 0 (respaced DDPM), and `bf16` autocasts the denoiser where the device has native
    bf16 (all three trade a little exactness for speed); `omega` = 1 is the paper's
    Algorithm 2 (0: the authors' code); `start_steps` overrides T[s] for the scales 1..N−1.
    """

    fine_stride: int = 1
    bf16: bool = False
    omega: float = 0.0
    start_steps: tuple[int, ...] | None = None
    coarse_stride: int = 1

    def __post_init__(self) -> None:
        if self.fine_stride < 1:
            raise ConfigError(f"The fine-scale stride must be at least 1, not {self.fine_stride}.")
        if self.coarse_stride < 1:
            raise ConfigError(
                f"The coarse-scale stride must be at least 1, not {self.coarse_stride}."
            )
        if not 0.0 <= self.omega <= 1.0:
            raise ConfigError(f"omega must lie between 0 and 1, not {self.omega}.")

    @property
    def fast(self) -> bool:
        return self.fine_stride > 1 or self.coarse_stride > 1 or self.bf16


PLAIN_SAMPLING = SamplingOptions()
FAST_SAMPLING = SamplingOptions(fine_stride=2, bf16=True)
"""Fast sampling with a trained network: every 2nd step at the finer scales, bf16 where native."""
STRIDED_FAST_FACTOR = 2
"""Fast sampling with a denoiser that already skips steps by default (Instant, and a network
that refines Instant) multiplies its own strides by this: every 8th step at the coarsest scale
and every 4th at the finer ones instead of every 4th and 2nd (half the denoiser calls). Not yet
held to the quality bar: the layout differs more from the same seed's default image than a
trained model's Fast does. bf16 stays off: in a one-off timing the closed form's distances ran
slower under bf16 autocast, even on a CPU with native bf16."""
DenoiserKind = Literal["trained", "instant", "refined", "detail"]
"""What kind of denoiser a model is; "detail" draws the detail scales (docs/method.md §12)."""


def fast_sampling(kind: DenoiserKind, default: SamplingOptions) -> SamplingOptions:
    """What "Fast sampling" means for a denoiser of `kind` whose own options are `default`:
    FAST_SAMPLING for a trained network, the denoiser's strides × STRIDED_FAST_FACTOR for
    Instant and a refiner (their defaults are strided already, docs/method.md §9 and §11)."""
    if kind == "trained":
        return FAST_SAMPLING
    return replace(
        default,
        fine_stride=default.fine_stride * STRIDED_FAST_FACTOR,
        coarse_stride=default.coarse_stride * STRIDED_FAST_FACTOR,
    )


@dataclass(frozen=True)
class RegionsEdit:
    """Regions of the training image placed on the canvas (paper eq. 2; docs/method.md §6).

    `pairs` holds (source box on the training image, target box on the canvas), both in
    finest-scale pixels; `strength` is η.
    """

    pairs: tuple[tuple[Box, Box], ...]
    strength: float = DEFAULT_ROI_STRENGTH

    def describe(self) -> dict:
        boxes = [[list(astuple(s)), list(astuple(t))] for s, t in self.pairs]
        return {"edit": "regions", "regions": boxes, "strength": self.strength}


@dataclass(frozen=True)
class TextEdit:
    """A text prompt through CLIP (docs/method.md §7). `strength` and `fill` None take the
    mode's defaults; `box` (training-image pixels) is needed by the region mode."""

    prompt: str
    mode: TextMode = "content"
    strength: float | None = None
    fill: float | None = None
    box: Box | None = None
    clip_model: str = CLIP_MODEL
    clip_weights: str = "openai"
    views: int = 16

    def __post_init__(self) -> None:
        check_text_mode(self.mode)

    def describe(self) -> dict:
        return {
            "edit": "text",
            "prompt": self.prompt,
            "mode": self.mode,
            "strength": self.strength,
            "fill": self.fill,
        }


@dataclass(frozen=True, eq=False)
class StyleTransferEdit:
    """A content image redrawn with the model's textures (docs/method.md §8)."""

    content: Any = field(repr=False)
    """An ImageSource."""
    content_name: str = ""
    start_step: int = STYLE_TRANSFER_STEP
    scale: int | None = None
    """Injection scale; None is the finest, as the authors' code."""
    match: bool = True
    """Match the content's colour histograms to the training image first."""

    def describe(self) -> dict:
        settings: dict = {"edit": "style-transfer", "image": self.content_name}
        if self.scale is not None:
            settings["scale"] = self.scale
        return {**settings, "t": self.start_step}


@dataclass(frozen=True, eq=False)
class HarmonizeEdit:
    """An object pasted on a background, blended in (docs/method.md §8). `mask` marks the
    object by its alpha channel when it has one, otherwise by its brightness."""

    composite: Any = field(repr=False)
    """An ImageSource."""
    mask: Any = field(repr=False)
    """An ImageSource: alpha or brightness marks the object."""
    composite_name: str = ""
    start_step: int = HARMONIZATION_STEP

    def describe(self) -> dict:
        return {"edit": "harmonize", "image": self.composite_name, "t": self.start_step}


@dataclass(frozen=True, eq=False)
class HealEdit:
    """Fill the mask's white (or opaque) pixels from the rest of the photo, keeping every other
    pixel (docs/method.md §13). The mask is the photo's size; nothing under it is read."""

    mask: Any = field(repr=False)
    """An ImageSource: alpha, or else brightness above half, marks the pixels to fill."""
    mask_name: str = ""

    def describe(self) -> dict:
        return {"edit": "heal", "mask": self.mask_name}


@dataclass(frozen=True)
class ExtendEdit:
    """The photo kept exactly on a larger canvas, the rest generated around it (docs/method.md
    §13). `size` (W, H) is the canvas in the photo's own pixels (the image comes back shrunk
    under the request's pixel cap); `anchor` (ANCHORS) where the photo sits on it."""

    size: tuple[int, int]
    anchor: str = "center"

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            anchors = ", ".join(ANCHORS)
            raise ConfigError(f"Unknown anchor '{self.anchor}'; choose one of {anchors}.")
        width, height = self.size
        if width <= 0 or height <= 0:
            raise ConfigError(f"The canvas size must be positive, not {width}×{height}.")

    def describe(self) -> dict:
        return {"edit": "extend", "canvas": f"{self.size[0]}×{self.size[1]}", "anchor": self.anchor}


Edit = RegionsEdit | TextEdit | StyleTransferEdit | HarmonizeEdit | HealEdit | ExtendEdit


@dataclass(frozen=True)
class GenerationRequest:
    """What to make: `count` images with seeds seed … seed+count−1, computed `batch` at a time.

    Give the canvas as `size` (W, H) or as per-axis `multipliers`; neither means the photo's
    own resolution. Sizes and boxes are in the pixels of the photo at that resolution: the photo
    shrunk to at most `max_pixels` (None: DEFAULT_OUTPUT_PIXELS). Where that is larger than the
    model's finest scale, detail scales carry the photo's detail up to it (docs/method.md §12).
    Style transfer and harmonisation take their size from their image.
    """

    count: int = 1
    seed: int = 0
    size: tuple[int, int] | None = None
    multipliers: tuple[float, float] | None = None
    options: SamplingOptions | None = None
    """None: the model's own defaults (plain sampling for a trained model; Instant's are
    strided, docs/method.md §9)."""
    edit: Edit | None = None
    batch: int = 8
    max_pixels: int | None = None
    tile: str | None = None
    """Make the image repeat seamlessly: TILE_AXES (docs/method.md §13)."""
    mirror: str | None = None
    """Make the image symmetric: MIRROR_AXES."""

    @property
    def pixel_cap(self) -> int:
        """The cap on the output's pixels in effect."""
        return DEFAULT_OUTPUT_PIXELS if self.max_pixels is None else self.max_pixels

    def __post_init__(self) -> None:
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ConfigError(f"The pixel cap must be at least 1, not {self.max_pixels}.")
        if self.count < 1:
            raise ConfigError(f"The number of images must be at least 1, not {self.count}.")
        if self.batch < 1:
            raise ConfigError(f"The batch size must be at least 1, not {self.batch}.")
        if self.size is not None and self.multipliers is not None:
            raise ConfigError("Give either an output size or multipliers, not both.")
        if self.size is not None:
            check_canvas(*self.size)
        check_seed(self.seed, self.count)
        self._check_layout()

    def _check_layout(self) -> None:
        """Tile and mirror: known axes, never the same one, only where a canvas is drawn."""
        if self.tile is not None and self.tile not in TILE_AXES:
            raise ConfigError(f"Tile '{self.tile}'? Choose one of {', '.join(TILE_AXES)}.")
        if self.mirror is not None and self.mirror not in MIRROR_AXES:
            raise ConfigError(f"Mirror '{self.mirror}'? Choose one of {', '.join(MIRROR_AXES)}.")
        if self.mirror is not None and self.tile in ("both", self.mirror):
            raise ConfigError(
                f"Tile {self.tile} and mirror {self.mirror} act on the same axis: a tile "
                "wraps the image around that edge, a mirror reflects it there. Choose one "
                "per axis (for example --tile x --mirror y)."
            )
        editing = self.edit is not None and not isinstance(self.edit, RegionsEdit | TextEdit)
        if (self.tile or self.mirror) and editing:
            name = self.edit.describe()["edit"]  # type: ignore[union-attr]
            raise ConfigError(
                f"Tile and mirror make new images; {name} works on a given image and takes neither."
            )
