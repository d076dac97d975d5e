"""app.viewmodels.results on its own: the strip's results, showing, deleting and exporting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app import results as results_store
from app.results import Result
from app.viewmodels.canvas import CanvasImage
from app.viewmodels.results import ResultsList, result_caption


def _result(seed: int, folder: Path | None = None) -> Result:
    image = np.full((24, 32, 3), seed, np.uint8)
    result = Result.made(image, seed, (32, 24), {"engine": "instant"})
    if folder is not None:
        results_store.store(result, folder, seed)
    return result


@pytest.fixture
def results(qapp):
    return ResultsList(CanvasImage())


def test_a_result_caption_names_seed_size_and_engine():
    assert result_caption(_result(7)) == "Seed 7 · 32×24 · Instant (no training)"


def test_adding_replacing_and_deleting_say_so(results, qtbot, tmp_path):
    with qtbot.waitSignal(results.changed, timeout=1000):
        results.replace_all([_result(1, tmp_path)])
    with qtbot.waitSignal(results.changed, timeout=1000):
        results.add(_result(2, tmp_path))
    stored = results.items[0].path
    with qtbot.waitSignal(results.changed, timeout=1000):
        results.delete(0)
    assert [r.seed for r in results.items] == [2] and not stored.exists()


def test_merged_adds_only_the_stored_results_not_shown(results, tmp_path):
    shown = _result(1, tmp_path)
    results.replace_all([shown, _result(2)])  # the second has no file
    again = results_store.load_all(tmp_path)[0]  # the same file, read back
    new = _result(3, tmp_path)
    merged = results.merged((again, new))
    assert [r.seed for r in merged] == [1, 2, 3]


def test_show_puts_the_full_image_on_the_canvas_or_the_thumbnail_when_gone(results, tmp_path):
    result = _result(4, tmp_path)
    results.replace_all([result])
    results.show(0)
    assert results.canvas.caption == result_caption(result)
    result.pixels = None  # no longer in memory, and its file goes
    result.path.unlink()
    messages: list[str] = []
    results.message.connect(messages.append)
    results.show(0)
    assert results.canvas.caption.endswith("· thumbnail only") and messages


def test_export_writes_pngs_and_says_why_when_it_cannot(results, tmp_path):
    results.replace_all([_result(5), _result(6)])
    errors: list[tuple[str, str]] = []
    results.error_raised.connect(lambda title, text: errors.append((title, text)))
    assert results.export(0, str(tmp_path / "one.png"))
    out = tmp_path / "out"
    out.mkdir()
    assert results.existing_exports(str(out)) == []
    assert results.export_all(str(out)) == 2
    assert len(results.existing_exports(str(out))) == 2
    assert results.export_all(str(out), replace=False) == 0, "files already there are kept"
    assert results.export_all(str(tmp_path / "no-such-folder")) == 0
    assert errors and errors[-1][0] == "Cannot export"
    assert errors[-1][1].startswith("Exported 0 of 2 images.")
