"""Starts SinDDM Studio: `sinddm-studio [IMAGE_OR_MODEL]` (or `python main.py`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from resources import DEMO_IMAGE, DEMO_MODEL

__all__ = ["DEMO_IMAGE", "DEMO_MODEL", "build_window", "main", "open_demo", "prepare_app"]


def build_window(argv: list[str], models_dir: Path | None = None, settings=None):
    """Create the state and the main window and open the file given, or the bundled demo."""
    from PySide6.QtCore import QStandardPaths

    from app.engine import Engine
    from app.main_window import MainWindow
    from app.state import AppState
    from app.worker import JobRunner
    from core.device import available_devices

    if models_dir is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        models_dir = Path(base) / "models"
    state = AppState(Engine(), models_dir, JobRunner())
    window = MainWindow(state, available_devices(), settings)
    if len(argv) > 1:
        window.open_path(argv[1])
    elif open_demo(state):
        window.tabs.setCurrentWidget(window.generate_panel)  # Generate works in a second
    return window


def open_demo(state) -> bool:
    """First start: the demo photo with Instant, so that Generate makes an image within seconds
    even on a small CPU, and the photo is ready to train. The bundled trained model (DEMO_MODEL,
    about 40 s a sample on a 2-core CPU) opens through File ▸ Open Model."""
    return DEMO_IMAGE.exists() and state.open_image(str(DEMO_IMAGE))


def prepare_app(app) -> None:
    """Name the application (its settings and data folder follow the name) and install the
    crash reporter (app.crash), before anything else can fail."""
    from app import crash

    app.setApplicationName("SinDDM Studio")
    app.setOrganizationName("SinDDM Studio")
    crash.install(app)  # after the names: its reports go under the app's data folder


MISSING_LIBRARY_LINE = (
    "SinDDM Studio cannot open its window: this computer lacks the system library {package}, "
    "which Qt needs to draw on X11. Install it (Debian/Ubuntu: sudo apt install {package}) and "
    "start again. The command line (sinddm) works without it."
)


def missing_system_library() -> str | None:
    """The Debian/Ubuntu package that Qt's X11 platform plugin needs and this machine lacks
    (libxcb-cursor0, which Qt 6.5+ loads and a fresh Debian lacks), or None. Qt itself would
    abort the process with a long plugin message that does not say what to install."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, …: no X11 plugin is loaded
    if not platform and os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None
    import ctypes.util

    return "libxcb-cursor0" if ctypes.util.find_library("xcb-cursor") is None else None


def main(argv: list[str] | None = None) -> int:
    package = missing_system_library()
    if package is not None:
        print(MISSING_LIBRARY_LINE.format(package=package), file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    argv = list(sys.argv if argv is None else argv)
    app = QApplication(argv)
    prepare_app(app)
    window = build_window(argv)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
