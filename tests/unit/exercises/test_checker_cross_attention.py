"""The checkers of notebook 09 (attn_course.exercises.cross_attention): right answers pass, each mistake is named."""

import math

import pytest
import torch

from attn_course.exercises import cross_attention as check


def cross(x, context, *rest, masked=False, swap=False, fill=float("-inf"), invert=False, after=False, dim=-1,
          scaled=True):
    """Single-head cross-attention with one chosen mistake; the defaults are right."""
    mask, (W_q, W_k, W_v) = (rest[0], rest[1:]) if masked else (None, rest)
    if swap:
        x, context = context, x
    q, k, v = x @ W_q.T, context @ W_k.T, context @ W_v.T
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scaled else 1.0)
    keep = None if mask is None else (~mask if invert else mask)[:, None, :]
    if keep is not None and not after:
        scores = scores.masked_fill(~keep, fill)
    w = torch.softmax(scores, dim)
    return (w * keep if after else w) @ v


def to_itself(x, context, *rest):
    """Self-attention where cross-attention was asked for: keys and values from x."""
    return cross(x, x, *rest)


def masked(**mistake):
    return lambda *a: cross(*a, masked=True, **mistake)


# ------------------------------------------------------------------------------------------------------------------
# cross_attention

CROSS_MISTAKES = [
    (lambda *a: cross(*a, swap=True), "queries and keys are swapped: queries come from x"),
    (to_itself, "you attended x to itself"),
    (lambda *a: cross(*a, dim=-2), "softmax over the queries (dim=-2)"),
    (lambda *a: cross(*a, scaled=False), "the scores are not scaled"),
]


def test_cross_attention_accepts_the_reference(expect):
    expect.correct(check.cross_attention, cross)


@pytest.mark.parametrize("fn, phrase", CROSS_MISTAKES, ids=[p for _, p in CROSS_MISTAKES])
def test_cross_attention_names_the_mistake(expect, fn, phrase):
    expect.named(check.cross_attention, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# masked_cross_attention (x, context, context_mask, W_q, W_k, W_v)

MASKED_MISTAKES = [
    (lambda x, c, m, *w: cross(x, c, *w), "source padding is not masked"),
    (masked(invert=True), "the mask is inverted: True marks real source tokens"),
    (masked(fill=0.0), "padding scores were set to 0"),
    (masked(after=True), "the padding was zeroed after softmax"),
    (lambda x, c, m, *w: cross(x, x, *w), "you attended x to itself"),
    (masked(dim=-2), "softmax over the queries (dim=-2)"),
    (masked(scaled=False), "the scores are not scaled"),
]


def test_masked_cross_attention_accepts_the_reference(expect):
    expect.correct(check.masked_cross_attention, masked())


@pytest.mark.parametrize("fn, phrase", MASKED_MISTAKES, ids=[p for _, p in MASKED_MISTAKES])
def test_masked_cross_attention_names_the_mistake(expect, fn, phrase):
    expect.named(check.masked_cross_attention, fn, phrase)


def test_masked_cross_attention_with_the_mask_on_the_query_axis_gets_the_broadcast_advice(expect):
    """Found by the learner review: the mask broadcast as (B, S, 1) raises; the advice says how it must broadcast."""
    def mask_on_wrong_axis(x, context, mask, *w):
        q, k, v = x @ w[0].T, context @ w[1].T, context @ w[2].T
        return torch.softmax((q @ k.transpose(-2, -1)).masked_fill(~mask[:, :, None], float("-inf")), -1) @ v

    expect.advised(check.masked_cross_attention, mask_on_wrong_axis, "the mask must broadcast as (B, 1, S)",
                   raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
