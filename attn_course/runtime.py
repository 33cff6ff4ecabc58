"""Runtime helpers: seeds, the device, and shape checks (notebook 00)."""

from __future__ import annotations

import functools
import numbers
import random
import re
from typing import Any

import numpy as np
import torch

__all__ = ["set_seed", "device", "check_shape", "is_array", "require_floating", "require_int", "require_tensor",
           "require_same_dtype", "require_number", "require_device"]

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


def require_tensor(name: str, x: Any, floating: bool = False) -> torch.Tensor:
    """Return ``x`` if it is a torch tensor (a floating-point one with ``floating``); else raise ``TypeError`` naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point dtype, got {x.dtype} (convert with .float())")
    return x


def require_same_dtype(name: str, x: torch.Tensor, dtype: torch.dtype, whose: str, autocast_ok: bool = False) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` has ``dtype`` (``whose``: e.g. ``"query's"``, ``"the module's"``).

    ``autocast_ok``: accept any dtype inside ``torch.autocast`` (which casts a module's inputs and weights itself).
    """
    if autocast_ok and torch.is_autocast_enabled(x.device.type):
        return
    if x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} ({whose}), got {x.dtype}")


def require_number(name: str, value: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    """Return ``value`` if it is a real number (int, float or a NumPy scalar; not a bool, not NaN), optionally ``> 0`` or
    ``>= minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    if value != value:  # NaN
        raise ValueError(f"{name}: expected a number, got nan")
    if positive and not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value!r}")
    return value


def require_device(name: str, where: Any) -> torch.device | None:
    """``where`` as a ``torch.device`` (None stays None); ``ValueError`` naming ``name`` for a device this machine lacks."""
    if where is None:
        return None
    try:
        parsed = torch.device(where)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{name}: expected a device such as 'cpu' or 'cuda', got {where!r} ({error})") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {where!r} is a CUDA device, but this machine has none")
    return parsed


def require_ids(name: str, ids: Any, vocab_size: int, spec: str = "B S", **sizes: int) -> dict[str, int]:
    """Check that ``ids`` is an integer tensor of shape ``spec`` with every id in ``[0, vocab_size)``; return its sizes.

    Raises ``TypeError`` (not a tensor, not an integer dtype) or ``ValueError`` (shape, an id out of range) naming ``name``.
    """
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype == torch.bool or ids.is_floating_point() or ids.is_complex():
        raise TypeError(f"{name}: expected an integer tensor of token ids (e.g. torch.long), got {ids.dtype}")
    found = check_shape(ids, spec, name=name, **sizes)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name}: expected token ids in [0, {vocab_size}), got ids from {int(ids.min())} to {int(ids.max())}")
    return found


def require_lengths(name: str, lengths: Any, batch: int, longest: int, minimum: int = 1) -> None:
    """Check that ``lengths`` is a 1-D integer tensor ``(batch,)`` with every value in ``[minimum, longest]``."""
    if not isinstance(lengths, torch.Tensor):
        raise TypeError(f"{name}: expected a 1-D integer torch.Tensor, got {type(lengths).__name__}")
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"{name}: expected an integer tensor (e.g. torch.long), got {lengths.dtype}")
    check_shape(lengths, "B", name=name, B=batch)
    if lengths.numel() and (int(lengths.min()) < minimum or int(lengths.max()) > longest):
        raise ValueError(f"{name}: expected lengths in {minimum}..{longest}, got values from {int(lengths.min())} to "
                         f"{int(lengths.max())}")
