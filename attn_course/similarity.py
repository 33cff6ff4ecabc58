"""Scores as relevance: dot-product and cosine similarity of queries and keys (notebook 01)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from .runtime import check_shape, require_floating, require_number, require_same_dtype

__all__ = ["dot_scores", "cosine_scores"]

Array = TypeVar("Array", torch.Tensor, np.ndarray)


def _check_pair(q: Array, k: Array) -> None:
    require_floating("q", q)
    require_floating("k", k)
    if type(q) is not type(k):
        raise TypeError(f"k: expected the same kind of array as q ({type(q).__name__}), got {type(k).__name__}")
    if isinstance(q, torch.Tensor):  # NumPy promotes mixed dtypes; PyTorch's matmul refuses them
        require_same_dtype("k", k, q.dtype, "q's")
    E = check_shape(q, "... L E", name="q")["E"]
    check_shape(k, "... S E", name="k", E=E)
    try:
        np.broadcast_shapes(tuple(q.shape[:-2]), tuple(k.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"k: leading (batch) axes {tuple(k.shape[:-2])} do not broadcast with q's {tuple(q.shape[:-2])}"
        ) from None


def dot_scores(q: Array, k: Array) -> Array:
    """Dot product of every query with every key: ``Q Kᵀ``.

    Args:
        q: queries, shape ``(..., L, E)``.
        k: keys, shape ``(..., S, E)``; leading axes broadcast with ``q``'s.

    Returns:
        Scores of shape ``(..., L, S)``, the same kind (tensor or array) as ``q``.

    Introduced in notebook 01.
    """
    _check_pair(q, k)
    return q @ k.swapaxes(-2, -1)  # (..., L, E) @ (..., E, S) -> (..., L, S)


def cosine_scores(q: Array, k: Array, eps: float = 1e-8) -> Array:
    """Cosine similarity of every query with every key: dot products of unit vectors.

    Args:
        q: queries, shape ``(..., L, E)``.
        k: keys, shape ``(..., S, E)``.
        eps: lower bound on a vector's length, so that a zero vector scores 0, not NaN.

    Returns:
        Scores in ``[-1, 1]`` of shape ``(..., L, S)``.

    Introduced in notebook 01.
    """
    _check_pair(q, k)
    require_number("eps", eps, positive=True)
    if isinstance(q, torch.Tensor):
        q_len = q.norm(dim=-1, keepdim=True).clamp_min(eps)  # (..., L, 1)
        k_len = k.norm(dim=-1, keepdim=True).clamp_min(eps)  # (..., S, 1)
    else:
        q_len = np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), eps)
        k_len = np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), eps)
    return dot_scores(q / q_len, k / k_len)  # (..., L, S)
