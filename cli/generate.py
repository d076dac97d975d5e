"""`sinddm sample`, `roi`, `text`, `style-transfer`, `harmonize`, `heal` and `extend`: one
request each, one path.

Every command builds a `core.requests.GenerationRequest` (with an edit for the editing ones),
and `write_images` runs it through `core.generation.plan.plan` and `core.generation.run.generate`,
the same calls the app makes, saving each batch before the next one starts. Where the images go
is checked first, by `output_paths`, before the model or anything else is loaded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

from cli.arguments import (
    MODEL_HELP,
    add_device_option,
    add_output_options,
    add_overwrite_option,
    add_pixel_cap_option,
    add_speed_options,
    check_counts,
    check_injection_arguments,
    check_text_arguments,
    parse_box,
    parse_multipliers,
    parse_size,
    parse_start_steps,
    parse_target,
    sampling_options,
)
from cli.progress_bar import progress_bar
from core.denoisers.protocol import DiffusionModel
from core.device import resolve_device
from core.errors import CheckpointWriteError, ConfigError
from core.files.model_file import FILE_SUFFIX
from core.files.open_model import is_model_file, open_diffusion_model
from core.generation.memory import ensure_plan_fits
from core.generation.plan import GenerationPlan, plan
from core.generation.run import GeneratedImages, generate
from core.imageio import ensure_writable, load_mask, recipe_metadata, save_png
from core.requests import (
    ANCHORS,
    CLIP_MODEL,
    DEFAULT_ROI_STRENGTH,
    HARMONIZATION_STEP,
    MIRROR_AXES,
    STYLE_TRANSFER_STEP,
    TEXT_MODES,
    TILE_AXES,
    Box,
    Edit,
    ExtendEdit,
    GenerationRequest,
    HarmonizeEdit,
    HealEdit,
    RegionsEdit,
    StyleTransferEdit,
    TextEdit,
)

# ------------------------------------------------------------------------------ shared path

OTHER_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
"""-o names with these suffixes are refused (they would have become folders)."""


def output_paths(output: Path, count: int, seed: int, overwrite: bool) -> list[Path]:
    """Where the images go: `output` itself for one .png, else `output/sample_seed<k>.png`.

    Checked before any work, creating nothing: the folder (or the nearest existing folder above
    a new one) must accept files, and no existing file is replaced unless `overwrite`; a model
    file never is.
    """
    if output.suffix.lower() in OTHER_IMAGE_SUFFIXES:
        raise ConfigError(
            f"{output.name} is not a PNG name: images are written as PNG, with the recipe "
            f"that makes them again. Use {output.with_suffix('.png').name}, or a folder."
        )
    if output.suffix.lower() == ".png":
        if count != 1:
            raise ConfigError(f"{output} is one file but -n is {count}; give a folder for -o.")
        if not output.parent.is_dir():
            raise ConfigError(f"The folder {output.parent} does not exist.")
        paths = [output]
    else:
        if output.exists() and not output.is_dir():
            raise ConfigError(f"{output} is a file; give a folder or a .png path for -o.")
        paths = [output / f"sample_seed{seed + i}.png" for i in range(count)]
    _check_writable(paths[0])
    check_replacements(paths, overwrite)
    return paths


def _check_writable(first: Path) -> None:
    """Probe the folder of the image `first`, or, when that folder is still to be created, the
    existing folder it would be created in."""
    folder = existing = first.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{existing} is a file, not a folder.")
    if existing == folder:
        ensure_writable(first, "image")
    else:
        ensure_writable(existing / folder.relative_to(existing).parts[0], "image folder")


def check_replacements(paths: Sequence[Path], overwrite: bool) -> None:
    """Refuse to write an image over a folder or a model, and over any other existing file
    unless `overwrite` (--overwrite)."""
    existing = [path for path in paths if path.exists()]
    for path in existing:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder; an image cannot replace it.")
        if path.suffix.lower() == FILE_SUFFIX or is_model_file(path):
            raise ConfigError(f"{path} is a model; an image never replaces it. Use another -o.")
    if existing and not overwrite:
        if len(existing) == 1:
            raise ConfigError(
                f"{existing[0]} already exists. Add --overwrite to replace it, or use another -o."
            )
        raise ConfigError(
            f"{existing[0]} and {len(existing) - 1} more of the images already exist. "
            "Add --overwrite to replace them, or use another -o or --seed."
        )


def create_folder(paths: Sequence[Path]) -> None:
    """Create the folder of `paths` (checked by `output_paths`) just before the first image."""
    folder = paths[0].parent if paths else None
    if folder is None or folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointWriteError(
            f"Could not create the folder {folder}: {exc.strerror or exc}."
        ) from None


def generated_batches(model: DiffusionModel, plan: GenerationPlan) -> Iterator[GeneratedImages]:
    """Run `plan`, drawing a `sample` bar weighted by pixel-steps; yield each finished batch."""
    total = sum(plan.work_per_sample()) * plan.request.count
    with progress_bar(total, "sample") as bar, closing(generate(model, plan)) as events:
        for event in events:
            if isinstance(event, GeneratedImages):
                yield event
            else:
                bar.advance(f"scale {event.scale} t {event.t:3d}", event.work_done - bar.n)


def write_images(
    model: DiffusionModel, plan: GenerationPlan, paths: Sequence[Path], overwrite: bool = False
) -> int:
    """Save every image of `plan` to `paths` (seed order, from `output_paths`) and print them;
    without `overwrite` an image that appeared meanwhile (another run) is not replaced."""
    ensure_plan_fits(model, plan, model.device)  # refuse before sampling into swap
    create_folder(paths)
    settings = {"engine": model.kind, **plan.settings(model.device)}
    for batch in generated_batches(model, plan):
        for image, seed, path in zip(batch.images, batch.seeds, paths[batch.first :], strict=False):
            recipe = recipe_metadata(seed, plan.size, settings)
            save_png(image, path, recipe, replace=overwrite)  # on disk before the next batch
    for path in paths:
        print(path)
    return 0


def open_model(path: str, device: str) -> DiffusionModel:
    """The model the user named (a model file, or a photo: Instant) on `device` ("auto", …)."""
    return open_diffusion_model(path, resolve_device(device))


def checked_outputs(args: argparse.Namespace) -> list[Path]:
    """-n, --batch and -o of `sample` and the editing commands, checked before any work."""
    check_counts(args)
    return output_paths(Path(args.output), args.count, args.seed, args.overwrite)


def write_edit(
    model: DiffusionModel,
    args: argparse.Namespace,
    edit: Edit,
    paths: Sequence[Path],
    size: tuple[int, int] | None = None,
) -> int:
    """The editing commands' tail: plan `edit` (checking boxes and images), then write."""
    request = GenerationRequest(
        count=args.count,
        seed=args.seed,
        size=size,
        edit=edit,
        batch=args.batch,
        max_pixels=args.max_pixels,
    )
    generation_plan = plan(model, request)
    return write_images(model, generation_plan, paths, args.overwrite)


# ----------------------------------------------------------------------------------- sample


def add_sample_parser(commands) -> None:
    p = commands.add_parser("sample", help="generate images from a trained model")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("-o", "--output", required=True, help="a .png file (one sample) or a folder")
    p.add_argument("-n", "--count", type=int, default=1, help="number of samples")
    p.add_argument("--size", type=parse_size, help="output size WxH in pixels, e.g. 512x200")
    p.add_argument("--scale", type=parse_multipliers, help="per-axis multipliers, e.g. 2x1")
    p.add_argument("--seed", type=int, default=0, help="sample i uses seed SEED+i")
    add_device_option(p)
    p.add_argument("--batch", type=int, default=8, help="samples computed together")
    p.add_argument("--omega", type=float, help="fresh noise at scales ≥ 1 (paper: 1; default 0)")
    p.add_argument(
        "--start-steps",
        type=parse_start_steps,
        help="T[s] for scales 1.., e.g. 54,43,33,24 (0: keep the upsampled coarser image)",
    )
    p.add_argument(
        "--tile",
        choices=TILE_AXES,
        help="repeat seamlessly: x (left to right), y (top to bottom) or both",
    )
    p.add_argument(
        "--mirror",
        choices=MIRROR_AXES,
        help="symmetric: x (the right half mirrors the left) or y (the bottom mirrors the top)",
    )
    add_speed_options(p)
    add_pixel_cap_option(p)
    add_overwrite_option(p)
    p.set_defaults(handler=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    GenerationRequest(tile=args.tile, mirror=args.mirror)  # a bad pair is refused at once
    paths = checked_outputs(args)
    model = open_model(args.model, args.device)
    request = GenerationRequest(
        count=args.count,
        seed=args.seed,
        size=args.size,
        multipliers=args.scale,
        options=sampling_options(args, model),
        batch=args.batch,
        max_pixels=args.max_pixels,
        tile=args.tile,
        mirror=args.mirror,
    )
    return write_images(model, plan(model, request), paths, args.overwrite)


# ---------------------------------------------------------------------------------- editing


def add_editing_parsers(commands) -> None:
    p = commands.add_parser("roi", help="place regions of the training image on a new canvas")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument(
        "--src", required=True, type=parse_box, help="source box x,y,w,h on the training image"
    )
    p.add_argument(
        "--dst",
        action="append",
        required=True,
        type=parse_target,
        help="target x,y[,w,h] on the canvas (repeat for more copies)",
    )
    p.add_argument("--strength", type=float, default=DEFAULT_ROI_STRENGTH, help="η of eq. (2)")
    p.add_argument("--size", type=parse_size, help="canvas size WxH (default: training size)")
    add_output_options(p)
    p.set_defaults(handler=cmd_roi)

    p = commands.add_parser("text", help="guide generation with a text prompt (CLIP)")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--prompt", required=True, help="what to add, e.g. 'fire' or 'Van Gogh'")
    p.add_argument("--mode", choices=TEXT_MODES, default="content")
    p.add_argument("--strength", type=float, help="η (content default 0.3; style 0.3)")
    p.add_argument("--fill", type=float, help="fill factor f for content (default 0.3)")
    p.add_argument("--box", type=parse_box, help="region mode: x,y,w,h on the training image")
    p.add_argument("--clip-model", default=CLIP_MODEL, help="open_clip model name")
    p.add_argument("--clip-weights", default="openai", help="open_clip tag or a local file")
    p.add_argument("--views", type=int, default=16, help="augmented views per step")
    p.add_argument("--size", type=parse_size, help="canvas size WxH (default: training size)")
    add_output_options(p)
    p.set_defaults(handler=cmd_text)

    p = commands.add_parser("style-transfer", help="redraw a content image in the model's style")
    p.add_argument(
        "model",
        help=f"a model of the style image ({FILE_SUFFIX}), or the style image itself",
    )
    p.add_argument("content", help="the content image")
    p.add_argument("--t", type=int, default=STYLE_TRANSFER_STEP, help="injection step (of 100)")
    p.add_argument("--at-scale", type=int, help="injection scale (default: the finest)")
    p.add_argument("--no-match", action="store_true", help="skip histogram matching")
    add_output_options(p)
    p.set_defaults(handler=cmd_style_transfer)

    p = commands.add_parser("harmonize", help="blend a pasted object into the model's image")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("composite", help="the image with the object pasted in")
    p.add_argument("--mask", required=True, help="the object's mask (alpha or white on black)")
    p.add_argument("--t", type=int, default=HARMONIZATION_STEP, help="injection step (of 100)")
    add_output_options(p)
    p.set_defaults(handler=cmd_harmonize)

    p = commands.add_parser("heal", help="fill a masked area of the photo from the rest of it")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument(
        "--mask",
        required=True,
        help="the area to fill: white on black (or opaque on transparent), the photo's size",
    )
    add_output_options(p)
    p.set_defaults(handler=cmd_heal)

    p = commands.add_parser("extend", help="keep the photo and generate a larger canvas around it")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument(
        "--size",
        required=True,
        type=parse_size,
        help="the canvas WxH in the photo's own pixels (sinddm info shows them), e.g. 4000x2000",
    )
    p.add_argument(
        "--anchor",
        choices=ANCHORS,
        default="center",
        help="where the photo sits on the canvas (default center)",
    )
    add_output_options(p)
    p.set_defaults(handler=cmd_extend)


def cmd_roi(args: argparse.Namespace) -> int:
    paths = checked_outputs(args)
    model = open_model(args.model, args.device)
    source = args.src
    pairs = tuple((source, Box.parse(text, size_from=source)) for text in args.dst)
    return write_edit(model, args, RegionsEdit(pairs, args.strength), paths, args.size)


def cmd_text(args: argparse.Namespace) -> int:
    note = check_text_arguments(args)
    paths = checked_outputs(args)  # where the images go is checked before anything else
    if note:
        print(note, file=sys.stderr)  # the weights will be downloaded first
        from core.generation.clip_weights import ensure_hub_reachable

        ensure_hub_reachable(args.clip_model, args.clip_weights)  # offline: one line, at once
    model = open_model(args.model, args.device)
    edit = TextEdit(
        prompt=args.prompt,
        mode=args.mode,
        strength=args.strength,
        fill=args.fill,
        box=args.box,
        clip_model=args.clip_model,
        clip_weights=args.clip_weights,
        views=args.views,
    )
    return write_edit(model, args, edit, paths, args.size)


def cmd_style_transfer(args: argparse.Namespace) -> int:
    paths = checked_outputs(args)
    model = open_model(args.model, args.device)
    check_injection_arguments(args, model)
    edit = StyleTransferEdit(
        content=args.content,
        content_name=Path(args.content).name,
        start_step=args.t,
        scale=args.at_scale,
        match=not args.no_match,
    )
    return write_edit(model, args, edit, paths)


def cmd_harmonize(args: argparse.Namespace) -> int:
    paths = checked_outputs(args)
    model = open_model(args.model, args.device)
    check_injection_arguments(args, model)
    edit = HarmonizeEdit(
        composite=args.composite,
        mask=args.mask,
        composite_name=Path(args.composite).name,
        start_step=args.t,
    )
    return write_edit(model, args, edit, paths)


def cmd_heal(args: argparse.Namespace) -> int:
    paths = checked_outputs(args)
    mask = load_mask(args.mask)  # a missing or damaged mask is named before the model loads
    model = open_model(args.model, args.device)
    return write_edit(model, args, HealEdit(mask, Path(args.mask).name), paths)


def cmd_extend(args: argparse.Namespace) -> int:
    edit = ExtendEdit(args.size, args.anchor)
    paths = checked_outputs(args)
    model = open_model(args.model, args.device)
    return write_edit(model, args, edit, paths)
