"""The harness of tests/integration/test_browser.py: JupyterLab on a copy of the course, driven in headless Chromium.

- What a notebook file stores, cell by cell (``Expected``), read at run time with a guard against a rebuild
  rewriting the file meanwhile (``read_whole_notebook``).
- What the page shows that it should not (``unexpected_errors``, ``prompts_out_of_order``, ``figures_not_as_stored``,
  ``widgets_not_drawn``): each returns its findings, one message each, and the test asserts there are none.
- The server (``jupyterlab``): a temporary copy of notebooks/ with its own settings, workspaces, config, data and
  runtime folders, so that autosave cannot touch the course and a developer's own settings cannot change what is
  tested; ``Lab.course_writes`` says whether notebooks/ changed all the same.
- The browser (``require_browser``, ``chromium``, ``notebook_page``): Playwright drives Debian's Chromium at
  /usr/bin/chromium (Playwright's own browser downloads are never used). The programs run in the page are the
  files in browser/, each a JavaScript function given its parameters as one JSON argument.

Playwright is imported only inside the functions that drive the browser: importing this module needs neither it
nor Chromium.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import NOTEBOOKS, ROOT
from helpers.notebooks import source, tags

SCREENSHOTS = ROOT / "build" / "browser"
SCRIPTS = Path(__file__).resolve().parent / "browser"  # the programs run in the page
CHROMIUM = Path("/usr/bin/chromium")
# The machine may have no network: without these flags Chromium keeps trying Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STDERR_MIME = "application/vnd.jupyter.stderr"  # JupyterLab renders error outputs and stderr streams with it
ALWAYS_OPENED = ("00", "02", "04")  # the welcome, softmax (a slider) and the masks notebook (many figures)
# What a widget's view must contain, by the name of a view in its stored state.
WIDGET_PARTS = {"Slider": ".widget-slider", "Progress": ".widget-hprogress, .widget-vprogress"}

VIEWPORT = {"width": 1280, "height": 900}
START_TIMEOUT_S = 120  # JupyterLab answering its REST API
OPEN_TIMEOUT_S = 120  # the notebook shown and its kernel idle
RUN_TIMEOUT_S = 480  # Run All: the slowest notebooks take about 40 s of kernel time on 2 cores
SETTLE_TIMEOUT_S = 60  # images decoded and widget views drawn after the kernel went idle
SCREENSHOT_MAX_HEIGHT = 32000  # px; the longest notebook is about 23000 px tall at this width

# The page's landmarks, passed to the programs in browser/ with their other parameters.
PANEL = ".jp-NotebookPanel"
INDICATOR = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator"
PROMPT = ".jp-Cell-inputWrapper .jp-InputArea-prompt"  # the input prompt of a shown cell: [ ], [*] or [12]
SELECTORS = {"panel": PANEL, "indicator": INDICATOR, "prompt": PROMPT, "stderrMime": STDERR_MIME}


@functools.cache
def script(name: str) -> str:
    """The text of browser/<name>.js."""
    return (SCRIPTS / f"{name}.js").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# What the notebook files say (read at run time: the notebooks may be rebuilt at any moment)


def read_whole_notebook(path: Path) -> tuple[bytes, dict]:
    """The bytes and JSON of a notebook; waits (up to 10 s) while a rebuild rewrites the file (helpers.notebooks's
    read_notebook reads once: a half-written file is an error there)."""
    deadline = time.monotonic() + 10
    while True:
        data = path.read_bytes()
        try:
            return data, json.loads(data)
        except json.JSONDecodeError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} is not valid JSON: is something still writing it?") from None
            time.sleep(0.1)


def widget_parts(state: dict, model_id: str) -> tuple[set[str], set[str]]:
    """The view names and the output mime types below one stored widget model (empty when no state is stored)."""
    views, mimes, todo, seen = set(), set(), [model_id], set()
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid].get("state", {})
        views.add(model.get("_view_name") or "")
        for out in model.get("outputs", []):
            mimes.update(out.get("data", {}))
        todo += [str(child).removeprefix("IPY_MODEL_") for child in model.get("children", [])]
    return views, mimes


@dataclass
class Expected:
    """What the executed notebook stores, cell by cell (indices count every cell, markdown included)."""

    cell_types: list[str]
    executed: list[int]  # code cells with source: the ones Run All executes
    raises: dict[int, list[str]]  # cell tagged raises-exception -> the exception names it stores
    pngs: dict[int, int]  # cell -> number of image/png outputs
    widgets: dict[int, list[dict]] = field(default_factory=dict)  # cell -> one entry per widget view

    @classmethod
    def from_notebook(cls, nb: dict) -> Expected:
        cells = nb["cells"]
        state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        state = state.get("state", {})
        expected = cls(
            cell_types=[c["cell_type"] for c in cells],
            executed=[i for i, c in enumerate(cells) if c["cell_type"] == "code" and source(c).strip()],
            raises={},
            pngs={},
        )
        for i, cell in enumerate(cells):
            outputs = cell.get("outputs", [])
            if "raises-exception" in tags(cell):
                expected.raises[i] = [o.get("ename", "") for o in outputs if o["output_type"] == "error"]
            if n := sum("image/png" in o.get("data", {}) for o in outputs):
                expected.pngs[i] = n
            for out in outputs:
                if WIDGET_MIME in out.get("data", {}):
                    views, mimes = widget_parts(state, out["data"][WIDGET_MIME].get("model_id", ""))
                    expected.widgets.setdefault(i, []).append({
                        "parts": sorted({sel for key, sel in WIDGET_PARTS.items() if any(key in v for v in views)}),
                        "image": "image/png" in mimes,
                        "fallback": "".join(out["data"].get("text/plain", "")).strip(),
                    })
        return expected

    @classmethod
    def from_file(cls, path: Path) -> Expected:
        return cls.from_notebook(read_whole_notebook(path)[1])


def code_label(expected: Expected, i: int) -> str:
    """'cell 24 (code cell 12)': a notebook cell index, and which code cell it is (both from 0 and 1)."""
    return f"cell {i} (code cell {expected.executed.index(i) + 1})" if i in expected.executed else f"cell {i}"


# ---------------------------------------------------------------------------------------------------------
# What the page shows that it should not. `cells` is what browser/read_cells.js reads, one record per cell.
# Each function returns one message per problem found (the notebook's name first); the test asserts none.


def unexpected_errors(name: str, expected: Expected, cells: list[dict]) -> list[str]:
    """Error outputs outside the cells tagged raises-exception; a tagged cell not showing the exception it stores;
    a widget that could not be displayed."""
    problems = []
    unexpected = {i: c["errors"] for i, c in enumerate(cells) if c["errors"] and i not in expected.raises}
    if unexpected:
        problems.append(f"{name}: error output in {', '.join(code_label(expected, i) for i in unexpected)}, not tagged "
                        f"raises-exception. The first one:\n{next(iter(unexpected.values()))[0][:1500]}")
    for i, enames in expected.raises.items():
        errors = cells[i]["errors"]
        if not errors:
            problems.append(f"{name}: {code_label(expected, i)} is tagged raises-exception but shows no error: does it "
                            f"still raise? Remove the tag if not.")
            continue
        missing = [e for e in enames if e and not any(e in text for text in errors)]
        if missing:
            problems.append(f"{name}: {code_label(expected, i)} should show {missing} as stored, shows:\n{errors[0][:1500]}")
    broken = [i for i, c in enumerate(cells) if any("Error displaying widget" in o["text"] for o in c["outputs"])]
    if broken:
        problems.append(f"{name}: 'Error displaying widget' in {', '.join(code_label(expected, i) for i in broken)}: "
                        f"the widget manager lost the model (is jupyterlab_widgets the version ipywidgets wants?)")
    return problems


def prompts_out_of_order(name: str, expected: Expected, cells: list[dict], saved: dict) -> list[str]:
    """A code cell whose prompt shows no execution count; execution counts in the saved copy other than 1..n."""
    problems = []
    # A cell whose source is hidden (the solutions) shows a placeholder, no prompt: the saved copy speaks for it.
    shown = [i for i in expected.executed if cells[i]["prompt"] is not None]
    not_run = [i for i in shown if not re.fullmatch(r"\[\d+\]:", cells[i]["prompt"])]
    if not_run:
        problems.append(f"{name}: {', '.join(code_label(expected, i) for i in not_run)} show no execution count "
                        f"(prompts {[cells[i]['prompt'] for i in not_run]}): Run All stopped early, look for the first error")
    counts = [saved["cells"][i].get("execution_count") for i in expected.executed]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"{name}: the saved copy has execution counts {counts}, expected 1..{len(counts)}: "
                        f"a cell was skipped or the kernel restarted")
    return problems


def figures_not_as_stored(name: str, expected: Expected, cells: list[dict]) -> list[str]:
    """A cell rendering another number of figures than it stores; an image that did not decode."""
    problems = []
    drawn = {i: sum(o["pngs"] for o in c["outputs"]) for i, c in enumerate(cells)}
    wrong = {i: (expected.pngs.get(i, 0), drawn[i]) for i in drawn if drawn[i] != expected.pngs.get(i, 0)}
    if wrong:
        details = "; ".join(f"{code_label(expected, i)}: stored {s}, rendered {r}" for i, (s, r) in wrong.items())
        problems.append(f"{name}: image outputs differ from the stored notebook ({details}): a figure not drawn, or drawn twice")
    undecoded = [i for i, c in enumerate(cells) for o in c["outputs"] for img in o["images"] if not img["loaded"]]
    if undecoded:
        problems.append(f"{name}: images in {sorted(set(undecoded))} did not load (naturalWidth 0): a broken PNG?")
    return problems


def widgets_not_drawn(name: str, expected: Expected, cells: list[dict]) -> list[str]:
    """A stored widget shown as its plain-text fallback, missing, hidden, still loading, without its slider or
    progress bar, or without the figure its output stores."""
    problems = []
    for i, widgets in expected.widgets.items():
        where = code_label(expected, i)
        outputs = cells[i]["outputs"]
        fallbacks = [o["text"][:200] for o in outputs if o["mime"] == "text/plain"
                     and any(w["fallback"] and o["text"] == w["fallback"] for w in widgets)]
        if fallbacks:
            problems.append(f"{name}: {where} shows a widget's plain-text repr instead of the widget: {fallbacks}. "
                            f"Is jupyterlab_widgets installed where JupyterLab runs?")
        views = [o for o in outputs if o["widget"]]
        if len(views) != len(widgets):
            problems.append(f"{name}: {where} should show {len(widgets)} widget view(s) as stored, shows {len(views)} "
                            f"(outputs: {[o['mime'] or 'widget' for o in outputs]})")
        for view, widget in zip(views, widgets):
            if not view["shown"]:
                problems.append(f"{name}: a widget view in {where} has no size on the page (hidden?)")
            if "Loading widget" in view["text"]:
                problems.append(f"{name}: a widget in {where} is still 'Loading widget...'")
            for part in widget["parts"]:
                if view["parts"][part] < 1:
                    problems.append(f"{name}: the widget in {where} shows no {part!r} (stored: {widget['fallback'][:120]})")
            if widget["image"] and not any(img["inWidget"] and img["loaded"] for img in view["images"]):
                problems.append(f"{name}: the widget in {where} stores a figure in its output but shows none: "
                                f"did the callback fail?")
    return problems


# ---------------------------------------------------------------------------------------------------------
# The server


def require_browser() -> None:
    """Skip without Playwright or Chromium; under CI (the CI variable set) fail instead."""
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append('the playwright package is not installed (pip install -e ".[test]")')
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    if problems:
        message = "browser test: " + "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must run this test (.ci/run installs Chromium)", pytrace=False)
        pytest.skip(message)


def tree_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below folder, by relative path (a file deleted while reading is left out)."""
    hashes = {}
    for path in sorted(folder.rglob("*")):
        try:
            hashes[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        except (FileNotFoundError, IsADirectoryError):
            pass
    return hashes


def course_writes(before: dict[str, str], after: dict[str, str], opened: list[str]) -> list[str]:
    """Changes in notebooks/ that JupyterLab could have made: an opened notebook's bytes, or a new file that is
    not a course notebook (checkpoints, language-server documents). Other notebooks may be rebuilt meanwhile."""
    rewritten = [name for name in opened if name in before and before[name] != after.get(name)]
    new = [path for path in after.keys() - before.keys() if not re.fullmatch(r"\d\d_[^/]*\.ipynb", path)]
    return sorted(rewritten + new)


def copy_course(dest: Path) -> None:
    """Copy notebooks/ to dest, every notebook as valid JSON (a rebuild may be rewriting one)."""
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        (dest / path.name).write_bytes(read_whole_notebook(path)[0])


def write_isolated_settings(home: Path) -> dict[str, Path]:
    """JupyterLab's folders in temp: settings (every cell in the DOM, no news), workspaces, config, data, runtime."""
    dirs = {name: home / name for name in ("settings", "workspaces", "config", "data", "runtime", "ipython")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    settings = {
        # JupyterLab 4 keeps only the cells near the viewport in the DOM unless windowing is off.
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    }
    for rel, values in settings.items():
        path = dirs["settings"] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return dirs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: its address, token, served folder and log."""

    url: str
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen
    before: dict[str, str]  # tree_hashes of notebooks/ before the server started
    opened: list[str] = field(default_factory=list)  # the notebooks the tests opened, in order

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        request = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def sessions(self, name: str | None = None) -> list[dict]:
        return [s for s in self.api("GET", "/api/sessions") if name is None or s["path"] == name]

    def kernel_report(self, name: str) -> str:
        try:
            found = self.sessions(name)
        except OSError as error:
            return f"server unreachable ({error})"
        if not found:
            return "no kernel session on the server"
        kernel = found[0]["kernel"]
        return f"server says kernel {kernel['execution_state']}, {kernel.get('connections')} browser connection(s)"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def course_writes(self) -> list[str]:
        """What changed in notebooks/ since the server started that JupyterLab could have written (see course_writes)."""
        return course_writes(self.before, tree_hashes(NOTEBOOKS), opened=self.opened)


def wait_for_server(lab: Lab) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    status = f"{lab.url}/api/status?token={lab.token}"
    while True:
        if lab.proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {lab.proc.returncode} before answering; its log:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(status, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not answer {lab.url}/api/status within {START_TIMEOUT_S} s; log:\n{lab.log_tail()}")
        time.sleep(0.2)


def stop_server(lab: Lab) -> None:
    """Shut kernels and server down, then kill whatever is left in the server's process group. Never raises."""
    try:
        for kernel in lab.api("GET", "/api/kernels"):  # kernels run in sessions of their own: stop them here
            lab.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        lab.api("POST", "/api/shutdown")
    except (OSError, ValueError):
        pass  # already gone, or answering badly: the signals below stop it
    try:
        lab.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(lab.proc.pid, sig)  # started with start_new_session: the group's id is the server's pid
        except ProcessLookupError:
            return
        try:
            lab.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass


@contextmanager
def jupyterlab(home: Path) -> Iterator[Lab]:
    """JupyterLab serving a copy of notebooks/ in home/notebooks, its folders and log in home; stopped on exit."""
    before = tree_hashes(NOTEBOOKS)
    root = home / "notebooks"
    copy_course(root)
    dirs = write_isolated_settings(home)
    port, token = free_port(), secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH")}
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["ipython"]),
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        f"--LabApp.user_settings_dir={dirs['settings']}", f"--LabApp.workspaces_dir={dirs['workspaces']}",
        # Nothing that reaches the network: no news feed, no update check, no PyPI extension manager.
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    log = home / "jupyterlab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(command, cwd=home, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log, proc=proc, before=before)
    try:
        wait_for_server(server)
        yield server
    finally:
        stop_server(server)


# ---------------------------------------------------------------------------------------------------------
# The browser


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's headless Chromium, launched by Playwright (a playwright.sync_api.Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class NotebookPage:
    """One notebook in JupyterLab, in a page of its own: open it, Run All, read what it shows, save, screenshot."""

    def __init__(self, page, lab: Lab, name: str):
        self.page, self.lab, self.name = page, lab, name
        self.console_errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text[:300]))
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"[:300]))

    def report(self) -> str:
        """Kernel status (page and server), open dialogs, the first error output, console errors: for failure messages."""
        try:
            facts = self.page.evaluate(script("page_report"), SELECTORS)
        except Exception as error:  # the page itself may be what broke
            facts = {"page": f"unreadable ({error})"}
        facts["server"] = self.lab.kernel_report(self.name)
        facts["console errors"] = self.console_errors[:5]
        return "\n  ".join(f"{k}: {v}" for k, v in facts.items()) + f"\n  JupyterLab log: {self.lab.log}"

    def explain(self, problems: list[str]) -> str:
        """A failure message: the problems, then the page's report."""
        return "\n".join(problems) + f"\n  {self.report()}"

    def open(self) -> None:
        """Open the notebook; fail unless it shows and its kernel is idle within OPEN_TIMEOUT_S."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        # ?reset: start from an empty workspace, so the notebook opened by the previous test is not restored.
        self.page.goto(f"{self.lab.url}/lab/tree/{self.name}?reset&token={self.lab.token}", wait_until="domcontentloaded")
        try:
            self.page.wait_for_function(script("kernel_ready"), arg=SELECTORS, timeout=OPEN_TIMEOUT_S * 1000, polling=100)
        except PlaywrightTimeout:
            pytest.fail(f"{self.name}: the notebook or its kernel was not ready within {OPEN_TIMEOUT_S} s\n  {self.report()}",
                        pytrace=False)

    def run_all(self) -> None:
        """Run > Run All Cells, found by command id (no shortcut, no label); fail unless the run ends within RUN_TIMEOUT_S."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page, name = self.page, self.name
        # The menu bar's items carry no id; open each menu until the one with the Run menu's id shows.
        opened = page.locator(".lm-Menu.lm-MenuBar-menu")
        items = page.locator("#jp-MainMenu li.lm-MenuBar-item")
        for i in range(items.count()):
            items.nth(i).click()
            opened.wait_for(state="visible", timeout=10_000)
            if opened.get_attribute("id") == "jp-mainmenu-run":
                break
            page.keyboard.press("Escape")
            opened.wait_for(state="detached", timeout=10_000)
        else:
            pytest.fail("JupyterLab's menu bar has no Run menu (#jp-mainmenu-run)", pytrace=False)
        # JupyterLab 4's Run menu holds runmenu:run-all, which runs notebook:run-all-cells for a notebook.
        item = opened.locator('li.lm-Menu-item[data-command="notebook:run-all-cells"], '
                              'li.lm-Menu-item[data-command="runmenu:run-all"]').first
        if item.get_attribute("aria-disabled") == "true":
            pytest.fail(f"{name}: Run All Cells is disabled in the Run menu", pytrace=False)
        queued_before = page.evaluate("window.__queued")
        item.click()
        try:
            page.wait_for_function(script("run_finished"), arg={**SELECTORS, "queuedBefore": queued_before},
                                   timeout=RUN_TIMEOUT_S * 1000, polling=250)
        except PlaywrightTimeout:
            pytest.fail(f"{name}: Run All did not finish within {RUN_TIMEOUT_S} s (a [*] prompt left or the kernel "
                        f"not idle)\n  {self.report()}", pytrace=False)

    def settle(self, expected: Expected) -> None:
        """Wait (up to SETTLE_TIMEOUT_S) until every image is decoded and each cell shows its stored widget views.
        Never fails: the checks on read_cells() say what is missing."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        widget_cells = {i: len(w) for i, w in expected.widgets.items()}
        try:
            self.page.wait_for_function(script("settled"), arg={**SELECTORS, "widgetCells": widget_cells},
                                        timeout=SETTLE_TIMEOUT_S * 1000, polling=250)
        except PlaywrightTimeout:
            pass

    def read_cells(self) -> list[dict]:
        """What the page shows, one record per cell (see browser/read_cells.js)."""
        return self.page.evaluate(script("read_cells"), {**SELECTORS, "partSelectors": sorted(WIDGET_PARTS.values())})

    def save_and_read(self, expected: Expected) -> dict:
        """Save from the toolbar (command id docmanager:save) and read the copy back: hidden cells show no prompt."""
        self.page.locator(f'{PANEL} jp-button[data-command="docmanager:save"]').click()
        deadline = time.monotonic() + 60
        while True:
            nb = read_whole_notebook(self.lab.root / self.name)[1]
            if all(nb["cells"][i].get("execution_count") for i in expected.executed if i < len(nb["cells"])):
                return nb
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: after Save the file still lacks execution counts\n  {self.report()}",
                            pytrace=False)
            time.sleep(0.2)

    def screenshot(self) -> Path:
        """The whole notebook in one PNG: JupyterLab never scrolls the page itself, so the viewport grows to fit."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{Path(self.name).stem}.png"
        frame, notebook = self.page.evaluate(script("notebook_height"), SELECTORS)
        height = max(VIEWPORT["height"], min(frame + notebook, SCREENSHOT_MAX_HEIGHT))
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        # Lumino lays the panels out again a frame after the resize: wait until the notebook area has grown.
        self.page.wait_for_function(script("layout_grown"), arg={**SELECTORS, "frame": frame}, timeout=15_000)
        self.page.screenshot(path=str(path), full_page=True, timeout=60_000)
        return path


@contextmanager
def notebook_page(browser, lab: Lab, name: str) -> Iterator[NotebookPage]:
    """A fresh browser context that reaches only JupyterLab, its page for notebook `name`. On exit, pass or fail:
    a screenshot to build/browser/<stem>.png, the context closed, the notebook's kernel sessions deleted."""
    lab.opened.append(name)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(script("recorder"))
    # Only JupyterLab is reachable: the notebooks' Colab badges and anything else off-machine fail at once.
    context.route(lambda url: not url.startswith(lab.url + "/"), lambda route: route.abort())
    notebook = NotebookPage(context.new_page(), lab, name)
    try:
        yield notebook
    finally:
        try:
            notebook.screenshot()
        except Exception as error:  # a failed screenshot must not hide the test's own failure
            print(f"screenshot of {name} failed: {error}")
        context.close()
        try:
            for session in lab.sessions(name):
                lab.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        except OSError:
            pass
