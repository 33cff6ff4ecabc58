"""Checkers for notebook 04 (scaled dot-product attention and masks)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..softmax import softmax
from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["scaled_dot_product_attention", "causal_mask", "padding_mask", "hint"]

NOTEBOOK = "04_scaled_dot_product_attention_and_masks"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "scaled_dot_product_attention": [
        "Scores, scale, mask, softmax, values, in that order.",
        "Scale the scores by 1/sqrt(D), D being the width of the queries and keys (`q.shape[-1]`), before softmax.",
        "Mask before softmax: `scores.masked_fill(~mask, float('-inf'))`, so blocked keys get exactly zero weight.",
    ],
    "causal_mask": [
        "Query i may see keys 0..i: itself and the past, never the future.",
        "That is the lower triangle including the diagonal: look at `torch.tril`.",
        "Start from `torch.ones(L, L, dtype=torch.bool)`.",
    ],
    "padding_mask": [
        "Position j of sequence b is real when j < lengths[b].",
        "Compare a row of positions `torch.arange(max_len)[None, :]` with a column of lengths `[:, None]`.",
    ],
}).hint


def _sdpa_versions(q, k, v, mask):
    """The right answer and the usual mistakes, on the same inputs."""
    E = q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (B, L, S)

    def attend(s, dim=-1, fill=float("-inf"), keep=mask):
        """The output, as code using torch.softmax (NaN on rows with no key) and attn_course.softmax (zeros)."""
        if keep is not None:
            s = s.masked_fill(~keep, fill)
        return [torch.softmax(s, dim=dim) @ v, softmax(s, dim=dim) @ v]

    faulty = {
        "the scores are not scaled: divide them by sqrt(D), D = q.shape[-1], before softmax.": attend(scores),
        "you divided by D; divide by sqrt(D) (q·k has variance D, so its spread is sqrt(D)).": attend(scores / E),
        "you multiplied by sqrt(D); divide by it.": attend(scores * math.sqrt(E)),
        "softmax over the queries (dim=-2); each query's weights over the keys must sum to 1 (dim=-1).":
            attend(scores / math.sqrt(E), dim=-2),
        "you scaled by the square root of the number of keys S; scale by sqrt(D), the width of q and k (q.shape[-1]).":
            attend(scores / math.sqrt(k.shape[-2])),
        "you scaled by the square root of the value width; scale by sqrt(D), the width of q and k (q.shape[-1]).":
            attend(scores / math.sqrt(v.shape[-1])),
    }
    if mask is not None:
        s = scores / math.sqrt(E)
        faulty.update({
            "the mask was applied after softmax, so the kept weights no longer sum to 1: mask the scores before softmax.":
                (torch.softmax(s, -1) * mask) @ v,
            "masked scores were set to 0, which still gets weight after exp; fill them with float('-inf').":
                attend(s, fill=0.0),
            "the mask is inverted: True means 'may attend', so block where the mask is False (~mask).":
                attend(s, keep=~mask),
            "the mask was ignored: block the scores where it is False.": attend(s, keep=None),
        })
    return attend(scores / math.sqrt(E))[0], faulty


@checker(NOTEBOOK)
def scaled_dot_product_attention(fn: Callable) -> Result:
    """Check ``fn(q, k, v, mask=None)`` -> attention output ``(B, L, Ev)``; mask True = may attend."""
    g = seeded(40)
    B, L, S, E, Ev = 2, 3, 5, 8, 4
    q, k, v = (torch.randn(B, n, w, generator=g) for n, w in ((L, E), (S, E), (S, Ev)))
    keep = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])[:, None, :]  # (B, 1, S)
    q4, k4, v4 = (torch.randn(B, 4, w, generator=g) for w in (E, E, Ev))
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    cases = []
    for label, args in (("q (2, 3, 8), k (2, 5, 8), v (2, 5, 4), no mask", (q, k, v, None)),
                        ("a padding mask of shape (2, 1, 5)", (q, k, v, keep)),
                        ("a causal mask of shape (4, 4)", (q4, k4, v4, causal))):
        expected, faulty = _sdpa_versions(*args)
        cases.append(Case(label, args, expected, faulty,
                          nonfinite="NaN or inf in the output: are masked scores -inf in a row that has no key left?",
                          on_error="On batched inputs transpose the last two axes: k.transpose(-2, -1), not k.T."))
    return run_cases("scaled_dot_product_attention", fn, cases)


@checker(NOTEBOOK)
def causal_mask(fn: Callable) -> Result:
    """Check ``fn(L)`` -> boolean ``(L, L)``, True where key j <= query i."""
    cases = []
    for L in (4, 6, 1):
        ones = torch.ones(L, L, dtype=torch.bool)
        faulty = {
            "off by one: the diagonal must be True, since a token may attend to itself.": ones.tril(-1),
            "off by one: each query sees one key of the future; use the diagonal itself as the limit.": ones.tril(1),
            "the mask is inverted: True must mark the keys a query MAY attend to (the lower triangle).": ~ones.tril(),
            "this is the upper triangle (the future); a query may attend to the past: the lower triangle.": ones.triu(),
        }
        cases.append(Case(f"L={L}", (L,), ones.tril(), faulty))
    return run_cases("causal_mask", fn, cases)


@checker(NOTEBOOK)
def padding_mask(fn: Callable) -> Result:
    """Check ``fn(lengths, max_len)`` -> boolean ``(B, max_len)``, True at real tokens."""
    cases = []
    for lengths, max_len in (([3, 1, 4], 5), ([2, 2], 2), ([0, 3], 4)):
        want = torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None]  # (B, S)
        faulty = {
            "the mask is inverted: here True marks real tokens (True = may attend). "
            "True-at-padding is nn.MultiheadAttention's key_padding_mask convention.": ~want,
            "off by one: position j is real when j < length (positions start at 0).":
                torch.arange(max_len)[None, :] <= torch.tensor(lengths)[:, None],
            "the mask is transposed: return one row per sequence, shape (B, max_len).": want.T,
            "off by one: each sequence lost its last real token; position j is real when j < length.":
                torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None] - 1,
        }
        cases.append(Case(f"lengths={lengths}, max_len={max_len}", (lengths, max_len), want, faulty))
    return run_cases("padding_mask", fn, cases)
