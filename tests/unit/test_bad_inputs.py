"""Bad inputs, swept: every public function and class of ``attn_course``, given odd shapes, dtypes, sizes and masks.

The course's rule. Each call either

* returns what the reference returns: PyTorch's own function where there is one (``torch.softmax``,
  ``torch.logsumexp``, ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``), else a float64 naive version
  written below; empty and zero-length results must match it in shape and values (no IndexError, no NaN); or
* raises ``ValueError`` or ``TypeError`` whose message names the argument (as a word of its own).

A call the reference rejects must be rejected that way; a call the reference accepts may still be rejected that way
(the course may be stricter, e.g. no complex ``logsumexp``), except the perturbations marked legal (zero-length
axes, fully masked rows), which must return the reference's result. Rows without a numeric reference (the trained
models, data generators, timers) list which perturbations are legal; every other one must be rejected.

Zero keys (``S = 0``) and other empty axes, decided per function (what the references below return):

* ``softmax``: ``torch.softmax``'s empty ``(..., L, 0)``. A row of only ``-inf`` gives zeros, the course's
  documented rule (``torch.softmax`` gives NaN there).
* ``logsumexp``: ``torch.logsumexp``'s ``-inf``, the log of an empty sum (and of a row of only ``-inf``).
* ``online_softmax``: as ``softmax`` (it documents "equal to softmax").
* ``scaled_dot_product_attention``, ``flash_attention``, ``triton_flash_attention``, ``MultiHeadAttention``,
  ``CrossAttention``, ``SelfAttention*``, ``attend``, ``sliding_window_attention``: output zeros ``(..., L, Ev)`` and
  weights ``(..., L, 0)``. ``F.scaled_dot_product_attention`` returns exactly these zeros, and they are the course's
  rule "a query whose every key is masked gets zero weights and an output of zeros" (with no keys, every key is
  masked). The modules then add their output projection's bias, as ``nn.MultiheadAttention`` does.
* Head width ``D = 0`` (``E = 0``): ``F.scaled_dot_product_attention``'s answer, every score 0, so the output is the
  mean of the values (``triton_flash_attention``, whose values are as wide as its keys: empty).

How to read the table: each ``Row`` says how to call one public function or class (``call``), how to build a legal
call from drawn sizes (``args``; the letters of ``sizes`` are drawn from 1 to 3), what it must return (``reference``),
which arguments to perturb and how (``perturb``: argument -> list of ``P``), and which axes may be empty
(``empty``). One test per row draws a few legal calls (hypothesis) and, for each, checks the call itself and every
perturbation; known failures in modules being refactored are listed in ``KNOWN_FAILURES`` and run as strict xfails.
``NOT_SWEPT`` names the public names no row calls, with the reason; a test checks that nothing else is left out.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import importlib.util
import math
import numbers
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from torch import nn

import attn_course
from attn_course import (
    attention,
    bench,
    cross_attention,
    data,
    flash,
    local,
    masks,
    multihead,
    plotting,
    positions,
    pretrained,
    progress_record,
    rnn,
    runtime,
    self_attention,
    similarity,
    training,
    transformer,
    triton_flash,
)

softmax = importlib.import_module("attn_course.softmax")  # the package's own ``softmax`` is the function

pytestmark = pytest.mark.filterwarnings("ignore")  # odd inputs on purpose: casts that drop an imaginary part, etc.

# ---------------------------------------------------------------------------------------------------------------------
# Known failures, all in modules being refactored now (attention, masks, multihead, local, transformer, rnn, training,
# progress_record, and attn_course.progress): row -> perturbation -> what happens instead. What should happen is the
# rule above: a ValueError or TypeError naming the argument, or, for an empty axis ("E=0", "S=0"), the reference's
# result. The sweep leaves these cases out; test_known_failures[row] runs them, marked xfail(strict=True): it fails,
# as expected, while every listed case still breaks the rule, and passes (a strict XPASS, reported as a failure that
# prints the fixed cases) as soon as one is fixed, so that its entry is deleted here and the sweep takes it back.
# ---------------------------------------------------------------------------------------------------------------------

KNOWN_FAILURES: dict[str, dict[str, str]] = {
}

# ---------------------------------------------------------------------------------------------------------------------
# Drawn calls: sizes by letter, and tensors of those sizes from a seeded generator
# ---------------------------------------------------------------------------------------------------------------------


class Draw:
    """One drawn call: sizes by glossary letter, and a seeded source of tensors of those sizes."""

    def __init__(self, sizes: dict[str, int], seed: int) -> None:
        self.sizes, self.seed = dict(sizes), seed
        self.gen = torch.Generator().manual_seed(seed)

    def __getitem__(self, letter: str) -> int:
        return self.sizes[letter]

    def with_sizes(self, **sizes: int) -> Draw:
        return Draw(self.sizes | sizes, self.seed)

    def shape(self, spec: str) -> tuple[int, ...]:
        return tuple(int(c) if c.isdigit() else self.sizes[c] for c in spec.split())

    def t(self, spec: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(self.shape(spec), generator=self.gen, dtype=torch.float64).to(dtype)

    def mask(self, spec: str) -> torch.Tensor:
        """A random boolean mask, True = may attend, about 70% allowed."""
        return torch.rand(self.shape(spec), generator=self.gen) < 0.7

    def ids(self, spec: str, high: int) -> torch.Tensor:
        return torch.randint(0, high, self.shape(spec), generator=self.gen)

    def __repr__(self) -> str:
        return f"Draw({self.sizes}, seed={self.seed})"


@dataclass
class P:
    """One perturbation of one argument: ``fn(value, draw)`` gives the new value.

    legal: True, the call must return the reference's result; None, the reference decides (rows without one:
    the call must be rejected). related: the error may name any tensor argument (a mismatch between arguments).
    sizes: instead of ``fn``, rebuild the legal call with these sizes (an empty axis).
    """

    label: str
    fn: Callable[[Any, Draw], Any] | None = None
    legal: bool | None = None
    related: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # other names the error may give (an inner function's parameter, as a notebook shows it)


def const(label: str, value: Any, legal: bool | None = None) -> P:
    return P(label, lambda v, d: value, legal)


def _cast(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.bool:
        return v > 0
    if dtype.is_floating_point or dtype.is_complex:
        return v.to(dtype)
    return (3 * v.double()).round().to(dtype)


def cast(dtype: torch.dtype) -> P:
    return P(str(dtype).removeprefix("torch."), lambda v, d: _cast(v, dtype), related=dtype.is_floating_point)


def grow(axis: int) -> P:
    """The argument one longer along ``axis``: a size that no longer matches its partners."""

    def fn(v: torch.Tensor, d: Draw) -> torch.Tensor:
        shape = list(v.shape)
        shape[axis] += 1
        new = torch.randn(shape, generator=d.gen)
        return new > 0 if v.dtype == torch.bool else new.to(v.dtype)

    return P(f"{'last' if axis == -1 else 'first'} axis +1", fn, related=True)


FLOAT_DTYPES = [cast(torch.float16), cast(torch.bfloat16), cast(torch.float64)]  # mixed with the other arguments
OTHER_DTYPES = [cast(torch.int64), cast(torch.bool), cast(torch.complex64)]
NOT_TENSORS = [P("numpy", lambda v, d: v.numpy()), P("list", lambda v, d: v.tolist()), const("None", None)]
NDIMS = [const("0-d", torch.tensor(0.5)), P("1-d", lambda v, d: v.flatten()), P("2 more axes", lambda v, d: v[None, None])]
MISMATCHES = [grow(-1), grow(0)]
TENSOR = FLOAT_DTYPES + OTHER_DTYPES + NOT_TENSORS + NDIMS + MISMATCHES  # a floating-point tensor argument
IDS = [cast(torch.float32), cast(torch.bool), P("numpy", lambda v, d: v.numpy()), P("list", lambda v, d: v.tolist()),
       const("None", None), P("1-d", lambda v, d: v.flatten()), P("3-d", lambda v, d: v[..., None]),
       P("negative id", lambda v, d: v.clone().fill_(-1)), P("id past the vocabulary", lambda v, d: v + 1000)]
INT_BAD = [const("-1", -1), const("True", True), const("1.5", 1.5), const("'2'", "2"), const("None", None)]
COUNT = [const("0", 0)] + INT_BAD  # an int; whether 0 is legal, the reference decides
NUMBER_BAD = [const("'x'", "x"), const("None", None)]
POSITIVE = [const("0", 0.0), const("-1", -1.0), const("nan", math.nan)] + NUMBER_BAD  # a number > 0


def bool_mask(spec: str, float_ok: bool = True) -> list[P]:
    """Perturbations of a boolean mask (True = may attend) of shape ``spec``."""
    return [P("all False", lambda v, d: torch.zeros(d.shape(spec), dtype=torch.bool), legal=True),
            P("int64", lambda v, d: d.mask(spec).long()),
            P("float", lambda v, d: torch.where(d.mask(spec), 0.0, -math.inf), legal=True if float_ok else None),
            P("wrong shape", lambda v, d: d.mask(spec + " 2")),
            P("numpy", lambda v, d: d.mask(spec).numpy()), P("list", lambda v, d: d.mask(spec).tolist())]


def empties(letters: str) -> list[P]:
    return [P(f"{c}=0", sizes={c: 0}, legal=True) for c in letters.split()]


# ---------------------------------------------------------------------------------------------------------------------
# References (float64, from PyTorch where it has the function)
# ---------------------------------------------------------------------------------------------------------------------


def _torch(x: Any) -> Any:
    return torch.from_numpy(np.asarray(x)) if isinstance(x, (np.ndarray, np.generic)) else x


def _like(result: torch.Tensor, x: Any, dtype: Any = None) -> Any:
    """``result`` (float64) in the kind (tensor or array) and dtype of ``x``."""
    if isinstance(x, np.ndarray):
        return result.numpy().astype(dtype or x.dtype)
    return result.to(dtype or x.dtype)


def _number(name: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number")
    if positive and not value > 0:
        raise ValueError(f"{name}: expected a positive number")
    return float(value)


def _int(name: str, n: Any, minimum: int = 0) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}: expected an int")
    if n < minimum:
        raise ValueError(f"{name}: expected at least {minimum}")
    return n


def _float_tensor(name: str, x: Any) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor")
    return x


def naive_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax in float64; a row of only -inf (every key masked) gives zeros."""
    dead = torch.isneginf(z).all(dim=dim, keepdim=True)
    return torch.softmax(z.double(), dim).masked_fill(dead, 0.0)


def naive_attention(q, k, v, mask=None, scale=None, causal=False):
    """Float64 ``softmax(q kᵀ · scale + mask) v`` with the course's masks (bool: True = may attend; float: added)."""
    q, k, v = q.double(), k.double(), v.double()
    scale = 1 / math.sqrt(q.size(-1)) if scale is None and q.size(-1) else (1.0 if scale is None else scale)
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        L, S = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(L, S, dtype=torch.bool).tril().logical_not(), -math.inf)
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, -math.inf)
    elif mask is not None:
        scores = scores + mask.double()
    weights = naive_softmax(scores)
    return weights @ v, weights


def ref_softmax(a):
    x, dim, temperature = a["x"], a.get("dim", -1), a.get("temperature", 1.0)
    xt = _torch(x)
    torch.softmax(xt, dim)  # PyTorch's verdict on x's kind and dtype, and on dim
    if runtime.is_array(temperature):
        t = _torch(temperature)
        if not bool((t > 0).all()):
            raise ValueError("temperature")
        z = xt.double() / t.double()
    else:
        z = xt.double() / _number("temperature", temperature)
    return _like(naive_softmax(z, dim), x)


def ref_logsumexp(a):
    x, dim, keepdim = a["x"], a.get("dim", -1), a.get("keepdim", False)
    xt = _torch(x)
    torch.logsumexp(xt, dim, keepdim)
    return _like(torch.logsumexp(xt.double(), dim, keepdim), x)


def _scores_pair(a):
    q, k = a["q"], a["k"]
    if type(q) is not type(k) or not runtime.is_array(q):
        raise TypeError("k")
    if isinstance(q, np.ndarray):
        np.matmul(q, np.swapaxes(k, -2, -1))
        return torch.from_numpy(q).double(), torch.from_numpy(k).double(), np.result_type(q, k)
    torch.matmul(q, k.transpose(-2, -1))
    return q.double(), k.double(), q.dtype


def ref_dot_scores(a):
    q, k, dtype = _scores_pair(a)
    return _like(q @ k.transpose(-2, -1), a["q"], dtype)


def ref_cosine_scores(a):
    q, k, dtype = _scores_pair(a)
    eps = _number("eps", a.get("eps", 1e-8))
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(eps)
    k = k / k.norm(dim=-1, keepdim=True).clamp_min(eps)
    return _like(q @ k.transpose(-2, -1), a["q"], dtype)


def ref_sdpa(a):
    q, k, v, mask = a["query"], a["key"], a["value"], a.get("attn_mask")
    causal, scale = a.get("is_causal", False), a.get("scale")
    F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale)  # PyTorch's verdict
    out64 = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal, scale=scale,
                                           attn_mask=mask if mask is None or mask.dtype == torch.bool else mask.double())
    out, weights = naive_attention(q, k, v, mask, scale, causal)
    torch.testing.assert_close(out, out64.expand_as(out), equal_nan=True)  # the naive version is PyTorch's
    return (out.to(q.dtype), weights.to(q.dtype)) if a.get("return_weights") else out.to(q.dtype)


def ref_gaussian_weights(a):
    queries, keys, bandwidth, mask = _torch(a["queries"]), _torch(a["keys"]), a["bandwidth"], a.get("attn_mask")
    for name, x in (("queries", queries), ("keys", keys)):
        if _float_tensor(name, x).ndim == 0:
            raise ValueError(name)
    h = bandwidth if isinstance(bandwidth, torch.Tensor) else _number("bandwidth", bandwidth)
    if not bool(torch.as_tensor(h > 0).all()):
        raise ValueError("bandwidth")
    dtype = (-((queries[..., :, None] - keys[..., None, :]) ** 2) / (2 * h**2)).dtype  # PyTorch's verdict, its promotion
    h = h.double() if isinstance(h, torch.Tensor) else h
    scores = -((queries.double()[..., :, None] - keys.double()[..., None, :]) ** 2) / (2 * h**2)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("attn_mask")
        scores = scores.masked_fill(~mask, -math.inf)
    return _like(naive_softmax(scores), a["queries"], dtype if isinstance(a["queries"], torch.Tensor) else None)


def ref_kernel_regression(a):
    bandwidth = torch.tensor(math.log(_number("bandwidth", a["bandwidth"]))).exp()  # the module's float32 parameter
    queries, keys, values = (_float_tensor(n, _torch(a[n])) for n in ("queries", "keys", "values"))
    weights = ref_gaussian_weights({"queries": queries, "keys": keys, "bandwidth": bandwidth, "attn_mask": a.get("attn_mask")})
    weights @ values  # PyTorch's verdict on the values (dtype, length)
    return (weights.double() @ values.double()).to(weights.dtype)


def _mask_args(L: int, S: int | None) -> tuple[int, int]:
    return _int("L", L), (L if S is None else _int("S", S))


def ref_causal_mask(a):
    L, S = _mask_args(a["L"], a.get("S"))
    align = a.get("align", "top-left")
    if align not in ("top-left", "bottom-right"):
        raise ValueError("align")
    shift = 0 if align == "top-left" else S - L
    return torch.tensor([[j <= i + shift for j in range(S)] for i in range(L)], dtype=torch.bool).reshape(L, S)


def ref_padding_mask(a):
    lengths, max_len = a["lengths"], a.get("max_len")
    if isinstance(lengths, torch.Tensor):
        if lengths.dtype.is_floating_point or lengths.dtype in (torch.bool, torch.complex64) or lengths.ndim != 1:
            raise TypeError("lengths")
        lengths = lengths.tolist()
    if not isinstance(lengths, (list, tuple)) or any(isinstance(n, bool) or not isinstance(n, int) for n in lengths):
        raise TypeError("lengths")
    if any(n < 0 for n in lengths):
        raise ValueError("lengths")
    S = max(lengths, default=0) if max_len is None else _int("max_len", max_len)
    if max(lengths, default=0) > S:
        raise ValueError("max_len")
    return torch.tensor([[j < n for j in range(S)] for n in lengths], dtype=torch.bool).reshape(len(lengths), S)


def ref_window_mask(a, dilation: int = 1):
    L, window = _int("L", a["L"]), _int("window", a["window"])
    causal = a.get("causal", False)
    return torch.tensor([[abs(i - j) <= window * dilation and (i - j) % dilation == 0 and (not causal or j <= i)
                          for j in range(L)] for i in range(L)], dtype=torch.bool).reshape(L, L)


def ref_dilated_mask(a):
    return ref_window_mask(a, _int("dilation", a["dilation"], 1))


def _positions(name: str, positions: Any, L: int) -> list[int]:
    if isinstance(positions, torch.Tensor):
        if positions.dtype.is_floating_point or positions.dtype == torch.bool:
            raise TypeError(name)
        positions = positions.reshape(-1).tolist()
    if not isinstance(positions, (list, tuple, range)) or any(isinstance(p, bool) or not isinstance(p, int)
                                                              for p in positions):
        raise TypeError(name)
    if any(not 0 <= p < L for p in positions):
        raise ValueError(name)
    return list(positions)


def ref_with_global_tokens(a):
    mask = a["mask"]
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2 or mask.size(0) != mask.size(1):
        raise ValueError("mask")
    L = mask.size(0)
    out = mask.clone()
    for p in _positions("positions", a["positions"], L):
        out[p, :] = out[:, p] = True
    return out & torch.ones(L, L, dtype=torch.bool).tril() if a.get("causal") else out


def ref_block_sparse_mask(a):
    _int("L", a["L"])
    _int("block_size", a["block_size"], 1)
    for name in ("window_blocks", "global_blocks", "random_blocks", "seed"):
        _int(name, a.get(name, 0))
    return masks.block_sparse_mask(**a)  # the pattern is random: the reference only checks the arguments


def _module_dtype(m: nn.Module) -> torch.dtype:
    return next(m.parameters()).dtype


def _linear(layer: nn.Linear, x: torch.Tensor, check: bool = True) -> torch.Tensor:
    if check:
        F.linear(x, layer.weight, layer.bias)  # PyTorch's verdict on x (dtype, width)
    return F.linear(x.double(), layer.weight.double(), None if layer.bias is None else layer.bias.double())


def naive_mha(m, query, key, value, mask=None, causal=False):
    """Float64 multi-head attention with the weights of the course's ``MultiHeadAttention`` ``m``."""
    H, Hkv, D = m.num_heads, m.num_kv_heads, m.head_dim
    for name, x in (("query", query), ("key", key), ("value", value)):
        if _float_tensor(name, x).dtype != _module_dtype(m) or x.ndim != 3:
            raise TypeError(name)
    q, k, v = _linear(m.q_proj, query), _linear(m.k_proj, key), _linear(m.v_proj, value)
    B, L, S = q.size(0), q.size(1), k.size(1)
    q = q.reshape(B, L, H, D).transpose(1, 2)
    k, v = (x.reshape(B, S, Hkv, D).transpose(1, 2).repeat_interleave(H // Hkv, 1) for x in (k, v))
    if mask is not None and mask.dim() == 3:
        mask = mask[:, None]
    out, weights = naive_attention(q, k, v, mask, 1 / math.sqrt(D), causal)
    out = _linear(m.out_proj, out.transpose(1, 2).reshape(B, L, H * D), check=False)
    return out.to(query.dtype), weights.to(query.dtype)


def _seeded(seed: int, build: Callable[[], Any]) -> Any:
    torch.manual_seed(seed)
    return build()


_BUILT: dict = {}


def built(seed: int, cls: type, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` with weights drawn from ``seed``, built once for the call and its reference.

    Modules are only run forward here, never trained, so one copy serves every perturbation of a draw's inputs.
    The arguments' types are part of the key: ``True`` must not find the module built with ``1``.
    """
    key = (seed, cls, *((type(x), x) for x in args), *((k, type(v), v) for k, v in kwargs.items()))
    if key not in _BUILT:
        if len(_BUILT) > 200:
            _BUILT.clear()
        _BUILT[key] = _seeded(seed, lambda: cls(*args, **kwargs))
    return _BUILT[key]


def mha_module(a):
    return built(a["seed"], multihead.MultiHeadAttention, a["embed_dim"], a["num_heads"], kdim=a.get("kdim"),
                 vdim=a.get("vdim"), dropout=a.get("dropout", 0.0), num_kv_heads=a.get("num_kv_heads"),
                 use_sdpa=a.get("use_sdpa", False))


def call_mha(a):
    fast = a.get("use_sdpa", False)
    return mha_module(a)(a["query"], a["key"], a["value"], attn_mask=a.get("attn_mask"), need_weights=not fast,
                         average_attn_weights=False)


def ref_mha(a):
    if a.get("num_kv_heads") is not None and (_int("num_kv_heads", a["num_kv_heads"], 1) and a["num_heads"] % a["num_kv_heads"]):
        raise ValueError("num_kv_heads")
    reference = nn.MultiheadAttention(a["embed_dim"], a["num_heads"], dropout=a.get("dropout", 0.0), kdim=a.get("kdim"),
                                      vdim=a.get("vdim"), batch_first=True)  # PyTorch's verdict on the sizes
    reference(a["query"], a["key"], a["value"])  # ... and on the inputs
    out, weights = naive_mha(mha_module(a), a["query"], a["key"], a["value"], a.get("attn_mask"))
    return out, None if a.get("use_sdpa") else weights


def self_attention_module(cls, a):
    return built(a["seed"], cls, a["embed_dim"], a.get("head_dim"), bias=a.get("bias", False))


def ref_self_attention(cls, a):
    _int("embed_dim", a["embed_dim"], 1)
    if a.get("head_dim") is not None:
        _int("head_dim", a["head_dim"], 1)
    m, x, mask = self_attention_module(cls, a), a["x"], a.get("attn_mask")
    if _float_tensor("x", x).ndim != 3:
        raise ValueError("x")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
        raise TypeError("attn_mask")  # this module takes boolean masks only
    if mask is not None and mask.shape != (x.size(1), x.size(1)):
        raise ValueError("attn_mask")
    q, k, v = _linear(m.W_q, x), _linear(m.W_k, x), _linear(m.W_v, x)
    out, weights = naive_attention(q, k, v, mask, 1 / math.sqrt(m.head_dim), causal=cls is self_attention.CausalSelfAttention)
    return out.to(x.dtype), weights.to(x.dtype)


def cross_module(a):
    return built(a["seed"], cross_attention.CrossAttention, a["embed_dim"], a["num_heads"], a.get("context_dim"))


def ref_cross(a):
    nn.MultiheadAttention(a["embed_dim"], a["num_heads"], kdim=a.get("context_dim"), vdim=a.get("context_dim"))
    mask = a.get("context_mask")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("context_mask")
        if mask.shape != a["context"].shape[:2]:
            raise ValueError("context_mask")
        mask = mask[:, None, :]
    return naive_mha(cross_module(a).attn, a["x"], a["context"], a["context"], mask)


def naive_patchify(images, p):
    B, C, Hi, Wi = images.shape
    if Hi * Wi == 0:
        return images.new_empty(B, 0, p * p * C)
    return torch.stack([images[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].permute(0, 2, 3, 1).reshape(B, p * p * C)
                        for r in range(Hi // p) for c in range(Wi // p)], dim=1).reshape(B, (Hi // p) * (Wi // p), p * p * C)


def ref_patchify(a):
    images, p = a["images"], _int("patch_size", a["patch_size"], 1)
    if not isinstance(images, torch.Tensor) or images.ndim != 4:  # any dtype: patches are a reshape
        raise TypeError("images")
    if images.size(2) % p or images.size(3) % p:
        raise ValueError("patch_size")
    return naive_patchify(images, p)


def ref_unpatchify(a):
    patches, p, C = a["patches"], _int("patch_size", a["patch_size"], 1), _int("channels", a["channels"], 1)
    if not isinstance(a["image_size"], tuple) or len(a["image_size"]) != 2:
        raise TypeError("image_size")
    Hi, Wi = (_int("image_size", n, 1) for n in a["image_size"])
    if Hi % p or Wi % p:
        raise ValueError("patch_size")
    if not isinstance(patches, torch.Tensor) or patches.ndim != 3 or patches.shape[1:] != ((Hi // p) * (Wi // p), p * p * C):
        raise ValueError("patches")
    B = patches.size(0)
    out = patches.new_empty(B, C, Hi, Wi)
    for s in range(patches.size(1)):
        r, c = divmod(s, Wi // p)
        out[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p] = patches[:, s].reshape(B, p, p, C).permute(0, 3, 1, 2)
    return out


def patch_module(a):
    return built(a["seed"], cross_attention.PatchEmbedding, a["image_size"], a["patch_size"], a["channels"], a["embed_dim"],
                 a.get("hidden_dim"))


def ref_patch_embedding(a):
    for name in ("image_size", "patch_size", "channels", "embed_dim"):
        _int(name, a[name], 1)
    if a.get("hidden_dim") is not None:
        _int("hidden_dim", a["hidden_dim"], 1)
    m, images = patch_module(a), _float_tensor("images", a["images"])
    if images.dtype != torch.float32 or images.shape[1:] != (a["channels"], a["image_size"], a["image_size"]):
        raise TypeError("images")
    x = naive_patchify(images, a["patch_size"])
    x = _linear(m.proj, x) if isinstance(m.proj, nn.Linear) else _linear(m.proj[2], F.gelu(_linear(m.proj[0], x)), check=False)
    return (x + m.position.double()).float()


def naive_sinusoidal(L, E, base):
    pe = torch.zeros(L, E, dtype=torch.float64)
    for p in range(L):
        for i in range(E):
            angle = p / base ** (2 * (i // 2) / E)
            pe[p, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


def ref_sinusoidal(a):
    L, E = _int("L", a["L"]), _int("E", a["E"], 1)
    return naive_sinusoidal(L, E, _number("base", a.get("base", 10_000.0))).float()


def naive_angles(positions, D, base, dtype):
    if not isinstance(positions, torch.Tensor) or positions.ndim != 1 or positions.dtype == torch.bool \
            or positions.is_complex():
        raise TypeError("positions")
    D, base = _int("D", D, 2), _number("base", base)
    if D % 2:
        raise ValueError("D")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError("dtype")
    theta = torch.tensor([1 / base ** (2 * i / D) for i in range(D // 2)], dtype=torch.float64)
    return (positions.double()[:, None] * theta).to(dtype)


def ref_rotary_angles(a):
    return naive_angles(a["positions"], a["D"], a.get("base", 10_000.0), a.get("dtype", torch.float64))


def ref_rotary_tables(a):
    angle = ref_rotary_angles(a)
    return torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)


def naive_rotate(x, cos, sin):
    x = _float_tensor("x", x)
    D = x.size(-1)
    if x.ndim < 2 or D % 2:
        raise ValueError("x")
    for name, t in (("cos", cos), ("sin", sin)):
        if _float_tensor(name, t).shape != x.shape[-2:]:
            raise ValueError(name)
    x1, x2 = x.double()[..., : D // 2], x.double()[..., D // 2:]
    c, s = cos.double()[:, : D // 2], sin.double()[:, : D // 2]
    if not (torch.equal(cos[:, : D // 2], cos[:, D // 2:]) and torch.equal(sin[:, : D // 2], sin[:, D // 2:])):
        c, s = cos.double(), sin.double()  # tables not from rotary_tables: the formula of rotate itself
        return (x.double() * c + torch.cat([-x2, x1], -1) * s).to(x.dtype)
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1).to(x.dtype)  # pair i turned by its angle


def ref_rotate(a):
    return naive_rotate(a["x"], a["cos"], a["sin"])


def ref_apply_rotary(a):
    x = _float_tensor("x", a["x"])
    if x.ndim < 2:
        raise ValueError("x")
    L, D = x.shape[-2:]
    positions = a.get("positions")
    positions = torch.arange(L) if positions is None else positions
    if isinstance(positions, torch.Tensor) and positions.shape != (L,):
        raise ValueError("positions")
    angle = naive_angles(positions, D, a.get("base", 10_000.0), a.get("angle_dtype", torch.float64))
    return naive_rotate(x, torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1))


def naive_alibi_slopes(H):
    """ALiBi's slopes by the reference code's rule: 2^(-8h/n) for the largest power of two n <= H, then odd h of 2n."""
    n = 1
    while 2 * n <= H:
        n *= 2
    return [2 ** (-8 * h / n) for h in range(1, n + 1)] + [2 ** (-4 * h / n) for h in range(1, 2 * (H - n), 2)]


def ref_alibi_slopes(a):
    return torch.tensor(naive_alibi_slopes(_int("num_heads", a["num_heads"], 1)), dtype=torch.float64).float()


def ref_alibi_bias(a):
    slopes = naive_alibi_slopes(_int("num_heads", a["num_heads"], 1))
    L = _int("L", a["L"])
    S = L if a.get("S") is None else _int("S", a["S"])
    causal = a.get("causal", False)
    if not isinstance(causal, bool):
        raise TypeError("causal")
    align = a.get("align", "top-left")
    if align not in ("top-left", "bottom-right"):
        raise ValueError("align")
    first = 0 if align == "top-left" else S - L  # query i sits at position first + i
    bias = torch.tensor([[[-math.inf if causal and j > first + i else -m * abs(first + i - j) for j in range(S)]
                          for i in range(L)] for m in slopes], dtype=torch.float64)
    return bias.reshape(len(slopes), L, S).float()


def naive_bucket(n, bidirectional, num_buckets, max_distance):
    """T5's bucket of one offset n = j - i (Hugging Face's T5Attention._relative_position_bucket), in plain Python."""
    half = num_buckets // 2 if bidirectional else num_buckets
    bucket = half if bidirectional and n > 0 else 0
    distance = abs(n) if bidirectional else max(-n, 0)
    exact = half // 2
    if distance < exact:
        return bucket + distance
    # + 1e-9: a boundary that is a whole number (log(4)/log(32)·5 = 2) stays one in float64 (T5's float32 gets it right)
    large = exact + int(math.log(distance / exact) / math.log(max_distance / exact) * (half - exact) + 1e-9)
    return bucket + min(large, half - 1)


def _bucket_options(a):
    bidirectional = a.get("bidirectional", True)
    if not isinstance(bidirectional, bool):
        raise TypeError("bidirectional")
    num_buckets = _int("num_buckets", a.get("num_buckets", 32), 4 if bidirectional else 2)
    exact = (num_buckets // 2 if bidirectional else num_buckets) // 2
    return bidirectional, num_buckets, _int("max_distance", a.get("max_distance", 128), exact + 1)


def ref_relative_position_bucket(a):
    offsets = a["relative_position"]
    if not isinstance(offsets, torch.Tensor) or offsets.dtype == torch.bool or offsets.is_floating_point() \
            or offsets.is_complex():
        raise TypeError("relative_position")
    options = _bucket_options(a)
    return torch.tensor([naive_bucket(n, *options) for n in offsets.reshape(-1).tolist()],
                        dtype=torch.long).reshape(offsets.shape)


def relative_bias_module(a):
    return built(a["seed"], positions.RelativePositionBias, a["num_heads"], num_buckets=a.get("num_buckets", 32),
                 max_distance=a.get("max_distance", 128))


def ref_relative_position_bias(a):
    _int("num_heads", a["num_heads"], 1)
    options = _bucket_options(a)
    L = _int("L", a["L"])
    S = L if a.get("S") is None else _int("S", a["S"])
    table = relative_bias_module(a).table.weight.detach()  # (buckets, H)
    buckets = torch.tensor([[naive_bucket(j - i, *options) for j in range(S)] for i in range(L)], dtype=torch.long)
    return table[buckets.reshape(L, S)].permute(2, 0, 1)  # (L, S, H) -> (H, L, S)


def ref_flash(a):
    q, k, v = a["query"], a["key"], a["value"]
    _int("block_size", a.get("block_size", 256), 1)
    causal, scale = a.get("is_causal", False), a.get("scale")
    F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)  # PyTorch's verdict
    return F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal, scale=scale).to(q.dtype)


def ref_triton(a):
    q, k, v = a["query"], a["key"], a["value"]
    for name in ("block_m", "block_n"):
        n = _int(name, a.get(name, 64), 16)
        if n & (n - 1):
            raise ValueError(name)
    if not all(isinstance(t, torch.Tensor) and t.ndim == 4 and t.dtype in (torch.float16, torch.float32) for t in (q, k, v)):
        raise TypeError("query")
    if not q.dtype == k.dtype == v.dtype or k.shape != v.shape:
        raise TypeError("key")
    return ref_flash(a)


def ref_online_softmax(a):
    _int("block_size", a["block_size"], 1)
    x = a["x"]
    xt = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    if not xt.is_floating_point() or xt.ndim == 0:
        raise TypeError("x")
    return naive_softmax(xt.double()).numpy()


def ref_local(a, global_positions=None):
    q, k, v = (_float_tensor(n, a[n]) for n in ("query", "key", "value"))
    window, causal = _int("window", a["window"]), a.get("causal", False)
    if a.get("block_size") is not None:
        _int("block_size", a["block_size"], 1)
    F.scaled_dot_product_attention(q, k, v, scale=a.get("scale"))  # PyTorch's verdict
    L = q.size(-2)
    if k.size(-2) != L:
        raise ValueError("key")
    allowed = ref_window_mask({"L": L, "window": window, "causal": causal})
    if global_positions is not None:
        allowed = ref_with_global_tokens({"mask": allowed, "positions": global_positions, "causal": causal})
    return naive_attention(q, k, v, allowed, a.get("scale"))[0].to(q.dtype)


def ref_attend(a):
    scores, values, mask = _float_tensor("scores", a["scores"]), _float_tensor("values", a["values"]), a.get("mask")
    single = scores.ndim == 2
    s = scores[:, None] if single else scores
    if s.ndim != 3 or values.ndim != 3 or values.shape[:2] != (s.size(0), s.size(2)) or values.dtype != scores.dtype:
        raise ValueError("values")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask")
        if mask.shape != (s.size(0), s.size(2)):
            raise ValueError("mask")
        s = s.masked_fill(~mask[:, None], -math.inf)
    w = naive_softmax(s)
    context = w @ values.double()
    context, w = (context[:, 0], w[:, 0]) if single else (context, w)
    return context.to(scores.dtype), w.to(scores.dtype)


def ref_rnn_attention(a):
    m = rnn_attention_module(a)
    query, keys = _float_tensor("query", a["query"]), _float_tensor("keys", a["keys"])
    values = keys if a.get("values") is None else _float_tensor("values", a["values"])
    for name, x in (("query", query), ("keys", keys), ("values", values)):
        if x.dtype != torch.float32:
            raise TypeError(name)
    if query.ndim not in (2, 3) or keys.ndim != 3 or values.ndim != 3 or values.shape[:2] != keys.shape[:2] \
            or query.size(0) != keys.size(0):
        raise ValueError("query")
    q = query[:, None] if query.ndim == 2 else query
    with torch.no_grad():
        m64 = copy.deepcopy(m).double()
        scores = m64.score(q.double(), keys.double())
    result = ref_attend({"scores": scores, "values": values.double(), "mask": a.get("mask")})
    context, w = result if query.ndim == 3 else (result[0][:, 0], result[1][:, 0])
    return context.float(), w.float()


def rnn_attention_module(a):
    if a["kind"] == "additive":
        return built(a["seed"], rnn.AdditiveAttention, a["query_dim"], a["key_dim"], a["hidden_dim"])
    return built(a["seed"], rnn.LuongAttention, a["query_dim"], a["key_dim"], a["kind"], a.get("hidden_dim"))


def ref_hf_mask(a):
    m = a["attention_mask"]
    if not isinstance(m, torch.Tensor) or m.ndim != 2 or m.is_floating_point() or m.is_complex():
        raise TypeError("attention_mask")
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("attention_mask")
    return (m != 0)[:, None, None, :]


def _weights(w):
    if not isinstance(w, torch.Tensor) or not w.is_floating_point() or w.ndim < 2 or w.size(-1) != w.size(-2):
        raise TypeError("weights")
    return w


def ref_offset_scores(a):
    w, offset = _weights(a["weights"]), _int("offset", a["offset"], -10**9)
    L = w.size(-1)
    if abs(offset) >= L:
        raise ValueError("offset")
    rows = [i for i in range(L) if 0 <= i - offset < L]
    return torch.stack([w[..., i, i - offset].double() for i in rows], -1).mean(-1).to(w.dtype)


def ref_induction_scores(a):
    w, T = _weights(a["weights"]), _int("T", a["T"], 1)
    if w.size(-1) != 2 * T:
        raise ValueError("T")
    return torch.stack([w[..., i, i - T + 1].double() for i in range(T, 2 * T)], -1).mean(-1).to(w.dtype)


def ref_entropy(a):
    w = _float_tensor("weights", a["weights"])
    if w.ndim < 2:
        raise ValueError("weights")
    w64 = w.double().clamp_min(0)
    return -(w64 * torch.where(w64 > 0, w64.log(), 0.0)).sum(-1).to(w.dtype)


def ref_rollout(a):
    weights, residual = a["weights"], _number("residual", a.get("residual", 0.5), positive=False)
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError("weights")
    if not 0 <= residual <= 1:
        raise ValueError("residual")
    rollout = None
    for w in weights:
        w = _float_tensor("weights", w)
        if w.ndim != 4 or w.size(-1) != w.size(-2) or w.size(1) == 0 or w.shape != weights[0].shape:
            raise ValueError("weights")
        m = residual * torch.eye(w.size(-1), dtype=torch.float64) + (1 - residual) * w.double().mean(1)
        total = m.sum(-1, keepdim=True)
        m = m / torch.where(total == 0, 1.0, total)  # a query with no weight at all stays at zero
        rollout = m if rollout is None else m @ rollout
    return rollout.to(weights[0].dtype)


def ref_unpermute(a):
    w, heads = a["weight"], _int("heads", a["heads"], 1)
    if not isinstance(w, torch.Tensor) or w.ndim != 2:
        raise TypeError("weight")
    D = w.size(0) // heads
    if D * heads != w.size(0) or D % 2:
        raise ValueError("weight")
    out = torch.empty_like(w)
    for h in range(heads):
        for i in range(D // 2):
            out[h * D + i], out[h * D + D // 2 + i] = w[h * D + 2 * i], w[h * D + 2 * i + 1]
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Comparing a result with the reference's
# ---------------------------------------------------------------------------------------------------------------------

_TOLERANCE = {torch.float16: 2e-2, torch.bfloat16: 8e-2, torch.float32: 2e-5, torch.float64: 1e-9}


def _dtype(x: Any) -> torch.dtype:
    return x.dtype if isinstance(x, torch.Tensor) else torch.from_numpy(np.zeros(0, dtype=x.dtype)).dtype


def tolerance(args: dict, expected: Any) -> float:
    """The loosest tolerance of the floating dtypes among the arguments and the expected result."""
    found = [_dtype(x) for x in [*args.values(), expected] if runtime.is_array(x)]
    found += [_dtype(x) for v in args.values() if isinstance(v, (list, tuple)) for x in v if runtime.is_array(x)]
    return max([_TOLERANCE.get(d, 0.0) for d in found] + [1e-9])


def mismatch(actual: Any, expected: Any, tol: float) -> str | None:
    """None when ``actual`` is ``expected`` (arrays: same kind, dtype, shape and values within ``tol``)."""
    if isinstance(expected, np.generic):
        expected = np.asarray(expected)
    if isinstance(actual, np.generic):
        actual = np.asarray(actual)
    if runtime.is_array(expected):
        if type(actual) is not type(expected):
            return f"returned a {type(actual).__name__}, expected a {type(expected).__name__}"
        if _dtype(actual) != _dtype(expected) or tuple(actual.shape) != tuple(expected.shape):
            return f"returned {describe(actual)}, expected {describe(expected)}"
        a64, e64 = (torch.as_tensor(np.asarray(x) if isinstance(x, np.ndarray) else x).detach().cpu()
                    for x in (actual, expected))
        if a64.dtype == torch.bool or not (a64.is_floating_point() or a64.is_complex()):
            return None if torch.equal(a64, e64) else f"returned {a64.tolist()}, expected {e64.tolist()}"
        try:
            torch.testing.assert_close(a64.double(), e64.double(), atol=tol, rtol=tol, equal_nan=True)
        except AssertionError as e:
            return f"values differ: {str(e).splitlines()[1:4]}"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"returned {describe(actual)}, expected {describe(expected)}"
        for i, (x, y) in enumerate(zip(actual, expected)):
            if (why := mismatch(x, y, tol)) is not None:
                return f"[{i}] {why}"
        return None
    if isinstance(expected, type):  # only the kind of result is fixed (an Axes, a float from a clock)
        return None if isinstance(actual, expected) else f"returned {describe(actual)}, expected a {expected.__name__}"
    if isinstance(expected, float) and isinstance(actual, float):
        return None if math.isclose(actual, expected, rel_tol=1e-12) else f"returned {actual}, expected {expected}"
    if type(actual) is not type(expected) or actual != expected:
        return f"returned {describe(actual)}, expected {describe(expected)}"
    return None


def describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"Tensor({str(x.dtype).removeprefix('torch.')}, {tuple(x.shape)})"
    if isinstance(x, np.ndarray):
        return f"ndarray({x.dtype}, {x.shape})"
    if isinstance(x, (tuple, list)) and len(x) <= 6:
        inner = ", ".join(describe(y) for y in x)
        return f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}={describe(v)}" for k, v in x.items()) + "}"
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message) is not None


def finite(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return not (x.is_floating_point() or x.is_complex()) or bool(torch.isfinite(x).all())
    if isinstance(x, (tuple, list)):
        return all(finite(y) for y in x)
    if isinstance(x, dict):
        return all(finite(y) for y in x.values())
    return True


# ---------------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One public function or class: how to call it, build a legal call, what it must return, what to perturb."""

    name: str  # module.function, or module.Class(.method)
    covers: str  # the public names it exercises (space-separated)
    args: Callable[[Draw], dict]  # a legal call's arguments
    call: Callable[[dict], Any]
    reference: Callable[[dict], Any] | None = None  # raises where the call must be rejected
    perturb: dict[str, list[P]] = field(default_factory=dict)  # argument -> its perturbations
    empty: list[P] = field(default_factory=list)  # zero-length axes: must return the reference's result
    sizes: str = ""  # letters drawn from 1 to 3
    check: Callable[[Any, dict], str | None] | None = None  # rows without a reference: the result of a legal call
    examples: int = 3

    def cases(self) -> list[tuple[str, P]]:
        return [("", p) for p in self.empty] + [(arg, p) for arg, ps in self.perturb.items() for p in ps]


def fn_call(fn: Callable) -> Callable[[dict], Any]:
    return lambda a: fn(**a)


def shape_is(expected: Callable[[dict], tuple]) -> Callable[[Any, dict], str | None]:
    """For rows without a reference: the result (or its first element) has this shape and is finite."""

    def check(out: Any, a: dict) -> str | None:
        first = out[0] if isinstance(out, tuple) else out
        if tuple(first.shape) != tuple(expected(a)):
            return f"returned shape {tuple(first.shape)}, expected {tuple(expected(a))}"
        return None if finite(out) else f"returned non-finite values: {describe(out)}"

    return check


def plot_call(fn: Callable) -> Callable[[dict], Any]:
    def call(a: dict) -> Any:
        try:
            return fn(**a)
        finally:
            plt.close("all")

    return call


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="attn-bad-inputs-")) / "progress.json"


def _vocab() -> data.CharVocab:
    return data.CharVocab("abc")


def _tiny_seq2seq(seed: int) -> rnn.Seq2Seq:
    def build():
        encoder = rnn.Encoder(6, 4, 4)
        return rnn.Seq2Seq(encoder, rnn.Decoder(6, 4, 4, 8, rnn.LuongAttention(4, 8)))

    return _seeded(seed, build)


def _split(d: Draw) -> data.TranslationSplit:
    pairs = [("ab", "ba"), ("abc", "cab"), ("a", "a")][: d["B"]]
    vocab = data.CharVocab("abc")
    return data.encode_pairs(pairs, vocab, vocab)


def _translator(a: dict) -> transformer.TransformerTranslator:
    return built(0, transformer.TransformerTranslator, 6, 6, a.get("max_src_len", 4), 4, embed_dim=8, num_heads=2)


def _image_model(a: dict) -> transformer.ImageQuestionModel:
    return built(0, transformer.ImageQuestionModel, 6, 5, image_size=8, patch_size=4, channels=3, embed_dim=8, num_heads=2,
                 max_question_len=4, patch_hidden_dim=None)


MHA_SIZES = "B L S H D"
QKV = {"query": TENSOR, "key": TENSOR, "value": TENSOR}


ROWS: list[Row] = [
    # --- runtime (notebook 00) ---
    Row("runtime.set_seed", "set_seed", lambda d: {"seed": d.seed}, fn_call(runtime.set_seed),
        lambda a: [_int("seed", a["seed"]), None][1],
        perturb={"seed": INT_BAD}),
    Row("runtime.device", "device", lambda d: {}, fn_call(runtime.device), lambda a: torch.device("cpu")),
    Row("runtime.check_shape", "check_shape", lambda d: {"tensor": d.t("B L E"), "spec": "B L E"}, fn_call(runtime.check_shape),
        lambda a: dict(zip(a["spec"].split(), runtime._shape(a["tensor"]), strict=True)), sizes="B L E",
        perturb={"tensor": [*NOT_TENSORS[1:], NDIMS[0]], "spec": [const("None", None), const("'B 1'", "B 1")]},
        empty=empties("B L E")),
    Row("runtime.is_array", "is_array", lambda d: {"x": d.t("B")}, fn_call(runtime.is_array),
        lambda a: isinstance(a["x"], (torch.Tensor, np.ndarray)), sizes="B", perturb={"x": NOT_TENSORS}),
    Row("runtime.require_floating", "require_floating", lambda d: {"name": "x", "x": d.t("B")}, fn_call(runtime.require_floating),
        lambda a: [_float_tensor("x", _torch(a["x"])), None][1], sizes="B", perturb={"x": OTHER_DTYPES + NOT_TENSORS}),
    Row("runtime.require_int", "require_int", lambda d: {"name": "n", "n": d["B"]}, fn_call(runtime.require_int),
        lambda a: _int("n", a["n"]), sizes="B", perturb={"n": INT_BAD}),
    Row("runtime.require_tensor", "require_tensor", lambda d: {"name": "x", "x": d.t("B"), "floating": True},
        fn_call(runtime.require_tensor), lambda a: _float_tensor("x", a["x"]), sizes="B",
        perturb={"x": OTHER_DTYPES + NOT_TENSORS}),
    Row("runtime.require_same_dtype", "require_same_dtype",
        lambda d: {"name": "x", "x": d.t("B"), "dtype": torch.float32, "whose": "the module's"},
        fn_call(runtime.require_same_dtype),
        lambda a: [_float_tensor("x", a["x"]) if a["x"].dtype == torch.float32 else 1 / 0, None][1],
        sizes="B", perturb={"x": FLOAT_DTYPES + OTHER_DTYPES[:1]}),
    Row("runtime.require_number", "require_number", lambda d: {"name": "value", "value": d["B"] / 2, "positive": True},
        fn_call(runtime.require_number), lambda a: [_number("value", a["value"]), a["value"]][1], sizes="B",
        perturb={"value": POSITIVE + [const("True", True), const("a NumPy float", np.float32(0.5), legal=True)]}),
    Row("runtime.require_device", "require_device", lambda d: {"name": "where", "where": "cpu"}, fn_call(runtime.require_device),
        lambda a: torch.device("cpu") if a["where"] in ("cpu", torch.device("cpu")) else None if a["where"] is None else 1 / 0,
        perturb={"where": [const("'nope'", "nope"), const("5", 5), const("None", None, legal=True), const("'cuda'", "cuda"),
                           const("a torch.device", torch.device("cpu"), legal=True)]}),
    # --- softmax (notebook 02) ---
    Row("softmax.softmax", "softmax", lambda d: {"x": d.t("B L S")}, fn_call(softmax.softmax), ref_softmax, sizes="B L S",
        perturb={"x": TENSOR + [P("a row of -inf", lambda v, d: v.index_fill(-2, torch.tensor([0]), -math.inf), legal=True)],
                 "dim": [const("0", 0), const("-3", -3), const("3", 3), const("-4", -4), const("True", True),
                         const("1.5", 1.5), const("None", None)],
                 "temperature": POSITIVE + [P("a tensor of rows", lambda v, d: d.t("B L 1").abs() + 0.1, legal=True),
                                            const("a tensor with a 0", torch.tensor([1.0, 0.0]))]},
        empty=empties("B L S")),
    Row("softmax.logsumexp", "logsumexp", lambda d: {"x": d.t("B L S"), "keepdim": d.seed % 2 == 0}, fn_call(softmax.logsumexp),
        ref_logsumexp, sizes="B L S",
        perturb={"x": TENSOR + [P("a row of -inf", lambda v, d: v.index_fill(-2, torch.tensor([0]), -math.inf), legal=True)],
                 "dim": [const("0", 0), const("3", 3), const("1.5", 1.5), const("None", None)]},
        empty=empties("B L S")),
    # --- similarity (notebook 01) ---
    *[Row(f"similarity.{fn.__name__}", fn.__name__, lambda d: {"q": d.t("B L E"), "k": d.t("B S E")}, fn_call(fn), ref,
          sizes="B L S E", perturb={"q": TENSOR, "k": TENSOR, **extra}, empty=empties("B L S E"))
      for fn, ref, extra in ((similarity.dot_scores, ref_dot_scores, {}),
                             (similarity.cosine_scores, ref_cosine_scores,
                              {"eps": [const("0", 0.0), const("-1", -1.0)] + NUMBER_BAD}))],
    # --- attention (notebooks 03 and 04) ---
    Row("attention.scaled_dot_product_attention", "scaled_dot_product_attention",
        lambda d: {"query": d.t("B L E"), "key": d.t("B S E"), "value": d.t("B S Ev"), "return_weights": True},
        fn_call(attention.scaled_dot_product_attention), ref_sdpa, sizes="B L S E Ev",
        perturb={**QKV, "attn_mask": bool_mask("B L S"), "is_causal": [const("True", True, legal=True)],
                 "scale": [const("0", 0.0, legal=True), const("-2", -2.0, legal=True), const("'x'", "x")]},
        empty=empties("B L S E Ev")),
    Row("attention.gaussian_kernel_weights", "gaussian_kernel_weights",
        lambda d: {"queries": d.t("B L"), "keys": d.t("B S"), "bandwidth": 0.5 + d["B"] / 2},
        fn_call(attention.gaussian_kernel_weights), ref_gaussian_weights, sizes="B L S",
        perturb={"queries": TENSOR, "keys": TENSOR, "attn_mask": bool_mask("B L S", float_ok=False),
                 "bandwidth": POSITIVE + [const("a tensor", torch.tensor(0.7), legal=True)]},
        empty=empties("B L S")),
    Row("attention.KernelRegression", "KernelRegression",
        lambda d: {"bandwidth": 0.5 + d["L"] / 2, "queries": d.t("L"), "keys": d.t("S"), "values": d.t("S")},
        lambda a: attention.KernelRegression(a.pop("bandwidth"))(**a), ref_kernel_regression, sizes="L S",
        perturb={"bandwidth": POSITIVE, "queries": TENSOR, "keys": TENSOR, "values": TENSOR,
                 "attn_mask": bool_mask("L S", float_ok=False)},
        empty=empties("L S")),
    # --- masks (notebooks 04 and 10) ---
    Row("masks.causal_mask", "causal_mask",
        lambda d: {"L": d["L"], "S": d["S"], "align": ["top-left", "bottom-right"][d.seed % 2]},
        fn_call(masks.causal_mask), ref_causal_mask, sizes="L S",
        perturb={"L": INT_BAD, "S": INT_BAD[:-1] + [const("None", None, legal=True)],
                 "align": [const("'middle'", "middle"), const("None", None)], "device": [const("'nope'", "nope")]},
        empty=empties("L S")),
    Row("masks.padding_mask", "padding_mask", lambda d: {"lengths": [d["S"]] * d["B"], "max_len": d["S"]},
        fn_call(masks.padding_mask), ref_padding_mask, sizes="B S",
        perturb={"lengths": [const("a float tensor", torch.tensor([1.0, 2.0])), const("a 2-d tensor", torch.tensor([[1, 2]])),
                             const("a negative length", [2, -1]), const("[1.5]", [1.5]), const("[True]", [True]),
                             const("None", None), const("'ab'", "ab")],
                 "max_len": INT_BAD[:-1] + [const("None", None, legal=True), const("shorter than a length", 0)]},
        empty=empties("B S")),
    Row("masks.sliding_window_mask", "sliding_window_mask",
        lambda d: {"L": d["L"], "window": d["S"] - 1, "causal": d.seed % 2 == 0},
        fn_call(masks.sliding_window_mask), ref_window_mask, sizes="L S",
        perturb={"L": INT_BAD, "window": INT_BAD}, empty=empties("L")),
    Row("masks.dilated_window_mask", "dilated_window_mask",
        lambda d: {"L": d["L"], "window": d["S"] - 1, "dilation": d["B"], "causal": d.seed % 2 == 0},
        fn_call(masks.dilated_window_mask), ref_dilated_mask, sizes="L S B",
        perturb={"L": INT_BAD, "window": INT_BAD, "dilation": COUNT}, empty=empties("L")),
    Row("masks.with_global_tokens", "with_global_tokens",
        lambda d: {"mask": d.mask("L L"), "positions": [0], "causal": d.seed % 2 == 0},
        fn_call(masks.with_global_tokens), ref_with_global_tokens, sizes="L",
        perturb={"mask": [cast(torch.int64), const("None", None), P("not square", lambda v, d: d.mask("L 4")),
                          P("numpy", lambda v, d: v.numpy())],
                 "positions": [const("[-1]", [-1]), const("[L]", [99]), const("[1.5]", [0.5]), const("None", None),
                               const("[]", [], legal=True), const("a tensor", torch.tensor([0]), legal=True)]}),
    Row("masks.block_sparse_mask", "block_sparse_mask", lambda d: {"L": d["L"] * d["B"], "block_size": d["B"]},
        fn_call(masks.block_sparse_mask), ref_block_sparse_mask, sizes="L B",
        perturb={"L": INT_BAD, "block_size": COUNT, "window_blocks": INT_BAD[:-1], "global_blocks": INT_BAD[:-1],
                 "random_blocks": INT_BAD[:-1], "seed": [const("1.5", 1.5), const("None", None)]},
        empty=empties("L")),
    Row("masks.check_attn_mask", "check_attn_mask", lambda d: {"attn_mask": d.mask("L S"), "scores_shape": d.shape("B L S")},
        fn_call(masks.check_attn_mask), lambda a: [F.scaled_dot_product_attention(*_probe(a)), None][1], sizes="B L S",
        perturb={"attn_mask": bool_mask("L S")[1:], "scores_shape": [const("None", None), const("(-1,)", (-1,))]},
        empty=empties("B L S")),
    Row("masks.apply_attn_mask", "apply_attn_mask", lambda d: {"scores": d.t("B L S"), "attn_mask": d.mask("L S")},
        fn_call(masks.apply_attn_mask), lambda a: _apply_mask_reference(a), sizes="B L S",
        perturb={"scores": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()), const("None", None),
                            grow(-1)],
                 "attn_mask": bool_mask("L S") + [const("None", None, legal=True)]},
        empty=empties("B L S")),
    Row("masks.relative_positions", "relative_positions",
        lambda d: {"query_positions": torch.arange(d["L"]), "key_positions": torch.arange(d["S"])},
        fn_call(masks.relative_positions), lambda a: _relative_reference(a), sizes="L S",
        perturb={"query_positions": [P("list", lambda v, d: v.tolist()), P("2-d", lambda v, d: v[None]),
                                     const("0-d", torch.tensor(1)),
                                     P("float", lambda v, d: v.float(), legal=True), const("None", None)],
                 "key_positions": [P("numpy", lambda v, d: v.numpy()), P("bool", lambda v, d: v > 0)]},
        empty=empties("L S")),
    Row("masks.within_window", "within_window", lambda d: {"offset": d.ids("L S", 7) - 3, "window": d["W"] - 1},
        fn_call(masks.within_window), lambda a: _within_reference(a), sizes="L S W",
        perturb={"offset": [P("list", lambda v, d: v.tolist()), const("None", None), P("numpy", lambda v, d: v.numpy())],
                 "window": INT_BAD, "causal": [const("'yes'", "yes")]},
        empty=empties("L S")),
    # --- plotting (notebooks 01 and 10) ---
    Row("plotting.plot_attention", "plot_attention", lambda d: {"weights": d.t("L S").softmax(-1), "annotate": False},
        plot_call(plotting.plot_attention), lambda a: _plot_reference(a), sizes="L S", examples=1,
        perturb={"weights": [P("numpy", lambda v, d: v.numpy(), legal=True), P("list", lambda v, d: v.tolist(), legal=True),
                             cast(torch.int64), cast(torch.complex64), const("None", None), const("0-d", torch.tensor(0.5)),
                             P("1-d", lambda v, d: v.flatten()), P("a leading 1", lambda v, d: v[None], legal=True),
                             P("3-d", lambda v, d: torch.stack([v, v]))],
                 "query_labels": [const("too few", []), const("an int", 5)], "key_labels": [const("too few", [])],
                 "ax": [const("'x'", "x")]},
        empty=empties("L S")),
    Row("plotting.plot_mask", "plot_mask", lambda d: {"mask": d.mask("L S")}, plot_call(plotting.plot_mask),
        lambda a: _plot_reference(a, mask=True), sizes="L S", examples=1,
        perturb={"mask": [P("numpy", lambda v, d: v.numpy(), legal=True), P("list", lambda v, d: v.tolist(), legal=True),
                          P("float", lambda v, d: v.float()), const("None", None), P("1-d", lambda v, d: v.flatten()),
                          P("3-d", lambda v, d: v[None])],
                 "ax": [const("'x'", "x")]},
        empty=empties("L S")),
    # --- positions (notebook 06) ---
    Row("positions.sinusoidal_positions", "sinusoidal_positions", lambda d: {"L": d["L"], "E": d["E"]},
        fn_call(positions.sinusoidal_positions), ref_sinusoidal, sizes="L E",
        perturb={"L": INT_BAD, "E": COUNT, "base": POSITIVE + [const("1", 1.0, legal=True)]}, empty=empties("L")),
    Row("positions.rotary_angles", "rotary_angles", lambda d: {"positions": torch.arange(d["L"]), "D": 2 * d["D"]},
        fn_call(positions.rotary_angles), ref_rotary_angles, sizes="L D",
        perturb={"positions": [P("float", lambda v, d: v.float() + 0.5, legal=True), P("list", lambda v, d: v.tolist()),
                               P("2-d", lambda v, d: v[None]), const("0-d", torch.tensor(1)), cast(torch.complex64),
                               P("numpy", lambda v, d: v.numpy()), const("None", None)],
                 "D": COUNT + [const("3", 3)], "base": POSITIVE,
                 "dtype": [const("float16", torch.float16), const("'float64'", "float64")]},
        empty=empties("L")),
    Row("positions.rotary_tables", "rotary_tables", lambda d: {"positions": torch.arange(d["L"]), "D": 2 * d["D"]},
        fn_call(positions.rotary_tables), ref_rotary_tables, sizes="L D",
        perturb={"positions": [P("list", lambda v, d: v.tolist()), P("2-d", lambda v, d: v[None]), const("None", None)],
                 "D": [const("0", 0), const("3", 3), const("1.5", 1.5)], "base": POSITIVE},
        empty=empties("L")),
    Row("positions.rotate", "rotate",
        lambda d: dict(zip(("cos", "sin"), ref_rotary_tables({"positions": torch.arange(d["L"]), "D": 2 * d["D"]}), strict=True),
                       x=d.t(f"B L {2 * d['D']}")),
        fn_call(positions.rotate), ref_rotate, sizes="B L D",
        perturb={"x": TENSOR + [P("odd D", lambda v, d: v[..., :-1])],
                 "cos": [P("wrong shape", lambda v, d: v[:, :-1]), cast(torch.int64), P("list", lambda v, d: v.tolist()),
                         const("None", None)],
                 "sin": [P("wrong shape", lambda v, d: v[:-1] if len(v) else v[:, :-1]), P("numpy", lambda v, d: v.numpy())]},
        empty=empties("B L")),
    Row("positions.apply_rotary", "apply_rotary", lambda d: {"x": d.t(f"B L {2 * d['D']}")}, fn_call(positions.apply_rotary),
        ref_apply_rotary, sizes="B L D",
        perturb={"x": TENSOR + [P("odd D", lambda v, d: v[..., :-1])],
                 "positions": [P("a tensor", lambda v, d: torch.arange(d["L"]) + 3, legal=True),
                               P("list", lambda v, d: list(range(d["L"]))), const("too long", torch.arange(9)),
                               P("float", lambda v, d: torch.arange(d["L"]) / 2, legal=True)],
                 "base": POSITIVE, "angle_dtype": [const("float16", torch.float16)]},
        empty=empties("B L")),
    Row("positions.alibi_slopes", "alibi_slopes", lambda d: {"num_heads": d["H"] + d["L"] + 2},
        fn_call(positions.alibi_slopes), ref_alibi_slopes, sizes="H L", perturb={"num_heads": COUNT}),
    Row("positions.alibi_bias", "alibi_bias",
        lambda d: {"num_heads": d["H"], "L": d["L"], "S": d["S"], "align": ["top-left", "bottom-right"][d.seed % 2]},
        fn_call(positions.alibi_bias), ref_alibi_bias, sizes="H L S",
        perturb={"num_heads": COUNT, "L": INT_BAD, "S": INT_BAD[:-1] + [const("None", None, legal=True)],
                 "causal": [const("True", True, legal=True), const("'yes'", "yes"), const("1", 1)],
                 "align": [const("'middle'", "middle"), const("None", None)]},
        empty=empties("L S")),
    Row("positions.relative_position_bucket", "relative_position_bucket",
        lambda d: {"relative_position": d.ids("L S", 400) - 200, "bidirectional": d.seed % 2 == 0},
        fn_call(positions.relative_position_bucket), ref_relative_position_bucket, sizes="L S",
        perturb={"relative_position": [cast(torch.float32), cast(torch.bool), cast(torch.complex64),
                                       P("int32", lambda v, d: v.int(), legal=True), P("list", lambda v, d: v.tolist()),
                                       P("numpy", lambda v, d: v.numpy()), const("None", None)],
                 "bidirectional": [const("1", 1), const("None", None)],
                 "num_buckets": COUNT + [const("3", 3), const("9", 9)],
                 "max_distance": COUNT + [const("8", 8), const("9", 9), const("1000", 1000, legal=True)]},
        empty=empties("L S")),
    Row("positions.RelativePositionBias", "RelativePositionBias",
        lambda d: {"seed": d.seed, "num_heads": d["H"], "num_buckets": 8, "max_distance": 20, "L": d["L"], "S": d["S"]},
        lambda a: relative_bias_module(a)(a["L"], a.get("S")), ref_relative_position_bias, sizes="H L S",
        perturb={"num_heads": COUNT, "num_buckets": [const("3", 3), const("2.5", 2.5)], "max_distance": [const("2", 2)],
                 "L": INT_BAD, "S": INT_BAD[:-1] + [const("None", None, legal=True)]},
        empty=empties("L S")),
    # --- self-attention (notebook 06) ---
    *[Row(f"self_attention.{cls.__name__}", cls.__name__,
          lambda d: {"seed": d.seed, "embed_dim": d["E"], "head_dim": d["D"], "x": d.t("B L E")},
          lambda a, cls=cls: self_attention_module(cls, a)(a["x"], a.get("attn_mask")),
          lambda a, cls=cls: ref_self_attention(cls, a), sizes="B L E D",
          perturb={"embed_dim": COUNT, "head_dim": [const("0", 0), const("-1", -1), const("1.5", 1.5),
                                                    const("None", None, legal=True)],
                   "x": TENSOR, "attn_mask": bool_mask("L L", float_ok=False)},
          empty=empties("B L"))
      for cls in (self_attention.SelfAttentionLoops, self_attention.SelfAttention, self_attention.CausalSelfAttention)],
    # --- multi-head attention (notebooks 07 and 08) ---
    Row("multihead.MultiHeadAttention", "MultiHeadAttention",
        lambda d: {"seed": d.seed, "embed_dim": d["H"] * d["D"], "num_heads": d["H"], "query": d.t(f"B L {d['H'] * d['D']}"),
                   "key": d.t(f"B S {d['H'] * d['D']}"), "value": d.t(f"B S {d['H'] * d['D']}")},
        call_mha, ref_mha, sizes=MHA_SIZES,
        perturb={"embed_dim": COUNT, "num_heads": COUNT + [P("not a divisor", lambda v, d: d["H"] * d["D"] + 1)],
                 "num_kv_heads": [const("0", 0), const("-1", -1), const("1.5", 1.5)],
                 "dropout": [const("-0.5", -0.5), const("'x'", "x")], **QKV, "attn_mask": bool_mask("B L S"),
                 "use_sdpa": [const("True", True, legal=True)]},
        empty=empties("B L S")),
    Row("multihead.trace_shapes", "trace_shapes",
        lambda d: {"module": mha_module({"seed": d.seed, "embed_dim": 4, "num_heads": 2}),
                                                              "x": d.t("B L 4")},
        lambda a: _traced(a), lambda a: _traced_reference(a), sizes="B L",
        perturb={"module": [const("None", None), const("an nn.Linear", nn.Linear(4, 4))]}, empty=empties("B L")),
    Row("multihead.KVCache", "KVCache", lambda d: {"k0": d.t("B H S D"), "k": d.t("B H L D"), "v": d.t("B H L D")},
        lambda a: _kv_update(a), lambda a: (torch.cat([a["k0"], a["k"]], 2), torch.cat([a["k0"], a["v"]], 2)), sizes="B H S L D",
        perturb={"k": [cast(torch.float16), P("numpy", lambda v, d: v.numpy()), const("None", None), P("3-d", lambda v, d: v[0]),
                       grow(-1)],
                 "v": [cast(torch.float16), P("numpy", lambda v, d: v.numpy()), const("None", None), P("3-d", lambda v, d: v[0]),
                       grow(-1), grow(2)]},
        empty=empties("L")),
    Row("multihead.kv_cache_bytes", "kv_cache_bytes",
        lambda d: {"num_layers": d["L"], "batch": d["B"], "seq_len": d["S"], "num_kv_heads": d["H"], "head_dim": d["D"]},
        fn_call(multihead.kv_cache_bytes), lambda a: 2 * math.prod(_int(k, v) for k, v in ({"bytes_per_value": 2} | a).items()),
        sizes="L B S H D",
        perturb={"num_layers": INT_BAD, "head_dim": INT_BAD, "bytes_per_value": INT_BAD}),
    # --- cross-attention and patches (notebook 09) ---
    Row("cross_attention.CrossAttention", "CrossAttention",
        lambda d: {"seed": d.seed, "embed_dim": d["H"] * d["D"], "num_heads": d["H"], "context_dim": d["C"],
                   "x": d.t(f"B L {d['H'] * d['D']}"), "context": d.t("B S C")},
        lambda a: cross_module(a)(a["x"], a["context"], a.get("context_mask"), need_weights=True, average_attn_weights=False),
        ref_cross, sizes="B L S H D C",
        perturb={"embed_dim": COUNT, "num_heads": COUNT, "context_dim": [const("0", 0), const("-1", -1), const("1.5", 1.5)],
                 "x": TENSOR, "context": TENSOR, "context_mask": bool_mask("B S", float_ok=False)},
        empty=empties("B L S")),
    Row("cross_attention.patchify", "patchify", lambda d: {"images": d.t(f"B C {2 * d['H']} {2 * d['W']}"), "patch_size": 2},
        fn_call(cross_attention.patchify), ref_patchify, sizes="B C H W",
        perturb={"images": [cast(torch.float16), cast(torch.int64), cast(torch.complex64), *NOT_TENSORS, NDIMS[0],
                            P("3-d", lambda v, d: v[0])],
                 "patch_size": COUNT + [const("3", 3)]},
        empty=empties("B C H W")),
    Row("cross_attention.unpatchify", "unpatchify",
        lambda d: {"patches": d.t(f"B {d['H'] * d['W']} {4 * d['C']}"), "patch_size": 2, "image_size": (2 * d["H"], 2 * d["W"]),
                   "channels": d["C"]},
        fn_call(cross_attention.unpatchify), ref_unpatchify, sizes="B C H W",
        perturb={"patches": [P("3-d, wrong width", lambda v, d: v[..., :-1]), const("None", None), NDIMS[0]],
                 "patch_size": COUNT + [P("3", lambda v, d: 3, related=True)],  # patches no longer fit: either is named
                 "image_size": [const("an int", 4), const("(5, 5)", (5, 5)), const("one side", (4,)), const("None", None)],
                 "channels": COUNT},
        empty=empties("B")),
    Row("cross_attention.PatchEmbedding", "PatchEmbedding",
        lambda d: {"seed": d.seed, "image_size": 2 * d["H"], "patch_size": 2, "channels": d["C"], "embed_dim": d["D"],
                   "hidden_dim": [None, 4][d.seed % 2], "images": d.t(f"B C {2 * d['H']} {2 * d['H']}")},
        lambda a: patch_module(a)(a["images"]), ref_patch_embedding, sizes="B C H D",
        perturb={"image_size": [const("0", 0), const("-2", -2), const("1.5", 1.5)],
                 "patch_size": [const("0", 0), const("-1", -1), const("True", True), const("3", 3), const("1.5", 1.5)],
                 "channels": [const("0", 0), const("-1", -1)], "embed_dim": [const("0", 0), const("-1", -1)],
                 "hidden_dim": [const("0", 0), const("-1", -1)],
                 "images": [*FLOAT_DTYPES, cast(torch.int64), *NOT_TENSORS, NDIMS[0], grow(-1), grow(1)]},
        empty=empties("B")),
    # --- transformer (notebooks 08 and 09): no numeric reference; the legal results' shapes are checked ---
    Row("transformer.FeedForward", "FeedForward", lambda d: {"embed_dim": d["E"], "hidden_dim": d["D"], "x": d.t("B L E")},
        lambda a: built(0, transformer.FeedForward, a["embed_dim"], a["hidden_dim"], a.get("dropout", 0.0))(a["x"]),
        sizes="B L E D", check=shape_is(lambda a: a["x"].shape),
        perturb={"embed_dim": [const("0", 0), const("-1", -1), const("1.5", 1.5)],
                 "hidden_dim": [const("-1", -1), const("1.5", 1.5)],
                 "dropout": [const("2", 2.0)], "x": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()),
                                                      grow(-1)]},
        empty=empties("B L")),
    Row("transformer.TransformerBlock", "TransformerBlock",
        lambda d: {"embed_dim": 2 * d["D"], "num_heads": 2, "x": d.t(f"B L {2 * d['D']}")},
        lambda a: built(0, transformer.TransformerBlock, a["embed_dim"], a["num_heads"], context_dim=a.get("context_dim"))(
            a["x"], a.get("context"), attn_mask=a.get("attn_mask"), need_weights=True),
        sizes="B L D", check=shape_is(lambda a: a["x"].shape),
        perturb={"num_heads": [const("0", 0), const("-1", -1), P("not a divisor", lambda v, d: 2 * d["D"] + 1)],
                 "x": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()), const("None", None),
                       P("2-d", lambda v, d: v[0]), grow(-1)],
                 "context": [P("without context_dim", lambda v, d: d.t("B 2 3"))],
                 "attn_mask": [P("all False", lambda v, d: torch.zeros(d.shape("B 1 L"), dtype=torch.bool), legal=True),
                               P("int64", lambda v, d: d.mask("B 1 L").long()), P("wrong shape", lambda v, d: d.mask("B 5 7"))]},
        empty=empties("B L"), examples=1),
    Row("transformer.DecoderOnlyTransformer", "DecoderOnlyTransformer",
        lambda d: {"max_len": 4, "ids": d.ids("B L", 6)},
        lambda a: built(0, transformer.DecoderOnlyTransformer, a.get("vocab_size", 6), a["max_len"], embed_dim=8, num_heads=2,
                        num_layers=a.get("num_layers", 1))(a["ids"]),
        sizes="B L", check=shape_is(lambda a: (*a["ids"].shape, 6)),
        perturb={"ids": IDS + [P("longer than max_len", lambda v, d: d.ids("B 5", 6))],
                 "max_len": [const("0", 0), const("-1", -1), const("1.5", 1.5)], "vocab_size": [const("0", 0), const("-1", -1)],
                 "num_layers": [const("-1", -1), const("1.5", 1.5)]},
        empty=empties("B L")),
    Row("transformer.DecoderOnlyTransformer.generate", "DecoderOnlyTransformer",
        lambda d: {"prompt": d.ids("B L", 6), "max_new_tokens": d["S"]},
        lambda a: built(0, transformer.DecoderOnlyTransformer, 6, 8, embed_dim=8, num_heads=2, num_layers=1).generate(
            a["prompt"], a["max_new_tokens"]),
        sizes="B L S", check=shape_is(lambda a: (a["prompt"].size(0), a["prompt"].size(1) + a["max_new_tokens"])),
        perturb={"prompt": IDS[:2] + IDS[5:], "max_new_tokens": INT_BAD + [const("0", 0, legal=True)]},
        empty=empties("B") + [P("L=0", sizes={"L": 0}, also=("prompt",))], examples=1),  # an empty prompt: rejected
    Row("transformer.TransformerTranslator", "TransformerTranslator",
        lambda d: {"src": d.ids("B S", 6), "lengths": torch.full((d["B"],), d["S"]), "tgt": d.ids("B L", 6)},
        lambda a: _translator(a)(a["src"], a["lengths"], a["tgt"]), sizes="B S L",
        check=shape_is(lambda a: (*a["tgt"].shape, 6)),
        perturb={"src": IDS[:2] + IDS[5:],
                 "lengths": [P("longer than src", lambda v, d: v + 1), P("float", lambda v, d: v.float()),
                             P("zero", lambda v, d: v * 0, legal=True),
                             P("2-d", lambda v, d: v[None])],
                 "tgt": IDS[:1] + IDS[7:]},
        empty=empties("B L"), examples=1),
    Row("transformer.TransformerTranslator.translate", "TransformerTranslator",
        lambda d: {"src": d.ids("B S", 6), "lengths": torch.full((d["B"],), d["S"]), "max_len": d["L"]},
        lambda a: _translator(a).translate(a["src"], a["lengths"], a["max_len"]), sizes="B S L",
        check=shape_is(lambda a: (a["src"].size(0), a["max_len"])),
        perturb={"max_len": INT_BAD + [const("0", 0, legal=True)], "src": IDS[7:]},
        empty=empties("B"), examples=1),
    Row("transformer.ImageQuestionModel", "ImageQuestionModel",
        lambda d: {"images": d.t("B 3 8 8"), "questions": d.ids("B L", 5) + 1},
        lambda a: _image_model(a)(a["images"], a["questions"], need_weights=True), sizes="B L",
        check=shape_is(lambda a: (a["images"].size(0), 5)),
        perturb={"images": [cast(torch.float16), cast(torch.int64), P("wrong size", lambda v, d: v[..., :4, :4]),
                            P("numpy", lambda v, d: v.numpy())],
                 "questions": IDS[:2] + IDS[5:] + [P("only padding", lambda v, d: v * 0),
                                                   P("batch mismatch", lambda v, d: v[:0])]},
        empty=empties("B"), examples=1),
    # --- rnn (notebook 05) ---
    Row("rnn.attend", "attend", lambda d: {"scores": d.t("B L S"), "values": d.t("B S E"), "mask": d.mask("B S")},
        fn_call(rnn.attend), ref_attend, sizes="B L S E",
        perturb={"scores": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()), const("None", None),
                            P("one step", lambda v, d: v[:, 0], legal=True), P("1-d", lambda v, d: v.flatten()), grow(-1)],
                 "values": [cast(torch.float16), P("numpy", lambda v, d: v.numpy()), grow(1), P("2-d", lambda v, d: v[0])],
                 "mask": [P("all False", lambda v, d: torch.zeros(d.shape("B S"), dtype=torch.bool), legal=True),
                          P("int64", lambda v, d: v.long()), P("wrong shape", lambda v, d: d.mask("B 9")),
                          const("None", None, legal=True),
                          P("list", lambda v, d: v.tolist())]},
        empty=empties("B L S E")),
    *[Row(f"rnn.{name}", name,
          lambda d, kind=kind: {"kind": kind, "seed": d.seed, "query_dim": d["E"], "key_dim": d["E"] if kind == "dot" else d["C"],
                                "hidden_dim": d["D"], "query": d.t("B L E"),
                                "keys": d.t(f"B S {d['E'] if kind == 'dot' else d['C']}")},
          lambda a: rnn_attention_module(a)(a["query"], a["keys"], a.get("values"), a.get("mask")), ref_rnn_attention,
          sizes="B L S E C D",
          perturb={"query": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()), const("None", None),
                             P("one step", lambda v, d: v[:, 0], legal=True), P("1-d", lambda v, d: v[0, 0]), grow(-1), grow(0)],
                   "keys": [cast(torch.float64), P("numpy", lambda v, d: v.numpy()), grow(-1), grow(0),
                            P("2-d", lambda v, d: v[0])],
                   "values": [P("other width", lambda v, d: d.t("B S 5"), legal=True), P("too short", lambda v, d: d.t("B 9 5"))],
                   "mask": [P("all False", lambda v, d: torch.zeros(d.shape("B S"), dtype=torch.bool), legal=True),
                            P("int64", lambda v, d: d.mask("B S").long()), P("wrong shape", lambda v, d: d.mask("B 9"))],
                   "hidden_dim": [const("0", 0), const("-1", -1)] if kind != "dot" else []},
          empty=empties("B L S"))
      for name, kind in (("AdditiveAttention", "additive"), ("LuongAttention", "general"), ("LuongAttention(dot)", "dot"),
                         ("LuongAttention(concat)", "concat"))],
    Row("rnn.Encoder", "Encoder", lambda d: {"src": d.ids("B S", 6), "lengths": torch.full((d["B"],), d["S"])},
        lambda a: built(0, rnn.Encoder, 6, 4, a.get("hidden_dim", 3))(a["src"], a["lengths"]), sizes="B S",
        check=shape_is(lambda a: (*a["src"].shape, 6)),
        perturb={"src": IDS[:1] + IDS[3:5] + IDS[7:],
                 "lengths": [P("longer than src", lambda v, d: v + 1), P("float", lambda v, d: v.float()),
                             P("negative", lambda v, d: v - 9),
                             P("2-d", lambda v, d: v[None])],
                 "hidden_dim": [const("0", 0), const("-1", -1)]},
        empty=empties("B")),
    Row("rnn.Seq2Seq", "Seq2Seq Decoder",
        lambda d: {"seed": d.seed, "src": d.ids("B S", 6), "lengths": torch.full((d["B"],), d["S"]),
                                                     "tgt": d.ids("B L", 6)},
        lambda a: _tiny_seq2seq(a["seed"])(a["src"], a["lengths"], a["tgt"]), sizes="B S L",
        check=shape_is(lambda a: (*a["tgt"].shape, 6)),
        perturb={"src": IDS[:1] + IDS[7:],
                 "lengths": [P("longer than src", lambda v, d: v + 1), P("float", lambda v, d: v.float()),
                             P("wrong batch", lambda v, d: v[:0])],
                 "tgt": IDS[:1] + IDS[7:] + [P("batch mismatch", lambda v, d: torch.cat([v, v]))]},
        empty=empties("B L"), examples=1),
    Row("rnn.Seq2Seq.translate", "Seq2Seq",
        lambda d: {"seed": d.seed, "src": d.ids("B S", 6), "lengths": torch.full((d["B"],), d["S"]),
                                                       "max_len": d["L"]},
        lambda a: _tiny_seq2seq(a["seed"]).translate(a["src"], a["lengths"], a["max_len"]), sizes="B S L",
        check=shape_is(lambda a: (a["src"].size(0), a["max_len"])),
        perturb={"max_len": INT_BAD + [const("0", 0, legal=True)]}, examples=1),
    Row("training.batches", "batches", lambda d: {"split": _split(d), "batch_size": d["S"]},
        lambda a: list(training.batches(**a)), sizes="B S",
        check=lambda out, a: None if sum(len(b[1]) for b in out) == len(a["split"]) else "lost rows",
        perturb={"batch_size": INT_BAD + [const("0", 0)], "split": [const("None", None), const("a list", [1, 2])]}),
    Row("training.fit", "fit", lambda d: {"model": _tiny_seq2seq(d.seed), "split": _split(d), "steps": 1, "batch_size": 2},
        fn_call(training.fit), sizes="B",
        check=lambda out, a: None if len(out) == a["steps"] and finite(torch.tensor(out)) else f"{out}",
        perturb={"steps": INT_BAD + [const("0", 0, legal=True)],
                 "batch_size": [const("0", 0), const("-1", -1), const("1.5", 1.5)],
                 "lr": [const("-1", -1.0), const("'x'", "x")]}, examples=1),
    Row("training.exact_match", "exact_match", lambda d: {"model": _tiny_seq2seq(d.seed), "split": _split(d)},
        fn_call(training.exact_match),
        sizes="B", check=lambda out, a: None if out.shape == (len(a["split"]),) else describe(out),
        perturb={"split": [const("None", None)], "model": [const("None", None)]}, examples=1),
    # --- local attention (notebook 10) ---
    Row("local.sliding_window_attention", "sliding_window_attention",
        lambda d: {"query": d.t("B L D"), "key": d.t("B L D"), "value": d.t("B L Dv"), "window": d["W"] - 1,
                   "causal": d.seed % 2 == 0, "block_size": d["W"], "use_sdpa": d.seed % 3 == 0},
        fn_call(local.sliding_window_attention), ref_local, sizes="B L D Dv W",
        perturb={**QKV, "window": INT_BAD, "block_size": COUNT, "scale": [const("'x'", "x")]},
        empty=empties("B L D Dv")),
    Row("local.local_global_attention", "local_global_attention",
        lambda d: {"query": d.t("B L D"), "key": d.t("B L D"), "value": d.t("B L Dv"), "window": d["W"] - 1,
                   "global_positions": [0], "causal": d.seed % 2 == 0, "block_size": d["W"]},
        fn_call(local.local_global_attention), lambda a: ref_local(a, a["global_positions"]), sizes="B L D Dv W",
        perturb={"query": [cast(torch.float16), cast(torch.int64), P("numpy", lambda v, d: v.numpy()), grow(-1)],
                 "key": [cast(torch.float64), grow(-2)], "window": INT_BAD[:2],
                 "global_positions": [const("[-1]", [-1]), const("[99]", [99]), const("[0.5]", [0.5]), const("None", None),
                                      const("[]", [], legal=True)]},
        empty=empties("B D Dv")),
    Row("local.default_block_size", "default_block_size", lambda d: {"window": 64 * d["W"]}, fn_call(local.default_block_size),
        lambda a: max(64, min(_int("window", a["window"]) // 2, 512)), sizes="W",
        perturb={"window": INT_BAD + [const("0", 0, legal=True)]}),
    # --- flash (notebook 12) ---
    Row("flash.online_softmax", "online_softmax", lambda d: {"x": d.t("B L S").numpy(), "block_size": d["W"]},
        fn_call(flash.online_softmax), ref_online_softmax, sizes="B L S W",
        perturb={"x": [P("a tensor", lambda v, d: torch.from_numpy(v), legal=True),
                       P("list", lambda v, d: v.tolist(), legal=True),
                       P("int", lambda v, d: v.round().astype(np.int64)), P("bool", lambda v, d: v > 0),
                       P("complex", lambda v, d: v.astype(np.complex64)), const("0-d", np.float32(0.5)), const("None", None),
                       P("float16", lambda v, d: v.astype(np.float16), legal=True),
                       P("a row of -inf", lambda v, d: np.where(np.arange(v.shape[-2])[:, None] == 0, -np.inf, v), legal=True)],
                 "block_size": COUNT},
        empty=empties("B L S")),
    Row("flash.flash_attention", "flash_attention",
        lambda d: {"query": d.t("B L D"), "key": d.t("B S D"), "value": d.t("B S Dv"), "block_size": d["W"]},
        fn_call(flash.flash_attention), ref_flash, sizes="B L S D Dv W",
        perturb={**QKV, "block_size": COUNT, "is_causal": [const("True", True, legal=True)],
                 "scale": [const("'x'", "x"), const("0", 0.0, legal=True), const("-1", -1.0, legal=True)]},
        empty=empties("B L S D Dv")),
    Row("triton_flash.triton_flash_attention", "triton_flash_attention",
        lambda d: {"query": d.t("B H L D"), "key": d.t("B H S D"), "value": d.t("B H S D"), "block_m": 16, "block_n": 16},
        fn_call(triton_flash.triton_flash_attention), ref_triton, sizes="B H L S D", examples=2,
        perturb={**QKV, "is_causal": [const("True", True, legal=True)], "scale": [const("'x'", "x")],
                 "block_m": [const("8", 8), const("24", 24), const("'x'", "x"), const("16.0", 16.0), const("True", True)],
                 "block_n": [const("None", None), const("-16", -16)]},
        empty=empties("B H L S D") + [P("D=300", sizes={"D": 300}, related=True)]),
    Row("triton_flash.triton_available", "triton_available", lambda d: {}, fn_call(triton_flash.triton_available),
        lambda a: importlib.util.find_spec("triton") is not None),
    Row("triton_flash.interpreting", "interpreting", lambda d: {}, fn_call(triton_flash.interpreting), lambda a: True),
    # --- data (notebooks 05, 08, 09, 13) ---
    Row("data.CharVocab", "CharVocab", lambda d: {"texts": ["ab", "c"][: d["B"]]}, lambda a: data.CharVocab(**a).tokens,
        lambda a: _vocab_reference(a["texts"]), sizes="B",
        perturb={"texts": [const("None", None), const("[1, 2]", [1, 2]), const("5", 5), const("'abc'", "abc", legal=True),
                           const("[]", [], legal=True)]}),
    Row("data.CharVocab.encode", "CharVocab", lambda d: {"text": "abc"[: d["B"]], "eos": d.seed % 2 == 0},
        lambda a: _vocab().encode(**a), lambda a: _encode_reference(a), sizes="B",
        perturb={"text": [const("None", None), const("5", 5), const("'xyz'", "xyz"), const("''", "", legal=True)]}),
    Row("data.CharVocab.decode", "CharVocab", lambda d: {"ids": d.ids("B", 6)}, lambda a: _vocab().decode(**a),
        lambda a: _decode_reference(a["ids"]), sizes="B",
        perturb={"ids": [const("[99]", [99]), const("[-1]", [-1]), P("float", lambda v, d: v.float()),
                         P("2-d", lambda v, d: v[None]),
                         const("None", None), const("['a']", ["a"]), P("list", lambda v, d: v.tolist(), legal=True)]},
        empty=empties("B")),
    Row("data.format_date", "format_date DATE_FORMATS", lambda d: {"date": dt.date(2026, d["B"], d["L"]), "fmt": "d mon yyyy"},
        fn_call(data.format_date), lambda a: _format_reference(a),
        sizes="B L", perturb={"date": [const("None", None), const("a str", "2026-01-01"),
                                       const("a datetime", dt.datetime(2026, 1, 2, 3, 4), legal=True)],
                              "fmt": [const("'x'", "x"), const("None", None)], "case": [const("'x'", "x"), const("None", None)]}),
    Row("data.random_dates", "random_dates", lambda d: {"n": d["B"], "seed": d.seed}, fn_call(data.random_dates),
        lambda a: data.random_dates(**a) if _random_dates_ok(a) else None, sizes="B",
        perturb={"n": INT_BAD + [const("0", 0, legal=True)], "seed": [const("None", None), const("'x'", "x"), const("1.5", 1.5)],
                 "days": [const("[]", []), const("[None]", [None]), const("'x'", "x"),
                          const("[a date]", [dt.date(2000, 1, 1)], legal=True)]}),
    Row("data.make_date_task", "make_date_task TranslationTask TranslationSplit", lambda d: {"n_train": d["B"], "n_test": d["L"]},
        lambda a: _task_sizes(data.make_date_task(**a)), lambda a: _task_sizes_reference(a), sizes="B L", examples=1,
        perturb={"n_train": INT_BAD + [const("0", 0, legal=True)], "n_test": [const("-1", -1), const("0", 0, legal=True)],
                 "seed": [const("None", None), const("1.5", 1.5)]}),
    Row("data.make_copy_task", "make_copy_task", lambda d: {"n_train": d["B"], "n_test": d["L"], "min_len": 1, "max_len": d["S"]},
        lambda a: _task_sizes(data.make_copy_task(**a)), lambda a: _task_sizes_reference(a), sizes="B L S",
        perturb={"n_train": INT_BAD, "min_len": [const("-1", -1), const("more than max_len", 9), const("0", 0, legal=True)],
                 "max_len": [const("-1", -1), const("1.5", 1.5)], "seed": [const("None", None)]}),
    Row("data.TranslationTask", "TranslationTask", lambda d: {"texts": ["12", "3"][: d["B"]]},
        lambda a: data.make_copy_task(2, 1, 1, 2).encode_sources(a["texts"])[0].shape, lambda a: _encode_sources_reference(a),
        sizes="B",
        perturb={"texts": [const("'12'", "12"), const("None", None), const("[1]", [1]),
                           P("['x!']", lambda v, d: ["x!"], also=("text",))]}),
    Row("data.encode_pairs", "encode_pairs",
        lambda d: {"pairs": [("ab", "ba")] * d["B"], "src_vocab": _vocab(), "tgt_vocab": _vocab()},
        lambda a: len(data.encode_pairs(**a)), lambda a: _pairs_reference(a), sizes="B",
        perturb={"pairs": [const("[('a',)]", [("a",)]), const("None", None), const("[]", [], legal=True),
                           const("[(1, 2)]", [(1, 2)])],
                 "src_vocab": [const("None", None)], "tgt_vocab": [const("'abc'", "abc")]}),
    Row("data.pad_sequences", "pad_sequences", lambda d: {"seqs": [list(range(n)) for n in range(d["B"])], "pad_id": 0},
        fn_call(data.pad_sequences), lambda a: _pad_reference(a), sizes="B",
        perturb={"seqs": [const("None", None), const("[[1, 'a']]", [[1, "a"]]), const("[[1.5]]", [[1.5]]),
                          const("[1, 2]", [1, 2]),
                          const("[]", [], legal=True), const("[[]]", [[]], legal=True)],
                 "pad_id": [const("1.5", 1.5), const("True", True), const("'x'", "x"), const("None", None),
                            const("-1", -1, legal=True)]}),
    Row("data.draw_shapes", "draw_shapes SHAPE_COLOURS SHAPE_KINDS",
        lambda d: {"shapes": [("square", "red", 0, 0, 4), ("circle", "blue", 4, 4, d["B"] + 1)][: d["L"]], "image_size": 8},
        lambda a: data.draw_shapes(**a)[1].sum((1, 2)).tolist(), lambda a: _shapes_reference(a), sizes="B L",
        perturb={"shapes": [const("an unknown kind", [("hexagon", "red", 0, 0, 4)]),
                            const("an unknown colour", [("square", "pink", 0, 0, 4)]),
                            const("outside the image", [("square", "red", 6, 6, 4)]), const("a short tuple", [("square", "red")]),
                            const("None", None), const("[]", [], legal=True)],
                 "image_size": [const("-1", -1), const("1.5", 1.5), const("'8'", "8")],
                 "noise": [const("-1", -1.0), const("nan", math.nan), const("'x'", "x")], "rng": [const("5", 5)]}),
    Row("data.make_shapes_task", "make_shapes_task ShapesTask ShapesSplit QUADRANTS QUESTION_TEMPLATES",
        lambda d: {"n_train": d["B"], "n_test": d["L"], "max_shapes": d["S"]},
        lambda a: _task_sizes(data.make_shapes_task(**a)), lambda a: _task_sizes_reference(a), sizes="B L S", examples=2,
        perturb={"n_train": INT_BAD + [const("0", 0, legal=True)],
                 "max_shapes": [const("0", 0), const("4", 4), const("1.5", 1.5)],
                 "image_size": [const("0", 0), const("-8", -8), const("2", 2), const("1.5", 1.5)],
                 "seed": [const("None", None)]}),
    Row("data.ShapesTask.encode_question", "ShapesTask", lambda d: {"text": "what colour is the square ?", "length": 5 + d["B"]},
        lambda a: _shapes_task().encode_question(**a).shape, lambda a: _question_reference(a), sizes="B",
        perturb={"text": [const("None", None), const("'what is pink ?'", "what is pink ?"), const("''", "", legal=True)],
                 "length": [const("0", 0), const("-1", -1), const("shorter than the question", 2), const("1.5", 1.5),
                            const("None", None, legal=True)]}),
    Row("data.make_sort_task", "make_sort_task SortTask", lambda d: {"n_train": d["B"], "n_test": d["L"], "length": d["S"]},
        lambda a: _task_sizes(data.make_sort_task(**a)), lambda a: _task_sizes_reference(a), sizes="B L S",
        perturb={"length": [const("0", 0), const("-1", -1), const("1.5", 1.5), const("too short for n", 1)],
                 "n_train": INT_BAD + [const("0", 0, legal=True)], "seed": [const("None", None)]}),
    Row("data.SortTask.decode", "SortTask", lambda d: {"ids": d.ids("B", 11)},
        lambda a: data.make_sort_task(2, 1, 2).decode(a["ids"]),
        lambda a: "".join(["<pad>", "<bos>", "<eos>", *"0123456789>"][i] for i in _ids_reference(a["ids"], 14)), sizes="B",
        perturb={"ids": [const("[99]", torch.tensor([99])), const("[-1]", torch.tensor([-1])), P("float", lambda v, d: v.float()),
                         const("None", None), P("2-d", lambda v, d: v[None])]},
        empty=empties("B")),
    # --- bench (notebooks 10 to 12) ---
    Row("bench.best_time", "best_time", lambda d: {"fn": lambda: None, "repeats": d["B"], "warmup": d["L"] - 1},
        fn_call(bench.best_time), lambda a: _timer_reference(a), sizes="B L",
        perturb={"fn": [const("None", None), const("an int", 5)], "repeats": COUNT, "warmup": INT_BAD,
                 "device": [const("'nope'", "nope"), const("5", 5)]}),
    Row("bench.best_times", "best_times",
        lambda d: {"fns": {f"f{i}": (lambda: None) for i in range(d["B"])}, "rounds": d["L"], "warmup": d["S"] - 1},
        lambda a: list(bench.best_times(**a)), lambda a: _timers_reference(a), sizes="B L S",
        perturb={"fns": [const("None", None), const("a list", [lambda: None]), const("a non-function", {"a": 5})],
                 "rounds": COUNT, "warmup": INT_BAD, "device": [const("'nope'", "nope"), const("5", 5)]}),
    Row("bench.median_time", "median_time", lambda d: {"fn": lambda: None, "min_run_time": 0.001}, fn_call(bench.median_time),
        lambda a: _timer_reference(a), examples=1,
        perturb={"fn": [const("None", None)], "min_run_time": [const("-1", -1.0), const("'x'", "x"), const("nan", math.nan)]}),
    Row("bench.peak_memory_mb", "peak_memory_mb", lambda d: {"fn": _no_op},
        # a legal call collects garbage first (half a second in a test process): tests/unit/test_bench.py has them
        lambda a: None if a == {"fn": _no_op} else bench.peak_memory_mb(**a), lambda a: [_timer_reference(a), None][1],
        examples=1, perturb={"fn": [const("None", None), const("an int", 5)], "device": [const("'nope'", "nope")]}),
    Row("bench.in_fresh_process", "in_fresh_process", lambda d: {"script": __file__, "function": "fresh_process_target"},
        lambda a: None if a == {"script": __file__, "function": "fresh_process_target"} else bench.in_fresh_process(**a),
        lambda a: None, examples=1,  # a legal call starts Python and torch (seconds): tests/unit/test_bench.py has one
        perturb={"script": [P("missing", lambda v, d: "/nonexistent/script.py"), const("None", None)],
                 "function": [const("'not a name'", "not a name"), const("None", None)]}),
    Row("bench.attention_flops", "attention_flops",
        lambda d: {"batch": d["B"], "heads": d["H"], "L": d["L"], "S": d["S"], "head_dim": d["D"], "causal": d.seed % 2 == 0},
        fn_call(bench.attention_flops), lambda a: _flops_reference(a), sizes="B H L S D",
        perturb={"batch": INT_BAD, "L": INT_BAD, "head_dim": INT_BAD, "causal": [const("'yes'", "yes"), const("None", None)]}),
    Row("bench.tflops", "tflops", lambda d: {"flops": 1e12 * d["B"], "seconds": 0.5 * d["L"]}, fn_call(bench.tflops),
        lambda a: _number("flops", a["flops"], positive=False) / _number("seconds", a["seconds"]) / 1e12
        if a["flops"] >= 0 else 1 / 0,
        sizes="B L", perturb={"flops": [const("-1", -1.0), const("'x'", "x"), const("None", None), const("0", 0.0, legal=True)],
                              "seconds": POSITIVE}),
    # --- pretrained: the pure functions (notebook 13) ---
    Row("pretrained.hf_mask_to_course", "hf_mask_to_course", lambda d: {"attention_mask": d.ids("B S", 2)},
        fn_call(pretrained.hf_mask_to_course), ref_hf_mask, sizes="B S",
        perturb={"attention_mask": [cast(torch.float32), cast(torch.bool), cast(torch.complex64), P("2s", lambda v, d: v + 2),
                                    P("numpy", lambda v, d: v.numpy()), P("list", lambda v, d: v.tolist()), const("None", None),
                                    P("1-d", lambda v, d: v.flatten()), P("3-d", lambda v, d: v[None])]},
        empty=empties("B S")),
    Row("pretrained.offset_scores", "offset_scores",
        lambda d: {"weights": d.t("B L L").softmax(-1), "offset": (d["S"] - 1) % d["L"] * (-1) ** d.seed},
        fn_call(pretrained.offset_scores), ref_offset_scores, sizes="B L S",
        perturb={"weights": [cast(torch.int64), P("numpy", lambda v, d: v.numpy()), const("None", None),
                             P("not square", lambda v, d: v[..., :-1]),
                             P("1-d", lambda v, d: v.flatten()), cast(torch.float16)],
                 "offset": [const("L", 99), const("-L", -99), const("1.5", 1.5), const("True", True), const("None", None)]},
        empty=empties("B")),
    Row("pretrained.induction_scores", "induction_scores",
        lambda d: {"weights": d.t(f"B {2 * d['L']} {2 * d['L']}").softmax(-1), "T": d["L"]},
        fn_call(pretrained.induction_scores), ref_induction_scores, sizes="B L",
        perturb={"weights": [cast(torch.int64), P("numpy", lambda v, d: v.numpy()), P("not square", lambda v, d: v[..., :-1]),
                             P("odd L", lambda v, d: v[..., :-1, :-1])],
                 "T": COUNT + [const("wrong T", 99)]},
        empty=empties("B")),
    Row("pretrained.attention_entropy", "attention_entropy", lambda d: {"weights": d.t("B L S").softmax(-1)},
        fn_call(pretrained.attention_entropy), ref_entropy, sizes="B L S",
        perturb={"weights": [cast(torch.int64), cast(torch.float16), P("numpy", lambda v, d: v.numpy()), const("None", None),
                             P("1-d", lambda v, d: v.flatten()), P("list", lambda v, d: v.tolist()),
                             P("a zero row", lambda v, d: v.index_fill(-2, torch.tensor([0]), 0.0), legal=True)]},
        empty=empties("B L S")),
    Row("pretrained.attention_rollout", "attention_rollout",
        lambda d: {"weights": [d.t("B H L L").softmax(-1) for _ in range(d["S"])], "residual": 0.5},
        fn_call(pretrained.attention_rollout), ref_rollout, sizes="B H L S",
        perturb={"weights": [P("a tensor", lambda v, d: v[0]), const("[]", []), const("None", None),
                             P("mismatched layers", lambda v, d: [*v, d.t("B H 5 5").softmax(-1)]),
                             P("int", lambda v, d: [_cast(w, torch.int64) for w in v]),
                             P("no heads", lambda v, d: [w[:, :0] for w in v]),
                             P("a zero row", lambda v, d: [w.index_fill(-2, torch.tensor([0]), 0.0) for w in v], legal=True)],
                 "residual": [const("'x'", "x"), const("nan", math.nan), const("2", 2.0), const("0", 0.0, legal=True)]},
        empty=empties("B L")),
    Row("pretrained.unpermute_rope_rows", "unpermute_rope_rows",
        lambda d: {"weight": d.t(f"{2 * d['H'] * d['D']} E"), "heads": d["H"]},
        fn_call(pretrained.unpermute_rope_rows), ref_unpermute, sizes="H D E",
        perturb={"weight": [P("numpy", lambda v, d: v.numpy()), const("None", None), P("1-d", lambda v, d: v.flatten()),
                            P("odd rows", lambda v, d: v[:-1])],
                 "heads": COUNT + [const("not a divisor", 7)]},
        empty=empties("E")),
    # --- progress_record (from notebook 00) ---
    Row("progress_record.record_result", "record_result progress_path",
        lambda d: {"notebook": "01_x", "exercise": "e", "passed": True, "path": _tmp()},
        fn_call(progress_record.record_result), lambda a: _record_reference(a), examples=1,
        perturb={"notebook": [const("None", None), const("5", 5)], "passed": [const("'no'", "no"), const("None", None)],
                 "path": [const("5", 5)]}),
    Row("progress_record.read_progress", "read_progress Progress", lambda d: {"catalogue": {"01_x": ["e"]}, "path": _tmp()},
        fn_call(progress_record.read_progress), lambda a: progress_record.Progress, examples=1,
        perturb={"path": [const("5", 5)],
                 "catalogue": [const("None", None), const("a list", ["e"]), const("{}", {}, legal=True)]}),
    Row("progress_record.reset_progress", "reset_progress", lambda d: {"path": _tmp()}, fn_call(progress_record.reset_progress),
        lambda a: 0, examples=1, perturb={"path": [const("5", 5), const("a folder", Path(tempfile.gettempdir()))]}),
    Row("attn_course.progress", "progress", lambda d: {"path": _tmp()}, fn_call(attn_course.progress),
        lambda a: progress_record.Progress, examples=1, perturb={"path": [const("5", 5)]}),
]

# Public names that no row calls, and why.
NOT_SWEPT = {
    "DATE_FORMATS SOURCE_CHARACTERS SEARCH_CORPUS SEARCH_QUERIES STORY INSTALL_MODELS MINILM SMOLLM2": "data, not callables",
    "TranslationSplit ShapesSplit ModelPackage DecoderConfig": "plain dataclasses (records), built by the course's own code",
    "Translator TranslationData": "typing.Protocol classes: interfaces, not code to call",
    "model_file reference_outputs Tokenizer EncoderLayer MiniLM load_minilm RMSNorm SwiGLU DecoderBlock SinkCache SmolLM2 "
    "load_smollm2": "pretrained.py: the brief sweeps its pure functions only (the rest needs the model files)",
}


def _no_op() -> None:
    pass


def fresh_process_target() -> float:  # bench.in_fresh_process's target, were a legal call made
    return 1.0


# --- small references for the data and bench rows ---


def _plot_reference(a: dict, mask: bool = False) -> type:
    from matplotlib.axes import Axes

    if a.get("ax") is not None and not isinstance(a["ax"], Axes):
        raise TypeError("ax")
    w = a["mask" if mask else "weights"]
    w = np.asarray(w.numpy() if isinstance(w, torch.Tensor) else w)
    if mask and w.dtype != bool or not mask and not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
        raise TypeError("weights")
    while not mask and w.ndim > 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise ValueError("weights")
    for name, n in (("query_labels", w.shape[0]), ("key_labels", w.shape[1])):
        if a.get(name) is not None and len(a[name]) != n:
            raise ValueError(name)
    return Axes


def _probe(a: dict):
    """Tensors that make F.scaled_dot_product_attention check a mask against scores of ``scores_shape``."""
    shape = a["scores_shape"]
    if not isinstance(shape, tuple) or any(n < 0 for n in shape):
        raise TypeError("scores_shape")
    *batch, L, S = shape
    return torch.zeros(*batch, L, 1), torch.zeros(*batch, S, 1), torch.zeros(*batch, S, 1), a["attn_mask"]


def _apply_mask_reference(a):
    scores, mask = _float_tensor("scores", a["scores"]), a.get("attn_mask")
    if mask is None:
        return scores
    masks.check_attn_mask(mask, tuple(scores.shape))
    return (scores.masked_fill(~mask, -math.inf) if mask.dtype == torch.bool else scores + mask).to(scores.dtype)


def _relative_reference(a):
    q, k = a["query_positions"], a["key_positions"]
    for name, x in (("query_positions", q), ("key_positions", k)):
        if not isinstance(x, torch.Tensor) or x.ndim != 1 or x.dtype == torch.bool:
            raise TypeError(name)
    return q[:, None] - k[None, :]


def _within_reference(a):
    offset, window, causal = a["offset"], _int("window", a["window"]), a.get("causal", False)
    if not isinstance(offset, torch.Tensor) or not isinstance(causal, bool):
        raise TypeError("offset" if not isinstance(offset, torch.Tensor) else "causal")
    return (offset.abs() <= window) & ((offset >= 0) | (not causal))


def _traced(a: dict):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), multihead.trace_shapes(a["module"]) as m:
        return m(a["x"], a["x"], a["x"])[0]


def _traced_reference(a: dict):
    if not isinstance(a["module"], multihead.MultiHeadAttention):
        raise TypeError("module")
    return naive_mha(a["module"], a["x"], a["x"], a["x"])[0]


def _record_reference(a: dict) -> None:
    for name in ("notebook", "exercise"):
        if not isinstance(a[name], str):
            raise TypeError(name)
    if not isinstance(a["passed"], bool):
        raise TypeError("passed")
    if not isinstance(a.get("path"), (str, Path, type(None))):
        raise TypeError("path")


def _kv_update(a: dict):
    cache = multihead.KVCache()
    cache.update(a["k0"], a["k0"])
    return cache.update(a["k"], a["v"])


def _vocab_reference(texts):
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts")
    return ["<pad>", "<bos>", "<eos>", *sorted(set("".join(texts)))]


def _encode_reference(a):
    text = a["text"]
    if not isinstance(text, str):
        raise TypeError("text")
    if set(text) - set("abc"):
        raise ValueError("text")
    return [3 + "abc".index(c) for c in text] + ([2] if a.get("eos") else [])


def _ids_reference(ids, size):
    if isinstance(ids, torch.Tensor):
        if ids.dtype.is_floating_point or ids.ndim != 1:
            raise TypeError("ids")
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise TypeError("ids")
    if any(not 0 <= i < size for i in ids):
        raise ValueError("ids")
    return ids


def _decode_reference(ids):
    out = []
    for i in _ids_reference(ids, 6):
        if i == 2:
            break
        if i > 2:
            out.append("abc"[i - 3])
    return "".join(out)


def _format_reference(a):
    date = a["date"]
    if not isinstance(date, dt.date):
        raise TypeError("date")
    if a["fmt"] not in data.DATE_FORMATS:
        raise ValueError("fmt")
    case = a.get("case", "lower")
    if case not in ("lower", "title", "upper"):
        raise ValueError("case")
    return data.format_date(date, a["fmt"], case)


def _random_dates_ok(a):
    _int("n", a["n"])
    if isinstance(a["seed"], bool) or not isinstance(a["seed"], int):
        raise TypeError("seed")
    days = a.get("days")
    if days is not None and (not isinstance(days, (list, tuple)) or not all(isinstance(x, dt.date) for x in days)
                             or not days and a["n"]):
        raise ValueError("days")
    return True


def _task_sizes(task) -> tuple:
    return len(task.train), len(task.test)


def _task_sizes_reference(a):
    for name in ("n_train", "n_test"):
        _int(name, a.get(name, 1))
    if isinstance(a.get("seed", 0), bool) or not isinstance(a.get("seed", 0), int):
        raise TypeError("seed")
    for name in ("min_len", "max_len", "image_size", "length", "max_shapes"):
        if name in a:
            _int(name, a[name], 4 if name == "image_size" else 1 if name in ("max_shapes", "length") else 0)
    if a.get("max_shapes", 1) > 3:
        raise ValueError("max_shapes")
    if "min_len" in a and a["min_len"] > a["max_len"]:
        raise ValueError("min_len")
    if "length" in a and 10 ** a["length"] < a["n_train"] + a["n_test"]:
        raise ValueError("length")
    return a["n_train"], a.get("n_test", 1)


def _encode_sources_reference(a):
    texts = a["texts"]
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts")
    if set("".join(texts)) - set("0123456789"):
        raise ValueError("text")
    return torch.Size([len(texts), max((len(t) for t in texts), default=0)])


def _pairs_reference(a):
    if not isinstance(a["pairs"], (list, tuple)):
        raise TypeError("pairs")
    for pair in a["pairs"]:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise TypeError("pairs")
    for name in ("src_vocab", "tgt_vocab"):
        if not isinstance(a[name], data.CharVocab):
            raise TypeError(name)
    return len(a["pairs"])


def _pad_reference(a):
    seqs, pad_id = a["seqs"], a.get("pad_id", 0)
    if not isinstance(seqs, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in seqs) \
            or any(isinstance(i, bool) or not isinstance(i, int) for s in seqs for i in s):
        raise TypeError("seqs")
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise TypeError("pad_id")
    S = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), S), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, torch.tensor([len(s) for s in seqs], dtype=torch.long)


def _shapes_reference(a):
    size = _int("image_size", a.get("image_size", 32), 1)
    noise = _number("noise", a.get("noise", 0.03), positive=False)
    if not noise >= 0:
        raise ValueError("noise")
    if a.get("rng") is not None and not isinstance(a["rng"], np.random.Generator):
        raise TypeError("rng")
    if not isinstance(a["shapes"], (list, tuple)):
        raise TypeError("shapes")
    areas = []
    for shape in a["shapes"]:
        if not isinstance(shape, tuple) or len(shape) != 5:
            raise TypeError("shapes")
        kind, colour, top, left, side = shape
        if kind not in data.SHAPE_KINDS or colour not in data.SHAPE_COLOURS or top + side > size or left + side > size:
            raise ValueError("shapes")
        areas.append(int(data._shape_pixels(kind, side).sum()))
    return areas


_SHAPES_TASK: list = []


def _shapes_task():
    if not _SHAPES_TASK:
        _SHAPES_TASK.append(data.make_shapes_task(2, 1))
    return _SHAPES_TASK[0]


def _question_reference(a):
    text, length = a["text"], a.get("length")
    if not isinstance(text, str):
        raise TypeError("text")
    if any(w not in _shapes_task().words for w in text.split()):
        raise ValueError("text")
    n = len(text.split())
    if length is None:
        return torch.Size([n])
    if _int("length", length, 1) < n:
        raise ValueError("length")
    return torch.Size([length])


def _timer_reference(a):
    if not callable(a["fn"]):
        raise TypeError("fn")
    _int("repeats", a.get("repeats", 1), 1)
    _int("warmup", a.get("warmup", 0))
    _number("min_run_time", a.get("min_run_time", 1.0))
    if a.get("device") not in (None, "cpu"):
        raise ValueError("device")
    return float


def _timers_reference(a):
    """best_times: a dict of functions; its keys come back, in order."""
    if not isinstance(a["fns"], dict):
        raise TypeError("fns")
    for fn in a["fns"].values():
        _timer_reference({"fn": fn})
    _int("rounds", a.get("rounds", 5), 1)
    _timer_reference({"fn": print, "warmup": a.get("warmup", 1), "device": a.get("device")})
    return list(a["fns"])


def _flops_reference(a):
    n = math.prod(_int(k, a[k]) for k in ("batch", "heads", "L", "S", "head_dim"))
    if not isinstance(a.get("causal", False), bool):
        raise TypeError("causal")
    return 4.0 * n / (2 if a.get("causal") else 1)


# ---------------------------------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------------------------------

NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]  # a failure's message already describes its call


def draws(row: Row) -> st.SearchStrategy[Draw]:
    letters = row.sizes.split()
    return st.builds(Draw, st.fixed_dictionaries({c: st.integers(1, 3) for c in letters}), st.integers(0, 2**16))


def run_case(row: Row, d: Draw, arg: str, p: P | None) -> str | None:
    """Call ``row`` on a legal call perturbed by ``p`` (None: unperturbed); None when the outcome follows the rule."""
    if p is not None and p.sizes:
        d = d.with_sizes(**p.sizes)
    a = row.args(d)
    if p is not None and p.fn is not None:
        a[arg] = p.fn(a.get(arg), d)
    legal = True if p is None else p.legal
    what = f"{row.name} [{'legal call' if p is None else (arg + ': ' if arg else '') + p.label}] " \
           f"{{{', '.join(f'{k}={describe(v)}' for k, v in a.items())}}}"
    try:
        out = row.call(dict(a))
    except (ValueError, TypeError) as e:
        if legal:
            return f"{what}: raised {type(e).__name__}: {e}"
        allowed = ({arg} if arg else set()) | ({k for k, v in a.items() if runtime.is_array(v)} if p.related else set())
        allowed |= set(p.also)
        if not any(names(str(e), n) for n in allowed):
            return f"{what}: {type(e).__name__} does not name {' or '.join(sorted(allowed))}: {e}"
        return None
    except Exception as e:  # noqa: BLE001 - any other exception breaks the rule
        return f"{what}: raised {type(e).__name__}: {str(e)[:300]}"
    if row.reference is None:
        if not legal:
            return f"{what}: returned {describe(out)} for an input it must reject"
        return None if row.check is None else (f"{what}: {why}" if (why := row.check(out, a)) else None)
    try:
        expected = row.reference(dict(a))
    except Exception as e:  # noqa: BLE001
        if legal:
            raise AssertionError(f"{what}: the reference itself fails on a legal call: {type(e).__name__}: {e}") from e
        return f"{what}: returned {describe(out)}, but the reference rejects it ({type(e).__name__}: {e})"
    why = mismatch(out, expected, tolerance(a, expected))
    return None if why is None else f"{what}: {why}"


def _id(row_or_case) -> str:
    return row_or_case.name if isinstance(row_or_case, Row) else row_or_case


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_sweep(row: Row):
    """A few legal calls of ``row``, each checked as it is and under every perturbation not known to fail."""
    known = KNOWN_FAILURES.get(row.name, {})
    cases = [(arg, p) for arg, p in row.cases() if (f"{arg}: {p.label}" if arg else p.label) not in known]

    @settings(max_examples=row.examples, phases=NO_SHRINK)
    @given(draws(row))
    def sweep(d: Draw) -> None:
        failures = [why for why in [run_case(row, d, "", None)] + [run_case(row, d, arg, p) for arg, p in cases] if why]
        if failures:
            pytest.fail(f"{len(failures)} of {len(cases) + 1} calls break the rule:\n" + "\n".join(failures), pytrace=False)

    sweep()


def _known_rows() -> list:
    rows = {row.name: row for row in ROWS}
    known = [pytest.param(rows[name], id=name, marks=pytest.mark.xfail(
        strict=True, reason=f"{len(failures)} known failures: KNOWN_FAILURES[{name!r}] at the top of this file"))
        for name, failures in KNOWN_FAILURES.items()]
    return known or [pytest.param(None, id="none", marks=pytest.mark.skip(
        reason="KNOWN_FAILURES is empty: every case is in the sweep"))]


FIXED_DRAWS = [Draw(dict.fromkeys("B C D E H L S W Dv Ev".split(), n), seed) for n, seed in ((2, 0), (3, 1), (1, 2))]


@pytest.mark.parametrize("row", _known_rows())
def test_known_failures(row: Row, capsys):
    """The known failures of ``row``: expected to fail while every one of them still breaks the rule.

    Each listed case runs on fixed draws (it counts as failing when any draw breaks the rule). When some case
    passes, this test passes too, which strict xfail reports as a failure: delete those cases from KNOWN_FAILURES.
    """
    known = KNOWN_FAILURES[row.name]
    cases = {(f"{arg}: {p.label}" if arg else p.label): (arg, p) for arg, p in row.cases()}
    fixed = [label for label in known
             if not any(run_case(row, d.with_sizes(), *cases[label]) for d in FIXED_DRAWS)]
    if fixed:
        with capsys.disabled():
            print(f"\n{row.name}: these known failures are fixed, delete them from KNOWN_FAILURES: {fixed}")
        return
    pytest.fail(f"{row.name}: all {len(known)} known failures still break the rule", pytrace=False)  # no traceback to format


def test_every_public_name_is_swept():
    """Each name in each module's ``__all__`` (but attn_course.exercises) has a row, or a reason in NOT_SWEPT."""
    covered = {name for row in ROWS for name in row.covers.split()} | {n for names_ in NOT_SWEPT for n in names_.split()}
    modules = [attn_course, attention, bench, cross_attention, data, flash, local, masks, multihead, plotting, positions,
               pretrained, progress_record, rnn, runtime, self_attention, similarity, softmax, training, transformer,
               triton_flash]
    missing = sorted(f"{m.__name__}.{n}" for m in modules for n in m.__all__ if n not in covered)
    assert not missing, f"public names without a row in the bad-input sweep: {missing}"
    assert len({row.name for row in ROWS}) == len(ROWS)
    for name, failures in KNOWN_FAILURES.items():
        labels = {f"{a}: {p.label}" if a else p.label for row in ROWS if row.name == name for a, p in row.cases()}
        assert set(failures) <= labels, f"KNOWN_FAILURES[{name!r}] names perturbations the row lacks: {set(failures) - labels}"
