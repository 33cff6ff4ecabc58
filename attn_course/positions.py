"""Positions: sinusoidal encodings, rotary embeddings and biases on the scores (notebook 06).

Attention compares tokens by content only, so without positions it cannot tell "dog bites man"
from "man bites dog". Sinusoidal encodings are *added* to the token vectors; rotary embeddings
*rotate* queries and keys so that their dot product depends on the offset between two tokens;
ALiBi and T5's relative biases *add* a number that depends on the offset to the scores.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .masks import causal_mask, relative_positions
from .runtime import check_shape, require_int, require_number, require_tensor

__all__ = ["sinusoidal_positions", "rotary_angles", "rotary_tables", "rotate", "apply_rotary", "alibi_slopes",
           "alibi_bias", "relative_position_bucket", "RelativePositionBias"]


def sinusoidal_positions(L: int, E: int, base: float = 10_000.0) -> torch.Tensor:
    """The encodings of "Attention is all you need": ``PE[p, 2i] = sin(p / base^(2i/E))``, ``PE[p, 2i+1] = cos(...)``.

    Args:
        L: number of positions.
        E: model width (odd widths drop the last cosine).
        base: the longest wavelength is ``2π · base``.

    Returns:
        ``(L, E)`` float32 tensor, added to token embeddings. Introduced in notebook 06.
    """
    L, E = require_int("L", L), require_int("E", E, 1)
    require_number("base", base, positive=True)
    position = torch.arange(L, dtype=torch.float64)[:, None]  # (L, 1)
    frequency = base ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (ceil(E/2),): 1 down to ~1/base
    angle = position * frequency  # (L, ceil(E/2))
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # (L, 2·ceil(E/2)): sin, cos interleaved
    return pe[:, :E].float()


def rotary_angles(positions: torch.Tensor, D: int, base: float = 10_000.0,
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Rotation angles ``(L, D/2)``: position ``p`` turns pair ``i`` by ``p / base^(2i/D)``, computed in ``dtype``."""
    D = require_int("D", D, 2)
    if D % 2:
        raise ValueError(f"D: rotary embeddings rotate pairs of coordinates, so D must be even, got {D}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
    require_number("base", base, positive=True)
    _check_positions(positions)
    theta = 1.0 / base ** (torch.arange(0, D, 2, dtype=dtype) / D)  # (D/2,): 1 down to ~1/base
    return positions.to(dtype)[:, None] * theta[None, :]  # (L, 1) * (1, D/2) -> (L, D/2)


def _check_positions(positions: torch.Tensor) -> None:
    require_tensor("positions", positions)
    if positions.dtype == torch.bool or positions.is_complex():
        raise TypeError(f"positions: expected integer or real positions, got {positions.dtype}")
    if positions.dim() != 1:
        raise ValueError(f"positions: expected shape (L,), got {tuple(positions.shape)}")


def rotary_tables(positions: torch.Tensor, D: int, base: float = 10_000.0,
                  dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosines and sines of the rotary angles, ``(L, D)`` each in ``dtype``: pair ``i``'s angle at ``i`` and ``i + D/2``."""
    angle = rotary_angles(positions, D, base, dtype)  # (L, D/2)
    return torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)  # (L, D) each


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Turn each pair ``(x[..., i], x[..., i + D/2])`` of ``x (..., L, D)`` by angles given as ``cos``, ``sin`` ``(L, D)``."""
    require_tensor("x", x, floating=True)
    if x.dim() < 2 or x.size(-1) % 2:
        raise ValueError(f"x: expected shape (..., L, D), and D must be even (pairs of coordinates turn), "
                         f"got {tuple(x.shape)}")
    L, D = x.shape[-2:]
    for name, table in (("cos", cos), ("sin", sin)):
        check_shape(require_tensor(name, table, floating=True), "L D", name=name, L=L, D=D)
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    rotated_half = torch.cat([-x2, x1], dim=-1)  # (x1, x2) -> (-x2, x1): a quarter turn of every pair
    return x * cos.to(x.dtype) + rotated_half * sin.to(x.dtype)  # each pair (x1, x2) turned by its angle


def apply_rotary(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10_000.0,
                 angle_dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Rotary position embedding (RoPE): rotate each pair of coordinates of ``x`` by an angle that grows with position.

    Pairs are ``(x[..., i], x[..., i + D/2])`` (the "rotate half" layout of GPT-NeoX and Llama).
    Applied to queries and keys, it makes ``apply_rotary(q, m) · apply_rotary(k, n)`` depend on
    ``n - m`` only.

    Args:
        x: ``(..., L, D)`` queries or keys, ``D`` even.
        positions: ``(L,)`` positions (default ``0..L-1``).
        base: as in :func:`sinusoidal_positions`.
        angle_dtype: the precision of the angles, their cosines and sines (float64 by default; a pretrained
            model is matched best in the precision it was trained with, float32 for Hugging Face's Llama).

    Returns:
        A tensor of ``x``'s shape and dtype. Introduced in notebook 06.
    """
    require_tensor("x", x, floating=True)
    if x.dim() < 2 or x.size(-1) % 2:
        raise ValueError(f"x: expected shape (..., L, D), and D must be even (pairs of coordinates turn), "
                         f"got {tuple(x.shape)}")
    if angle_dtype not in (torch.float32, torch.float64):
        raise TypeError(f"angle_dtype: expected torch.float32 or torch.float64, got {angle_dtype}")
    L, D = x.shape[-2:]
    positions = torch.arange(L, device=x.device) if positions is None else positions
    _check_positions(positions)
    if positions.shape != (L,):
        raise ValueError(f"positions: expected shape (L,) = ({L},), got {tuple(positions.shape)}")
    cos, sin = rotary_tables(positions.cpu(), D, base, angle_dtype)  # (L, D) each, computed on the CPU in float64
    return rotate(x, cos.to(x.device), sin.to(x.device))


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's fixed slope of each head: ``2^(-8h/H)`` for ``h = 1..H`` when ``H`` is a power of two.

    For other ``H`` (Press et al.'s reference code, and Hugging Face's ``build_alibi_tensor``): the slopes
    of the largest power of two ``n < H``, then the first ``H - n`` of every other slope of ``2n`` heads.

    Args:
        num_heads: ``H``, at least 1.

    Returns:
        ``(H,)`` float32 slopes, largest first (``H = 8``: 1/2, 1/4, ..., 1/256). Introduced in notebook 06.
    """
    H = require_int("num_heads", num_heads, 1)
    n = 2 ** int(math.log2(H))  # the largest power of two <= H
    slopes = [2.0 ** (-8 * h / n) for h in range(1, n + 1)]
    slopes += [2.0 ** (-8 * h / (2 * n)) for h in range(1, 2 * (H - n), 2)]  # odd h of 2n heads: between the others
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(num_heads: int, L: int, S: int | None = None, *, causal: bool = False,
               align: str = "top-left") -> torch.Tensor:
    """ALiBi (Press et al., 2022): a bias ``-slope_h · |i - j|`` on the score of query ``i`` and key ``j``.

    Added to the scores like a float mask (``attn_mask``), it makes each head prefer near keys, at any length.
    Keys sit at positions ``0..S-1``; queries at ``0..L-1`` (``"top-left"``, as :func:`causal_mask`) or at
    ``S-L..S-1`` (``"bottom-right"``: the last query at the last key, as decoding with a cache needs).

    Args:
        num_heads: ``H``, the number of slopes (:func:`alibi_slopes`).
        L: number of queries.
        S: number of keys (defaults to ``L``).
        causal: give future keys (``j > i``) ``-inf``, so the bias is also the causal mask. Without it the
            bias is symmetric, ``-slope · |i - j|`` (an extension for encoders; the paper covers causal models
            only); a causal model that combines it with a boolean causal mask gets the paper's
            ``-slope · (i - j)`` on the keys it may see.
        align: ``"top-left"`` or ``"bottom-right"``, where the queries sit when ``L != S``.

    Returns:
        ``(H, L, S)`` float32 bias. Introduced in notebook 06.
    """
    slopes = alibi_slopes(num_heads)  # (H,)
    L = require_int("L", L)
    S = L if S is None else require_int("S", S)
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected True or False, got {causal!r}")
    allowed = causal_mask(L, S, align=align)  # (L, S); also checks align
    first = 0 if align == "top-left" else S - L  # the position of query 0 (negative if L > S)
    offset = relative_positions(torch.arange(L) + first, torch.arange(S))  # (L, S): i - j, how far back key j is
    bias = slopes[:, None, None] * (-offset.abs()).float()  # (H, 1, 1) * (L, S) -> (H, L, S); no -0.0
    return bias.masked_fill(~allowed, float("-inf")) if causal else bias


def relative_position_bucket(relative_position: torch.Tensor, *, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> torch.Tensor:
    """T5's bucket of each offset ``j - i`` (key position minus query position), as Hugging Face's ``T5Attention``.

    Half the buckets (of each direction, if ``bidirectional``) hold the small distances ``0, 1, 2, ...`` exactly;
    the rest cover distances up to ``max_distance`` on a log scale; farther distances share the last bucket.
    Unidirectional (a decoder): every key after the query falls in bucket 0, with distance 0.

    Args:
        relative_position: integer tensor of offsets ``j - i``, any shape.
        bidirectional: separate buckets for keys after the query (the upper half of the buckets).
        num_buckets: number of buckets (at least 4 if bidirectional, else 2).
        max_distance: the distance from which on all offsets share the last bucket.

    Returns:
        An int64 tensor of ``relative_position``'s shape, in ``0..num_buckets-1``. Introduced in notebook 06.
    """
    require_tensor("relative_position", relative_position)
    if relative_position.dtype == torch.bool or relative_position.is_floating_point() or relative_position.is_complex():
        raise TypeError(f"relative_position: expected an integer tensor of offsets j - i, got {relative_position.dtype}")
    if not isinstance(bidirectional, bool):
        raise TypeError(f"bidirectional: expected True or False, got {bidirectional!r}")
    half = require_int("num_buckets", num_buckets, 4 if bidirectional else 2) // (2 if bidirectional else 1)
    exact = half // 2  # distances 0..exact-1 get a bucket each
    max_distance = require_int("max_distance", max_distance, exact + 1)
    n = relative_position.long()
    bucket = (n > 0).long() * half if bidirectional else torch.zeros_like(n)  # keys after the query: upper half
    n = n.abs() if bidirectional else (-n).clamp(min=0)  # the distance; unidirectional: future keys count as 0
    # log-spaced buckets, in float32 as T5 (and Hugging Face) compute them, so trained tables are read right
    far = exact + (torch.log(n.clamp(min=exact).float() / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    return bucket + torch.where(n < exact, n, far.clamp(max=half - 1))


class RelativePositionBias(nn.Module):
    """T5's learned relative-position bias: one number per head and per bucket of the offset ``j - i``.

    Args:
        num_heads: ``H``.
        bidirectional, num_buckets, max_distance: as in :func:`relative_position_bucket`.

    ``forward(L, S=None)`` returns the ``(H, L, S)`` bias to add to the scores (queries at ``0..L-1``, keys
    at ``0..S-1``). T5 computes it once, in the first layer, and every layer reuses it. Introduced in notebook 06.
    """

    def __init__(self, num_heads: int, *, bidirectional: bool = True, num_buckets: int = 32,
                 max_distance: int = 128) -> None:
        super().__init__()
        require_int("num_heads", num_heads, 1)
        self.options = {"bidirectional": bidirectional, "num_buckets": num_buckets, "max_distance": max_distance}
        relative_position_bucket(torch.zeros(0, dtype=torch.long), **self.options)  # checks the options
        self.table = nn.Embedding(num_buckets, num_heads)  # (buckets, H): learned

    def forward(self, L: int, S: int | None = None) -> torch.Tensor:
        L = require_int("L", L)
        S = L if S is None else require_int("S", S)
        device = self.table.weight.device
        offset = -relative_positions(torch.arange(L, device=device), torch.arange(S, device=device))  # (L, S): j - i
        return self.table(relative_position_bucket(offset, **self.options)).permute(2, 0, 1)  # (L, S, H) -> (H, L, S)
