"""SinDDM Studio's desktop app (Qt). Importing it first guards against a PySide6 6.12.0 bug
that aborts the interpreter on Python 3.11 after many Qt calls (app.qt_fixes)."""

from app.qt_fixes import immortalize_singletons

immortalize_singletons()
