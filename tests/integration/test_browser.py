"""The course in JupyterLab, in a real browser: Run All, then check what a learner sees.

nbval proves that the kernel gives the stored outputs, but it never renders them. This test opens notebooks
in JupyterLab with headless Chromium (driven by Playwright), runs them with the Run menu's "Run All Cells",
and checks the page: error outputs only in the cells tagged `raises-exception`, every figure drawn and
loaded, every widget (02's temperature slider, the tqdm progress bars of 05, 08 and 09) drawn as a widget
and not as its fallback text. A screenshot of each notebook goes to build/browser/<name>.png, pass or fail.

It opens 00, 02, 04 and every notebook whose stored outputs contain a widget. It needs the `playwright`
package (in the test extra; Playwright's own browser downloads are never used) and Debian's Chromium at
/usr/bin/chromium (`apt-get install chromium`). Without them it skips, except where the CI variable is set:
there it fails, so that CI really runs it. JupyterLab serves a temporary copy of notebooks/ with its own
settings, workspaces, config, data and runtime folders: autosave cannot touch the course, and a developer's
own JupyterLab settings cannot change what is tested.
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository
COURSE = ROOT / "notebooks"
SCREENSHOTS = ROOT / "build" / "browser"
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


# ---------------------------------------------------------------------------------------------------------
# What the notebook files say (read at run time: the notebooks may be rebuilt at any moment)


def read_notebook(path: Path) -> tuple[bytes, dict]:
    """The bytes and JSON of a notebook; waits (up to 10 s) while a rebuild rewrites the file."""
    deadline = time.monotonic() + 10
    while True:
        data = path.read_bytes()
        try:
            return data, json.loads(data)
        except json.JSONDecodeError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} is not valid JSON: is something still writing it?") from None
            time.sleep(0.1)


def has_widget_outputs(nb: dict) -> bool:
    return any(WIDGET_MIME in out.get("data", {}) for cell in nb["cells"] for out in cell.get("outputs", []))


def notebooks_to_open() -> list[str]:
    """00, 02, 04 and every notebook whose stored outputs contain a widget (an unreadable one too: it then fails)."""
    names = []
    for path in sorted(COURSE.glob("[0-9][0-9]_*.ipynb")):
        try:
            widgets = has_widget_outputs(read_notebook(path)[1])
        except AssertionError:
            widgets = True
        if path.name[:2] in ALWAYS_OPENED or widgets:
            names.append(path.name)
    return names


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
            executed=[i for i, c in enumerate(cells) if c["cell_type"] == "code" and "".join(c["source"]).strip()],
            raises={},
            pngs={},
        )
        for i, cell in enumerate(cells):
            outputs = cell.get("outputs", [])
            if "raises-exception" in cell.get("metadata", {}).get("tags", []):
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


def code_label(expected: Expected, i: int) -> str:
    """'cell 24 (code cell 12)': a notebook cell index, and which code cell it is (both from 0 and 1)."""
    return f"cell {i} (code cell {expected.executed.index(i) + 1})" if i in expected.executed else f"cell {i}"


# ---------------------------------------------------------------------------------------------------------
# The browser and the server


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
    shutil.copytree(COURSE, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for path in sorted(COURSE.glob("*.ipynb")):
        (dest / path.name).write_bytes(read_notebook(path)[0])


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of notebooks/, isolated from the developer's own settings."""
    require_browser()
    before = tree_hashes(COURSE)
    home = tmp_path_factory.mktemp("jupyterlab")
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
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log, proc=proc)
    try:
        wait_for_server(server)
        yield server
    finally:
        stop_server(server)
    written = course_writes(before, tree_hashes(COURSE), opened=server.opened)
    assert not written, (
        f"notebooks/ changed while JupyterLab ran: {written}. JupyterLab must serve only its copy in {root}: "
        f"check --ServerApp.root_dir (if a rebuild of these notebooks ran at the same time, run the test again)."
    )


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ---------------------------------------------------------------------------------------------------------
# In the page

# Runs before JupyterLab's own scripts: records every kernel status the notebook's toolbar shows, and every
# time a cell's prompt becomes [*] (queued or running). The toolbar indicator reads "idle" before a kernel
# is attached at all, so "idle" only means ready after some other status was shown.
RECORDER = """
window.__kernelStatus = [];
window.__queued = 0;
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.type === 'characterData' ? r.target.parentElement : r.target;
    if (!el || !el.classList) continue;
    if (r.type === 'attributes' && el.classList.contains('jp-Notebook-ExecutionIndicator')) {
      window.__kernelStatus.push(el.getAttribute('data-status'));
    } else if (r.type !== 'attributes' && el.classList.contains('jp-InputPrompt') && el.textContent.includes('*')) {
      window.__queued += 1;
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-status']});
"""

PANEL = ".jp-NotebookPanel"
INDICATOR = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator"
PROMPT = ".jp-Cell-inputWrapper .jp-InputArea-prompt"  # the input prompt of a shown cell: [ ], [*] or [12]

KERNEL_READY = f"""() => {{
  const panels = document.querySelectorAll('{PANEL}');
  const indicator = panels.length === 1 && panels[0].querySelector('{INDICATOR}');
  return Boolean(indicator) && indicator.getAttribute('data-status') === 'idle'
    && window.__kernelStatus.some((s) => s !== 'idle');
}}"""

RUN_FINISHED = f"""(queuedBefore) => {{
  const panel = document.querySelector('{PANEL}');
  const indicator = panel && panel.querySelector('{INDICATOR}');
  return window.__queued > queuedBefore && Boolean(indicator) && indicator.getAttribute('data-status') === 'idle'
    && ![...panel.querySelectorAll('{PROMPT}')].some((p) => p.textContent.includes('*'));
}}"""

# Every image decoded, no widget still loading, and as many widget views as expected in each cell.
SETTLED = f"""(widgetCells) => {{
  const panel = document.querySelector('{PANEL}');
  const cells = [...panel.querySelectorAll('.jp-Notebook-cell')];
  if (![...panel.querySelectorAll('.jp-OutputArea-output img')].every((img) => img.complete)) return false;
  if ([...panel.querySelectorAll('.jp-OutputArea-output')].some((o) => o.textContent.includes('Loading widget'))) {{
    return false;
  }}
  const views = (cell) => [...cell.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')]
    .filter((o) => o.querySelector('.jupyter-widgets')).length;
  return Object.entries(widgetCells).every(([i, n]) => cells[i] && views(cells[i]) >= n);
}}"""

# One record per notebook cell, in order: prompt, outputs (top level), images, errors at any depth.
READ_CELLS = f"""(partSelectors) => {{
  const shown = (el) => {{
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  }};
  const panel = document.querySelector('{PANEL}');
  return [...panel.querySelectorAll('.jp-Notebook-cell')].map((cell) => {{
    const prompt = cell.querySelector('{PROMPT}');
    const outputs = [...cell.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')];
    return {{
      code: cell.classList.contains('jp-CodeCell'),
      prompt: prompt ? prompt.textContent.trim() : null,
      outputs: outputs.map((out) => ({{
        mime: out.getAttribute('data-mime-type'),
        text: out.textContent.trim().slice(0, 4000),
        widget: out.querySelector('.jupyter-widgets') !== null,
        shown: shown(out),
        parts: Object.fromEntries(partSelectors.map((s) => [s, [...out.querySelectorAll(s)].filter(shown).length])),
        pngs: out.getAttribute('data-mime-type') === 'image/png' ? out.querySelectorAll('img').length : 0,
        images: [...out.querySelectorAll('img')].map((img) => ({{
          loaded: img.complete && img.naturalWidth > 0, inWidget: img.closest('.jupyter-widgets') !== null,
        }})),
      }})),
      errors: [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="{STDERR_MIME}"]')]
        .map((e) => e.textContent.trim().slice(0, 4000)),
    }};
  }});
}}"""


def page_report(page, lab: Lab, name: str) -> str:
    """Kernel status (page and server), open dialogs, the first error output, console errors: for failure messages."""
    try:
        facts = page.evaluate(f"""() => {{
          const indicator = document.querySelector('{INDICATOR}');
          const error = document.querySelector('{PANEL} .jp-OutputArea-output[data-mime-type="{STDERR_MIME}"]');
          return {{
            status: indicator ? indicator.getAttribute('data-status') : 'no notebook toolbar',
            seen: (window.__kernelStatus || []).slice(-8),
            running: [...document.querySelectorAll('{PANEL} {PROMPT}')].filter((p) => p.textContent.includes('*')).length,
            dialogs: [...document.querySelectorAll('.jp-Dialog')].map((d) => d.innerText.slice(0, 300)),
            error: error ? error.textContent.trim().slice(0, 1500) : null,
          }};
        }}""")
    except Exception as error:  # the page itself may be what broke
        facts = {"page": f"unreadable ({error})"}
    facts["server"] = lab.kernel_report(name)
    facts["console errors"] = getattr(page, "console_errors", [])[:5]
    return "\n  ".join(f"{k}: {v}" for k, v in facts.items()) + f"\n  JupyterLab log: {lab.log}"


def open_notebook(page, lab: Lab, name: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # ?reset: start from an empty workspace, so the notebook opened by the previous test is not restored.
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}", wait_until="domcontentloaded")
    try:
        page.wait_for_function(KERNEL_READY, timeout=OPEN_TIMEOUT_S * 1000, polling=100)
    except PlaywrightTimeout:
        report = page_report(page, lab, name)
        pytest.fail(f"{name}: the notebook or its kernel was not ready within {OPEN_TIMEOUT_S} s\n  {report}", pytrace=False)


def run_all(page, lab: Lab, name: str) -> None:
    """Run > Run All Cells, found by command id (no shortcut, no label), then wait for the run to finish."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

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
    assert item.get_attribute("aria-disabled") != "true", f"{name}: Run All Cells is disabled in the Run menu"
    queued_before = page.evaluate("window.__queued")
    item.click()
    try:
        page.wait_for_function(RUN_FINISHED, arg=queued_before, timeout=RUN_TIMEOUT_S * 1000, polling=250)
    except PlaywrightTimeout:
        pytest.fail(f"{name}: Run All did not finish within {RUN_TIMEOUT_S} s (a [*] prompt left or the kernel "
                    f"not idle)\n  {page_report(page, lab, name)}", pytrace=False)


def save_and_read(page, lab: Lab, name: str, expected: Expected) -> dict:
    """Save from the toolbar (command id docmanager:save) and read the copy back: hidden cells show no prompt."""
    page.locator(f'{PANEL} jp-button[data-command="docmanager:save"]').click()
    deadline = time.monotonic() + 60
    while True:
        nb = read_notebook(lab.root / name)[1]
        if all(nb["cells"][i].get("execution_count") for i in expected.executed if i < len(nb["cells"])):
            return nb
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: after Save the file still lacks execution counts\n  {page_report(page, lab, name)}",
                        pytrace=False)
        time.sleep(0.2)


def save_screenshot(page, name: str) -> Path:
    """The whole notebook in one PNG: JupyterLab never scrolls the page itself, so the viewport grows to fit."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{Path(name).stem}.png"
    # The height of everything around the notebook (menus, tabs, toolbar, status bar), and of the notebook.
    frame, notebook = page.evaluate(f"""() => {{
      const outer = document.querySelector('{PANEL} .jp-WindowedPanel-outer');
      const inner = document.querySelector('{PANEL} .jp-WindowedPanel-inner');
      return outer && inner ? [window.innerHeight - outer.clientHeight, inner.scrollHeight] : [0, 0];
    }}""")
    height = max(VIEWPORT["height"], min(frame + notebook, SCREENSHOT_MAX_HEIGHT))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    # Lumino lays the panels out again a frame after the resize: wait until the notebook area has grown.
    page.wait_for_function(f"""(frame) => {{
      const outer = document.querySelector('{PANEL} .jp-WindowedPanel-outer');
      if (!outer) return true;
      outer.scrollTop = 0;
      return window.innerHeight - outer.clientHeight <= frame + 2;
    }}""", arg=frame, timeout=15_000)
    page.screenshot(path=str(path), full_page=True, timeout=60_000)
    return path


# ---------------------------------------------------------------------------------------------------------
# The test


def check_errors(name: str, expected: Expected, cells: list[dict]) -> None:
    """(a) error outputs exactly in the cells tagged raises-exception, each showing the exception it stores."""
    unexpected = {i: c["errors"] for i, c in enumerate(cells) if c["errors"] and i not in expected.raises}
    assert not unexpected, (
        f"{name}: error output in {', '.join(code_label(expected, i) for i in unexpected)}, not tagged raises-exception. "
        f"The first one:\n{next(iter(unexpected.values()))[0][:1500]}"
    )
    for i, enames in expected.raises.items():
        errors = cells[i]["errors"]
        assert errors, (f"{name}: {code_label(expected, i)} is tagged raises-exception but shows no error: does it still "
                        f"raise? Remove the tag if not.")
        missing = [e for e in enames if e and not any(e in text for text in errors)]
        assert not missing, f"{name}: {code_label(expected, i)} should show {missing} as stored, shows:\n{errors[0][:1500]}"
    broken = [i for i, c in enumerate(cells) if any("Error displaying widget" in o["text"] for o in c["outputs"])]
    assert not broken, (f"{name}: 'Error displaying widget' in {', '.join(code_label(expected, i) for i in broken)}: "
                        f"the widget manager lost the model (is jupyterlab_widgets the version ipywidgets wants?)")


def check_prompts(name: str, expected: Expected, cells: list[dict], saved: dict) -> None:
    """Run All executed every code cell once, in order, from a fresh kernel: [1] ... [n]."""
    # A cell whose source is hidden (the solutions) shows a placeholder, no prompt: the saved copy speaks for it.
    shown = [i for i in expected.executed if cells[i]["prompt"] is not None]
    not_run = [i for i in shown if not re.fullmatch(r"\[\d+\]:", cells[i]["prompt"])]
    assert not not_run, (f"{name}: {', '.join(code_label(expected, i) for i in not_run)} show no execution count "
                         f"(prompts {[cells[i]['prompt'] for i in not_run]}): Run All stopped early, look for the first error")
    counts = [saved["cells"][i].get("execution_count") for i in expected.executed]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name}: the saved copy has execution counts {counts}, expected 1..{len(counts)}: "
        f"a cell was skipped or the kernel restarted"
    )


def check_figures(name: str, expected: Expected, cells: list[dict]) -> None:
    """(b) every stored figure rendered, as many per cell as stored, and every image in the notebook decoded."""
    drawn = {i: sum(o["pngs"] for o in c["outputs"]) for i, c in enumerate(cells)}
    wrong = {i: (expected.pngs.get(i, 0), drawn[i]) for i in drawn if drawn[i] != expected.pngs.get(i, 0)}
    details = "; ".join(f"{code_label(expected, i)}: stored {s}, rendered {r}" for i, (s, r) in wrong.items())
    assert not wrong, f"{name}: image outputs differ from the stored notebook ({details}): a figure not drawn, or drawn twice"
    undecoded = [i for i, c in enumerate(cells) for o in c["outputs"] for img in o["images"] if not img["loaded"]]
    assert not undecoded, f"{name}: images in {sorted(set(undecoded))} did not load (naturalWidth 0): a broken PNG?"


def check_widgets(name: str, expected: Expected, cells: list[dict]) -> None:
    """(c) each stored widget drawn as a shown widget view, with its slider or progress bar, never as fallback text."""
    for i, widgets in expected.widgets.items():
        where = code_label(expected, i)
        outputs = cells[i]["outputs"]
        fallbacks = [o["text"][:200] for o in outputs if o["mime"] == "text/plain"
                     and any(w["fallback"] and o["text"] == w["fallback"] for w in widgets)]
        assert not fallbacks, (f"{name}: {where} shows a widget's plain-text repr instead of the widget: {fallbacks}. "
                               f"Is jupyterlab_widgets installed where JupyterLab runs?")
        views = [o for o in outputs if o["widget"]]
        assert len(views) == len(widgets), (
            f"{name}: {where} should show {len(widgets)} widget view(s) as stored, shows {len(views)} "
            f"(outputs: {[o['mime'] or 'widget' for o in outputs]})"
        )
        for view, widget in zip(views, widgets):
            assert view["shown"], f"{name}: a widget view in {where} has no size on the page (hidden?)"
            assert "Loading widget" not in view["text"], f"{name}: a widget in {where} is still 'Loading widget...'"
            for part in widget["parts"]:
                assert view["parts"][part] >= 1, (
                    f"{name}: the widget in {where} shows no {part!r} (stored: {widget['fallback'][:120]})"
                )
            if widget["image"]:
                assert any(img["inWidget"] and img["loaded"] for img in view["images"]), (
                    f"{name}: the widget in {where} stores a figure in its output but shows none: did the callback fail?"
                )


@pytest.mark.browser
@pytest.mark.parametrize("name", notebooks_to_open(), ids=lambda n: Path(n).stem)
def test_run_all_in_jupyterlab(lab, browser, name):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    expected = Expected.from_notebook(read_notebook(lab.root / name)[1])
    lab.opened.append(name)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RECORDER)
    # Only JupyterLab is reachable: the notebooks' Colab badges and anything else off-machine fail at once.
    context.route(lambda url: not url.startswith(lab.url + "/"), lambda route: route.abort())
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text[:300]))
    page.on("pageerror", lambda error: page.console_errors.append(f"page error: {error}"[:300]))
    try:
        open_notebook(page, lab, name)
        run_all(page, lab, name)
        widget_cells = {i: len(w) for i, w in expected.widgets.items()}
        try:
            page.wait_for_function(SETTLED, arg=widget_cells, timeout=SETTLE_TIMEOUT_S * 1000, polling=250)
        except PlaywrightTimeout:
            pass  # the checks below say what is missing
        cells = page.evaluate(READ_CELLS, sorted(WIDGET_PARTS.values()))
        assert len(cells) == len(expected.cell_types), (
            f"{name}: JupyterLab shows {len(cells)} cells, the notebook has {len(expected.cell_types)}: "
            f"is windowingMode 'none' applied (cells outside the viewport are left out otherwise)?"
        )
        assert [c["code"] for c in cells] == [t == "code" for t in expected.cell_types], f"{name}: cell types differ"
        try:
            check_errors(name, expected, cells)
            check_prompts(name, expected, cells, save_and_read(page, lab, name, expected))
            check_figures(name, expected, cells)
            check_widgets(name, expected, cells)
        except AssertionError as failure:  # add the kernel's status, the first error output, console errors
            raise AssertionError(f"{failure}\n  {page_report(page, lab, name)}") from None
    finally:
        try:
            save_screenshot(page, name)
        except Exception as error:  # a failed screenshot must not hide the test's own failure
            print(f"screenshot of {name} failed: {error}")
        context.close()
        try:
            for session in lab.sessions(name):
                lab.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        except OSError:
            pass
