"""Boolean attention masks, True = may attend (notebook 04)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .runtime import require_int

__all__ = ["causal_mask", "padding_mask"]


def causal_mask(L: int, S: int | None = None, device: torch.device | str | None = None,
                align: str = "top-left") -> torch.Tensor:
    """Causal mask: query ``i`` may attend to key ``j`` when ``j <= i`` (top-left aligned).

    Args:
        L: number of queries.
        S: number of keys (defaults to ``L``). When ``L != S`` the diagonal starts at the
           top-left corner, as PyTorch's ``is_causal``.
        device: where to build the mask.
        align: ``"top-left"`` (PyTorch's ``is_causal``) or ``"bottom-right"`` (FlashAttention's,
           and decoding with a cache: the last query sees every key, ``j <= i + S - L``).

    Returns:
        Boolean tensor of shape ``(L, S)``, True on and below the diagonal.

    Introduced in notebook 04.
    """
    L = require_int("L", L)
    S = L if S is None else require_int("S", S)
    if align not in ("top-left", "bottom-right"):
        raise ValueError(f"align: expected 'top-left' or 'bottom-right', got {align!r}")
    shift = 0 if align == "top-left" else S - L
    return torch.ones(L, S, dtype=torch.bool, device=device).tril(diagonal=shift)  # (L, S)


def padding_mask(lengths: Sequence[int] | torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Key-padding mask: True at the real tokens of each sequence, False at padding.

    Args:
        lengths: the real length of each of ``B`` sequences (a list or a 1-D integer tensor).
        max_len: the padded length ``S`` (defaults to the longest length).

    Returns:
        Boolean tensor of shape ``(B, S)``. Index it as ``mask[:, None, :]`` to broadcast
        over queries ``(B, L, S)``, or ``mask[:, None, None, :]`` over heads ``(B, H, L, S)``.

    Introduced in notebook 04.
    """
    if not isinstance(lengths, torch.Tensor):
        if any(isinstance(n, bool) or not isinstance(n, int) for n in lengths):
            raise TypeError(f"lengths: expected a sequence of ints, got {list(lengths)!r}")
        lengths = torch.tensor(list(lengths), dtype=torch.long)
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool or lengths.is_complex():
        raise TypeError(f"lengths: expected an integer tensor, got dtype {lengths.dtype}")
    if lengths.ndim != 1:
        raise ValueError(f"lengths: expected shape (B,), got {tuple(lengths.shape)}")
    longest = int(lengths.max()) if lengths.numel() else 0
    S = longest if max_len is None else require_int("max_len", max_len)
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError(f"lengths: expected non-negative lengths, got {lengths.tolist()}")
    if longest > S:
        raise ValueError(f"max_len: expected at least the longest length {longest}, got {S}")
    positions = torch.arange(S, device=lengths.device)  # (S,)
    return positions[None, :] < lengths[:, None]  # (1, S) < (B, 1) -> (B, S)
