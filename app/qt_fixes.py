"""A work-around for a bug in the Qt binding, applied once when the `app` package is imported.

PySide6 6.12.0, on Python 3.11, hands out None (the result of every void method: setText,
update, QTimer.start, …) and True (the result of Signal.emit) without the reference the caller
is owed. Each such call lowers the object's reference count by one for good; after some
hundred thousand calls the count reaches zero and the interpreter aborts ("Fatal Python error:
none_dealloc" or "bool_dealloc") with no dialog and no saved work: some twenty minutes into a
training, or after a few hundred generations. PySide6 6.11 is free of it, and Python 3.12 and
later are immune because they made these objects immortal (PEP 683), which is likely why the
binding's authors never saw it. Found by tests/app/test_soak.py.

`immortalize_singletons` does for Python 3.11 what 3.12 does: where a probe shows the bug, it
raises the reference counts of None, True and False so far (2**40) that no session can bring
them to zero. These three objects are never freed anyway; extra references cost nothing.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

PROBE_CALLS = 16
BOOST = 2**40
"""References added to each singleton: at a million lost a second, 12 days of running."""


class _Probe(QObject):
    ping = Signal()


def binding_drops_references() -> bool:
    """True when void calls or emits leave None or True a reference short (the bug above)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # immortal singletons: nothing can be lost
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("")  # a void method
        probe.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    return max(lost_none, lost_true) >= PROBE_CALLS


def immortalize_singletons() -> bool:
    """Make None, True and False as good as immortal where the binding drops references to
    them; True if it had to."""
    if not binding_drops_references():
        return False
    for singleton in (None, True, False):
        # CPython 3.11: a PyObject starts with its Py_ssize_t reference count, at id(obj).
        # The GIL is held and no other thread runs yet: nothing races this write.
        ctypes.c_ssize_t.from_address(id(singleton)).value += BOOST
    return True
