"""Attention in RNN encoder-decoders: additive (Bahdanau) and multiplicative (Luong) (notebook 05).

An encoder reads the source with a bidirectional GRU; at every output step a decoder asks an
attention module which source positions matter, and reads a *context* vector from them. Without
attention the decoder gets one fixed summary of the whole source: the bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import scaled_dot_product_attention
from .masks import apply_attn_mask, padding_mask
from .runtime import check_shape, require_ids, require_int, require_lengths, require_same_dtype, require_tensor
from .softmax import softmax

__all__ = ["attend", "AdditiveAttention", "LuongAttention", "Encoder", "Decoder", "Seq2Seq"]


def _check_mask(mask: torch.Tensor | None, B: int, S: int) -> None:
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a boolean tensor (True = real token), got {getattr(mask, 'dtype', type(mask))}")
    check_shape(mask, "B S", name="mask", B=B, S=S)


def attend(scores: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the source steps, padding masked, then the weighted sum of the values.

    Args:
        scores: ``(B, S)`` for one decoder step, or ``(B, L, S)`` for ``L`` steps.
        values: ``(B, S, Ev)``.
        mask: ``(B, S)`` boolean, True at real source tokens.

    Returns:
        ``(context, weights)``: ``(B, Ev)`` and ``(B, S)`` (or ``(B, L, Ev)`` and ``(B, L, S)``).
        Padded positions get exactly zero weight.
    """
    require_tensor("scores", scores, floating=True)
    require_tensor("values", values, floating=True)
    single = scores.dim() == 2
    found = check_shape(scores, "B S" if single else "B L S", name="scores")
    B, S = found["B"], found["S"]
    check_shape(values, "B S Ev", name="values", B=B, S=S)
    require_same_dtype("values", values, scores.dtype, "the scores'")
    _check_mask(mask, B, S)
    if single:
        scores = scores[:, None, :]  # (B, 1, S): one decoder step
    if mask is not None:
        scores = apply_attn_mask(scores, mask[:, None, :])  # (B, 1, S) broadcasts over steps: padding scores -inf
    weights = softmax(scores, dim=-1)  # (B, L, S): each step's weights over the source sum to 1
    context = weights @ values  # (B, L, S) @ (B, S, Ev) -> (B, L, Ev)
    return (context[:, 0], weights[:, 0]) if single else (context, weights)


def _as_steps(module: nn.Module, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor | None,
              mask: torch.Tensor | None) -> tuple[torch.Tensor, bool, torch.Tensor]:
    """Validate; return the query as ``(B, L, Eq)``, whether it was one step, and the values.

    ``module`` gives the widths (``query_dim``, ``key_dim``) and the dtype (its weights', else the query's).
    """
    require_tensor("query", query, floating=True)
    require_tensor("keys", keys, floating=True)
    weight = next(module.parameters(), None)
    dtype, whose = (query.dtype, "the query's") if weight is None else (weight.dtype, "the module's")
    require_same_dtype("query", query, dtype, whose)
    require_same_dtype("keys", keys, dtype, whose)
    B, S, _ = check_shape(keys, "B S Ek", name="keys").values()
    check_shape(keys, "... Ek", name="keys", Ek=module.key_dim)
    values = keys if values is None else require_tensor("values", values, floating=True)
    check_shape(values, "B S Ev", name="values", B=B, S=S)
    require_same_dtype("values", values, dtype, whose)
    _check_mask(mask, B, S)
    check_shape(query, "B Eq" if query.dim() == 2 else "B L Eq", name="query", B=B)
    check_shape(query, "... Eq", name="query", Eq=module.query_dim)
    return (query[:, None, :], True, values) if query.dim() == 2 else (query, False, values)


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``score(q, k) = vᵀ tanh(W_q q + W_k k)`` (notebook 05).

    ``forward(query, keys, values=None, mask=None)`` takes a query ``(B, Eq)`` (one decoder
    step) or ``(B, L, Eq)``, keys ``(B, S, Ek)``, values ``(B, S, Ev)`` (default: the keys) and a
    mask ``(B, S)``, True at real tokens; it returns ``(context, weights)``.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.query_dim, self.key_dim = require_int("query_dim", query_dim, 1), require_int("key_dim", key_dim, 1)
        require_int("hidden_dim", hidden_dim, 1)
        self.W_q = nn.Linear(query_dim, hidden_dim, bias=False)
        self.W_k = nn.Linear(key_dim, hidden_dim, bias=False)
        self.v = nn.Linear(hidden_dim, 1, bias=False)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, L, S)`` for a query ``(B, L, Eq)`` and keys ``(B, S, Ek)``."""
        q = self.W_q(query)[:, :, None, :]  # (B, L, Eq) -> (B, L, 1, A)
        k = self.W_k(keys)[:, None, :, :]  # (B, S, Ek) -> (B, 1, S, A)
        return self.v(torch.tanh(q + k)).squeeze(-1)  # (B, L, S, A) -> (B, L, S)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        query, single, values = _as_steps(self, query, keys, values, mask)
        context, weights = attend(self.score(query, keys), values, mask)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


class LuongAttention(nn.Module):
    """Luong's multiplicative attention, with scores ``"dot"``, ``"general"`` or ``"concat"`` (notebook 05).

    - ``dot``: ``qᵀ k`` (needs ``query_dim == key_dim``);
    - ``general``: ``qᵀ W k``;
    - ``concat``: ``vᵀ tanh(W [q; k])``, the additive score with one matrix on the concatenation.

    ``dot`` and ``general`` are :func:`attn_course.scaled_dot_product_attention` with ``scale=1``
    (on ``W k`` for ``general``). Same ``forward`` as :class:`AdditiveAttention`.
    """

    def __init__(self, query_dim: int, key_dim: int, score: str = "general", hidden_dim: int | None = None) -> None:
        super().__init__()
        self.query_dim, self.key_dim = require_int("query_dim", query_dim, 1), require_int("key_dim", key_dim, 1)
        if hidden_dim is not None:
            require_int("hidden_dim", hidden_dim, 1)
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"score: expected 'dot', 'general' or 'concat', got {score!r}")
        if score == "dot" and query_dim != key_dim:
            raise ValueError(f"key_dim: the dot score needs key_dim == query_dim ({query_dim}), got {key_dim}")
        self.kind = score
        if score == "general":
            self.W = nn.Linear(key_dim, query_dim, bias=False)
        if score == "concat":
            self.W = nn.Linear(query_dim + key_dim, hidden_dim or query_dim, bias=False)
            self.v = nn.Linear(hidden_dim or query_dim, 1, bias=False)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, L, S)`` for a query ``(B, L, Eq)`` and keys ``(B, S, Ek)``."""
        if self.kind == "concat":  # W [q; k] = W_q q + W_k k: split W instead of building every pair
            W_q, W_k = self.W.weight.split([query.size(-1), keys.size(-1)], dim=1)  # (A, Eq), (A, Ek)
            q = (query @ W_q.T)[:, :, None, :]  # (B, L, Eq) @ (Eq, A) -> (B, L, 1, A)
            k = (keys @ W_k.T)[:, None, :, :]  # (B, S, Ek) @ (Ek, A) -> (B, 1, S, A)
            return self.v(torch.tanh(q + k)).squeeze(-1)  # (B, L, S, A) -> (B, L, S)
        k = self.W(keys) if self.kind == "general" else keys  # (B, S, Eq)
        return query @ k.transpose(-2, -1)  # (B, L, Eq) @ (B, Eq, S) -> (B, L, S)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        query, single, values = _as_steps(self, query, keys, values, mask)
        if self.kind == "concat":
            context, weights = attend(self.score(query, keys), values, mask)
        else:  # notebook 04's function, unscaled: the same masked softmax and weighted sum
            k = self.W(keys) if self.kind == "general" else keys  # (B, S, Eq)
            keep = None if mask is None else mask[:, None, :]  # (B, 1, S)
            context, weights = scaled_dot_product_attention(query, k, values, keep, scale=1.0, return_weights=True)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


def _reverse_each(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each sequence ``x[b]`` and leave its padding in place."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]  # (1, S)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)  # (B, S)
    return x.gather(1, index[:, :, None].expand_as(x))


class Encoder(nn.Module):
    """Embedding and a bidirectional GRU over the source; padding never reaches the real steps (notebook 05).

    ``forward(src (B, S), lengths (B,))`` returns ``outputs (B, S, 2H)`` (forward and backward states
    side by side) and ``summary (B, 2H)``: the forward state after the last real token and the
    backward state after the first. The backward GRU reads each sentence reversed within its own
    length, so a sentence gives the same outputs alone as inside a padded batch.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, pad_id: int = 0) -> None:
        super().__init__()
        for name, size in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_dim", hidden_dim)):
            require_int(name, size, 1)
        if require_int("pad_id", pad_id) >= vocab_size:
            raise ValueError(f"pad_id: expected an id in [0, {vocab_size}), got {pad_id}")
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.forward_gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.backward_gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.output_dim = 2 * hidden_dim

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, S = require_ids("src", src, self.embed.num_embeddings).values()
        require_lengths("lengths", lengths, B, S)
        x = self.embed(src)  # (B, S, Emb)
        fwd, _ = self.forward_gru(x)  # (B, S, H): step t has read tokens 0..t
        bwd, _ = self.backward_gru(_reverse_each(x, lengths))  # (B, S, H), on each sentence reversed
        bwd = _reverse_each(bwd, lengths)  # back in source order: step t has read tokens t..length-1
        last = (lengths - 1).clamp_min(0)[:, None, None].expand(-1, 1, fwd.size(-1))  # (B, 1, H)
        summary = torch.cat([fwd.gather(1, last)[:, 0], bwd[:, 0]], dim=-1)  # (B, 2H)
        return torch.cat([fwd, bwd], dim=-1), summary  # (B, S, 2H), (B, 2H)


class Decoder(nn.Module):
    """A GRU decoder that reads a context vector at every output step (notebook 05).

    With an ``attention`` module the decoder state ``h_t`` asks the encoder outputs which source
    positions matter, and the context is their weighted average (Luong's arrangement, used here
    for every score so that only the score differs). With ``attention=None`` the context is the
    encoder's fixed summary at every step: the no-attention baseline, whose whole view of the
    source is one vector.

    ``forward(tokens (B, T), state (1, B, H), outputs (B, S, Ee), summary (B, Ee), mask (B, S))``
    returns ``logits (B, T, V)``, the new state and weights ``(B, T, S)`` (None without attention).
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, encoder_dim: int,
                 attention: nn.Module | None = None) -> None:
        super().__init__()
        for name, size in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_dim", hidden_dim),
                           ("encoder_dim", encoder_dim)):
            require_int(name, size, 1)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.init = nn.Linear(encoder_dim, hidden_dim)
        self.gru = nn.GRU(embed_dim + (encoder_dim if attention is None else 0), hidden_dim, batch_first=True)
        self.attention = attention
        self.out = nn.Linear(hidden_dim + encoder_dim, vocab_size)

    def start(self, summary: torch.Tensor) -> torch.Tensor:
        """The first decoder state ``(1, B, H)`` from the encoder's summary ``(B, Ee)``."""
        return torch.tanh(self.init(summary))[None]

    def forward(self, tokens: torch.Tensor, state: torch.Tensor, outputs: torch.Tensor, summary: torch.Tensor,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        e = self.embed(tokens)  # (B, T, Emb)
        T = tokens.size(1)
        if self.attention is None:  # the bottleneck: the same summary at every step, in and out
            e = torch.cat([e, summary[:, None, :].expand(-1, T, -1)], dim=-1)
        if T:
            h, state = self.gru(e, state)  # (B, T, H)
        else:  # nn.GRU refuses an empty sequence: no steps, the state unchanged
            h = e.new_zeros(e.size(0), 0, self.gru.hidden_size)
        if self.attention is None:
            context, weights = summary[:, None, :].expand(-1, T, -1), None  # (B, T, Ee)
        else:
            context, weights = self.attention(h, outputs, outputs, mask)  # (B, T, Ee), (B, T, S)
        return self.out(torch.cat([h, context], dim=-1)), state, weights  # (B, T, V)


class Seq2Seq(nn.Module):
    """Encoder and decoder together; teacher-forced training and greedy decoding (notebook 05)."""

    def __init__(self, encoder: Encoder, decoder: Decoder, bos_id: int = 1) -> None:
        super().__init__()
        self.encoder, self.decoder, self.bos_id = encoder, decoder, bos_id

    def _start(self, src: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        B, S = require_ids("src", src, self.encoder.embed.num_embeddings).values()
        require_lengths("lengths", lengths, B, S)
        outputs, summary = self.encoder(src, lengths)  # (B, S, 2H), (B, 2H)
        mask = padding_mask(lengths.cpu(), src.size(1)).to(src.device)  # (B, S): True at real tokens
        bos = torch.full((src.size(0), 1), self.bos_id, dtype=torch.long, device=src.device)
        return outputs, summary, mask, self.decoder.start(summary), bos

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: logits ``(B, T, V)`` for target ``tgt (B, T)``, and weights ``(B, T, S)`` or None.

        The decoder reads ``<bos>`` then the right previous token at every step, all steps at once.
        """
        outputs, summary, mask, state, bos = self._start(src, lengths)
        require_ids("tgt", tgt, self.decoder.embed.num_embeddings, "B T", B=src.size(0))
        tokens = torch.cat([bos, tgt[:, :-1]], dim=1)[:, : tgt.size(1)]  # (B, T): shifted right by one
        logits, _, weights = self.decoder(tokens, state, outputs, summary, mask)
        return logits, weights

    @torch.no_grad()
    def translate(self, src: torch.Tensor, lengths: torch.Tensor, max_len: int
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Greedy decoding, one step at a time on its own guesses: ids ``(B, max_len)``, weights or None."""
        max_len = require_int("max_len", max_len)
        outputs, summary, mask, state, token = self._start(src, lengths)
        if max_len == 0:  # nothing to decode: empty ids, and weights with an empty step axis
            empty = None if self.decoder.attention is None else outputs.new_zeros(src.size(0), 0, src.size(1))
            return token[:, :0], empty
        ids, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.decoder(token, state, outputs, summary, mask)  # (B, 1, V)
            token = logits.argmax(-1)  # (B, 1)
            ids.append(token)
            weights.append(w)
        return torch.cat(ids, dim=1), None if weights[0] is None else torch.cat(weights, dim=1)
