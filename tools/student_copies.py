"""Write student copies of the course's notebooks: the solutions left out, the exercises unanswered.

    python tools/student_copies.py [OUT]        (OUT defaults to student/, beside notebooks/)

Each notebook in notebooks/ is copied to OUT and stripped there by nbstripout (pip install nbstripout,
or `pip install -e ".[classroom]"`):

- ``--drop-tagged-cells=solution`` removes every cell tagged ``solution``: the hidden solutions, the
  checks that follow them, and the sentences that announce them;
- outputs are kept (``--keep-output``: the figures and numbers that teach), except in the cells
  whose metadata says ``keep_output: false``, the exercise stubs and their check and hint cells,
  so a student sees no verdict before running the check;
- execution counts are cleared; the stored widget state is kept, so progress bars still show.

Then every copy is verified (no solution cell, no output left in an exercise or check cell); the
command fails if one is not. Student copies run top to bottom: their checks say "not attempted".
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def strip(paths: list[Path]) -> None:
    """Run nbstripout on ``paths`` in place (the copies, never the course's notebooks)."""
    command = [sys.executable, "-m", "nbstripout", "--keep-output", "--keep-id", "--drop-tagged-cells=solution",
               "--keep-metadata-keys", "metadata.widgets", *map(str, paths)]
    subprocess.run(command, check=True)


def problems(path: Path) -> list[str]:
    """What would still give an answer away in the student copy at ``path`` (empty when none)."""
    found = []
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        tags = cell["metadata"].get("tags", [])
        if "solution" in tags:
            found.append(f"{path.name}: cell {i} is tagged solution")
        if {"exercise", "check"} & set(tags) and cell.get("outputs"):
            found.append(f"{path.name}: exercise/check cell {i} kept its output")
    return found


def make_student_copies(out: Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Copy ``notebooks`` (default: every course notebook) to ``out``, strip them, verify them; return the copies."""
    out = Path(out).resolve()
    if out == NOTEBOOKS.resolve():
        raise ValueError("out must not be notebooks/ itself: the student copies would replace the course")
    notebooks = notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    out.mkdir(parents=True, exist_ok=True)
    copies = [Path(shutil.copyfile(nb, out / nb.name)) for nb in notebooks]
    strip(copies)
    found = [problem for copy in copies for problem in problems(copy)]
    if found:
        raise RuntimeError("student copies still give answers away:\n" + "\n".join(found))
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "student"), help="folder for the copies (default: student/)")
    args = parser.parse_args()
    try:
        import nbstripout  # noqa: F401
    except ImportError:
        sys.exit('nbstripout is not installed: pip install nbstripout (or pip install -e ".[classroom]")')
    copies = make_student_copies(Path(args.out))
    print(f"{len(copies)} student notebooks written to {args.out}: solutions removed, exercises and checks cleared.")


if __name__ == "__main__":
    main()
