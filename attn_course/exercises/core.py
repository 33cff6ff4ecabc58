"""The machinery every exercise checker shares (CONTRIBUTING.md, "Exercises and checkers").

A checker calls the learner's function on small seeded inputs (copies, so it can tell
if they were changed), validates the answer in stages (``None``, type, number of
dimensions, shape, dtype, NaN/inf, values) and, when the answer matches a known faulty
version, names that mistake. It never raises into the notebook: every outcome is a
:class:`Result` that shows as one clear line.
"""

from __future__ import annotations

import copy
import functools
import html
import inspect
import math
import numbers
import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..progress_record import record_result

__all__ = ["Result", "Case", "run_cases", "Hints", "seeded", "checker", "CATALOGUE"]

# notebook (e.g. "02_softmax") -> its exercises in the order the notebook sets them; each @checker adds its own
CATALOGUE: dict[str, list[str]] = {}

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ICONS = {"correct": "✅", "not attempted": "⏳", "wrong": "❌", "hint": "💡"}
_COLOURS = {"correct": "#1a7f37", "not attempted": "#7d4e00", "wrong": "#cf222e", "hint": "#0969da"}


@dataclass
class Result:
    """What a checker found: ``status`` is ``"correct"``, ``"not attempted"``, ``"wrong"`` or ``"hint"``."""

    exercise: str
    status: str
    message: str

    def __post_init__(self) -> None:
        self.message = self.message[:1].upper() + self.message[1:]

    @property
    def _status_text(self) -> str:
        return "" if self.status == "hint" else f"{self.status}. "

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"{_ICONS[self.status]} {self.exercise}: {self._status_text}{self.message}"

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.status]
        return (
            f'<div style="border-left: 4px solid {colour}; padding: 2px 8px">'
            f"{_ICONS[self.status]} <b>{html.escape(self.exercise)}</b>: "
            f'<span style="color: {colour}">{self._status_text}</span>{html.escape(self.message)}</div>'
        )


@dataclass
class Case:
    """One call of the learner's function and what it should return.

    ``faulty`` maps a message naming a mistake to the output that mistake produces (or to a
    list of outputs, when the mistake has several equally likely forms).
    ``nonfinite`` explains NaN/inf in the answer; ``on_error`` is added when the learner's
    code raises on this case.
    """

    label: str
    args: tuple
    expected: Any
    faulty: dict[str, Any] = field(default_factory=dict)
    nonfinite: str | None = None
    on_error: str | None = None


_SHAPE_ERRORS = ("must match the size of tensor", "could not be broadcast", "mismatch in its core dimension",
                 "cannot be multiplied", "shapes cannot be multiplied")
_SHAPE_ADVICE = ("The shapes do not line up: did you reduce without keepdim=True, or transpose the wrong axes? "
                 "Print the shapes inside your function.")


def seeded(seed: int) -> torch.Generator:
    """A private generator, so a checker's inputs never depend on the notebook's RNG state."""
    return torch.Generator().manual_seed(seed)


def _kind(x: Any) -> str:
    return "torch.Tensor" if isinstance(x, torch.Tensor) else "numpy.ndarray" if isinstance(x, np.ndarray) else type(x).__name__


def _as_tensor(x: Any) -> torch.Tensor:
    """A CPU tensor without autograd history, whatever the learner returned it as."""
    return torch.from_numpy(np.asarray(x)) if isinstance(x, np.ndarray) else x.detach().cpu()


def _family(dtype: torch.dtype) -> str:
    """"bool", "int" or "float": the kind of number a dtype holds."""
    return "bool" if dtype == torch.bool else "float" if dtype.is_floating_point or dtype.is_complex else "int"


def _same(got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float) -> bool:
    if tuple(got.shape) != tuple(want.shape):
        return False
    if want.dtype == torch.bool or got.dtype == torch.bool:
        return got.dtype == want.dtype and bool(torch.equal(got, want))
    got, want = got.detach().to(torch.float64), want.detach().to(torch.float64)
    return bool(torch.allclose(got, want, atol=atol, rtol=rtol, equal_nan=True))


def _where(error: BaseException) -> str:
    """The learner's frame where ``error`` happened, as 'in f, line n' (no machine paths)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    return f" (in {frames[-1].name}, line {frames[-1].lineno})" if frames else ""


def _mutated(before: tuple, after: tuple) -> int | None:
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        if isinstance(a, torch.Tensor) and not torch.equal(a, b):
            return i
        if isinstance(a, np.ndarray) and not np.array_equal(a, b):
            return i
    return None


def _argument(fn: Callable, index: int) -> str:
    """The learner's name for argument ``index`` (``"`mask` (argument 2)"``), or just its number."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        names = []
    return f"`{names[index]}` (argument {index + 1})" if index < len(names) else f"argument {index + 1}"


def _compare_number(got: Any, case: Case, atol: float, rtol: float) -> str | None:
    """``_compare`` for exercises whose answer is one number (a 0-d tensor or NumPy scalar is fine too)."""
    if isinstance(got, (torch.Tensor, np.ndarray, np.generic)) and got.ndim == 0:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        return f"returned a {_kind(got)}; expected a number."
    want = case.expected

    def close(a, b):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)

    if close(got, want):
        return None
    for message, value in case.faulty.items():
        if value is not None and not close(value, want) and close(got, value):
            return message
    if want == 0 or got == 0:
        return f"on {case.label} you returned {got:.6g}, expected {want:.6g}."
    size = "large" if abs(got) > abs(want) else "small"
    return f"on {case.label} you returned {got:.6g}, expected {want:.6g} ({got / want:.3g} times too {size})."


def _compare(got: Any, case: Case, atol: float, rtol: float) -> str | None:
    """Return None when ``got`` is right, else one line saying what is wrong."""
    want = case.expected
    if got is None:
        return "your function returned None: did you forget `return`?"
    if isinstance(want, numbers.Real) and not isinstance(want, bool):
        return _compare_number(got, case, atol, rtol)
    if not isinstance(got, type(want)):
        extra = " (did you return several values?)" if isinstance(got, tuple) else ""
        return f"returned a {_kind(got)}{extra}; expected a {_kind(want)}."
    got_t, want_t = _as_tensor(got), _as_tensor(want)
    if got_t.dtype == want_t.dtype and _same(got_t, want_t, atol, rtol):
        return None
    for message, outputs in case.faulty.items():  # a known mistake, named (if it shows on this case)
        for output in outputs if isinstance(outputs, list) else [outputs]:
            if output is None or _same(_as_tensor(output), want_t, atol, rtol):
                continue
            output_t = _as_tensor(output)
            if _family(output_t.dtype) != _family(want_t.dtype) and _family(got_t.dtype) != _family(output_t.dtype):
                continue  # a mistake that is a matter of dtype (ints for booleans, say) must show that dtype
            if _same(got_t, output_t, atol, rtol):
                return message
    shapes = f"got shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}"
    if got_t.ndim != want_t.ndim:
        return f"wrong number of dimensions on {case.label}: {shapes}."
    if got_t.shape != want_t.shape:
        return f"wrong shape on {case.label}: {shapes}."
    if got_t.dtype != want_t.dtype:
        right = _same(got_t.to(want_t.dtype), want_t, atol, rtol)
        return f"dtype is {got.dtype}, expected {want.dtype}" + (" (the values are right)." if right else ".")
    if got_t.dtype != torch.bool and not torch.isfinite(got_t).all() and torch.isfinite(want_t).all():
        bad = int((~torch.isfinite(got_t)).sum())
        return case.nonfinite or f"{bad} NaN or inf value(s) on {case.label}, where all should be finite."
    if got_t.dtype == torch.bool:
        index = tuple(torch.nonzero(got_t != want_t)[0].tolist())
        return f"wrong value on {case.label} at index {index}: got {bool(got_t[index])}, expected {bool(want_t[index])}."
    diff = (got_t.double() - want_t.double()).abs().nan_to_num(nan=float("inf"))
    index = tuple(int(i) for i in np.unravel_index(int(diff.argmax()), tuple(diff.shape)))
    return f"values differ on {case.label}: largest difference {float(diff.max()):.3g} at index {index}."


def run_cases(exercise: str, fn: Callable, cases: list[Case], atol: float = 1e-5, rtol: float = 1e-4) -> Result:
    """Call ``fn`` on each case's arguments and return the first problem, or success."""
    if not callable(fn):
        return Result(exercise, "wrong", f"pass your function itself (e.g. check.{exercise}(my_function)), "
                                          f"not {_kind(fn)}.")
    for case in cases:
        args = copy.deepcopy(case.args)
        try:
            got = fn(*args)
        except NotImplementedError:
            return Result(exercise, "not attempted",
                          "Replace `raise NotImplementedError` with your code, then run this cell again.")
        except Exception as error:  # the learner's bug, reported in one line
            text = str(error).splitlines()[0] if str(error) else ""
            advice = case.on_error or (_SHAPE_ADVICE if any(p in text for p in _SHAPE_ERRORS) else None)
            return Result(exercise, "wrong", f"your function raised {type(error).__name__}: {text}".rstrip(": ")
                                             + f"{_where(error)} on {case.label}."
                                             + (f" {advice}" if advice else "") + f" Stuck? check.hint({exercise!r})")
        changed = _mutated(case.args, args)
        if changed is not None:
            return Result(exercise, "wrong", f"your function changed its input {_argument(fn, changed)} in place "
                                             f"(e.g. `x -= ...` or `x[i] = ...`); compute a new tensor instead (copy "
                                             f"it first with .clone()). Stuck? check.hint({exercise!r})")
        try:
            with warnings.catch_warnings():  # e.g. casting a complex answer: the message below says enough
                warnings.simplefilter("ignore")
                problem = _compare(got, case, atol, rtol)
        except Exception as error:  # an answer too odd to compare must still not crash the notebook
            problem = f"could not compare your answer with the expected one ({type(error).__name__}: {error})."
        if problem is not None:
            return Result(exercise, "wrong", f"{problem} Stuck? check.hint({exercise!r})")
    labels = "; ".join(case.label for case in cases)
    return Result(exercise, "correct", f"Passed {len(cases)} checks ({labels}).")


class Hints:
    """One hint at a time per exercise: each call of ``hint(name)`` shows the next one."""

    def __init__(self, hints: dict[str, list[str]]) -> None:
        self._hints = hints
        self._shown: dict[str, int] = {}

    def hint(self, exercise: str) -> Result:
        """Show the next hint for ``exercise`` (never the solution)."""
        if exercise not in self._hints:
            return Result(str(exercise), "hint", f"no exercise of that name here; choose one of {sorted(self._hints)}.")
        hints = self._hints[exercise]
        n = self._shown.get(exercise, 0)
        self._shown[exercise] = min(n + 1, len(hints))
        if n >= len(hints):
            return Result(exercise, "hint", "No more hints. The course's own notebook has a hidden solution below this check; "
                                          "in a student copy, ask your instructor.")
        return Result(exercise, "hint", f"Hint {n + 1} of {len(hints)}: {hints[n]}")


def _record(notebook: str, exercise: str, result: Result) -> None:
    try:
        record_result(notebook, exercise, passed=bool(result))
    except Exception as error:  # a read-only home directory must not break the exercise
        warnings.warn(f"your progress could not be saved ({type(error).__name__}: {error}); the check itself "
                      "is unaffected.", stacklevel=3)


def checker(notebook: str) -> Callable:
    """Register a checker as an exercise of ``notebook`` and record its verdicts in the learner's progress.

    The decorated checker takes one more keyword, ``record`` (default True): the checks that follow the
    course's own solutions pass ``record=False``, so only the learner's work counts. "Not attempted"
    is never recorded.
    """
    def register(check: Callable[..., Result]) -> Callable[..., Result]:
        CATALOGUE.setdefault(notebook, []).append(check.__name__)

        @functools.wraps(check)
        def check_and_record(*args, record: bool = True, **kwargs) -> Result:
            result = check(*args, **kwargs)
            if record and result.status in ("correct", "wrong"):
                _record(notebook, check.__name__, result)
            return result

        return check_and_record

    return register
