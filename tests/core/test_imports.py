import subprocess
import sys

from tests.conftest import ROOT


def test_core_never_imports_qt():
    code = (
        "import sys, pkgutil, importlib, core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module('core.' + m.name)\n"
        "qt = ('PySide6', 'qasync', 'shiboken')\n"
        "bad = [name for name in sys.modules if name.startswith(qt)]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
