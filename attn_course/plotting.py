"""The one attention heatmap used across the course (notebook 01 onwards)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["plot_attention", "plot_mask"]


def plot_attention(weights, query_labels: Sequence[str] | None = None, key_labels: Sequence[str] | None = None,
                   ax=None, title: str | None = None, annotate: bool | None = None,
                   vmin: float | None = None, vmax: float | None = None):
    """Draw attention weights (or scores) as a heatmap: queries down, keys across.

    Args:
        weights: ``(L, S)`` tensor or array (a leading axis of size 1 is dropped).
        query_labels: ``L`` row labels (the queries).
        key_labels: ``S`` column labels (the keys).
        ax: a matplotlib axes to draw in; a new figure if None.
        title: the axes title.
        annotate: write each value in its cell; defaults to True when at most 12 × 12.
        vmin, vmax: the colour scale's ends; weights default to 0 and 1 so that figures compare,
            scores to their range. Pass ``vmax=float(w.max())`` to spread out flat weights.

    Returns:
        The matplotlib axes. Introduced in notebook 01.
    """
    import matplotlib.pyplot as plt

    _check_ax(ax)
    w = _real_array("weights", weights)
    while w.ndim > 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise ValueError(f"weights: expected shape (L, S), got {tuple(np.shape(weights))}")
    L, S = w.shape
    for name, labels, n in (("query_labels", query_labels, L), ("key_labels", key_labels, S)):
        if labels is not None and not hasattr(labels, "__len__"):
            raise TypeError(f"{name}: expected a sequence of {n} labels, got {type(labels).__name__}")
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name}: expected {n} labels, got {len(labels)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.5 * S + 1.5), max(2.5, 0.45 * L + 1.0)))
    probabilities = w.size == 0 or (np.isfinite(w).all() and w.min() >= 0 and w.max() <= 1)  # empty: no scale to fit
    if probabilities:
        vmin, vmax = (0.0 if vmin is None else vmin), (1.0 if vmax is None else vmax)
    image = ax.imshow(w, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(S), key_labels if key_labels is not None else range(S), rotation=90 if key_labels else 0)
    ax.set_yticks(range(L), query_labels if query_labels is not None else range(L))
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title or ("attention weights" if probabilities else "scores"))
    if annotate if annotate is not None else (L <= 12 and S <= 12):
        for i in range(L):
            for j in range(S):  # viridis is light above the middle of its scale: dark text there
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if image.norm(w[i, j]) > 0.5 else "white")
    return ax


def plot_mask(mask, ax=None, title: str | None = None, show_density: bool = True):
    """Draw a boolean ``(L, S)`` mask: queries down, keys across, dark = may attend (notebook 10).

    The title ends with the fraction of pairs allowed, the share of the ``L·S`` scores a
    dense implementation would compute but not use. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    _check_ax(ax)
    m = mask.detach().cpu() if isinstance(mask, torch.Tensor) else torch.as_tensor(_array("mask", mask))
    if m.dtype != torch.bool or m.ndim != 2:
        raise ValueError(f"mask: expected a boolean (L, S) mask, got {m.dtype} {tuple(m.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    ax.imshow(m.numpy(), cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xlabel("key j (attended to)")
    ax.set_ylabel("query i (attending)")
    density = (f"{m.float().mean().item():.0%} allowed" if m.numel() else "no pairs") if show_density else ""
    ax.set_title(f"{title}\n{density}" if title and density else title or density)
    return ax


def _check_ax(ax) -> None:
    from matplotlib.axes import Axes

    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes (or None for a new figure), got {type(ax).__name__}")


def _array(name: str, x) -> np.ndarray:
    """``x`` as a NumPy array of numbers or booleans; a clear error for anything else (None, text, ragged lists)."""
    try:
        array = np.asarray(x)
    except ValueError as error:
        raise ValueError(f"{name}: expected a rectangular array, got {type(x).__name__} ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers or booleans, got {type(x).__name__} of dtype {array.dtype}")
    return array


def _real_array(name: str, x) -> np.ndarray:
    """``x`` (a tensor, an array or nested lists of real numbers) as a float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name}: expected real numbers, got {x.dtype}")
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(_array(name, x), dtype=float)
