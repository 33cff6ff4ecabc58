"""The checker of notebook 00 (attn_course.exercises.welcome): the right answer passes, each mistake is named."""

import pytest

from attn_course.exercises import welcome as check

# ------------------------------------------------------------------------------------------------------------------
# last_token

LAST_TOKEN_MISTAKES = [
    (lambda x: x[-1], "you took the last sequence of the batch (x[-1])"),
    (lambda x: x[..., -1], "you took the last feature of every token"),
    (lambda x: x[:, -1:], "you kept the length axis (shape (B, 1, E))"),
    (lambda x: x[:, 0], "you took the first token"),
]


def test_last_token_accepts_the_reference(expect):
    expect.correct(check.last_token, lambda x: x[:, -1])


@pytest.mark.parametrize("fn, phrase", LAST_TOKEN_MISTAKES, ids=[p for _, p in LAST_TOKEN_MISTAKES])
def test_last_token_names_the_mistake(expect, fn, phrase):
    expect.named(check.last_token, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
