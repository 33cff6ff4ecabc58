"""Self-attention, as a named progression (notebook 06).

``SelfAttentionLoops`` (explicit loops over tokens, to understand) -> ``SelfAttention`` (the same
thing with matrices) -> ``CausalSelfAttention`` (each token sees only itself and the past). They
share their parameters, so each can load the previous one's weights and give the same outputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import scaled_dot_product_attention
from .masks import causal_mask
from .runtime import check_shape, require_int, require_same_dtype, require_tensor
from .softmax import softmax

__all__ = ["SelfAttentionLoops", "SelfAttention", "CausalSelfAttention"]


class SelfAttentionLoops(nn.Module):
    """Self-attention with explicit Python loops over batch, queries and keys: slow, and clear.

    Args:
        embed_dim: ``E``, the width of each input token.
        head_dim: ``D``, the width of queries, keys and values (default ``E``).
        bias: whether the projections ``W_q``, ``W_k``, ``W_v`` have biases.

    ``forward(x (B, L, E), attn_mask=None)`` returns ``(output (B, L, D), weights (B, L, L))``;
    ``attn_mask`` is a boolean ``(L, L)``, True where query ``i`` may attend to key ``j``.
    """

    def __init__(self, embed_dim: int, head_dim: int | None = None, *, bias: bool = False) -> None:
        super().__init__()
        require_int("embed_dim", embed_dim, 1)
        self.head_dim = embed_dim if head_dim is None else require_int("head_dim", head_dim, 1)
        self.W_q = nn.Linear(embed_dim, self.head_dim, bias=bias)  # what each token looks for
        self.W_k = nn.Linear(embed_dim, self.head_dim, bias=bias)  # what each token offers to be found by
        self.W_v = nn.Linear(embed_dim, self.head_dim, bias=bias)  # what each token hands over when found

    def _check(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> int:
        require_tensor("x", x, floating=True)
        L = check_shape(x, "B L E", name="x", E=self.W_q.in_features)["L"]
        require_same_dtype("x", x, self.W_q.weight.dtype, "the module's", autocast_ok=True)
        if attn_mask is not None:
            if require_tensor("attn_mask", attn_mask).dtype != torch.bool:
                raise TypeError(f"attn_mask: expected a boolean tensor (True = may attend), got {attn_mask.dtype}")
            check_shape(attn_mask, "L S", name="attn_mask", L=L, S=L)
        return L

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        L = self._check(x, attn_mask)
        out = x.new_zeros(x.size(0), L, self.head_dim)
        weights = x.new_zeros(x.size(0), L, L)
        for b in range(x.size(0)):
            for i in range(L):  # token i asks...
                q_i = self.W_q(x[b, i])  # (D,)
                scores = torch.stack([q_i @ self.W_k(x[b, j]) for j in range(L)]) / math.sqrt(self.head_dim)  # (L,)
                if attn_mask is not None:
                    scores = scores.masked_fill(~attn_mask[i], float("-inf"))
                weights[b, i] = softmax(scores, dim=0)  # ...every token j answers with a weight
                for j in range(L):
                    out[b, i] = out[b, i] + weights[b, i, j] * self.W_v(x[b, j])  # (D,)
        return out, weights


class SelfAttention(SelfAttentionLoops):
    """The same self-attention with matrix products: every token at once (same parameters as the loops)."""

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(x, attn_mask)
        q, k, v = self.W_q(x), self.W_k(x), self.W_v(x)  # (B, L, E) @ (E, D) -> (B, L, D), three times
        return scaled_dot_product_attention(q, k, v, attn_mask, return_weights=True)  # (B, L, D), (B, L, L)


class CausalSelfAttention(SelfAttention):
    """Self-attention in which token ``i`` sees tokens ``0..i`` only: what a language model needs.

    ``forward(x, attn_mask=None)``: an extra boolean ``attn_mask`` (e.g. padding) is combined with
    the causal mask (both must allow a pair).
    """

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        L = self._check(x, attn_mask)
        causal = causal_mask(L, device=x.device)  # (L, L): True on and below the diagonal
        return super().forward(x, causal if attn_mask is None else causal & attn_mask)
