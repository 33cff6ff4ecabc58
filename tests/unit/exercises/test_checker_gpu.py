"""The checkers of notebook 11 (attn_course.exercises.gpu), whose answers are one number each."""

import pytest
import torch

from attn_course.exercises import gpu as check

UNITS = {"GB": 1e9, "GiB": 2**30, "MB": 1e6, "MiB": 2**20}


def _not_implemented(*args):
    raise NotImplementedError("your code here")


# ------------------------------------------------------------------------------------------------------------------
# score_matrix_bytes (batch, heads, L, S, bytes_per_value)


def score_bytes(B, H, L, S, n):
    return B * H * L * S * n


BYTES_MISTAKES = [
    (lambda B, H, L, S, n: B * L * S * n, "the heads are missing"),
    (lambda B, H, L, S, n: H * L * S * n, "the batch is missing"),
    (lambda B, H, L, S, n: B * H * L * L * n, "you used L · L"),
    (lambda B, H, L, S, n: 8 * B * H * L * S * n, "that is bits, not bytes"),
    (lambda B, H, L, S, n: B * H * L * S, "you counted values, not bytes: multiply by bytes_per_value"),
] + [(lambda *a, size=size: score_bytes(*a) / size, f"that is the answer in {unit};") for unit, size in UNITS.items()]

BYTES_GENERIC = [
    (lambda B, H, L, S, n: None, "Your function returned None: did you forget `return`?"),
    (lambda B, H, L, S, n: [score_bytes(B, H, L, S, n)], "Returned a list; expected a number."),
    (lambda B, H, L, S, n: B / 0, "Your function raised ZeroDivisionError: division by zero"),
]


def test_score_matrix_bytes_accepts_the_reference(expect):
    expect.correct(check.score_matrix_bytes, score_bytes)


@pytest.mark.parametrize("fn, phrase", BYTES_MISTAKES, ids=[p for _, p in BYTES_MISTAKES])
def test_score_matrix_bytes_names_the_mistake(expect, fn, phrase):
    expect.named(check.score_matrix_bytes, fn, phrase)


@pytest.mark.parametrize("fn, description", BYTES_GENERIC, ids=[d for _, d in BYTES_GENERIC])
def test_score_matrix_bytes_describes_what_no_named_mistake_explains(expect, fn, description):
    expect.generic(check.score_matrix_bytes, fn, description)


def test_score_matrix_bytes_stub_is_not_attempted(expect):
    expect.not_attempted(check.score_matrix_bytes, _not_implemented)


# ------------------------------------------------------------------------------------------------------------------
# arithmetic_intensity (M, N, K, bytes_per_value)


def intensity(M, N, K, n):
    return 2 * M * N * K / (n * (M * K + K * N + M * N))


INTENSITY_MISTAKES = [
    (lambda M, N, K, n: M * N * K / (n * (M * K + K * N + M * N)), "the FLOPs are half what they should be"),
    (lambda M, N, K, n: 2 * M * N * K / (n * (M * K + K * N)), "the traffic leaves out writing C"),
    (lambda M, N, K, n: 2 * M * N * K / (M * K + K * N + M * N), "multiply the traffic by bytes_per_value"),
    (lambda M, N, K, n: 2 * M * N * K // (n * (M * K + K * N + M * N)), "integer division (//)"),
] + [(lambda *a, size=size: intensity(*a) / size, f"that is the answer in {unit};") for unit, size in UNITS.items()]


@pytest.mark.parametrize("fn", [intensity, lambda *a: torch.tensor(intensity(*a), dtype=torch.float64)],
                         ids=["a float", "a 0-d tensor"])
def test_arithmetic_intensity_accepts_the_reference(expect, fn):
    expect.correct(check.arithmetic_intensity, fn)


@pytest.mark.parametrize("fn, phrase", INTENSITY_MISTAKES, ids=[p for _, p in INTENSITY_MISTAKES])
def test_arithmetic_intensity_names_the_mistake(expect, fn, phrase):
    expect.named(check.arithmetic_intensity, fn, phrase)


def test_arithmetic_intensity_says_how_far_off_an_unexplained_number_is(expect):
    expect.generic(check.arithmetic_intensity, lambda M, N, K, n: 1.0,
                   "On arguments (2, 3, 4, 4) you returned 1, expected 0.461538 (2.17 times too large).")


def test_arithmetic_intensity_asks_for_the_function_itself(expect):
    expect.generic(check.arithmetic_intensity, 3, "Pass your function itself")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
