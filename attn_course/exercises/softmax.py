"""Checkers for notebook 02 (softmax)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["softmax", "softmax_temperature", "logsumexp", "hint"]

NOTEBOOK = "02_softmax"  # where these exercises are set; the progress record files them under it

_OVERFLOW = ("overflow: exp of a large score is inf in float32 and inf/inf is NaN. "
             "Subtract each row's maximum before exp (softmax does not change when a row is shifted).")
_NONFINITE = ("NaN or inf in your answer: exp of a large score overflows to inf (inf/inf is NaN), and exp of a very "
              "negative one underflows to 0. Subtract each row's maximum before exp.")
_LSE_OVERFLOW = ("overflow: exp of a large score is inf in float32, so log(sum(exp(x))) is inf. "
                 "Subtract each row's maximum m before exp, and add m back after the log.")
_LSE_NONFINITE = ("NaN or inf in your answer: exp overflows to inf for large scores and underflows to 0 (log 0 = -inf) "
                  "for very negative ones. Subtract each row's maximum m before exp, and add m back after the log.")

hint = Hints({
    "softmax": [
        "Softmax has two steps: make every score positive with exp, then divide by the row's total so it sums to 1.",
        "The row is the last axis: reduce with dim=-1 and keepdim=True so the result broadcasts back.",
        "For large scores exp overflows: subtract `x.amax(dim=-1, keepdim=True)` from x first.",
    ],
    "softmax_temperature": [
        "Temperature rescales the scores before softmax.",
        "A high temperature should flatten the weights: divide the scores by it, then apply your softmax.",
    ],
    "logsumexp": [
        "log(sum(exp(x))) overflows for the same reason softmax does.",
        "With m the row maximum: log Σ exp(x) = m + log Σ exp(x - m).",
        "Return one number per row: reduce the last axis without keepdim, and add m back.",
    ],
}).hint


def _scores() -> list[tuple[str, torch.Tensor]]:
    g = seeded(20)
    wide = torch.tensor([[0.0, 100.0, -100.0, 50.0, -50.0], [200.0, -3.0, 1.0, 0.0, 199.0]])
    big = torch.stack([1e4 + 5 * torch.randn(5, generator=g), -1e4 + 5 * torch.randn(5, generator=g)])
    return [("scores of shape (3, 5)", 2 * torch.randn(3, 5, generator=g)),
            ("a batch of shape (2, 3, 4)", 2 * torch.randn(2, 3, 4, generator=g)),
            ("rows spanning -100 to +200 (float32)", wide),
            ("rows near +10000 and -10000 (float32)", big)]


def _reference(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.double(), dim=-1).to(x.dtype)


def naive(x: torch.Tensor) -> torch.Tensor:
    """Softmax without the max trick, as a learner writes it first."""
    return torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)


@checker(NOTEBOOK)
def softmax(fn: Callable) -> Result:
    """Check ``fn(x)`` -> softmax over the last axis, numerically stable."""
    cases = []
    for label, x in _scores():
        e = torch.exp(x)
        faulty = {
            "you normalised over an axis other than the last; each row (the last axis, dim=-1) must sum to 1.":
                [torch.softmax(x, d) for d in range(x.ndim - 1)],
            "the weights do not sum to 1: divide exp(x) by its row sum.": e,
            _OVERFLOW: e / e.sum(-1, keepdim=True),
            "you subtracted one maximum for the whole tensor; subtract each row's own maximum (keepdim=True).":
                torch.exp(x - x.max()) / torch.exp(x - x.max()).sum(-1, keepdim=True),
            "you shifted by the row minimum or mean; only the row maximum keeps every exponent <= 0.":
                [naive(x - x.amin(-1, keepdim=True)), naive(x - x.mean(-1, keepdim=True))],
            "the weights do not sum to 1 (the largest is 1): divide the exponentials by their row sum, not their maximum.":
                e / e.amax(-1, keepdim=True),
        }
        cases.append(Case(label, (x,), _reference(x), faulty, nonfinite=_NONFINITE))
    return run_cases("softmax", fn, cases)


@checker(NOTEBOOK)
def softmax_temperature(fn: Callable) -> Result:
    """Check ``fn(x, temperature)`` -> softmax of ``x / temperature`` over the last axis."""
    g = seeded(21)
    x = 3 * torch.randn(3, 5, generator=g)
    cases = [Case(f"temperature {t}", (x, t), _reference(x / t),
                  {"you multiplied by the temperature; divide by it (a high temperature flattens the weights).":
                   _reference(x * t),
                   "the temperature has no effect in your answer: divide the scores by it before softmax.":
                   _reference(x)})
             for t in (0.5, 2.0, 10.0)]
    return run_cases("softmax_temperature", fn, cases)


@checker(NOTEBOOK)
def logsumexp(fn: Callable) -> Result:
    """Check ``fn(x)`` -> ``log(sum(exp(x)))`` over the last axis (reduced), without overflow."""
    cases = []
    for label, x in _scores():
        want = torch.logsumexp(x.double(), dim=-1).to(x.dtype)
        m = x.amax(-1, keepdim=True)
        faulty = {
            _LSE_OVERFLOW: torch.log(torch.exp(x).sum(-1)),
            "you subtracted the maximum but did not add it back after the log.": torch.log(torch.exp(x - m).sum(-1)),
            "you used one maximum for the whole tensor; use each row's own maximum (amax(dim=-1, keepdim=True)).":
                x.max() + torch.log(torch.exp(x - x.max()).sum(-1)),
            "you kept the reduced axis; return one value per row (keepdim=False).": want.unsqueeze(-1),
        }
        cases.append(Case(label, (x,), want, faulty, nonfinite=_LSE_NONFINITE))
    return run_cases("logsumexp", fn, cases, atol=1e-4, rtol=1e-6)  # float32 spacing near 1e4 is 1e-3
