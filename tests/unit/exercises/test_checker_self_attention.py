"""The checkers of notebook 06 (attn_course.exercises.self_attention): right answers pass, each mistake is named."""

import math

import pytest
import torch

from attn_course.exercises import self_attention as check


def self_attn(x, W_q, W_k, W_v, causal=False, width=None, keep=None, dim=-1, swap=False, fill=float("-inf"),
              after=False):
    """(Causal) self-attention with one chosen mistake; the defaults are right."""
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T
    if swap:
        q, k = k, q
    scores = q @ k.transpose(-2, -1) / math.sqrt(width or W_q.shape[0])
    L = x.shape[1]
    keep = keep(L) if keep is not None else (tril(L) if causal else None)
    if keep is not None and not after:
        scores = scores.masked_fill(~keep, fill)
    weights = torch.softmax(scores, dim)
    return (weights * keep if after else weights) @ v


def tril(L, diagonal=0):
    return torch.ones(L, L, dtype=torch.bool).tril(diagonal)


# ------------------------------------------------------------------------------------------------------------------
# self_attention

SELF_ATTENTION_MISTAKES = [
    (lambda x, *w: self_attn(x, *w, width=x.shape[-1]), "you scaled by the model width E"),
    (lambda x, *w: self_attn(x, *w, width=1), "the scores are not scaled"),
    (lambda x, *w: self_attn(x, *w, dim=-2), "softmax over the queries (dim=-2)"),
    (lambda x, *w: self_attn(x, *w, swap=True), "queries and keys are swapped (k @ q^T)"),
]


def test_self_attention_accepts_the_reference(expect):
    expect.correct(check.self_attention, self_attn)


@pytest.mark.parametrize("fn, phrase", SELF_ATTENTION_MISTAKES, ids=[p for _, p in SELF_ATTENTION_MISTAKES])
def test_self_attention_names_the_mistake(expect, fn, phrase):
    expect.named(check.self_attention, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# causal_self_attention


def causal(**mistake):
    return lambda *a: self_attn(*a, causal=True, **mistake)


CAUSAL_MISTAKES = [
    (causal(keep=lambda L: torch.ones(L, L, dtype=torch.bool).triu()), "the causal mask is inverted"),
    (causal(keep=lambda L: ~tril(L)), "the causal mask is inverted"),
    (causal(keep=lambda L: tril(L, -1)), "a token must also attend to itself (keep the diagonal)"),
    (lambda *a: self_attn(*a), "no causal mask: every token still sees the future"),
    (causal(keep=lambda L: tril(L, 1)), "(tril(), not tril(1))"),
    (causal(fill=0.0), "future scores were set to 0"),
    (causal(after=True), "the future was zeroed after softmax"),
    (lambda x, *w: self_attn(x, *w, causal=True, width=x.shape[-1]), "you scaled by the model width E"),
    (causal(width=1), "the scores are not scaled"),
    (causal(dim=-2), "softmax over the queries (dim=-2)"),
    (causal(swap=True), "queries and keys are swapped (k @ q^T)"),
]


def test_causal_self_attention_accepts_the_reference(expect):
    expect.correct(check.causal_self_attention, causal())


@pytest.mark.parametrize("fn, phrase", CAUSAL_MISTAKES, ids=[p for _, p in CAUSAL_MISTAKES])
def test_causal_self_attention_names_the_mistake(expect, fn, phrase):
    expect.named(check.causal_self_attention, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
