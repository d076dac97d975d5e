"""Issue 23's small cases: wording and refusals a careless user meets (docs/reliability.md)."""

import os

import numpy as np
import pytest
from PIL import Image

from cli.main import main
from core.errors import ConfigError
from core.generation.editing import harmonization_mask


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("name", ["out.jpg", "out.JPEG", "out.webp", "out.tif"])
def test_an_image_name_that_is_not_png_is_refused(tmp_path, small_image, capsys, name):
    out = tmp_path / name
    assert main(["sample", str(small_image), "-o", str(out)]) == 2
    message = _error(capsys)
    assert "not a PNG name" in message and out.with_suffix(".png").name in message
    assert not out.exists()  # no folder named like an image


def test_a_mask_covering_everything_says_so():
    with pytest.raises(ConfigError, match="covers the whole image"):
        harmonization_mask(np.full((40, 50), 255, np.uint8))
    border = np.full((40, 50), 255, np.uint8)
    border[:2] = 0  # all but a thin border: the dilated mask covers everything
    with pytest.raises(ConfigError, match="covers the whole image"):
        harmonization_mask(border)
    with pytest.raises(ConfigError, match="empty"):
        harmonization_mask(np.zeros((40, 50), np.uint8))
    object_only = np.zeros((40, 50), np.uint8)
    object_only[10:20, 10:20] = 255
    assert harmonization_mask(object_only).max() == 1.0


def test_a_symlink_loop_is_named_as_a_loop(tmp_path, capsys):
    loop = tmp_path / "photo.png"
    os.symlink(loop, loop)
    assert main(["info", str(loop)]) == 2
    assert "loop of symbolic links" in _error(capsys)
    dangling = tmp_path / "gone.sinddm"
    os.symlink(tmp_path / "nowhere.sinddm", dangling)
    assert main(["sample", str(dangling), "-o", str(tmp_path / "x.png")]) == 2
    assert "symbolic link to a" in _error(capsys)


def test_a_model_as_reference_points_to_eval_of_the_model(tmp_path, small_image, capsys):
    from resources import DEMO_MODEL

    samples = tmp_path / "samples"
    samples.mkdir()
    Image.open(small_image).save(samples / "a.png")
    argv = ["eval", "--samples", str(samples), "--reference", str(DEMO_MODEL)]
    assert main(argv) == 2
    assert f"sinddm eval {DEMO_MODEL}" in _error(capsys)


def test_eval_of_full_resolution_samples_against_a_big_photo(tmp_path, demo_image):
    """`sample big.png` writes the photo's resolution; `eval --samples` then measures at the
    working size (the reference shrunk as sampling shrinks it, the samples to match), where it
    used to refuse the model-size samples as too small or run out of memory on large ones."""
    from cli.evaluate import _at_working_scale, _images_in_folder
    from cli.main import build_parser

    big = tmp_path / "big.png"
    demo_image.resize((534, 400)).save(big)  # 213,600 px: working size 258×193
    samples = tmp_path / "s"
    samples.mkdir()
    demo_image.resize((534, 400)).save(samples / "full.png")
    demo_image.resize((258, 193)).save(samples / "model_size.png")
    demo_image.resize((1068, 400)).save(samples / "wide.png")
    args = build_parser().parse_args(["eval", "--samples", str(samples), "--reference", str(big)])
    images, reference = _images_in_folder(args)
    assert reference.shape == (193, 258, 3)
    shapes = sorted(image.shape[:2] for image in images)
    assert shapes[:2] == [(193, 258), (193, 258)] and shapes[2][0] == 193
    assert abs(shapes[2][1] - 2 * 258) <= 1  # twice as wide, at the same scale
    small = np.zeros((50, 60, 3), np.uint8)
    assert _at_working_scale(small, (258, 193)) is small


def test_a_cpu_allocation_failure_is_one_line(tmp_path, small_image, capsys, monkeypatch):
    """torch's CPU allocator raises a RuntimeError, not a MemoryError: it is out of memory all
    the same, one line (it was a 23-line traceback)."""
    import torch

    import cli.generate

    def refuse(*args, **kwargs):
        torch.empty(2**45, dtype=torch.uint8)  # a real allocation failure (32 TiB)

    monkeypatch.setattr(cli.generate, "write_images", refuse)
    assert main(["sample", str(small_image), "-o", str(tmp_path / "x.png")]) == 2
    assert _error(capsys) == (
        "error: The computer ran out of memory. Try a smaller --batch or a smaller size."
    )


def test_a_damaged_model_file_is_refused(model_file, tmp_path, capsys):
    """One flipped byte fails the archive's checksum; one flipped exponent bit (a weight of
    -2.8e35, the checksums made good again) is a number no training makes. Both used to load
    (and sample noise, or be saved for good by --resume)."""
    import zipfile

    import torch

    raw = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(model_file) as archive:
        entry = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 64)
    header = entry.header_offset  # the local header's own name and extra lengths
    name_length = int.from_bytes(raw[header + 26 : header + 28], "little")
    extra_length = int.from_bytes(raw[header + 28 : header + 30], "little")
    raw[header + 30 + name_length + extra_length + 40] ^= 0x04
    flipped = tmp_path / "flipped.sinddm"
    flipped.write_bytes(bytes(raw))
    assert main(["info", str(flipped)]) == 2
    assert "flipped.sinddm is damaged" in _error(capsys)
    data = torch.load(model_file, weights_only=True)
    key = next(iter(data["ema"]))
    data["ema"][key].view(-1)[0] = -2.8e35
    huge = tmp_path / "huge.sinddm"
    torch.save(data, huge)
    assert main(["sample", str(huge), "-o", str(tmp_path / "x.png")]) == 2
    assert "no training makes" in _error(capsys)
    assert main(["info", str(model_file)]) == 0  # the undamaged file still opens


def _write_after_barrier(barrier, path: str, value: int, results) -> None:
    from core.imageio import FileAppearedError, save_png

    image = np.full((8, 8, 3), value, np.uint8)
    barrier.wait()
    try:
        save_png(image, path, replace=False)
        results.put(("written", value))
    except FileAppearedError as exc:
        results.put(("refused", str(exc)))


def test_two_runs_writing_one_name_never_replace_each_other(tmp_path):
    """Both checked the name before either wrote (the barrier): one image is written, the other
    run is refused with the usual line, and the file is the first run's."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    path = str(tmp_path / "same.png")
    runs = [
        context.Process(target=_write_after_barrier, args=(barrier, path, v, results))
        for v in (40, 200)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in runs)
    assert [kind for kind, _ in outcomes] == ["refused", "written"]
    assert "already exists" in outcomes[0][1]
    assert int(np.asarray(Image.open(path))[0, 0, 0]) == outcomes[1][1]


def test_a_training_whose_file_appears_meanwhile_does_not_replace_it(tmp_path, tiny_trainer):
    from cli.train import _saver
    from core.imageio import FileAppearedError

    output = tmp_path / "m.sinddm"
    save = _saver(tiny_trainer, output)  # the run starts: no file there
    output.write_bytes(b"another run's model")
    with pytest.raises(FileAppearedError, match="already exists"):
        save()
    assert output.read_bytes() == b"another run's model"


def _no_network(*args, **kwargs):
    raise ConnectionRefusedError(111, "Connection refused")


def test_text_offline_is_the_note_and_one_line_at_once(
    tmp_path, small_image, capsys, monkeypatch, empty_clip_cache
):
    """Was: the note, 40 retry messages, an ERROR:root: line, ~50 s, a line cut mid-word."""
    import socket

    monkeypatch.setattr(socket, "create_connection", _no_network)  # the network is blocked
    argv = ["text", str(small_image), "--prompt", "fire", "-o", str(tmp_path / "f.png")]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Note: CLIP weights 'openai'")
    assert lines[1].startswith("error: The CLIP weights 'openai'")
    assert "cannot be reached" in lines[1] and lines[1].endswith("choose a local file.")
    assert not (tmp_path / "f.png").exists()


def test_the_apps_download_says_offline_at_once(monkeypatch, empty_clip_cache):
    import socket

    from huggingface_hub import constants

    from core.generation.clip_weights import GuidanceUnavailableError, download_weights

    monkeypatch.setattr(socket, "create_connection", _no_network)
    with pytest.raises(GuidanceUnavailableError, match="cannot be reached"):
        download_weights("ViT-B-32", "openai")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(GuidanceUnavailableError, match="offline mode"):
        download_weights("ViT-B-32", "openai")
