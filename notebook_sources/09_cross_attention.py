# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 09 · Cross-attention: text to text, text to image
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/09_cross_attention.ipynb)
#
# Self-attention lets the tokens of one sequence read each other. Most useful models also need to read *something
# else*: a translator writes English while reading French, a speech recogniser writes text while listening to audio,
# a captioning model writes words while looking at a picture, and an image generator paints while reading its
# prompt. The mechanism that joins two sequences is **cross-attention**: the sequence that is being produced asks,
# the other one answers. It is the same scaled dot-product attention as before, with one change: the queries come
# from one sequence and the keys and values from the other. That change has consequences you can get wrong: the two
# lengths differ, the two widths may differ, and only one side's padding has to be masked. This notebook works
# through them by hand, then trains two small models in seconds: a transformer that translates the dates of notebook
# 05, and a model that answers questions about pictures by letting the words of the question look at the image's
# patches. For both we draw where the model looks and check with numbers whether it looks where we think; for the
# translator we also test, by hiding what it looks at, whether it needs what it looks at.
#
# **Learning goals.** After this notebook you can
# - **explain** cross-attention as "one sequence asks, another answers", and say which side gives the queries and
#   which the keys and values;
# - **compute** it by hand with $L \ne S$ and different widths, and **reproduce** the package's `CrossAttention`
#   and PyTorch's `nn.MultiheadAttention` with it;
# - **mask** the padding of the answering side, and show what leaks into the output without the mask;
# - **take apart** an encoder-decoder transformer (what each sub-layer reads, where each mask goes), **train** it
#   and an image-question model, and **measure** their held-out accuracy;
# - **read** cross-attention maps over a sentence and over an image, check with numbers what they seem to show, and
#   test a reading by intervention.
#
# **Prerequisites.** [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb)
# (padding masks), [05 · Attention in RNN encoder-decoders](05_attention_in_rnn_encoder_decoders.ipynb) (the date
# task, encoder and decoder, alignment maps), [07 · Multi-head attention](07_multi_head_attention.ipynb) (heads,
# `kdim`/`vdim`, `from_torch`) and [08 · The transformer block](08_the_transformer_block.ipynb) (the block, learned
# positions, the KV cache).
#
# **Time.** About 60 minutes of study (the notebook runs in well under a minute, most of it training two models).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import datetime as dt
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from attn_course import device, padding_mask, plot_attention, set_seed, softmax
from attn_course.cross_attention import CrossAttention, PatchEmbedding, patchify, unpatchify
from attn_course.data import SHAPE_COLOURS, SHAPE_KINDS, format_date, make_date_task, make_shapes_task
from attn_course.exercises import cross_attention as check
from attn_course.multihead import KVCache, MultiHeadAttention, trace_shapes
from attn_course.self_attention import SelfAttention
from attn_course.training import exact_match, fit
from attn_course.transformer import ImageQuestionModel, TransformerTranslator

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# The two models trained here are small (their parameters are counted in sections 4 and 5) and train on the CPU in
# seconds; `DEVICE` is set up as in every notebook but not used.
#
# ## 1. One sequence asks, another answers (core)
#
# In self-attention (notebook 06) every token of a sequence $X$ produces a query, a key and a value, and the tokens
# read each other. In **cross-attention** there are two sequences:
#
# - $X$, of $L$ tokens of width $E$, **asks**: it gives the queries. It is the sequence being built: the translation
#   written so far, the words of a question.
# - $C$, the **context**, of $S$ tokens of width $C_w$, **answers**: it gives the keys and the values. It is what
#   the asker needs to read: the source sentence, the patches of an image, the frames of a recording.
#
# $$Q = X W_q^\top \;(L \times D), \qquad K = C\, W_k^\top \;(S \times D), \qquad V = C\, W_v^\top \;(S \times E_v),
# \qquad \text{out} = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{D}}\Big) V \;(L \times E_v).$$
#
# Nothing in the formula is new; only where $Q$, $K$ and $V$ come from. Four consequences follow, and each one
# returns in this notebook:
#
# 1. **$L \ne S$ in general.** The weights are an $L \times S$ matrix: one row per asking token, one column per
#    answering token, and each *row* sums to 1 (every query spreads its attention over the context).
# 2. **The output has the asker's length**, $L$ rows, however long the context is. Cross-attention brings
#    information *from* the context *to* the asker's tokens.
# 3. **The widths may differ.** An image encoder and a text decoder need not agree on a width: $W_k$ takes the
#    context's width $C_w$ to $D$, and $W_v$ takes it to $E_v$. (PyTorch calls the context's widths `kdim` and `vdim`.)
# 4. **Only the context's padding must be masked.** A padded context token would be *read* by every query; a padded
#    asking token only produces a row that nobody uses.
#
# Where you meet it:
#
# | model | asks (queries) | answers (keys and values) |
# |---|---|---|
# | translation (Bahdanau et al. 2014; Vaswani et al. 2017) | the translation written so far | the source sentence |
# | speech recognition (Whisper) | the text written so far | the audio frames |
# | image captioning, visual question answering (Show, Attend and Tell; Flamingo) | words | image regions or patches |
# | text-to-image generation (Stable Diffusion) | the image being generated | the prompt's tokens |
# | Perceiver | a few hundred learned latent vectors | a long input: pixels, audio samples |
#
# The last row uses the cost, $L \cdot S$ scores, on purpose: a short asker reading a long context is cheap, much
# cheaper than the $S \cdot S$ of self-attention over that context. Notebook 05's encoder-decoder was already the
# first row: its decoder state asked, the encoder's states answered.
#
# ## 2. Cross-attention by hand (core)
#
# A toy translation. The French source "le chat noir" has $S = 3$ words; the decoder is writing "black cat", $L = 2$
# words. English puts the adjective first and French puts it second, so the English word "black" must read the
# *third* French word and "cat" the second: the alignment crosses. Each French word is described by $C_w = 3$
# features (is it an article, an animal, a colour?); each English word by $E = 2$ numbers saying what it needs
# (a colour, an animal). In a trained translator the decoder's state would say that; here we set it by hand.

# %%
source_words = ["le", "chat", "noir"]  # the context: S = 3 French words, the side that answers
target_words = ["black", "cat"]  # the asker: L = 2 English words being written
context_toy = torch.tensor([[1.0, 0.0, 0.0],  # le:   an article
                            [0.0, 1.0, 0.0],  # chat: an animal
                            [0.0, 0.0, 1.0]])  # noir: a colour                    (S, C_w) = (3, 3)
x_toy = torch.tensor([[4.0, 0.0],  # black: needs a colour
                      [0.0, 4.0]])  # cat:   needs an animal                        (L, E) = (2, 2)

# %% [markdown]
# The projections, in the layout of `nn.Linear.weight`, (out, in). $W_q$ keeps the asker's two needs as they are
# ($D = 2$). $W_k$ translates the context's three features into the same two-number language: a colour word offers
# "colour", an animal word offers "animal", an article offers nothing. $W_v$ hands over which word it is, so the
# output will say which French word each English word has read ($E_v = 3$).

# %%
W_q_toy = torch.eye(2)  # (D, E) = (2, 2): [needs a colour, needs an animal]
W_k_toy = torch.tensor([[0.0, 0.0, 1.0],  # key coordinate 0, "offers a colour", reads the colour feature
                        [0.0, 1.0, 0.0]])  # key coordinate 1, "offers an animal", reads the animal feature   (D, C_w)
W_v_toy = torch.eye(3)  # (E_v, C_w) = (3, 3): the value is the word itself

q = x_toy @ W_q_toy.T  # (L, E) @ (E, D) -> (L, D)
k = context_toy @ W_k_toy.T  # (S, C_w) @ (C_w, D) -> (S, D)
v = context_toy @ W_v_toy.T  # (S, C_w) @ (C_w, E_v) -> (S, E_v)
scores_toy = q @ k.T / math.sqrt(q.size(-1))  # (L, D) @ (D, S) -> (L, S)
weights_toy = softmax(scores_toy, dim=-1)  # (L, S): each row over the S source words
out_toy = weights_toy @ v  # (L, S) @ (S, E_v) -> (L, E_v)
print("q", tuple(q.shape), " k", tuple(k.shape), " v", tuple(v.shape), " scores", tuple(scores_toy.shape),
      " out", tuple(out_toy.shape))
print("scores (rows: black, cat; columns: le, chat, noir):\n", scores_toy)
print("weights:\n", weights_toy)
print("row sums:", weights_toy.sum(-1))

# %% [markdown]
# "black" scores $4/\sqrt{2} \approx 2.83$ against "noir" and 0 against the other two, so after the softmax
# 0.89 of its weight is on "noir"; "cat" puts the same on "chat". Since the values are the words' one-hots, the
# output rows *are* these weights: each English word now holds mostly the French word it needed. Two pictures of
# the same weights: the matrix, and the alignment drawn as lines from each asking word to the words it reads.

# %%
fig, (ax_map, ax_lines) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
plot_attention(weights_toy, target_words, source_words, ax=ax_map, title="Weights (L, S) = (2, 3)")
ax_map.set_xlabel("context word (key): answers")
ax_map.set_ylabel("target word (query): asks")
ax_map.tick_params(axis="x", rotation=0)
for j, word in enumerate(source_words):  # the context on top, the asker below
    ax_lines.text(j, 1, word, ha="center", va="center", fontsize=13, color="C1")
for i, word in enumerate(target_words):
    ax_lines.text(i + 0.5, 0, word, ha="center", va="center", fontsize=13, color="C0")
    for j in range(len(source_words)):
        ax_lines.plot([i + 0.5, j], [0.12, 0.88], color="k", lw=8 * float(weights_toy[i, j]), alpha=0.6)
ax_lines.set_xlim(-0.6, 2.6)
ax_lines.set_ylim(-0.2, 1.2)
ax_lines.set_xticks([])
ax_lines.set_yticks([0, 1], ["asks: target (L = 2)", "answers: context (S = 3)"])
ax_lines.set_title("The same weights as lines (width ∝ weight)")
for side in ("top", "right", "bottom", "left"):
    ax_lines.spines[side].set_visible(False)
ax_lines.tick_params(axis="y", length=0)
fig.suptitle("Cross-attention by hand: each English word finds the French word it needs, in any order")
fig.tight_layout()
plt.show()

# %% [markdown]
# The lines cross. Attention does not care about order: each query scores every key, wherever it is, which is why it
# handles languages that put their words in different orders (Bahdanau et al. drew such crossing alignments for
# English and French). The heatmap has 2 rows and 3 columns, $L \times S$, and its rows sum to 1.
#
# ### The general function, and the package's module
#
# For a batch, the same five lines with a batch axis in front. `x` is $(B, L, E)$ and `context` is $(B, S, C_w)$;
# nothing requires $L = S$ or $E = C_w$.

# %%
def cross_attention(x, context, W_q, W_k, W_v):
    """One head: x (B, L, E) asks, context (B, S, C_w) answers. Returns (B, L, E_v)."""
    q = x @ W_q.T  # (B, L, E) @ (E, D) -> (B, L, D)
    k = context @ W_k.T  # (B, S, C_w) @ (C_w, D) -> (B, S, D)
    v = context @ W_v.T  # (B, S, C_w) @ (C_w, E_v) -> (B, S, E_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, L, D) @ (B, D, S) -> (B, L, S)
    return softmax(scores, dim=-1) @ v  # (B, L, S) @ (B, S, E_v) -> (B, L, E_v)


torch.testing.assert_close(cross_attention(x_toy[None], context_toy[None], W_q_toy, W_k_toy, W_v_toy), out_toy[None])
print("the batched function gives the toy's output:", tuple(out_toy[None].shape))

# %% [markdown]
# `attn_course.cross_attention.CrossAttention(embed_dim, num_heads, context_dim)` is notebook 07's
# `MultiHeadAttention` (kept in its `.attn`) called with two inputs: the queries from `x`, the keys and values from
# `context`. With one head, no biases, and our matrices copied in, it must give the same numbers. It has one
# extra matrix, the output projection that mixes the heads; we set it to the identity. Its heads are
# $D = E / H$ wide, so with one head the values have width $E$ too. Here $B = 2$, $L = 3$, $S = 5$, $E = 4$ and the
# context is $C_w = 6$ wide.

# %%
g = torch.Generator().manual_seed(8)
B, L, S, E, C_w = 2, 3, 5, 4, 6
x = torch.randn(B, L, E, generator=g)  # (B, L, E): the asker
context = torch.randn(B, S, C_w, generator=g)  # (B, S, C_w): the context, wider than x
W_q, W_k, W_v = torch.randn(E, E, generator=g), torch.randn(E, C_w, generator=g), torch.randn(E, C_w, generator=g)

ca = CrossAttention(E, num_heads=1, context_dim=C_w, bias=False)
with torch.no_grad():
    ca.attn.q_proj.weight.copy_(W_q)  # (E, E)
    ca.attn.k_proj.weight.copy_(W_k)  # (E, C_w): the context's width in, the head width out
    ca.attn.v_proj.weight.copy_(W_v)  # (E, C_w)
    ca.attn.out_proj.weight.copy_(torch.eye(E))  # (E, E): leave the single head's output as it is
    ours = cross_attention(x, context, W_q, W_k, W_v)  # (B, L, E)
    package, w_package = ca(x, context, need_weights=True)  # (B, L, E), (B, L, S)
torch.testing.assert_close(package, ours)
print("x", tuple(x.shape), " context", tuple(context.shape), "->  output", tuple(package.shape),
      " weights", tuple(w_package.shape))
print("CrossAttention with one head = our cross_attention")

# %% [markdown]
# The output has $L = 3$ rows, one per asking token, whatever $S$ is, and the weights are $L \times S$.
#
# **Self-attention is the special case** `context = x`. Give `cross_attention` the same sequence twice (so
# $C_w = E$ and $S = L$) and it is notebook 06's `SelfAttention`, once that module holds the same three matrices:

# %%
sa = SelfAttention(E, bias=False)  # notebook 06: W_q, W_k, W_v of shape (D, E) with D = E
W_k_self = torch.randn(E, E, generator=g)  # (D, E): x is now also the context, so the key matrix reads width E
W_v_self = torch.randn(E, E, generator=g)
with torch.no_grad():
    for layer, W in ((sa.W_q, W_q), (sa.W_k, W_k_self), (sa.W_v, W_v_self)):
        layer.weight.copy_(W)
    out_self, _ = sa(x)  # (B, L, E)
torch.testing.assert_close(cross_attention(x, x, W_q, W_k_self, W_v_self), out_self)
print("cross_attention(x, x, ...) = SelfAttention(x):", tuple(out_self.shape))

# %% [markdown]
# ## 3. Padding: mask the side that answers (core)
#
# Source sentences have different lengths, so a batch of them is padded to the longest (notebook 04). In
# cross-attention the padded tokens are keys and values, so without a mask every query would read them: the
# padding's (meaningless) values would leak into every output row of that sentence. `CrossAttention` takes a
# `context_mask` of shape $(B, S)$, **True at real context tokens**, the same as `padding_mask(lengths)` from
# notebook 04, and applies it to every query alike: inside, the mask becomes $(B, 1, S)$, one row for all $L$
# queries.
#
# Two contexts of 5 and 3 tokens, padded to $S = 5$, read by $L = 3$ queries through $H = 4$ heads ($E = 8$, so
# $D = 2$; $C_w = 6$):

# %%
torch.manual_seed(3)  # for the module's initial weights
g = torch.Generator().manual_seed(3)
ca2 = CrossAttention(8, num_heads=4, context_dim=6)
x_pad = torch.randn(2, 3, 8, generator=g)  # (B, L, E)
context_pad = torch.randn(2, 5, 6, generator=g)  # (B, S, C_w); sentence 1 has 3 real tokens, then 2 pads
context_pad[1, 3:] = 0.0  # padding is usually zeros (or the embedding of a pad id): any value will do
context_mask = padding_mask([5, 3])  # (B, S): True at real tokens
print("context_mask:\n", context_mask)
with torch.no_grad():
    out_masked, w_masked = ca2(x_pad, context_pad, context_mask, need_weights=True, average_attn_weights=False)
print("weights of sentence 1, head 0 (L, S):\n", w_masked[1, 0])
print("weight on the padding exactly 0 in every head and row:", bool((w_masked[1, :, :, 3:] == 0).all()))
print("rows still sum to 1:", torch.allclose(w_masked.sum(-1), torch.ones(2, 4, 3)))

# %% [markdown]
# The two padded columns get exactly 0, because their scores are set to $-\infty$ before the softmax, and the real
# tokens share all the weight. To see what the mask protects against, change what the padding holds (here to large
# random numbers) and run the module again, with and without the mask. We also run sentence 1 **alone**, unpadded
# ($S = 3$): a model's answer for a sentence should not depend on which other sentences share its batch.

# %%
junk = context_pad.clone()
junk[1, 3:] = 10 * torch.randn(2, 6, generator=g)  # other values in the padded positions
with torch.no_grad():
    out_masked_junk, _ = ca2(x_pad, junk, context_mask)
    out_open, _ = ca2(x_pad, context_pad)  # no mask
    out_open_junk, _ = ca2(x_pad, junk)
    alone, _ = ca2(x_pad[1:], context_pad[1:, :3])  # sentence 1 without padding: (1, L, E)
print("with the mask:    the padding's values change nothing:", torch.equal(out_masked, out_masked_junk))
print("                  sentence 1 alone = sentence 1 in the batch:", torch.allclose(alone[0], out_masked[1], atol=1e-6))
print("without the mask: the output changes with the padding:", not torch.allclose(out_open[1], out_open_junk[1]))
print("                  sentence 1 alone = sentence 1 in the batch:", torch.allclose(alone[0], out_open[1], atol=1e-6))
print("                  sentence 0 (no padding) unaffected:", torch.equal(out_open[0], out_open_junk[0]))
print(f"largest change in sentence 1's output caused by the padding: {(out_open_junk[1] - out_open[1]).abs().max():.2f}")

# %% [markdown]
# Without the mask, the output for sentence 1 depends on what sits in its padding and on how long the *other*
# sentences of the batch are. A model trained that way still trains, but it learns to cope with noise it should
# never have seen, and its answer for a sentence changes with the batch it is in.
#
# What about padding on the *asking* side? A padded query produces an output row that nothing uses (the image model
# of section 5 averages only over its real words), and it changes no other row, since each row of the weights is
# computed from its own query. To check, treat query 1 of sentence 1 as padding and put large random numbers in it:

# %%
x_junk_query = x_pad.clone()
x_junk_query[1, 1] = 10 * torch.randn(8, generator=g)  # (E,): another value in one query row
with torch.no_grad():
    out_query_junk, _ = ca2(x_junk_query, context_pad, context_mask)  # (B, L, E)
print("the changed query's own output row changes:", not torch.allclose(out_query_junk[1, 1], out_masked[1, 1]))
print("every other output row stays the same:",
      torch.allclose(out_query_junk[1, [0, 2]], out_masked[1, [0, 2]], atol=1e-6)
      and torch.allclose(out_query_junk[0], out_masked[0], atol=1e-6))

# %% [markdown]
# So cross-attention needs no query mask: the padded rows are simply ignored downstream. (Self-attention among the
# asker's tokens is another matter: there the padded tokens are keys too, and they are masked.)
#
# **The same in PyTorch.** `nn.MultiheadAttention` does cross-attention when it is given a different `key` and
# `value` than `query`, and a context of another width with `kdim` and `vdim`. Its `key_padding_mask` means the
# opposite of ours: **True = ignore** this key (notebook 07 compared the conventions). We copy its weights with
# notebook 07's `MultiHeadAttention.from_torch` into a `CrossAttention`'s `.attn` and compare:

# %%
torch.manual_seed(5)
ref = nn.MultiheadAttention(8, 4, kdim=6, vdim=6, batch_first=True)  # queries of width 8, context of width 6
ca_ref = CrossAttention(8, num_heads=4, context_dim=6)
ca_ref.attn.load_state_dict(MultiHeadAttention.from_torch(ref).state_dict())
with torch.no_grad():
    out_torch, w_torch = ref(x_pad, context_pad, context_pad, key_padding_mask=~context_mask)  # True = ignore
    out_ours, w_ours = ca_ref(x_pad, context_pad, context_mask, need_weights=True)  # True = real token
torch.testing.assert_close(out_ours, out_torch, atol=1e-5, rtol=1e-4)
torch.testing.assert_close(w_ours, w_torch, atol=1e-5, rtol=1e-4)
print("CrossAttention = nn.MultiheadAttention(kdim=6, vdim=6) with key_padding_mask = ~context_mask:",
      tuple(out_ours.shape), tuple(w_ours.shape))

# %% [markdown]
# ## 4. Text to text: a transformer translates dates (core)
#
# Back to notebook 05's task: dates written by people ("on saturday the 21st of november 2026") into ISO form
# ("2026-11-21"), with held-out calendar days that training never sees. There, a recurrent decoder asked the
# recurrent encoder's states at every output step. Here both sides are transformers, and the decoder has **no
# summary vector** at all: cross-attention is the *only* road from the source to the output.
#
# ### The encoder-decoder transformer, taken apart once
#
# `TransformerTranslator` is made of notebook 08's pre-norm blocks, $x \leftarrow x + f(\mathrm{LN}(x))$ around
# every sub-layer; the one new part is a third sub-layer in the decoder's block. It has the interface of notebook
# 05's `Seq2Seq`, so `fit` and `exact_match` train and score it unchanged.
#
# - **The encoder** runs once per sentence. Each source character gets a token embedding plus a learned position
#   vector (as in notebook 08), then one non-causal block: self-attention, in which each character reads every real
#   character, then the MLP. A final layer norm gives the **memory**, $(B, S, E)$: one vector per source character.
# - **The decoder** embeds the characters written so far (in training, BOS and then the target shifted right by one)
#   with its own token and position tables, then runs one block of **three** sub-layers, each reading a
#   layer-normed copy of the stream and adding its answer to it:
#   1. causal self-attention: position $t$ reads the characters written up to $t$ (what have I written?);
#   2. **cross-attention**: the queries come from the decoder, the keys and values from the memory (what does the
#      source say?);
#   3. the MLP.
#
#   A final layer norm and a linear layer turn each position into logits over the $V$ target characters.
#
# **Where each mask goes.** The source padding is masked wherever the source is read as keys: in the encoder's
# self-attention and in the cross-attention, as a $(B, 1, S)$ mask, the same for every query (section 3). The
# decoder's self-attention is causal. The targets need no padding mask: every ISO date has the same length (and
# padding at the end of a target would be hidden from the real positions by the causal mask anyway).
#
# The model we train, its parts counted:

# %%
task = make_date_task(10_000, 1_000, seed=0)
set_seed(0)
translator = TransformerTranslator(len(task.src_vocab), len(task.tgt_vocab),
                                   max_src_len=task.train.src.size(1) + 8,  # positions for sources a little longer
                                   max_tgt_len=16, embed_dim=64, num_heads=4)
parts = {"encoder: embedding + positions": [translator.src_token, translator.src_position],
         "encoder: block (self-attention, MLP)": list(translator.encoder),
         "encoder: final norm": [translator.ln_encoder],
         "decoder: embedding + positions": [translator.tgt_token, translator.tgt_position],
         "decoder: block (self, cross, MLP)": list(translator.decoder),
         "decoder: final norm + output layer": [translator.ln_decoder, translator.head]}
counts = {name: sum(p.numel() for module in modules for p in module.parameters()) for name, modules in parts.items()}
for name, count in counts.items():
    print(f"{name:<38}{count:>8,}")
n_translator = sum(p.numel() for p in translator.parameters())
print(f"{'whole model':<38}{n_translator:>8,}   (= the sum above: {sum(counts.values()) == n_translator})")
block = translator.decoder[0]
print("the decoder block, in the order its forward runs them:")
for name, part in block.named_children():
    print(f"  {name:<11}{type(part).__name__:<20}{sum(p.numel() for p in part.parameters()):>7,} parameters")
print(f"{len(translator.encoder)} encoder block, {len(translator.decoder)} decoder block; "
      f"E = {block.mlp[0].in_features}, H = {block.self_attn.num_heads} heads of D = {block.self_attn.head_dim}, "
      f"MLP width {block.mlp[0].out_features}")

# %% [markdown]
# **What differs from the 2017 transformer** (Vaswani et al. 2017, sections 3 and 5). The layout is theirs; the details
# are not. They used post-norm blocks (notebook 08, section 2.4), with no final norms; sinusoidal positions (they report
# that learned ones gave nearly identical results); in their base model, 6 encoder and 6 decoder blocks of width 512,
# with $H = 8$ heads of $D = 64$ and an MLP of 2048 with a ReLU; one weight matrix shared by the two embedding tables
# and the output layer (the embeddings multiplied by $\sqrt{512}$); and, in training, Adam with a learning rate that
# rises over 4,000 warm-up steps and then decays, dropout and label smoothing. Ours, printed above, has pre-norm blocks
# with a final norm on each side, learned positions, one block on each side, far narrower, an MLP with a GELU, separate
# embedding and output tables, and trains (`fit`, below) with Adam at a constant learning rate of $3 \cdot 10^{-3}$ and
# no warm-up (pre-norm allows it, notebook 08 section 2.4), with neither dropout nor label smoothing.
#
# One batch of three training dates through the model, step by step, with the shape of each tensor. We compute it
# from the model's parts, as notebook 08 did for its block, and compare with the model's own forward pass.

# %%
def show(step, t, letters):
    """One line of the trace: the step, its shape in letters, and in numbers."""
    print(f"{step:<46}{letters:<14}{tuple(t.shape)}")


src_b, lengths_b, tgt_b = task.train.src[:3], task.train.lengths[:3], task.train.tgt[:3]
src_b = src_b[:, : int(lengths_b.max())]  # (B, S): trimmed to the longest of the three, as fit's batches are
with torch.no_grad():
    src_mask = padding_mask(lengths_b, src_b.size(1))  # (B, S): True at real characters
    show("source ids", src_b, "(B, S)")
    h_src = translator.src_token(src_b) + translator.src_position(torch.arange(src_b.size(1)))  # (B, S, E) + (S, E)
    show("encoder: embedding + positions", h_src, "(B, S, E)")
    for enc_block in translator.encoder:
        h_src, _ = enc_block(h_src, attn_mask=src_mask[:, None, :])  # mask (B, 1, S): no character reads padding
    memory = translator.ln_encoder(h_src)  # (B, S, E)
    show("encoder: block, final norm -> memory", memory, "(B, S, E)")
    bos = torch.full_like(tgt_b[:, :1], translator.bos_id)  # (B, 1)
    tgt_in = torch.cat([bos, tgt_b[:, :-1]], dim=1)  # (B, T): BOS, then the target shifted right
    y = translator.tgt_token(tgt_in) + translator.tgt_position(torch.arange(tgt_in.size(1)))  # (B, T, E) + (T, E)
    show("decoder: embedding + positions", y, "(B, T, E)")
    h = block.ln_self(y)
    a, w_self = block.self_attn(h, h, h, is_causal=True, need_weights=True, average_attn_weights=False)
    y_self = y + a  # (B, T, E)
    show("  1. causal self-attention: weights", w_self, "(B, H, T, T)")
    c, w_cross = block.cross_attn(block.ln_cross(y_self), memory, src_mask, need_weights=True,
                                  average_attn_weights=False)  # queries (B, T, E), keys and values (B, S, E)
    y_cross = y_self + c  # (B, T, E)
    show("  2. cross-attention to the memory: weights", w_cross, "(B, H, T, S)")
    y_out = y_cross + block.mlp(block.ln_mlp(y_cross))  # (B, T, E)
    show("  3. MLP: the block's output", y_out, "(B, T, E)")
    logits_b = translator.head(translator.ln_decoder(y_out))  # (B, T, E) -> (B, T, V)
    show("decoder: final norm, output layer -> logits", logits_b, "(B, T, V)")
    reference, _ = translator(src_b, lengths_b, tgt_b)
torch.testing.assert_close(logits_b, reference, atol=1e-5, rtol=1e-4)  # manual attention vs the fused SDPA path
print("by hand = translator(src, lengths, tgt)")
print("source lengths:", lengths_b.tolist(), " cross-attention weight on the padding exactly 0:",
      bool(w_cross.masked_select(~src_mask[:, None, None, :]).eq(0).all()))
print("self-attention weight on later positions exactly 0:", bool(torch.triu(w_self, diagonal=1).eq(0).all()))

# %% [markdown]
# Here $B = 3$, $S = 22$ (the longest of the three sources), $T = 11$ (ten characters of the date and EOS),
# $E = 64$, $V = 14$, and $H = 4$ heads of $D = E / H = 16$, so the scores are scaled by $1/\sqrt{D} = 1/4$.
# Inside, the cross-attention is notebook 07's multi-head attention with its queries from one tensor and its keys
# and values from another. `trace_shapes` from `attn_course.multihead` (the same trace that notebook 07 switched on
# with `mha.trace = True`) prints its steps; in its letters the queries' length $L$ is the decoder's $T$:

# %%
with torch.no_grad(), trace_shapes(block.cross_attn.attn):
    block.cross_attn(block.ln_cross(y_self), memory, src_mask, need_weights=True)

# %% [markdown]
# We train it as notebook 05 trained its models: teacher forcing, cross-entropy, Adam, batches of 64, here for 400
# steps at a learning rate of $3 \cdot 10^{-3}$.

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
date_losses = fit(translator, task.train, steps=400, batch_size=64, lr=3e-3, seed=0, label="transformer, dates")
print(f"trained {len(date_losses)} steps in {time.perf_counter() - start:.1f} s; "  # fit has closed its bar
      f"mean loss of the last 20 steps {np.mean(date_losses[-20:]):.4f}")

# %% [markdown]
# Held-out exact match, with greedy decoding. `translate` encodes each source once, then feeds each predicted
# character back in, keeping the decoder's self-attention keys and values of earlier steps in a cache (notebook 08,
# section 6). The cross-attention's keys and values depend only on the memory, so decoders built for speed compute
# them once per sentence and keep them too; `translate` recomputes them at every step, which is simpler and costs
# little at this size.

# %% tags=["nbval-ignore-output"]
date_correct = exact_match(translator, task.test)  # (N,) booleans: the whole date and EOS right
date_accuracy = float(date_correct.float().mean())
print(f"held-out exact match: {date_accuracy:.1%} of {len(task.test)} dates")

# %%
print("at least 90% of the held-out dates right:", date_accuracy >= 0.90)

# %% [markdown]
# The transformer reads nearly all the held-out dates right, as notebook 05's GRU models with attention did, but
# without any recurrence and without a summary vector: it reads the source only through cross-attention. (The exact
# figure above is stored from the machine that built this notebook and may differ by a date or two on yours; the
# claim is checked in the cell after it.)
#
# ### Where the decoder looks
#
# `translate` also returns the last decoder layer's cross-attention weights, one $(T, S)$ map per head: $(B, H, T,
# S)$. Here is one held-out day written in a long format, with the four heads averaged (top), and each head on its
# own (below). The model's answer is stored from this notebook's run, like the accuracy above.

# %% tags=["nbval-ignore-output"]
held_out_days = [dt.date.fromisoformat(target) for _, target in task.test.pairs]  # days training never saw
example_day = next(d for d in held_out_days if d.day >= 13 and d.month >= 10)  # every field looks different
text = format_date(example_day, "on weekday the dth of month yyyy")
src, lengths = task.encode_sources([text])  # (1, S), (1,)
ids, w_date = translator.translate(src, lengths, max_len=task.test.tgt.size(1))  # (1, T), (1, H, T, S)
answer = task.tgt_vocab.decode(ids[0])
print(f"{text!r} -> {answer!r}   (the right answer: {example_day.isoformat()!r})")
print("weights:", tuple(w_date.shape), "(B, H, T, S)")

# %%
out_labels = list(answer.ljust(10, "?")[:10]) + ["<eos>"]
src_labels = list(text.replace(" ", "␣"))
fig = plt.figure(figsize=(15, 11), layout="constrained")
panels = fig.subplot_mosaic([["mean", "mean"], ["h0", "h1"], ["h2", "h3"]], height_ratios=[1.3, 1, 1])
for key, w, title in [("mean", w_date[0].mean(0), "average of the 4 heads")] + [
        (f"h{h}", w_date[0, h], f"head {h}") for h in range(4)]:
    ax = plot_attention(w, out_labels, src_labels, ax=panels[key], annotate=False, title=title)
    ax.set_aspect("auto")  # fill the panel: 37 characters across, 11 down
    ax.tick_params(axis="x", rotation=0)
    ax.set_xlabel("source character (key): answers")
    ax.set_ylabel("output character (query): asks")
fig.suptitle(f"Cross-attention of the transformer's decoder: {text!r} → {answer!r}")
plt.show()

# %% [markdown]
# Read the rows: the four year digits look at the year at the end, the two month digits at the month's name, the two
# day digits at the day number with its suffix ("22nd"), and the weekday, "on", "the" and "of" get almost nothing: the
# same alignment that notebook 05's additive GRU model learned, now spread over four heads, which do not all read each
# field equally strongly (measured below). (The hyphens, the same in every answer, need nothing from the source, and
# their weights are spread thin.) As there, the keys are not the raw characters: the encoder's self-attention has
# already mixed some context into each of them, so a map shows where the decoder reads, not everything that reading
# brings along.
#
# One picture can mislead, so we measure as in notebook 05: write every held-out day as "d month yyyy" ("21
# november 2026"), and average the weight that each field's output digits put on the same field of the source,
# compared with that field's share of the characters (what a uniform spread would give it).

# %%
days = held_out_days
written = task.split([(format_date(d, "d month yyyy"), d.isoformat()) for d in days])  # N = 1,000 pairs
_, w_written = translator.translate(written.src, written.lengths, max_len=written.tgt.size(1))  # (N, H, T, S)
pos = torch.arange(written.src.size(1))[None, :]  # (1, S): character positions
day_len = torch.tensor([len(str(d.day)) for d in days])[:, None]  # (N, 1): "21" is 2 characters
month_len = torch.tensor([len(d.strftime("%B")) for d in days])[:, None]  # (N, 1): "november" is 8
year_start = day_len + 1 + month_len + 1  # (N, 1): after the day, a space, the month and a space
source_fields = {  # (N, 1) vs (1, S) -> (N, S), True at the field's characters
    "year": (pos >= year_start) & (pos < written.lengths[:, None]),
    "month": (pos > day_len) & (pos <= day_len + month_len),
    "day": pos < day_len,
}
output_fields = {"year": [0, 1, 2, 3], "month": [5, 6], "day": [8, 9]}  # positions in yyyy-mm-dd
share, on_field = {}, {}
for f, in_field in source_fields.items():
    share[f] = float((in_field.sum(-1) / written.lengths).mean())  # (N,) -> mean: a uniform spread's weight
    w_digits = w_written[:, :, output_fields[f]]  # (N, H, T, S) -> (N, H, digits, S)
    on_field[f] = (w_digits * in_field[:, None, None, :]).sum(-1).mean(dim=(0, 2))  # -> (N, H, digits) -> (H,)

# %% tags=["nbval-ignore-output"]
print(f"{'output digits':<15}{'share of the characters':>25}{'weight on the same field':>26}   per head")
for f in source_fields:
    print(f"{f:<15}{share[f]:>25.3f}{float(on_field[f].mean()):>26.3f}   {on_field[f].numpy()}")
head_gap = {f: float(on_field[f].max() - on_field[f].min()) for f in source_fields}  # strongest head - weakest
for word, f in (("most", min(head_gap, key=head_gap.get)), ("least", max(head_gap, key=head_gap.get))):
    print(f"the heads agree {word} on the {f} digits: from {float(on_field[f].min()):.2f} (head "
          f"{int(on_field[f].argmin())}) to {float(on_field[f].max()):.2f} (head {int(on_field[f].argmax())})")

# %%
print(f"uniform shares: year {share['year']:.3f}, month {share['month']:.3f}, day {share['day']:.3f}")
print("each field's digits put most of their weight (> 0.5, heads averaged) on the same field:",
      all(float(on_field[f].mean()) > 0.5 for f in source_fields))
print("every head puts more than a uniform share on the right field, for every field:",
      all(bool((on_field[f] > share[f]).all()) for f in source_fields))
print("year and day digits: more than twice their share:", all(float(on_field[f].mean()) > 2 * share[f] for f in ("year", "day")))
print("the heads do not all agree: on some field the strongest head puts over 0.15 more on it than the weakest:",
      max(head_gap.values()) > 0.15)

# %% [markdown]
# The alignment is real, and it is in every head, but not equally strong in every head: the lines under the table
# name the field on which the four heads agree most and the one on which they differ most, where some heads put
# most of their weight on the field and others much less. The heads share the reading between them, and which head
# takes which field changes from one training run to another (we tried several seeds, not shown). Nobody told the model which
# characters hold the year: the cross-attention weights learned it from the translation loss alone, as Bahdanau's
# did in 2014.
#
# **Is the map an explanation?** Not by itself. Jain & Wallace (2019) found that in recurrent models for text
# classification and question answering the attention weights often disagree with other measures of which inputs
# matter, and that quite different weights can give the same prediction; Wiegreffe & Pinter (2019) replied that
# whether attention explains depends on the model and must be tested, and proposed such tests. Both lead to one
# practice: a map is a *hypothesis* about what the model uses. Statistics over the whole test set, like those above,
# show that the pattern is real and not one lucky picture; an **intervention** shows that the model depends on it.
# Ours: hide one field of the source from the cross-attention (its characters masked like padding, while the encoder
# still reads everything), translate every held-out date again, and count how often each field of the output is
# still right.

# %%
@torch.no_grad()
def translate_hiding(model, src, lengths, hidden, max_len):
    """Greedy ids (N, max_len), as `translate`, with the characters where `hidden (N, S)` is True cut off."""
    memory, src_mask = model.encode(src, lengths)  # (N, S, E), (N, S): the encoder still sees everything
    src_mask = src_mask & ~hidden  # (N, S): the hidden characters now count as padding for the decoder
    caches, token, ids = [KVCache() for _ in model.decoder], torch.full_like(src[:, :1], model.bos_id), []
    for _ in range(max_len):
        logits, _ = model.decode(token, memory, src_mask, caches)  # (N, 1, V)
        token = logits.argmax(-1)  # (N, 1)
        ids.append(token)
    return torch.cat(ids, dim=1)  # (N, max_len)


field_right = {}  # hidden field -> {output field: share of dates with those digits right}
for hidden in (None, *source_fields):
    cut = source_fields[hidden] if hidden else torch.zeros_like(source_fields["year"])  # (N, S)
    right = translate_hiding(translator, written.src, written.lengths, cut, written.tgt.size(1)) == written.tgt
    field_right[hidden] = {f: float(right[:, positions].all(1).float().mean()) for f, positions in output_fields.items()}

# %% tags=["nbval-ignore-output"]
print(f"{'hidden from the cross-attention':<33}" + "".join(f"{f + ' digits right':>20}" for f in output_fields))
for hidden, row in field_right.items():
    print(f"{hidden or 'nothing':<33}" + "".join(f"{row[f]:>20.1%}" for f in output_fields))

# %%
print("nothing hidden: every field right in over 90% of dates:", all(v > 0.9 for v in field_right[None].values()))
print("hiding a field: its own digits right in under 25% of dates:",
      all(field_right[f][f] < 0.25 for f in source_fields))
print("hiding a field: the other fields still right in over 90%:",
      all(field_right[h][f] > 0.9 for h in source_fields for f in output_fields if f != h))

# %% [markdown]
# Each field of the answer breaks when, and only when, the cross-attention cannot read that field of the source:
# the reading of the map survives the test. It could have failed. The encoder's self-attention mixes the characters,
# so the year could have reached the decoder through the memory vectors of other characters; in this model it hardly
# does.
#
# ## 5. Text to image: questions that look at pictures (core)
#
# Now the context is not a sentence but an image. The task: small pictures of one to three coloured shapes, each in
# its own quadrant, and a question about one of them, in three kinds:
#
# - "what colour is the triangle ?" (answer: a colour),
# - "what shape is the red one ?" (answer: a shape),
# - "where is the red triangle ?" (answer: a quadrant).
#
# `make_shapes_task` draws them; nothing is downloaded. Every shape in a picture has its own colour, kind and
# quadrant, so each question has exactly one answer, and the test pictures are new ones.

# %%
shapes = make_shapes_task(8000, 500, seed=0)
print("training", len(shapes.train), " held-out", len(shapes.test), "  images", tuple(shapes.train.images.shape),
      " questions", tuple(shapes.train.questions.shape))
print("words:", shapes.words)
print("answers:", shapes.answers)
print("a question as word ids:", shapes.test.texts[0][0], "->", shapes.test.questions[0].tolist(), "(0 = padding)")

KINDS = {"colour": "what colour", "shape": "what shape", "where": "where"}  # question kind: how it starts


def kind_mask(split, kind):
    """Boolean (N,): the questions of one kind."""
    return torch.tensor([question.startswith(KINDS[kind]) for question, _ in split.texts])


print("held-out questions of each kind:", {kind: int(kind_mask(shapes.test, kind).sum()) for kind in KINDS})

# %%
def show_image(ax, image):
    """Draw one (3, H, W) image."""
    ax.imshow(image.permute(1, 2, 0).numpy(), extent=(0, 32, 32, 0))
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(2, 5, figsize=(13, 6.6), layout="constrained")
for n, ax in enumerate(axes.flat):
    show_image(ax, shapes.test.images[n])
    question, answer = shapes.test.texts[n]
    ax.set_title(f"{question}\n→ {answer}", fontsize=9)
fig.suptitle("Ten held-out pictures (32 × 32 pixels) with their question and answer")
plt.show()

# %% [markdown]
# To answer, a model has to find the shape the question names, by its colour or its kind, and report something
# else about it: its kind, its colour, or where it is. Cross-attention is built for this: the question's words
# ask, the image answers. But attention reads *tokens*, and an image is a grid of pixels.
#
# ### Patches: an image as a sequence of tokens
#
# The vision transformer (ViT, Dosovitskiy et al. 2020) turned images into tokens in the simplest way: cut the
# image into $p \times p$ squares, *patches*, and flatten each into one vector of $p \cdot p \cdot C$ numbers. A
# $32 \times 32$ RGB image in patches of $8 \times 8$ becomes $S = (32/8)^2 = 16$ tokens of $8 \cdot 8 \cdot 3 =
# 192$ numbers, in reading order: row by row, left to right. `patchify` does it with one reshape and one permute;
# `unpatchify` undoes it.

# %%
images = shapes.test.images[:4]  # (B, C, H, W) = (4, 3, 32, 32)
patches = patchify(images, 8)  # (B, S, p·p·C) = (4, 16, 192)
print("images", tuple(images.shape), "-> patches", tuple(patches.shape))
r, c = 2, 1  # patch s = r · 4 + c: third row, second column
by_hand = images[0, :, 8 * r:8 * (r + 1), 8 * c:8 * (c + 1)].permute(1, 2, 0)  # (C, p, p) -> (p, p, C)
print(f"patch {4 * r + c} is the square at rows {8 * r}-{8 * r + 7}, columns {8 * c}-{8 * c + 7}:",
      torch.equal(patches[0, 4 * r + c], by_hand.reshape(-1)))
print("unpatchify(patchify(x)) == x:", torch.equal(unpatchify(patches, 8, (32, 32), 3), images))

# %%
fig = plt.figure(figsize=(11, 5.4), layout="constrained")
layout = fig.add_gridspec(4, 9, width_ratios=[1, 1, 1, 1, 0.3, 0.5, 0.5, 0.5, 0.5])
ax = fig.add_subplot(layout[:, :4])
show_image(ax, images[0])
for edge in (8, 16, 24):
    ax.axhline(edge, color="w", lw=1)
    ax.axvline(edge, color="w", lw=1)
for s in range(16):
    ax.text(8 * (s % 4) + 1, 8 * (s // 4) + 1, str(s), color="w", fontsize=9, va="top")
ax.set_title("the image and its 4 × 4 grid of 8 × 8 patches")
for s in range(16):
    ax = fig.add_subplot(layout[s // 4, 5 + s % 4])
    ax.imshow(patches[0, s].reshape(8, 8, 3).numpy())  # (p·p·C,) -> (p, p, C)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"token {s}", fontsize=9)
fig.suptitle("patchify: one image becomes a sequence of 16 tokens of 8 × 8 × 3 = 192 numbers, in reading order")
plt.show()

# %% [markdown]
# Which tokens hold the shape a question asks about? `targets` marks its pixels; a patch holds part of it when any
# of its 64 pixels does.

# %%
N = len(shapes.test)
on_target = shapes.test.targets.reshape(N, 4, 8, 4, 8).any(4).any(2).reshape(N, 16)  # (N, 32, 32) -> (N, 4, 4) -> (N, S)
print("patches touched by the asked-about shape:", torch.unique(on_target.sum(1)).tolist(), "of 16")

# %% [markdown]
# A shape of 12 × 12 pixels inside its 16 × 16 quadrant always touches 3 or 4 of the quadrant's 4 patches, so "looking at
# the shape" means putting weight on a handful of the 16 tokens.
#
# ### Positions: why a patch must say where it is
#
# `PatchEmbedding` projects each flattened patch to the model's width $E$ (one linear layer as in ViT, or a small
# MLP) and adds a learned **position vector**, one per patch. Without the positions, attention would see the patches
# as an unordered *set*: each query scores each key by its content only, and a weighted sum does not depend on the
# order of its terms. A quick check with an untrained layer: swap the image's quadrants (roll it by 16 pixels both
# ways, which moves the patches around without changing any), and ask a cross-attention layer about both versions.

# %%
torch.manual_seed(1)
embed = PatchEmbedding(image_size=32, patch_size=8, channels=3, embed_dim=16)  # one linear layer + positions
reader = CrossAttention(16, num_heads=2)
question_vectors = torch.randn(1, 3, 16, generator=torch.Generator().manual_seed(1))  # (B, L, E): 3 asking tokens
image = shapes.test.images[:1]  # (1, 3, 32, 32)
rolled = torch.roll(image, shifts=(16, 16), dims=(2, 3))  # top-left <-> bottom-right, top-right <-> bottom-left
with torch.no_grad():
    content_only = [reader(question_vectors, embed.proj(patchify(im, 8)))[0] for im in (image, rolled)]  # no positions
    with_positions = [reader(question_vectors, embed(im))[0] for im in (image, rolled)]  # + embed.position
print("without positions, the rolled image gives the same output:",
      torch.allclose(content_only[0], content_only[1], atol=1e-6))
print("with positions, the outputs differ:", not torch.allclose(with_positions[0], with_positions[1], atol=1e-3))

# %% [markdown]
# Without positions, no question of the "where" kind could be answered: the picture with its quadrants swapped
# gives the same output to the last rounding error. With them, each patch token carries both what it shows and
# where it is.
#
# ### The model
#
# `ImageQuestionModel` puts the pieces together:
#
# 1. the image becomes $S = 16$ patch tokens of width $E = 64$ (`PatchEmbedding`, a two-layer MLP per patch, plus
#    positions);
# 2. the question's words become tokens of width 64 (an embedding plus a learned position per word);
# 3. one block: the words read each other (self-attention, padding masked), then **read the patches
#    (cross-attention, the words ask, the patches answer)**, then an MLP;
# 4. the words' vectors are averaged (only the real ones) and a linear layer scores the 11 possible answers.
#
# It can also put `image_layers` blocks of self-attention over the patches before the question reads them; we use
# none, so everything the model learns about the picture goes through the one cross-attention layer. One forward
# pass on two pictures:

# %%
set_seed(0)
vqa = ImageQuestionModel(len(shapes.words), len(shapes.answers), patch_size=8, embed_dim=64, num_heads=4,
                         image_layers=0)
with torch.no_grad():
    logits, w_cross = vqa(shapes.test.images[:2], shapes.test.questions[:2], need_weights=True)
print("images", tuple(shapes.test.images[:2].shape), "(B, channels, height, width)   questions",
      tuple(shapes.test.questions[:2].shape), "(B, Lq)")
print("logits", tuple(logits.shape), "(B, answers)   cross-attention", tuple(w_cross.shape), "(B, H, Lq, S)")
for name in ("patches", "word", "position", "question_blocks", "ln_image", "ln_final", "head"):
    print(f"  {name:<16}{sum(p.numel() for p in getattr(vqa, name).parameters()):>7,} parameters")
print(f"whole model: {sum(p.numel() for p in vqa.parameters()):,} parameters")

# %% [markdown]
# ### Training
#
# A plain loop: random batches of 128 examples, cross-entropy on the answer, AdamW, and a *one-cycle* learning rate
# that rises for the first 10% of the steps and then falls towards zero, which helps a short training run settle.
# 1,000 steps of 128 show each of the 8,000 training pictures 16 times on average.

# %%
def train_image_questions(model, split, steps, batch_size=128, lr=3e-3, seed=0):
    """Train ``model`` on ``split`` (a ShapesSplit) with AdamW and a one-cycle schedule; return every step's loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)  # the same batches on every machine
    losses = []
    model.train()
    bar = tqdm(range(steps), desc="image questions")
    for _ in bar:
        batch = torch.randint(len(split), (batch_size,), generator=generator)  # (batch_size,) example indices
        logits, _ = model(split.images[batch], split.questions[batch])  # (batch_size, answers)
        loss = F.cross_entropy(logits, split.answers[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    bar.close()
    model.eval()
    return losses


# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
vqa_losses = train_image_questions(vqa, shapes.train, steps=1000)
print(f"trained {len(vqa_losses)} steps in {time.perf_counter() - start:.1f} s; "
      f"mean loss of the last 50 steps {np.mean(vqa_losses[-50:]):.4f}")

# %% [markdown]
# Held-out accuracy, overall and by kind of question. For comparison, a model that never looks at the picture: the
# best it can do is to give, for each kind of question, the answer most frequent in training.

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    logits, w_test = vqa(shapes.test.images, shapes.test.questions, need_weights=True)  # (N, A), (N, H, Lq, S)
vqa_correct = logits.argmax(-1) == shapes.test.answers  # (N,)
vqa_accuracy = {"all": float(vqa_correct.float().mean())}
blind_accuracy = {}
for kind in KINDS:
    test_kind, train_kind = kind_mask(shapes.test, kind), kind_mask(shapes.train, kind)
    vqa_accuracy[kind] = float(vqa_correct[test_kind].float().mean())
    most_frequent = shapes.train.answers[train_kind].mode().values  # the blind guess for this kind
    blind_accuracy[kind] = float((shapes.test.answers[test_kind] == most_frequent).float().mean())
print(f"{'questions':<10}{'model':>8}{'without looking':>18}")
for kind, acc in vqa_accuracy.items():
    print(f"{kind:<10}{acc:>8.1%}" + (f"{blind_accuracy[kind]:>18.1%}" if kind in blind_accuracy else ""))

# %%
print("at least 90% of the held-out questions right:", vqa_accuracy["all"] >= 0.90)
print("at least 90% on every kind of question:", all(vqa_accuracy[kind] >= 0.90 for kind in KINDS))
print("a blind guess gets at most 40% of any kind:", all(a <= 0.40 for a in blind_accuracy.values()))

# %% [markdown]
# The model answers almost every held-out question, on pictures it has never seen, where a guess that ignores the
# picture gets about one in three. Everything it knows about the picture came through the cross-attention layer.
#
# ### Where the words look
#
# The cross-attention weights are $(N, H, L_q, S)$: for each question word and head, 16 weights over the patches.
# We draw, for a few held-out pictures with at least two shapes, the weights of the question's **content words**
# (the colour or kind it names), averaged over the heads. Each patch of the picture is lit in proportion to its
# weight (the most-read patch at full brightness, the others dimmer) and patches with a weight of at least 0.10 show
# it; the asked-about shape is outlined in white.

# %%
CONTENT = torch.tensor([w in SHAPE_COLOURS or w in SHAPE_KINDS for w in shapes.words])  # (words,)
is_content = CONTENT[shapes.test.questions]  # (N, Lq): True at the colour and kind words
bright = shapes.test.images.amax(1) > 0.4  # (N, H, W): pixels of any shape (the background is dark)
n_shapes = bright.reshape(N, 2, 16, 2, 16).any(4).any(2).sum((1, 2))  # (N,): quadrants holding a shape

w_content = (w_test.mean(1) * is_content[:, :, None]).sum(1) / is_content.sum(1, keepdim=True)  # (N, H, Lq, S) -> (N, S)
mass_content = (w_content * on_target).sum(-1)  # (N,): the content words' weight on the asked-about shape
predicted = logits.argmax(-1)


def show_attention(ax, n):
    """Picture n, each patch lit by the content words' weight on it, the asked-about shape outlined."""
    patch_w = w_content[n].reshape(4, 4)  # (S,) -> (4, 4): the patch grid
    light = np.kron((patch_w / patch_w.max()).numpy(), np.ones((8, 8)))  # (4, 4) -> (32, 32): 8 × 8 pixels per patch
    picture = shapes.test.images[n].permute(1, 2, 0).numpy()  # (H, W, C)
    ax.imshow(picture * (0.2 + 0.8 * light[:, :, None]), extent=(0, 32, 32, 0))  # unread patches dimmed to 20%
    ax.contour(np.arange(32) + 0.5, np.arange(32) + 0.5, shapes.test.targets[n].numpy().astype(float),
               levels=[0.5], colors="w", linewidths=1.5)
    for (r, c), weight in np.ndenumerate(patch_w.numpy()):
        if weight >= 0.10:
            ax.text(8 * c + 4, 8 * r + 4, f"{weight:.2f}", ha="center", va="center", fontsize=9, color="w",
                    bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "edgecolor": "none"})
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(3, 4, figsize=(13, 14), layout="constrained")
for row, kind in zip(axes, KINDS):
    chosen = torch.nonzero(kind_mask(shapes.test, kind) & (n_shapes >= 2))[:4, 0]  # the first four of this kind
    for ax, n in zip(row, chosen.tolist()):
        show_attention(ax, n)
        question, answer = shapes.test.texts[n]
        ax.set_title(f"{question}\nanswer: {answer}\nmodel: {shapes.answers[predicted[n]]}\n"
                     f"weight on the shape: {mass_content[n]:.2f}", fontsize=10)
fig.suptitle("Where the content words of the question look: brighter patches get more weight\n"
             "(numbers: weights of 0.10 or more; white outline: the shape asked about)")
plt.show()

# %% [markdown]
# Look at the rows one at a time. In the top row, "what colour is the ...?", the outlined shape is among the brightest
# patches in most pictures: to report its colour, the model reads its pixels. In the middle row, "what shape is the
# ...?", it varies from picture to picture. In the bottom row, "where is the ...?", most of the light falls
# *elsewhere*, on the background and the other shapes, and the named shape is often dim; yet the model answers those
# questions right (the table above). Twelve pictures can mislead, so let us measure: for every held-out question, kind
# of question, word and head, the weight on the patches of the asked-about shape. The shape covers about a quarter of
# the patches, so a spread of weight that ignored it would put about a quarter there:

# %%
mass = (w_test * on_target[:, None, None, :]).sum(-1)  # (N, H, Lq, S) -> (N, H, Lq): weight on the shape
chance = float(on_target.float().mean(1).mean())  # the shape's share of the 16 patches
real = shapes.test.questions != 0  # (N, Lq): real words, not padding
overall = float(mass.mean(1)[real].mean())  # every real word, heads averaged
by_kind = {}
for kind in KINDS:
    in_kind = kind_mask(shapes.test, kind)
    by_kind[kind] = {
        "all words": float(mass.mean(1)[real & in_kind[:, None]].mean()),
        "content words": float(mass.mean(1)[is_content & in_kind[:, None]].mean()),
        "best head of content words": max(float(mass[:, h][is_content & in_kind[:, None]].mean()) for h in range(4)),
    }
top_on_shape = on_target.gather(1, w_content.argmax(-1, keepdim=True))[:, 0]  # (N,): the most-read patch is on it
top_on_shape_colour = float(top_on_shape[kind_mask(shapes.test, "colour")].float().mean())
print(f"a uniform spread would put {chance:.3f} on the shape")

# %% tags=["nbval-ignore-output"]
print(f"every word of every question, heads averaged: {overall:.3f}")
print(f"colour questions whose content words read a patch of the shape most: {top_on_shape_colour:.1%}")
print(f"{'questions':<10}" + "".join(f"{column:>28}" for column in by_kind["colour"]))
for kind, row in by_kind.items():
    print(f"{kind:<10}" + "".join(f"{value:>28.3f}" for value in row.values()))

# %% [markdown]
# And per word and head, for each kind of question (each template has its words in fixed places, so we can average
# over all the questions of a kind slot by slot; the last column is the mean of the heads):

# %%
TEMPLATES = {"colour": "what colour is the {kind} ?", "shape": "what shape is the {colour} one ?",
             "where": "where is the {colour} {kind} ?"}
slot_means = {}  # kind -> (slots,): each word's weight on the shape, heads averaged
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
for ax, (kind, template) in zip(axes, TEMPLATES.items()):
    slots = template.split()
    per_head = mass[kind_mask(shapes.test, kind)][:, :, : len(slots)].mean(0).T  # (N_kind, H, Lq) -> (slots, H)
    slot_means[kind] = per_head.mean(1)  # (slots,)
    table = torch.cat([per_head, slot_means[kind][:, None]], dim=1)  # (slots, H + 1)
    plot_attention(table, slots, ["0", "1", "2", "3", "mean"], ax=ax, title=f"“{template}”")
    ax.set_xlabel("head")
    ax.set_ylabel("question word (query)")
    ax.tick_params(axis="x", rotation=0)
fig.suptitle(f"Weight each question word puts on the asked-about shape (uniform spread: {chance:.2f})")
fig.tight_layout()
plt.show()

# %%
print("averaged over every word and head, the weight on the shape is above a uniform spread but below 0.5:",
      chance < overall < 0.5)
print("colour questions look at the shape (all words > 0.35):", by_kind["colour"]["all words"] > 0.35)
print("... in most of them (over 60%), the content words' most-read patch is on the shape:", top_on_shape_colour > 0.6)
print("... every word of them, not only the kind word (each above a uniform spread):",
      bool((slot_means["colour"] > chance).all()))
print("... and some head of the kind word puts more than 0.6 of its weight there:",
      by_kind["colour"]["best head of content words"] > 0.6)
print("where questions put less than half their weight on the shape:", by_kind["where"]["all words"] < 0.5)
print("... and less than colour questions do:", by_kind["where"]["all words"] < by_kind["colour"]["all words"])
print("shape questions sit in between (more than where questions, less than colour questions, all words):",
      by_kind["where"]["all words"] < by_kind["shape"]["all words"] < by_kind["colour"]["all words"])

# %% [markdown]
# So the honest summary is mixed, and worth more than a pretty picture:
#
# - **Colour questions** behave as the pictures suggest: the model finds the named shape and reads its pixels, and
#   some head of the kind word puts most of its weight there. And not only the kind word: *every* word of the
#   question looks at the shape. The words have read each other (the block's self-attention) before they read the
#   image, so by then "what" and "is" know as well as "triangle" which shape is meant.
# - **Shape questions** sit in between: their words put more weight on the named shape than those of where
#   questions, and less than those of colour questions (checked above, all words of each kind averaged).
# - **Where questions** are answered right (at least 90%, checked above) while their words look mostly *away* from
#   the shape. This need not be a contradiction. The values carry each patch's position vector, so the output is
#   a weighted average of positions, and an average over everything *except* the named shape also pins down where
#   it is: the positions it leaves out are the shape's. That is one explanation that fits the numbers; this notebook
#   does not prove it.
# - Averaged over every word, head and question, the weight on the shape is only somewhat above a uniform spread.
#
# The lesson carries over to large models: attention weights show where a layer reads, not why, nor what the model
# concludes; measure them over many examples, per head and per word, and against a uniform spread, before telling a
# story about them. (These numbers come from one training run. Other seeds divide the work between the heads
# differently, and their where questions do not always look away; while writing this notebook, several seeds
# (not shown) all kept the claims checked above.) And a story drawn from attention is a hypothesis, in the sense of Jain & Wallace
# and Wiegreffe & Pinter (section 4): the explanation of the where questions fits the weights, and only an
# intervention such as section 4's can test it. The *To explore* note after the exercises suggests one.
#
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("cross_attention")

# %% [markdown]
# ### Exercise 1 · Cross-attention, one head
#
# Write `my_cross_attention(x, context, W_q, W_k, W_v)` for `x` $(B, L, E)$, `context` $(B, S, C_w)$, `W_q`
# $(D, E)$, `W_k` $(D, C_w)$ and `W_v` $(E_v, C_w)$: the queries from `x`, the keys and values from `context`,
# scores scaled by $1/\sqrt{D}$, a softmax over the context, and the output $(B, L, E_v)$. Try it without scrolling
# up to section 2.

# %% tags=["exercise"] keep_output=false
def my_cross_attention(x, context, W_q, W_k, W_v):
    """(B, L, E), (B, S, C_w), (D, E), (D, C_w), (E_v, C_w) -> (B, L, E_v)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.cross_attention(my_cross_attention)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_cross_attention(x, context, W_q, W_k, W_v):
    """(B, L, E), (B, S, C_w), (D, E), (D, C_w), (E_v, C_w) -> (B, L, E_v)."""
    q = x @ W_q.T  # (B, L, E) @ (E, D) -> (B, L, D): the asker's queries
    k = context @ W_k.T  # (B, S, C_w) @ (C_w, D) -> (B, S, D): the context's keys
    v = context @ W_v.T  # (B, S, C_w) @ (C_w, E_v) -> (B, S, E_v): the context's values
    scores = q @ k.transpose(-2, -1) / math.sqrt(W_q.shape[0])  # (B, L, D) @ (B, D, S) -> (B, L, S)
    return torch.softmax(scores, dim=-1) @ v  # (B, L, S) @ (B, S, E_v) -> (B, L, E_v)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.cross_attention(my_cross_attention, record=False)

# %% [markdown]
# ### Exercise 2 · With the context's padding masked
#
# Write `my_masked_cross_attention(x, context, context_mask, W_q, W_k, W_v)`: as exercise 1, with a boolean
# `context_mask` of shape $(B, S)$, True at the context's real tokens. The padded tokens must get exactly zero weight
# and each query's weights over the real tokens must still sum to 1. (Every context has at least one real token.)
# Before you run the check, decide what the checker would say about each of these: filling the padded scores with
# 0; multiplying the weights by the mask after the softmax; masking with `context_mask[:, :, None]`. (Hint for the
# last one: the checker's inputs all have $L \ne S$.)

# %% tags=["exercise"] keep_output=false
def my_masked_cross_attention(x, context, context_mask, W_q, W_k, W_v):
    """(B, L, E), (B, S, C_w), (B, S) bool, (D, E), (D, C_w), (E_v, C_w) -> (B, L, E_v)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.masked_cross_attention(my_masked_cross_attention)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_masked_cross_attention(x, context, context_mask, W_q, W_k, W_v):
    """(B, L, E), (B, S, C_w), (B, S) bool, (D, E), (D, C_w), (E_v, C_w) -> (B, L, E_v)."""
    q = x @ W_q.T  # (B, L, E) @ (E, D) -> (B, L, D)
    k = context @ W_k.T  # (B, S, C_w) @ (C_w, D) -> (B, S, D)
    v = context @ W_v.T  # (B, S, C_w) @ (C_w, E_v) -> (B, S, E_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(W_q.shape[0])  # (B, L, D) @ (B, D, S) -> (B, L, S)
    scores = scores.masked_fill(~context_mask[:, None, :], float("-inf"))  # (B, 1, S): the same for every query
    return torch.softmax(scores, dim=-1) @ v  # (B, L, S) @ (B, S, E_v) -> (B, L, E_v)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.masked_cross_attention(my_masked_cross_attention, record=False)

# %% [markdown]
# All three are mistakes, of two sorts. The first two run and give wrong numbers, and the checker names each: a score
# of 0 still gets weight after the exponential, and zeroing after the softmax leaves rows that no longer sum to 1.
# The third does not even run. `context_mask[:, :, None]` is $(B, S, 1)$: it lines the mask up with the queries'
# axis instead of the keys', and with $L \ne S$ it does not fit the $(B, L, S)$ scores at all, so your function
# raises. The checker then shows the error and says how the mask must broadcast:

# %%
def mask_on_the_wrong_axis(x, context, context_mask, W_q, W_k, W_v):
    """Exercise 2 with the mistake: the mask as (B, S, 1) instead of (B, 1, S)."""
    q, k, v = x @ W_q.T, context @ W_k.T, context @ W_v.T  # (B, L, D), (B, S, D), (B, S, E_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(W_q.shape[0])  # (B, L, S)
    scores = scores.masked_fill(~context_mask[:, :, None], float("-inf"))  # (B, S, 1) against (B, L, S): raises
    return torch.softmax(scores, dim=-1) @ v


check.masked_cross_attention(mask_on_the_wrong_axis, record=False)  # a demonstration: not your try

# %% [markdown]
# With $L = S$ the same mistake would run: it would blank whole rows of queries instead of the padded keys (and a row
# of $-\infty$ becomes NaN after the softmax). One more reason to test with $L \ne S$, as the checker does.
#
# **To explore (no checker).** Train the image model with `image_layers=1`, so the patches read each other before
# the question reads them: does the weight on the asked-about shape go up or down, and why might it? Or test the
# explanation of the "where" questions: set `vqa.patches.position` to zeros (inside `torch.no_grad()`) in a trained
# model and measure the accuracy of each kind of question again.
#
# ## Summary
#
# You can now
# - say what cross-attention is: queries from the sequence that asks ($L$ tokens, width $E$), keys and values from
#   the context that answers ($S$ tokens, width $C_w$), weights $L \times S$ whose rows sum to 1, and an output with
#   the asker's $L$ rows;
# - compute it by hand, write it for a batch, and match the package's `CrossAttention` and PyTorch's
#   `nn.MultiheadAttention` (with `kdim`/`vdim`, and `key_padding_mask = ~context_mask`);
# - see self-attention as the special case `context = x`;
# - mask the context's padding, and show that without it the output depends on the padding's values and on the
#   other sentences of the batch, while the asker's padding needs no mask in cross-attention;
# - take apart an encoder-decoder transformer built from notebook 08's blocks (encoder, memory $(B, S, E)$, decoder
#   blocks of causal self-attention, cross-attention and MLP, the source padding masked wherever it is read), say how
#   it differs from the 2017 original, and train one to read dates;
# - turn an image into patch tokens with positions, and train a model whose question reads the picture;
# - measure a cross-attention map over many examples, per word and head, report what it does and does not show, and
#   test a reading by intervention (hide what the map points at and watch the output).
#
# ## Common pitfalls
#
# - **Queries from the wrong side.** The sequence being produced asks. Swap the roles and the output has one row per
#   context token, $S$ rows instead of $L$; with $L = S$ and equal widths nothing raises, and the model quietly
#   learns something else.
# - **Attending `x` to itself.** Passing `x` as the keys and values too gives self-attention; the context is never
#   read.
# - **Context padding not masked** (or masked with 0 instead of $-\infty$, or after the softmax, or inverted). The
#   mask goes on the keys, $(B, 1, S)$, True at real context tokens in this course; PyTorch's `key_padding_mask` is
#   the opposite, True = ignore.
# - **Mismatched widths.** The key and value projections take the context's width in: `kdim`/`vdim` in PyTorch,
#   `context_dim` here. A $(D, E)$ key matrix applied to a context of width $C_w \ne E$ raises; when the widths
#   happen to be equal, the mistake passes silently.
# - **Patches without positions.** Attention over a set cannot tell where anything is; a picture with its patches
#   shuffled gives the same output.
# - **Reading one attention map as an explanation.** Average over many examples, per head and per word, and compare
#   with what a uniform spread would give; a model can use attention in ways the picture does not suggest. A reading
#   is a hypothesis until an intervention (hide what the map points at) confirms it.
#
# ## Further reading
#
# - D. Bahdanau, K. Cho, Y. Bengio (2014), *Neural machine translation by jointly learning to align and translate*,
#   [arXiv:1409.0473](https://arxiv.org/abs/1409.0473): the first decoder that asks its encoder, and alignments
#   that cross.
# - A. Vaswani et al. (2017), [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762): section 3 for the
#   encoder-decoder transformer (3.2.3, "encoder-decoder attention", is its cross-attention), section 3.5 and table 3
#   for sinusoidal and learned positions.
# - S. Jain, B. C. Wallace (2019), *Attention is not Explanation*, [arXiv:1902.10186](https://arxiv.org/abs/1902.10186),
#   and S. Wiegreffe, Y. Pinter (2019), *Attention is not not Explanation*,
#   [arXiv:1908.04626](https://arxiv.org/abs/1908.04626): when attention weights explain a prediction, and how to
#   test it.
# - K. Xu et al. (2015), *Show, Attend and Tell: neural image caption generation with visual attention*,
#   [arXiv:1502.03044](https://arxiv.org/abs/1502.03044): words that look at image regions, with pictures of where.
# - A. Dosovitskiy et al. (2020), *An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale*,
#   [arXiv:2010.11929](https://arxiv.org/abs/2010.11929): images as sequences of patch tokens with learned
#   positions (ViT).
# - J.-B. Alayrac et al. (2022), *Flamingo: a Visual Language Model for Few-Shot Learning*,
#   [arXiv:2204.14198](https://arxiv.org/abs/2204.14198): a frozen language model that reads images through
#   cross-attention layers inserted between its blocks.
# - A. Jaegle et al. (2021), *Perceiver: General Perception with Iterative Attention*,
#   [arXiv:2103.03206](https://arxiv.org/abs/2103.03206): a small set of latent queries cross-attends to a very long
#   input, so the cost grows with $S$, not $S^2$.
# - A. Radford et al. (2022), *Robust Speech Recognition via Large-Scale Weak Supervision* (Whisper),
#   [arXiv:2212.04356](https://arxiv.org/abs/2212.04356), and R. Rombach et al. (2022), *High-Resolution Image
#   Synthesis with Latent Diffusion Models*, [arXiv:2112.10752](https://arxiv.org/abs/2112.10752): cross-attention
#   from text to audio, and from an image being generated to its prompt.
# - PyTorch, [`torch.nn.MultiheadAttention`](https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html):
#   `kdim`, `vdim` and `key_padding_mask` (True = ignore).
#
# **Next:** [10 · Long sequences: local and global attention](10_local_and_global_attention.ipynb) asks what
# attention costs when the sequence gets long, lets each token read only a window of its neighbours plus a few
# global tokens, and measures what that saves.
