"""Where shipped reference data lives, independent of the user's workspace."""

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
#: Reference data shipped with the package (templates, fonts, lexicons). In an editable
#: install this is the repository's data/ folder, which is also the default workspace.
REFERENCE_DATA = PACKAGE_ROOT.parent / "data"
TEMPLATES_DIR = REFERENCE_DATA / "templates"
FONTS_DIR = REFERENCE_DATA / "fonts"
