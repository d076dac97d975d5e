"""GUI tests: offscreen Qt, a fake engine, and a guard against threads left running."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings

from app.state import AppState
from app.worker import JobRunner
from tests.app.fake_engine import FakeEngine

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _no_dangling_threads(qapp):
    """Fail any test that leaves a worker thread running (napari's `_dangling_qthreads`)."""
    before = set(JobRunner.instances())
    yield
    leftover = [r for r in JobRunner.instances() if r not in before and r.thread_running()]
    for runner in leftover:
        runner.shutdown(5000)
    assert not leftover, "a test left a worker thread running"


@pytest.fixture(autouse=True)
def crash_reports(monkeypatch, tmp_path):
    """Bug reports (app.crash) go into the test's folder, never the user's app data."""
    from app import crash

    folder = tmp_path / "crash-reports"
    monkeypatch.setattr(crash, "reports_dir", lambda: folder)
    return folder


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, fake_state, settings, monkeypatch):
    """The main window on the fake engine, shown; `window.warnings` records the text of each
    warning dialog instead of showing it. Test files extend it by requesting `window`."""
    from PySide6.QtWidgets import QMessageBox

    from app.main_window import MainWindow

    warnings: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text))
    )
    win = MainWindow(fake_state, ["auto", "cpu"], settings)
    win.warnings = warnings
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def fake_state(qapp, tmp_path):
    state = AppState(FakeEngine(), tmp_path / "models", JobRunner())
    yield state
    assert state.shutdown()


@pytest.fixture
def few_views():
    """A planner for Engine: core.generation.plan.plan with 2 CLIP views instead of 16 (the
    mechanics of text guidance, faster)."""
    from dataclasses import replace

    from core.generation.plan import plan

    def planner(model, request, clip_loader):
        return plan(model, replace(request, edit=replace(request.edit, views=2)), clip_loader)

    return planner


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/app" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gui)
