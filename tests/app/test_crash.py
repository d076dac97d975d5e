"""app.crash: an exception nobody caught becomes one plain dialog and a report file."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QPushButton

from app import crash


class _Buggy(QObject):
    poked = Signal()

    def __init__(self):
        super().__init__()
        self.poked.connect(self.on_poke)

    @Slot()
    def on_poke(self) -> None:
        raise ZeroDivisionError("a bug in a slot")


@pytest.fixture
def reporter(qapp, monkeypatch):
    """An installed reporter whose dialogs are recorded instead of shown."""
    shown: list[str] = []
    monkeypatch.setattr(crash, "show_crash_dialog", shown.append)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    reporter = crash.install()
    reporter.shown = shown
    yield reporter
    reporter.uninstall()


@pytest.mark.qt_no_exception_capture
def test_crash_a_raising_slot_shows_a_dialog_and_writes_a_report(qtbot, reporter, crash_reports):
    buggy = _Buggy()
    QTimer.singleShot(0, buggy.poked.emit)  # from the event loop, as a click would
    qtbot.waitUntil(lambda: bool(reporter.shown), timeout=5000)
    assert len(reporter.reports) == 1
    report = reporter.reports[0]
    assert report.parent == crash_reports and report.is_file()
    text = report.read_text(encoding="utf-8")
    assert "ZeroDivisionError: a bug in a slot" in text and "on_poke" in text
    assert "this is a bug, not something you did" in reporter.shown[0]
    assert str(report) in reporter.shown[0]
    assert not list(crash_reports.glob("*.tmp")), "the report is written atomically"


@pytest.mark.qt_no_exception_capture
def test_crash_a_button_slot_that_raises_reaches_the_dialog(qtbot, reporter):
    button = QPushButton("Go")
    qtbot.addWidget(button)
    buggy = _Buggy()
    button.clicked.connect(buggy.on_poke)
    button.click()
    qtbot.waitUntil(lambda: bool(reporter.shown), timeout=5000)
    assert "ZeroDivisionError" in reporter.reports[0].read_text(encoding="utf-8")


@pytest.mark.qt_no_exception_capture
def test_crash_the_same_bug_again_writes_a_report_but_no_second_dialog(qtbot, reporter):
    buggy = _Buggy()
    for _ in range(3):
        QTimer.singleShot(0, buggy.poked.emit)
    qtbot.waitUntil(lambda: len(reporter.reports) == 3, timeout=5000)
    assert len(reporter.shown) == 1


def test_crash_a_thread_that_raises_is_shown_in_the_gui_thread(qtbot, reporter):
    def work() -> None:
        raise ValueError("a bug in a thread")

    thread = threading.Thread(target=work, name="helper")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(reporter.shown), timeout=5000)  # queued into the GUI thread
    text = reporter.reports[0].read_text(encoding="utf-8")
    assert "ValueError: a bug in a thread" in text and "thread 'helper'" in text


def test_crash_the_handler_never_raises(qtbot, reporter, monkeypatch, tmp_path):
    """No folder for the report and a dialog that fails: still no exception from the hook."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(crash, "reports_dir", lambda: blocker / "reports")

    def broken_dialog(text: str) -> None:
        raise RuntimeError("no screen")

    monkeypatch.setattr(crash, "show_crash_dialog", broken_dialog)
    try:
        raise KeyError("lost")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    assert reporter.reports == []
    assert "could not be written" in crash.crash_message(None)


def test_crash_ctrl_c_is_not_a_bug(qtbot, reporter, capsys):
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
    assert reporter.shown == [] and reporter.reports == []


def test_crash_the_app_installs_the_hooks_as_it_starts(qapp, monkeypatch):
    """app.main.main calls prepare_app on its QApplication before building the window."""
    from app import main as app_main

    installed = []
    monkeypatch.setattr(crash, "install", installed.append)
    names = qapp.applicationName(), qapp.organizationName()
    try:
        app_main.prepare_app(qapp)
    finally:
        qapp.setApplicationName(names[0])
        qapp.setOrganizationName(names[1])
    assert installed == [qapp]
