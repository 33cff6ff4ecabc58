"""The course website: book/ turns the stored notebooks into a static site with Jupyter Book 1.

One build, with the exact command written at the top of book/_config.yml (only its output folder moved
to a temporary one), then checks on what it made: no warning, a page per notebook with the notebook's
own figures and printed lines, a navigation that reaches every page, nothing executed, nothing fetched.
"""

import base64
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from helpers import NOTEBOOKS as NOTEBOOK_FOLDER
from helpers import ROOT
from helpers.notebooks import is_hidden, read_notebook, repository_url, tags

pytestmark = pytest.mark.site

BOOK = ROOT / "book"
NOTEBOOKS = sorted(NOTEBOOK_FOLDER.glob("*.ipynb"))  # every notebook there, numbered or not: the site must show them all
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens there: any download during the build fails, and so does the build
FIGURE = re.compile(r"_images/([0-9a-f]{64})\.png$")  # myst-nb names an output image by the SHA-256 of its bytes


def documented_command():
    """The build command, as book/_config.yml's opening comment states it."""
    for line in (BOOK / "_config.yml").read_text(encoding="utf-8").splitlines():
        text = line.lstrip("#").strip()
        if text.startswith("jupyter-book build "):
            return shlex.split(text)
    raise AssertionError("book/_config.yml should state its build command in a comment")


def shown_outputs(nb):
    """(cell, output) for every stored output of a code cell that the site shows."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not {"remove-output", "remove_output", "remove-cell"} & set(tags(cell)):
            for output in cell.get("outputs", []):
                yield cell, output


class Page(HTMLParser):
    """What the checks read from a page: its visible text, its images, and the links of its side navigation."""

    def __init__(self, path):
        super().__init__()
        self.text, self.images, self.nav_links = [], [], []
        self._skip = self._nav = 0
        self.feed(path.read_text(encoding="utf-8"))
        self.text = " ".join(" ".join(self.text).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "nav" and (self._nav or "bd-docs-nav" in (attrs.get("class") or "").split()):
            self._nav += 1  # inside the side navigation (sphinx-book-theme's <nav class="bd-docs-nav">)
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "a" and self._nav:
            self.nav_links.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "nav" and self._nav:
            self._nav -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once, exactly as documented, into a temporary folder; return its HTML folder and the log."""
    out = tmp_path_factory.mktemp("site")
    command = documented_command()
    command[command.index("--path-output") + 1] = str(out)
    executable = Path(sys.executable).with_name("jupyter-book")
    command[0] = str(executable) if executable.exists() else shutil.which("jupyter-book")
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update({name: DEAD_PROXY for name in ("http_proxy", "https_proxy", "all_proxy")})
    env.update({name.upper(): DEAD_PROXY for name in ("http_proxy", "https_proxy", "all_proxy")})
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = ANSI.sub("", done.stdout + done.stderr)
    return {"html": out / "_build" / "html", "log": log, "returncode": done.returncode}


def test_the_build_succeeds_without_a_single_warning(site):
    warnings = [line for line in site["log"].splitlines() if "WARNING" in line or "ERROR" in line]
    assert site["returncode"] == 0 and not warnings, "\n".join(warnings) or site["log"][-3000:]
    assert "build succeeded" in site["log"]


def test_the_toc_lists_every_notebook_in_order():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert files == [f"notebooks/{p.stem}" for p in NOTEBOOKS], "book/_toc.yml should list every notebook in notebooks/, in order"


def test_the_navigation_reaches_every_page_in_order(site):
    html = site["html"]
    assert "book/intro.html" in (html / "index.html").read_text(encoding="utf-8"), "index.html should open the landing page"
    expected = [(html / "notebooks" / f"{p.stem}.html").resolve() for p in NOTEBOOKS]
    for page in [html / "book" / "intro.html", html / "notebooks" / f"{NOTEBOOKS[-1].stem}.html"]:
        # a link is relative to its page; the page's own entry links "#"
        targets = [page.resolve() if href.startswith("#") else (page.parent / href.split("#")[0]).resolve()
                   for href in Page(page).nav_links]
        assert [t for t in targets if t in expected] == expected, f"{page.name}'s side navigation should link every notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_page_shows_its_stored_figures_and_printed_lines(site, path):
    page_path = site["html"] / "notebooks" / f"{path.stem}.html"
    assert page_path.exists(), f"no page for {path.name}"
    page, nb = Page(page_path), read_notebook(path)

    stored = Counter(
        hashlib.sha256(base64.b64decode(output["data"]["image/png"])).hexdigest()
        for _, output in shown_outputs(nb)
        if "image/png" in output.get("data", {})
    )
    shown = Counter(m.group(1) for src in page.images if (m := FIGURE.search(src)))
    assert shown == stored, f"{sum(stored.values())} stored figures, {sum(shown.values())} on the page"
    assert all((site["html"] / "_images" / f"{digest}.png").exists() for digest in shown)

    for _, output in shown_outputs(nb):
        if output["output_type"] == "stream":
            printed = " ".join(ANSI.sub("", "".join(output["text"])).split())
            assert printed in page.text, f"stored output missing from the page: {printed[:120]!r}"


def test_no_notebook_was_executed(site):
    """myst-nb says execution is off, and the pages carry outputs that differ on every run (timings)."""
    assert "execution_mode='off'" in site["log"]
    assert "Executing notebook" not in site["log"]
    run_dependent = 0
    for path in NOTEBOOKS:
        text = Page(site["html"] / "notebooks" / f"{path.stem}.html").text
        for cell, output in shown_outputs(read_notebook(path)):
            if output["output_type"] == "stream" and "nbval-ignore-output" in tags(cell):
                run_dependent += 1
                assert " ".join("".join(output["text"]).split()) in text
    assert run_dependent >= 5, "too few run-dependent stored outputs to tell a re-executed notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_widgets_dropped_and_solutions_folded(site, path):
    """book/_ext/static_notebook.py: no widget output or widget JavaScript, and one toggle per hidden solution."""
    html = (site["html"] / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in html and "html-manager" not in html
    hidden = [c for c in read_notebook(path)["cells"] if is_hidden(c)]
    solutions = [c for c in hidden if "solution" in tags(c)]
    assert html.count("Show the solution") == len(solutions)
    assert html.count('<details class="admonition hide above-input">') == len(hidden)


def test_the_build_needs_no_network():
    """What Sphinx is given: no intersphinx inventory, no extension beyond Jupyter Book's own, offline MathJax and ours,
    nothing run."""
    from jupyter_book.config import get_final_config

    def final_config(user_yaml):
        return get_final_config(user_yaml=user_yaml, cli_config={"latex_individualpages": False}, sourcedir=ROOT)[0]

    config, jupyter_book_default = final_config(BOOK / "_config.yml"), final_config(None)
    assert not config.get("intersphinx_mapping")
    assert set(config["extensions"]) - set(jupyter_book_default["extensions"]) == {"static_notebook", "sphinx-mathjax-offline"}
    assert config["nb_execution_mode"] == "off"
    assert config["nb_ipywidgets_js"] == {}, "widget JavaScript would come from a CDN"


def test_equations_render_without_the_network(site):
    """sphinx-mathjax-offline copies MathJax into the site: pages load it from _static, not from a CDN."""
    html = (site["html"] / "notebooks" / "02_softmax.html").read_text(encoding="utf-8")
    assert 'src="../_static/mathjax/tex-chtml.js"' in html and "cdn.jsdelivr.net/npm/mathjax" not in html
    assert (site["html"] / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_the_book_links_the_repository_named_in_pyproject():
    repository = repository_url()
    for name in ("_config.yml", "intro.md"):
        for url in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", (BOOK / name).read_text(encoding="utf-8")):
            assert url == repository, f"book/{name} links {url}, pyproject says {repository}"
