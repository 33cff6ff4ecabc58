"""Attention as a soft lookup, and scaled dot-product attention (notebooks 03 and 04)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .masks import apply_attn_mask, causal_mask, check_attn_mask
from .runtime import check_shape, require_floating, require_number, require_same_dtype, require_tensor
from .softmax import softmax

__all__ = ["scaled_dot_product_attention", "gaussian_kernel_weights", "KernelRegression"]


def _check_inputs(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> tuple[int, ...]:
    """Validate q, k, v; return the broadcast shape of the scores ``(..., L, S)``."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
        require_floating(name, x)
    for name, x in (("key", key), ("value", value)):
        if x.dtype != query.dtype:
            raise TypeError(f"{name}: expected dtype {query.dtype} (query's), got {x.dtype}")
    L, D = check_shape(query, "... L D", name="query").values()
    S = check_shape(key, "... S D", name="key", D=D)["S"]
    check_shape(value, "... S Ev", name="value", S=S)
    try:
        batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"key/value: leading (batch) axes {tuple(key.shape[:-2])} and {tuple(value.shape[:-2])} "
            f"do not broadcast with query's {tuple(query.shape[:-2])}"
        ) from None
    return (*batch, L, S)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, ``softmax(Q Kᵀ · scale + mask) V``, written for clarity.

    Same meaning as ``torch.nn.functional.scaled_dot_product_attention`` (without dropout).

    Args:
        query: ``(..., L, D)``: D is the width of queries and keys.
        key: ``(..., S, D)``.
        value: ``(..., S, Ev)``; leading axes of the three broadcast.
        attn_mask: broadcastable to ``(..., L, S)``. Boolean: True where a query may attend.
            Float: added to the scores (``-inf`` blocks a key).
        is_causal: apply ``causal_mask(L, S)`` (top-left aligned); not with ``attn_mask``.
        scale: multiplies the scores; defaults to ``1 / sqrt(D)``.
        return_weights: also return the attention weights.

    Returns:
        The output ``(..., L, Ev)``, or ``(output, weights)`` with weights ``(..., L, S)``.
        A query whose every key is masked gets zero weights and an output of zeros.

    Introduced in notebook 04.
    """
    scores_shape = _check_inputs(query, key, value)
    if is_causal and attn_mask is not None:
        raise ValueError("attn_mask: give either attn_mask or is_causal=True, not both")
    if attn_mask is not None:
        check_attn_mask(attn_mask, scores_shape)
    L, S = scores_shape[-2:]
    if scale is None:  # with E = 0 every score is an empty sum, 0, whatever the scale
        scale = 1.0 / math.sqrt(query.size(-1)) if query.size(-1) else 1.0
    else:
        require_number("scale", scale)
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    if is_causal:
        attn_mask = causal_mask(L, S, device=query.device)  # (L, S)
    scores = apply_attn_mask(scores, attn_mask)  # boolean: blocked keys score -inf; float: added to the scores
    weights = softmax(scores, dim=-1)  # (..., L, S); rows of only -inf give zeros
    output = weights @ value  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    return (output, weights) if return_weights else output


def gaussian_kernel_weights(queries: torch.Tensor, keys: torch.Tensor, bandwidth: float | torch.Tensor,
                            attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Nadaraya–Watson weights: ``softmax_j(-(x_i - x_j)² / (2 h²))`` for scalar inputs.

    Args:
        queries: ``(..., L)`` query positions.
        keys: ``(..., S)`` key positions.
        bandwidth: ``h > 0``; a float or a tensor (learnable).
        attn_mask: optional boolean, broadcastable to ``(..., L, S)``, True where a query may
            attend; e.g. ``~torch.eye(S, dtype=torch.bool)`` for leave-one-out.

    Returns:
        Weights ``(..., L, S)``, each row summing to 1 (a row with no allowed key: zeros).

    Introduced in notebook 03.
    """
    queries, keys = require_tensor("queries", queries, floating=True), require_tensor("keys", keys, floating=True)
    require_same_dtype("keys", keys, queries.dtype, "queries'")
    check_shape(queries, "... L", name="queries")
    check_shape(keys, "... S", name="keys")
    try:
        torch.broadcast_shapes(queries.shape[:-1], keys.shape[:-1])
    except RuntimeError:
        raise ValueError(f"keys: leading (batch) axes {tuple(keys.shape[:-1])} do not broadcast with queries' "
                         f"{tuple(queries.shape[:-1])}") from None
    if isinstance(bandwidth, torch.Tensor):
        if bandwidth.numel() != 1 or not bandwidth.is_floating_point() or not bool(bandwidth.detach() > 0):
            raise ValueError(f"bandwidth: expected a positive scalar, got {bandwidth!r:.60}")
    else:
        require_number("bandwidth", bandwidth, positive=True)
    distance = queries[..., :, None] - keys[..., None, :]  # (..., L, 1) - (..., 1, S) -> (..., L, S)
    scores = -(distance**2) / (2 * bandwidth**2)  # near keys score high
    if attn_mask is not None:
        if not isinstance(attn_mask, torch.Tensor) or attn_mask.dtype != torch.bool:
            raise TypeError(f"attn_mask: expected a boolean tensor (True = may attend), got {attn_mask!r:.60}")
        check_attn_mask(attn_mask, tuple(scores.shape))
        scores = apply_attn_mask(scores, attn_mask)
    return softmax(scores, dim=-1)


class KernelRegression(nn.Module):
    """Attention pooling as kernel regression, with a learned bandwidth (notebook 03).

    ``forward(queries, keys, values, attn_mask=None)`` with queries ``(L,)``, keys and values
    ``(S,)`` returns predictions ``(L,)``: each a weighted average of the values whose keys lie
    near the query, with weights from :func:`gaussian_kernel_weights` (kept in ``self.weights``).
    """

    def __init__(self, bandwidth: float = 1.0) -> None:
        super().__init__()
        require_number("bandwidth", bandwidth, positive=True)
        self.log_bandwidth = nn.Parameter(torch.tensor(math.log(bandwidth)))  # log keeps h > 0

    @property
    def bandwidth(self) -> float:
        """The current bandwidth ``h``."""
        return float(self.log_bandwidth.detach().exp())

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        for name, x in (("queries", queries), ("keys", keys), ("values", values)):
            require_tensor(name, x, floating=True)
            require_same_dtype(name, x, self.log_bandwidth.dtype, "the module's")
        if values.shape != keys.shape:
            raise ValueError(f"values: expected the shape of keys {tuple(keys.shape)}, got {tuple(values.shape)}")
        self.weights = gaussian_kernel_weights(queries, keys, self.log_bandwidth.exp(), attn_mask)  # (..., L, S)
        if values.dim() == 1:
            return self.weights @ values  # (L, S) @ (S,) -> (L,)
        return (self.weights @ values[..., None])[..., 0]  # (..., L, S) @ (..., S, 1) -> (..., L)
