"""The checkers of notebook 10 (attn_course.exercises.local): right answers pass, each mistake is named."""

import pytest
import torch

from attn_course.exercises import local as check

# ------------------------------------------------------------------------------------------------------------------
# sliding_window_mask (L, window, causal)


def window_mask(L, window, causal, keep=lambda off, w: off.abs() <= w, past=lambda off: off >= 0):
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # i - j
    return keep(offset, window) & past(offset) if causal else keep(offset, window)


WINDOW_MISTAKES = [
    (lambda L, w, c: window_mask(L, w, c, lambda off, w: off.abs() < w), "off by one: the window is too narrow"),
    (lambda L, w, c: window_mask(L, w, c, lambda off, w: off.abs() <= w + 1), "off by one: the window is too wide"),
    (lambda L, w, c: window_mask(L, w, True), "the window is on one side only"),
    (lambda L, w, c: window_mask(L, w, False), "causal=True should also forbid the future"),
    (lambda L, w, c: ~window_mask(L, w, c), "the mask is inverted"),
    (lambda L, w, c: window_mask(L, w, c, past=lambda off: off <= 0), "the causal side is flipped"),
]


def test_sliding_window_mask_accepts_the_reference(expect):
    expect.correct(check.sliding_window_mask, window_mask)


@pytest.mark.parametrize("fn, phrase", WINDOW_MISTAKES, ids=[p for _, p in WINDOW_MISTAKES])
def test_sliding_window_mask_names_the_mistake(expect, fn, phrase):
    expect.named(check.sliding_window_mask, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# add_global_token (mask, position)


def global_token(mask, position, row=True, column=True, in_place=False, value=True):
    out = mask if in_place else mask.clone()
    if row:
        out[position, :] = value
    if column:
        out[:, position] = value
    return out


GLOBAL_MISTAKES = [
    (lambda m, p: global_token(m, p, column=False), "only the row is set"),
    (lambda m, p: global_token(m, p, row=False), "only the column is set"),
    (lambda m, p: global_token(m, p, value=False), "the row and column were set to False"),
]


def test_add_global_token_accepts_the_reference(expect):
    expect.correct(check.add_global_token, global_token)


@pytest.mark.parametrize("fn, phrase", GLOBAL_MISTAKES, ids=[p for _, p in GLOBAL_MISTAKES])
def test_add_global_token_names_the_mistake(expect, fn, phrase):
    expect.named(check.add_global_token, fn, phrase)


def test_add_global_token_that_changes_the_callers_mask_is_told_to_copy_it(expect):
    expect.generic(check.add_global_token, lambda m, p: global_token(m, p, in_place=True),
                   "Your function changed its input `m` (argument 1) in place")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
