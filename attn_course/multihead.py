"""Multi-head attention that matches ``torch.nn.MultiheadAttention``, with grouped-query heads (notebook 07).

Each head attends in its own ``D = E / H``-wide subspace; the heads' outputs are put side by
side and mixed by ``out_proj``. Set ``module.trace = True`` to print every tensor's shape, with
its glossary letters, as it flows through (with grouped-query attention it also writes ``Hkv`` for
the key/value heads and ``Ekv = Hkv·D`` for their total width).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .masks import apply_attn_mask, causal_mask, check_attn_mask
from .positions import rotary_tables, rotate
from .runtime import check_shape, require_int, require_number, require_same_dtype, require_tensor
from .softmax import softmax

__all__ = ["KVCache", "MultiHeadAttention", "kv_cache_bytes", "trace_shapes"]


def kv_cache_bytes(num_layers: int, batch: int, seq_len: int, num_kv_heads: int, head_dim: int,
                   bytes_per_value: int = 2) -> int:
    """Bytes a KV cache holds: keys and values for every layer, sequence, position and key/value head.

    ``2 · layers · B · S · H_kv · D · bytes``. Fewer key/value heads (grouped-query attention)
    shrink it in proportion. Introduced in notebook 07.
    """
    sizes = {"num_layers": num_layers, "batch": batch, "seq_len": seq_len, "num_kv_heads": num_kv_heads,
             "head_dim": head_dim}
    product = 2 * require_int("bytes_per_value", bytes_per_value, 1)
    for name, n in sizes.items():
        product *= require_int(name, n)
    return product


@functools.lru_cache(maxsize=16)
def _rope_tables(start: int, L: int, D: int, base: float, dtype: torch.dtype, device: torch.device):
    """Rotary cosines and sines for positions ``start .. start + L - 1``, computed once for all the layers of a step."""
    cos, sin = rotary_tables(torch.arange(start, start + L), D, base, dtype)  # (L, D) each, on the CPU
    return cos.to(device), sin.to(device)


class KVCache:
    """The keys and values one attention layer has seen so far, each ``(B, Hkv, S, D)`` (notebook 08).

    Generating token by token, a decoder would recompute every earlier position's keys and values
    at each step; the cache keeps them and appends only the new ones, along the sequence axis (dim 2).
    Pass one to :meth:`MultiHeadAttention.forward` as ``kv_cache``.
    """

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.seen = 0  # positions appended so far: the position of the next token (a cache that evicts holds fewer)

    def __len__(self) -> int:
        """How many positions are cached."""
        return 0 if self.keys is None else self.keys.size(2)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append new keys and values ``(B, Hkv, L, D)`` and return all of them, ``(B, Hkv, S + L, D)``."""
        B, H, L, _ = check_shape(require_tensor("k", k), "B H L D", name="k").values()
        check_shape(require_tensor("v", v), "B H L Dv", name="v", B=B, H=H, L=L,
                    **({} if self.values is None else {"Dv": self.values.size(3)}))
        if self.keys is None:
            self.keys, self.values = k, v
        else:
            check_shape(k, "B H L D", name="k", B=self.keys.size(0), H=self.keys.size(1), D=self.keys.size(3))
            self.keys = torch.cat([self.keys, k], dim=2)  # (B, Hkv, S, D) + (B, Hkv, L, D) -> (B, Hkv, S + L, D)
            self.values = torch.cat([self.values, v], dim=2)
        self.seen += k.size(2)
        return self.keys, self.values


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch-first ``(B, L, E)``, with masks True = may attend (notebook 07).

    Args:
        embed_dim: ``E``, the width of queries and of the output.
        num_heads: ``H``; ``E`` must divide by it, and each head is ``D = E / H`` wide.
        bias: biases in the four projections.
        kdim, vdim: widths of keys and values (default ``E``).
        dropout: dropout on the attention weights, in training only.
        num_kv_heads: ``H_kv`` key/value heads shared by groups of query heads (grouped-query
            attention; 1 is multi-query attention). Default ``H``.
        use_sdpa: take the fast path through ``torch.nn.functional.scaled_dot_product_attention``
            (it cannot return weights: with ``need_weights=True`` the manual path runs).
        rope_base: rotate queries and keys by their positions (rotary embeddings, notebook 06, with this
            base) after splitting them into heads, before the cache: self-attention only. Positions count
            from the cache's ``seen`` (0 without a cache). Introduced in notebook 13 (Llama-style models).
        rope_dtype: the precision of the rotation angles (see :func:`attn_course.positions.apply_rotary`).

    ``forward(query (B, L, E), key (B, S, kdim), value (B, S, vdim), attn_mask=None, is_causal=False,
    need_weights=False, average_attn_weights=True, kv_cache=None)`` returns ``(output (B, L, E), weights)``:
    weights ``(B, L, S)`` averaged over heads, ``(B, H, L, S)`` per head, or None. ``attn_mask`` is
    boolean (True = may attend) or float (added to the scores), broadcastable to ``(B, H, L, S)``;
    a 3-D mask is taken as ``(B, L, S)``, the same for every head. With a :class:`KVCache`, the new
    keys and values are appended to it and the queries attend to all of them (``S`` counts the cached
    positions too); ``is_causal`` then aligns bottom-right: the queries are the last ``L`` positions.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True, kdim: int | None = None,
                 vdim: int | None = None, dropout: float = 0.0, num_kv_heads: int | None = None,
                 use_sdpa: bool = False, rope_base: float | None = None,
                 rope_dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        embed_dim, num_heads = require_int("embed_dim", embed_dim, 1), require_int("num_heads", num_heads, 1)
        num_kv_heads = num_heads if num_kv_heads is None else require_int("num_kv_heads", num_kv_heads, 1)
        kdim = None if kdim is None else require_int("kdim", kdim, 1)
        vdim = None if vdim is None else require_int("vdim", vdim, 1)
        dropout = require_number("dropout", dropout, minimum=0.0)
        if dropout >= 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if embed_dim % num_heads:
            raise ValueError(f"num_heads: embed_dim {embed_dim} must divide into num_heads heads, got {num_heads}")
        if num_heads % num_kv_heads:
            raise ValueError(f"num_kv_heads: num_heads {num_heads} must divide into groups of it, got {num_kv_heads}")
        self.embed_dim, self.num_heads, self.num_kv_heads = embed_dim, num_heads, num_kv_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.use_sdpa = dropout, use_sdpa
        self._tracing = None  # the trace_shapes context while `trace` is on
        self.rope_base, self.rope_dtype = rope_base, rope_dtype
        if rope_base is not None and not (isinstance(rope_base, (int, float)) and rope_base > 1):
            raise ValueError(f"rope_base: expected a number > 1 (10000 in RoFormer), got {rope_base!r}")
        if rope_base is not None and self.head_dim % 2:
            raise ValueError(f"rope_base: rotary embeddings turn pairs of coordinates, so the head width "
                             f"embed_dim / num_heads must be even, got {self.head_dim}")
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(kdim or embed_dim, num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(vdim or embed_dim, num_kv_heads * self.head_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    @property
    def trace(self) -> bool:
        """True while every step's shape is printed (see :func:`trace_shapes`); set it to switch tracing on or off."""
        return self._tracing is not None

    @trace.setter
    def trace(self, on: bool) -> None:
        if on and self._tracing is None:
            self._tracing = trace_shapes(self)
            self._tracing.__enter__()
        elif not on and self._tracing is not None:
            tracing, self._tracing = self._tracing, None
            tracing.__exit__(None, None, None)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                attn_mask: torch.Tensor | None = None, is_causal: bool = False, need_weights: bool = False,
                average_attn_weights: bool = True, kv_cache: KVCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, L, S = self._check_inputs(query, key, value, attn_mask, is_causal)
        q = self._split(self.q_proj(query), self.num_heads, "q")  # (B, L, E) -> (B, H, L, D)
        k = self._split(self.k_proj(key), self.num_kv_heads, "k")  # (B, S, Hkv·D) -> (B, Hkv, S, D)
        v = self._split(self.v_proj(value), self.num_kv_heads, "v")  # (B, S, Hkv·D) -> (B, Hkv, S, D)
        if self.rope_base is not None:
            q, k = self._rotate(q, k, kv_cache)  # each turned by its position; shapes unchanged
        if kv_cache is not None:  # the cached positions first, then the new ones: (B, Hkv, S_cached + S, D)
            k, v = kv_cache.update(k, v)
            S = k.size(2)
        mask = None if attn_mask is None else self._mask(attn_mask, B, L, S)  # broadcasts to (B, H, L, S)
        fast = self.use_sdpa and not need_weights
        sdpa_causal = is_causal and fast and kv_cache is None  # SDPA's own top-left mask, the same as ours
        if is_causal and not sdpa_causal and (kv_cache is None or L > 1):  # one query after a cache sees every key
            mask = causal_mask(L, S, device=query.device, align="top-left" if kv_cache is None else "bottom-right")
        dropout = self.dropout if self.training else 0.0
        if fast:  # one fused call, no weights; enable_gqa shares key/value heads without copying them
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=sdpa_causal,
                                                 enable_gqa=self.num_kv_heads != self.num_heads)  # (B, H, L, D)
            weights = None
        else:
            if self.num_kv_heads != self.num_heads:  # each key/value head serves a group of query heads
                k, v = self._repeat_kv(k, "k"), self._repeat_kv(v, "v")  # (B, Hkv, S, D) -> (B, H, S, D)
            out, weights = self._attend(q, k, v, mask, dropout)  # (B, H, L, D), weights (B, H, L, S)
        out = self.out_proj(self._merge(out))  # (B, H, L, D) -> (B, L, E) -> (B, L, E)
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights  # (B, L, S) or (B, H, L, S)

    def _check_inputs(self, query, key, value, attn_mask, is_causal) -> tuple[int, int, int]:
        """Validate the inputs; return ``B, L, S``."""
        for name, x in (("query", query), ("key", key), ("value", value)):  # the weights' dtype (autocast aside)
            require_tensor(name, x, floating=True)
            require_same_dtype(name, x, self.q_proj.weight.dtype, "the module's weights", autocast_ok=True)
        B, L, _ = check_shape(query, "B L E", name="query", E=self.embed_dim).values()
        S = check_shape(key, "B S Ek", name="key", B=B, Ek=self.k_proj.in_features)["S"]
        check_shape(value, "B S Ev", name="value", B=B, S=S, Ev=self.v_proj.in_features)
        if is_causal and attn_mask is not None:
            raise ValueError("attn_mask: give either attn_mask or is_causal=True, not both")
        return B, L, S

    def _split(self, x: torch.Tensor, heads: int, name: str) -> torch.Tensor:
        """``(B, n, heads·D)`` -> ``(B, heads, n, D)``: view the last axis as heads, then put heads first."""
        B, n = x.shape[:2]
        return x.view(B, n, heads, self.head_dim).transpose(1, 2)  # (B, n, heads, D) -> (B, heads, n, D)

    def _merge(self, out: torch.Tensor) -> torch.Tensor:
        """``(B, H, L, D)`` -> ``(B, L, E)``: heads back next to each other (the copy ``reshape`` makes is needed)."""
        B, _, L, _ = out.shape
        return out.transpose(1, 2).reshape(B, L, self.embed_dim)  # (B, L, H, D) -> (B, L, H·D = E)

    def _repeat_kv(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """``(B, Hkv, S, D)`` -> ``(B, H, S, D)``: each key/value head repeated for its group of query heads."""
        return x.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)

    def _mask(self, attn_mask: torch.Tensor, B: int, L: int, S: int) -> torch.Tensor:
        """A 3-D mask ``(B, L, S)`` gets a heads axis; any mask is checked to broadcast to ``(B, H, L, S)``."""
        mask = attn_mask[:, None] if isinstance(attn_mask, torch.Tensor) and attn_mask.dim() == 3 else attn_mask
        want = (B, self.num_heads, L, S)
        check_attn_mask(mask, want, expected=f"(B, H, L, S) = {want}, or (B, L, S) = {(B, L, S)}")
        return mask

    def _rotate(self, q, k, kv_cache):
        """Rotary embeddings: turn each query and key by its position, counted on from what the cache has seen."""
        if q.size(2) != k.size(2):
            raise ValueError(f"key: rotary embeddings need self-attention (one position per query and key), got "
                             f"L={q.size(2)} queries and S={k.size(2)} keys")
        start = kv_cache.seen if kv_cache is not None else 0  # the new tokens sit at start .. start + L - 1
        cos, sin = _rope_tables(start, q.size(2), self.head_dim, self.rope_base, self.rope_dtype, q.device)  # (L, D)
        return rotate(q, cos, sin), rotate(k, cos, sin)

    def _attend(self, q, k, v, mask, dropout):
        """The manual path: scores scaled by the head width D, masked, softmax, weighted values."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
        weights = softmax(apply_attn_mask(scores, mask), dim=-1)  # (B, H, L, S); a row with no allowed key: zeros
        out = F.dropout(weights, dropout) @ v  # (B, H, L, S) @ (B, H, S, D) -> (B, H, L, D)
        return out, weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of a ``torch.nn.MultiheadAttention``'s weights (batch_first or not, any bias, kdim, vdim).

        The copy is always batch-first; its masks are True = may attend (the opposite of
        PyTorch's boolean ``attn_mask`` and ``key_padding_mask``).
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"module: expected a torch.nn.MultiheadAttention, got {type(module).__name__}")
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError("module: add_bias_kv and add_zero_attn have no counterpart here")
        bias = module.in_proj_bias is not None
        ours = cls(module.embed_dim, module.num_heads, bias=bias, kdim=module.kdim, vdim=module.vdim,
                   dropout=module.dropout).to(module.out_proj.weight)  # its dtype and device, before copying
        E = module.embed_dim
        with torch.no_grad():
            if module._qkv_same_embed_dim:
                weights = module.in_proj_weight.split(E)  # (3E, E) -> three (E, E)
            else:
                weights = (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight)
            for proj, w in zip((ours.q_proj, ours.k_proj, ours.v_proj), weights):
                proj.weight.copy_(w)
            if bias:
                for proj, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), module.in_proj_bias.split(E)):
                    proj.bias.copy_(b)
                ours.out_proj.bias.copy_(module.out_proj.bias)
            ours.out_proj.weight.copy_(module.out_proj.weight)
        return ours


@contextmanager
def trace_shapes(module: MultiHeadAttention) -> Iterator[MultiHeadAttention]:
    """Inside the ``with`` block, ``module`` prints every step's shape in glossary letters as it runs (and checks it).

    ``with trace_shapes(mha): mha(x, x, x)``, or ``mha.trace = True``. The forward pass itself stays plain:
    the projections are watched with forward hooks, and the steps between them (``_split``, ``_rotate``,
    ``_repeat_kv``, ``_attend``, ``_merge``) are wrapped for the duration. The fused SDPA path has no
    scores to show, so its trace goes from the split heads to the merge.
    """
    if not isinstance(module, MultiHeadAttention):
        raise TypeError(f"module: expected a MultiHeadAttention, got {type(module).__name__}")
    kv_width = "E" if module.num_kv_heads == module.num_heads else "Ekv"  # Ekv = Hkv·D

    def show(step: str, x: torch.Tensor, spec: str) -> None:
        sizes = check_shape(x, spec, name=step)
        print(f"{step:<44} ({', '.join(f'{k}={v}' for k, v in sizes.items())})")

    def split(x, heads, name):
        out = MultiHeadAttention._split(module, x, heads, name)  # (B, heads, n, D)
        n, h = ("L" if name == "q" else "S"), ("H" if heads == module.num_heads else "Hkv")
        show(f"{name}: split into heads with view", out.transpose(1, 2), f"B {n} {h} D")  # the view, before transposing
        show(f"{name}: transpose(1, 2), heads first", out, f"B {h} {n} D")
        return out

    def rotate_(q, k, kv_cache):
        q, k = MultiHeadAttention._rotate(module, q, k, kv_cache)
        show("q: rotated by position (RoPE)", q, "B H L D")
        show("k: rotated by position (RoPE)", k, "B Hkv S D")
        return q, k

    def repeat_kv(x, name):
        out = MultiHeadAttention._repeat_kv(module, x, name)
        show(f"{name}: repeat each head for its group", out, "B H S D")
        return out

    def attend(q, k, v, mask, dropout):
        out, weights = MultiHeadAttention._attend(module, q, k, v, mask, dropout)
        show("scores = q @ k^T / sqrt(D)", weights, "B H L S")  # the scores' shape is the weights'
        show("out = weights @ v", out, "B H L D")
        return out, weights

    def merge(out):
        merged = MultiHeadAttention._merge(module, out)  # (B, L, E)
        show("heads: transpose(1, 2) back", out.transpose(1, 2), "B L H D")
        show("merge heads: reshape to (B, L, E)", merged, "B L E")
        return merged

    def watch(step: str, spec: str):
        return lambda _module, _inputs, output: show(step, output, spec)

    hooks = [module.q_proj.register_forward_hook(watch("q = q_proj(query)", "B L E")),
             module.k_proj.register_forward_hook(watch("k = k_proj(key)", f"B S {kv_width}")),
             module.v_proj.register_forward_hook(watch("v = v_proj(value)", f"B S {kv_width}")),
             module.out_proj.register_forward_hook(watch("output = out_proj(merged)", "B L E"))]
    steps = {"_split": split, "_rotate": rotate_, "_repeat_kv": repeat_kv, "_attend": attend, "_merge": merge}
    for name, step in steps.items():
        object.__setattr__(module, name, step)  # an instance attribute shadows the method while tracing
    try:
        yield module
    finally:
        for hook in hooks:
            hook.remove()
        for name in steps:
            object.__delattr__(module, name)
