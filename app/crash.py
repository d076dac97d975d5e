"""The last line of defence: an exception nobody caught (in a slot, a paint event or a thread)
becomes a plain dialog and a report file the user can send, instead of a traceback in a terminal
they may not have and a window that silently stopped doing what they asked.

`install()` (app.main) sets `sys.excepthook` and `threading.excepthook`. Everything here
swallows its own failures: a crash handler that raises would hide the bug it reports.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import threading
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, QStandardPaths, Signal, Slot

REPORTS_FOLDER = "crash-reports"
MAX_REPORTS = 20
"""Reports written per session at most (a bug in a paint event would otherwise fill a disk)."""
CRASH_TITLE = "SinDDM Studio hit a bug"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def reports_dir() -> Path:
    """`<app data>/crash-reports` (QStandardPaths.AppDataLocation), or the temporary folder
    when Qt knows no such place."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or tempfile.gettempdir()) / REPORTS_FOLDER


def report_text(exc_info: ExcInfo, where: str) -> str:
    """The report: what failed where, the versions that matter, and the traceback."""
    exc_type, exc, tb = exc_info
    versions = [f"Python {platform.python_version()}", f"platform {platform.platform()}"]
    for name in ("PySide6", "numpy", "torch"):
        module = sys.modules.get(name)  # only what is loaded: importing torch here could fail
        if module is not None:
            versions.append(f"{name} {getattr(module, '__version__', '?')}")
    lines = [
        "SinDDM Studio bug report: please send this file with a note of what you were doing.",
        f"When: {datetime.now().isoformat(timespec='seconds')}",
        f"Where: {where}",
        f"Versions: {', '.join(versions)}",
        "",
        *traceback.format_exception(exc_type, exc, tb),
    ]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"


def write_report(exc_info: ExcInfo, where: str, folder: Path | None = None) -> Path | None:
    """Write a report under `folder` (default `reports_dir()`) atomically (a temporary file
    renamed into place, so a half-written report never lies there); None if it could not be
    written. Never raises."""
    try:
        folder = reports_dir() if folder is None else folder
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = folder / f"crash-{stamp}.txt"
        tmp = folder / f".{path.name}.tmp"
        try:
            tmp.write_text(report_text(exc_info, where), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path
    except Exception:
        return None


def crash_message(report: Path | None) -> str:
    """What the dialog says: plain words, where the report is, what to do now."""
    text = (
        "Something inside SinDDM Studio failed; this is a bug, not something you did. "
        "Your images and models are kept: you can carry on, or save your work and restart."
    )
    if report is None:
        return text + " A report could not be written."
    return text + f"\n\nPlease send the report saved in:\n{report}"


def show_crash_dialog(text: str) -> None:
    """A modal dialog with `text`, over the active window (tests replace this function)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is not None:
        QMessageBox.critical(QApplication.activeWindow(), CRASH_TITLE, text)


class CrashReporter(QObject):
    """Turns uncaught exceptions into a report file and one dialog per distinct bug.

    Create it in the GUI thread: reports from other threads reach the dialog through a queued
    signal, since only the GUI thread may show one."""

    _from_thread = Signal(str, str)
    """(signature, dialog text), sent from any thread to the GUI thread."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.reports: list[Path] = []
        self._shown: set[str] = set()
        """Bugs already shown this session (the same one again only writes a report)."""
        self._showing = False
        self._from_thread.connect(self._show)
        self._saved_hooks: tuple[object, object] | None = None

    def install(self) -> None:
        """Become `sys.excepthook` and `threading.excepthook`."""
        if self._saved_hooks is None:
            self._saved_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        if self._saved_hooks is not None:
            sys.excepthook, threading.excepthook = self._saved_hooks  # type: ignore[assignment]
            self._saved_hooks = None

    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        """sys.excepthook: called by Python (and by PySide6 for a slot that raised)."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)  # Ctrl-C in the terminal: not a bug
            return
        self.handle((exc_type, exc, tb), "the main (GUI) thread")

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        """threading.excepthook: an exception that ended a Python thread."""
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        self.handle((args.exc_type, args.exc_value, args.exc_traceback), f"thread {name!r}")

    def handle(self, exc_info: ExcInfo, where: str) -> None:
        """Write a report and show the dialog (in the GUI thread). Never raises."""
        with contextlib.suppress(BaseException):  # the handler of last resort must not raise
            report = None
            if len(self.reports) < MAX_REPORTS:
                report = write_report(exc_info, where)
            if report is not None:
                self.reports.append(report)
            _say_on_stderr(exc_info[1], report)
            self._from_thread.emit(_signature(exc_info), crash_message(report))

    @Slot(str, str)
    def _show(self, signature: str, text: str) -> None:
        if self._showing or signature in self._shown:
            return
        self._shown.add(signature)
        self._showing = True
        try:
            with contextlib.suppress(BaseException):  # see handle
                show_crash_dialog(text)
        finally:
            self._showing = False


def install(parent: QObject | None = None) -> CrashReporter:
    """Create a CrashReporter in the GUI thread and install its hooks."""
    reporter = CrashReporter(parent)
    reporter.install()
    return reporter


def _signature(exc_info: ExcInfo) -> str:
    """The kind of exception and the line that raised it: one dialog per bug, not per call."""
    exc_type, _, tb = exc_info
    last = traceback.extract_tb(tb)[-1:] if tb is not None else []
    place = f"{last[0].filename}:{last[0].lineno}" if last else ""
    return f"{exc_type.__name__}@{place}"


def _say_on_stderr(exc: BaseException, report: Path | None) -> None:
    """One line for whoever started the app from a terminal (the traceback is in the report)."""
    where = f"; report: {report}" if report is not None else ""
    with contextlib.suppress(Exception):  # no usable stderr (a GUI launched without one)
        print(f"SinDDM Studio hit a bug: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
