"""Checkers for notebook 03 (attention as a soft lookup)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["soft_lookup", "kernel_weights", "hint"]

NOTEBOOK = "03_attention_as_soft_lookup"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "soft_lookup": [
        "Three steps: score every key against each query, turn each query's scores into weights, average the values.",
        "Scores are `queries @ keys.T`, shape (L, S); the weights of one query lie along a row, so softmax over dim=-1.",
        "The answer mixes the values, not the keys: `weights @ values` has shape (L, Ev).",
    ],
    "kernel_weights": [
        "A query should trust a key more the closer they are: the score is minus the squared distance over 2h².",
        "Pair every query with every key by broadcasting: `x_query[:, None] - x_keys[None, :]` has shape (L, S).",
        "Turn each row of scores into weights with softmax over the keys (dim=-1).",
    ],
}).hint


@checker(NOTEBOOK)
def soft_lookup(fn: Callable) -> Result:
    """Check ``fn(queries, keys, values)`` -> ``softmax(queries keysᵀ) values``, shapes (L, E), (S, E), (S, Ev)."""
    g = seeded(30)
    cases = []
    for label, (L, S, E, Ev) in (("L=2 queries, S=5 keys, E=3, Ev=4", (2, 5, 3, 4)),
                                 ("L=4 queries, S=6 keys, E=2, Ev=3", (4, 6, 2, 3))):
        q, k, v = torch.randn(L, E, generator=g), torch.randn(S, E, generator=g), torch.randn(S, Ev, generator=g)
        scores = q @ k.T  # (L, S)
        weights = torch.softmax(scores, dim=-1)
        faulty = {
            "you took softmax over the queries (dim=0); each query's weights over the keys must sum to 1 (dim=-1).":
                torch.softmax(scores, dim=0) @ v,
            "the scores were used without softmax: turn them into weights that are positive and sum to 1.":
                scores @ v,
            "you averaged the keys; the lookup returns a mix of the values (`weights @ values`).": weights @ k,
            "you scaled the scores by 1/sqrt(D), D the width of q and k: this exercise asks for plain dot products "
            "(scaling comes in 04).":
                torch.softmax(scores / E**0.5, dim=-1) @ v,
        }
        cases.append(Case(label, (q, k, v), weights @ v, faulty))
    return run_cases("soft_lookup", fn, cases)


@checker(NOTEBOOK)
def kernel_weights(fn: Callable) -> Result:
    """Check ``fn(x_query, x_keys, bandwidth)`` -> Gaussian (Nadaraya–Watson) weights ``(L, S)``."""
    g = seeded(31)
    cases = []
    for label, L, S, h in (("L=3 queries, S=6 keys, h=0.5", 3, 6, 0.5), ("L=5 queries, S=4 keys, h=2.0", 5, 4, 2.0)):
        xq, xk = 3 * torch.rand(L, generator=g), 3 * torch.rand(S, generator=g)
        d = xq[:, None] - xk[None, :]  # (L, S)
        faulty = {
            "softmax over the queries (dim=0); each query's weights over the keys must sum to 1 (dim=-1).":
                torch.softmax(-(d**2) / (2 * h**2), dim=0),
            "the sign is flipped: near keys must score higher, so use minus the squared distance.":
                torch.softmax(d**2 / (2 * h**2), dim=-1),
            "the distance must be squared (and its sign then no longer matters).": torch.softmax(-d / (2 * h**2), dim=-1),
            "the bandwidth must be squared too: divide by 2h².": torch.softmax(-(d**2) / (2 * h), dim=-1),
            "you forgot the factor 2: divide by 2h².": torch.softmax(-(d**2) / h**2, dim=-1),
            "operator precedence: `/ 2 * h**2` divides by 2 and then multiplies by h²; write `/ (2 * h**2)`.":
                torch.softmax(-(d**2) / 2 * h**2, dim=-1),
            "use the squared distance, not its absolute value.": torch.softmax(-d.abs() / (2 * h**2), dim=-1),
            "these are kernel values, not weights: normalise each row with softmax.": torch.exp(-(d**2) / (2 * h**2)),
        }
        cases.append(Case(label, (xq, xk, h), torch.softmax(-(d**2) / (2 * h**2), dim=-1), faulty))
    return run_cases("kernel_weights", fn, cases)
