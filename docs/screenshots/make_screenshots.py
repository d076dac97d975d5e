"""Drive the real app through its main states and save window grabs here.

    xvfb-run -a .venv/bin/python docs/screenshots/make_screenshots.py

`--edit-only` skips the training and generating states; `--harmonize-only` makes just the
harmonisation pair; `--first-only` just the first start (the demo photo with Instant);
`--generate-only` the first start and the trained model's generating states (03, 04), without
training (02); `--fill-only` heal and tile (13, 14) with Instant on the demo photo. Uses a
temporary settings file and models folder; takes a few minutes on a 2-core CPU (the bundled
model samples at full width).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from app.main import DEMO_MODEL, build_window  # noqa: E402


def wait_until(app: QApplication, condition, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        app.processEvents()
        time.sleep(0.02)


def open_model(app: QApplication, window, state, path: str) -> None:
    """Open a model and wait until it has been read (that happens in the worker)."""
    window.open_path(path)
    wait_until(app, lambda: not state.job and state.model is not None)


def grab(window, name: str, palette: int = 0) -> None:
    """Save the window; `palette`: in that many colours (a third of the size or less)."""
    QApplication.processEvents()  # pending layout (a label's new text) first
    window.grab().save(str(HERE / name))
    if palette:
        from PIL import Image

        with Image.open(HERE / name) as image:
            small = image.convert("RGB").quantize(palette, Image.Quantize.MEDIANCUT)
        small.save(HERE / name, optimize=True)
    print("saved", name)


def main() -> None:
    app = QApplication(sys.argv)
    scratch = Path(tempfile.mkdtemp())
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(["sinddm-studio"], models_dir=scratch / "models", settings=settings)
    window.resize(1280, 800)
    window.show()
    state = window.state
    wait_until(app, lambda: not state.job)
    if "--fill-only" in sys.argv:
        fill_states(app, window, state)
        state.shutdown()
        return
    if "--first-only" in sys.argv:
        grab(window, "01_first_start.png")
        state.shutdown()
        return
    if "--harmonize-only" not in sys.argv:
        if "--edit-only" not in sys.argv:
            main_states(app, window, state)
        if "--generate-only" in sys.argv:
            state.shutdown()
            return
        edit_states(app, window, state)
    harmonize_states(app, window, state, scratch)
    state.shutdown()


def fill_states(app, window, state) -> None:
    """Heal: two stones in the meadow painted over, the brush beside them; Tile: a texture
    tiled both ways, shown 2×2 on the canvas."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.mode.setCurrentIndex(4)  # Heal
    canvas = window.masks
    QApplication.processEvents()
    panel.fill_pages.heal.brush.setValue(7)

    def at(x: int, y: int) -> QPoint:
        rect, scale = canvas.view_geometry()
        return QPoint(int(rect.left() + x * scale), int(rect.top() + y * scale))

    for stroke in (((128, 131), (138, 134)), ((204, 183), (214, 185))):
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(*stroke[0]))
        QTest.mouseMove(canvas, at(*stroke[1]))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(*stroke[1]))
    QTest.mouseMove(canvas, at(176, 150))
    grab(window, "13_heal.png", palette=256)
    panel.mode.setCurrentIndex(6)  # Tile & mirror
    panel.fill_pages.tiles.tile.setCurrentIndex(3)  # both
    state.set_seed(5)
    panel.run_button.click()
    wait_until(app, lambda: not state.job)
    grab(window, "14_tile_extend.png", palette=64)


def harmonize_states(app, window, state, scratch: Path) -> None:
    """Harmonize: a snowy crag cut from the demo image (an elliptical alpha), placed on the
    meadow, then the harmonised result."""
    import numpy as np
    from PIL import Image

    from core.requests import Box

    open_model(app, window, state, str(DEMO_MODEL))
    crop = np.asarray(Image.open(HERE.parent.parent / "resources" / "demo.png").convert("RGB"))
    crop = crop[40:90, 150:220]
    rows, cols = np.mgrid[: crop.shape[0], : crop.shape[1]]
    inside = ((rows - 25) / 24) ** 2 + ((cols - 35) / 34) ** 2 <= 1
    cutout = np.dstack([crop, np.where(inside, 255, 0).astype(np.uint8)])
    path = scratch / "crag.png"
    Image.fromarray(cutout, "RGBA").save(path)
    window.tabs.setCurrentWidget(window.edit_panel)
    window.edit_panel.mode.setCurrentIndex(3)
    window.edit_panel.harmonize.load_object(str(path))
    window.objects.placer.box = Box(30, 120, 84, 60)
    window.objects.update()
    app.processEvents()
    grab(window, "08_harmonize_place.png")
    state.set_seed(1)
    state.set_count(1)
    window.edit_panel.run_button.click()
    wait_until(app, lambda: not state.job)
    window.tabs.setCurrentWidget(window.generate_panel)
    grab(window, "09_harmonize_result.png")


def edit_states(app, window, state) -> None:
    """The Edit tab: regions placed on a canvas, the result, and the text page."""
    from app.roi_editor import Pair
    from core.requests import Box

    open_model(app, window, state, str(DEMO_MODEL))
    window.generate_panel.quick["2× wide"].click()
    window.tabs.setCurrentWidget(window.edit_panel)
    editor = window.regions.editor
    editor.pairs.append(Pair(Box(150, 100, 60, 40), Box(40, 110, 60, 40)))
    editor.pairs.append(Pair(Box(110, 40, 90, 50), Box(330, 30, 90, 50)))
    window.regions.update()
    app.processEvents()
    grab(window, "05_regions.png")
    state.set_seed(3)
    window.edit_panel.run_button.click()
    wait_until(app, lambda: not state.job)
    window.tabs.setCurrentWidget(window.generate_panel)
    grab(window, "06_regions_result.png")
    window.tabs.setCurrentWidget(window.edit_panel)
    window.edit_panel.mode.setCurrentIndex(1)
    window.edit_panel.prompt.setText("Van Gogh")
    window.edit_panel.text_mode.setCurrentText("style")
    grab(window, "07_text.png")


def main_states(app, window, state) -> None:
    grab(window, "01_first_start.png")
    if "--generate-only" not in sys.argv:
        training_state(app, window, state)
    generating_states(app, window, state)


def training_state(app, window, state) -> None:
    panel = window.train_panel
    panel.preset.setCurrentIndex(panel.preset.findData("tiny"))
    panel.steps.setValue(600)
    panel._on_options_edited()
    wait_until(app, lambda: not state.job)
    state.engine.train_preview_seconds = 5.0
    state.train()
    wait_until(app, lambda: len(state.loss_history) >= 3 and "Preview" in window.canvas.caption)
    grab(window, "02_training.png")
    wait_until(app, lambda: not state.job)


def generating_states(app, window, state) -> None:
    """The bundled trained model generating 2× wide, then three results compared."""
    open_model(app, window, state, str(DEMO_MODEL))
    window.generate_panel.quick["2× wide"].click()
    state.set_seed(7)
    window.generate_panel.generate()
    wait_until(app, lambda: "Scale 4" in window.canvas.caption)
    grab(window, "03_generating.png")
    wait_until(app, lambda: not state.job)
    window.generate_panel.quick["1×"].click()
    window.generate_panel.count.setValue(3)
    state.set_seed(20)
    window.generate_panel.generate()
    wait_until(app, lambda: not state.job)
    window.compare_action.setChecked(True)
    grab(window, "04_results.png")
    window.compare_action.setChecked(False)


if __name__ == "__main__":
    main()
