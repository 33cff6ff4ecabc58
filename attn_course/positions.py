"""Positions: sinusoidal position encodings and rotary embeddings (notebook 06).

Attention compares tokens by content only, so without positions it cannot tell "dog bites man"
from "man bites dog". Sinusoidal encodings are *added* to the token vectors; rotary embeddings
*rotate* queries and keys so that their dot product depends on the offset between two tokens.
"""

from __future__ import annotations

import torch

from .runtime import check_shape, require_int, require_number, require_tensor

__all__ = ["sinusoidal_positions", "rotary_angles", "rotary_tables", "rotate", "apply_rotary"]


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
