"""The checkers of notebook 07 (attn_course.exercises.multihead): right answers pass, each mistake is named."""

import pytest

from attn_course.exercises import multihead as check

# ------------------------------------------------------------------------------------------------------------------
# split_heads (x is (B, L, E), E = H · D)


def split(x, H):
    return x.view(x.shape[0], x.shape[1], H, -1).transpose(1, 2)


SPLIT_MISTAKES = [
    (lambda x, H: x.view(x.shape[0], H, x.shape[1], -1), "you used view(B, H, L, D) without a transpose"),
    (lambda x, H: x.view(x.shape[0], x.shape[1], -1, H).permute(0, 3, 1, 2),
     "the heads are taken as the first axis of E's split"),
    (lambda x, H: x.view(x.shape[0], x.shape[1], H, -1), "you split the heads but did not move them"),
    (lambda x, H: x.transpose(1, 2).reshape(x.shape[0], H, x.shape[1], -1), "you transposed before splitting"),
]


def test_split_heads_accepts_the_reference(expect):
    expect.correct(check.split_heads, split)


@pytest.mark.parametrize("fn, phrase", SPLIT_MISTAKES, ids=[p for _, p in SPLIT_MISTAKES])
def test_split_heads_names_the_mistake(expect, fn, phrase):
    expect.named(check.split_heads, fn, phrase)


def test_split_heads_with_view_after_transpose_gets_the_contiguity_advice(expect):
    expect.advised(check.split_heads, lambda x, H: x.transpose(1, 2).view(x.shape[0], H, x.shape[1], -1),
                   "split with view(B, L, H, D) before any transpose", raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------
# merge_heads (x is (B, H, L, D))

MERGE_MISTAKES = [
    (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without moving the heads back after the tokens"),
    (lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1), "you joined (D, H) instead of (H, D)"),
]


def test_merge_heads_accepts_the_reference(expect):
    expect.correct(check.merge_heads, lambda x: x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1))


@pytest.mark.parametrize("fn, phrase", MERGE_MISTAKES, ids=[p for _, p in MERGE_MISTAKES])
def test_merge_heads_names_the_mistake(expect, fn, phrase):
    expect.named(check.merge_heads, fn, phrase)


def test_merge_heads_with_view_after_transpose_gets_the_contiguity_advice(expect):
    expect.advised(check.merge_heads, lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1),
                   "so .view cannot join its axes", raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
