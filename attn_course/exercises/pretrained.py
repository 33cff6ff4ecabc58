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

__all__ = ["cache_bytes", "cached_step", "induction_scores", "decoder_mask", "hint"]  # in the notebook's order

NOTEBOOK = "13_attention_in_pretrained_models"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "decoder_mask": [
        "Two rules at once: a key must be a real token, and it must not be in the future. Build each as a boolean "
        "tensor and combine them with &.",
        "Causal: torch.ones(S, S, dtype=torch.bool).tril() (or causal_mask(S) of notebook 04) is True where key <= "
        "query. Padding: attention_mask == 1 is (B, S), and it is about the keys, wherever the zeros are.",
        "Broadcast: the causal mask as (1, 1, S, S), the padding as (B, 1, 1, S); & combines them into (B, 1, S, S).",
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
        "SmolLM2 has 30 layers and 3 key/value heads (its 9 query heads share them), each 576 / 9 = 64 wide; "
        "bfloat16 takes 2 bytes.",
        "Multiply: (keys and values) × layers × sequences × positions × key/value heads × head width × bytes per value.",
    ],
}).hint


def _left_padded(g: torch.Generator, B: int, S: int, dtype: torch.dtype) -> torch.Tensor:
    """Hugging Face masks (B, S) of prompts padded on the left: 0s first, then 1s; one row without padding."""
    pads = torch.randint(0, S, (B,), generator=g)
    pads[0] = 0
    return (torch.arange(S)[None, :] >= pads[:, None]).to(dtype)  # (B, S)


@checker(NOTEBOOK)
def cache_bytes(prediction: Any) -> Result:
    """Grade a predicted number: the bytes of SmolLM2's KV cache for 8 sequences of 4,096 tokens in bfloat16.

    A prediction within 1% passes. A wrong one is named when it matches a known mistake; otherwise the verdict says
    only whether it is too large or too small, so that the answer is not given away before the reveal.
    """
    if isinstance(prediction, (torch.Tensor, np.ndarray, np.generic)) and prediction.ndim == 0:
        prediction = prediction.item()  # a number computed with torch or NumPy
    if prediction is ... or prediction is None:
        return Result("cache_bytes", "not attempted", "Replace `...` with your prediction (a number of bytes), then run "
                                                      "this cell again.")
    if isinstance(prediction, bool) or not isinstance(prediction, numbers.Real) or not math.isfinite(prediction):
        return Result("cache_bytes", "wrong", f"expected a number of bytes, got {type(prediction).__name__} "
                                              f"{prediction!r}. Stuck? check.hint('cache_bytes')")
    right = kv_cache_bytes(**SMOLLM2_CACHE)

    def near(value: float) -> bool:
        return math.isclose(prediction, value, rel_tol=0.01)

    if near(right):
        return Result("cache_bytes", "correct", f"{right:,} bytes ({right / 2**20:,.0f} MiB): 2 · 30 layers · 8 sequences "
                                                f"· 4,096 positions · 3 key/value heads · 64 · 2 bytes.")
    for message, value in _cache_mistakes(right).items():
        if near(value):
            return Result("cache_bytes", "wrong", f"{message} Stuck? check.hint('cache_bytes')")
    size = "large" if prediction > right else "small"
    far = prediction <= 0 or max(prediction / right, right / prediction) > 2
    return Result("cache_bytes", "wrong", f"your prediction is too {size}, by {'more' if far else 'less'} than a factor "
                                          f"of 2. Count again what one position of one sequence holds in one layer. "
                                          f"Stuck? check.hint('cache_bytes')")


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
            "a causal mask aligned top-left (is_causal=True, or causal_mask(1, S + 1)) lets the one query see key 0 "
            "only. The new query comes after every cached key, so it needs no mask (or a bottom-right one).":
                _step_reference(*args, causal=True),
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
def decoder_mask(fn: Callable) -> Result:
    """Check ``fn(attention_mask (B, S))`` -> boolean ``(B, 1, S, S)``: key j allowed for query i when j <= i and real."""
    g = seeded(130)
    cases = []
    for B, S, dtype in ((3, 5, torch.long), (2, 4, torch.int32), (4, 6, torch.long)):
        am = _left_padded(g, B, S, dtype)
        real = am == 1  # (B, S)
        causal = torch.ones(S, S, dtype=torch.bool).tril()  # (S, S): key j <= query i
        right = causal[None, None] & real[:, None, None, :]  # (B, 1, S, S)
        lengths = real.sum(1)
        faulty = {
            "the mask lets every token see the future: a decoder needs the causal part too, key j <= query i "
            "(combine with &).": [real[:, None, None, :], real[:, None, None, :].expand(B, 1, S, S)],
            "the padding is not masked: the causal part alone lets real tokens attend to the padding. Combine it "
            "with attention_mask == 1 on the keys.": [causal.expand(B, 1, S, S), causal[None, None]],
            "your padding part is True at the padding: that is nn.MultiheadAttention's key_padding_mask convention "
            "(True = ignore). The course's masks are True = may attend.": causal[None, None] & ~real[:, None, None, :],
            "the padding is on the query axis: it must hide padded *keys*, the last axis, so (B, 1, 1, S).":
                causal[None, None] & real[:, None, :, None],
            "the causal part is upside down (triu): query i may see keys j <= i, the past, not the future.":
                torch.ones(S, S, dtype=torch.bool).triu()[None, None] & real[:, None, None, :],
            "the causal part is off by one (tril(-1)): a token may attend to itself, so keep the diagonal.":
                torch.ones(S, S, dtype=torch.bool).tril(-1)[None, None] & real[:, None, None, :],
            "you assumed the padding is on the right (a mask from the lengths): here the prompts are padded on the "
            "left, as decoders pad batches for generation. Use the mask itself, attention_mask == 1.":
                causal[None, None] & (torch.arange(S)[None, :] < lengths[:, None])[:, None, None, :],
            "the values are right but the mask is not boolean: compare with 1 and combine booleans with &.":
                right.to(dtype),
            "(B, S, S) is read by MultiHeadAttention as (B, L, S), but scaled_dot_product_attention's scores are "
            "(B, H, L, S): add the head axis, (B, 1, S, S).": right[:, 0],
        }
        cases.append(Case(f"attention_mask (B={B}, S={S}, {str(dtype).removeprefix('torch.')}, padded on the left)",
                          (am,), right, faulty))
    return run_cases("decoder_mask", fn, cases)


def _cache_mistakes(right: int) -> dict[str, float]:
    mistakes = {
        "that is the cache with 9 key/value heads, one per query head (or with the model width E = 576 where "
        "Hkv·D = 192 belongs): SmolLM2's 9 query heads share 3 key/value heads.": right * 3,
        "that is half the answer: you counted only the keys (the cache holds values too), or values rather than "
        "bytes (a bfloat16 value takes 2), or heads 32 wide (SmolLM2's are 576 / 9 = 64).": right / 2,
        "that is twice the answer: float32 (4 bytes per value) instead of bfloat16's 2, or 8,192 positions (the "
        "model's context) instead of the 4,096 asked for.": right * 2,
        "that is one layer's cache: each of the 30 layers has its own keys and values.": right / 30,
        "that is one sequence's cache: the batch holds 8.": right / 8,
        "that is in bits: a bfloat16 value is 2 bytes (16 bits).": right * 8,
    }
    for unit, size in (("GB", 1e9), ("GiB", 2**30), ("MB", 1e6), ("MiB", 2**20)):
        mistakes[f"that is the answer in {unit}; give it in bytes."] = right / size
    return mistakes
