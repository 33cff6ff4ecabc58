"""Checkers for notebook 09 (cross-attention)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["cross_attention", "masked_cross_attention", "hint"]

NOTEBOOK = "09_cross_attention"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "cross_attention": [
        "The decoder asks, the encoder answers: queries come from x, keys and values from context.",
        "q = x @ W_q.T is (B, L, D); k = context @ W_k.T and v = context @ W_v.T are (B, S, D) and (B, S, Dv).",
        "scores = q @ k.transpose(-2, -1) / sqrt(D) is (B, L, S): softmax over S (dim=-1), then @ v gives (B, L, Dv).",
    ],
    "masked_cross_attention": [
        "context_mask (B, S) is True at real source tokens: padding must get exactly zero weight.",
        "Give the mask a query axis so it broadcasts over the L rows of scores: context_mask[:, None, :] is (B, 1, S).",
        "Before softmax: scores.masked_fill(~context_mask[:, None, :], float('-inf')).",
    ],
}).hint


def _attend(q, k, v, keep=None, fill=float("-inf"), scale=None, after=False):
    """softmax(q kᵀ · scale) v, with keys outside ``keep`` (B, 1, S) filled before softmax (or zeroed after)."""
    scores = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))  # (B, L, S)
    if keep is not None and not after:
        scores = scores.masked_fill(~keep, fill)
    weights = torch.softmax(scores, dim=-1)
    return (weights * keep if after else weights) @ v


def _cases(seed: int, masked: bool) -> list[Case]:
    g = seeded(seed)
    cases = []
    for B, L, S, E, C, D in ((2, 3, 5, 4, 4, 4), (1, 4, 2, 6, 6, 3), (2, 2, 4, 5, 3, 2)):
        x, context = torch.randn(B, L, E, generator=g), torch.randn(B, S, C, generator=g)
        W_q, W_k, W_v = torch.randn(D, E, generator=g), torch.randn(D, C, generator=g), torch.randn(D, C, generator=g)
        lengths = torch.tensor([S - 1, 1][:B]) if B > 1 else torch.tensor([S - 1])
        mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S): True at real source tokens
        keep = mask[:, None, :] if masked else None  # (B, 1, S)
        q, k, v = x @ W_q.T, context @ W_k.T, context @ W_v.T
        faulty = {"you attended x to itself: that is self-attention. Keys and values come from context.":
                  _attend(q, x @ W_k.T, x @ W_v.T) if E == C else None}
        if E == C:  # the swap only runs when both sequences have the same width
            faulty["queries and keys are swapped: queries come from x (the decoder asks), keys and values from "
                   "context (the encoder answers). Your output has one row per context token."] = \
                _attend(context @ W_q.T, x @ W_k.T, x @ W_v.T)
        faulty["softmax over the queries (dim=-2): each query's weights over the source tokens must sum to 1 (dim=-1)."] = \
            torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(
                ~keep if keep is not None else torch.zeros(1, dtype=torch.bool), float("-inf")), dim=-2) @ v
        faulty["the scores are not scaled: divide them by sqrt(D), the width of q and k."] = _attend(q, k, v, keep, scale=1.0)
        args = (x, context, W_q, W_k, W_v)
        label = f"x (B={B}, L={L}, E={E}), context (S={S}, width {C}), D={D}"
        if masked:
            args = (x, context, mask, W_q, W_k, W_v)
            label += f", source lengths {lengths.tolist()}"
            faulty.update({
                "source padding is not masked: the padded positions of context still get weight. Fill their "
                "scores with -inf before softmax.": _attend(q, k, v),
                "the mask is inverted: True marks real source tokens, which must stay; block the False ones.":
                    _attend(q, k, v, ~keep),
                "padding scores were set to 0, which still gets weight after exp; fill them with float('-inf').":
                    _attend(q, k, v, keep, fill=0.0),
                "the padding was zeroed after softmax, so the rows no longer sum to 1: mask the scores before softmax.":
                    _attend(q, k, v, keep, after=True),
            })
        advice = []
        if E != C:
            advice.append("Queries come from x (width E), keys and values from context (its own width): "
                          "check which input each of W_q, W_k, W_v multiplies.")
        if masked:
            advice.append("If the error is about the mask: the scores are (B, L, S), so the mask must broadcast as "
                          "(B, 1, S), one row shared by every query: context_mask[:, None, :].")
        cases.append(Case(label, args, _attend(q, k, v, keep), faulty, on_error=" ".join(advice) or None))
    return cases


@checker(NOTEBOOK)
def cross_attention(fn: Callable) -> Result:
    """Check ``fn(x, context, W_q, W_k, W_v)`` -> ``(B, L, D)``: x's tokens attend over context's tokens."""
    return run_cases("cross_attention", fn, _cases(80, masked=False))


@checker(NOTEBOOK)
def masked_cross_attention(fn: Callable) -> Result:
    """Check ``fn(x, context, context_mask, W_q, W_k, W_v)``: as cross_attention, padded source tokens get weight 0."""
    return run_cases("masked_cross_attention", fn, _cases(81, masked=True))
