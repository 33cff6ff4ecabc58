"""The progress record: what checkers write, what progress() shows, and that concurrent writers lose nothing."""

import json
import multiprocessing
import re
from pathlib import Path

import pytest
import torch
from helpers.notebooks import code_sources, read_notebook

import attn_course
from attn_course import exercises
from attn_course.exercises import CATALOGUE, progress
from attn_course.exercises import softmax as check
from attn_course.progress_record import record_result, reset_progress


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "home" / ".attn_course" / "progress.json"
    monkeypatch.setenv("ATTN_COURSE_PROGRESS", str(path))
    return path


def entries(path):
    return json.loads(path.read_text())["exercises"]


def test_conftest_keeps_the_test_suite_out_of_the_learners_record():
    assert attn_course.progress_record.progress_path() != Path.home() / ".attn_course" / "progress.json"


def test_a_pass_is_kept_and_tries_are_counted(record):
    record_result("02_softmax", "softmax", passed=False)
    record_result("02_softmax", "softmax", passed=True)
    record_result("02_softmax", "softmax", passed=False)  # a later wrong try does not take the pass back
    entry = entries(record)["02_softmax/softmax"]
    assert entry["passed"] and entry["tries"] == 3 and entry["first_passed"] <= entry["last_try"]


def test_checkers_record_the_learners_verdicts_only(record):
    assert not check.softmax(lambda x: x)  # wrong: a try
    assert check.softmax_temperature(lambda x, t: torch.softmax(x / t, -1), record=False)  # the course's solution
    stub = check.logsumexp(lambda x: (_ for _ in ()).throw(NotImplementedError()))
    assert stub.status == "not attempted"
    assert set(entries(record)) == {"02_softmax/softmax"}
    assert check.softmax(lambda x: torch.softmax(x, -1))
    entry = entries(record)["02_softmax/softmax"]
    assert entry["passed"] and entry["tries"] == 2
    shown = progress()
    assert shown.passed == ["02_softmax/softmax"]
    total = sum(len(exercises) for exercises in CATALOGUE.values())
    assert f"1 of {total} exercises passed" in repr(shown) and "02_softmax: ✅ softmax, ⬜ softmax_temperature" in repr(shown)
    assert "<table>" in shown._repr_html_() and str(record) not in repr(shown)  # no machine path printed


def test_progress_lists_every_exercise_even_with_no_record(record):
    shown = progress()
    assert len(shown.rows) == sum(len(v) for v in CATALOGUE.values())
    assert {status for *_, status, _ in shown.rows} == {"not tried"}


def test_reset_empties_the_record_and_keeps_a_backup(record):
    record_result("00_welcome", "last_token", passed=True)
    record_result("01_dot_products_and_similarity", "dot_scores", passed=True)
    assert reset_progress() == 2
    assert entries(record) == {} and progress().passed == []
    assert set(json.loads(record.with_name("progress.json.bak").read_text())["exercises"]) == {
        "00_welcome/last_token", "01_dot_products_and_similarity/dot_scores"}


def test_an_unreadable_record_is_set_aside_not_lost(record):
    record.parent.mkdir(parents=True)
    record.write_text('{"exercises": {"02_softmax/softm')  # e.g. a file cut short by a full disk
    with pytest.warns(UserWarning, match="could not be read"):
        record_result("02_softmax", "softmax", passed=True)
    assert entries(record)["02_softmax/softmax"]["passed"]
    aside = list(record.parent.glob("progress.json.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"exercises"')


def test_a_record_that_cannot_be_written_never_breaks_the_check(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ATTN_COURSE_PROGRESS", str(blocker / "progress.json"))  # its folder is a file
    with pytest.warns(UserWarning, match="progress could not be saved"):
        result = check.softmax(lambda x: torch.softmax(x, -1))
    assert result and result.status == "correct"


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        record_result(f"nb{worker}", f"exercise{i}", passed=i % 2 == 0, path=Path(path))
        record_result("shared", "exercise", passed=False, path=Path(path))


def _reader(path: str, stop, bad) -> None:
    while not stop.is_set():  # reads without the lock: the atomic rename must still give a whole record
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            continue
        try:
            json.loads(text)
        except ValueError:
            bad.value += 1


def test_concurrent_writers_lose_nothing_and_readers_never_see_half_a_record(tmp_path):
    path, workers, n = tmp_path / "progress.json", 6, 20
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate notebook kernels are
    stop, bad = context.Event(), context.Value("i", 0)
    reader = context.Process(target=_reader, args=(str(path), stop, bad))
    reader.start()
    writers = [context.Process(target=_writer, args=(str(path), w, n)) for w in range(workers)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=120)
    stop.set()
    reader.join(timeout=30)
    assert all(p.exitcode == 0 for p in writers), [p.exitcode for p in writers]
    record = entries(path)
    assert len(record) == workers * n + 1
    assert record["shared/exercise"]["tries"] == workers * n  # every one of the 120 read-modify-writes kept
    assert all(record[f"nb{w}/exercise{i}"]["passed"] == (i % 2 == 0) for w in range(workers) for i in range(n))
    assert bad.value == 0, f"a reader saw {bad.value} half-written record(s)"
    assert not list(tmp_path.glob(".progress.json.*.tmp")), "temporary files were left behind"


def test_every_checker_is_catalogued_under_a_notebook_that_calls_it():
    for name in exercises.__all__:
        module = getattr(exercises, name)
        public = [f for f in module.__all__ if f != "hint"]
        assert CATALOGUE[module.NOTEBOOK] == public, name
        source = "\n".join(code_sources(read_notebook(module.NOTEBOOK)))  # the calls, not a mention in the prose
        for exercise in public:
            assert re.search(rf"check\.{exercise}\(", source), f"{module.NOTEBOOK} never calls check.{exercise}"
