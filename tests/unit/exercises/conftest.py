"""What the checker tests share: run a checker as a notebook does, and assert that its verdict is the right one.

A checker builds its cases (``core.Case``), each listing the mistakes it can name (``Case.faulty``, message -> the
output of that mistake) and its advice (``nonfinite``, ``on_error``), and hands them to ``run_cases``.
``verdicts(checker)`` catches those cases, by standing in for ``run_cases`` once, so that a test can tell a verdict
that names its mistake from one that merely contains a word of it:

- ``expect.named(check.softmax, fn, phrase)``: ``phrase`` is in exactly one of the checker's verdicts, and the
  learner sees exactly that verdict (so neither another named mistake nor core's generic description).
- ``expect.advised(check.x, fn, phrase)``: the checker's advice for a crash or a NaN (``on_error``, ``nonfinite``),
  which ``phrase`` picks out from every named mistake.
- ``expect.generic(check.x, fn, phrase)``: core's own description (wrong shape, dtype...), no named mistake.

Each test module imports the checker module it tests as ``check``; ``pytest_generate_tests`` below parametrizes a test
that takes ``exercise`` with that module's exercises, as the package's catalogue lists them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from unittest import mock

import pytest

from attn_course.exercises.core import CATALOGUE, Result


@dataclass(frozen=True)
class Verdicts:
    """What one checker can say besides "correct": the mistakes it names, and its advice on a crash or a NaN."""

    named: tuple[str, ...]
    advice: tuple[str, ...]


@functools.cache
def verdicts(checker: Callable) -> Verdicts:
    """The verdicts of ``checker`` (a function of ``attn_course.exercises``), read from the cases it builds."""
    module = sys.modules[checker.__module__]
    caught = []

    def catch(exercise, fn, cases, *args, **kwargs):
        caught.extend(cases)
        return Result(exercise, "not attempted", "caught")

    with mock.patch.object(module, "run_cases", catch):
        checker.__wrapped__(lambda *args: None)  # the check itself, without the wrapper that records progress
    assert caught, f"{checker.__name__} never called run_cases: pass its verdicts as `among`"
    named = dict.fromkeys(message for case in caught for message, output in case.faulty.items()
                          if not (output is None or isinstance(output, list) and all(o is None for o in output)))
    advice = dict.fromkeys(text for case in caught for text in (case.nonfinite, case.on_error) if text)
    return Verdicts(tuple(named), tuple(advice))


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]  # as Result shows a message


def _matching(phrase: str, texts: Iterable[str]) -> list[str]:
    return [t for t in texts if phrase.lower() in t.lower()]


class Expect:
    """Run a checker on a learner's function (never recording progress) and assert on the verdict; return it."""

    def correct(self, checker: Callable, fn) -> Result:
        result = checker(fn, record=False)
        assert result.status == "correct" and bool(result), repr(result)
        assert repr(result).startswith(f"✅ {checker.__name__}: correct.") and "correct" in result._repr_html_()
        return result

    def named(self, checker: Callable, fn, phrase: str, among: Iterable[str] | None = None) -> Result:
        """``fn``'s mistake is named: exactly one verdict contains ``phrase``, and that verdict is the whole answer.

        ``among``: the checker's named verdicts, for a checker that does not go through run_cases.
        """
        known = verdicts(checker) if among is None else Verdicts(tuple(among), ())
        candidates = _matching(phrase, known.named + known.advice)
        assert len(candidates) == 1, f"{phrase!r} does not pick out one verdict of {checker.__name__}: {candidates}"
        [verdict] = candidates
        assert verdict in known.named, f"{phrase!r} is advice, not a named mistake: use expect.advised"
        result = checker(fn, record=False)
        assert result.status == "wrong" and not result, repr(result)
        assert result.message == f"{capitalised(verdict)} Stuck? check.hint({checker.__name__!r})", result.message
        return result

    def advised(self, checker: Callable, fn, phrase: str, raised: str | None = None) -> Result:
        """The checker's advice containing ``phrase`` (in no named mistake) ends the verdict; ``raised``: the error."""
        known = verdicts(checker)
        advice = _matching(phrase, known.advice)
        assert advice, f"{phrase!r} is in none of {checker.__name__}'s advice: {known.advice}"
        assert not _matching(phrase, known.named), f"{phrase!r} is also in a named mistake of {checker.__name__}"
        result = checker(fn, record=False)
        assert result.status == "wrong" and not result, repr(result)
        suffix = f" Stuck? check.hint({checker.__name__!r})"
        assert any(result.message.lower().endswith((a + suffix).lower()) for a in advice), result.message
        if raised is not None:
            assert f"Your function raised {raised}" in result.message, result.message
        return result

    def generic(self, checker: Callable, fn, phrase: str, among: Iterable[str] | None = None) -> Result:
        """A wrong answer no named mistake explains: core's description, containing ``phrase``, and nothing named."""
        known = verdicts(checker) if among is None else Verdicts(tuple(among), ())
        result = checker(fn, record=False)
        assert result.status == "wrong" and not result, repr(result)
        assert phrase in result.message, result.message
        said = [v for v in known.named + known.advice if v.lower() in result.message.lower()]
        assert not said, f"expected core's generic verdict, got a named one: {said}"
        return result

    def not_attempted(self, checker: Callable, fn) -> Result:
        result = checker(fn, record=False)
        assert result.status == "not attempted" and not result, repr(result)
        return result

    def hints(self, module, exercise: str) -> list[Result]:
        """The hints of ``exercise`` come one at a time, numbered, at least two, then say there are no more."""
        shown = []
        with mock.patch.object(module.hint.__self__, "_shown", {}):  # as if no hint had been asked for yet
            while len(shown) < 10 and not (shown and shown[-1].message.startswith("No more hints")):
                shown.append(module.hint(exercise))
        *hints, last = shown
        assert len(hints) >= 2 and last.message.startswith("No more hints"), [r.message for r in shown]
        assert [r.message.split(":")[0] for r in hints] == [f"Hint {i} of {len(hints)}" for i in range(1, len(hints) + 1)]
        assert all(r.status == "hint" and repr(r).startswith(f"💡 {exercise}:") for r in shown)
        return shown


@pytest.fixture
def expect() -> Expect:
    return Expect()


def pytest_generate_tests(metafunc):
    """A test taking ``exercise`` runs once per exercise of its module's ``check``, in the catalogue's order."""
    if "exercise" in metafunc.fixturenames:
        check = metafunc.module.check
        metafunc.parametrize("exercise", CATALOGUE[check.NOTEBOOK])
