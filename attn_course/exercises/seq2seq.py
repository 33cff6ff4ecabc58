"""Checkers for notebook 05 (attention in RNN encoder-decoders)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..softmax import softmax
from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["additive_scores", "source_softmax", "attention_context", "hint"]

NOTEBOOK = "05_attention_in_rnn_encoder_decoders"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "additive_scores": [
        "Project the query and every key to the same width A: `query @ W_q.T` is (B, A), `keys @ W_k.T` is (B, S, A).",
        "Add them with broadcasting (the query needs an axis for S: `[:, None, :]`), then squash with tanh.",
        "Finally one number per source step: multiply by v and sum over A (`@ v`), giving (B, S).",
    ],
    "source_softmax": [
        "Each row of `scores` (one sentence) must become weights over its own source steps: softmax over dim=-1.",
        "Padding must get exactly zero weight: set those scores to float('-inf') before the softmax.",
        "`mask` is True at real tokens, so block where it is False: `scores.masked_fill(~mask, float('-inf'))`.",
    ],
    "attention_context": [
        "One score per source step: the dot product of each key with the query, (B, S, E) @ (B, E, 1) -> (B, S, 1).",
        "Squeeze the last axis, mask the padding with -inf, and take softmax over the source steps (dim=-1).",
        "The context mixes the values, not the keys: `weights[:, None, :] @ values` is (B, 1, Ev).",
    ],
}).hint

_PAD = "padding positions were not masked: they must get exactly zero weight (masked_fill(~mask, -inf) before softmax)."


def _inputs(seed: int, B: int = 3, S: int = 6, E: int = 5):
    g = seeded(seed)
    mask = torch.arange(S)[None, :] < torch.tensor([S, 4, 2])[:B, None]  # (B, S), True at real tokens
    return g, mask


@checker(NOTEBOOK)
def additive_scores(fn: Callable) -> Result:
    """Check ``fn(query, keys, W_q, W_k, v)`` -> ``vᵀ tanh(W_q q + W_k k)``: (B, Eq), (B, S, Ek) -> (B, S)."""
    g = seeded(50)
    cases = []
    for label, (B, S, Eq, Ek, A) in (("B=2, S=5, Eq=4, Ek=6, A=3", (2, 5, 4, 6, 3)),
                                     ("B=3, S=7, Eq=8, Ek=2, A=5", (3, 7, 8, 2, 5))):
        q, k = torch.randn(B, Eq, generator=g), torch.randn(B, S, Ek, generator=g)
        W_q, W_k, v = torch.randn(A, Eq, generator=g), torch.randn(A, Ek, generator=g), torch.randn(A, generator=g)
        summed = (q @ W_q.T)[:, None, :] + k @ W_k.T  # (B, S, A)
        faulty = {
            "there is no tanh: without it the score is linear in q and k; apply tanh before multiplying by v.":
                summed @ v,
            "tanh came after v: squash the sum W_q q + W_k k with tanh first, then take the dot product with v.":
                torch.tanh(summed @ v),
            "these are attention weights; this exercise wants the raw scores, before any softmax.":
                torch.softmax(torch.tanh(summed) @ v, dim=-1),
            "one number per source step comes from the dot product with v, not from summing over A.":
                torch.tanh(summed).sum(-1),
        }
        cases.append(Case(label, (q, k, W_q, W_k, v), torch.tanh(summed) @ v, faulty,
                          on_error="The projected query (B, A) needs an axis for S before adding it to the keys "
                                   "(B, S, A): `[:, None, :]`."))
    return run_cases("additive_scores", fn, cases)


@checker(NOTEBOOK)
def source_softmax(fn: Callable) -> Result:
    """Check ``fn(scores, mask)`` -> weights over the source steps, zero at padding: (B, S), (B, S) -> (B, S)."""
    cases = []
    for seed, label in ((51, "3 sentences of lengths 6, 4, 2"), (52, "the same lengths, scores 10x larger")):
        g, mask = _inputs(seed)
        scores = torch.randn(3, 6, generator=g) * (1 if seed == 51 else 10)
        keep = scores.masked_fill(~mask, float("-inf"))
        faulty = {
            "softmax over the batch axis (dim=0) mixes different sentences; use the source steps (dim=-1).":
                [torch.softmax(keep, dim=0), torch.softmax(scores, dim=0).masked_fill(~mask, 0.0)],
            _PAD: torch.softmax(scores, dim=-1),
            "the mask is inverted: True marks real tokens, so block where it is False (~mask).":
                [torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1),
                 softmax(scores.masked_fill(mask, float("-inf")), dim=-1)],
            "padded scores were set to 0, which still gets weight after exp; fill them with float('-inf').":
                torch.softmax(scores.masked_fill(~mask, 0.0), dim=-1),
            "the padding was zeroed after softmax, so the rows no longer sum to 1: mask the scores before softmax.":
                torch.softmax(scores, dim=-1) * mask,
        }
        cases.append(Case(label, (scores, mask), softmax(keep, dim=-1), faulty))
    return run_cases("source_softmax", fn, cases)


@checker(NOTEBOOK)
def attention_context(fn: Callable) -> Result:
    """Check ``fn(query, keys, values, mask)`` -> dot-score context ``(B, Ev)`` for (B, E), (B, S, E), (B, S, Ev)."""
    cases = []
    for seed, (E, Ev) in ((53, (5, 3)), (54, (4, 4))):
        g, mask = _inputs(seed)
        q, k, v = torch.randn(3, E, generator=g), torch.randn(3, 6, E, generator=g), torch.randn(3, 6, Ev, generator=g)
        scores = (k @ q[:, :, None])[..., 0]  # (B, S)
        weights = softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # (B, S)
        column = (k @ q[:, :, None]).masked_fill(~mask[:, :, None], float("-inf"))  # (B, S, 1), never squeezed
        ones = torch.softmax(column, dim=-1)[..., 0]  # softmax over the size-1 axis: 1 at real steps, NaN at padding
        faulty = {
            "the context mixes the keys; it must mix the values: `weights @ values`.": (weights[:, None, :] @ k)[:, 0],
            _PAD: (torch.softmax(scores, dim=-1)[:, None, :] @ v)[:, 0],
            "softmax over the batch axis (dim=0) mixes different sentences; use the source steps (dim=-1).":
                (torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0)[:, None, :] @ v)[:, 0],
            "the mask is inverted: True marks real tokens, so block where it is False (~mask).":
                [(torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)[:, None, :] @ v)[:, 0],
                 (softmax(scores.masked_fill(mask, float("-inf")), dim=-1)[:, None, :] @ v)[:, 0]],
            "padded scores were set to 0, which still gets weight after exp; fill them with float('-inf').":
                (torch.softmax(scores.masked_fill(~mask, 0.0), dim=-1)[:, None, :] @ v)[:, 0],
            "every source position got weight 1: the softmax ran over the hidden axis or an axis of size 1. "
            "Reduce to one score per source step (B, S) first, then softmax over the steps.":
                [(ones[:, None, :] @ v)[:, 0], (mask.float()[:, None, :] @ v)[:, 0], v.sum(1)],
        }
        cases.append(Case(f"B=3 sentences of lengths 6, 4, 2, E={E}, Ev={Ev}", (q, k, v, mask), (weights[:, None, :] @ v)[:, 0],
                          faulty))
    return run_cases("attention_context", fn, cases)
