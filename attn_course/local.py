"""Local attention that computes only the band of the score matrix, with optional global tokens (notebook 10).

Dense attention with a sliding-window mask still computes all ``L²`` scores and then throws
most of them away. Here the queries go in blocks of ``b``; block ``[i0, i1)`` can only see keys
in ``[i0 - w, i1 + w)`` (``[i0 - w, i1)`` when causal), so each block multiplies a ``(b, D)``
slice of queries by at most ``(b + 2w, D)`` keys. Time and memory grow as ``L·(b + 2w)``, not
``L²``, and the result equals :func:`attn_course.attention.scaled_dot_product_attention` with
:func:`attn_course.masks.sliding_window_mask`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .masks import relative_positions, token_positions, within_window
from .runtime import check_shape, require_int, require_number, require_same_dtype, require_tensor

__all__ = ["sliding_window_attention", "local_global_attention", "default_block_size"]


def default_block_size(window: int) -> int:
    """Query block size: half the window, between 64 and 512 (measured fastest on a CPU for windows of 64 to 1024).

    Smaller blocks waste fewer scores outside the band (a block's keys are ``b + 2w`` wide, ``b + w``
    causal) but pay more per-block overhead.
    """
    return max(64, min(require_int("window", window) // 2, 512))


def _check(query, key, value, window, block_size, scale):
    """Validate; return ``L``, the window (at most ``L - 1``), the block size and the scale."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        require_tensor(name, x, floating=True)
        require_same_dtype(name, x, query.dtype, "query's")
    L, D = check_shape(query, "... L D", name="query").values()
    check_shape(key, "... L D", name="key", L=L, D=D)
    check_shape(value, "... L Dv", name="value", L=L)
    for name, x in (("key", key), ("value", value)):
        if x.shape[:-2] != query.shape[:-2]:
            raise ValueError(f"{name}: expected the leading axes of query {tuple(query.shape[:-2])}, got {tuple(x.shape[:-2])}")
    window = require_int("window", window)
    block_size = default_block_size(window) if block_size is None else require_int("block_size", block_size, 1)
    if scale is None:  # with D = 0 every score is an empty sum, 0, whatever the scale
        scale = 1 / math.sqrt(D) if D else 1.0
    else:
        require_number("scale", scale)
    return L, min(window, max(L - 1, 0)), block_size, scale


def _band(i0: int, i1: int, L: int, window: int, causal: bool, device) -> tuple[int, int, torch.Tensor]:
    """The keys ``[j0, j1)`` that queries ``[i0, i1)`` can reach, and which pairs are inside the band."""
    j0, j1 = max(0, i0 - window), (i1 if causal else min(L, i1 + window))
    offset = relative_positions(torch.arange(i0, i1, device=device), torch.arange(j0, j1, device=device))  # i - j
    return j0, j1, within_window(offset, window, causal)


def _attend_block(q, k, v, allowed, scale: float, use_sdpa: bool) -> torch.Tensor:
    """One block: ``q (..., b, D)`` against the keys it can reach ``(..., kw, D)``, pairs outside ``allowed`` blocked."""
    if use_sdpa:  # the same four steps, fused by PyTorch
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale)
    scores = q @ k.transpose(-2, -1) * scale  # (..., b, D) @ (..., D, kw) -> (..., b, kw)
    scores.masked_fill_(~allowed, float("-inf"))  # in place (a fresh tensor); every row keeps a key
    return torch.softmax(scores, dim=-1) @ v  # (..., b, kw) @ (..., kw, Dv) -> (..., b, Dv)


def sliding_window_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int, *,
                             causal: bool = False, block_size: int | None = None,
                             scale: float | None = None, use_sdpa: bool = True) -> torch.Tensor:
    """Attention where token ``i`` sees tokens ``j`` with ``|i - j| <= window``, computing only the band.

    Args:
        query, key: ``(..., L, D)``; value: ``(..., L, Dv)`` (self-attention: one sequence).
        window: neighbours on each side (0: each token sees only itself; ``>= L - 1``: dense).
        causal: also ``j <= i``.
        block_size: queries per block (default :func:`default_block_size`); any size gives the
            same result, only the speed and the memory change.
        scale: multiplies the scores (default ``1/sqrt(D)``).
        use_sdpa: attend within each block with PyTorch's fused ``scaled_dot_product_attention``
            (faster); False spells out the matmul, mask, softmax and matmul.

    Returns:
        ``(..., L, Dv)``, equal to dense attention with ``sliding_window_mask(L, window, causal=causal)``.
        Extra memory: one block's scores, ``(..., b, b + 2·window)``. Introduced in notebook 10.
    """
    L, window, b, scale = _check(query, key, value, window, block_size, scale)
    out = query.new_empty(*query.shape[:-1], value.size(-1))  # (..., L, Dv), filled block by block
    for i0 in range(0, L, b):
        i1 = min(i0 + b, L)
        j0, j1, allowed = _band(i0, i1, L, window, causal, query.device)  # keys [j0, j1), (b, kw) pairs
        out[..., i0:i1, :] = _attend_block(query[..., i0:i1, :], key[..., j0:j1, :], value[..., j0:j1, :], allowed,
                                           scale, use_sdpa)
    return out


def local_global_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int,
                           global_positions: Sequence[int] | torch.Tensor, *, causal: bool = False,
                           block_size: int | None = None, scale: float | None = None,
                           use_sdpa: bool = True) -> torch.Tensor:
    """Sliding-window attention plus Longformer-style global tokens, without building an ``(L, L)`` matrix.

    Every query sees its band and the ``G`` global keys (once, even where the band already
    holds them); the global queries see every key (only the past when causal). Shapes and
    arguments as :func:`sliding_window_attention`; returns ``(..., L, Dv)``, equal to dense attention
    with ``with_global_tokens(sliding_window_mask(L, window, causal=causal), global_positions,
    causal=causal)``. Extra memory ``(..., b, b + 2·window + G)`` per block plus ``(..., G, L)``.
    Introduced in notebook 10.
    """
    L, window, b, scale = _check(query, key, value, window, block_size, scale)
    g = token_positions("global_positions", global_positions, L, query.device).unique()  # sorted
    k_global, v_global = key[..., g, :], value[..., g, :]  # (..., G, D), (..., G, Dv)
    out = query.new_empty(*query.shape[:-1], value.size(-1))
    for i0 in range(0, L, b):
        i1 = min(i0 + b, L)
        j0, j1, allowed = _band(i0, i1, L, window, causal, query.device)
        offset = relative_positions(torch.arange(i0, i1, device=query.device), g)  # (b, G): i - g
        extra = within_window(offset, L, causal) & ~within_window(offset, window)  # a global key in the band counts once
        keys = torch.cat([key[..., j0:j1, :], k_global], dim=-2)  # (..., kw + G, D): band keys, then global keys
        values = torch.cat([value[..., j0:j1, :], v_global], dim=-2)
        out[..., i0:i1, :] = _attend_block(query[..., i0:i1, :], keys, values, torch.cat([allowed, extra], dim=-1),
                                           scale, use_sdpa)  # one softmax over both kinds of key
    if g.numel():  # the global rows read every key: (..., G, L), small because G is
        scores = query[..., g, :] @ key.transpose(-2, -1) * scale
        if causal:
            future = ~within_window(relative_positions(g, torch.arange(L, device=query.device)), L, causal=True)
            scores = scores.masked_fill(future, float("-inf"))  # (G, L): a global token still sees only the past
        out[..., g, :] = torch.softmax(scores, dim=-1) @ value
    return out
