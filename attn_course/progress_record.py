"""Your progress through the course's exercises, across notebooks (used from notebook 00 on).

Every exercise checker (``attn_course.exercises``) writes its verdict here when it checks *your*
function: "correct" marks the exercise passed (for good: a later wrong try does not take it
back), "wrong" counts a try. "Not attempted" writes nothing, and neither do the checks that
follow the course's hidden solutions (they pass ``record=False``).

The record is one small JSON file, ``~/.attn_course/progress.json`` (or the path in the
environment variable ``ATTN_COURSE_PROGRESS``). Two notebooks may check exercises at the same
moment, so every update holds a lock file (``filelock``, which works on Linux, macOS and
Windows) while it reads, changes and writes the record, and the new record is written to a
temporary file and renamed over the old one (``os.replace`` is atomic): a reader sees the old
record or the new one, never half of one.

``attn_course.progress()`` shows the record against the course's exercises (it lives with the
checkers, which know them: this module, a foundation, imports none of them); ``reset_progress()``
empties it (keeping a backup).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

__all__ = ["read_progress", "reset_progress", "record_result", "progress_path", "Progress"]

_VERSION = 1
_LOCK_TIMEOUT_S = 30


def progress_path() -> Path:
    """Where the record lives: ``$ATTN_COURSE_PROGRESS`` if set, else ``~/.attn_course/progress.json``."""
    custom = os.environ.get("ATTN_COURSE_PROGRESS")
    return Path(custom).expanduser() if custom else Path.home() / ".attn_course" / "progress.json"


def _resolve(path: str | os.PathLike | None) -> Path:
    """``path`` as a ``Path`` (None: :func:`progress_path`); an error naming ``path`` for a non-path or a folder."""
    if path is None:
        return progress_path()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike (the record's file), got {type(path).__name__} {path!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path: expected the record's file, got the folder {str(path)!r}")
    return path


def _require_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__} {value!r}")


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT_S):
        yield


def _empty() -> dict:
    return {"version": _VERSION, "exercises": {}}


def _read(path: Path) -> dict:
    """The record at ``path``; a file that is not a record is set aside (never deleted) and replaced."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty()
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or not isinstance(record.get("exercises"), dict):
            raise ValueError("not a progress record")
        return record
    except ValueError:
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        warnings.warn(f"The progress record {path} could not be read; it was moved to {aside.name} and a new one "
                      "started.", stacklevel=3)
        return _empty()


def _write(path: Path, record: dict) -> None:
    """Write ``record`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record_result(notebook: str, exercise: str, passed: bool, path: str | os.PathLike | None = None) -> None:
    """Add one checked try of ``exercise`` (from ``notebook``) to the record, under the lock."""
    _require_str("notebook", notebook)
    _require_str("exercise", exercise)
    if not isinstance(passed, bool):
        raise TypeError(f"passed: expected a bool, got {type(passed).__name__} {passed!r}")
    path = _resolve(path)
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    with _locked(path):
        record = _read(path)
        entry = record["exercises"].setdefault(f"{notebook}/{exercise}", {"tries": 0, "passed": False})
        entry["tries"] += 1
        entry["last_try"] = now
        if passed and not entry["passed"]:
            entry["passed"], entry["first_passed"] = True, now
        _write(path, record)


def reset_progress(path: str | os.PathLike | None = None) -> int:
    """Empty the record and return how many exercises it held; the old record stays in ``progress.json.bak``."""
    path = _resolve(path)
    with _locked(path):
        record = _read(path)
        if path.exists():
            os.replace(path, path.with_name(path.name + ".bak"))
        _write(path, _empty())
    return len(record["exercises"])


@dataclass
class Progress:
    """What ``progress()`` returns: one row per exercise, shown as a table in a notebook."""

    path: Path
    rows: list[tuple[str, str, str, int]]  # (notebook, exercise, "passed" / "tried" / "not tried", tries)

    @property
    def passed(self) -> list[str]:
        return [f"{nb}/{ex}" for nb, ex, status, _ in self.rows if status == "passed"]

    def _summary(self) -> str:  # names the record's place without printing this machine's paths
        where = "$ATTN_COURSE_PROGRESS" if os.environ.get("ATTN_COURSE_PROGRESS") else "~/.attn_course/progress.json"
        return f"{len(self.passed)} of {len(self.rows)} exercises passed (record: {where})"

    def __repr__(self) -> str:
        icons = {"passed": "✅", "tried": "❌", "not tried": "⬜"}
        lines = [self._summary()]
        for notebook in dict.fromkeys(nb for nb, *_ in self.rows):
            marks = [f"{icons[s]} {ex}" + (f" ({n} tries)" if s == "tried" else "")
                     for nb, ex, s, n in self.rows if nb == notebook]
            lines.append(f"{notebook}: " + ", ".join(marks))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        icons = {"passed": "✅ passed", "tried": "❌ tried, not passed yet", "not tried": "⬜ not tried"}
        body = "".join(f"<tr><td>{html.escape(nb)}</td><td><code>{html.escape(ex)}</code></td>"
                       f"<td>{icons[s]}</td><td>{n}</td></tr>" for nb, ex, s, n in self.rows)
        return (f"<p><b>{html.escape(self._summary())}</b></p><table><thead><tr><th>notebook</th><th>exercise</th>"
                f"<th>status</th><th>tries</th></tr></thead><tbody>{body}</tbody></table>")


def read_progress(catalogue: dict[str, list[str]], path: str | os.PathLike | None = None) -> Progress:
    """The record read against a catalogue of exercises: which are passed, tried, or not tried yet.

    ``catalogue`` maps each notebook (e.g. ``"02_softmax"``) to its exercises in the order the notebook
    sets them; the checkers keep the course's (``attn_course.exercises.CATALOGUE``), and
    ``attn_course.progress()`` passes it here.
    """

    if not isinstance(catalogue, dict) or not all(isinstance(nb, str) and isinstance(exercises, (list, tuple))
                                                  and all(isinstance(ex, str) for ex in exercises)
                                                  for nb, exercises in catalogue.items()):
        raise TypeError(f"catalogue: expected a dict of notebook name -> list of exercise names, got {catalogue!r:.80}")
    path = _resolve(path)
    with _locked(path):
        entries = _read(path)["exercises"]
    rows = []
    for notebook in sorted(catalogue):
        for exercise in catalogue[notebook]:
            entry = entries.get(f"{notebook}/{exercise}", {})
            status = "passed" if entry.get("passed") else "tried" if entry.get("tries") else "not tried"
            rows.append((notebook, exercise, status, int(entry.get("tries", 0))))
    return Progress(path, rows)
