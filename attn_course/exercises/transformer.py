"""Checkers for notebook 08 (the transformer block and the KV cache)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..multihead import MultiHeadAttention
from .core import Case, Hints, Result, checker, run_cases, seeded

__all__ = ["pre_norm_block", "append_to_cache", "hint"]

NOTEBOOK = "08_the_transformer_block"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "pre_norm_block": [
        "Two sub-layers; each reads a normalised copy of the stream and adds its output to the stream.",
        "Normalise a copy for the sub-layer, never the stream itself: the `x +` part adds the un-normalised x.",
        "Each sub-layer has its own norm: h = x + attn(ln1(x)), then return h + mlp(ln2(h)).",
    ],
    "append_to_cache": [
        "cache is (B, H, S, D) and new is (B, H, L, D): they differ only in the sequence axis.",
        "torch.cat joins tensors along one axis; every other axis must match. Which axis counts positions?",
        "torch.cat([cache, new], dim=2): the cached positions first, then the new ones, (B, H, S + L, D).",
    ],
}).hint


def _block_parts(g: torch.Generator, E: int, H: int):
    """A causal attention callable, an MLP and two layer norms with random (not identity) parameters."""
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
    mha = MultiHeadAttention(E, H).eval()
    mlp = nn.Sequential(nn.Linear(E, 2 * E), nn.GELU(), nn.Linear(2 * E, E))
    ln1, ln2 = nn.LayerNorm(E), nn.LayerNorm(E)
    for ln in (ln1, ln2):
        nn.init.normal_(ln.weight, 1.0, 0.3)
        nn.init.normal_(ln.bias, 0.0, 0.3)
    torch.random.set_rng_state(torch_state)  # the notebook's random stream is left as it was

    def attn(h):
        return mha(h, h, h, is_causal=True)[0]  # (B, L, E) -> (B, L, E)
    return attn, mlp, ln1, ln2


@checker(NOTEBOOK)
def pre_norm_block(fn: Callable) -> Result:
    """Check ``fn(x, attn, mlp, ln1, ln2)`` -> ``x + attn(ln1(x))``, then that plus ``mlp(ln2(that))``."""
    g = seeded(90)
    cases = []
    for B, L, E, H in ((2, 4, 8, 2), (1, 3, 6, 3)):
        x = torch.randn(B, L, E, generator=g)
        attn, mlp, ln1, ln2 = _block_parts(g, E, H)
        with torch.no_grad():
            h = x + attn(ln1(x))  # the stream after the attention sub-layer
            right = h + mlp(ln2(h))
            a = attn(ln1(x))
            post = ln1(x + attn(x))  # post-norm: normalise after adding
            normed = ln1(x) + attn(ln1(x))  # the stream itself replaced by its normalised copy
            faulty = {
                "the residual around attention is missing: add the sub-layer's output to x, x = x + attn(ln1(x)).":
                    a + mlp(ln2(a)),
                "the residual around the MLP is missing: return h + mlp(ln2(h)), not mlp(ln2(h)).": mlp(ln2(h)),
                "both residuals are missing: each sub-layer's output must be added to its input.": mlp(ln2(a)),
                "this is post-norm (the original 2017 block: ln(x + sublayer(x))); pre-norm normalises only the "
                "sub-layer's input: x + attn(ln1(x)).": [ln2(post + mlp(post)), post + mlp(ln2(post))],
                "you normalised the residual stream itself (x = ln1(x), then x + attn(x)): keep x as it is and "
                "normalise a copy, x + attn(ln1(x)).": [normed + mlp(ln2(normed)), ln2(normed) + mlp(ln2(normed))],
                "ln1 and ln2 are swapped: ln1 goes before attention, ln2 before the MLP.":
                    (x + attn(ln2(x))) + mlp(ln1(x + attn(ln2(x)))),
                "you used ln1 twice: the MLP has its own norm, ln2.": h + mlp(ln1(h)),
                "the MLP read x, not the stream after attention: h = x + attn(ln1(x)), then h + mlp(ln2(h)).":
                    h + mlp(ln2(x)),
            }
            if B == 2:  # `a, _ = attn(...)` splits the batch in two instead of taking (output, weights)
                first = x + attn(ln1(x))[0]
                faulty["attn(h) returns one tensor (B, L, E), not (output, weights) as MultiHeadAttention does: "
                       "`a, _ = attn(...)` took the first sequence of the batch. Use a = attn(ln1(x))."] = \
                    first + mlp(ln2(first))
        cases.append(Case(f"x (B={B}, L={L}, E={E}), H={H}", (x, attn, mlp, ln1, ln2), right, faulty,
                          on_error="attn(h), mlp(h), ln1(h) and ln2(h) each take one (B, L, E) tensor and return "
                                   "one (B, L, E) tensor; nothing to unpack."))
    return run_cases("pre_norm_block", fn, cases, atol=1e-5, rtol=1e-4)


@checker(NOTEBOOK)
def append_to_cache(fn: Callable) -> Result:
    """Check ``fn(cache, new)`` -> ``(B, H, S + L, D)``: new keys (or values) appended after the cached ones."""
    g = seeded(91)
    cases = []
    for B, H, S, L, D in ((2, 3, 4, 4, 5), (1, 2, 5, 1, 3), (2, 2, 3, 2, 3)):
        cache, new = torch.randn(B, H, S, D, generator=g), torch.randn(B, H, L, D, generator=g)
        faulty = {
            "the new positions are in front of the cached ones: the cache holds the past, so torch.cat([cache, new], "
            "dim=2).": torch.cat([new, cache], dim=2),
            "you appended along the head axis (dim=1): that makes more heads, not more positions. The sequence axis "
            "of (B, H, S, D) is dim=2.": [torch.cat([cache, new], dim=1) if S == L else None,
                                          torch.cat([new, cache], dim=1) if S == L else None],
            "you appended along the width axis (dim=-1): that makes each key wider, not more keys. Use dim=2, the "
            "sequence axis.": torch.cat([cache, new], dim=-1) if S == L else None,
            "you appended along the batch axis (dim=0): that adds sequences, not positions. Use dim=2.":
                torch.cat([cache, new], dim=0) if S == L else None,
            "you replaced the cache with the new positions: the cache must keep the old ones too.": new,
        }
        on_error = ("torch.cat needs every axis but one to match: cache and new differ in the sequence axis, "
                    "so that is the one to join (dim=2).")
        cases.append(Case(f"cache (B={B}, H={H}, S={S}, D={D}) + new (L={L})", (cache, new),
                          torch.cat([cache, new], dim=2), faulty, on_error=on_error))
    return run_cases("append_to_cache", fn, cases)
