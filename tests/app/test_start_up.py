"""A fresh Debian machine lacks libxcb-cursor0: the app says what to install, in one line,
instead of Qt's abort with its plugin message."""

import ctypes.util

from app import main as app_main


def test_a_missing_xcb_cursor_library_is_named_before_qt_starts(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(app_main.sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert app_main.main(["sinddm-studio"]) == 1
    line = capsys.readouterr().err.strip()
    assert "libxcb-cursor0" in line and "apt install libxcb-cursor0" in line
    assert len(line.splitlines()) == 1


def test_other_platforms_and_a_present_library_start_as_before(monkeypatch):
    monkeypatch.setattr(app_main.sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app_main.missing_system_library() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libxcb-cursor.so.0")
    assert app_main.missing_system_library() is None
    monkeypatch.setattr(app_main.sys, "platform", "darwin")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert app_main.missing_system_library() is None
