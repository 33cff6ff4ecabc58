"""The checkers of notebook 05 (attn_course.exercises.seq2seq): right answers pass, each mistake is named."""

import pytest
import torch

from attn_course.exercises import seq2seq as check

# ------------------------------------------------------------------------------------------------------------------
# additive_scores


def additive(q, k, W_q, W_k, v, squash=torch.tanh):
    return squash((q @ W_q.T)[:, None, :] + k @ W_k.T) @ v  # (B, S)


ADDITIVE_MISTAKES = [
    (lambda *a: additive(*a, squash=lambda x: x), "there is no tanh"),
    (lambda q, k, W_q, W_k, v: torch.tanh(additive(q, k, W_q, W_k, v, lambda x: x)), "tanh came after v"),
    (lambda *a: torch.softmax(additive(*a), -1), "this exercise wants the raw scores"),
    (lambda q, k, W_q, W_k, v: torch.tanh((q @ W_q.T)[:, None, :] + k @ W_k.T).sum(-1), "not from summing over A"),
]


def test_additive_scores_accepts_the_reference(expect):
    expect.correct(check.additive_scores, additive)


@pytest.mark.parametrize("fn, phrase", ADDITIVE_MISTAKES, ids=[p for _, p in ADDITIVE_MISTAKES])
def test_additive_scores_names_the_mistake(expect, fn, phrase):
    expect.named(check.additive_scores, fn, phrase)


def test_additive_scores_without_an_axis_for_s_gets_the_broadcast_advice(expect):
    expect.advised(check.additive_scores, lambda q, k, W_q, W_k, v: torch.tanh(q @ W_q.T + k @ W_k.T) @ v,
                   "needs an axis for S before adding it to the keys", raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------
# source_softmax


def source_softmax(scores, mask, dim=-1, fill=float("-inf"), keep=lambda m: m):
    return torch.softmax(scores.masked_fill(~keep(mask), fill), dim=dim)


SOURCE_SOFTMAX_MISTAKES = [
    (lambda s, m: source_softmax(s, m, dim=0), "softmax over the batch axis (dim=0)"),
    (lambda s, m: torch.softmax(s, -1), "padding positions were not masked"),
    (lambda s, m: source_softmax(s, m, keep=lambda x: ~x), "the mask is inverted"),
    (lambda s, m: source_softmax(s, m, fill=0.0), "padded scores were set to 0"),
    (lambda s, m: torch.softmax(s, -1) * m, "the padding was zeroed after softmax"),
]


def test_source_softmax_accepts_the_reference(expect):
    expect.correct(check.source_softmax, source_softmax)


@pytest.mark.parametrize("fn, phrase", SOURCE_SOFTMAX_MISTAKES, ids=[p for _, p in SOURCE_SOFTMAX_MISTAKES])
def test_source_softmax_names_the_mistake(expect, fn, phrase):
    expect.named(check.source_softmax, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# attention_context


def context(q, k, v, mask, mix=None, dim=-1, masked=True, fill=float("-inf")):
    scores = (k @ q[:, :, None])[..., 0]  # (B, S)
    if masked:
        scores = scores.masked_fill(~mask, fill)
    return (torch.softmax(scores, dim=dim)[:, None, :] @ (v if mix is None else mix(k, v)))[:, 0]


def unsqueezed_softmax(q, k, v, m):
    """Scores kept as (B, S, 1): the softmax runs over the axis of size 1."""
    column = (k @ q[:, :, None]).masked_fill(~m[..., None], float("-inf"))
    return (torch.softmax(column, -1).transpose(1, 2) @ v)[:, 0]


CONTEXT_MISTAKES = [
    (lambda *a: context(*a, mix=lambda k, v: k), "the context mixes the keys"),
    (lambda *a: context(*a, masked=False), "padding positions were not masked"),
    (lambda *a: context(*a, dim=0), "softmax over the batch axis (dim=0)"),
    (lambda q, k, v, m: context(q, k, v, ~m), "the mask is inverted"),
    (lambda *a: context(*a, fill=0.0), "padded scores were set to 0"),
    (unsqueezed_softmax, "the softmax ran over the hidden axis or an axis of size 1"),
]


def test_attention_context_accepts_the_reference(expect):
    expect.correct(check.attention_context, context)


@pytest.mark.parametrize("fn, phrase", CONTEXT_MISTAKES, ids=[p for _, p in CONTEXT_MISTAKES])
def test_attention_context_names_the_mistake(expect, fn, phrase):
    expect.named(check.attention_context, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
