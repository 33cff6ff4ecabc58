"""Checkers for notebook 07 (multi-head attention)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["split_heads", "merge_heads", "hint"]

NOTEBOOK = "07_multi_head_attention"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "split_heads": [
        "Head h owns columns h·D .. (h+1)·D - 1 of E, for every token: first give E two axes, (H, D).",
        "x.view(B, L, H, D) keeps each token's row intact; then move the head axis before the tokens.",
        "x.view(B, L, H, D).transpose(1, 2) is (B, H, L, D).",
    ],
    "merge_heads": [
        "Undo the split in reverse order: heads back after the tokens, then join (H, D) into one axis.",
        "x.transpose(1, 2) is (B, L, H, D); it is not contiguous in memory any more.",
        "Use .reshape(B, L, H * D) (or .contiguous().view(...)): .view alone raises on a transposed tensor.",
    ],
}).hint

_SPLIT_CONTIGUOUS = ("After transpose the tensor is not contiguous, so .view cannot regroup its axes: "
                     "split with view(B, L, H, D) before any transpose.")
_CONTIGUOUS = ("After transpose the tensor is not contiguous, so .view cannot join its axes: "
               "use .reshape(B, L, H * D) or .contiguous().view(B, L, H * D).")


@checker(NOTEBOOK)
def split_heads(fn: Callable) -> Result:
    """Check ``fn(x, num_heads)`` -> ``(B, H, L, D)``: head h gets columns ``h·D .. (h+1)·D - 1`` of every token."""
    g = seeded(70)
    cases = []
    for B, L, H, D in ((2, 3, 2, 4), (1, 5, 3, 2)):
        x = torch.randn(B, L, H * D, generator=g)
        faulty = {
            "you used view(B, H, L, D) without a transpose: that cuts the flat numbers in the wrong places and mixes "
            "tokens across heads. view(B, L, H, D), then transpose(1, 2).": x.reshape(B, H, L, D),
            "the heads are taken as the first axis of E's split, not the second: view(B, L, H, D) (H before D).":
                x.view(B, L, D, H).permute(0, 3, 1, 2),
            "you split the heads but did not move them before the tokens: transpose(1, 2) to get (B, H, L, D).":
                x.view(B, L, H, D),
            "you transposed before splitting: transpose(1, 2) on (B, L, E) swaps tokens with features, so the reshape "
            "cuts across tokens. Split first with view(B, L, H, D), then transpose(1, 2).":
                x.transpose(1, 2).reshape(B, H, L, D),
        }
        cases.append(Case(f"x (B={B}, L={L}, E={H * D}), H={H}", (x, H), x.view(B, L, H, D).transpose(1, 2), faulty,
                          on_error=_SPLIT_CONTIGUOUS))
    return run_cases("split_heads", fn, cases)


@checker(NOTEBOOK)
def merge_heads(fn: Callable) -> Result:
    """Check ``fn(x)`` -> ``(B, L, H·D)``: the inverse of split_heads."""
    g = seeded(71)
    cases = []
    for B, H, L, D in ((2, 2, 3, 4), (1, 3, 5, 2)):
        x = torch.randn(B, H, L, D, generator=g)
        faulty = {
            "you joined the axes without moving the heads back after the tokens, which mixes tokens: "
            "transpose(1, 2) first, then reshape(B, L, H * D).": x.reshape(B, L, H * D),
            "you joined (D, H) instead of (H, D): after transpose(1, 2) the axes are (B, L, H, D); reshape them as "
            "they are.": x.permute(0, 2, 3, 1).reshape(B, L, H * D),
        }
        cases.append(Case(f"x (B={B}, H={H}, L={L}, D={D})", (x,), x.transpose(1, 2).reshape(B, L, H * D), faulty,
                          on_error=_CONTIGUOUS if H > 1 else None))
    return run_cases("merge_heads", fn, cases)
