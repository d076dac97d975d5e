"""The bad-input corpus: every `sinddm` command that reads an image or a model file, given files a
careless or hostile user might give it. Each file is made by code in a temporary folder (no
binary files are checked in).

Images that are unusual but valid (16-bit, float, transparent, palette, CMYK, animated,
EXIF-rotated, unicode or spaces in the name) work: a photo given as a model means Instant.
Everything else ends the command with exit status 2 and exactly one line on stderr, `error: …`,
never a traceback; no file that was there before the command changes or vanishes, and the
malicious models never run their code.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from cli.main import main
from core.config import ModelConfig, TrainConfig
from core.files.model_file import trainer_to_dict
from core.training.trainer import Trainer
from tests.conftest import ROOT

MARKER = "pwned.txt"
"""The file the malicious models' pickles would create if they were ever unpickled."""

TRAIN = ["--steps", "1", "--dim", "8", "--batch", "1", "--device", "cpu"]
"""A `train` that would finish in a second if it ever started."""

# ------------------------------------------------------------------------------ images


def _noise(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random H×W×3 uint8 picture (Instant needs some texture)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(height // 8, 2), max(width // 8, 2), 3), np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims `width`×`height` 1-bit grey pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _exif_rotated_jpeg() -> bytes:
    """A 64×48 JPEG whose EXIF orientation (6: turn 90° clockwise) makes it 48×64 upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encoded(Image.fromarray(_noise(64, 48, 3)), "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [Image.fromarray(_noise(64, 48, seed)).convert("P") for seed in range(3)]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def _palette_with_transparency() -> bytes:
    image = Image.fromarray(_noise(64, 48, 5)).convert("P")
    return _encoded(image, "PNG", transparency=0)


GOOD_IMAGES: dict[str, tuple[str, Callable[[], bytes], tuple[int, int]]] = {
    # case: (file name, its bytes, the size `info` reports)
    "16-bit grey PNG": (
        "deep.png",
        lambda: _encoded(Image.fromarray(_noise(64, 48)[..., 0].astype(np.uint16) * 257), "PNG"),
        (64, 48),
    ),
    "RGBA PNG": (
        "alpha.png",
        lambda: _encoded(
            Image.fromarray(np.dstack([_noise(64, 48, 1), _noise(64, 48, 2)[..., 0]])), "PNG"
        ),
        (64, 48),
    ),
    "palette PNG": ("palette.png", _palette_with_transparency, (64, 48)),
    "CMYK JPEG": (
        "cmyk.jpg",
        lambda: _encoded(Image.fromarray(_noise(64, 48, 4)).convert("CMYK"), "JPEG"),
        (64, 48),
    ),
    "animated GIF": ("moving.gif", _animated_gif, (64, 48)),
    "EXIF-rotated JPEG": ("rotated.jpg", _exif_rotated_jpeg, (48, 64)),
    "float TIFF": (
        "float.tif",
        lambda: _encoded(Image.fromarray(_noise(64, 48)[..., 0].astype(np.float32) / 255), "TIFF"),
        (64, 48),
    ),
    "unicode name": (
        "café ñ 图像.png",
        lambda: _encoded(Image.fromarray(_noise(64, 48, 6)), "PNG"),
        (64, 48),
    ),
    "spaces in the name": (
        "my photo (1).webp",
        lambda: _encoded(Image.fromarray(_noise(64, 48, 7)), "WEBP", lossless=True),
        (64, 48),
    ),
}


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BAD_IMAGES: dict[str, tuple[str, Callable[[], bytes] | None, str]] = {
    # case: (file name, its bytes (None: a folder), what the one error line says)
    "text": ("notes.png", lambda: b"not an image at all\n", "notes.png is"),
    "PDF": (
        "scan.pdf",
        lambda: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "scan.pdf is",
    ),
    "random bytes": ("noise.jpg", lambda: np.random.default_rng(1).bytes(4096), "noise.jpg is"),
    "truncated PNG": (
        "cut.png",
        lambda: _truncated(_encoded(Image.fromarray(_noise(96, 72)), "PNG")),
        "cut.png could not be read; it may be damaged",
    ),
    "truncated JPEG": (
        "cut.jpg",
        lambda: _truncated(_encoded(Image.fromarray(_noise(96, 72)), "JPEG")),
        "cut.jpg could not be read; it may be damaged",
    ),
    "zero bytes": ("empty.png", lambda: b"", "empty.png is"),
    "folder": ("folder.png", None, "folder.png is a folder"),
    "bomb": ("bomb.png", lambda: _png_claiming(30_000, 30_000), "bomb.png is too large to open"),
    "bomb below twice Pillow's limit": (
        "bomb-warning.png",
        lambda: _png_claiming(10_000, 10_000),
        "bomb-warning.png is too large to open",
    ),
    "no pixels": ("zero-size.png", lambda: _png_claiming(0, 0), "zero-size.png"),
    "too small": (
        "tiny.png",
        lambda: _encoded(Image.fromarray(_noise(20, 20)), "PNG"),
        "The image is 20×20 pixels",
    ),
    "long and thin": (
        "thin.png",
        lambda: _encoded(Image.new("RGB", (20_000, 20), (90, 120, 200)), "PNG"),
        "The image is 20000×20 pixels",
    ),
    "text with a line break in its name": ("two\nlines.png", lambda: b"text", "two lines.png is"),
    "missing": ("gone.png", None, "No file at"),
}


# ------------------------------------------------------------------------------ models


class _Malicious:
    """Unpickling this creates the marker file: what a hostile model file would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _tiny_model_data(tiny_image: Image.Image) -> dict:
    """A valid resumable model (width 8, two scales, one Adam step) as `torch.save` writes it."""
    trainer = Trainer.from_image(
        tiny_image, ModelConfig(dim=8), TrainConfig(steps=4, batch_size=1), "cpu", seed=0
    )
    trainer.train_step()
    return trainer_to_dict(trainer)


def _saved(data: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return buffer.getvalue()


def _foreign_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "holiday photos")
    return buffer.getvalue()


def _with_nan_weight(data: dict) -> dict:
    ema = dict(data["ema"])
    key = next(iter(ema))
    ema[key] = ema[key].clone()
    ema[key].view(-1)[0] = math.nan
    return {**data, "ema": ema}


BAD_MODELS: dict[str, tuple[str, Callable[[dict, Path], bytes] | None, str]] = {
    # case: (file name, its bytes from the valid model's data and the marker path (None: a
    # folder), what the one error line says where the file is opened as a model)
    "random bytes": (
        "corrupt.sinddm",
        lambda good, marker: np.random.default_rng(2).bytes(8192),
        "corrupt.sinddm is neither a SinDDM Studio model nor an image",
    ),
    "zero bytes": (
        "empty.sinddm",
        lambda good, marker: b"",
        "empty.sinddm is neither a SinDDM Studio model nor an image",
    ),
    "folder": ("dir.sinddm", None, "dir.sinddm is a folder, not a model file"),
    "truncated": (
        "truncated.sinddm",
        lambda good, marker: _truncated(_saved(good)),
        "truncated.sinddm is not a SinDDM Studio model, or the file is damaged",
    ),
    "another program's checkpoint": (
        "foreign.sinddm",
        lambda good, marker: _saved({"state_dict": {"conv.weight": torch.zeros(3, 3)}, "epoch": 7}),
        "foreign.sinddm is not a SinDDM Studio model (it may be a checkpoint of another program)",
    ),
    "a zip that is not a model": (
        "photos.zip",
        lambda good, marker: _foreign_zip(),
        "photos.zip is not a SinDDM Studio model, or the file is damaged",
    ),
    "malicious torch.save": (
        "evil.sinddm",
        lambda good, marker: _saved({"format": "sinddm-studio-model", "x": _Malicious(marker)}),
        "evil.sinddm is not a SinDDM Studio model, or the file is damaged",
    ),
    "malicious plain pickle": (
        "evil-pickle.sinddm",
        lambda good, marker: pickle.dumps(_Malicious(marker)),
        "evil-pickle.sinddm is neither a SinDDM Studio model nor an image",
    ),
    "model_config is text": (
        "config-text.sinddm",
        lambda good, marker: _saved({**good, "model_config": "dim=8"}),
        "config-text.sinddm is damaged: model_config is 'dim=8', not a table of values",
    ),
    "step is text": (
        "step-text.sinddm",
        lambda good, marker: _saved({**good, "step": "abc"}),
        "step-text.sinddm is damaged: step is 'abc', not a whole number",
    ),
    "start steps missing": (
        "no-start.sinddm",
        lambda good, marker: _saved({k: v for k, v in good.items() if k != "start_steps"}),
        "no-start.sinddm is incomplete: it lacks start_steps",
    ),
    "NaN weights": (
        "nan.sinddm",
        lambda good, marker: _saved(_with_nan_weight(good)),
        "nan.sinddm has weights that are not finite numbers (NaN or infinity)",
    ),
    "timesteps 10⁶": (
        "slow.sinddm",
        lambda good, marker: _saved(
            {**good, "model_config": {**good["model_config"], "timesteps": 10**6}}
        ),
        "slow.sinddm asks for 1,000,000 diffusion steps; SinDDM uses 100",
    ),
    "bad random-number state": (
        "rng.sinddm",
        lambda good, marker: _saved(
            {**good, "rng": {**good["rng"], "index": torch.zeros(10, dtype=torch.uint8)}}
        ),
        "rng.sinddm is damaged: its saved random-number state is not valid",
    ),
    "newer format": (
        "future.sinddm",
        lambda good, marker: _saved({**good, "format_version": 99}),
        "future.sinddm was written by a newer SinDDM Studio (format 99); please update",
    ),
}


# ------------------------------------------------------------------------------ the corpus


@dataclass(frozen=True)
class Corpus:
    """The folder of files every command is given; nothing in it may ever change."""

    folder: Path
    model: Path
    """A valid tiny model (96×72, two scales)."""
    image: Path
    """Its 96×72 training image, a valid composite and content image."""
    mask: Path
    """A 96×72 mask with an object in the middle."""
    samples: Path
    """A folder holding one valid sample (for `eval --samples`)."""

    @property
    def marker(self) -> Path:
        return self.folder / MARKER


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_image) -> Corpus:
    folder = tmp_path_factory.mktemp("corpus")
    good = _tiny_model_data(tiny_image)
    model, image, mask, samples = (
        folder / "good.sinddm",
        folder / "train.png",
        folder / "mask.png",
        folder / "samples",
    )
    model.write_bytes(_saved(good))
    tiny_image.save(image)
    object_mask = np.zeros((72, 96), np.uint8)
    object_mask[24:48, 32:64] = 255
    Image.fromarray(object_mask).save(mask)
    samples.mkdir()
    tiny_image.save(samples / "sample.png")
    for name, make, _ in GOOD_IMAGES.values():
        (folder / name).write_bytes(make())
    for name, make, _ in BAD_IMAGES.values():
        if make is not None:
            (folder / name).write_bytes(make())
        elif name != "gone.png":  # the missing file stays missing
            (folder / name).mkdir()
    for name, make_model, _ in BAD_MODELS.values():
        if make_model is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(make_model(good, folder / MARKER))
    return Corpus(folder, model, image, mask, samples)


# ------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class Result:
    code: int | str | None
    out: str
    err: str

    def assert_refused(self, message: str) -> str:
        """Exit status 2 and exactly one line on stderr, `error: …` containing `message`."""
        lines = [line for line in self.err.replace("\r", "\n").split("\n") if line.strip()]
        assert "Traceback" not in self.err + self.out, self.err
        assert self.code == 2, (self.code, self.err)
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        assert message in lines[0], lines[0]
        return lines[0]


def _hashes(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`: a file by its SHA-256."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        )
        for path in sorted(folder.rglob("*"))
    }


def _run(argv: list[str], corpus: Corpus, capsys) -> Result:
    """`sinddm ARGV` in this process; checks that the corpus is unchanged and the malicious
    models ran no code."""
    before = _hashes(corpus.folder)
    capsys.readouterr()
    try:
        code: int | str | None = main(argv)
    except SystemExit as exit:  # argparse's own exits
        code = exit.code
    captured = capsys.readouterr()
    after = _hashes(corpus.folder)
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    assert not changed, f"{argv} changed or removed {changed}"
    assert not corpus.marker.exists(), "a malicious model ran its code"
    return Result(code, captured.out, captured.err)


def _argv(template: list[str], corpus: Corpus, out: Path, **paths: Path) -> list[str]:
    names = {
        "model": corpus.model,
        "train": corpus.image,
        "mask": corpus.mask,
        "samples": corpus.samples,
        "out": out,
        **paths,
    }
    return [part.format(**{k: str(v) for k, v in names.items()}) for part in template]


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty folder for outputs (a refused command leaves it empty)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


FAST = ["--device", "cpu", "--fine-stride", "10", "--coarse-stride", "10"]
"""A sampling that takes a fraction of a second on the tiny model (docs/benchmarks.md)."""


# ------------------------------------------------------------------------------ valid images


@pytest.mark.parametrize("case", GOOD_IMAGES)
def test_unusual_valid_images_are_photos_for_instant(corpus, capsys, case):
    name, _, size = GOOD_IMAGES[case]
    result = _run(["info", str(corpus.folder / name), "--json"], corpus, capsys)
    assert result.code == 0 and result.err == "", result.err
    facts = json.loads(result.out)
    assert facts["kind"] == "instant" and facts["source_size"] == list(size)
    assert facts["file"] == str(corpus.folder / name)


@pytest.mark.parametrize(
    "case",
    ["unicode name", "spaces in the name", "EXIF-rotated JPEG", "CMYK JPEG", "16-bit grey PNG"],
)
def test_unusual_valid_images_sample(corpus, out, capsys, case):
    name, _, size = GOOD_IMAGES[case]
    target = out / f"{Path(name).stem}.png"
    result = _run(["sample", str(corpus.folder / name), "-o", str(target), *FAST], corpus, capsys)
    assert result.code == 0, result.err
    assert result.out.strip() == str(target)
    with Image.open(target) as written:
        assert written.size == size  # upright: the EXIF-rotated one is 48×64


def test_the_valid_model_of_the_corpus_works(corpus, out, capsys):
    """The crafted models differ from this one in one field each: the field is what fails."""
    result = _run(["info", str(corpus.model), "--json"], corpus, capsys)
    assert result.code == 0 and json.loads(result.out)["steps_trained"] == 1
    result = _run(["sample", str(corpus.model), "-o", str(out / "x.png"), *FAST], corpus, capsys)
    assert result.code == 0 and (out / "x.png").is_file()


# ------------------------------------------------------------------------------ bad images

IMAGE_COMMANDS: dict[str, list[str]] = {
    "info": ["info", "{image}"],
    "info --json": ["info", "{image}", "--json"],
    "sample": ["sample", "{image}", "-o", "{out}/x.png", *FAST],
    "eval": ["eval", "{image}", "-n", "1", *FAST],
    "eval --reference": ["eval", "--samples", "{samples}", "--reference", "{image}"],
    "eval --samples": ["eval", "--samples", "{image_folder}", "--reference", "{train}"],
    "harmonize --mask": [
        "harmonize",
        "{model}",
        "{train}",
        "--mask",
        "{image}",
        "-o",
        "{out}/h.png",
    ],
    "harmonize composite": [
        "harmonize",
        "{model}",
        "{image}",
        "--mask",
        "{mask}",
        "-o",
        "{out}/h.png",
    ],
    "style-transfer content": ["style-transfer", "{model}", "{image}", "-o", "{out}/s.png"],
    "style-transfer style": ["style-transfer", "{image}", "{train}", "-o", "{out}/s.png"],
    "roi": ["roi", "{image}", "--src", "0,0,20,20", "--dst", "30,30", "-o", "{out}/r.png"],
    "train": ["train", "{image}", "-o", "{out}/m.sinddm", *TRAIN],
}

NOT_BAD_FOR: dict[str, set[str]] = {
    # A 20×20 content image makes a 20×20 style transfer, and a small or thin training image
    # is a valid --reference.
    "too small": {"style-transfer content", "eval --reference"},
    "long and thin": {"eval --reference"},
    "missing": {"eval --samples"},  # nothing to put in the folder
}

MESSAGE_FOR = {
    # The content image is shrunk to the model's pixel cap first, and the canvas it gives is
    # too small; said with the shrunk size (one plain line all the same).
    ("long and thin", "style-transfer content"): "The output 7071×7 is too small",
    ("PDF", "eval --samples"): "samples holds no images",  # only image suffixes are measured
    # checked before any measuring: too small for the layout distance
    ("too small", "eval --samples"): "tiny.png is 20×20 pixels, too small to compare layouts",
    ("long and thin", "eval --samples"): "thin.png is 20000×20 pixels, too small to compare",
    ("too small", "harmonize --mask"): "The mask is 20×20 but the image is 96×72",
    ("too small", "harmonize composite"): "The mask is 96×72 but the image is 20×20",
    ("long and thin", "harmonize --mask"): "The mask is 20000×20 but the image is 96×72",
    ("long and thin", "harmonize composite"): "The mask is 96×72 but the image is 20000×20",
}

KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _image_cases():
    for case in BAD_IMAGES:
        for command in IMAGE_COMMANDS:
            if command in NOT_BAD_FOR.get(case, set()):
                continue
            marks = []
            if (case, command) in KNOWN_GAPS:
                marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[case, command], strict=True))
            yield pytest.param(case, command, id=f"{command}-{case}", marks=marks)


@pytest.mark.parametrize("case, command", list(_image_cases()))
def test_bad_image_is_one_plain_line(corpus, out, capsys, case, command):
    name, _, message = BAD_IMAGES[case]
    image = corpus.folder / name
    image_folder = out.parent / "samples"  # (not in `out`, which must stay empty)
    image_folder.mkdir()
    if image.is_dir():
        (image_folder / name).mkdir()
    elif image.exists():
        shutil.copy(image, image_folder / name)
    argv = _argv(IMAGE_COMMANDS[command], corpus, out, image=image, image_folder=image_folder)
    result = _run(argv, corpus, capsys)
    result.assert_refused(MESSAGE_FOR.get((case, command), message))
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------ bad models

MODEL_COMMANDS: dict[str, list[str]] = {
    "info": ["info", "{bad}"],
    "info --json": ["info", "{bad}", "--json"],
    "sample": ["sample", "{bad}", "-o", "{out}/x.png", *FAST],
    "eval": ["eval", "{bad}", "-n", "1", *FAST],
    "roi": ["roi", "{bad}", "--src", "0,0,20,20", "--dst", "30,30", "-o", "{out}/r.png"],
    "style-transfer": ["style-transfer", "{bad}", "{train}", "-o", "{out}/s.png"],
    "harmonize": ["harmonize", "{bad}", "{train}", "--mask", "{mask}", "-o", "{out}/h.png"],
    "train --resume": [
        "train",
        "{train}",
        "-o",
        "{bad}",
        "--resume",
        "--steps",
        "2",
        "--device",
        "cpu",
    ],
}

RESUME_MESSAGE = {
    # `train -o` takes only a .sinddm name, and reads the file as a model whatever it holds.
    "a zip that is not a model": "The model file name should end in .sinddm",
    "folder": "dir.sinddm is a folder; give a model file name for -o",
    "random bytes": "corrupt.sinddm is not a SinDDM Studio model, or the file is damaged",
    "zero bytes": "empty.sinddm is not a SinDDM Studio model, or the file is damaged",
    "malicious plain pickle": "evil-pickle.sinddm is not a SinDDM Studio model, or the file is",
}


@pytest.mark.parametrize("command", MODEL_COMMANDS)
@pytest.mark.parametrize("case", BAD_MODELS)
def test_bad_model_is_one_plain_line(corpus, out, capsys, case, command):
    name, _, message = BAD_MODELS[case]
    argv = _argv(MODEL_COMMANDS[command], corpus, out, bad=corpus.folder / name)
    result = _run(argv, corpus, capsys)
    if command == "train --resume":
        message = RESUME_MESSAGE.get(case, message)
    result.assert_refused(message)
    assert list(out.iterdir()) == []


def test_the_malicious_files_would_run_code_if_unpickled(tmp_path):
    """The payload is real: an unsafe load creates the marker (so the checks above can fail)."""
    for load in (
        lambda marker: pickle.loads(pickle.dumps(_Malicious(marker))),
        lambda marker: torch.load(io.BytesIO(_saved([_Malicious(marker)])), weights_only=False),
    ):
        marker = tmp_path / f"proof{len(list(tmp_path.iterdir()))}.txt"
        load(marker)
        assert marker.exists()


# ------------------------------------------------------------------------------ real processes


@pytest.mark.slow  # a separate process: run by .ci/run's second step
@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "{bad}", "-o", "{out}/x.png", "--device", "cpu"], "evil.sinddm is not a"),
        (["harmonize", "{model}", "{train}", "--mask", "{bomb}", "-o", "{out}/h.png"], "bomb.png"),
    ],
    ids=["malicious model", "bomb mask"],
)
def test_a_real_process_prints_one_line_and_exits_2(corpus, out, argv, message):
    """The console script as a user runs it (stderr as the terminal shows it), in the C locale."""
    paths = {"bad": corpus.folder / "evil.sinddm", "bomb": corpus.folder / "bomb.png"}
    before = _hashes(corpus.folder)
    process = subprocess.run(
        [sys.executable, "-m", "cli", *_argv(argv, corpus, out, **paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C", "LANG": "C"},
    )
    Result(process.returncode, process.stdout, process.stderr).assert_refused(message)
    assert _hashes(corpus.folder) == before and not corpus.marker.exists()
    assert list(out.iterdir()) == []
