# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 04 · Scaled dot-product attention and masks
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/04_scaled_dot_product_attention_and_masks.ipynb)
#
# Notebook 03 built attention one query at a time: score every key, turn the scores into weights with softmax,
# average the values. A real model does this for thousands of queries, for a batch of sentences, in several heads
# at once, and it must stop some queries from looking at some keys: the padding that fills a short sentence up to
# the length of the batch, or, in a language model, the words that come later. This notebook writes all of it as
# one line of matrix algebra, $\mathrm{softmax}(QK^\top/\sqrt{D})\,V$, measures why the $\sqrt{D}$ is there, and
# builds the masks, including the places where libraries disagree about what `True` means. That last part is
# where many real bugs hide: a mask with the wrong sign runs without error and silently trains a worse model.
#
# **Learning goals.** After this notebook you can
# - **write** scaled dot-product attention for any batch and head axes and predict every intermediate shape;
# - **explain**, with a measurement, why the scores are divided by $\sqrt{D}$, $D$ being the width of queries and keys;
# - **build** padding and causal masks, combine them, and apply them before softmax;
# - **estimate** how the time and memory of attention grow with $L \cdot S$;
# - **translate** masks between `attn_course`, PyTorch, Hugging Face and JAX conventions (optional section 7).
#
# **Prerequisites.** Notebooks 01 (dot products as scores), 02 (softmax; its stable `softmax` is reused here)
# and 03 (queries, keys and values).
#
# **Time.** About 60 minutes of study.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from attn_course import causal_mask, device, padding_mask, plot_attention, scaled_dot_product_attention, set_seed, softmax
from attn_course.exercises import masking as check

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# Every tensor in this notebook is small, so everything runs on the CPU; `DEVICE` starts to matter in
# notebook 11, where attention moves to a GPU.
#
# ## 1. All queries at once: attention as three matrix products (core)
#
# In notebook 03 one query $q$ looked up a table of $S$ keys and values: score key $j$ by $q \cdot k_j$, turn the
# $S$ scores into weights with softmax, and return the weighted average of the values. With $L$ queries we could
# loop, but there is no need. Stack the queries as the rows of a matrix $Q$ of shape $(L, D)$, the keys as the rows
# of $K$ of shape $(S, D)$ and the values as the rows of $V$ of shape $(S, E_v)$. Then every score is an entry of
# one matrix product:
#
# $$(QK^\top)_{ij} = q_i \cdot k_j, \qquad QK^\top \text{ has shape } (L, S).$$
#
# Softmax along each row (over the keys) gives one probability distribution per query, and one more matrix product
# averages the values:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{D}}\right) V
# \qquad (L, S) \cdot (S, E_v) \to (L, E_v).$$
#
# Queries and keys must share a width, $D$ (they meet in a dot product); values may have any width $E_v$. In a
# model, queries and keys are computed from token vectors of the model width $E$. With one head and no projection
# they *are* those vectors, so $D = E$, as in notebooks 01–03; notebook 07 splits $E$ into $H$ heads of width
# $D = E/H$ each. We pick four different sizes, so that a mixed-up axis shows up as a shape error instead of
# hiding.

# %%
L, S, D, Ev = 3, 5, 4, 6  # 3 queries, 5 keys, query/key width 4, value width 6
q = torch.randn(L, D)
k = torch.randn(S, D)
v = torch.randn(S, Ev)
print("q", tuple(q.shape), "  k", tuple(k.shape), "  v", tuple(v.shape))

# %% [markdown]
# **Step 1, scores.** One matrix product computes all $L \cdot S = 15$ dot products.

# %%
scores = q @ k.T  # (L, D) @ (D, S) -> (L, S): scores[i, j] = q_i · k_j
print("scores", tuple(scores.shape))
print(scores)
print("scores[1, 3] =", round(float(scores[1, 3]), 4), "  q[1] · k[3] =", round(float(q[1] @ k[3]), 4))

# %% [markdown]
# **Step 2, scale and softmax.** Divide by $\sqrt{D} = 2$ (section 3 explains why), then apply notebook 02's
# softmax along the last axis, the keys. Each row is now one query's weights over the five keys and sums to 1.

# %%
weights = softmax(scores / math.sqrt(D), dim=-1)  # (L, S): one distribution over the keys per query
print(weights)
print("row sums:", weights.sum(dim=-1))

# %% [markdown]
# **Step 3, average the values.** Row $i$ of `weights @ v` is $\sum_j w_{ij} v_j$, query $i$'s weighted
# average of the value rows: exactly the pooling of notebook 03, for all queries at once.

# %%
out = weights @ v  # (L, S) @ (S, Ev) -> (L, Ev)
print("out", tuple(out.shape))
print(out)
by_hand = sum(weights[1, j] * v[j] for j in range(S))  # (Ev,): query 1's average, one key at a time
print("row 1 equals the loop over keys:", torch.allclose(out[1], by_hand))

# %% [markdown]
# ## 2. Batches and heads: the same line with more leading axes (core)
#
# A model processes a batch of $B$ sentences, and (notebook 07) each sentence in $H$ heads. We do not need new code
# for that: `torch.matmul` (the `@` operator) multiplies the **last two** axes as matrices and treats every axis in
# front of them as a batch axis, broadcasting them like an elementwise operation. So `(B, L, D) @ (B, D, S)` is $B$
# independent matrix products. The one change is the transpose: `k.T` would reverse *all* axes, so we swap only the
# last two with `k.transpose(-2, -1)` (`k.mT` is a short name for the same thing).

# %%
B = 2
qb, kb, vb = torch.randn(B, L, D), torch.randn(B, S, D), torch.randn(B, S, Ev)
scores_b = qb @ kb.transpose(-2, -1)  # (B, L, D) @ (B, D, S) -> (B, L, S)
out_b = softmax(scores_b / math.sqrt(D), dim=-1) @ vb  # (B, L, S) @ (B, S, Ev) -> (B, L, Ev)
print("scores", tuple(scores_b.shape), "  out", tuple(out_b.shape))

# the batched line does the same as a Python loop over the sentences
each = torch.stack([softmax(qb[b] @ kb[b].T / math.sqrt(D), dim=-1) @ vb[b] for b in range(B)])  # (B, L, Ev)
print("batched equals one sentence at a time:", torch.allclose(out_b, each))

# %% [markdown]
# With heads there is one more leading axis, `(B, H, L, D)`, and the code does not change. Broadcasting also lets
# the axes differ when one of them is 1: below, all $H$ query heads share one key head of shape `(B, 1, S, D)`.
# (Sharing keys and values across heads is a real design, *multi-query attention* (Shazeer, 2019), that saves
# memory when generating text.)

# %%
H = 8
qh, kh, vh = torch.randn(B, H, L, D), torch.randn(B, H, S, D), torch.randn(B, H, S, Ev)
scores_h = qh @ kh.transpose(-2, -1)  # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
out_h = softmax(scores_h / math.sqrt(D), dim=-1) @ vh  # (B, H, L, S) @ (B, H, S, Ev) -> (B, H, L, Ev)
print("heads: scores", tuple(scores_h.shape), "  out", tuple(out_h.shape))

k_shared = torch.randn(B, 1, S, D)  # one key head for all H query heads
scores_shared = qh @ k_shared.transpose(-2, -1)  # (B, H, L, D) @ (B, 1, D, S) -> (B, H, L, S)
print("shared keys: scores", tuple(scores_shared.shape))

# %% [markdown]
# Here is the whole derivation as a function. `...` in the shape comments stands for any leading axes: none, a
# batch, or a batch and heads. It returns the weights as well, because we want to look at them.

# %%
def attention(q, k, v):
    """softmax(q kᵀ / sqrt(D)) v over any leading axes; returns (output, weights)."""
    D = q.shape[-1]  # the width of queries and keys
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # (..., L, D) @ (..., D, S) -> (..., L, S)
    weights = softmax(scores, dim=-1)  # (..., L, S): each query's weights over the keys
    return weights @ v, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


for qq, kk, vv in ((q, k, v), (qb, kb, vb), (qh, kh, vh)):
    o, w = attention(qq, kk, vv)
    print(f"q {tuple(qq.shape)}, k {tuple(kk.shape)}, v {tuple(vv.shape)} -> out {tuple(o.shape)}, weights {tuple(w.shape)}")
print("matches step by step:", torch.allclose(attention(q, k, v)[0], out))

# %% [markdown]
# ## 3. Why divide by $\sqrt{D}$ (core)
#
# **Intuition.** A dot product of two vectors of width $D$ is a sum of $D$ products, one per coordinate. The wider
# the vectors, the more terms, and the larger the typical score. Softmax turns differences of scores into *ratios*
# of weights through $e^x$, so large scores make one weight swallow all the others.
#
# **Algebra.** Take a query and a key, independent of each other, whose entries are independent with mean 0 and
# variance 1. Each term $q_i k_i$ has mean 0 and variance $\mathbb{E}[q_i^2]\,\mathbb{E}[k_i^2] = 1$, and the $D$
# terms are independent, so
#
# $$\mathrm{Var}(q \cdot k) = \sum_{i=1}^{D} \mathrm{Var}(q_i k_i) = D, \qquad
# \mathrm{Var}\!\left(\frac{q \cdot k}{\sqrt{D}}\right) = 1.$$
#
# Dividing by $\sqrt{D}$, the standard deviation, brings the scores back to variance 1 for every width. Let us
# measure it with 5000 random query–key pairs per width (in float64, so that the printed digits are the same on
# every machine; a private generator makes them independent of the cells above).

# %%
g = torch.Generator().manual_seed(4)
widths = [4, 8, 16, 32, 64, 128, 256, 512, 1024]  # values of D
var_raw, var_scaled = [], []
print(f"{'D':>5} {'var(q·k)':>9} {'std(q·k)':>9} {'var(q·k/√D)':>12}")
for width in widths:
    a = torch.randn(5000, width, generator=g, dtype=torch.float64)  # 5000 queries with unit-variance entries
    b = torch.randn(5000, width, generator=g, dtype=torch.float64)  # 5000 keys
    dots = (a * b).sum(dim=-1)  # (5000,): one dot product per pair
    var_raw.append(dots.var().item())
    var_scaled.append((dots / math.sqrt(width)).var().item())
    print(f"{width:>5} {var_raw[-1]:>9.1f} {math.sqrt(var_raw[-1]):>9.1f} {var_scaled[-1]:>12.2f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 4))
ax.loglog(widths, widths, "k--", label="var = D (theory)")
ax.loglog(widths, var_raw, "o", label="measured var(q·k)")
ax.loglog(widths, var_scaled, "s", label="measured var(q·k / √D)")
ax.set_xscale("log", base=2)
ax.set_xlabel("width D of queries and keys")
ax.set_ylabel("variance of the score")
ax.set_title("Dot products of unit-variance vectors have variance D")
ax.legend()
plt.show()

# %% [markdown]
# The circles sit on the dashed line $\mathrm{var} = D$ at every width, and the squares stay at 1. Without the
# scale the typical size of a score, its standard deviation, grows like $\sqrt{D}$: about 32 at $D = 1024$.
#
# **What wide scores do to softmax.** When the differences between scores are tens of units, $e^{x}$ gives the
# largest score nearly all the weight: the softmax *saturates* into an almost one-hot vector. That is bad twice
# over. The query no longer averages anything, it just copies one value. And it stops learning: notebook 02
# (section 7) showed that the derivative $\partial p_i / \partial s_j = p_i(\delta_{ij} - p_j)$ vanishes when $p$
# is one-hot, so almost no gradient passes from the weights to the scores.
#
# Here is that effect at scale. For each width $D$ we draw $R = 1000$ random queries, each with its own 16 random
# keys, and compare the raw scores $q \cdot k$ with the scaled $q \cdot k / \sqrt{D}$ on three measures:
# - the **largest weight** of each row (1/16 = 0.0625 for uniform weights, 1 for one-hot);
# - the **entropy** of each row, $-\sum_j p_j \log p_j$ ($\log 16 \approx 2.77$ nats for uniform, 0 for one-hot);
# - the **gradient norm** that reaches the query, $\lVert \partial \ell / \partial q \rVert$, for a random
#   gradient $\partial \ell / \partial p$ arriving at the weights. We report the median over the rows: the few rows
#   where two keys happen to tie keep some gradient, and would dominate a mean.

# %%
g = torch.Generator().manual_seed(5)
dims, n_keys, R = [4, 16, 64, 256, 1024], 16, 1000  # widths D; R rows: one query and its own keys per row
stats = {"raw": [], "scaled": []}  # per width: (mean max weight, mean entropy, median gradient norm)
for width in dims:
    qd = torch.randn(R, 1, width, generator=g, dtype=torch.float64)  # (R, 1, D): one query per row
    kd = torch.randn(R, n_keys, width, generator=g, dtype=torch.float64)  # (R, 16, D): its own 16 keys
    upstream = torch.randn(R, 1, n_keys, generator=g, dtype=torch.float64)  # (R, 1, 16): a random dℓ/dp
    for name, scale in (("raw", 1.0), ("scaled", 1 / math.sqrt(width))):
        qg = qd.clone().requires_grad_()
        p = softmax(qg @ kd.transpose(-2, -1) * scale, dim=-1)  # (R, 1, D) @ (R, D, 16) -> (R, 1, 16)
        (p * upstream).sum().backward()  # fills qg.grad with dℓ/dq, (R, 1, D)
        entropy = -torch.special.xlogy(p, p).sum(dim=-1)  # (R, 1), in nats; 0 · log 0 counts as 0
        stats[name].append((p.amax(dim=-1).mean().item(), entropy.mean().item(),
                            qg.grad.norm(dim=-1).median().item()))

print(f"{'D':>5} | {'max weight':^17} | {'entropy (nats)':^17} | {'median |dℓ/dq|':^19}")
print(f"{'':>5} | {'raw':>8} {'scaled':>8} | {'raw':>8} {'scaled':>8} | {'raw':>9} {'scaled':>9}")
for width, (m0, h0, g0), (m1, h1, g1) in zip(dims, stats["raw"], stats["scaled"]):
    print(f"{width:>5} | {m0:>8.3f} {m1:>8.3f} | {h0:>8.3f} {h1:>8.3f} | {g0:>9.2e} {g1:>9.2e}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for name, style in (("raw", "o-"), ("scaled", "s-")):
    label = "q·k (raw)" if name == "raw" else "q·k / √D (scaled)"
    for ax, column in zip(axes, range(3)):
        ax.plot(dims, [row[column] for row in stats[name]], style, label=label)
axes[0].axhline(1 / n_keys, color="gray", ls=":", label="uniform (1/16)")
axes[1].axhline(math.log(n_keys), color="gray", ls=":", label="uniform (log 16)")
axes[2].set_yscale("log")
titles = ("Largest weight per row", "Entropy of each row", "Gradient reaching the query")
ylabels = ("mean of max weight", "mean entropy (nats)", "median of |dℓ/dq|")
for ax, title, ylabel in zip(axes, titles, ylabels):
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width D of queries and keys")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
fig.suptitle("Without 1/√D, softmax saturates as D grows; with it, nothing depends on D")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the three panels left to right. Without the scale (circles), the largest weight climbs towards 1 and the
# entropy falls towards 0 as $D$ grows: at $D = 1024$ a typical row is nearly one-hot. The gradient that reaches
# the query first grows a little (bigger scores make the output more sensitive to $q$), then collapses as the
# softmax saturates: from $D = 64$ to $D = 1024$ the median falls by a factor of about a thousand, so such a model
# would barely learn which keys to attend to. With the scale (squares) all three measures are flat: the softmax
# sees scores of the same spread whatever the width. (Flat does not mean uniform: a largest weight near 0.24 is
# well above 1/16, so the scaled softmax still prefers some keys, and training will sharpen that where it helps.)
# That is the whole reason for the "scaled" in scaled dot-product attention; Vaswani et al. (2017) give the same
# variance argument in a footnote.
#
# ## 4. Masks: who may attend to whom (core)
#
# Attention lets every query look at every key. Two situations need less:
# 1. **Padding.** Sentences in a batch have different lengths, but a tensor is a rectangle, so short sentences are
#    filled up with a `<pad>` token. Pads are not words; no query should take information from them.
# 2. **Causality.** A language model predicts token $t+1$ from tokens $0..t$. If position $t$ could attend to later
#    positions, training would let it read the answer. It may attend to itself: token $t$ is its input, and its
#    answer is token $t+1$.
#
# A **mask** says, for every pair (query $i$, key $j$), whether $i$ may attend to $j$. In `attn_course` a mask is
# boolean and **True means "may attend"**, the same as `torch.nn.functional.scaled_dot_product_attention`.
# Section 7 (optional) shows libraries that use the opposite.
#
# ### 4.1 Padding masks
#
# A batch of three sentences of lengths 6, 2 and 3, padded to length 6:

# %%
sentences = ["the cat sat on the mat".split(), "dogs bark".split(), "a bird sang".split()]
lengths = [len(s) for s in sentences]
S_max = max(lengths)
padded = [s + ["<pad>"] * (S_max - len(s)) for s in sentences]
for row in padded:
    print(" ".join(f"{t:>5}" for t in row))

keep = padding_mask(lengths)  # (B, S): True at real tokens
print("\nlengths", lengths, "-> padding_mask", tuple(keep.shape))
print(keep)

# %% [markdown]
# `padding_mask` says which **keys** are real, one row per sentence. The scores have a query axis as well, so the
# mask needs a new axis of size 1 where the queries are; broadcasting then copies it to every query (every query
# of a sentence ignores the same pads). With heads, one more axis of size 1 copies it to every head.

# %%
B_s, H_s = len(sentences), 4
over_queries = keep[:, None, :]  # (B, 1, S)
over_heads = keep[:, None, None, :]  # (B, 1, 1, S)
print(f"{'mask':23}{str(tuple(keep.shape)):14}")
print(f"{'mask[:, None, :]':23}{str(tuple(over_queries.shape)):14}-> "
      f"{tuple(torch.broadcast_shapes(over_queries.shape, (B_s, S_max, S_max)))}  (B, L, S)")
print(f"{'mask[:, None, None, :]':23}{str(tuple(over_heads.shape)):14}-> "
      f"{tuple(torch.broadcast_shapes(over_heads.shape, (B_s, H_s, S_max, S_max)))}  (B, H, L, S)")

# %% [markdown]
# To watch masks at work we need queries, keys and values for these tokens. We give each word a random vector and
# make the queries, keys and values random linear maps of it: stand-ins for the learned projections of notebook 06.
# With one head the maps keep the width, so queries and keys have $D = E = 8$. For now each sentence attends to
# itself (self-attention), so $L = S = 6$.

# %%
E_tok = 8  # model width E
D_tok = E_tok  # one head, no split: queries and keys keep the model width, D = E
vocab = sorted({t for row in padded for t in row})
table = torch.randn(len(vocab), E_tok)  # one random vector per word, <pad> included
x = table[torch.tensor([[vocab.index(t) for t in row] for row in padded])]  # (B, S, E)
W_q, W_k, W_v = (torch.randn(E_tok, D_tok) / math.sqrt(E_tok) for _ in range(3))
q_tok, k_tok, v_tok = x @ W_q, x @ W_k, x @ W_v  # (B, S, E) @ (E, D) -> (B, S, D), each
print("x", tuple(x.shape), " q, k, v", tuple(q_tok.shape))

# %% [markdown]
# ### 4.2 Mask before softmax, with $-\infty$
#
# Take the short sentence "dogs bark" (index 1). Without a mask its two words also attend to the four pads, which
# carry no meaning. There are three tempting ways to mask, and only one is right:
# - **fill the blocked scores with 0** before softmax: but 0 is an ordinary score, and $e^0 = 1$, so pads still get
#   weight;
# - **zero the blocked weights after softmax**: the pads get nothing, but the remaining weights no longer sum to 1,
#   so the output is a shrunken average (dividing by the new row sum repairs it, at the cost of an extra pass);
# - **fill the blocked scores with $-\infty$** before softmax: $e^{-\infty} = 0$ exactly, so blocked keys get zero
#   weight *and* softmax normalises over the allowed keys only.

# %%
s1 = q_tok[1] @ k_tok[1].T / math.sqrt(D_tok)  # (L, D) @ (D, S) -> (L, S): sentence 1's scores
allowed = keep[1][None, :]  # (1, S): the same keys for every query
variants = {
    "no mask": softmax(s1, dim=-1),
    "scores filled with 0": softmax(s1.masked_fill(~allowed, 0.0), dim=-1),
    "weights zeroed after softmax": softmax(s1, dim=-1) * allowed,
    "scores filled with -inf": softmax(s1.masked_fill(~allowed, float("-inf")), dim=-1),
}
n_pads = S_max - lengths[1]
print(f'"dogs bark" has {lengths[1]} real tokens and {n_pads} pads\n')
print(f"{'':30}{f'total weight on the {n_pads} pads':^26}{'row sum':^20}")
print(f"{'':30}{'query dogs':>13}{'query bark':>13}{'dogs':>10}{'bark':>10}")
for name, w in variants.items():
    on_pads = w[:2, 2:].sum(dim=-1)  # (2,): the real queries' weight on keys 2..5, the pads
    row_sums = w[:2].sum(dim=-1)  # (2,)
    print(f"{name:30}{on_pads[0]:>13.4f}{on_pads[1]:>13.4f}{row_sums[0]:>10.4f}{row_sums[1]:>10.4f}")

# %% [markdown]
# Without a mask the four pads take 0.92 of the weight of "dogs" and 0.14 of "bark": most of the output of "dogs"
# is made of the pads' values. Filling with 0 is no cure: the pads still get 0.81 and 0.23 (more than before, for
# "bark"). Only the $-\infty$ version gives zero weight to the pads *and* rows that sum to 1. It also has the
# property that makes padding harmless: the weights over the real keys are those of the unpadded sentence on its
# own, up to float32 rounding.

# %%
alone = softmax(q_tok[1, :2] @ k_tok[1, :2].T / math.sqrt(D_tok), dim=-1)  # (2, 2): no padding at all
print("padded and masked, real rows and columns:\n", variants["scores filled with -inf"][:2, :2])
print("unpadded sentence:\n", alone)
print("equal:", torch.allclose(variants["scores filled with -inf"][:2, :2], alone))

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))
for ax, (name, w) in zip(axes.flat, variants.items()):
    plot_attention(w, padded[1], padded[1], ax=ax, title=name)
fig.suptitle('"dogs bark" padded to 6 tokens: four ways to (not) mask')
fig.tight_layout()
plt.show()

# %% [markdown]
# In the bottom-right panel the pad columns are exactly 0 and each of the first two rows sums to 1. With 0-filled
# scores (top right) the pads keep a share of the weight; zeroing after softmax (bottom left) leaves the real
# weights as they were, so rows sum to less than 1. The last four rows of every panel belong to the four `<pad>`
# *queries*: a padding mask on the keys does not stop pads from asking, but nothing downstream uses their answers.
#
# Why $-\infty$ and not just a very negative number such as $-10^9$? In float32 both give a weight of exactly 0, but
# $-10^9$ does not fit in float16 (largest magnitude 65504): `masked_fill` refuses it with an overflow error, and
# a float16 cast silently turns it into $-\infty$ anyway. Hugging Face uses the most negative finite number of the
# dtype, `torch.finfo(dtype).min`, which fits every dtype; section 8 (optional) shows what $-\infty$ costs when a
# row has no allowed key at all.
#
# ### 4.3 Boolean and additive masks, in one function
#
# A mask can also be a **float** tensor that is *added* to the scores: 0 where attending is allowed, $-\infty$
# where it is not. Adding $-\infty$ and filling with $-\infty$ give the same scores. Float masks can do more: any
# finite value is a bias that makes a key more or less attractive; notebook 06 adds ALiBi and T5's relative-position
# biases as float masks of this kind. Here is the derivation with masks, version 2 of our function:

# %%
def masked_attention(q, k, v, mask=None):
    """softmax(q kᵀ / sqrt(D), masked) v; mask: bool (True = may attend) or float (added), broadcast to (..., L, S)."""
    D = q.shape[-1]  # the width of queries and keys
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # (..., L, D) @ (..., D, S) -> (..., L, S)
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))  # blocked keys: e^-inf = 0, before softmax
    elif mask is not None:
        scores = scores + mask  # float mask: 0 keeps a key, -inf blocks it, anything else biases it
    weights = softmax(scores, dim=-1)  # (..., L, S); notebook 02's softmax turns a row of only -inf into zeros
    return weights @ v, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


additive = torch.zeros(keep.shape).masked_fill(~keep, float("-inf"))  # (B, S): 0 = attend, -inf = blocked
print(additive)
out_bool, w_bool = masked_attention(q_tok, k_tok, v_tok, keep[:, None, :])  # mask (B, 1, S) over (B, L, S)
out_float, w_float = masked_attention(q_tok, k_tok, v_tok, additive[:, None, :])
print("out", tuple(out_bool.shape), " weights", tuple(w_bool.shape))
print("boolean and additive masks agree:", torch.allclose(out_bool, out_float))

# %% [markdown]
# ### 4.4 Causal masks
#
# In a language model, position $i$ may attend to positions $j \le i$: itself and the past. That is the lower
# triangle of an $L \times L$ matrix, diagonal included, and `causal_mask(L)` builds it.

# %%
print(causal_mask(5).int())  # .int() prints 1/0, which is easier to read than True/False

# %% [markdown]
# A decoder trained on a padded batch needs both masks at once: query $i$ may attend to key $j$ if $j \le i$ **and**
# $j$ is a real token. Combining boolean masks is `&`, and broadcasting lines the axes up:
# `(1, L, S) & (B, 1, S) -> (B, L, S)`.

# %%
both = causal_mask(S_max)[None, :, :] & keep[:, None, :]  # (1, L, S) & (B, 1, S) -> (B, L, S)
print("causal & padding", tuple(both.shape))
print(both[2].int())  # "a bird sang": causal inside the sentence, nothing from the pads
out_c, w_c = masked_attention(q_tok, k_tok, v_tok, both)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for b, ax in enumerate(axes):
    plot_attention(w_c[b], padded[b], padded[b], ax=ax, title=" ".join(sentences[b]))
fig.suptitle("Causal and padding masks together: every weight above the diagonal or on a pad is 0")
fig.tight_layout()
plt.show()

# %% [markdown]
# Every row is a distribution over the tokens up to and including its own position: the first token can only
# attend to itself (weight 1.00), and no weight ever falls on a later token or on a pad column.
#
# **When $L \ne S$: which corner does the diagonal start from?** `causal_mask(L, S)` follows PyTorch's
# `is_causal=True`: **top-left** alignment, query $i$ sees keys $0..i$. That fits when the queries are the *first*
# $L$ positions of the sequence. When text is generated with a cache, it is the other way round: the keys and values
# of the $S$ tokens so far are stored, and the $L$ new queries are the *last* $L$ positions, $S-L, \dots, S-1$.
# Query $i$ then sees keys $0..S-L+i$: the diagonal starts at the **bottom-right** corner. FlashAttention (since
# version 2.1) uses this alignment, and PyTorch provides it as `torch.nn.attention.bias.causal_lower_right`.
# Bottom-right is a lower triangle shifted right by $S - L$:

# %%
words = "the cat sat on the mat".split()
L_new, S_all = 3, 6  # the last three words are the new queries; all six are in the cache
top_left = causal_mask(L_new, S_all)  # (L, S): query i sees keys 0..i
bottom_right = torch.ones(L_new, S_all, dtype=torch.bool).tril(diagonal=S_all - L_new)  # query i sees 0..S-L+i
print("same as causal_mask(L, S, align='bottom-right'):",
      torch.equal(bottom_right, causal_mask(L_new, S_all, align="bottom-right")))
print("top-left (is_causal):\n", top_left.int())
print("bottom-right (decoding with a cache):\n", bottom_right.int())

q_new, k_all, v_all = q_tok[0, 3:], k_tok[0], v_tok[0]  # queries of "on the mat", keys and values of all six
o_tl, w_tl = masked_attention(q_new, k_all, v_all, top_left)  # (L, D), (L, S)
o_br, w_br = masked_attention(q_new, k_all, v_all, bottom_right)
print("top-left equals F.scaled_dot_product_attention(is_causal=True):",
      torch.allclose(o_tl, F.scaled_dot_product_attention(q_new, k_all, v_all, is_causal=True), atol=1e-6))
print("bottom-right equals PyTorch's causal_lower_right:", torch.allclose(
    o_br, F.scaled_dot_product_attention(q_new, k_all, v_all, attn_mask=causal_lower_right(L_new, S_all)), atol=1e-6))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
plot_attention(w_tl, words[3:], words, ax=axes[0], title="top-left (PyTorch is_causal, causal_mask(L, S))")
plot_attention(w_br, words[3:], words, ax=axes[1], title="bottom-right (FlashAttention, decoding)")
fig.suptitle("Causal masks when L = 3 queries meet S = 6 keys")
fig.tight_layout()
plt.show()

# %% [markdown]
# The same three queries, "on the mat", the last three words. With bottom-right alignment (right) "on" sees "the
# cat sat on", which is correct for a model that has already read those words. With top-left (left) "on" sees only
# "the": right for the first three positions of a sequence, wrong for the last three. Both are valid masks; the bug
# is using one where the other was meant. In this course `is_causal` and `causal_mask(L, S)` always mean top-left.
#
# ## 5. The package's version, checked against two references (core)
#
# Our `masked_attention` is the derivation; `attn_course.scaled_dot_product_attention` is the same computation
# with the interface of PyTorch's function: `attn_mask` (boolean True = may attend, or float added to the scores),
# `is_causal` (top-left `causal_mask(L, S)`), `scale` (defaults to $1/\sqrt{D}$, $D$ = `q.shape[-1]`) and
# `return_weights`. It also validates its inputs. We check all three against each other on fresh random inputs
# over shapes chosen to catch mistakes: $L \ne S$, a single query, an odd width, masks that broadcast over batch
# and heads, float masks, `is_causal` with $L \ne S$, and a fully masked row.
#
# **Tolerance.** The three compute in float32, which keeps about 7 significant digits (machine epsilon
# $1.2 \cdot 10^{-7}$). PyTorch may add the same numbers in another order (it has several kernels, some of which
# work block by block), which moves results by a few units of $10^{-7}$. An absolute tolerance of $10^{-5}$ leaves
# room for that and still catches every real bug: a missing scale or a misplaced mask changes outputs by $10^{-1}$.

# %%
g = torch.Generator().manual_seed(7)


def rand(*shape):
    return torch.randn(*shape, generator=g)


def random_mask(*shape):
    return torch.rand(*shape, generator=g) > 0.3  # True (may attend) with probability 0.7


float_mask = rand(3, 6).masked_fill(torch.tensor([[0, 1, 0, 0, 1, 0]] * 3, dtype=torch.bool), float("-inf"))
row_blocked = torch.ones(2, 1, 4, 5, dtype=torch.bool)
row_blocked[0, 0, 2] = False  # batch 0, query 2: every key blocked

# %% [markdown]
# Each case below runs three implementations on the same random inputs: our `masked_attention` (section 4.3), the
# package's function and PyTorch's.

# %%
cases = [  # (label, q shape, k shape, v shape, attn_mask, is_causal)
    ("L != S, no mask", (2, 3, 8), (2, 5, 8), (2, 5, 4), None, False),
    ("L = 1", (2, 1, 8), (2, 7, 8), (2, 7, 3), None, False),
    ("odd D = 5, Ev = 3", (4, 5), (6, 5), (6, 3), None, False),
    ("heads, padding mask (B, 1, 1, S)", (2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 7), padding_mask([5, 2])[:, None, None, :], False),
    ("heads, one (L, S) mask for all", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 9), random_mask(4, 5) | causal_mask(4, 5), False),
    ("float mask with biases and -inf", (2, 3, 7), (2, 6, 7), (2, 6, 4), float_mask, False),
    ("is_causal, L < S", (2, 3, 8), (2, 6, 8), (2, 6, 4), None, True),
    ("is_causal, L > S", (1, 2, 6, 8), (1, 2, 4, 8), (1, 2, 4, 5), None, True),
    ("a fully masked row", (2, 1, 4, 8), (2, 1, 5, 8), (2, 1, 5, 3), row_blocked, False),
]
for label, q_shape, k_shape, v_shape, mask, is_causal in cases:
    q_, k_, v_ = rand(*q_shape), rand(*k_shape), rand(*v_shape)
    L_, S_ = q_shape[-2], k_shape[-2]
    ours, ours_w = masked_attention(q_, k_, v_, causal_mask(L_, S_) if is_causal else mask)
    pkg, pkg_w = scaled_dot_product_attention(q_, k_, v_, attn_mask=mask, is_causal=is_causal, return_weights=True)
    ref = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=mask, is_causal=is_causal)
    torch.testing.assert_close(pkg, ours, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pkg_w, ours_w, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pkg, ref, atol=1e-5, rtol=1e-4)
    print(f"{label:34} out {str(tuple(pkg.shape)):14} ours = attn_course = PyTorch")
print("the blocked query (batch 0, query 2): ours", ours[0, 0, 2], "attn_course", pkg[0, 0, 2], "PyTorch", ref[0, 0, 2])

# %% [markdown]
# All nine cases agree, the fully masked row included: a query with no key it may attend to gets zeros in all
# three (section 8 explains why zeros and not NaN). From now on the course uses
# `attn_course.scaled_dot_product_attention`.
#
# The package checks its inputs at the boundary, so a wrong shape fails with a message that names the argument and
# both shapes, instead of a matmul error deep inside. Here the keys are 6 wide and the queries 8 wide.

# %% tags=["raises-exception"]
scaled_dot_product_attention(torch.randn(2, 3, 8), torch.randn(2, 5, 6), torch.randn(2, 5, 4))

# %% [markdown]
# ## 6. The cost: time and memory grow with $L \cdot S$ (core)
#
# The score matrix has one entry per (query, key) pair: $B \cdot H \cdot L \cdot S$ numbers, all stored at once
# before softmax. Computing it takes $L \cdot S \cdot D$ multiply-adds per head, and applying the weights another
# $L \cdot S \cdot E_v$. So for self-attention ($L = S$), doubling the sequence quadruples both time and memory.
# Below we time the package's function for $L = S$ from 64 to 1024 with $B = 1$, $H = 4$, $D = 64$ (the median of
# five runs, single thread). The times depend on your machine, so that cell's output is not compared.

# %%
B_t, H_t, D_t = 1, 4, 64
seq_lens = [64, 128, 256, 512, 1024]
times_ms, score_bytes = [], []
for n in seq_lens:
    q_, k_, v_ = (torch.randn(B_t, H_t, n, D_t) for _ in range(3))  # (B, H, L = S = n, D)
    with torch.no_grad():
        _, w_ = scaled_dot_product_attention(q_, k_, v_, return_weights=True)  # warm-up; weights (B, H, L, S)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            scaled_dot_product_attention(q_, k_, v_)
            runs.append(time.perf_counter() - start)
    times_ms.append(1000 * float(np.median(runs)))
    score_bytes.append(w_.numel() * w_.element_size())  # the (B, H, L, S) matrix, float32: 4 bytes a number

# %% tags=["nbval-ignore-output"]
print(f"{'L = S':>6} {'median time':>12} {'x previous':>11}")
for i, (n, t) in enumerate(zip(seq_lens, times_ms)):
    ratio = f"{t / times_ms[i - 1]:.1f}" if i else ""
    print(f"{n:>6} {t:>9.2f} ms {ratio:>11}")
growth = times_ms[-1] / times_ms[0]  # L = S = 1024 against 64: 16 times the length
print(f"\n16 times the length ({seq_lens[-1]} vs {seq_lens[0]}): {growth:.0f} times the time; L² predicts 16² = 256")

# %% [markdown]
# The memory is the same on every machine: the size of the score (and weight) matrix follows from its shape alone.

# %%
print(f"{'L = S':>6} {'B·H·L·S':>11} {'MiB (float32)':>14}")
for n, nbytes in zip(seq_lens, score_bytes):
    print(f"{n:>6} {nbytes // 4:>11,} {nbytes / 2**20:>14.2f}")
big = 8 * 16 * 8192 * 8192 * 4  # B = 8, H = 16, L = S = 8192, float32
print(f"\nB = 8, H = 16, L = S = 8192: {big / 2**30:.0f} GiB for one layer's scores")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
lens = np.array(seq_lens, dtype=float)
axes[0].loglog(lens, times_ms, "o-", label="measured (median of 5)")
mid = seq_lens.index(256)  # anchor the L² line at a mid-sized point: the largest is the noisiest
axes[0].loglog(lens, times_ms[mid] * (lens / lens[mid]) ** 2, "k--", label="∝ L² (slope 2), through L = 256")
axes[0].set_ylabel("time per call (ms)")
axes[0].set_title("Time of attention, L = S")
axes[1].loglog(lens, np.array(score_bytes) / 2**20, "s-", label="(B, H, L, S) float32")
axes[1].set_ylabel("size of the score matrix (MiB)")
axes[1].set_title("Memory of the score matrix")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length L = S")
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# On log-log axes a power law is a straight line, and $L^2$ has slope 2. The memory (right) follows it exactly. The
# time (left) follows it roughly: the $L^2$ law predicts $16^2 = 256$ times the time for 16 times the length (1024
# against 64), and the timing cell prints this machine's ratio. Between neighbouring sizes the ratio wobbles, and
# differs from machine to machine: at the short end fixed per-call costs (Python, starting each operation)
# dominate, and in the middle the matrix outgrows a CPU cache.
# Extrapolate: at 8192 tokens with 16 heads and a batch of 8, the scores of one layer alone need 32 GiB. This
# quadratic wall is what the rest of the course attacks: notebook 10 lets each query attend to a local window,
# notebook 11 measures attention on a GPU, and notebook 12 (FlashAttention) computes exactly the same result without
# ever storing the $(L, S)$ matrix.

# %% [markdown]
# ## 7. Mask conventions across libraries (optional)
#
# **Takeaway:** libraries disagree about what `True` means in a mask, and a mask passed with the opposite meaning
# raises no error: it silently attends to exactly the wrong keys. Read this section when you hand a mask to code
# outside this course.
#
# | where | argument | dtype | `True` / `1` means | shape |
# |---|---|---|---|---|
# | `attn_course` (this course) | `attn_mask` | bool, or float (added) | **may attend** | broadcasts to `(..., L, S)` |
# | `F.scaled_dot_product_attention` | `attn_mask` | bool, or float (added) | **may attend** | broadcasts to `(..., L, S)` |
# | `nn.MultiheadAttention`, `nn.Transformer*` | `key_padding_mask` | bool (float is added) | **ignore** (a pad) | `(B, S)` |
# | `nn.MultiheadAttention` | `attn_mask` | bool (float is added) | **not allowed** | `(L, S)` or `(B·H, L, S)` |
# | Hugging Face | `attention_mask` | int 0/1 | 1 = **attend** (real token), 0 = padding | `(B, S)`; made additive inside |
# | `jax.nn.dot_product_attention`, Flax `dot_product_attention` | `mask` | bool | **may attend** | broadcasts to `(B, H, L, S)` |
#
# In code, starting from our padding mask:

# %%
keep3 = padding_mask([3, 1, 4])  # ours: (B, S), True = may attend
sdpa_mask = keep3[:, None, None, :]  # F.scaled_dot_product_attention: same meaning, (B, 1, 1, S)
mha_key_padding_mask = ~keep3  # nn.MultiheadAttention: True = ignore this key
hf_attention_mask = keep3.long()  # Hugging Face: 1 = real token, 0 = padding
ours_from_hf = hf_attention_mask.bool()  # and back
# inside a Hugging Face model (get_extended_attention_mask): (1 - mask) * most negative float, shape (B, 1, 1, S)
hf_additive = (1.0 - hf_attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
# the additive mask of this course and PyTorch: 0 where allowed, -inf where blocked
our_additive = torch.zeros(keep3.shape).masked_fill(~keep3, float("-inf"))

print("ours (True = attend)\n", keep3)
print("nn.MultiheadAttention key_padding_mask (True = ignore)\n", mha_key_padding_mask)
print("Hugging Face attention_mask (1 = attend)\n", hf_attention_mask)
print("additive (0 / -inf)\n", our_additive)
print("round trip through Hugging Face is lossless:", torch.equal(ours_from_hf, keep3))
print("HF's additive mask blocks the same keys:", torch.equal(hf_additive[:, 0, 0, :] < 0, ~keep3))

# %% [markdown]
# **Checking the conversion against `nn.MultiheadAttention`.** The module projects its inputs with learned
# matrices, attends, and projects the result again. With one head we can do its work by hand, using its own
# weights, and our function with *our* mask in the middle. If `key_padding_mask = ~keep` is the right translation,
# weights and outputs agree.

# %%
mha = torch.nn.MultiheadAttention(E_tok, num_heads=1, batch_first=True)  # dropout 0: deterministic
W_mq, W_mk, W_mv = mha.in_proj_weight.chunk(3)  # each (D, E), with D = E: one head
b_mq, b_mk, b_mv = mha.in_proj_bias.chunk(3)  # each (D,)
with torch.no_grad():
    out_mha, w_mha = mha(x, x, x, key_padding_mask=~keep)  # x: (B, S, E); weights (B, L, S)
    q_m, k_m, v_m = x @ W_mq.T + b_mq, x @ W_mk.T + b_mk, x @ W_mv.T + b_mv  # (B, S, E) @ (E, D) -> (B, S, D)
    o_ours, w_ours = masked_attention(q_m, k_m, v_m, keep[:, None, :])  # OUR convention: True = may attend
    o_ours = mha.out_proj(o_ours)  # (B, L, E)
print("weights equal:", torch.allclose(w_ours, w_mha, atol=1e-6))
print("outputs equal:", torch.allclose(o_ours, out_mha, atol=1e-6))

# %% [markdown]
# And the bug that the table guards against. Pretend the first sentence had 5 real tokens and one pad, and hand
# `nn.MultiheadAttention` our mask without the `~`:

# %%
mask5 = padding_mask([5], max_len=S_max)  # ours: (1, S), True at the 5 real tokens
with torch.no_grad():
    _, w_right = mha(x[:1], x[:1], x[:1], key_padding_mask=~mask5)  # translated
    _, w_wrong = mha(x[:1], x[:1], x[:1], key_padding_mask=mask5)  # the classic bug: no ~
print("our mask:        ", mask5[0])
print("with ~ (right):  ", w_right[0, 0])
print("without ~ (bug): ", w_wrong[0, 0])

# %% [markdown]
# Without `~`, the first query ignores the five real tokens and gives all its weight to the pad it was meant to
# skip, and nothing warns you.
#
# ## 8. Fully masked rows: NaN, or zeros? (optional)
#
# **Takeaway:** a query with no key it may attend to should get zero weights and a zero output; naive code gives
# NaN, and one NaN row poisons every gradient. `attn_course` and PyTorch's SDPA give zeros.
#
# Sometimes a query has **no** key it may attend to. It happens when a mask covers padded queries as well as padded
# keys (a `(B, L, S)` mask built as `query_is_real & key_is_real`), with a sequence of length 0, or with a
# bottom-right causal mask when $L > S$. Naive code turns such a row into NaN:

# %%
row = torch.full((4,), float("-inf"))  # every key blocked
print("torch.softmax of a row of -inf:", torch.softmax(row, dim=-1))
print("the reason: max is -inf, and -inf - (-inf) =", float(row[0] - row.max()))

# %% [markdown]
# Stable softmax subtracts the row's maximum, here $-\infty$, and $-\infty - (-\infty)$ is NaN. Without the
# subtraction it would be $0/0$, NaN again. Let us build the mask that produces such rows, for our padded batch.

# %%
pair = keep[:, :, None] & keep[:, None, :]  # (B, L, 1) & (B, 1, S) -> (B, L, S): both query and key are real
print("'dogs bark' (sentence 1):\n", pair[1].int())

naive_scores = (q_tok @ k_tok.transpose(-2, -1) / math.sqrt(D_tok)).masked_fill(~pair, float("-inf"))  # (B, L, S)
naive_out = torch.softmax(naive_scores, dim=-1) @ v_tok  # (B, L, S) @ (B, S, D) -> (B, L, D)
print("naive, sentence 1, first three output features:\n", naive_out[1, :, :3])

# %% [markdown]
# The four pad queries of "dogs bark" come out as NaN. PyTorch's `scaled_dot_product_attention` since version 2.5
# and `attn_course.scaled_dot_product_attention` give zeros instead, for the weights and the output:

# %%
sdpa_out = F.scaled_dot_product_attention(q_tok, k_tok, v_tok, attn_mask=pair)  # (B, L, D)
ours_out, ours_w = scaled_dot_product_attention(q_tok, k_tok, v_tok, attn_mask=pair, return_weights=True)
print("PyTorch SDPA, sentence 1:\n", sdpa_out[1, :, :3])
print("attn_course, sentence 1:\n", ours_out[1, :, :3])
print("attn_course weights, sentence 1:\n", ours_w[1])

# %% [markdown]
# **Why zeros is the right answer.** A padded query's output is never used: a loss on a padded batch multiplies it by
# 0 or drops it. But $\mathrm{NaN} \cdot 0 = \mathrm{NaN}$, and in backpropagation NaN spreads through every sum
# it enters, so one all-masked row poisons the whole loss and every gradient, even though nobody wanted that
# row. Zeros have no such reach: "attend to nothing, contribute nothing" is also the natural limit of a weighted
# average over an empty set. (Hugging Face's `finfo.min` trick avoids NaN differently: the row becomes uniform over
# the blocked keys, a finite but meaningless average.) Here is the poisoning, with a loss that ignores the padded
# queries:

# %%
for name, fn in (("naive softmax", lambda s: torch.softmax(s, dim=-1)), ("attn_course", None)):
    xg = x.clone().requires_grad_()
    qg, kg, vg = xg @ W_q, xg @ W_k, xg @ W_v  # (B, S, E) @ (E, D) -> (B, S, D), each
    if fn is None:
        o = scaled_dot_product_attention(qg, kg, vg, attn_mask=pair)
    else:
        o = fn((qg @ kg.transpose(-2, -1) / math.sqrt(D_tok)).masked_fill(~pair, float("-inf"))) @ vg
    loss = (o * keep[:, :, None]).square().sum()  # the loss uses real queries only
    loss.backward()
    print(f"{name:14} loss is finite: {bool(loss.isfinite())},  NaN in the gradient of x: {bool(xg.grad.isnan().any())}")

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("causal_mask")

# %% [markdown]
# ### Exercise 1: scaled dot-product attention with a mask
#
# Write `my_attention(q, k, v, mask=None)` for `q` of shape `(B, L, D)`, `k` of shape `(B, S, D)` and `v` of shape
# `(B, S, Ev)`. It returns the output `(B, L, Ev)` (only the output, not the weights). `mask`, when given, is boolean,
# **True = may attend**, and broadcasts to `(B, L, S)`. Try it without scrolling up.

# %% tags=["exercise"] keep_output=false
def my_attention(q, k, v, mask=None):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.scaled_dot_product_attention(my_attention)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, L, D) @ (B, D, S) -> (B, L, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # before softmax: blocked keys get weight 0
    return softmax(scores, dim=-1) @ v  # (B, L, S) @ (B, S, Ev) -> (B, L, Ev)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.scaled_dot_product_attention(my_attention, record=False)

# %% [markdown]
# ### Exercise 2: a causal mask
#
# Write `my_causal_mask(L)` returning a boolean `(L, L)` tensor that is True where query $i$ may attend to key $j$,
# that is where $j \le i$.

# %% tags=["exercise"] keep_output=false
def my_causal_mask(L):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.causal_mask(my_causal_mask)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_causal_mask(L):
    return torch.ones(L, L, dtype=torch.bool).tril()  # True on and below the diagonal


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.causal_mask(my_causal_mask, record=False)

# %% [markdown]
# ### Exercise 3: a padding mask
#
# Write `my_padding_mask(lengths, max_len)`: `lengths` is a list of $B$ ints, and the result is a boolean
# `(B, max_len)` tensor, True at the real tokens of each sequence (position $j$ of sequence $b$ is real when
# $j <$ `lengths[b]`) and False at the padding. Try it without a Python loop.

# %% tags=["exercise"] keep_output=false
def my_padding_mask(lengths, max_len):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.padding_mask(my_padding_mask)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_padding_mask(lengths, max_len):
    positions = torch.arange(max_len)  # (S,)
    return positions[None, :] < torch.tensor(lengths)[:, None]  # (1, S) < (B, 1) -> (B, S)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.padding_mask(my_padding_mask, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - compute attention for all queries at once as $\mathrm{softmax}(QK^\top/\sqrt{D})\,V$, with shapes
#   $(L, D), (S, D), (S, E_v) \to (L, S) \to (L, E_v)$, and run the same line over batch and head axes because `@`
#   broadcasts every axis in front of the last two;
# - explain the $1/\sqrt{D}$: dot products of unit-variance vectors of width $D$ have variance $D$, wide scores
#   saturate softmax, and a saturated softmax passes almost no gradient;
# - build padding masks (`padding_mask`, indexed `[:, None, :]` or `[:, None, None, :]`) and causal masks
#   (`causal_mask`, top-left when $L \ne S$; bottom-right for decoding with a cache), combine them with `&`, and
#   apply them before softmax with $-\infty$, or add them as float masks;
# - estimate the $L \cdot S$ cost in time and memory;
# - (optional sections) translate between the mask conventions of PyTorch's SDPA, `nn.MultiheadAttention`, Hugging
#   Face and JAX, and explain why a fully masked row should give zeros, not NaN.
#
# ## Common pitfalls
# - **`k.T` on a batch.** It reverses all axes; use `k.transpose(-2, -1)` or `k.mT`.
# - **Softmax over the wrong axis.** Each query's weights sum to 1 over the **keys**: `dim=-1` of `(..., L, S)`.
# - **Scaling by the wrong width.** Divide by $\sqrt{D}$, the width of the vectors in the dot product: with several
#   heads that is the head width $D = E/H$, not the model width $E$ (notebook 07).
# - **Masking after softmax, or with 0.** Mask the scores before softmax, with $-\infty$ (or a boolean mask).
# - **Inverted masks.** `nn.MultiheadAttention`'s masks mean True = ignore; SDPA's, JAX's and this course's mean
#   True = attend; Hugging Face's `attention_mask` is 1 = attend. Nothing raises an error when you get it wrong.
# - **Causal alignment when $L \ne S$.** `is_causal=True` is top-left; decoding with a cache needs bottom-right.
# - **NaN from fully masked rows** with a plain `torch.softmax`; they poison the loss even if multiplied by 0.
# - **Memory.** The score matrix is $B \cdot H \cdot L \cdot S$ numbers: at long lengths it, not the weights of the
#   model, fills the memory.
#
# ## Further reading
# - A. Vaswani et al., [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762) (2017), section 3.2.1:
#   scaled dot-product attention and the variance footnote (their $d_k$ is our $D$).
# - N. Shazeer, [*Fast Transformer Decoding: One Write-Head is All You Need*](https://arxiv.org/abs/1911.02150)
#   (2019): multi-query attention, one key and value head shared by all query heads.
# - PyTorch, [`torch.nn.functional.scaled_dot_product_attention`](https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html):
#   the reference implementation in its docstring, mask semantics, `is_causal`.
# - PyTorch, [`torch.nn.MultiheadAttention`](https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html):
#   `key_padding_mask` and `attn_mask`, True = not allowed.
# - PyTorch, [`torch.nn.attention.bias`](https://pytorch.org/docs/stable/nn.attention.bias.html): `causal_upper_left`
#   and `causal_lower_right`.
# - Hugging Face, [glossary: attention mask](https://huggingface.co/docs/transformers/glossary#attention-mask).
# - Flax, [`flax.linen.dot_product_attention`](https://flax.readthedocs.io/en/v0.6.10/api_reference/_autosummary/flax.linen.dot_product_attention.html):
#   "attention weights are masked out if their corresponding mask value is False".
# - T. Dao, [FlashAttention-2](https://arxiv.org/abs/2307.08691) (2023) and its
#   [repository](https://github.com/Dao-AILab/flash-attention), which documents the bottom-right causal alignment.
