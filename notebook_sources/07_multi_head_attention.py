# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 07 · Multi-head attention
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/07_multi_head_attention.ipynb)
#
# Every transformer runs attention not once but $H$ times side by side, in *heads*. Each head has its own query, key
# and value projections, works in its own slice of $D = E/H$ of the model's $E$ numbers per token, and the heads'
# outputs are put next to each other and mixed by one last projection. The idea fits in a sentence, yet this is
# where most attention code goes wrong in practice: a `view` with its axes in the wrong order, a `.view` that
# raises after a `transpose`, a mask with the opposite meaning, a scale by the model width instead of the head
# width. Three of these run silently, with every shape right, so a model with one of them still trains, just worse;
# the fourth raises. This notebook shows why one head is not enough, then walks through the bookkeeping number by
# number until each of those mistakes is visible. It ends with the variant that today's large language models use
# to save memory when generating text, grouped-query attention, and with dropout on the attention weights.
#
# **Learning goals.** After this notebook you can
# - **explain** why one softmax per query limits a head to one question, and how $H$ heads ask $H$ questions;
# - **split** a `(B, L, E)` tensor into `(B, H, L, D)` heads and **merge** them back, saying which number lands
#   where, and recognise the two classic bugs (`view` without `transpose`, `.view` on a non-contiguous tensor);
# - **scale** each head's scores by $1/\sqrt{D}$ and show with numbers what $1/\sqrt{E}$ would do;
# - **reproduce** `torch.nn.MultiheadAttention` exactly, translating its masks into this course's True = may attend,
#   and say where its attention dropout acts and why it is off in evaluation;
# - **compute** what grouped-query and multi-query attention save in parameters and in KV-cache memory.
#
# **Prerequisites.** [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb)
# (batched attention over leading axes, the $1/\sqrt{D}$ scale, padding and causal masks; 04's optional section 7 on
# library conventions helps for section 5) and [06 · Self-attention and positions](06_self_attention_and_positions.ipynb)
# (queries, keys and values projected from one sequence).
#
# **Time.** About 55 minutes of study (the notebook runs in a few seconds).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from torch import nn

from attn_course import causal_mask, device, padding_mask, plot_attention, set_seed, softmax
from attn_course.exercises import multihead as check
from attn_course.multihead import MultiHeadAttention, kv_cache_bytes

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# Everything here is small and runs on the CPU; `DEVICE` is set up as in every notebook but not used.
#
# ## 1. Why several heads (core)
#
# For each query, attention computes **one** softmax over the keys, so it produces **one** set of weights that sum
# to 1, and returns **one** weighted average of the values. You can think of it as one question per token ("which
# words matter to me?") with one blended answer. That is a real limit when a token needs two different things for
# two different reasons.
#
# A concrete case. In "the cat sat on the mat and the cat slept", take the second "cat". Two facts about its context
# are useful to it: which word came just before it ("the"), and whether the same word occurred earlier ("cat" at
# position 1). Each is a question about where to look, and the two point at different tokens. Trained models have
# heads for both: *previous-token heads* and *duplicate-token heads* (Wang et al. 2022 name them in GPT-2). Let us
# build the two questions by hand and see what one head can and cannot do.
#
# Each token is described by two one-hot blocks: which word it is (one of the $n_\text{words}$ different words) and
# where it is (one of $L$ positions). As in notebook 06, a projection matrix has shape (out, in), the layout of
# `nn.Linear.weight`, so a head is a pair of projections $q_i = W_q\, x_i$ and $k_j = W_k\, x_j$, written
# `x @ W_q.T` in code for all tokens at once, and its score is $q_i \cdot k_j$. We choose the projections so that:
# - **head "previous word"**: $q_i = c\,e_{i-1}$ (the one-hot of position $i-1$) and $k_j = e_j$, so the score is $c$
#   exactly where $j = i - 1$ and 0 elsewhere;
# - **head "duplicate token"** (the same word, earlier): $q_i = c\,[\,w_i,\ -\tfrac12 e_i\,]$ and
#   $k_j = [\,w_j,\ e_j\,]$, so the score is $c$ for an earlier token with the same word, $c/2$ for the token itself
#   (where to look when there is no earlier copy) and 0 elsewhere.
#
# A causal mask lets each token see itself and the past only. We pick $c = 10$ and use the scores as they are,
# without a $1/\sqrt{D}$ (we chose their size directly). First the tokens and their features:

# %%
words = "the cat sat on the mat and the cat slept".split()
vocab = list(dict.fromkeys(words))  # the different words, in order of first appearance
n_words, L = len(vocab), len(words)  # vocabulary size and sentence length
labels = [f"{w}{'₀₁₂₃₄₅₆₇₈₉'[i]}" for i, w in enumerate(words)]  # "cat₈" is the word "cat" at position 8
word = torch.eye(n_words)[[vocab.index(w) for w in words]]  # (L, n_words): one-hot of each token's word
pos = torch.eye(L)  # (L, L): one-hot of each token's position
x_tok = torch.cat([word, pos], dim=1)  # (L, n_words + L): the features of each token, word block then position block
print("vocabulary:", vocab, "  n_words =", n_words, "  L =", L, "  features:", tuple(x_tok.shape))

# %% [markdown]
# Head "previous word". Feature column `n_words + i` is "at position $i$". The query must turn it into output $i-1$,
# and the key must copy it to output $i$, so that the two meet exactly when $j = i - 1$.

# %%
c = 10.0
n_feat = n_words + L  # 17 features per token
W_q_prev = torch.zeros(L, n_feat)  # (out, in) = (L, n_feat)
# rows 0..L-2 (outputs i - 1) read columns n_words+1..n_words+L-1 (position features i = 1..L-1): a shifted identity;
# output L - 1 stays 0, since no token comes after the last one
W_q_prev[:L - 1, n_words + 1:] = c * torch.eye(L - 1)
W_k_prev = torch.zeros(L, n_feat)  # (out, in)
W_k_prev[:, n_words:] = torch.eye(L)  # output j reads the position-j feature: the key is the token's own position
print("query of the₇ (position 7):", (x_tok[7] @ W_q_prev.T).tolist())  # (n_feat,) @ (n_feat, L) -> (L,)
print("key of   the₇ (position 7):", (x_tok[7] @ W_k_prev.T).tolist())

# %% [markdown]
# Head "duplicate token": both projections keep all 17 features; the query scales the word block by $c$ and the
# position block by $-c/2$.

# %%
W_q_dup = c * torch.diag(torch.tensor([1.0] * n_words + [-0.5] * L))  # (n_feat, n_feat): [c·word, -c/2·position]
W_k_dup = torch.eye(n_feat)  # (n_feat, n_feat): [word, position]

# %% [markdown]
# Now the scores of both heads, a causal softmax, and the weights of the second "cat" (position 8). A third,
# single head asks both questions at once: its query and key are the two heads' features side by side, so its
# scores are the sum of theirs.

# %%
visible = causal_mask(L)  # (L, L), True = may attend: itself and the past


def attend(scores):
    """Causal softmax of a (L, L) score matrix."""
    return softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)  # (L, L)


# (L, n_feat) @ (n_feat, L) -> (L, L) queries, the same for keys; then (L, L) @ (L, L) -> (L, L)
scores_prev = (x_tok @ W_q_prev.T) @ (x_tok @ W_k_prev.T).T
# (L, n_feat) @ (n_feat, n_feat) -> (L, n_feat); (L, n_feat) @ (n_feat, L) -> (L, L)
scores_dup = (x_tok @ W_q_dup.T) @ (x_tok @ W_k_dup.T).T
w_prev, w_dup = attend(scores_prev), attend(scores_dup)
w_one = attend(scores_prev + scores_dup)  # one head asked both questions

i = 8  # the second "cat"
for name, w in (("previous word", w_prev), ("duplicate token", w_dup), ("one head, both", w_one)):
    top = w[i].topk(2)
    print(f"{name:19} {labels[i]} -> " + ",  ".join(f"{labels[j]}: {p:.4f}" for p, j in zip(top.values, top.indices)))

# %%
fig, axes = plt.subplots(1, 3, figsize=(19, 6))
for ax, w, title in zip(axes, (w_prev, w_dup, w_one),
                        ("Head 1: the previous word", "Head 2: duplicate token (same word, earlier)",
                         "One head asked both questions")):
    plot_attention(w, labels, labels, ax=ax, title=title)
fig.suptitle("Two hand-set heads each answer one question sharply; one head must split its weight")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read row `cat₈` in each panel. Head 1 puts all its weight on `the₇`, the word before; head 2 puts it on `cat₁`,
# the earlier copy (rows with no earlier copy fall back on the token itself, as designed). The third panel is the
# best a single head can do for both questions: the weights of a row sum to 1, so the query splits them about
# half and half, 0.4983 each. No choice of $W_q$ and $W_k$ can do better, since two weights that sum to at most 1
# cannot both be near 1.
#
# **A duplicate-token head is not an induction head.** Head 2 attends to `cat₁`, so what it can return is "cat" (or
# where it was): the word was seen before, not what comes next. An *induction head* (Elhage et al. 2021; Olsson et
# al. 2022) attends instead to the token *after* the earlier copy, `sat₂`, and copies it, a guess for the next word.
# A head of the first layer cannot do that: there the key of `sat₂` describes only "sat" and its position. A
# previous-token head in an earlier layer must first write "the word before me was cat" into it, so it takes two
# layers composed. [Notebook 13](13_attention_in_pretrained_models.ipynb) (section 6) finds such heads in a
# pretrained model and removes them to show that they do the copying.
#
# Splitting the weight is only half the problem. Look at what comes *out*. Let each token's value be its word's
# one-hot, so the output of a head is a distribution over the vocabulary.

# %%
values = word  # (L, n_words): each token's value is the one-hot of its word
out_one = w_one @ values  # (L, L) @ (L, n_words) -> (L, n_words)
out_two = torch.cat([w_prev @ values, w_dup @ values], dim=1)  # two heads side by side: (L, 2·n_words)
print("vocabulary:         ", vocab)
print("one head,  row cat₈:", out_one[i])
print("two heads, row cat₈:", out_two[i, :n_words], "| ", out_two[i, n_words:])

# %% [markdown]
# The single head returns half "the" plus half "cat" in the same seven numbers. The model downstream cannot tell
# which of the two was the previous word and which the earlier match: the blend of "previous = the, match = cat"
# is the same as that of "previous = cat, match = the". The two heads keep their answers in **separate slots**:
# the first seven numbers say "previous word: the" at full strength, the next seven "earlier copy: cat".
#
# That is multi-head attention. Each head $h$ has its own projections and its own softmax, and the outputs are
# concatenated and mixed by an output projection $W_o$:
#
# $$\mathrm{head}_h = \mathrm{softmax}\!\left(\frac{(Q W_q^{h})(K W_k^{h})^\top}{\sqrt{D}}\right) V W_v^{h},
# \qquad \mathrm{MultiHead}(Q, K, V) = [\,\mathrm{head}_1, \dots, \mathrm{head}_H\,]\, W_o .$$
#
# (This is the paper's notation: one token per *row* of $Q$, $K$, $V$, so $Q W_q^h$ is a row times a matrix. With
# weights stored as (out, in), like ours and `nn.Linear`'s, it is `Q @ W_q_h.T` in code.)
#
# With $D = E/H$, the $H$ heads together cost about what one head of width $E$ costs: the $E$ columns of the
# projections are divided among the heads, not multiplied. In code nobody builds $H$ separate projections. One
# $E \to E$ projection computes all heads' queries at once, and its $E$ output columns are then *cut* into $H$
# groups of $D$. That cut is the next section.
#
# ## 2. Splitting and merging heads, step by step (core)
#
# ### 2.1 The right way: `view(B, L, H, D)`, then `transpose(1, 2)`
#
# After `q = q_proj(x)`, `q` has shape `(B, L, E)`. Head 0 owns columns $0 \dots D-1$ of every token, head 1 owns
# columns $D \dots 2D-1$, and so on. To follow every number, we fill a small `q` with integers whose **tens digit
# is the token** and whose **units digit is the column**: entry 23 is token 2, column 3.

# %%
B, L, E, H = 1, 3, 8, 2
D = E // H  # head width: 4
q = (10 * torch.arange(L)[:, None] + torch.arange(E))[None]  # (B, L, E): q[0, l, e] = 10·l + e
print("q", tuple(q.shape))
print(q)

# %% [markdown]
# **Step 1: `view(B, L, H, D)`.** A `view` gives the same numbers in memory a new shape; nothing moves. Memory is
# laid out row by row (the last axis varies fastest), so cutting the last axis $E$ into $(H, D)$ keeps each token's
# numbers together: its first $D$ become head 0, the next $D$ head 1.
#
# **Step 2: `transpose(1, 2)`.** Attention multiplies the last two axes as matrices and treats the axes in front as
# batch axes (notebook 04). Each head needs its own `(L, D)` matrix of all tokens, so the head axis must move in
# front of the tokens: `(B, L, H, D)` becomes `(B, H, L, D)`.

# %%
split = q.view(B, L, H, D)  # (B, L, E) -> (B, L, H, D): each token's row cut into H pieces of D
heads = split.transpose(1, 2)  # (B, L, H, D) -> (B, H, L, D): heads in front of the tokens
print("split", tuple(split.shape), "-> heads", tuple(heads.shape))
for h in range(H):
    print(f"head {h}: tokens (tens digit) {heads[0, h, :, 0].div(10, rounding_mode='floor').tolist()}")
    print(heads[0, h])
print("view shares q's memory (no copy):", split.data_ptr() == q.data_ptr())

# %% [markdown]
# Head 0 holds all three tokens (tens digits 0, 1, 2) and only columns 0–3; head 1 holds all three tokens and
# columns 4–7. That is the whole point: every head sees **every token**, through **its own slice** of the columns.
#
# ### 2.2 The wrong way: `view(B, H, L, D)` without a transpose
#
# It is tempting to write the target shape directly. It has the right shape, and nothing raises:

# %%
wrong = q.view(B, H, L, D)  # (B, L, E) -> "(B, H, L, D)": the flat numbers cut in the wrong places
print("wrong", tuple(wrong.shape), "  equal to the right split:", torch.equal(wrong, heads))
for h in range(H):
    print(f"'head' {h}: tokens (tens digit) of its rows {wrong[0, h, :, 0].div(10, rounding_mode='floor').tolist()}")
    print(wrong[0, h])

# %% [markdown]
# `view` reads the flat memory in order (token 0's eight numbers, then token 1's, then token 2's) and cuts it into
# blocks of $L \cdot D = 12$. So "head 0" gets all of token 0 (its row 1 is token 0's columns 4–7, which belong to
# head 1) and the first half of token 1; "head 1" gets the rest. Each "head" now sees a mix of tokens and of both
# heads' columns, and its "token" rows are not tokens. The model still trains, because the shapes are right; it
# just learns from scrambled inputs. The picture below colours every number by the head whose columns it came from.

# %%
head_colours = ListedColormap(["#9ecae1", "#fdae6b"])  # head 0 blue, head 1 orange


def draw_grid(ax, numbers, row_labels, title, xlabel, ylabel, block=None):
    """Draw a 2-D integer tensor as a grid: each cell coloured by the head that owns its column (units digit // D)."""
    owner = (numbers % 10) // D  # which head's columns the number came from
    ax.imshow(owner, cmap=head_colours, vmin=0, vmax=H - 1)
    for (r, col), n in np.ndenumerate(numbers.numpy()):
        ax.text(col, r, str(n), ha="center", va="center", fontsize=10)
    ax.set_xticks(range(numbers.shape[1]))
    ax.set_yticks(range(numbers.shape[0]), row_labels)
    if block:  # a line between the heads' blocks
        ax.axhline(block - 0.5, color="black", lw=2)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


stacked_rows = [f"head {h}, row {r}" for h in range(H) for r in range(L)]
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), gridspec_kw={"width_ratios": [8, 4, 4]})
draw_grid(axes[0], q[0], [f"token {t}" for t in range(L)], "q: (L, E) = (3, 8)", "column e of E", "token l")
draw_grid(axes[1], heads[0].reshape(H * L, D), stacked_rows, "Right: view(B, L, H, D).transpose(1, 2)",
          "column d within the head (D = 4)", "(head, row) of (B, H, L, D)", block=L)
draw_grid(axes[2], wrong[0].reshape(H * L, D), stacked_rows, "Wrong: view(B, H, L, D)",
          "column d within the head (D = 4)", "(head, row) of (B, H, L, D)", block=L)
fig.legend(handles=[Patch(color=head_colours(h), label=f"columns of head {h}") for h in range(H)],
           loc="lower center", ncol=H, bbox_to_anchor=(0.5, -0.04))
fig.suptitle("Which numbers go to which head (tens digit = token, units digit = column of E)")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, `q` with its columns coloured by the head that owns them. In the middle, the right split: each head's
# block is one colour and its rows are tokens 0, 1, 2 (tens digits). On the right, the wrong `view`: head 0's block
# contains orange numbers (head 1's columns), and its rows are token 0, token 0 again, token 1.
#
# ### 2.3 Merging: `transpose(1, 2)` back, then `reshape(B, L, E)`
#
# After attention, each head returns one `(L, D)` output, so the heads' outputs form a `(B, H, L, D)` tensor. To give
# the output projection its usual `(B, L, E)` input, undo the split in reverse order: heads back behind the tokens,
# then join $(H, D)$ into $E$. As a stand-in for attention's output we take a fresh copy of `heads` (a matrix product
# such as `weights @ v` also returns a fresh tensor, laid out in order in memory).

# %%
out = heads.contiguous()  # stands in for weights @ v: a fresh (B, H, L, D) tensor, laid out in order
back = out.transpose(1, 2)  # (B, H, L, D) -> (B, L, H, D)
print("out ", tuple(out.shape), " strides", out.stride(), "  contiguous:", out.is_contiguous())
print("back", tuple(back.shape), " strides", back.stride(), "  contiguous:", back.is_contiguous())

# %% [markdown]
# A tensor's **strides** say how many numbers to skip in memory for one step along each axis. `out` is laid out in
# order: the next head is 12 numbers further, the next token 4, the next column 1. `transpose` moves no numbers, it
# only swaps two strides, so `back` is `(B, L, H, D)` with strides `(24, 4, 12, 1)`. It is not *contiguous* any more:
# reading it row by row does not walk through memory in order.
#
# Now `view(B, L, E)` would have to make one axis of length $E = 8$ out of $(H, D)$. Within a head, the next column
# is 1 number further; from column 3 (head 0's last) to column 4 (head 1's first) it is $12 - 3 = 9$ numbers. A view
# has one stride per axis, and no single stride fits both steps, so PyTorch refuses:

# %% tags=["raises-exception"]
back.view(B, L, E)

# %% [markdown]
# The message says what to do. `.reshape` returns a view when one exists and otherwise copies the numbers into a
# new, contiguous tensor; `.contiguous().view(...)` does the copy explicitly (nanoGPT writes
# `y.transpose(1, 2).contiguous().view(B, T, C)`). Both give back exactly the `q` we started from.

# %%
merged = back.reshape(B, L, E)  # (B, L, H, D) -> (B, L, E), copying because back is not contiguous
merged_too = back.contiguous().view(B, L, E)  # the same, with the copy written out
print(merged)
print("reshape equals the original q:", torch.equal(merged, q), "  .contiguous().view too:", torch.equal(merged_too, q))
print("reshape had to copy:", merged.data_ptr() != back.data_ptr())
no_transpose = out.reshape(B, L, E)  # the mirror of the wrong split: join (L, D) without moving the heads back
print("merged without transposing back:\n", no_transpose)

# %% [markdown]
# The last print is the merging bug: reshaping `(B, H, L, D)` straight to `(B, L, E)` runs without complaint and puts
# token 1's head-0 numbers (10–13) into token 0's row, and token 0's head-1 numbers (4–7) into token 1's row.
#
# ### 2.4 Every shape, traced
#
# The package's `MultiHeadAttention` (in `attn_course.multihead`) does exactly these steps. With `trace = True` it
# prints every intermediate shape with its glossary letters (and checks it). We give it sizes that are all
# different, so that each letter can be read off: $B = 2$, $L = 3$ queries, $S = 5$ keys and values, $E = 24$,
# $H = 4$, so $D = 6$.
#
# From here on, every cell that draws random numbers seeds its own: inputs come from a fresh
# `torch.Generator().manual_seed(...)`, and a module's random initial weights (which PyTorch draws from its global
# generator) from `torch.manual_seed(...)` at the top of the cell. Re-running any one cell gives the same numbers.

# %%
torch.manual_seed(24)  # for the module's initial weights
g_trace = torch.Generator().manual_seed(24)
mha = MultiHeadAttention(embed_dim=24, num_heads=4)
query_in = torch.randn(2, 3, 24, generator=g_trace)  # (B, L, E)
memory = torch.randn(2, 5, 24, generator=g_trace)  # (B, S, E): keys and values come from here
mha.trace = True
with torch.no_grad():
    out_traced, _ = mha(query_in, memory, memory)
mha.trace = False
print("output", tuple(out_traced.shape))

# %% [markdown]
# Read it from the top: three projections, each split with `view` and moved with `transpose`; one score matrix per
# batch element and head, `(B, H, L, S)`; one output per head, `(B, H, L, D)`; the heads moved back, merged into
# `(B, L, E)` with `reshape`, and mixed by `out_proj`.
#
# ## 3. Scale by the head width $D$, not the model width $E$ (core)
#
# Notebook 04 measured why scores are multiplied by $1/\sqrt{D}$, with $D$ the width of queries and keys: a dot
# product of $D$ independent numbers of mean 0 and variance 1 has variance $D$, and dividing by its standard deviation
# $\sqrt{D}$ brings it back to 1 at every width. In a head, the dot product runs over the head's $D = E/H$ columns,
# not over all $E$. So the right divisor is $\sqrt{D}$.
#
# Dividing by $\sqrt{E}$ instead shrinks every score by a further $\sqrt{E/D} = \sqrt{H}$. The scores then have
# standard deviation $1/\sqrt{H}$ instead of 1, and softmax turns small differences into nearly equal weights: each
# head becomes a blurry average. First one query with 6 keys, in a head of width $D = 16$ of a model with $E = 128$
# ($H = 8$), in float64 from a private generator so the digits are the same on every machine.

# %%
g_one = torch.Generator().manual_seed(7)
E_s, H_s = 128, 8
D_s = E_s // H_s  # 16
q_h = torch.randn(D_s, generator=g_one, dtype=torch.float64)  # one query of one head: D numbers
k_h = torch.randn(6, D_s, generator=g_one, dtype=torch.float64)  # S = 6 keys of the same head
raw = k_h @ q_h  # (S, D) @ (D,) -> (S,): the head's dot products run over its D columns


def entropy(p):
    return float(-(p * p.log()).sum())  # in nats; log 6 = 1.79 for uniform weights over 6 keys


for name, width in (("sqrt(D) = 4   ", D_s), ("sqrt(E) = 11.3", E_s)):
    s = raw / math.sqrt(width)
    p = softmax(s, dim=-1)
    print(f"scale {name}: scores std {float(s.std()):.3f}  largest weight {float(p.max()):.3f}  "
          f"entropy {entropy(p):.3f} nats")
    print("   weights", p.numpy())
print(f"uniform over 6 keys: weight {1 / 6:.3f}, entropy {math.log(6):.3f} nats")

# %% [markdown]
# Now the same over many rows and numbers of heads. We keep $E = 512$ and vary $H$ (so $D = 512/H$): 2000 queries
# per setting, each with its own 16 keys, and we report the standard deviation of the scaled scores, the mean of
# each row's largest weight (1/16 = 0.0625 for uniform weights) and the mean entropy (log 16 = 2.773 nats for
# uniform).

# %%
g_many = torch.Generator().manual_seed(8)
E_t, R, n_keys = 512, 2000, 16
head_counts = [1, 2, 4, 8, 16, 32]
rows = {"D": [], "E": []}  # per H: (std of scores, mean largest weight, mean entropy)
for h_count in head_counts:
    d = E_t // h_count
    qs = torch.randn(R, 1, d, generator=g_many, dtype=torch.float64)  # (R, 1, D): one query per row
    ks = torch.randn(R, n_keys, d, generator=g_many, dtype=torch.float64)  # (R, 16, D): its own keys
    dots = qs @ ks.transpose(-2, -1)  # (R, 1, D) @ (R, D, 16) -> (R, 1, 16)
    for name, width in (("D", d), ("E", E_t)):
        p = softmax(dots / math.sqrt(width), dim=-1)  # (R, 1, 16)
        ent = -torch.special.xlogy(p, p).sum(dim=-1)  # (R, 1)
        rows[name].append(((dots / math.sqrt(width)).std().item(), p.amax(dim=-1).mean().item(), ent.mean().item()))

print(f"{'H':>3} {'D':>4} | {'std of scores':^15} | {'mean largest weight':^19} | {'mean entropy':^15}")
print(f"{'':>3} {'':>4} | {'√D':>7} {'√E':>7} | {'√D':>9} {'√E':>9} | {'√D':>7} {'√E':>7}")
for h_count, (s0, m0, e0), (s1, m1, e1) in zip(head_counts, rows["D"], rows["E"]):
    print(f"{h_count:>3} {E_t // h_count:>4} | {s0:>7.3f} {s1:>7.3f} | {m0:>9.3f} {m1:>9.3f} | {e0:>7.3f} {e1:>7.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
pick_d = softmax(raw / math.sqrt(D_s), dim=-1)
pick_e = softmax(raw / math.sqrt(E_s), dim=-1)
keys_x = np.arange(len(raw))
axes[0].bar(keys_x - 0.2, pick_d.numpy(), width=0.4, label="scores / √D (correct)")
axes[0].bar(keys_x + 0.2, pick_e.numpy(), width=0.4, label="scores / √E (too flat)")
axes[0].axhline(1 / 6, color="gray", ls=":", label="uniform (1/6)")
axes[0].set_xlabel("key j")
axes[0].set_ylabel("attention weight")
axes[0].set_title(f"One query, one head (D = {D_s}, E = {E_s})")
axes[0].legend()
axes[1].plot(head_counts, [r[1] for r in rows["D"]], "o-", label="scores / √D")
axes[1].plot(head_counts, [r[1] for r in rows["E"]], "s-", label="scores / √E")
axes[1].axhline(1 / n_keys, color="gray", ls=":", label="uniform (1/16)")
axes[1].set_xscale("log", base=2)
axes[1].set_xlabel("number of heads H (E = 512, D = 512 / H)")
axes[1].set_ylabel("mean largest weight of a row")
axes[1].set_title("Scaling by √E flattens the heads more as H grows")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Left: with $\sqrt{D}$ the query clearly prefers key 0 (weight 0.889); with $\sqrt{E}$ the same scores are
# $\sqrt{E/D} = \sqrt{8} \approx 2.8$ times smaller (spread 0.618 instead of 1.747), and the weights move towards the
# uniform line (largest 0.438, against 0.167 for uniform). Right: with $\sqrt{D}$ nothing depends on $H$; with
# $\sqrt{E}$ the rows get flatter with every doubling of $H$ (the table gives the numbers: the score spread is
# $1/\sqrt{H}$). With $H = 1$ the two are the same, because then $D = E$. A model could undo the wrong scale exactly by
# learning $\sqrt{H}$ times larger query weights, but it starts out blurred and must first learn that correction, and
# nothing raises an error.
#
# The package's class divides by $\sqrt{D}$. Let us check it on the module traced above ($E = 24$, $H = 4$,
# $D = 6$) by recomputing its per-head weights by hand with both scales.

# %%
with torch.no_grad():
    _, w_module = mha(query_in, memory, memory, need_weights=True, average_attn_weights=False)  # (B, H, L, S)
    q_m = mha.q_proj(query_in).view(2, 3, 4, 6).transpose(1, 2)  # (B, L, E) -> (B, L, H, D) -> (B, H, L, D)
    k_m = mha.k_proj(memory).view(2, 5, 4, 6).transpose(1, 2)  # (B, S, E) -> (B, S, H, D) -> (B, H, S, D)
    dots_m = q_m @ k_m.transpose(-2, -1)  # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
print("weights", tuple(w_module.shape))
print("module = softmax(q·k / sqrt(D)):", torch.allclose(w_module, softmax(dots_m / math.sqrt(6), dim=-1), atol=1e-6))
print("module = softmax(q·k / sqrt(E)):", torch.allclose(w_module, softmax(dots_m / math.sqrt(24), dim=-1), atol=1e-6))

# %% [markdown]
# ## 4. The same numbers as `torch.nn.MultiheadAttention` (core)
#
# PyTorch's `nn.MultiheadAttention` computes the same thing, with three differences in bookkeeping:
# - it stores the three input projections as one `(3E, E)` matrix `in_proj_weight` (and one `(3E,)` bias), or as
#   three separate matrices when keys or values have their own widths `kdim`, `vdim`;
# - by default its inputs are sequence-first, `(L, B, E)`, a convention from the recurrent-network days;
#   `batch_first=True` makes them `(B, L, E)` like ours;
# - with `need_weights=True` (its default) it also returns the weights averaged over the heads, `(B, L, S)`, or
#   per head with `average_attn_weights=False`.
#
# `MultiHeadAttention.from_torch(ref)` copies a module's weights into ours (always batch-first). Here is where the
# copied pieces come from:

# %%
torch.manual_seed(16)  # for the module's initial weights
ref = nn.MultiheadAttention(24, 4, batch_first=True)  # E = 24, H = 4, so D = 6
ours = MultiHeadAttention.from_torch(ref)
print("PyTorch in_proj_weight", tuple(ref.in_proj_weight.shape), " in_proj_bias", tuple(ref.in_proj_bias.shape))
print("ours: q_proj", tuple(ours.q_proj.weight.shape), " k_proj", tuple(ours.k_proj.weight.shape),
      " v_proj", tuple(ours.v_proj.weight.shape), " out_proj", tuple(ours.out_proj.weight.shape))
print("q_proj is the first E rows:", torch.equal(ours.q_proj.weight, ref.in_proj_weight[:24]))
print("v_proj is the last E rows: ", torch.equal(ours.v_proj.weight, ref.in_proj_weight[48:]))

# %% [markdown]
# Now outputs, averaged weights and per-head weights, for five configurations: batch-first or sequence-first (we
# transpose the inputs for PyTorch and its output back), keys and values of other widths ($k_{dim} = 7$,
# $v_{dim} = 10$), with and without biases. The inputs have $B = 2$, $L = 3$, $S = 5$, $E = 24$, $H = 4$ ($D = 6$).
#
# **Tolerance.** Both compute in float32, about 7 significant digits. PyTorch multiplies $q$ by $1/\sqrt{D}$ before
# the product $qk^\top$ and uses fused kernels (one projection for $q$, $k$, $v$ together, `baddbmm` for the masked
# scores); we divide the scores after. The same arithmetic in another order rounds differently and moves the last
# digits. `atol=1e-5, rtol=1e-4` leaves room for that and still catches any real mistake: a wrong scale,
# a swapped head or a misread mask typically changes outputs by $10^{-2}$ or more.

# %%
torch.manual_seed(9)  # for the modules' initial weights
g_ref = torch.Generator().manual_seed(9)
E_r, H_r, B_r, L_r, S_r = 24, 4, 2, 3, 5  # D = 6: every size differs
largest = 0.0  # the largest difference between PyTorch's and our outputs or weights
configurations = [  # (label, batch_first, kdim, vdim, bias)
    ("batch_first=True", True, None, None, True),
    ("batch_first=False: (L, B, E)", False, None, None, True),
    ("kdim=7, vdim=10", True, 7, 10, True),
    ("bias=False", True, None, None, False),
    ("batch_first=False, kdim, vdim, no bias", False, 7, 10, False),
]
for label, batch_first, kdim, vdim, bias in configurations:
    ref = nn.MultiheadAttention(E_r, H_r, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    ours = MultiHeadAttention.from_torch(ref)
    query_r = torch.randn(B_r, L_r, E_r, generator=g_ref)  # (B, L, E)
    key_r = torch.randn(B_r, S_r, kdim or E_r, generator=g_ref)  # (B, S, kdim)
    value_r = torch.randn(B_r, S_r, vdim or E_r, generator=g_ref)  # (B, S, vdim)
    inputs = (query_r, key_r, value_r) if batch_first else tuple(t.transpose(0, 1) for t in (query_r, key_r, value_r))
    with torch.no_grad():
        out_ref, w_ref = ref(*inputs)  # need_weights=True by default: weights averaged over heads, (B, L, S)
        _, w_ref_heads = ref(*inputs, average_attn_weights=False)  # (B, H, L, S)
        out_ours, w_ours = ours(query_r, key_r, value_r, need_weights=True)
        _, w_ours_heads = ours(query_r, key_r, value_r, need_weights=True, average_attn_weights=False)
    if not batch_first:
        out_ref = out_ref.transpose(0, 1)  # (L, B, E) -> (B, L, E)
    torch.testing.assert_close(out_ours, out_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w_ours, w_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w_ours_heads, w_ref_heads, atol=1e-5, rtol=1e-4)
    largest = max(largest, *((a - b).abs().max().item() for a, b in ((out_ours, out_ref), (w_ours_heads, w_ref_heads))))
    print(f"{label:40} out {tuple(out_ours.shape)}, weights {tuple(w_ours.shape)} and {tuple(w_ours_heads.shape)}: equal")
print("largest difference below 1e-6:", largest < 1e-6)

# %% [markdown]
# All five agree, outputs and weights, with differences under $10^{-6}$. (Inside, PyTorch splits heads the same
# way, in its sequence-first layout: `q.view(L, B * H, D).transpose(0, 1)`.)
#
# **The fast path.** Our module has a second path, `use_sdpa=True`, that hands the split heads to
# `torch.nn.functional.scaled_dot_product_attention`, one fused call that never returns the weights (on a GPU it
# can use FlashAttention-style kernels, notebook 12). With `need_weights=True` the module falls back to the manual
# path, because the fused call cannot return them. Both paths must give the same output, without and with masks,
# here for a module with keys and values of other widths and no biases:

# %%
torch.manual_seed(12)  # for the module's initial weights
g_fast = torch.Generator().manual_seed(12)
ref_fast = nn.MultiheadAttention(E_r, H_r, bias=False, kdim=7, vdim=10, batch_first=True)
slow = MultiHeadAttention.from_torch(ref_fast)  # use_sdpa is False by default: the manual path
fast = MultiHeadAttention.from_torch(ref_fast)  # the same weights ...
fast.use_sdpa = True  # ... through F.scaled_dot_product_attention
query_f = torch.randn(B_r, L_r, E_r, generator=g_fast)  # (B, L, E)
key_f = torch.randn(B_r, S_r, 7, generator=g_fast)  # (B, S, kdim)
value_f = torch.randn(B_r, S_r, 10, generator=g_fast)  # (B, S, vdim)
allowed = torch.rand(B_r, L_r, S_r, generator=g_fast) > 0.3  # (B, L, S), True = may attend
allowed[:, :, 0] = True  # every query may see key 0, so no row is fully masked
with torch.no_grad():
    for label, kwargs in (("no mask", {}), ("boolean mask (B, L, S)", {"attn_mask": allowed}),
                          ("is_causal=True", {"is_causal": True})):
        slow_out, _ = slow(query_f, key_f, value_f, **kwargs)
        fast_out, fast_w = fast(query_f, key_f, value_f, **kwargs)
        torch.testing.assert_close(fast_out, slow_out, atol=1e-5, rtol=1e-4)
        print(f"{label:24} manual path = SDPA path; the SDPA path returns weights: {fast_w is not None}")

# %% [markdown]
# ## 5. Mask conventions side by side (core)
#
# Notebook 04's optional section 7 listed the conventions; here they are, in one module. The course (and
# `F.scaled_dot_product_attention`) uses boolean masks with **True = may attend**. `nn.MultiheadAttention` takes two
# masks with the **opposite** meaning:
# - `attn_mask`, shape `(L, S)` (or `(B·H, L, S)`, one per sentence and head): **True = not allowed**. The causal
#   mask is therefore `triu(1)`, True above the diagonal, on the future.
# - `key_padding_mask`, shape `(B, S)`: **True = ignore this key**, because it is padding.
#
# Example: two sentences of lengths 5 and 3, padded to 5, in causal self-attention. Our single mask is "not in the
# future" **and** "not padding", so we invert both of PyTorch's masks and combine them with `&`, broadcasting to
# `(B, H, L, S)`:

# %%
lengths = [5, 3]
L_m = 5
key_padding_mask = ~padding_mask(lengths)  # PyTorch: (B, S), True = ignore (a pad)
attn_mask_torch = torch.ones(L_m, L_m, dtype=torch.bool).triu(1)  # PyTorch: (L, S), True = not allowed (the future)
ours_mask = ~attn_mask_torch & ~key_padding_mask[:, None, None, :]  # (L, S) & (B, 1, 1, S) -> (B, 1, L, S), True = may attend
print("ours", tuple(ours_mask.shape), "  sentence 1 (3 real tokens), as 0/1:")
print(ours_mask[1, 0].int())
same = torch.equal(ours_mask, causal_mask(L_m) & padding_mask(lengths)[:, None, None, :])  # built with notebook 04's helpers
print("the same as the course's own builders:", same)

# %%
torch.manual_seed(5)  # for the module's initial weights
g_mask = torch.Generator().manual_seed(5)
ref_m = nn.MultiheadAttention(24, 4, batch_first=True)  # E = 24, H = 4, D = 6
ours_m = MultiHeadAttention.from_torch(ref_m)
x_m = torch.randn(2, L_m, 24, generator=g_mask)  # (B, L, E): self-attention, so S = L
with torch.no_grad():
    out_t, w_t = ref_m(x_m, x_m, x_m, attn_mask=attn_mask_torch, key_padding_mask=key_padding_mask,
                       average_attn_weights=False)  # (B, L, E), (B, H, L, S)
    out_o, w_o = ours_m(x_m, x_m, x_m, attn_mask=ours_mask, need_weights=True, average_attn_weights=False)
torch.testing.assert_close(out_o, out_t, atol=1e-5, rtol=1e-4)
torch.testing.assert_close(w_o, w_t, atol=1e-5, rtol=1e-4)
print("outputs and per-head weights equal")
print("sentence 1, head 0, weights (the pads 3 and 4 get none):")
print(w_o[1, 0])

# %% [markdown]
# Both masks blocked the same pairs: in sentence 1 no query gives weight to keys 3 and 4 (padding) or to a later
# key. The padded queries 3 and 4 still get an output, an average over the real tokens; a loss should ignore them.
#
# | where | argument | boolean True means | shape | causal |
# |---|---|---|---|---|
# | `attn_course` (ours) | `attn_mask` | **may attend** | broadcasts to `(B, H, L, S)`; 3-D is `(B, L, S)` | `is_causal=True` |
# | `F.scaled_dot_product_attention` | `attn_mask` | **may attend** | broadcasts to `(B, H, L, S)` | `is_causal=True` |
# | `nn.MultiheadAttention` | `attn_mask` | **not allowed** | `(L, S)` or `(B·H, L, S)` | `triu(1)`; `is_causal` is only a hint |
# | `nn.MultiheadAttention` | `key_padding_mask` | **ignore** this key (padding) | `(B, S)` | — |
#
# Everywhere a float mask is added to the scores (0 to allow, $-\infty$ to block). From PyTorch's two boolean masks
# to ours: `~attn_mask & ~key_padding_mask[:, None, None, :]`. A different mask for each sentence needs PyTorch's 3-D
# `(B·H, L, S)` form, built in section 9 (optional).
#
# ## 6. Looking at each head (core)
#
# Section 1's two heads were computed by hand. Now we put them into the package's module, next to two more hand-set
# heads, and ask it for per-head weights with `need_weights=True, average_attn_weights=False`. The module has
# $E = 80$ and $H = 4$, so each head is $D = 20$ wide, enough room for section 1's 17 token features. Each head's
# query and key projections occupy its own block of $D$ rows of `q_proj.weight` and `k_proj.weight` (an
# `nn.Linear` weight is `(out, in)`, so head $h$ owns rows $hD \dots (h+1)D - 1$: the same column slice as in
# section 2, seen from the weight's side). Section 1 stored its matrices as (out, in) too, so they are copied in as
# they are, without a transpose:
# - head 0 is section 1's "previous word", head 1 its "duplicate token";
# - head 2 looks at the **first token**: a constant query (from the bias) meets a key that is 1 only at position 0;
# - head 3 has all-zero projections, so all its scores are 0: a plain average over the visible words.
#
# Every head's value is the word one-hot, and `out_proj` is the identity, so the output is the four heads'
# answers side by side. The module divides the scores by $\sqrt{D}$, so we multiply the hand-set sizes by $\sqrt{D}$.

# %%
# from section 1: words, vocab, n_words, x_tok (L_s, 17), the (out, in) matrices W_q_prev, W_k_prev, W_q_dup, W_k_dup,
# and the size c; its sentence length was called L, which section 2 reused for 3, so here it is L_s
L_s = len(words)  # 10
E_v, H_v = 80, 4
D_v = E_v // H_v  # 20
x_sent = torch.zeros(1, L_s, E_v)  # (B, L, E)
x_sent[0, :, :n_feat] = x_tok  # the features of section 1, then zeros
heads_mha = MultiHeadAttention(E_v, H_v)
with torch.no_grad():
    for p in heads_mha.parameters():
        p.zero_()
    up = math.sqrt(D_v)  # undoes the module's 1 / sqrt(D)
    Wq, Wk, Wv = heads_mha.q_proj.weight, heads_mha.k_proj.weight, heads_mha.v_proj.weight  # each (E, E) = (out, in)
    Wq[0:L_s, :n_feat] = up * W_q_prev  # head 0 (rows 0..D-1): previous word, (L_s, 17) = (out, in)
    Wk[0:L_s, :n_feat] = W_k_prev
    Wq[D_v:D_v + n_feat, :n_feat] = up * W_q_dup  # head 1 (rows D..2D-1): duplicate token, (17, 17)
    Wk[D_v:D_v + n_feat, :n_feat] = W_k_dup
    heads_mha.q_proj.bias[2 * D_v] = up * c  # head 2: a constant query ...
    Wk[2 * D_v, n_words] = 1.0  # ... meets the "position 0" feature
    # head 3 keeps zero query and key projections: all scores 0, uniform over the visible words
    for h in range(H_v):
        Wv[h * D_v:h * D_v + n_words, :n_words] = torch.eye(n_words)  # every head's value: the word one-hot
    heads_mha.out_proj.weight.copy_(torch.eye(E_v))  # output = the four heads side by side

with torch.no_grad():
    out_sent, w_heads = heads_mha(x_sent, x_sent, x_sent, is_causal=True, need_weights=True,
                                  average_attn_weights=False)  # (B, L, E), (B, H, L, S)
    _, w_avg = heads_mha(x_sent, x_sent, x_sent, is_causal=True, need_weights=True)  # (B, L, S): the mean over heads
print("per-head weights", tuple(w_heads.shape), "  averaged", tuple(w_avg.shape))
print("average = mean over the heads:", torch.allclose(w_avg, w_heads.mean(dim=1)))
torch.testing.assert_close(w_heads[0, 0], w_prev, atol=1e-5, rtol=1e-4)
torch.testing.assert_close(w_heads[0, 1], w_dup, atol=1e-5, rtol=1e-4)
print("heads 0 and 1 = section 1's heads")
print(f"row cat₈, key the₇: head 0 {w_heads[0, 0, 8, 7]:.4f}, average {w_avg[0, 8, 7]:.4f}")
answers = out_sent[0, 8].view(H_v, D_v)[:, :n_words]  # (E,) -> (H, D): each head's answer for cat₈; first n_words columns
print("what each head returns for cat₈ (a distribution over", vocab, "):")
print(answers)

# %%
fig, axes = plt.subplots(2, 3, figsize=(19, 12))
head_titles = ["head 0: previous word", "head 1: duplicate token", "head 2: first token", "head 3: uniform average"]
for h, ax in enumerate(axes.flat[:4]):
    plot_attention(w_heads[0, h], labels, labels, ax=ax, title=head_titles[h])
plot_attention(w_avg[0], labels, labels, ax=axes[1, 1], title="average over the 4 heads (average_attn_weights=True)")
image = axes[1, 2].imshow(answers.numpy(), cmap="viridis", vmin=0, vmax=1)
fig.colorbar(image, ax=axes[1, 2], fraction=0.046, pad=0.04)
axes[1, 2].set_xticks(range(n_words), vocab, rotation=90)
axes[1, 2].set_yticks(range(H_v), [f"head {h}" for h in range(H_v)])
for (r, col), val in np.ndenumerate(answers.numpy()):
    axes[1, 2].text(col, r, f"{val:.2f}", ha="center", va="center", fontsize=8, color="black" if val > 0.5 else "white")
axes[1, 2].set_xlabel("word")
axes[1, 2].set_ylabel("head")
axes[1, 2].set_title("What each head returns for cat₈")
fig.suptitle("Four hand-set heads of one MultiHeadAttention, their average, and their answers for cat₈")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each head has a pattern you can name: a line just below the diagonal (previous word), a few off-diagonal spots
# (earlier copies), a column at the first token, and a triangle of even weights. The average (bottom middle) is what
# `average_attn_weights=True`, PyTorch's default, returns: it looks like a smear of all four, and on row `cat₈` the
# previous-word head's 0.9996 on `the₇` has become 0.2777 there. When you inspect a model, ask for per-head
# weights. The bottom right is the output for `cat₈`, one row per head, each in its own slot as section 1 promised:
# "the" (the previous word), "cat" (the earlier copy), "the" (the first word) and the word counts of the nine
# visible tokens (3/9 "the", 2/9 "cat", 1/9 each of four others).
#
# These heads were set by hand to make the point readable. Trained models do learn heads like these: previous-token
# heads and heads that park on the first token or on separators (Clark et al. 2019), duplicate-token heads (Wang et
# al. 2022). [Notebook 13](13_attention_in_pretrained_models.ipynb) finds previous-token heads and first-token heads
# in real models, and the two-layer induction heads of section 1.
#
# ## 7. Grouped-query and multi-query attention (core)
#
# When a model generates text one token at a time, each new token's query attends to the keys and values of all the
# tokens before it. Recomputing those every step would be wasteful, so they are kept in a **KV cache**: for every
# layer, the keys and the values of every position, for every key/value head. Its size is
#
# $$\text{bytes} = 2 \cdot \text{layers} \cdot B \cdot S \cdot H_{kv} \cdot D \cdot \text{bytes per number},$$
#
# the 2 for keys and values. For long sequences it can outgrow the model's weights, and every generated token has
# to read all of it from memory. **Multi-query attention** (Shazeer 2019) keeps $H$ query heads but only **one**
# key/value head that all of them share. **Grouped-query attention** (Ainslie et al. 2023) is the middle ground:
# $H_{kv}$ key/value heads, each shared by a group of $H / H_{kv}$ query heads. $H_{kv} = H$ is ordinary multi-head
# attention, $H_{kv} = 1$ is multi-query.
#
# In the module this is `num_kv_heads`. The query projection keeps its $E \to E$ shape; the key and value
# projections shrink to $E \to H_{kv} \cdot D$. Below, $E = 96$ and $H = 8$ ($D = 12$), with $B = 2$, $L = 3$ queries
# and $S = 5$ keys.

# %%
torch.manual_seed(64)  # for the modules' initial weights
g_gqa = torch.Generator().manual_seed(64)
E_g, H_g = 96, 8  # D = 12
x_g = torch.randn(2, 3, E_g, generator=g_gqa)  # (B, L, E): the queries
mem_g = torch.randn(2, 5, E_g, generator=g_gqa)  # (B, S, E): keys and values come from here
print(f"{'H_kv':>4} {'group':>5} {'k_proj':>9} {'v_proj':>9} {'all params':>10}   "
      f"{'k_proj(x)':>11} {'output':>11} {'weights':>14}")
for n_kv in (8, 4, 2, 1):
    m = MultiHeadAttention(E_g, H_g, num_kv_heads=n_kv)
    with torch.no_grad():
        out_g, w_g = m(x_g, mem_g, mem_g, need_weights=True, average_attn_weights=False)
        k_g = m.k_proj(mem_g)  # (B, S, H_kv·D)
    n_params = sum(p.numel() for p in m.parameters())
    print(f"{n_kv:>4} {H_g // n_kv:>5} {m.k_proj.weight.numel() + m.k_proj.bias.numel():>9,} "
          f"{m.v_proj.weight.numel() + m.v_proj.bias.numel():>9,} {n_params:>10,}   {str(tuple(k_g.shape)):>11} "
          f"{str(tuple(out_g.shape)):>11} {str(tuple(w_g.shape)):>14}")

# %% [markdown]
# The output and the weights keep their shapes: there are still $H = 8$ query heads and 8 weight matrices per
# sentence. Only the keys and values, and their projections, shrink.
#
# How does a query head find its key/value head? The module repeats each key/value head for its group, with
# `repeat_interleave`, so query heads $0 \dots g-1$ use key/value head 0, the next $g$ use head 1, and so on. The
# trace shows the extra step ($E = 48$, $H = 8$, $H_{kv} = 4$, so $D = 6$ and groups of $g = 2$; `Ekv` is
# $H_{kv} \cdot D$):

# %%
torch.manual_seed(4)  # for the module's initial weights
g_group = torch.Generator().manual_seed(4)
B_q, L_q, S_q, E_q, H_q, Hkv_q = 2, 3, 5, 48, 8, 4
D_q, group = E_q // H_q, H_q // Hkv_q  # D = 6, g = 2 query heads per key/value head
gqa = MultiHeadAttention(E_q, H_q, num_kv_heads=Hkv_q)
x_q = torch.randn(B_q, L_q, E_q, generator=g_group)  # (B, L, E)
x_kv = torch.randn(B_q, S_q, E_q, generator=g_group)  # (B, S, E)
gqa.trace = True
with torch.no_grad():
    out_gqa, _ = gqa(x_q, x_kv, x_kv)
gqa.trace = False
print(f"\nkey/value head used by query heads 0..{H_q - 1}: repeat_interleave",
      torch.arange(Hkv_q).repeat_interleave(group).tolist(), " (repeat would give",
      torch.arange(Hkv_q).repeat(group).tolist(), ")")

# %% [markdown]
# To be sure of the grouping, we recompute the output with a loop in which query head $h$ uses key/value head
# $h \,//\, g$, and once more with PyTorch's `scaled_dot_product_attention(..., enable_gqa=True)`, which does the
# grouping itself.

# %%
with torch.no_grad():
    qg = gqa.q_proj(x_q).view(B_q, L_q, H_q, D_q).transpose(1, 2)  # (B, L, E) -> (B, L, H, D) -> (B, H, L, D)
    kg = gqa.k_proj(x_kv).view(B_q, S_q, Hkv_q, D_q).transpose(1, 2)  # (B, S, Hkv·D) -> (B, S, Hkv, D) -> (B, Hkv, S, D)
    vg = gqa.v_proj(x_kv).view(B_q, S_q, Hkv_q, D_q).transpose(1, 2)  # (B, Hkv, S, D)
    per_head = []
    for h in range(H_q):
        kv = h // group  # the key/value head of query head h
        w_h = softmax(qg[:, h] @ kg[:, kv].transpose(-2, -1) / math.sqrt(D_q), dim=-1)  # (B, L, D) @ (B, D, S) -> (B, L, S)
        per_head.append(w_h @ vg[:, kv])  # (B, L, S) @ (B, S, D) -> (B, L, D)
    by_loop = torch.stack(per_head, dim=1).transpose(1, 2).reshape(B_q, L_q, E_q)  # (B, H, L, D) -> (B, L, H, D) -> (B, L, E)
    by_loop = gqa.out_proj(by_loop)
    by_sdpa = F.scaled_dot_product_attention(qg, kg, vg, enable_gqa=True)  # (B, H, L, D), grouping done by PyTorch
    by_sdpa = gqa.out_proj(by_sdpa.transpose(1, 2).reshape(B_q, L_q, E_q))  # (B, H, L, D) -> (B, L, H, D) -> (B, L, E)
torch.testing.assert_close(out_gqa, by_loop, atol=1e-5, rtol=1e-4)
torch.testing.assert_close(out_gqa, by_sdpa, atol=1e-5, rtol=1e-4)
print("module = loop with kv head h // group = SDPA with enable_gqa=True")

# %% [markdown]
# **What the cache saves.** Take a configuration like Llama-2-7B: 32 layers, $H = 32$ heads of $D = 128$
# ($E = 4096$), keys and values stored in fp16 (2 bytes), a context of 4096 tokens. Llama-2-7B itself uses ordinary
# multi-head attention ($H_{kv} = 32$); the larger Llama-2-70B uses grouped-query attention with $H_{kv} = 8$.
# `kv_cache_bytes` evaluates the formula above.

# %%
layers, H_l, D_l, S_l = 32, 32, 128, 4096
E_l = H_l * D_l
print(f"{'H_kv':>4} {'kind':>10} {'per token':>10} {'batch 1':>9} {'batch 16':>9} {'smaller':>8} {'K,V proj. per layer':>20}")
full = kv_cache_bytes(layers, 1, S_l, H_l, D_l, bytes_per_value=2)
for n_kv, kind in ((32, "MHA"), (8, "GQA"), (4, "GQA"), (1, "MQA")):
    one = kv_cache_bytes(layers, 1, S_l, n_kv, D_l, bytes_per_value=2)  # batch 1, 4096 tokens
    sixteen = kv_cache_bytes(layers, 16, S_l, n_kv, D_l, bytes_per_value=2)
    per_token = kv_cache_bytes(layers, 1, 1, n_kv, D_l, bytes_per_value=2)
    proj = 2 * E_l * n_kv * D_l  # k_proj and v_proj weights: E -> H_kv·D each
    print(f"{n_kv:>4} {kind:>10} {per_token / 2**10:>6.0f} KiB {one / 2**30:>5.2f} GiB {sixteen / 2**30:>5.1f} GiB "
          f"{full / one:>7.0f}x {proj / 1e6:>15.1f} M")
ll70 = (kv_cache_bytes(80, 1, S_l, 8, 128), kv_cache_bytes(80, 1, S_l, 64, 128))
print(f"\nLlama-2-70B (80 layers, H = 64, H_kv = 8, D = 128), 4096 tokens: {ll70[0] / 2**30:.2f} GiB; "
      f"with H_kv = 64 it would be {ll70[1] / 2**30:.0f} GiB")

# %% [markdown]
# With ordinary multi-head attention, one 4096-token sequence needs 2 GiB of cache, and a batch of 16 such
# sequences 32 GiB. Eight key/value heads cut that by 4×
# to 0.50 GiB per sequence, one head by 32× to 0.06 GiB. For the 70B model, grouping is the difference between 1.25
# GiB and 10 GiB per 4096-token sequence. The key and value projections shrink in the same proportion (the last
# column), so GQA also has fewer parameters.
#
# What it does **not** save: the attention compute ($QK^\top$ and weights·$V$) is unchanged, since every one of the
# $H$ query heads still attends over all $S$ keys; only the key/value projections do less work. And fewer key/value
# heads can cost some quality. Ainslie et al. found that grouped-query attention with a few groups comes close to
# multi-head quality at close to multi-query speed, and that an existing multi-head checkpoint can be converted
# ("uptrained") with about 5% of its original pre-training compute.

# %% [markdown]
# ## 8. Dropout on the attention weights (core)
#
# Dropout (Srivastava et al. 2014) fights overfitting: in training, each number is set to zero with probability $p$,
# so the network cannot come to rely on any single one. In attention it is applied to the **weights**, after the
# softmax and before they multiply the values, so each query's average leaves out a random few of its keys:
#
# $$\text{out} = \mathrm{dropout}_p\!\left(\mathrm{softmax}\!\left(\frac{q k^\top}{\sqrt{D}}\right)\right) v .$$
#
# Vaswani et al. (2017, section 5.4) describe dropout only on the output of each sub-layer (the parts of the block of
# notebook 08) and on the embeddings; GPT (Radford et al. 2018, section 4.1) lists "residual, embedding, and attention
# dropouts". `nn.MultiheadAttention(..., dropout=p)`, `F.scaled_dot_product_attention(..., dropout_p=p)` and the
# course's `MultiHeadAttention(..., dropout=p)` all drop the weights at this place.
#
# **The kept weights are divided by $1 - p$.** A weight survives with probability $1 - p$, so after the division its
# expected value is $(1 - p) \cdot w / (1 - p) = w$; the output is linear in the weights, so its expected value is the
# undropped output. Switching dropout off in evaluation thus gives the network the average of what it saw in
# training. One draw by hand, with the mask from a seeded generator:

# %%
g_drop = torch.Generator().manual_seed(8)
p_drop, S_d = 0.25, 6
w_row = softmax(torch.randn(S_d, generator=g_drop, dtype=torch.float64), dim=-1)  # (S,): one query's weights
kept = torch.rand(S_d, generator=g_drop, dtype=torch.float64) >= p_drop  # (S,): each key kept with probability 1 - p
dropped = torch.where(kept, w_row / (1 - p_drop), 0.0)  # (S,): the survivors scaled up by 1 / (1 - p)
print("weights:", w_row.numpy(), "  sum", round(w_row.sum().item(), 4))
print("kept:   ", kept.int().numpy())
print("dropped:", dropped.numpy(), "  sum", round(dropped.sum().item(), 4))

# %% [markdown]
# After dropout a row no longer sums to 1. That is expected: the division fixes the sum only on average. Averaging
# many independent draws shows it, and shows what the division is for:

# %%
masks = torch.rand(100_000, S_d, generator=g_drop, dtype=torch.float64) >= p_drop  # (n, S): one mask per draw
draws = torch.where(masks, w_row / (1 - p_drop), 0.0)  # (n, S): each draw's dropped weights
for n in (10, 100, 1_000, 10_000, 100_000):
    gap = (draws[:n].mean(dim=0) - w_row).abs().max().item()
    print(f"mean of {n:>7,} draws: largest gap to the undropped weights {gap:.4f}")
print("mean of 100,000 draws:     ", draws.mean(dim=0).numpy())
print("the same without 1/(1 - p):", torch.where(masks, w_row, 0.0).mean(dim=0).numpy())

# %% [markdown]
# The mean approaches the undropped weights (the gap shrinks roughly like $1/\sqrt{n}$); without the division it would
# approach $(1 - p) = 0.75$ times them, and the outputs would be a quarter smaller in training than in evaluation.
#
# **Training or evaluation.** Every module has a flag, `module.training`: `module.train()` sets it and `module.eval()`
# clears it, for the module and all its children. A new module starts in training mode. The package's forward reads
# it (`dropout = self.dropout if self.training else 0.0`), so in evaluation dropout is the identity:

# %%
torch.manual_seed(80)  # for the initial weights and the dropout masks drawn below
g_dm = torch.Generator().manual_seed(80)
drop_mha = MultiHeadAttention(24, 4, dropout=0.25)  # E = 24, H = 4, D = 6, p = 0.25
no_drop = MultiHeadAttention(24, 4)  # dropout 0 ...
no_drop.load_state_dict(drop_mha.state_dict())  # ... with the same weights
x_d = torch.randn(2, 3, 24, generator=g_dm)  # (B, L, E)
mem_d = torch.randn(2, 5, 24, generator=g_dm)  # (B, S, E)
with torch.no_grad():
    print("a new module is in training mode:", drop_mha.training)
    out_a, out_b = drop_mha(x_d, mem_d, mem_d)[0], drop_mha(x_d, mem_d, mem_d)[0]  # two calls, two dropout masks
    print("train(): two calls give the same output:", torch.equal(out_a, out_b))
    drop_mha.eval()
    out_eval = drop_mha(x_d, mem_d, mem_d)[0]
    print("eval():  two calls give the same output:", torch.equal(out_eval, drop_mha(x_d, mem_d, mem_d)[0]),
          "  the same as without dropout:", torch.equal(out_eval, no_drop(x_d, mem_d, mem_d)[0]))

# %% [markdown]
# `nn.MultiheadAttention` lets us see where its dropout sits, because in training the weights it returns are the
# dropped ones (ours returns them before dropout, as the softmax computed them). Multiplying those returned weights by
# the values and applying `out_proj` gives its output exactly:

# %%
torch.manual_seed(81)  # for the initial weights and the dropout mask
ref_d = nn.MultiheadAttention(24, 4, dropout=0.25, batch_first=True)  # in training mode, like every new module
with torch.no_grad():
    out_tr, w_tr = ref_d(x_d, mem_d, mem_d, average_attn_weights=False)  # (B, L, E), (B, H, L, S) after dropout
    v_d = F.linear(mem_d, ref_d.in_proj_weight[48:], ref_d.in_proj_bias[48:])  # (B, S, E): the value projection
    v_d = v_d.view(2, 5, 4, 6).transpose(1, 2)  # (B, S, E) -> (B, S, H, D) -> (B, H, S, D)
    by_hand = ref_d.out_proj((w_tr @ v_d).transpose(1, 2).reshape(2, 3, 24))  # (B, H, L, D) -> (B, L, H, D) -> (B, L, E)
    ref_d.eval()
    _, w_ev = ref_d(x_d, mem_d, mem_d, average_attn_weights=False)  # (B, H, L, S), no dropout
survived = w_tr != 0  # (B, H, L, S): the weights that dropout kept
print("train: some weights are exactly 0:", bool((~survived).any()))
print("train: every kept weight = its eval weight / (1 - p):", torch.allclose(w_tr[survived], w_ev[survived] / 0.75))
print("train: output = out_proj(merge(returned weights @ v)):", torch.allclose(out_tr, by_hand, atol=1e-6))
ones = torch.ones(1)
print("rows sum to 1: train", torch.allclose(w_tr.sum(-1), ones), "  eval", torch.allclose(w_ev.sum(-1), ones))

# %% [markdown]
# **`F.scaled_dot_product_attention` has no training mode.** It is a function, not a module, so it drops weights
# whenever `dropout_p > 0`, in evaluation too. The caller must pass `dropout_p=0.0` at evaluation, which is what the
# package's line above does for its fast path; `nn.MultiheadAttention` does the same for you.

# %%
g_sd = torch.Generator().manual_seed(82)
q_sd = torch.randn(2, 4, 3, 6, generator=g_sd)  # (B, H, L, D)
k_sd = torch.randn(2, 4, 5, 6, generator=g_sd)  # (B, H, S, D)
v_sd = torch.randn(2, 4, 5, 6, generator=g_sd)  # (B, H, S, D)
torch.manual_seed(82)  # SDPA draws its masks from the global generator
first = F.scaled_dot_product_attention(q_sd, k_sd, v_sd, dropout_p=0.25)  # (B, H, L, D)
second = F.scaled_dot_product_attention(q_sd, k_sd, v_sd, dropout_p=0.25)  # the generator has moved on
torch.manual_seed(82)  # back to the state before `first`
again = F.scaled_dot_product_attention(q_sd, k_sd, v_sd, dropout_p=0.25)
# (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S); then (B, H, L, S) @ (B, H, S, D) -> (B, H, L, D)
no_dropout = softmax(q_sd @ k_sd.transpose(-2, -1) / math.sqrt(6), dim=-1) @ v_sd
print("dropout_p=0.25, called twice: the same output:", torch.equal(first, second))
print("dropout_p=0.25 after re-seeding with 82: the same output as the first call:", torch.equal(first, again))
print("dropout_p=0.0 equals attention without dropout:",
      torch.allclose(F.scaled_dot_product_attention(q_sd, k_sd, v_sd, dropout_p=0.0), no_dropout, atol=1e-6))

# %% [markdown]
# Two calls with `dropout_p=0.25` differ, even though no module is in training mode anywhere: each call draws a
# fresh dropout mask from PyTorch's global random generator, which the first call has moved on. Re-seeding the
# generator before a call repeats its mask exactly (notebook 12 shows how a fused kernel regenerates the mask instead
# of storing it).
#
# ## 9. Appendix: PyTorch's per-sentence masks (optional)
#
# To give `nn.MultiheadAttention` a different mask for each sentence, build its 3-D `(B·H, L, S)` mask with
# `(~mask).repeat_interleave(H, dim=0)`; `repeat` puts the masks in the wrong order and runs without an error.
#
# We reuse section 5's two sentences and its two modules. A 3-D mask `(B, L, S)` is the same for every head in our
# module. PyTorch wants a 3-D `attn_mask` of shape `(B·H, L, S)`, sentence-major: row $b \cdot H + h$ is sentence
# $b$, head $h$. So each sentence's mask must be repeated $H$ times *in place* with `repeat_interleave`; `repeat`
# tiles the whole batch instead and hands sentence 1's mask to some of sentence 0's heads (and the other way round).

# %%
per_sentence = ours_mask[:, 0]  # (B, L, S), True = may attend
# (B, L, S) -> (B·H, L, S), True = not allowed, in the order b0 h0, b0 h1, ..., b1 h0, ...
torch_right = (~per_sentence).repeat_interleave(ref_m.num_heads, dim=0)
torch_wrong = (~per_sentence).repeat(ref_m.num_heads, 1, 1)  # (B·H, L, S): b0, b1, b0, b1, ... the wrong order
with torch.no_grad():
    out_pb, _ = ours_m(x_m, x_m, x_m, attn_mask=per_sentence)
    out_right, _ = ref_m(x_m, x_m, x_m, attn_mask=torch_right)
    out_wrong, _ = ref_m(x_m, x_m, x_m, attn_mask=torch_wrong)
print("repeat_interleave: equal to ours:", torch.allclose(out_right, out_pb, atol=1e-5))
print("repeat:            equal to ours:", torch.allclose(out_wrong, out_pb, atol=1e-5))

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("split_heads")

# %% [markdown]
# ### Exercise 1: split into heads
#
# Write `my_split_heads(x, num_heads)`: `x` has shape `(B, L, E)`, and the result has shape `(B, H, L, D)` with
# $H$ = `num_heads` and $D = E / H$, where head $h$ holds columns $hD \dots (h+1)D - 1$ of every token. Try it
# without scrolling up, then predict what the checker says if you write `x.view(B, H, L, D)`.

# %% tags=["exercise"] keep_output=false
def my_split_heads(x, num_heads):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.split_heads(my_split_heads)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_split_heads(x, num_heads):
    B, L, E = x.shape
    D = E // num_heads
    return x.view(B, L, num_heads, D).transpose(1, 2)  # (B, L, E) -> (B, L, H, D) -> (B, H, L, D)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.split_heads(my_split_heads, record=False)

# %% [markdown]
# ### Exercise 2: merge the heads
#
# Write `my_merge_heads(x)`: `x` has shape `(B, H, L, D)` (a fresh tensor, as attention returns it), and the result
# has shape `(B, L, H·D)`, with head $h$'s numbers in columns $hD \dots (h+1)D - 1$ of each token: the inverse of
# exercise 1.

# %% tags=["exercise"] keep_output=false
def my_merge_heads(x):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.merge_heads(my_merge_heads)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_merge_heads(x):
    B, H, L, D = x.shape
    return x.transpose(1, 2).reshape(B, L, H * D)  # (B, H, L, D) -> (B, L, H, D) -> (B, L, E); reshape copies


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.merge_heads(my_merge_heads, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - explain why one head gives each token one weighted average, one question, and why $H$ heads with separate
#   outputs can answer $H$ questions without blending the answers;
# - split `(B, L, E)` into `(B, H, L, D)` with `view(B, L, H, D).transpose(1, 2)`, merge back with
#   `transpose(1, 2).reshape(B, L, E)`, and say why `view(B, H, L, D)` scrambles tokens and why `.view` fails after a
#   `transpose`;
# - scale each head's scores by $1/\sqrt{D}$ and predict the flattening that $1/\sqrt{E}$ causes (score spread
#   $1/\sqrt{H}$);
# - reproduce `nn.MultiheadAttention` with `MultiHeadAttention.from_torch`, for either layout, `kdim`/`vdim` and
#   biases, and use the fast `use_sdpa` path when you do not need the weights;
# - translate PyTorch's `attn_mask` and `key_padding_mask` (True = not allowed / ignore) into one True = may attend
#   mask;
# - read per-head attention maps, know that the average hides them, and tell a duplicate-token head from an
#   induction head;
# - compute what grouped-query and multi-query attention save with `kv_cache_bytes`;
# - say where attention dropout acts (on the weights, before $V$), why the kept weights are divided by $1 - p$, and
#   switch it off with `eval()` or, for `F.scaled_dot_product_attention`, with `dropout_p=0.0`.
#
# ## Common pitfalls
# - **`view(B, H, L, D)` without a transpose.** Right shape, scrambled content: each "head" gets a mix of tokens.
#   Split the last axis, `view(B, L, H, D)`, then `transpose(1, 2)`.
# - **`view(B, L, D, H)`.** Head $h$ owns a *contiguous* block of $D$ columns, so $H$ comes before $D$.
# - **Merging without transposing back.** `(B, H, L, D).reshape(B, L, E)` runs and mixes tokens; `transpose(1, 2)`
#   first.
# - **`.view` after `transpose`.** It raises, because the tensor is not contiguous; use `.reshape` or
#   `.contiguous().view`.
# - **Scaling by $1/\sqrt{E}$.** The dot product of a head runs over $D$ numbers; $1/\sqrt{E}$ makes every head's
#   scores $\sqrt{H}$ times too small, and its weights too flat.
# - **Inverted masks.** `nn.MultiheadAttention`'s boolean masks mean True = not allowed / ignore; ours and SDPA's
#   mean True = may attend. Its per-head `attn_mask` is `(B·H, L, S)` sentence-major: `repeat_interleave`, not `repeat`.
# - **Sequence-first inputs.** `nn.MultiheadAttention` expects `(L, B, E)` unless `batch_first=True`.
# - **Reading averaged weights as "the" attention.** `average_attn_weights=True` is the default and blurs the heads.
# - **GQA grouping.** Query head $h$ uses key/value head $h \,//\, (H / H_{kv})$: `repeat_interleave`, not `repeat`.
# - **Dropout at evaluation.** Forgetting `model.eval()` leaves dropout on, so outputs are random; and
#   `F.scaled_dot_product_attention(..., dropout_p=p)` drops even then: pass `dropout_p=0.0` when not training.
# - **Calling a copy a prediction.** A head that attends to an earlier copy of the current token (duplicate token)
#   returns that token; predicting what came after it takes an induction head, two layers deep.
#
# ## Further reading
# - A. Vaswani et al., [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762) (2017), section 3.2.2:
#   multi-head attention, $h = 8$ heads of $d_k = d_v = 64$.
# - N. Shazeer, [*Fast Transformer Decoding: One Write-Head is All You Need*](https://arxiv.org/abs/1911.02150)
#   (2019): multi-query attention and the memory bandwidth of decoding.
# - J. Ainslie et al., [*GQA: Training Generalized Multi-Query Transformer Models from Multi-Head
#   Checkpoints*](https://arxiv.org/abs/2305.13245) (2023): grouped-query attention and uptraining.
# - H. Touvron et al., [*Llama 2*](https://arxiv.org/abs/2307.09288) (2023): grouped-query attention in the 34B and
#   70B models.
# - PyTorch, [`torch.nn.MultiheadAttention`](https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html):
#   `batch_first`, `kdim`/`vdim`, `attn_mask` and `key_padding_mask` (True = not allowed), `average_attn_weights`.
# - PyTorch, [`torch.Tensor.view`](https://pytorch.org/docs/stable/generated/torch.Tensor.view.html): when a view is
#   possible, and contiguity.
# - A. Karpathy, [nanoGPT `model.py`](https://github.com/karpathy/nanoGPT/blob/master/model.py): `CausalSelfAttention`,
#   the split and merge of this notebook in four lines, with the manual and SDPA paths side by side.
# - K. Clark et al., [*What Does BERT Look At?*](https://arxiv.org/abs/1906.04341) (2019), and K. Wang et al.,
#   [*Interpretability in the Wild: a Circuit for Indirect Object Identification in GPT-2
#   small*](https://arxiv.org/abs/2211.00593) (2022): what trained heads do, duplicate-token heads among them.
# - N. Elhage et al., [*A Mathematical Framework for Transformer
#   Circuits*](https://transformer-circuits.pub/2021/framework/index.html) (2021), and C. Olsson et al.,
#   [*In-context Learning and Induction Heads*](https://arxiv.org/abs/2209.11895) (2022): induction heads, built
#   from a previous-token head and a head in a later layer.
# - N. Srivastava et al., [*Dropout: A Simple Way to Prevent Neural Networks from
#   Overfitting*](https://jmlr.org/papers/v15/srivastava14a.html) (JMLR 2014); A. Radford et al., [*Improving Language
#   Understanding by Generative
#   Pre-Training*](https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf)
#   (2018), section 4.1: attention dropout of 0.1.
# - T. Dao et al., [*FlashAttention: Fast and Memory-Efficient Exact Attention with
#   IO-Awareness*](https://arxiv.org/abs/2205.14135) (2022), appendix B: dropout inside a fused kernel, its mask
#   regenerated from the generator's state.
# - P. Michel et al., [*Are Sixteen Heads Really Better than One?*](https://arxiv.org/abs/1905.10650) (2019): many
#   heads of a trained model can be removed at test time with little loss.
