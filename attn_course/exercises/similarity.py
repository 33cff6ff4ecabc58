"""Checkers for notebook 01 (dot products and similarity)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["dot_scores", "cosine_scores", "hint"]

NOTEBOOK = "01_dot_products_and_similarity"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "dot_scores": [
        "Every query meets every key: the answer has one row per query (L) and one column per key (S).",
        "A matrix product does all pairs at once; which of Q and K must be transposed so the inner sizes (E) meet?",
        "Transpose the last two axes only, so batched inputs work: `K.swapaxes(-2, -1)`.",
    ],
    "cosine_scores": [
        "Cosine similarity is the dot product of unit-length vectors.",
        "Divide each query and each key by its own length, measured along the last axis (E): `x.norm(dim=-1, keepdim=True)`.",
        "Normalise both Q and K, then take `Q @ K.transpose(-2, -1)`.",
    ],
}).hint


@checker(NOTEBOOK)
def dot_scores(fn: Callable) -> Result:
    """Check ``fn(Q, K)`` -> ``Q Kᵀ`` for NumPy arrays ``(..., L, E)`` and ``(..., S, E)``."""
    cases = []
    for label, shape_q, shape_k, seed in (("Q (3, 4), K (5, 4)", (3, 4), (5, 4), 1),
                                          ("a batch: Q (2, 3, 4), K (2, 5, 4)", (2, 3, 4), (2, 5, 4), 2)):
        g = seeded(seed)
        q = torch.randn(shape_q, generator=g, dtype=torch.float64).numpy()
        k = torch.randn(shape_k, generator=g, dtype=torch.float64).numpy()
        expected = q @ k.swapaxes(-2, -1)
        faulty = {"you computed K Qᵀ (one row per key); the scores need one row per query: Q Kᵀ.":
                  k @ q.swapaxes(-2, -1)}
        on_error = "For batched inputs transpose only the last two axes: K.swapaxes(-2, -1)." if q.ndim > 2 else None
        cases.append(Case(label, (q, k), expected, faulty, on_error=on_error))
    return run_cases("dot_scores", fn, cases, atol=1e-10, rtol=1e-10)


@checker(NOTEBOOK)
def cosine_scores(fn: Callable) -> Result:
    """Check ``fn(Q, K)`` -> cosine similarities, torch tensors ``(..., L, E)``, ``(..., S, E)``."""
    cases = []
    for label, shape_q, shape_k, seed in (("Q (3, 4), K (5, 4)", (3, 4), (5, 4), 3),
                                          ("a batch: Q (2, 3, 6), K (2, 5, 6)", (2, 3, 6), (2, 5, 6), 4)):
        g = seeded(seed)
        q = 3 * torch.randn(shape_q, generator=g)
        k = 2 * torch.randn(shape_k, generator=g)

        def unit(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
            return x / x.norm(dim=dim, keepdim=True)

        def t(x: torch.Tensor) -> torch.Tensor:
            return x.transpose(-2, -1)

        faulty = {
            "these are plain dot products: divide each vector by its length first.": q @ t(k),
            "only the queries were normalised; the keys need unit length too.": unit(q) @ t(k),
            "only the keys were normalised; the queries need unit length too.": q @ t(unit(k)),
            "you normalised along the wrong axis: each vector's length is taken over its E entries (dim=-1).":
                unit(q, -2) @ t(unit(k, -2)),
        }
        cases.append(Case(label, (q, k), unit(q) @ t(unit(k)), faulty))
    return run_cases("cosine_scores", fn, cases)
