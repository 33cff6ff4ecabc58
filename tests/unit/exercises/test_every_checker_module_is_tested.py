"""Every checker module has its test file here, which tests every exercise of the package's catalogue, in the
notebook's order.

The package is the one list: the modules of attn_course/exercises/ (``__init__`` imports each one that checks a
notebook; ``core`` is what they share) and ``CATALOGUE``, which each ``@checker`` fills with its exercise. A test
file ``test_checker_<module>.py`` imports its module as ``check`` and exercises ``check.<exercise>``.
"""

import ast
import itertools
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest
from helpers.notebooks import code_sources, read_notebook

from attn_course import exercises
from attn_course.exercises.core import CATALOGUE

HERE = Path(__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules(exercises.__path__))
CHECKERS = {name: module for name in exercises.__all__ if isinstance(module := getattr(exercises, name), ModuleType)}


def file_testing(name: str) -> Path:
    return HERE / f"test_checker_{name}.py"


def uses_of_check(path: Path) -> tuple[list[str], list[str]]:
    """The module the file imports as ``check``, and every ``check.<name>`` it reads, in the file's order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if alias.asname == "check"]
    uses = [node for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "check"]
    return imported, [node.attr for node in sorted(uses, key=lambda n: (n.lineno, n.col_offset))]


def test_every_checker_module_has_its_test_file_and_no_other():
    assert set(MODULES) == set(CHECKERS) | {"core"}, "every checker module is imported by attn_course/exercises/__init__"
    assert not [name for name in MODULES if not file_testing(name).exists()], "a checker module without its test file"
    tested = {path.stem.removeprefix("test_checker_") for path in HERE.glob("test_checker_*.py")}
    assert tested <= set(MODULES), f"test files for modules that do not exist: {sorted(tested - set(MODULES))}"


def test_every_catalogued_notebook_has_its_checker_module():
    assert set(CATALOGUE) == {module.NOTEBOOK for module in CHECKERS.values()}


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_every_exercise_is_tested_in_the_order_the_notebook_sets_it(name):
    module = CHECKERS[name]
    catalogued = CATALOGUE[module.NOTEBOOK]
    imported, uses = uses_of_check(file_testing(name))
    assert imported == [f"attn_course.exercises.{name}"], f"test_checker_{name}.py should import {name} as check"
    tested = [use for use in uses if use in catalogued]
    assert not set(catalogued) - set(tested), f"exercises never checked: {sorted(set(catalogued) - set(tested))}"

    calls = "\n".join(code_sources(read_notebook(module.NOTEBOOK)))
    assert all(f"check.{e}(" in calls for e in catalogued), f"{module.NOTEBOOK} does not call every exercise"
    in_notebook = sorted(catalogued, key=lambda e: calls.index(f"check.{e}("))
    sections = [exercise for exercise, _ in itertools.groupby(tested)]
    assert sections == in_notebook, f"test_checker_{name}.py should test its exercises one after the other, in the " \
                                    f"notebook's order {in_notebook}, not {sections}"
