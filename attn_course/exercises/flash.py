"""Checkers for notebook 12 (online softmax and FlashAttention)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["online_softmax", "flash_step", "hint"]

NOTEBOOK = "12_flash_attention"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "online_softmax": [
        "Keep two numbers per row while you read the blocks: the largest value so far, m, and the sum so far, "
        "total, of exp(x - m).",
        "When a block raises the maximum from m_old to m_new, every term already in total was computed against "
        "m_old: multiply total by exp(m_old - m_new) before adding the block's terms.",
        "After the last block (it may be shorter than block_size), the answer is exp(x - m) / total.",
    ],
    "flash_step": [
        "One step does for a whole tile of keys what online_softmax did for one block of numbers, and carries the "
        "weighted sum of values, acc, along.",
        "s = q @ k_tile.T / sqrt(D); m_new = max(m, row maximum of s); p = exp(s - m_new).",
        "Rescale both running sums by alpha = exp(m - m_new): l_new = alpha·l + p.sum(-1), "
        "acc_new = alpha·acc + p @ v_tile.",
    ],
}).hint


def _online(x: np.ndarray, block: int, rescale: bool = True, divide: bool = True, drop_last: bool = False,
            inverted: bool = False, keep_max: bool = True):
    """Online softmax with one chosen mistake (the defaults are right)."""
    n = x.shape[-1]
    stop = n - n % block if drop_last and n % block else n
    m, total = np.full(x.shape[:-1] + (1,), -np.inf), np.zeros(x.shape[:-1] + (1,))
    first = True
    for start in range(0, stop, block):
        b = x[..., start:start + block]
        m_new = np.maximum(m, b.max(-1, keepdims=True))
        with np.errstate(over="ignore", invalid="ignore"):
            factor = (np.exp(m_new - m) if inverted and not first else np.exp(m - m_new)) if rescale else 1.0
        total = total * factor + np.exp(b - m_new).sum(-1, keepdims=True)
        first = False
        if keep_max:
            m = m_new
    if not keep_max:  # the maximum was never carried forward: each block compared with -inf only
        m = m_new
    out = np.exp(x - m)
    return out / total if divide else out


@checker(NOTEBOOK)
def online_softmax(fn: Callable) -> Result:
    """Check ``fn(x, block_size)`` -> softmax over the last axis of the NumPy array ``x``, read block by block."""
    rng = np.random.default_rng(120)
    cases = []
    for shape, block, shift in (((10,), 4, 0.0), ((2, 9), 3, 800.0), ((7,), 7, -3.0), ((3, 11), 5, 0.0)):
        x = rng.normal(size=shape) * 3 + np.linspace(0, 6, shape[-1]) + shift  # rising: later blocks raise the max
        faulty = {
            "the running sum is not rescaled: when a block raises the maximum from m_old to m_new, multiply the sum "
            "so far by exp(m_old - m_new) before adding the new terms.": _online(x, block, rescale=False),
            "the final division by the running sum is missing: return exp(x - m) / total.": _online(x, block, divide=False),
            "the rescale is upside down: the old terms were computed against the smaller m_old, so they shrink, by "
            "exp(m_old - m_new) (at most 1), not exp(m_new - m_old).": _online(x, block, inverted=True),
            "the running maximum is never updated: after each block set m = m_new, so the next block compares "
            "with it.": _online(x, block, keep_max=False),
            "the last, shorter block was dropped: when the length is not a multiple of block_size the last block has "
            "fewer numbers, but it still counts (range(0, n, block_size) and slicing handle it).": [
                _online(x, block, drop_last=True) if x.shape[-1] % block else None,
                _online(x[..., : x.shape[-1] - x.shape[-1] % block], block) if x.shape[-1] % block else None],
        }
        cases.append(Case(f"x of shape {shape}, block_size {block}" + (f", values near {shift:g}" if shift else ""),
                          (x, block), _online(x, block), faulty,
                          nonfinite="inf or NaN: subtract the running maximum before exp (exp(800) overflows even in float64)."))
    return run_cases("online_softmax", fn, cases, atol=1e-10, rtol=1e-8)


class StepError(ValueError):
    """What the learner's step returned cannot go into the next step."""


def _flash_loop(step: Callable, q, k, v, block: int):
    """Run a tile step over all key tiles; return acc / l, the attention output."""
    m = torch.full((q.shape[0], 1), float("-inf"), dtype=q.dtype)
    l = torch.zeros(q.shape[0], 1, dtype=q.dtype)
    acc = torch.zeros(q.shape[0], v.shape[1], dtype=q.dtype)
    for j0 in range(0, k.shape[0], block):
        given = (m.clone(), l.clone(), acc.clone())
        out = step(q, k[j0:j0 + block], v[j0:j0 + block], m, l, acc)
        if not isinstance(out, tuple | list) or len(out) != 3:
            raise StepError(f"flash_step returned {type(out).__name__}"
                            + (f" of {len(out)} values" if isinstance(out, tuple | list) else "")
                            + "; it must return three tensors, (m_new, l_new, acc_new)")
        names = ("m_new", "l_new", "acc_new")
        for name, value, like in zip(names, out, given, strict=True):
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(like.shape):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise StepError(f"{name} has shape {shape}, expected {tuple(like.shape)} (the order is m_new, l_new, "
                                f"acc_new; keepdim=True keeps m and l as (L, 1))")
        if any(not torch.equal(a, b) for a, b in zip((m, l, acc), given, strict=True)):
            raise StepError("flash_step changed m, l or acc in place; return new tensors instead")
        m, l, acc = out
    return acc / l


def _step(q, k, v, m, l, acc, rescale_l=True, rescale_acc=True, scale=True, divide_early=False):
    s = q @ k.T / (math.sqrt(q.shape[-1]) if scale else 1.0)
    m_new = torch.maximum(m, s.amax(-1, keepdim=True))
    p, alpha = torch.exp(s - m_new), torch.exp(m - m_new)
    l_new = (alpha * l if rescale_l else l) + p.sum(-1, keepdim=True)
    if divide_early:  # acc kept normalised after every tile, then divided again at the end
        return m_new, l_new, (alpha * acc * l + p @ v) / l_new
    return m_new, l_new, (alpha * acc if rescale_acc else acc) + p @ v


def _swap(result):
    m_new, l_new, acc_new = result
    return l_new, m_new, acc_new


@checker(NOTEBOOK)
def flash_step(fn: Callable) -> Result:
    """Check ``fn(q, k_tile, v_tile, m, l, acc)`` -> ``(m_new, l_new, acc_new)``: one key tile of the flash loop.

    The checker runs the learner's step over every key tile and compares ``acc / l`` with softmax attention.
    """
    g = seeded(121)
    cases = []
    for L, S, D, Dv, block in ((3, 10, 4, 5, 4), (2, 7, 8, 3, 3), (4, 6, 2, 2, 6)):
        q, k, v = torch.randn(L, D, generator=g) * 2, torch.randn(S, D, generator=g) * 2, torch.randn(S, Dv, generator=g)
        k = k + torch.linspace(0, 3, S)[:, None]  # later tiles tend to raise the maximum
        right = torch.softmax(q @ k.T / math.sqrt(D), dim=-1) @ v
        faulty = {
            "the accumulated values are not rescaled: acc_new = alpha · acc + p @ v_tile, with alpha = exp(m - m_new)."
                : _flash_loop(lambda *a: _step(*a, rescale_acc=False), q, k, v, block),
            "the running sum is not rescaled: l_new = alpha · l + p.sum(-1), with alpha = exp(m - m_new).":
                _flash_loop(lambda *a: _step(*a, rescale_l=False), q, k, v, block),
            "neither running sum is rescaled: multiply l and acc by alpha = exp(m - m_new) before adding the tile.":
                _flash_loop(lambda *a: _step(*a, rescale_l=False, rescale_acc=False), q, k, v, block),
            "the scores are not scaled: divide q @ k_tile.T by sqrt(D).":
                _flash_loop(lambda *a: _step(*a, scale=False), q, k, v, block),
            "the three results come back in the wrong order: return (m_new, l_new, acc_new), the order the loop "
            "passes them in (m, l, acc).": _flash_loop(lambda *a: _swap(_step(*a)), q, k, v, block),
            "acc is divided by the running sum inside the step (too early): keep acc as the unnormalised sum of "
            "exp(score - m) · v; the loop divides by l once, at the end.":
                _flash_loop(lambda *a: _step(*a, divide_early=True), q, k, v, block),
        }
        cases.append(Case(f"q ({L}, {D}), {S} keys in tiles of {block}", (q, k, v, block), right, faulty,
                          on_error="flash_step must return three new tensors, (m_new, l_new, acc_new), shaped like "
                                   "m (L, 1), l (L, 1) and acc (L, Dv).",
                          nonfinite="NaN or inf: subtract the new running maximum before exp, and rescale by "
                                    "exp(m - m_new) (m starts at -inf, and exp(-inf) = 0 is fine)."))
    return run_cases("flash_step", lambda q, k, v, block: _flash_loop(fn, q, k, v, block), cases)
