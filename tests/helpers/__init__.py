"""What several test files share: the repository's paths, reading notebooks, and the JupyterLab harness.

The test files import from here (``from helpers import ROOT``): ``pyproject.toml`` puts ``tests/`` on the path.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
NOTEBOOKS = ROOT / "notebooks"
SOURCES = ROOT / "notebook_sources"
