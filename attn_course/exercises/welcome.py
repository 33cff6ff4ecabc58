"""Checker for notebook 00 (a warm-up that shows how exercises work)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["last_token", "hint"]

NOTEBOOK = "00_welcome"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "last_token": [
        "x has shape (B, L, E): axis 0 picks a sequence, axis 1 a position in it, axis 2 a feature.",
        "You want every sequence (`:` on axis 0) and the last position (`-1` on axis 1).",
    ],
}).hint


@checker(NOTEBOOK)
def last_token(fn: Callable) -> Result:
    """Check ``fn(x)`` -> the last token of every sequence: ``(B, L, E)`` to ``(B, E)``."""
    g = seeded(0)
    cases = []
    for B, L, E in ((2, 3, 4), (3, 5, 2)):
        x = torch.randn(B, L, E, generator=g)
        faulty = {
            "you took the last sequence of the batch (x[-1]); take the last position of every sequence: x[:, -1].":
                x[-1],
            "you took the last feature of every token (x[..., -1]); the position axis is axis 1.": x[:, :, -1],
            "you kept the length axis (shape (B, 1, E)); index it with -1 instead of slicing -1:.": x[:, -1:],
            "you took the first token; the last one is at index -1.": x[:, 0],
        }
        cases.append(Case(f"x of shape (B={B}, L={L}, E={E})", (x,), x[:, -1], faulty))
    return run_cases("last_token", fn, cases)
