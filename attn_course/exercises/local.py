"""Checkers for notebook 10 (local and global attention)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["sliding_window_mask", "add_global_token", "hint"]

NOTEBOOK = "10_local_and_global_attention"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "sliding_window_mask": [
        "Entry (i, j) depends only on the offset i - j: build it once for every pair with broadcasting.",
        "A token sees `window` neighbours on each side and itself: count how far j is from i, in either direction, "
        "and compare with window (is a neighbour exactly `window` away in or out?).",
        "With causal=True also require offset >= 0 (j <= i); without it, do not.",
    ],
    "add_global_token": [
        "A global token reads every key and every query reads it: a whole row and a whole column become True.",
        "Copy the mask first (mask.clone()): the caller's mask must not change.",
        "Index the row with out[position, :] and the column with out[:, position].",
    ],
}).hint


def _window(L: int, window: int, causal: bool, keep=lambda off, w: off.abs() <= w) -> torch.Tensor:
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L): i - j
    allowed = keep(offset, window)
    return allowed & (offset >= 0) if causal else allowed


@checker(NOTEBOOK)
def sliding_window_mask(fn: Callable) -> Result:
    """Check ``fn(L, window, causal)`` -> bool ``(L, L)``: True where ``|i - j| <= window`` (and ``j <= i`` if causal)."""
    cases = []
    for L, window, causal in ((7, 2, False), (7, 2, True), (6, 0, False), (5, 1, True), (4, 9, False)):
        right = _window(L, window, causal)
        faulty = {
            "off by one: the window is too narrow. A token sees `window` neighbours on each side, so keep "
            "|i - j| <= window (not < window).": _window(L, window, causal, lambda off, w: off.abs() < w),
            "off by one: the window is too wide. Keep |i - j| <= window (not <= window + 1).":
                _window(L, window, causal, lambda off, w: off.abs() <= w + 1),
            "the window is on one side only: without causal=True a token also sees the `window` tokens after it.":
                _window(L, window, True) if not causal else None,
            "causal=True should also forbid the future (j <= i): your mask still lets tokens see ahead.":
                _window(L, window, False) if causal else None,
            "the mask is inverted: True means may attend, so the band (near the diagonal) must be True.": ~right,
            "the causal side is flipped: a token may see the past (j <= i), not the future.":
                _window(L, window, False) & (torch.arange(L)[:, None] <= torch.arange(L)[None, :]) if causal else None,
        }
        cases.append(Case(f"L={L}, window={window}, causal={causal}", (L, window, causal), right, faulty))
    return run_cases("sliding_window_mask", fn, cases)


@checker(NOTEBOOK)
def add_global_token(fn: Callable) -> Result:
    """Check ``fn(mask, position)`` -> a copy of the ``(L, L)`` mask with row and column ``position`` all True."""
    g = seeded(100)
    cases = []
    for L, position in ((6, 0), (7, 3), (5, 4)):
        mask = torch.rand(L, L, generator=g) < 0.3
        row, column = mask.clone(), mask.clone()
        row[position, :] = True
        column[:, position] = True
        right = row | column
        cleared = mask.clone()
        cleared[position, :] = False
        cleared[:, position] = False
        faulty = {
            "only the row is set: the global token reads everything, but every token must also read it "
            "(set the column too).": row,
            "only the column is set: every token reads the global token, but it must also read every token "
            "(set the row too).": column,
            "the row and column were set to False: a global token may attend and be attended everywhere (True).":
                cleared,
        }
        cases.append(Case(f"a random ({L}, {L}) mask, position {position}", (mask, position), right, faulty))
    return run_cases("add_global_token", fn, cases)
