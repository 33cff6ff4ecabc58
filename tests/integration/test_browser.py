"""The course in JupyterLab, in a real browser: Run All, then check what a learner sees.

nbval proves that the kernel gives the stored outputs, but it never renders them. This test opens notebooks in
JupyterLab in headless Chromium, runs them with the Run menu's "Run All Cells", and checks the page:
  (a) error outputs only in the cells tagged `raises-exception`, each showing the exception it stores;
  every code cell run once, in order, from a fresh kernel;
  (b) every stored figure drawn and decoded;
  (c) every widget (02's temperature slider, the tqdm progress bars of 05, 08 and 09) drawn as a widget, not as
  its fallback text.
A screenshot of each notebook goes to build/browser/<name>.png, pass or fail.

It opens 00, 02, 04 and every notebook whose stored outputs contain a widget (the others are skipped). It needs the
`playwright` package and Debian's Chromium at /usr/bin/chromium; without them it skips, except where the CI
variable is set: there it fails, so that CI really runs it. The harness, tests/helpers/jupyterlab.py, serves a
temporary copy of notebooks/ with its own settings: autosave cannot touch the course, nor a developer's settings
what is tested.
"""

import pytest
from helpers.jupyterlab import (
    ALWAYS_OPENED,
    Expected,
    chromium,
    figures_not_as_stored,
    jupyterlab,
    notebook_page,
    prompts_out_of_order,
    require_browser,
    unexpected_errors,
    widgets_not_drawn,
)
from helpers.notebooks import course_notebooks


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of notebooks/; afterwards, notebooks/ itself must be as it was."""
    require_browser()  # skips without Playwright or Chromium; fails instead where the CI variable is set
    with jupyterlab(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server
    written = server.course_writes()
    assert not written, (
        f"notebooks/ changed while JupyterLab ran: {written}. JupyterLab must serve only its copy in {server.root}: "
        f"check --ServerApp.root_dir (if a rebuild of these notebooks ran at the same time, run the test again)."
    )


@pytest.fixture(scope="module")
def browser(lab):
    with chromium() as browser:
        yield browser


@pytest.mark.browser
@pytest.mark.parametrize("path", course_notebooks(), ids=lambda path: path.stem)  # a folder listing: no file read
def test_run_all_in_jupyterlab(lab, browser, path):
    name = path.name
    expected = Expected.from_file(lab.root / name)  # what the notebook stores, read from the server's copy
    if name[:2] not in ALWAYS_OPENED and not expected.widgets:
        pytest.skip(f"{name}: no widget in its stored outputs, and not one of {', '.join(ALWAYS_OPENED)}")
    with notebook_page(browser, lab, name) as page:  # screenshot to build/browser/ on the way out
        page.open()  # fails unless the notebook shows with an idle kernel
        page.run_all()  # Run > Run All Cells; fails unless the run ends
        page.settle(expected)  # images decoded, widget views drawn (or the time is up)
        cells = page.read_cells()

        assert len(cells) == len(expected.cell_types), (
            f"{name}: JupyterLab shows {len(cells)} cells, the notebook has {len(expected.cell_types)}: "
            f"is windowingMode 'none' applied (cells outside the viewport are left out otherwise)?"
        )
        assert [c["code"] for c in cells] == [t == "code" for t in expected.cell_types], f"{name}: cell types differ"
        # Each failure below also says the kernel's status, the first error output and the console errors.

        # (a) Error outputs exactly in the cells tagged raises-exception, each showing the exception it stores.
        problems = unexpected_errors(name, expected, cells)
        assert not problems, page.explain(problems)
        # Every code cell executed once, in order, from a fresh kernel: [1] ... [n] on the page and in the saved copy.
        problems = prompts_out_of_order(name, expected, cells, page.save_and_read(expected))
        assert not problems, page.explain(problems)
        # (b) Every stored figure rendered, as many per cell as stored, and every image decoded.
        problems = figures_not_as_stored(name, expected, cells)
        assert not problems, page.explain(problems)
        # (c) Each stored widget drawn as a shown widget view with its slider or progress bar, never as fallback text.
        problems = widgets_not_drawn(name, expected, cells)
        assert not problems, page.explain(problems)
