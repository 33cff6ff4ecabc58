"""Softmax: from scores to weights, stably, with a temperature (notebook 02)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from .runtime import is_array, require_floating

__all__ = ["softmax", "logsumexp"]

Array = TypeVar("Array", torch.Tensor, np.ndarray)


def _check(x: Array, dim: int, temperature: float | Array) -> None:
    require_floating("x", x)
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim: expected an int (an axis of x), got {type(dim).__name__} {dim!r}")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):  # a 0-d x is one row: dim 0 or -1, as in PyTorch
        raise ValueError(f"dim: expected an axis of x, which has shape {tuple(x.shape)}, got dim={dim}")
    if is_array(temperature):  # a tensor of temperatures that broadcasts against x
        positive = bool((temperature > 0).all())
    elif isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        positive = temperature > 0
    else:
        raise TypeError(f"temperature: expected a positive number or tensor, got {type(temperature).__name__}")
    if not positive:
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    if is_array(temperature):
        try:
            np.broadcast_shapes(tuple(temperature.shape), tuple(x.shape))
        except ValueError:
            raise ValueError(f"temperature: expected a shape that broadcasts against x's {tuple(x.shape)}, "
                             f"got {tuple(temperature.shape)}") from None


def _row_max(z: Array, dim: int) -> Array:
    """The maximum along ``dim`` (kept), with rows of only ``-inf`` shifted by 0 instead."""
    if z.ndim and z.shape[dim] == 0:  # empty rows (no keys): nothing to shift; their sum is empty, logsumexp -inf
        shape = (*z.shape[:dim % z.ndim], 1, *z.shape[dim % z.ndim + 1:])
        return z.new_zeros(shape) if isinstance(z, torch.Tensor) else np.zeros(shape, dtype=z.dtype)
    if isinstance(z, torch.Tensor):
        m = z.amax(dim=dim, keepdim=True)
        return torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    m = z.max(axis=dim, keepdims=True)
    return np.where(np.isneginf(m), 0.0, m).astype(z.dtype)


def softmax(x: Array, dim: int = -1, temperature: float | Array = 1.0) -> Array:
    """Numerically stable softmax of ``x / temperature`` along ``dim``.

    Subtracting each row's maximum before ``exp`` keeps every exponent at or below 0,
    so inputs of any finite size give finite weights. A row whose entries are all
    ``-inf`` (nothing may be attended) gives zeros, not NaN, as PyTorch's
    ``scaled_dot_product_attention`` does.

    Args:
        x: scores, a floating-point torch tensor or NumPy array of any shape.
        dim: the axis that sums to 1.
        temperature: above 1 flattens the weights, below 1 sharpens them; a number, or a
            tensor/array that broadcasts against ``x`` (e.g. one temperature per row).

    Returns:
        Weights of the same shape and kind (tensor or array) as ``x``.

    Introduced in notebook 02.
    """
    _check(x, dim, temperature)
    if isinstance(x, np.ndarray) and x.ndim == 0:  # NumPy has no axis in a 0-d array: the one number is the row
        return softmax(x.reshape(1), 0, temperature).reshape(())
    z = x / temperature
    z = z - _row_max(z, dim)  # every exponent <= 0: no overflow
    if isinstance(z, torch.Tensor):
        e = torch.exp(z)
        total = e.sum(dim=dim, keepdim=True)
        return e / torch.where(total == 0, torch.ones_like(total), total)
    e = np.exp(z)
    total = e.sum(axis=dim, keepdims=True)
    return e / np.where(total == 0, 1.0, total).astype(e.dtype)


def logsumexp(x: Array, dim: int = -1, keepdim: bool = False) -> Array:
    """``log(sum(exp(x)))`` along ``dim``, computed without overflow.

    Args:
        x: a floating-point torch tensor or NumPy array.
        dim: the axis to reduce.
        keepdim: keep ``dim`` with size 1 (as ``torch.logsumexp``).

    Returns:
        Same kind as ``x``. ``softmax(x)`` equals ``exp(x - logsumexp(x, keepdim=True))``.

    Introduced in notebook 02.
    """
    _check(x, dim, 1.0)
    if isinstance(x, np.ndarray) and x.ndim == 0:  # NumPy has no axis in a 0-d array: the one number is the row
        return logsumexp(x.reshape(1), 0).reshape(())
    m = _row_max(x, dim)  # (..., 1, ...): shift so the largest exponent is 0
    if isinstance(x, torch.Tensor):
        out = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
        return out if keepdim else out.squeeze(dim)
    with np.errstate(divide="ignore"):  # log(0) = -inf for a row of only -inf, or an empty one, as torch.logsumexp
        out = m + np.log(np.exp(x - m).sum(axis=dim, keepdims=True))
    return out if keepdim else out.squeeze(axis=dim)
