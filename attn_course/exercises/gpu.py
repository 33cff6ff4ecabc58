"""Checkers for notebook 11 (GPU acceleration: the memory wall and arithmetic intensity).

These exercises return plain numbers, so they use a small scalar runner of their own; like every
checker it never raises, tells "not attempted" from "wrong" and names the usual mistakes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from .core import Hints, Result, _where

__all__ = ["score_matrix_bytes", "arithmetic_intensity", "hint"]

hint = Hints({
    "score_matrix_bytes": [
        "One score per (query, key) pair, for every head of every sequence in the batch.",
        "That is batch · heads · L · S numbers; each takes bytes_per_value bytes.",
    ],
    "arithmetic_intensity": [
        "Intensity = work / traffic: floating-point operations divided by bytes moved to and from memory.",
        "Each of the M·N outputs is a dot product of length K: K multiplications and K additions.",
        "Traffic: read A (M·K values) and B (K·N), write C (M·N), each value bytes_per_value bytes.",
    ],
}).hint


def _run(exercise: str, fn: Callable, cases: list[tuple[tuple, float, dict[str, float]]]) -> Result:
    """Call ``fn(*args)`` for each case and compare the number it returns; name known mistakes."""
    if not callable(fn):
        return Result(exercise, "wrong", f"pass your function itself (e.g. check.{exercise}(my_function)).")
    stuck = f" Stuck? check.hint({exercise!r})"
    for args, expected, faulty in cases:
        try:
            got = fn(*args)
        except NotImplementedError:
            return Result(exercise, "not attempted",
                          "Replace `raise NotImplementedError` with your code, then run this cell again.")
        except Exception as error:  # the learner's bug, in one line
            text = str(error).splitlines()[0] if str(error) else ""
            return Result(exercise, "wrong", f"your function raised {type(error).__name__}: {text}".rstrip(": ")
                                             + f"{_where(error)} on arguments {args}." + stuck)
        if got is None:
            return Result(exercise, "wrong", "your function returned None: did you forget `return`?")
        if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
            got = got.item()  # a 0-d tensor or NumPy number is fine
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return Result(exercise, "wrong", f"returned a {type(got).__name__}; expected a number." + stuck)
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        for message, value in faulty.items():
            if not math.isclose(value, expected, rel_tol=1e-9) and math.isclose(got, value, rel_tol=1e-9):
                return Result(exercise, "wrong", message + stuck)
        for unit, size in (("GB", 1e9), ("GiB", 2**30), ("MB", 1e6), ("MiB", 2**20)):
            if math.isclose(got, expected / size, rel_tol=1e-6):
                return Result(exercise, "wrong", f"that is the answer in {unit}; return it in the unit asked for "
                                                 f"(bytes, or FLOPs per byte), without dividing." + stuck)
        if got == 0 and expected != 0:
            return Result(exercise, "wrong", f"you returned 0 for arguments {args}: integer division (//) rounds "
                                             f"a small quotient down to 0; use /." + stuck)
        return Result(exercise, "wrong", f"for arguments {args} you returned {got:.6g}, expected {expected:.6g} "
                                         f"({got / expected:.3g} times too {'large' if got > expected else 'small'})."
                      + stuck if expected else f"for arguments {args} you returned {got:.6g}, expected 0." + stuck)
    return Result(exercise, "correct", f"Passed {len(cases)} checks.")


def score_matrix_bytes(fn: Callable) -> Result:
    """Check ``fn(batch, heads, L, S, bytes_per_value)`` -> the bytes of one layer's attention scores."""
    cases = []
    for B, H, L, S, nbytes in ((1, 1, 3, 5, 4), (2, 8, 1024, 512, 2), (4, 32, 4096, 4096, 4)):
        cases.append(((B, H, L, S, nbytes), B * H * L * S * nbytes, {
            "the heads are missing: every head has its own (L, S) scores.": B * L * S * nbytes,
            "the batch is missing: every sequence in the batch has its own scores.": H * L * S * nbytes,
            "you used L · L: the scores are (L, S), queries by keys, and S may differ from L.": B * H * L * L * nbytes,
            "that is bits, not bytes: bytes_per_value already counts bytes.": B * H * L * S * nbytes * 8,
            "you counted values, not bytes: multiply by bytes_per_value.": B * H * L * S,
        }))
    return _run("score_matrix_bytes", fn, cases)


def arithmetic_intensity(fn: Callable) -> Result:
    """Check ``fn(M, N, K, bytes_per_value)`` -> FLOPs per byte of ``C = A @ B``, A (M, K), B (K, N)."""
    cases = []
    for M, N, K, nbytes in ((2, 3, 4, 4), (4096, 4096, 4096, 2), (8192, 8192, 64, 2), (1, 4096, 4096, 4)):
        flops, values = 2 * M * N * K, M * K + K * N + M * N
        cases.append(((M, N, K, nbytes), flops / (nbytes * values), {
            "the FLOPs are half what they should be: each of the K steps of a dot product is a multiplication "
            "AND an addition (2·M·N·K).": M * N * K / (nbytes * values),
            "the traffic leaves out writing C: M·N values go back to memory too.": flops / (nbytes * (M * K + K * N)),
            "you counted values, not bytes: multiply the traffic by bytes_per_value.": flops / values,
        }))
    return _run("arithmetic_intensity", fn, cases)
