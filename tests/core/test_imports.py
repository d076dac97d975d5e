import subprocess
import sys

from tests.conftest import ROOT


def test_core_never_imports_qt_the_app_or_the_command_line():
    """Importing every core module loads neither Qt, the GUI package nor the CLI package (the
    import-linter contract in .ci/run checks the same statically)."""
    code = (
        "import sys, pkgutil, importlib, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    importlib.import_module(m.name)\n"
        "qt = ('PySide6', 'shiboken')\n"
        "front_ends = ('cli', 'app')\n"
        "bad = [name for name in sys.modules if name.startswith(qt)\n"
        "       or name in front_ends or name.startswith(('cli.', 'app.'))]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
