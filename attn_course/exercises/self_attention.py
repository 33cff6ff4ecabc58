"""Checkers for notebook 06 (self-attention and positions)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["self_attention", "causal_self_attention", "hint"]

NOTEBOOK = "06_self_attention_and_positions"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "self_attention": [
        "Project the same x three times: q = x @ W_q.T, k = x @ W_k.T, v = x @ W_v.T, each (B, L, D).",
        "Scores are q @ k.transpose(-2, -1), (B, L, L), scaled by 1/sqrt(D): D is the projection width W_q.shape[0], "
        "not the model width E.",
        "softmax over the keys (dim=-1), then weights @ v.",
    ],
    "causal_self_attention": [
        "As self-attention, but token i may only attend to tokens 0..i.",
        "Build a boolean (L, L) mask with torch.ones(L, L, dtype=torch.bool).tril(): True on and below the diagonal.",
        "Block the future before softmax: scores.masked_fill(~mask, float('-inf')).",
    ],
}).hint


def _versions(x, W_q, W_k, W_v, causal: bool):
    """The right answer and the usual mistakes for (causal) self-attention."""
    D, E, L = W_q.shape[0], W_q.shape[1], x.shape[1]
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T  # (B, L, D)
    keep = torch.ones(L, L, dtype=torch.bool).tril() if causal else None

    def attend(scale, keep=keep, dim=-1, qk=(q, k), fill=float("-inf")):
        scores = qk[0] @ qk[1].transpose(-2, -1) * scale  # (B, L, L)
        if keep is not None:
            scores = scores.masked_fill(~keep, fill)
        return torch.softmax(scores, dim=dim) @ v

    right = 1 / math.sqrt(D)
    faulty = {
        "you scaled by the model width E; scale by the head width D = W_q.shape[0], the width of q and k.":
            attend(1 / math.sqrt(E)),
        "the scores are not scaled: divide them by sqrt(D) before softmax.": attend(1.0),
        "softmax over the queries (dim=-2); each query's weights over the keys must sum to 1 (dim=-1).":
            attend(right, dim=-2),
        "queries and keys are swapped (k @ q^T): token i's row must hold its own query against every key.":
            attend(right, qk=(k, q)),
    }
    if causal:
        faulty.update({
            "the causal mask is inverted: token i must see tokens 0..i (the lower triangle), not the future.":
                [attend(right, keep=torch.ones(L, L, dtype=torch.bool).triu()), attend(right, keep=~keep)],
            "off by one: a token must also attend to itself (keep the diagonal).":
                attend(right, keep=torch.ones(L, L, dtype=torch.bool).tril(-1)),
            "no causal mask: every token still sees the future.": attend(right, keep=None),
            "off by one: each token also sees the next one; use the diagonal itself as the limit (tril(), not tril(1)).":
                attend(right, keep=torch.ones(L, L, dtype=torch.bool).tril(1)),
            "future scores were set to 0, which still gets weight after exp; fill them with float('-inf').":
                attend(right, fill=0.0),
            "the future was zeroed after softmax, so the rows no longer sum to 1: mask the scores before softmax.":
                (torch.softmax(q @ k.transpose(-2, -1) * right, dim=-1) * keep) @ v,
        })
    return attend(right), faulty


def _check(name: str, fn: Callable, causal: bool) -> Result:
    g = seeded(60 + causal)
    cases = []
    for B, L, E, D in ((2, 4, 6, 3), (1, 5, 8, 2)):
        x = torch.randn(B, L, E, generator=g)
        W_q, W_k, W_v = (torch.randn(D, E, generator=g) for _ in range(3))
        expected, faulty = _versions(x, W_q, W_k, W_v, causal)
        cases.append(Case(f"x (B={B}, L={L}, E={E}), W (D={D}, E={E})", (x, W_q, W_k, W_v), expected, faulty,
                          nonfinite="NaN in the output: does a row have every key masked? Token 0 must see itself."))
    return run_cases(name, fn, cases)


@checker(NOTEBOOK)
def self_attention(fn: Callable) -> Result:
    """Check ``fn(x, W_q, W_k, W_v)`` -> ``softmax((x W_qᵀ)(x W_kᵀ)ᵀ / sqrt(D)) x W_vᵀ``: (B, L, E) -> (B, L, D)."""
    return _check("self_attention", fn, causal=False)


@checker(NOTEBOOK)
def causal_self_attention(fn: Callable) -> Result:
    """Check ``fn(x, W_q, W_k, W_v)`` -> self-attention where token i sees tokens 0..i only."""
    return _check("causal_self_attention", fn, causal=True)
