"""The bundled files (demo photo, demo model, evaluation images), found wherever the project is
installed: an editable checkout or a plain `pip install .` (pyproject ships them as package data).
"""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
DEMO_IMAGE = RESOURCES_DIR / "demo.png"
DEMO_MODEL = RESOURCES_DIR / "demo_model.sinddm"
EVAL_DIR = RESOURCES_DIR / "eval"
