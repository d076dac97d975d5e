"""Starts SinDDM Studio: `sinddm-studio [IMAGE_OR_MODEL]` (or `python main.py`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_IMAGE = RESOURCES / "demo.png"
DEMO_MODEL = RESOURCES / "demo_model.sinddm"


def build_window(argv: list[str], models_dir: Path | None = None, settings=None):
    """Create the state and the main window and open the file given, or the bundled demo."""
    from PySide6.QtCore import QStandardPaths

    from app.engine import Engine, available_devices
    from app.main_window import MainWindow
    from app.state import AppState

    if models_dir is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        models_dir = Path(base) / "models"
    state = AppState(Engine(), models_dir)
    window = MainWindow(state, available_devices(), settings)
    if len(argv) > 1:
        window.open_path(argv[1])
    else:
        open_demo(state)
    return window


def open_demo(state) -> None:
    """First start: the demo model (Generate works at once) and the demo photo, ready to train."""
    if DEMO_MODEL.exists():
        state.open_model(str(DEMO_MODEL))
    if DEMO_IMAGE.exists():
        state.open_image(str(DEMO_IMAGE), keep_model=True)


def main(argv: list[str] | None = None) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    argv = list(sys.argv if argv is None else argv)
    app = QApplication(argv)
    app.setApplicationName("SinDDM Studio")
    app.setOrganizationName("SinDDM Studio")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_window(argv)
    window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0


if __name__ == "__main__":
    sys.exit(main())
