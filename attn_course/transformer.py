"""The transformer block and small models built from it (notebooks 08 and 09).

A pre-norm block adds three things to its input, each computed from a layer-normed copy:
self-attention (the tokens read each other), optionally cross-attention (they read another
sequence), and an MLP (each token thinks alone). The residual stream ``x`` is never normalised
in place, so every layer only adds a correction to it.
"""

from __future__ import annotations

import torch
from torch import nn

from .cross_attention import CrossAttention, PatchEmbedding
from .masks import causal_mask, check_attn_mask, padding_mask
from .multihead import KVCache, MultiHeadAttention
from .runtime import check_shape, require_ids, require_int, require_lengths, require_same_dtype, require_tensor

__all__ = ["FeedForward", "TransformerBlock", "DecoderOnlyTransformer", "TransformerTranslator",
           "ImageQuestionModel", "KVCache"]


class FeedForward(nn.Sequential):
    """The per-token MLP of a block: ``E -> hidden -> E`` with a GELU between (notebook 08)."""

    def __init__(self, embed_dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        require_int("embed_dim", embed_dim, 1)
        require_int("hidden_dim", hidden_dim, 1)
        super().__init__(nn.Linear(embed_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim),
                         nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., E)`` -> ``(..., E)``, each token on its own."""
        check_shape(require_tensor("x", x, floating=True), "... E", name="x", E=self[0].in_features)
        require_same_dtype("x", x, self[0].weight.dtype, "the module's", autocast_ok=True)
        return super().forward(x)


class TransformerBlock(nn.Module):
    """A pre-norm transformer block (notebook 08; its cross-attention form in notebook 09).

    ``x = x + SelfAttention(LN(x))``; with ``context_dim`` also ``x = x + CrossAttention(LN(x), context)``;
    then ``x = x + MLP(LN(x))``.

    Args:
        embed_dim: ``E``.
        num_heads: ``H``.
        causal: mask the self-attention so token ``t`` sees only tokens ``<= t``.
        context_dim: the width of a context sequence to cross-attend to; None for no cross-attention.
        mlp_ratio: the MLP's hidden width is ``mlp_ratio · E``.
        dropout: on the attention weights and the MLP's output, in training only.

    ``forward(x (B, L, E), context=None, context_mask=None, attn_mask=None, kv_cache=None,
    need_weights=False)`` returns ``(x (B, L, E), weights)``; weights is None or a dict with
    ``"self"`` ``(B, H, L, S)`` and, with cross-attention, ``"cross"`` ``(B, H, L, S_context)``.
    ``attn_mask`` (True = may attend) is combined with the causal mask; ``kv_cache`` is a
    :class:`KVCache` for generation one token at a time.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, causal: bool = True, context_dim: int | None = None,
                 mlp_ratio: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        require_int("embed_dim", embed_dim, 1)
        if require_int("num_heads", num_heads, 1) and embed_dim % num_heads:
            raise ValueError(f"num_heads: embed_dim {embed_dim} must divide into num_heads heads, got {num_heads}")
        if context_dim is not None:
            require_int("context_dim", context_dim, 1)
        require_int("mlp_ratio", mlp_ratio, 1)
        self.causal = causal
        self.ln_self = nn.LayerNorm(embed_dim)
        self.self_attn = MultiHeadAttention(embed_dim, num_heads, dropout=dropout, use_sdpa=True)
        self.ln_cross = nn.LayerNorm(embed_dim) if context_dim is not None else None
        self.cross_attn = CrossAttention(embed_dim, num_heads, context_dim, dropout=dropout, use_sdpa=True) \
            if context_dim is not None else None
        self.ln_mlp = nn.LayerNorm(embed_dim)
        self.mlp = FeedForward(embed_dim, mlp_ratio * embed_dim, dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None, kv_cache: KVCache | None = None, need_weights: bool = False
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        if (context is None) != (self.cross_attn is None):
            raise ValueError("context: this block was built " + ("without" if self.cross_attn is None else "with")
                             + " cross-attention (context_dim), so " + ("pass no" if self.cross_attn is None
                                                                        else "it needs a") + " context")
        B, L, _ = check_shape(require_tensor("x", x, floating=True), "B L E", name="x",
                              E=self.ln_self.normalized_shape[0]).values()
        require_same_dtype("x", x, self.ln_self.weight.dtype, "the block's", autocast_ok=True)
        S = L + (len(kv_cache) if kv_cache is not None else 0)  # keys: the cached positions, then these
        if attn_mask is not None:  # as MultiHeadAttention reads it: a 3-D mask is (B, L, S), the same for every head
            want = (B, self.self_attn.num_heads, L, S)
            three_d = isinstance(attn_mask, torch.Tensor) and attn_mask.dim() == 3
            check_attn_mask(attn_mask[:, None] if three_d else attn_mask, want,
                            expected=f"(B, H, L, S) = {want}, or (B, L, S) = {(B, L, S)}")
        h = self.ln_self(x)
        mask_kw = {"is_causal": True} if self.causal and attn_mask is None else {"attn_mask": attn_mask}
        if self.causal and attn_mask is not None:  # both: a key must be allowed by the mask and not in the future
            past = causal_mask(L, S, device=x.device, align="bottom-right")
            mask_kw = {"attn_mask": attn_mask & past if attn_mask.dtype == torch.bool
                       else torch.where(past, attn_mask, float("-inf"))}  # a float mask: -inf on the future keys
        a, w_self = self.self_attn(h, h, h, **mask_kw, need_weights=need_weights, average_attn_weights=False,
                                   kv_cache=kv_cache)
        x = x + a  # residual: the block adds to x, it does not replace it
        w_cross = None
        if self.cross_attn is not None:
            c, w_cross = self.cross_attn(self.ln_cross(x), context, context_mask, need_weights=need_weights,
                                         average_attn_weights=False)
            x = x + c
        x = x + self.mlp(self.ln_mlp(x))
        if not need_weights:
            return x, None
        return x, {"self": w_self} | ({"cross": w_cross} if w_cross is not None else {})


class DecoderOnlyTransformer(nn.Module):
    """A small GPT: token and learned position embeddings, causal blocks, a final norm and a head (notebook 08).

    Args:
        vocab_size: ``V`` token ids.
        max_len: the longest sequence (prompt plus generated tokens) it has positions for.
        embed_dim, num_heads, num_layers, mlp_ratio, dropout: the size of the model.

    ``forward(ids (B, T), kv_caches=None, need_weights=False)`` returns ``(logits (B, T, V), weights)``;
    weights is None or a list with each layer's self-attention ``(B, H, T, S)``. With one
    :class:`KVCache` per layer (:meth:`new_caches`), ``ids`` continue the cached positions.
    """

    def __init__(self, vocab_size: int, max_len: int, *, embed_dim: int = 64, num_heads: int = 4, num_layers: int = 2,
                 mlp_ratio: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        require_int("vocab_size", vocab_size, 1)
        require_int("max_len", max_len, 1)
        require_int("embed_dim", embed_dim, 1)
        require_int("num_layers", num_layers, 1)  # generation keeps one cache per layer
        self.max_len = max_len
        self.token = nn.Embedding(vocab_size, embed_dim)
        self.position = nn.Embedding(max_len, embed_dim)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, causal=True, mlp_ratio=mlp_ratio,
                                                     dropout=dropout) for _ in range(num_layers))
        self.ln_final = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, vocab_size, bias=False)

    def new_caches(self) -> list[KVCache]:
        """One empty cache per layer."""
        return [KVCache() for _ in self.blocks]

    def forward(self, ids: torch.Tensor, kv_caches: list[KVCache] | None = None, need_weights: bool = False
                ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        T = require_ids("ids", ids, self.token.num_embeddings, "B T")["T"]
        if kv_caches is not None and not isinstance(kv_caches, (list, tuple)):
            raise TypeError(f"kv_caches: expected a list of KVCache (see new_caches), got {type(kv_caches).__name__}")
        if kv_caches is not None and len(kv_caches) != len(self.blocks):
            raise ValueError(f"kv_caches: expected one KVCache per layer ({len(self.blocks)}), got {len(kv_caches)}")
        start = len(kv_caches[0]) if kv_caches is not None else 0
        if start + T > self.max_len:
            raise ValueError(f"ids: positions {start}..{start + T - 1} go past max_len {self.max_len}")
        positions = torch.arange(start, start + T, device=ids.device)  # (T,): where these tokens sit
        x = self.token(ids) + self.position(positions)  # (B, T, E) + (T, E)
        weights = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, kv_cache=kv_caches[i] if kv_caches is not None else None, need_weights=need_weights)
            weights.append(w["self"] if need_weights else None)
        return self.head(self.ln_final(x)), weights if need_weights else None  # (B, T, V)

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, max_new_tokens: int, use_cache: bool = True) -> torch.Tensor:
        """Greedy continuation of ``prompt (B, T0)``: returns ``(B, T0 + max_new_tokens)`` ids.

        Without the cache every step runs the whole sequence again; with it, the prompt runs once
        and each step runs one token against the cached keys and values. The tokens are the same.
        Runs in eval mode (no dropout) and restores the mode it found.
        """
        T0 = require_ids("prompt", prompt, self.token.num_embeddings, "B T")["T"]
        if T0 == 0:
            raise ValueError(f"prompt: expected at least one token to continue, got shape {tuple(prompt.shape)}")
        require_int("max_new_tokens", max_new_tokens)
        if T0 + max_new_tokens - 1 > self.max_len:  # the last new token is written, never read
            raise ValueError(f"max_new_tokens: a prompt of {T0} and {max_new_tokens} new tokens need "
                             f"{T0 + max_new_tokens - 1} positions, more than max_len {self.max_len}")
        ids, caches = prompt, self.new_caches() if use_cache else None
        step_input, was_training = prompt, self.training
        self.eval()  # no dropout while generating
        for _ in range(max_new_tokens):
            logits, _ = self(step_input if use_cache else ids, caches)
            token = logits[:, -1:].argmax(-1)  # (B, 1): the most likely next token
            ids = torch.cat([ids, token], dim=1)
            step_input = token
        self.train(was_training)
        return ids


class TransformerTranslator(nn.Module):
    """An encoder-decoder transformer for character translation, with the interface of ``rnn.Seq2Seq`` (notebook 09).

    The encoder runs non-causal blocks over the source; the decoder runs causal blocks that also
    cross-attend to the encoder's output, with the source padding masked.

    ``forward(src (B, S), lengths (B,), tgt (B, T))`` returns ``(logits (B, T, V), cross weights)``
    with teacher forcing (the decoder reads BOS then ``tgt`` shifted right); ``translate(src,
    lengths, max_len)`` returns greedy ids ``(B, max_len)`` and the last layer's cross-attention
    ``(B, H, max_len, S)``. ``training.fit`` and ``training.exact_match`` work with it.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, max_src_len: int, max_tgt_len: int, *, embed_dim: int = 64,
                 num_heads: int = 4, encoder_layers: int = 1, decoder_layers: int = 1, mlp_ratio: int = 4,
                 bos_id: int = 1) -> None:
        super().__init__()
        for name, n, minimum in (("src_vocab", src_vocab, 1), ("tgt_vocab", tgt_vocab, 1), ("max_src_len", max_src_len, 1),
                                 ("max_tgt_len", max_tgt_len, 1), ("embed_dim", embed_dim, 1),
                                 ("encoder_layers", encoder_layers, 0), ("decoder_layers", decoder_layers, 1)):
            require_int(name, n, minimum)
        if require_int("bos_id", bos_id) >= tgt_vocab:
            raise ValueError(f"bos_id: expected a target id in [0, {tgt_vocab}), got {bos_id}")
        self.bos_id = bos_id
        self.src_token, self.src_position = nn.Embedding(src_vocab, embed_dim), nn.Embedding(max_src_len, embed_dim)
        self.tgt_token, self.tgt_position = nn.Embedding(tgt_vocab, embed_dim), nn.Embedding(max_tgt_len, embed_dim)
        self.encoder = nn.ModuleList(TransformerBlock(embed_dim, num_heads, causal=False, mlp_ratio=mlp_ratio)
                                     for _ in range(encoder_layers))
        self.decoder = nn.ModuleList(TransformerBlock(embed_dim, num_heads, causal=True, context_dim=embed_dim,
                                                      mlp_ratio=mlp_ratio) for _ in range(decoder_layers))
        self.ln_encoder, self.ln_decoder = nn.LayerNorm(embed_dim), nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, tgt_vocab)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The source's memory ``(B, S, E)`` and its padding mask ``(B, S)`` (True = real character)."""
        B, S = require_ids("src", src, self.src_token.num_embeddings, "B S").values()
        if S > self.src_position.num_embeddings:
            raise ValueError(f"src: {S} characters, more than max_src_len {self.src_position.num_embeddings}")
        require_lengths("lengths", lengths, B, S, minimum=0)
        mask = padding_mask(lengths, S)  # (B, S)
        x = self.src_token(src) + self.src_position(torch.arange(S, device=src.device))  # (B, S, E)
        for block in self.encoder:
            x, _ = block(x, attn_mask=mask[:, None, :])  # (B, 1, S): no source token reads padding
        return self.ln_encoder(x), mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
               kv_caches: list[KVCache] | None = None, need_weights: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` for the decoder input ``tgt_in (B, T)``, and the last layer's cross weights."""
        start = len(kv_caches[0]) if kv_caches is not None else 0
        x = self.tgt_token(tgt_in) + self.tgt_position(torch.arange(start, start + tgt_in.size(1), device=tgt_in.device))
        w = None
        for i, block in enumerate(self.decoder):
            x, w = block(x, memory, mask, kv_cache=kv_caches[i] if kv_caches is not None else None,
                         need_weights=need_weights)
        return self.head(self.ln_decoder(x)), w["cross"] if need_weights else None

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, None]:
        memory, mask = self.encode(src, lengths)
        T = require_ids("tgt", tgt, self.tgt_token.num_embeddings, "B T", B=memory.size(0))["T"]
        if T > self.tgt_position.num_embeddings:
            raise ValueError(f"tgt: {T} characters, more than max_tgt_len {self.tgt_position.num_embeddings}")
        bos = torch.full_like(tgt[:, :1], self.bos_id)
        return self.decode(torch.cat([bos, tgt[:, :-1]], dim=1), memory, mask)  # (B, T, V), None

    @torch.no_grad()
    def translate(self, src: torch.Tensor, lengths: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        if require_int("max_len", max_len) > self.tgt_position.num_embeddings:
            raise ValueError(f"max_len: expected at most max_tgt_len {self.tgt_position.num_embeddings}, got {max_len}")
        memory, mask = self.encode(src, lengths)
        if max_len == 0:  # nothing to write: empty ids and weights
            heads = self.decoder[-1].cross_attn.attn.num_heads
            return (torch.empty(memory.size(0), 0, dtype=torch.long, device=src.device),
                    memory.new_zeros(memory.size(0), heads, 0, memory.size(1)))
        caches = [KVCache() for _ in self.decoder]
        token = torch.full_like(src[:, :1], self.bos_id)  # (B, 1)
        ids, weights = [], []
        for _ in range(max_len):
            logits, w = self.decode(token, memory, mask, caches, need_weights=True)  # (B, 1, V), (B, H, 1, S)
            token = logits.argmax(-1)
            ids.append(token)
            weights.append(w)
        return torch.cat(ids, dim=1), torch.cat(weights, dim=2)


class ImageQuestionModel(nn.Module):
    """Answer a question about an image: question tokens cross-attend to image patches (notebook 09).

    Patches become tokens (:class:`attn_course.cross_attention.PatchEmbedding`) and read each other in
    ``image_layers`` non-causal blocks; the question's words read each other and then the patches in
    ``question_layers`` blocks with cross-attention; the mean of the words' vectors is classified.

    ``forward(images (B, C, H, W), questions (B, Lq), need_weights=False)`` returns ``(logits (B, A),
    cross weights (B, H, Lq, S) of the last block or None)``. Question id 0 is padding, at the end.
    """

    def __init__(self, num_words: int, num_answers: int, *, image_size: int = 32, patch_size: int = 4,
                 channels: int = 3, embed_dim: int = 64, num_heads: int = 4, image_layers: int = 1,
                 question_layers: int = 1, max_question_len: int = 16, mlp_ratio: int = 2,
                 patch_hidden_dim: int | None = 128) -> None:
        super().__init__()
        for name, n, minimum in (("num_words", num_words, 2), ("num_answers", num_answers, 1),  # id 0 is padding
                                 ("embed_dim", embed_dim, 1), ("image_layers", image_layers, 0),
                                 ("question_layers", question_layers, 1), ("max_question_len", max_question_len, 1)):
            require_int(name, n, minimum)
        self.patches = PatchEmbedding(image_size, patch_size, channels, embed_dim, patch_hidden_dim)
        self.image_blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, causal=False, mlp_ratio=mlp_ratio)
                                          for _ in range(image_layers))
        self.word, self.position = nn.Embedding(num_words, embed_dim), nn.Embedding(max_question_len, embed_dim)
        self.question_blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, causal=False, context_dim=embed_dim,
                                                              mlp_ratio=mlp_ratio) for _ in range(question_layers))
        self.ln_image, self.ln_final = nn.LayerNorm(embed_dim), nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_answers)

    def forward(self, images: torch.Tensor, questions: torch.Tensor, need_weights: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B = check_shape(require_tensor("images", images, floating=True), "B C H W", name="images")["B"]
        Lq = require_ids("questions", questions, self.word.num_embeddings, "B L", B=B)["L"]
        if Lq > self.position.num_embeddings:
            raise ValueError(f"questions: {Lq} words, more than max_question_len {self.position.num_embeddings}")
        real = questions != 0  # (B, Lq)
        if (empty := ~real.any(1)).any():
            raise ValueError(f"questions: rows {empty.nonzero().flatten().tolist()} are only padding (id 0); "
                             "the mean over their words is undefined")
        patches = self.patches(images)  # (B, S, E)
        for block in self.image_blocks:
            patches, _ = block(patches)
        patches = self.ln_image(patches)
        x = self.word(questions) + self.position(torch.arange(Lq, device=questions.device))  # (B, Lq, E)
        w = None
        for block in self.question_blocks:
            x, w = block(x, patches, attn_mask=real[:, None, :], need_weights=need_weights)
        x = (x * real[..., None]).sum(1) / real.sum(1, keepdim=True)  # (B, E): the mean over the real words
        x = self.ln_final(x)
        return self.head(x), w["cross"] if need_weights else None
