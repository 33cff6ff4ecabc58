"""Boolean attention masks, True = may attend (notebook 04)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .runtime import require_device, require_int, require_tensor

__all__ = ["causal_mask", "padding_mask", "sliding_window_mask", "dilated_window_mask", "with_global_tokens",
           "block_sparse_mask", "check_attn_mask", "apply_attn_mask", "relative_positions", "within_window"]


def check_attn_mask(attn_mask: object, scores_shape: tuple[int, ...], *, expected: str | None = None,
                    name: str = "attn_mask") -> None:
    """Raise a clear error unless ``attn_mask`` is a boolean or float tensor that broadcasts to ``scores_shape``.

    The one check behind every function that takes an ``attn_mask``: boolean means True = may attend;
    float is added to the scores (``-inf`` blocks). ``expected`` describes the shape in the error message
    (default: the scores ``(..., L, S)`` with their sizes).
    """
    if not isinstance(scores_shape, (tuple, list, torch.Size)) or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in scores_shape):
        raise TypeError(f"scores_shape: expected a tuple of sizes >= 0, got {scores_shape!r}")
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(attn_mask).__name__}")
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(f"{name}: expected dtype torch.bool (True = may attend) or a float dtype "
                        f"(added to the scores), got {attn_mask.dtype}")
    try:
        fits = torch.broadcast_shapes(attn_mask.shape, scores_shape) == torch.Size(scores_shape)
    except RuntimeError:
        fits = False
    if not fits:
        expected = expected or f"the scores (..., L, S) = {tuple(scores_shape)}"
        raise ValueError(f"{name}: expected a shape that broadcasts to {expected}, got {tuple(attn_mask.shape)}")


def apply_attn_mask(scores: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    """Scores with a mask applied: boolean False -> ``-inf`` (the key is blocked), float -> added to the scores."""
    require_tensor("scores", scores, floating=True)
    if attn_mask is None:
        return scores
    check_attn_mask(attn_mask, tuple(scores.shape))
    if attn_mask.dtype == torch.bool:
        return scores.masked_fill(~attn_mask, float("-inf"))  # blocked keys score -inf: zero weight after softmax
    return scores + attn_mask.to(scores.dtype)  # a float mask is a bias on the scores


def relative_positions(query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
    """``i - j`` for every query position ``i`` and key position ``j``: ``(Lq,)`` and ``(Lk,)`` -> ``(Lq, Lk)``.

    How far back (positive) or ahead (negative) each key is; every window rule is a test on it.
    """
    for name, x in (("query_positions", query_positions), ("key_positions", key_positions)):
        _require_positions_tensor(name, x)
    return query_positions[:, None] - key_positions[None, :]  # (Lq, 1) - (1, Lk) -> (Lq, Lk)


def within_window(offset: torch.Tensor, window: int, causal: bool = False) -> torch.Tensor:
    """True where a key at ``offset = i - j`` is inside the window: ``|i - j| <= window`` (and ``j <= i`` if causal)."""
    require_tensor("offset", offset)
    if offset.is_floating_point() or offset.is_complex() or offset.dtype == torch.bool:
        raise TypeError(f"offset: expected an integer tensor of i - j, got dtype {offset.dtype}")
    window = require_int("window", window)
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected True or False, got {causal!r}")
    allowed = offset.abs() <= window
    return allowed & (offset >= 0) if causal else allowed


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
    device = require_device("device", device)
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
    if not isinstance(lengths, (torch.Tensor, Sequence)) or isinstance(lengths, str):
        raise TypeError(f"lengths: expected a sequence of ints or an integer tensor, got {type(lengths).__name__}")
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


def sliding_window_mask(L: int, window: int, *, causal: bool = False, device: torch.device | str | None = None
                        ) -> torch.Tensor:
    """Local attention: query ``i`` may attend to key ``j`` when ``|i - j| <= window`` (and ``j <= i`` if causal).

    Args:
        L: sequence length (queries and keys are the same sequence).
        window: how many neighbours on each side a token sees (0: only itself).
        causal: also forbid the future, so a token sees itself and ``window`` tokens before it.
        device: where to build the mask.

    Returns:
        Boolean ``(L, L)``, True = may attend. Introduced in notebook 10.
    """
    L, window = require_int("L", L), require_int("window", window)
    positions = torch.arange(L, device=device)
    return within_window(relative_positions(positions, positions), window, causal)  # (L, L)


def dilated_window_mask(L: int, window: int, dilation: int, *, causal: bool = False,
                        device: torch.device | str | None = None) -> torch.Tensor:
    """A dilated window: query ``i`` sees keys ``i + k·dilation`` for ``|k| <= window`` (``k <= 0`` if causal).

    The same number of keys as a plain window of ``window``, spread ``dilation`` times wider, as in
    Longformer's dilated heads. Returns boolean ``(L, L)``, True = may attend. Introduced in notebook 10.
    """
    L, window, dilation = require_int("L", L), require_int("window", window), require_int("dilation", dilation, 1)
    positions = torch.arange(L, device=device)
    offset = relative_positions(positions, positions)  # (L, L): i - j
    return within_window(offset, window * dilation, causal) & (offset % dilation == 0)


def with_global_tokens(mask: torch.Tensor, positions: Sequence[int] | torch.Tensor, *, causal: bool = False
                       ) -> torch.Tensor:
    """Add global tokens to an ``(L, L)`` mask: they attend to every key and every query attends to them.

    With ``causal`` a global token still sees only the past and is seen only by later tokens
    (the first token of a sequence is the usual choice). Longformer-style; introduced in notebook 10.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask: expected a square boolean (L, L) tensor, got {got}")
    L = mask.shape[0]
    positions = token_positions("positions", positions, L, mask.device)
    out = mask.clone()
    out[positions, :] = True  # global rows: they read everything
    out[:, positions] = True  # global columns: everything reads them
    return out & causal_mask(L, device=mask.device) if causal else out


def block_sparse_mask(L: int, block_size: int, window_blocks: int = 1, global_blocks: int = 1, random_blocks: int = 1,
                      seed: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    """A BigBird-style pattern at block granularity: neighbouring blocks, global blocks and random blocks.

    Args:
        L: sequence length (the last block may be shorter).
        block_size: tokens per block.
        window_blocks: blocks on each side a block attends to.
        global_blocks: the first ``global_blocks`` blocks attend to all and are attended by all.
        random_blocks: extra blocks each query block attends to, drawn from ``seed``.

    Returns:
        Boolean ``(L, L)``, True = may attend. Introduced in notebook 10.
    """
    L, block_size = require_int("L", L), require_int("block_size", block_size, 1)
    window_blocks, global_blocks = require_int("window_blocks", window_blocks), require_int("global_blocks", global_blocks)
    random_blocks, seed = require_int("random_blocks", random_blocks), require_int("seed", seed)
    device = require_device("device", device)
    n = -(-L // block_size)  # number of blocks, rounded up
    blocks = sliding_window_mask(n, window_blocks)  # (n, n) at block level
    generator = torch.Generator().manual_seed(seed)
    for i in range(n):
        blocks[i, torch.randperm(n, generator=generator)[:random_blocks]] = True
    blocks = with_global_tokens(blocks, list(range(min(global_blocks, n))))
    token_block = torch.arange(L) // block_size  # (L,): the block of each token
    return blocks[token_block[:, None], token_block[None, :]].to(device)  # (L, L)


def _require_positions_tensor(name: str, x: object) -> None:
    require_tensor(name, x)
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected a tensor of positions (integer or real), got dtype {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D tensor of positions, got shape {tuple(x.shape)}")


def token_positions(name: str, positions: Sequence[int] | torch.Tensor, L: int, device=None) -> torch.Tensor:
    """Positions given as a list of ints or an integer tensor, checked to lie in ``0 .. L-1``, as a 1-D long tensor."""
    if isinstance(positions, torch.Tensor):
        if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
            raise TypeError(f"{name}: expected integer positions, got dtype {positions.dtype}")
    elif not isinstance(positions, Sequence) or isinstance(positions, str) or any(
            isinstance(p, bool) or not isinstance(p, int) for p in positions):
        raise TypeError(f"{name}: expected a list of int positions or an integer tensor, got {positions!r:.80}")
    positions = torch.as_tensor(positions, dtype=torch.long, device=device).reshape(-1)
    if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= L):
        raise ValueError(f"{name}: expected positions in 0..{L - 1}, got {positions.tolist()}")
    return positions
