"""Reading the course's notebooks as the tests need them: which notebooks, their cells, tags and outputs.

A notebook here is the JSON of an ``.ipynb`` file, a plain ``dict`` (an ``nbformat`` notebook works too: every helper
reads cells and outputs with ``[]`` and ``.get`` only). Test files import what they use::

    from helpers.notebooks import code_cells, course_notebooks, read_notebook, source, tags
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import NOTEBOOKS, ROOT, SOURCES

COURSE_NOTEBOOK = "[0-9][0-9]_*.ipynb"  # 00_welcome.ipynb ... : a course notebook's name starts with its number


def course_notebooks() -> list[Path]:
    """The course's notebooks, in the order of their numbers."""
    return sorted(NOTEBOOKS.glob(COURSE_NOTEBOOK))


def source_scripts() -> list[Path]:
    """The scripts the notebooks are built from (notebook_sources/00_welcome.py ...), in the same order."""
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def read_notebook(path: Path | str) -> dict:
    """The JSON of a notebook file; a bare name (``"02_softmax"`` or ``"02_softmax.ipynb"``) is looked up in notebooks/."""
    path = Path(path)
    if not path.is_absolute() and path.parent == Path("."):
        path = NOTEBOOKS / path.with_suffix(".ipynb").name
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    """A cell's source as one string (the file stores it as a list of lines)."""
    return "".join(cell["source"])


def tags(cell: dict) -> list[str]:
    return cell["metadata"].get("tags", [])


def is_hidden(cell: dict) -> bool:
    """Whether the cell's source is folded away (JupyterLab's ``jupyter.source_hidden``), as the solutions are."""
    return bool(cell["metadata"].get("jupyter", {}).get("source_hidden"))


def code_cells(nb: dict) -> list[dict]:
    """The code cells that have code (Run All executes these, and counts them)."""
    return [c for c in nb["cells"] if c["cell_type"] == "code" and source(c).strip()]


def code_sources(nb: dict) -> list[str]:
    """The source of every code cell that has code, in order."""
    return [source(c) for c in code_cells(nb)]


def cells_tagged(nb: dict, tag: str) -> list[dict]:
    """The cells (of any type) that carry ``tag``."""
    return [c for c in nb["cells"] if tag in tags(c)]


def output_text(output: dict) -> str:
    """All the text an output stores: a stream's text, a result's text/plain and an error's traceback."""
    return ("".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            + "".join(output.get("traceback", [])))


def result_text(output: dict) -> str:
    """The text/plain of a result (what a checker's verdict shows as); empty for streams and errors."""
    return "".join(output.get("data", {}).get("text/plain", ""))


def repository_url() -> str:
    """The repository, as pyproject.toml names it: ``https://github.com/owner/name``."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^Repository = "(https://github\.com/[^"]+)"', text, re.M).group(1)


def colab_url(notebook: Path | str) -> str:
    """Where Colab opens a course notebook (the main branch of the repository)."""
    repo = repository_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{Path(notebook).name}"
