"""Writing output safely: every destination is checked before any work, a write that fails is
one plain line (exit 2) that leaves earlier files intact, and nothing is replaced silently."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from cli import evaluate as evaluate_command
from cli.main import main
from core.errors import CheckpointWriteError
from core.files import model_file
from tests.cli.conftest import TINY


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its SHA-256: 'no pre-existing file changed'."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _one_line_error(capsys) -> str:
    """The error line of a command that failed, checked to be the only one, with no traceback."""
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().split("\n")[-1]
    assert last.startswith("error: ") and err.count("error:") == 1, err
    assert "Traceback" not in err
    return last


# ------------------------------------------------------------------------------ faults


def _chmod_read_only(folder: Path, monkeypatch) -> None:
    """A real read-only folder (skipped where chmod does not bind, e.g. for root)."""
    folder.chmod(0o555)  # the `read_only` fixture makes it writable again
    if os.access(folder, os.W_OK):
        pytest.skip("chmod does not stop this user (root) from writing")


def _denied(folder: Path, monkeypatch) -> None:
    """Creating a file or a folder in `folder` fails as in a read-only folder (for root too)."""
    real_mkstemp, real_mkdir = tempfile.mkstemp, os.mkdir

    def inside(path) -> bool:
        return Path(path).resolve() == folder.resolve()

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and inside(dir):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    def mkdir(path, *args, **kwargs):
        if inside(Path(path).parent):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "mkdir", mkdir)


READ_ONLY = [_chmod_read_only, _denied]


@pytest.fixture
def read_only(tmp_path):
    """An empty folder `ro`; made writable again after the test so tmp_path can be removed."""
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


def _disk_full_on_write(monkeypatch) -> None:
    """Every write's final flush fails with ENOSPC (the temporary file can still be created,
    as on a disk with inodes but no blocks left)."""

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)


def _torch_save_fails_as_on_a_full_disk(monkeypatch) -> None:
    """torch.save writes part of the file and raises its chained RuntimeErrors; the disk then
    has no space left."""

    def failing_save(data, path):
        Path(path).write_bytes(b"partial")
        try:
            raise RuntimeError("basic_ios::clear: iostream error")
        except RuntimeError as exc:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from exc

    monkeypatch.setattr(torch, "save", failing_save)
    usage = shutil.disk_usage(".")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=0))


def _no_training(monkeypatch) -> None:
    """Fail the test if a command gets as far as building a trainer or sampling."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    monkeypatch.setattr("cli.train.Trainer", forbidden)
    monkeypatch.setattr("cli.train.load_trainer", forbidden)
    monkeypatch.setattr("cli.generate.open_diffusion_model", forbidden)
    monkeypatch.setattr("cli.evaluate.open_diffusion_model", forbidden)
    monkeypatch.setattr("cli.evaluate.evaluate", forbidden)


# ------------------------------------------------------------- unwritable destinations


@pytest.mark.parametrize("fault", READ_ONLY)
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "{img}", "-o", "{ro}/m.sinddm", *TINY],
        ["train", "{img}", "-o", "{ro}/new/m.sinddm", *TINY],
        ["train", "{img}", "-o", "{ro}/m.sinddm", "--resume", *TINY],
        ["sample", "{model}", "-o", "{ro}/x.png"],
        ["sample", "{model}", "-o", "{ro}", "-n", "2"],
        ["sample", "{model}", "-o", "{ro}/new", "-n", "2"],
        ["roi", "{model}", "-o", "{ro}/r.png", "--src", "0,0,20,20", "--dst", "30,30"],
        ["eval", "{model}", "-n", "2", "--json", "{ro}/r.json"],
        ["eval", "{model}", "-n", "2", "--save-samples", "{ro}/s"],
    ],
)
def test_unwritable_output_fails_before_any_work(
    tmp_path, small_image, model_file, read_only, monkeypatch, capsys, fault, argv
):
    before = _hashes(tmp_path)
    fault(read_only, monkeypatch)
    _no_training(monkeypatch)
    argv = [a.format(img=small_image, model=model_file, ro=read_only) for a in argv]
    assert main(argv) == 2
    line = _one_line_error(capsys)
    assert str(read_only) in line and "ermission" in line
    assert _hashes(tmp_path) == before


def test_train_on_a_full_disk_is_one_line_and_leaves_no_file(
    tmp_path, small_image, monkeypatch, capsys
):
    _disk_full_on_write(monkeypatch)
    model = tmp_path / "m.sinddm"
    assert main(["train", str(small_image), "-o", str(model), "--steps", "3", *TINY]) == 2
    line = _one_line_error(capsys)
    assert "the disk is full" in line and "No checkpoint was saved" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.png"]


@pytest.mark.parametrize("fault", [_disk_full_on_write, _torch_save_fails_as_on_a_full_disk])
def test_resume_on_a_full_disk_keeps_the_last_good_checkpoint(
    tmp_path, small_image, monkeypatch, capsys, fault
):
    model = tmp_path / "m.sinddm"
    assert main(["train", str(small_image), "-o", str(model), "--steps", "2", *TINY]) == 0
    before = _hashes(tmp_path)
    fault(monkeypatch)
    resume = ["train", str(small_image), "-o", str(model), "--steps", "4", "--resume"]
    assert main([*resume, "--device", "cpu"]) == 2
    line = _one_line_error(capsys)
    assert "the disk is full" in line
    assert f"{model} keeps the last good checkpoint (step 2); add --resume" in line
    assert _hashes(tmp_path) == before


def test_a_failed_save_after_a_good_one_names_the_good_one(
    tmp_path, small_image, monkeypatch, capsys
):
    """The second of two saves fails: the file keeps the first."""
    saves = []
    real = model_file.atomic_write

    def second_fails(path, write, replace=True):
        saves.append(path)
        if len(saves) >= 2:  # (training retries a failed save once as it ends)
            raise CheckpointWriteError(f"Could not write {path}: the disk is full.")
        real(path, write, replace)

    monkeypatch.setattr(model_file, "atomic_write", second_fails)
    model = tmp_path / "m.sinddm"
    argv = ["train", str(small_image), "-o", str(model), "--steps", "4", "--save-every", "2"]
    assert main([*argv, *TINY]) == 2
    assert "keeps the last good checkpoint (step 2)" in _one_line_error(capsys)
    assert _info_step(model, capsys) == 2


def _info_step(model: Path, capsys) -> int:
    capsys.readouterr()
    assert main(["info", str(model), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["steps_trained"]


@pytest.mark.parametrize("output", ["x.png", "folder"])
def test_sample_on_a_full_disk_is_one_line_and_leaves_no_partial_file(
    tmp_path, model_file, monkeypatch, capsys, output
):
    before = _hashes(tmp_path)
    _disk_full_on_write(monkeypatch)
    argv = ["sample", str(model_file), "-o", str(tmp_path / output), "--device", "cpu"]
    assert main(argv) == 2
    assert "the disk is full" in _one_line_error(capsys)
    assert _hashes(tmp_path) == before


def test_eval_on_a_full_disk_prints_the_report_then_one_error_line(
    tmp_path, small_image, monkeypatch, capsys
):
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(small_image, samples / "a.png")
    _disk_full_on_write(monkeypatch)
    report = tmp_path / "r.json"
    argv = ["eval", "--samples", str(samples), "--reference", str(small_image)]
    assert main([*argv, "--json", str(report)]) == 2
    captured = capsys.readouterr()
    assert "1 samples of" in captured.out  # what was measured is not lost
    last = captured.err.replace("\r", "\n").strip().split("\n")[-1]
    assert last.startswith(f"error: Could not write {report}: the disk is full")
    assert captured.err.count("error:") == 1 and "Traceback" not in captured.err
    assert not report.exists()


# ---------------------------------------------------------------- silent overwrites


def test_eval_json_never_replaces_a_model_or_another_file(
    tmp_path, small_image, model_file, capsys
):
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(small_image, samples / "a.png")
    disguised = tmp_path / "photo.json"
    shutil.copy(model_file, disguised)  # a model whatever its name
    before = _hashes(tmp_path)
    argv = ["eval", "--samples", str(samples), "--reference", str(small_image), "--json"]
    for target, message in [
        (model_file, "is a model; the report never replaces it"),
        (disguised, "is a model"),
        (small_image, "is not a JSON report"),
        (tmp_path, "is a folder"),
    ]:
        assert main([*argv, str(target)]) == 2
        assert message in _one_line_error(capsys)
    assert _hashes(tmp_path) == before
    report = tmp_path / "r.json"
    report.write_text('{"earlier": "report"}')
    assert main([*argv, str(report)]) == 0  # an earlier report is replaced
    assert json.loads(report.read_text())["n"] == 1


def test_sample_refuses_to_replace_an_image_without_overwrite(tmp_path, model_file, capsys):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(photo)
    before = photo.read_bytes()
    argv = ["sample", str(model_file), "-o", str(photo), "--device", "cpu"]
    assert main(argv) == 2
    assert "photo.png already exists. Add --overwrite" in _one_line_error(capsys)
    assert photo.read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0
    assert Image.open(photo).size == (96, 72)


def test_sample_into_a_folder_refuses_files_it_would_replace(tmp_path, model_file, capsys):
    out = tmp_path / "out"
    out.mkdir()  # an existing, empty folder is fine
    argv = ["sample", str(model_file), "-o", str(out), "-n", "2", "--device", "cpu"]
    assert main(argv) == 0
    before = _hashes(tmp_path)
    assert main(argv) == 2
    assert "sample_seed0.png and 1 more of the images already exist" in _one_line_error(capsys)
    assert _hashes(tmp_path) == before
    assert main([*argv, "--seed", "2"]) == 0  # other seeds, other files
    assert main([*argv, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"sample_seed{i}.png" for i in range(4)]


def test_no_image_ever_replaces_a_model(tmp_path, model_file, capsys):
    disguised = tmp_path / "x.png"
    shutil.copy(model_file, disguised)
    before = _hashes(tmp_path)
    argv = ["sample", str(model_file), "-o", str(disguised), "--overwrite", "--device", "cpu"]
    assert main(argv) == 2
    assert "x.png is a model; an image never replaces it" in _one_line_error(capsys)
    assert _hashes(tmp_path) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["roi", "{model}", "--src", "0,0,20,20", "--dst", "30,30"],
        ["style-transfer", "{model}", "{img}"],
        ["harmonize", "{model}", "{img}", "--mask", "{img}"],
        ["text", "{model}", "--prompt", "fire"],
    ],
)
def test_edit_commands_refuse_to_replace_an_image_before_any_work(
    tmp_path, small_image, model_file, monkeypatch, capsys, argv
):
    _no_training(monkeypatch)
    before = _hashes(tmp_path)
    argv = [a.format(model=model_file, img=small_image) for a in argv]
    assert main([*argv, "-o", str(small_image)]) == 2
    assert "already exists. Add --overwrite" in _one_line_error(capsys)
    assert _hashes(tmp_path) == before


def test_roi_with_overwrite_replaces_the_image(tmp_path, small_image, model_file):
    out = tmp_path / "r.png"
    shutil.copy(small_image, out)
    argv = ["roi", str(model_file), "--src", "0,0,20,20", "--dst", "30,30", "-o", str(out)]
    assert main([*argv, "--overwrite", "--device", "cpu"]) == 0
    assert out.read_bytes() != small_image.read_bytes()


def test_train_output_that_is_not_a_model_is_refused_even_with_resume(
    tmp_path, small_image, capsys
):
    notes = tmp_path / "notes.sinddm"
    notes.write_text("my notes")
    before = _hashes(tmp_path)
    for extra in ([], ["--resume"]):
        assert main(["train", str(small_image), "-o", str(notes), *extra, *TINY]) == 2
        _one_line_error(capsys)
    folder = tmp_path / "f.sinddm"
    folder.mkdir()
    assert main(["train", str(small_image), "-o", str(folder), *TINY]) == 2
    assert "is a folder" in _one_line_error(capsys)
    assert _hashes(tmp_path) == before


# ------------------------------------------------------------ eval checks its inputs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--inception-weights", "{tmp}/none.pt"], "--inception-weights: no file at"),
        (["--alexnet-weights", "{tmp}"], "--alexnet-weights: .* is a folder"),
        (["--lpips-weights", "{tmp}/none.pth"], "--lpips-weights: no file at"),
        (["--inception-weights", "{tmp}/other.pt"], "lacks InceptionV3 layers"),
        (
            ["--inception-weights", "{tmp}/notes.txt"],
            "Cannot read the InceptionV3 weights in .*notes.txt: it is not a weights file",
        ),
    ],
)
@pytest.mark.parametrize("source", ["model", "folder"])
def test_eval_checks_every_input_before_any_work(
    tmp_path, small_image, model_file, monkeypatch, capsys, extra, message, source
):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pt")
    (tmp_path / "notes.txt").write_text("not weights")
    _no_training(monkeypatch)
    monkeypatch.setattr(evaluate_command, "load_image", _forbidden_image_load)
    if source == "model":
        argv = ["eval", str(model_file), "-n", "2"]
    else:
        argv = ["eval", "--samples", str(tmp_path), "--reference", str(small_image)]
    assert main([*argv, *(a.format(tmp=tmp_path) for a in extra)]) == 2
    assert re.search(message, _one_line_error(capsys))


def _forbidden_image_load(path):
    raise AssertionError("images were read before the weights were checked")


def test_eval_reads_the_reference_before_the_samples(tmp_path, small_image, capsys):
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(small_image, samples / "a.png")
    argv = ["eval", "--samples", str(samples), "--reference", str(tmp_path / "none.png")]
    assert main(argv) == 2
    assert "No file at" in _one_line_error(capsys)


# -------------------------------------------------------------------------- masks


@pytest.mark.parametrize("kind", [(200, 100), (100, 100), "folder"])
def test_harmonize_mask_bomb_or_folder_is_one_line(
    tmp_path, small_image, model_file, monkeypatch, capsys, kind
):
    if kind != "folder":
        mask = tmp_path / "mask.png"
        Image.new("L", kind, 255).save(mask)
        # The 96×72 composite stays under the limit; the masks are over twice it (Pillow
        # raises) and between it and twice it (Pillow only warns).
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8000)
        message = "mask.png is too large to open safely"
    else:
        mask = tmp_path / "maskdir"
        mask.mkdir()
        message = "maskdir is a folder, not an image file"
    argv = ["harmonize", str(model_file), str(small_image), "--mask", str(mask)]
    assert main([*argv, "-o", str(tmp_path / "h.png"), "--device", "cpu"]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "h.png").exists()
