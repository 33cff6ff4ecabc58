"""Runtime helpers: seeds, the device, and shape checks (notebook 00)."""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import numpy as np
import torch

__all__ = ["set_seed", "device", "check_shape", "is_array", "require_floating", "require_int"]

_LETTER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (CPU and CUDA).

    Args:
        seed: any non-negative integer.

    Introduced in notebook 00.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"seed: expected a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def device() -> torch.device:
    """Return ``cuda`` when a CUDA GPU is available, else ``cpu``.

    Returns:
        A ``torch.device``. Introduced in notebook 00.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def is_array(x: Any) -> bool:
    """True for a torch tensor or a NumPy array."""
    return isinstance(x, (torch.Tensor, np.ndarray))


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


@functools.lru_cache(maxsize=256)
def _parse_spec(spec: str) -> tuple[bool, tuple[str, ...]]:
    """``"... L E"`` -> ``(True, ("L", "E"))``, once per spec (check_shape runs in every layer of every step)."""
    letters = spec.split()
    ellipsis = bool(letters) and letters[0] == "..."
    letters = letters[1:] if ellipsis else letters
    for letter in letters:
        if not _LETTER.match(letter):
            raise ValueError(f"spec: {letter!r} is not an axis name (use letters such as 'B L E')")
    return ellipsis, tuple(letters)


def check_shape(tensor: Any, spec: str, *, name: str = "tensor", **sizes: int) -> dict[str, int]:
    """Check that ``tensor`` has the shape named by ``spec`` and return the sizes it found.

    ``spec`` names each axis with a glossary letter, e.g. ``"B H L D"``; a leading
    ``"..."`` allows any number of leading axes. A letter used twice must have the same
    size both times; a size given as a keyword (``B=2``) must match.

    Args:
        tensor: a torch tensor or NumPy array.
        spec: space-separated axis names, e.g. ``"... L E"``.
        name: the argument name used in the error message.
        **sizes: expected sizes of some letters.

    Returns:
        ``{letter: size}`` for every letter in ``spec``.

    Raises:
        TypeError: ``tensor`` is not a tensor or array.
        ValueError: the number of axes or a size is wrong (the message shows both shapes).

    Introduced in notebook 00.
    """
    if not is_array(tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(tensor).__name__}")
    if not isinstance(spec, str):
        raise TypeError(f"spec: expected a str such as 'B L E', got {type(spec).__name__}")
    ellipsis, letters = _parse_spec(spec)
    unknown = set(sizes) - set(letters)
    if unknown:
        raise ValueError(f"sizes: {sorted(unknown)} do not appear in spec {spec!r}")
    shape = _shape(tensor)

    def expected() -> str:  # built only for an error message
        return f"({'..., ' if ellipsis else ''}{', '.join(f'{k}={sizes[k]}' if k in sizes else k for k in letters)})"

    ndim_ok = len(shape) >= len(letters) if ellipsis else len(shape) == len(letters)
    if not ndim_ok:
        raise ValueError(f"{name}: expected shape {expected()}, got {shape} ({len(shape)} dims)")
    found: dict[str, int] = {}
    for letter, size in zip(letters, shape[len(shape) - len(letters):], strict=True):
        want = sizes.get(letter, found.get(letter))
        if want is not None and want != size:
            raise ValueError(f"{name}: expected shape {expected()}, got {shape} ({letter} is {size}, expected {want})")
        found[letter] = size
    return found


def require_floating(name: str, x: Any) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` is a floating-point tensor or array."""
    if not is_array(x):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    floating = x.is_floating_point() if isinstance(x, torch.Tensor) else np.issubdtype(x.dtype, np.floating)
    if not floating:
        raise TypeError(f"{name}: expected a floating-point dtype, got {x.dtype} (convert with .float())")


def require_int(name: str, n: Any, minimum: int = 0) -> int:
    """Return ``n`` if it is an int (not a bool) of at least ``minimum``; else raise naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {type(n).__name__} {n!r}")
    if n < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {n}")
    return n
