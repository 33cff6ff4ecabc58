"""Checkers for notebook 13 (attention inside real pretrained models)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..multihead import kv_cache_bytes
from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["hf_mask", "cached_step", "induction_scores", "cache_bytes", "hint"]

NOTEBOOK = "13_attention_in_pretrained_models"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "hf_mask": [
        "Hugging Face's attention_mask marks real tokens with 1; the course's boolean masks mark keys that may be "
        "attended with True. Which comparison turns one into the other?",
        "Padding belongs to the keys (the last axis of the scores (B, H, L, S)); give the mask a head axis and a "
        "query axis of size 1 so that it broadcasts.",
        "(attention_mask == 1)[:, None, None, :] is (B, 1, 1, S), True at real tokens.",
    ],
    "cached_step": [
        "Two bugs. First print the shapes, then ask which key/value head each query head should read.",
        "Query heads are grouped: heads 0..g-1 share key/value head 0, heads g..2g-1 share head 1. "
        "k.repeat(1, g, 1, 1) lays the copies out as 0, 1, 2, 0, 1, 2, ...; which function gives 0, 0, 1, 1, ...?",
        "is_causal=True with one query and S + 1 keys is top-left aligned: the query may only see key 0. The one new "
        "query comes after every cached key, so it needs no mask at all.",
    ],
    "induction_scores": [
        "At position i of the second copy (i = T .. 2T-1), the same token appeared at i - T. What came right after it?",
        "The score of a head is the mean, over those T positions, of weights[..., i, i - T + 1].",
        "torch.diagonal(weights, offset=-(T - 1), dim1=-2, dim2=-1) holds the entries (i, i - T + 1) for i = T-1 .. "
        "2T-1; drop the first (it is in the first copy) and take the mean over the last axis.",
    ],
    "cache_bytes": [
        "A cache holds one key and one value vector per layer, per sequence, per position and per key/value head.",
        "SmolLM2 has 30 layers and 3 key/value heads of width 64 (its 9 query heads share them); bfloat16 takes "
        "2 bytes.",
        "2 (keys and values) · 30 · 8 · 4096 · 3 · 64 · 2 bytes.",
    ],
}).hint


def _hf_masks(g: torch.Generator, B: int, S: int, dtype: torch.dtype) -> torch.Tensor:
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    lengths[0] = S  # one row with no padding at all
    return (torch.arange(S)[None, :] < lengths[:, None]).to(dtype)  # (B, S): 1 real, 0 padding, on the right


@checker(NOTEBOOK)
def hf_mask(fn: Callable) -> Result:
    """Check ``fn(attention_mask (B, S))`` -> boolean ``(B, 1, 1, S)``, True where Hugging Face's mask is 1."""
    g = seeded(130)
    cases = []
    for B, S, dtype in ((3, 5, torch.long), (2, 4, torch.int32), (4, 6, torch.long)):
        am = _hf_masks(g, B, S, dtype)
        real = am == 1
        faulty = {
            "your mask is True at the padding: that is nn.MultiheadAttention's key_padding_mask convention (True = "
            "ignore). The course's masks are True = may attend.": ~real[:, None, None, :],
            "the values are right but the mask is not boolean: an integer mask is refused by scaled_dot_product_attention "
            "and MultiHeadAttention. Compare with 1 to get booleans.": am[:, None, None, :],
            "a float mask of 1 and 0 is *added* to the scores, so it masks nothing: padding must be False (or -inf "
            "in an additive mask). This exercise asks for booleans.": am[:, None, None, :].float(),
            "you built an additive float mask (0 / -inf). That is a valid mask too, but this exercise asks for the "
            "boolean convention, True = may attend.": torch.zeros(B, 1, 1, S).masked_fill(~real[:, None, None, :],
                                                                                             float("-inf")),
            "the padding is on the query axis: (B, 1, S, 1) hides padded *queries*, but every query must ignore padded "
            "*keys*, the last axis of (B, H, L, S). Use (B, 1, 1, S).": real[:, None, :, None],
            "(B, S) lines up with the last two axes of (B, H, L, S), as if it were (L, S): add the head and query "
            "axes, (B, 1, 1, S).": real,
            "(B, 1, S) works with MultiHeadAttention, which reads a 3-D mask as (B, L, S), but against the 4-D "
            "scores (B, H, L, S) of scaled_dot_product_attention its batch axis lands on the heads. Add a head "
            "axis: (B, 1, 1, S).": real[:, None, :],
        }
        cases.append(Case(f"attention_mask (B={B}, S={S}, {str(dtype).removeprefix('torch.')})", (am,),
                          real[:, None, None, :], faulty))
    return run_cases("hf_mask", fn, cases)


def _step_reference(q, k_new, v_new, cache_k, cache_v, *, interleave=True, causal=False, append=True, new_first=False):
    """One decoding step of grouped-query attention, right or with one of the mistakes it invites."""
    if append:
        k = torch.cat([k_new, cache_k] if new_first else [cache_k, k_new], dim=2)  # (B, Hkv, S + 1, D)
        v = torch.cat([v_new, cache_v] if new_first else [cache_v, v_new], dim=2)
    else:
        k, v = cache_k, cache_v
    group = q.size(1) // k.size(1)
    k = k.repeat_interleave(group, dim=1) if interleave else k.repeat(1, group, 1, 1)  # (B, H, S + 1, D)
    v = v.repeat_interleave(group, dim=1) if interleave else v.repeat(1, group, 1, 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, H, 1, D)


@checker(NOTEBOOK)
def cached_step(fn: Callable) -> Result:
    """Check ``fn(q (B, H, 1, D), k_new, v_new (B, Hkv, 1, D), cache_k, cache_v (B, Hkv, S, D))`` -> ``(B, H, 1, D)``."""
    g = seeded(131)
    cases = []
    for B, H, Hkv, S, D in ((2, 6, 2, 5, 4), (1, 9, 3, 7, 8), (1, 4, 4, 3, 3)):
        q = torch.randn(B, H, 1, D, generator=g)
        k_new, v_new = torch.randn(B, Hkv, 1, D, generator=g), torch.randn(B, Hkv, 1, D, generator=g)
        cache_k, cache_v = torch.randn(B, Hkv, S, D, generator=g), torch.randn(B, Hkv, S, D, generator=g)
        args = (q, k_new, v_new, cache_k, cache_v)
        faulty = {
            "both bugs are still there: repeat lays the key/value heads out as 0, 1, 2, 0, 1, 2, ... instead of 0, 0, "
            "1, 1, ..., and is_causal=True with one query lets it see key 0 only.":
                _step_reference(*args, interleave=False, causal=True),
            "the grouping is wrong: k.repeat(1, g, 1, 1) gives query head h the key/value head h % Hkv, but query "
            "heads are grouped, head h reads h // g. Use repeat_interleave(g, dim=1).":
                _step_reference(*args, interleave=False),
            "is_causal=True aligns the causal mask top-left: with one query and S + 1 keys the query sees key 0 "
            "only. The new query comes after every cached key, so drop the mask.": _step_reference(*args, causal=True),
            "the new key and value were not appended: the token must also attend to itself, torch.cat([cache, new], "
            "dim=2).": _step_reference(*args, append=False),
        }
        cases.append(Case(f"B={B}, H={H}, Hkv={Hkv}, S={S}, D={D}", args, _step_reference(*args), faulty,
                          on_error="q is (B, H, 1, D), the new keys and values (B, Hkv, 1, D), the cache (B, Hkv, S, D): "
                                   "append along dim 2, then give each query head its group's key/value head."))
    return run_cases("cached_step", fn, cases)


def _causal_weights(g: torch.Generator, shape: tuple[int, ...], L: int) -> torch.Tensor:
    scores = torch.randn(*shape, L, L, generator=g) * 2
    scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1)  # (..., L, L): rows sum to 1, nothing above the diagonal


@checker(NOTEBOOK)
def induction_scores(fn: Callable) -> Result:
    """Check ``fn(weights (..., 2T, 2T), T)`` -> ``(...)``: the mean of ``weights[..., i, i - T + 1]`` for ``i >= T``."""
    g = seeded(132)
    cases = []
    for shape, T in (((3, 4), 5), ((2, 3), 3), ((4,), 6)):
        w = _causal_weights(g, shape, 2 * T)
        i = torch.arange(T, 2 * T)  # the second copy
        right = w[..., i, i - T + 1].mean(-1)
        faulty = {
            "you scored the earlier copy of the same token (i - T): that finds duplicate-token heads. An induction head "
            "looks one further, at i - T + 1, the token that came next.": w[..., i, i - T].mean(-1),
            "that is a previous-token score (i - 1): previous-token heads help build induction heads, but the score "
            "asks for attention to i - T + 1.": w[..., i, i - 1].mean(-1),
            "you included position T - 1, which is in the first copy: average over i = T .. 2T - 1 only.":
                w[..., torch.arange(T - 1, 2 * T), torch.arange(0, T + 1)].mean(-1),
            "you read the weights the wrong way round, weights[..., i - T + 1, i]: rows are queries, columns keys.":
                w[..., i - T + 1, i].mean(-1),
            "you summed over the T positions: the score is their mean, between 0 and 1.": w[..., i, i - T + 1].sum(-1),
        }
        cases.append(Case(f"weights {tuple(w.shape)}, T={T}", (w, T), right, faulty))
    return run_cases("induction_scores", fn, cases)


SMOLLM2_CACHE = {"num_layers": 30, "batch": 8, "seq_len": 4096, "num_kv_heads": 3, "head_dim": 64, "bytes_per_value": 2}


@checker(NOTEBOOK)
def cache_bytes(prediction: Any) -> Result:
    """Grade a predicted number: the bytes of SmolLM2's KV cache for 8 sequences of 4,096 tokens in bfloat16."""
    if isinstance(prediction, (torch.Tensor, np.ndarray, np.generic)) and prediction.ndim == 0:
        prediction = prediction.item()  # a number computed with torch or NumPy
    if prediction is ... or prediction is None:
        return Result("cache_bytes", "not attempted", "Replace `...` with your prediction (a number of bytes), then run "
                                                      "this cell again.")
    if isinstance(prediction, bool) or not isinstance(prediction, numbers.Real) or not math.isfinite(prediction):
        return Result("cache_bytes", "wrong", f"expected a number of bytes, got {type(prediction).__name__} "
                                              f"{prediction!r}. Stuck? check.hint('cache_bytes')")
    c = SMOLLM2_CACHE
    right = kv_cache_bytes(**c)
    faulty = {
        "that is the cache with 9 key/value heads, one per query head (or with the model width E = 576 where "
        "Hkv·D = 192 belongs): SmolLM2's 9 query heads share 3 key/value heads.": right * 3,
        "that is half the answer: either you counted only the keys (the cache holds values too) or you counted "
        "values, not bytes (a bfloat16 value takes 2 bytes).": right / 2,
        "that is one layer's cache: each of the 30 layers has its own keys and values.": right / 30,
        "that is one sequence's cache: the batch holds 8.": right / 8,
        "that is float32 (4 bytes per value); bfloat16 takes 2.": right * 2,
        "that is in bits: a bfloat16 value is 2 bytes (16 bits).": right * 8,
    }
    for unit, size in (("GB", 1e9), ("GiB", 2**30), ("MB", 1e6), ("MiB", 2**20)):
        faulty[f"that is the answer in {unit}; give it in bytes."] = right / size
    case = Case("the prediction", (), right, faulty)
    return run_cases("cache_bytes", lambda: prediction, [case], atol=0.0, rtol=0.01)
