"""The checkers of notebook 03 (attn_course.exercises.lookup): right answers pass, each mistake is named."""

import pytest
import torch

import attn_course as ac
from attn_course.exercises import lookup as check

# ------------------------------------------------------------------------------------------------------------------
# soft_lookup

SOFT_LOOKUP_MISTAKES = [
    (lambda q, k, v: torch.softmax(q @ k.T, 0) @ v, "you took softmax over the queries (dim=0)"),
    (lambda q, k, v: (q @ k.T) @ v, "the scores were used without softmax"),
    (lambda q, k, v: torch.softmax(q @ k.T, -1) @ k, "you averaged the keys"),
    (lambda q, k, v: ac.scaled_dot_product_attention(q, k, v), "this exercise asks for plain dot products"),
]


def test_soft_lookup_accepts_the_reference(expect):
    expect.correct(check.soft_lookup, lambda q, k, v: ac.softmax(q @ k.T) @ v)


@pytest.mark.parametrize("fn, phrase", SOFT_LOOKUP_MISTAKES, ids=[p for _, p in SOFT_LOOKUP_MISTAKES])
def test_soft_lookup_names_the_mistake(expect, fn, phrase):
    expect.named(check.soft_lookup, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# kernel_weights


def d(a, b):
    return a[:, None] - b  # (L, S)


KERNEL_MISTAKES = [
    (lambda a, b, h: torch.softmax(-(d(a, b) ** 2) / (2 * h**2), 0), "softmax over the queries (dim=0)"),
    (lambda a, b, h: torch.softmax(d(a, b) ** 2 / (2 * h**2), -1), "the sign is flipped"),
    (lambda a, b, h: torch.softmax(-d(a, b) / (2 * h**2), -1), "the distance must be squared"),
    (lambda a, b, h: torch.softmax(-(d(a, b) ** 2) / (2 * h), -1), "the bandwidth must be squared too"),
    (lambda a, b, h: torch.softmax(-(d(a, b) ** 2) / h**2, -1), "you forgot the factor 2"),
    (lambda a, b, h: torch.softmax(-(d(a, b) ** 2) / 2 * h**2, -1), "operator precedence"),
    (lambda a, b, h: torch.softmax(-d(a, b).abs() / (2 * h**2), -1), "not its absolute value"),
    (lambda a, b, h: torch.exp(-(d(a, b) ** 2) / (2 * h**2)), "these are kernel values, not weights"),
]


def test_kernel_weights_accepts_the_reference(expect):
    expect.correct(check.kernel_weights, ac.gaussian_kernel_weights)


@pytest.mark.parametrize("fn, phrase", KERNEL_MISTAKES, ids=[p for _, p in KERNEL_MISTAKES])
def test_kernel_weights_names_the_mistake(expect, fn, phrase):
    expect.named(check.kernel_weights, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
