"""The checkers of notebook 01 (attn_course.exercises.similarity): right answers pass, each mistake is named."""

import pytest

import attn_course as ac
from attn_course.exercises import similarity as check


def t(x):
    return x.transpose(-2, -1)


def unit(x, dim=-1):
    return x / x.norm(dim=dim, keepdim=True)


# ------------------------------------------------------------------------------------------------------------------
# dot_scores (NumPy arrays)


def test_dot_scores_accepts_the_reference(expect):
    expect.correct(check.dot_scores, lambda q, k: q @ k.swapaxes(-2, -1))


def test_dot_scores_names_k_q_transposed(expect):
    expect.named(check.dot_scores, lambda q, k: k @ q.swapaxes(-2, -1), "you computed K Qᵀ (one row per key)")


def test_dot_scores_on_a_batch_says_to_transpose_only_the_last_two_axes(expect):
    expect.advised(check.dot_scores, lambda q, k: q @ k.T, "transpose only the last two axes: K.swapaxes(-2, -1)",
                   raised="ValueError")


def test_dot_scores_float32_gets_the_generic_dtype_verdict(expect):
    expect.generic(check.dot_scores, lambda q, k: (q @ k.swapaxes(-2, -1)).astype("float32"),
                   "Dtype is float32, expected float64.")


# ------------------------------------------------------------------------------------------------------------------
# cosine_scores

COSINE_MISTAKES = [
    (lambda q, k: q @ t(k), "these are plain dot products"),
    (lambda q, k: unit(q) @ t(k), "only the queries were normalised"),
    (lambda q, k: q @ t(unit(k)), "only the keys were normalised"),
    (lambda q, k: unit(q, -2) @ t(unit(k, -2)), "you normalised along the wrong axis"),
]


def test_cosine_scores_accepts_the_reference(expect):
    expect.correct(check.cosine_scores, ac.cosine_scores)


@pytest.mark.parametrize("fn, phrase", COSINE_MISTAKES, ids=[p for _, p in COSINE_MISTAKES])
def test_cosine_scores_names_the_mistake(expect, fn, phrase):
    expect.named(check.cosine_scores, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
