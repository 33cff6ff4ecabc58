"""Student copies (tools/student_copies.py): no solution survives, and every copy runs top to bottom."""

import hashlib
import subprocess
import sys

import nbformat
import pytest
from helpers import ROOT
from helpers.notebooks import cells_tagged, course_notebooks, read_notebook, result_text, source, tags
from nbclient import NotebookClient  # installed with nbval

NOTEBOOKS = course_notebooks()
sys.path.insert(0, str(ROOT / "tools"))
pytest.importorskip("nbstripout")
from student_copies import make_student_copies  # noqa: E402


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in NOTEBOOKS}
    out = tmp_path_factory.mktemp("student")
    made = make_student_copies(out)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in NOTEBOOKS}
    assert before == after, "making student copies changed the course's notebooks"
    return {p.name: p for p in made}


def code_part(line):
    return line.split("  #")[0].strip()


def solution_only_lines(nb):
    """The code of solution lines found in no other cell (a stub shares its def and docstring, and some solutions
    reuse a line the notebook taught earlier): what a student copy must not contain."""
    elsewhere = "\n".join(source(c) for c in nb["cells"] if "solution" not in tags(c))
    return [code_part(line) for c in nb["cells"] if "solution" in tags(c) and c["cell_type"] == "code"
            for line in source(c).splitlines()
            if code_part(line) and not line.strip().startswith("#") and code_part(line) not in elsewhere]


def test_every_course_notebook_gets_a_copy(copies):
    assert sorted(copies) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_solution_source_survives(path, copies):
    course, student = read_notebook(path), read_notebook(copies[path.name])
    secret = solution_only_lines(course)
    assert len(secret) >= 1, "the solutions should have lines of their own (or this test checks nothing)"
    text = "\n".join(source(c) for c in student["cells"])
    leaked = [line for line in secret if line in text]
    assert not leaked, f"solution lines left in the student copy: {leaked[:3]}"
    assert not cells_tagged(student, "solution")
    dropped = len(cells_tagged(course, "solution"))
    assert len(student["cells"]) == len(course["cells"]) - dropped, "only the solution cells are left out"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_cleared_and_lessons_kept(path, copies):
    course, student = read_notebook(path), read_notebook(copies[path.name])
    exercise_cells = [c for c in student["cells"] if {"exercise", "check"} & set(tags(c))]
    assert exercise_cells and all(c["outputs"] == [] for c in exercise_cells), "stubs and checks start without output"

    def images(nb):
        return sum("image/png" in o.get("data", {}) for c in nb["cells"] if "solution" not in tags(c)
                   for o in c.get("outputs", []))

    assert images(student) == images(course), "the figures that teach stay in the student copy"
    assert all(c.get("execution_count") is None for c in student["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_runs_top_to_bottom_and_checks_say_not_attempted(path, copies):
    nb = nbformat.read(copies[path.name], as_version=4)
    folder = copies[path.name].parent
    # Errors fail the run (CellExecutionError), except in cells tagged raises-exception, as under nbval.
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    verdicts = [result_text(o) for c in nb.cells if "check" in tags(c) or "exercise" in tags(c)
                for o in c.get("outputs", []) if o.get("output_type") == "execute_result"]
    verdicts = [v for v in verdicts if "hint" not in v.lower()]
    assert verdicts and all("not attempted" in v for v in verdicts), verdicts


def test_the_command_line_writes_copies_and_refuses_to_overwrite_the_course(tmp_path):
    tool = ROOT / "tools" / "student_copies.py"
    done = subprocess.run([sys.executable, str(tool), str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{len(NOTEBOOKS)} student notebooks written" in done.stdout
    assert len(list((tmp_path / "out").glob("*.ipynb"))) == len(NOTEBOOKS)
    refused = subprocess.run([sys.executable, str(tool), str(ROOT / "notebooks")], capture_output=True, text=True)
    assert refused.returncode != 0 and "must not be notebooks/" in refused.stderr
